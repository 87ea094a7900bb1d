//! Stacks, the one shape every profile here becomes: a thread, its frames
//! from the root to the leaf, and how many samples landed on exactly that
//! stack. From it: the folded text that flame graph tools read, a top-N
//! table, and the conversion from Google's profile.proto (so a profile from
//! `go tool pprof`, or from our own debug port, can be folded too).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use pprof::protos::Message;

/// One distinct stack and its sample count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The thread's name (or id): the flame graph's first level, which
    /// tells the workers apart.
    pub thread: String,
    /// Function names, root first.
    pub frames: Vec<String>,
    pub count: u64,
}

// ANCHOR: folded
/// Writes stacks in the folded format: `thread;root;…;leaf count`, one line
/// per distinct stack, sorted so the output is the same for the same
/// samples. A `;` inside a name would split a frame, so it becomes `:`.
pub fn to_folded(stacks: &[Stack]) -> String {
    let mut merged: HashMap<String, u64> = HashMap::new();
    for s in stacks.iter().filter(|s| s.count > 0) {
        let mut line = clean(&s.thread);
        for f in &s.frames {
            line.push(';');
            line.push_str(&clean(f));
        }
        *merged.entry(line).or_default() += s.count;
    }
    let mut lines: Vec<(String, u64)> = merged.into_iter().collect();
    lines.sort();
    let mut out = String::new();
    for (stack, count) in lines {
        let _ = writeln!(out, "{stack} {count}");
    }
    out
}

fn clean(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}
// ANCHOR_END: folded

/// Reads folded text back: the thread is the first frame.
pub fn parse_folded(text: &str) -> Result<Vec<Stack>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let (stack, count) = line
            .rsplit_once(' ')
            .with_context(|| format!("line {}: no sample count", i + 1))?;
        let count: u64 = count
            .parse()
            .with_context(|| format!("line {}: `{count}` is not a sample count", i + 1))?;
        let mut frames = stack.split(';').map(str::to_owned);
        let thread = frames.next().unwrap_or_default();
        out.push(Stack {
            thread,
            frames: frames.collect(),
            count,
        });
    }
    Ok(out)
}

/// Total samples.
pub fn total(stacks: &[Stack]) -> u64 {
    stacks.iter().map(|s| s.count).sum()
}

/// One row of a top-N table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopRow {
    pub function: String,
    /// Samples with this function at the leaf: time in the function itself.
    pub flat: u64,
    /// Samples with this function anywhere on the stack (counted once per
    /// stack even when it recurses).
    pub cum: u64,
}

// ANCHOR: top
/// The `n` functions with the most samples of their own (`flat`), as
/// `go tool pprof -top` sorts them; ties broken by `cum`, then name.
pub fn top(stacks: &[Stack], n: usize) -> Vec<TopRow> {
    let mut flat: HashMap<&str, u64> = HashMap::new();
    let mut cum: HashMap<&str, u64> = HashMap::new();
    for s in stacks {
        if let Some(leaf) = s.frames.last() {
            *flat.entry(leaf).or_default() += s.count;
        }
        let mut seen: Vec<&str> = Vec::with_capacity(s.frames.len());
        for f in &s.frames {
            if !seen.contains(&f.as_str()) {
                seen.push(f);
                *cum.entry(f).or_default() += s.count;
            }
        }
    }
    let mut rows: Vec<TopRow> = cum
        .iter()
        .map(|(f, &c)| TopRow {
            function: (*f).to_owned(),
            flat: flat.get(f).copied().unwrap_or(0),
            cum: c,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.flat
            .cmp(&a.flat)
            .then(b.cum.cmp(&a.cum))
            .then(a.function.cmp(&b.function))
    });
    rows.truncate(n);
    rows
}
// ANCHOR_END: top

/// Samples whose stack contains a frame matching `pred`.
pub fn samples_in(stacks: &[Stack], pred: impl Fn(&str) -> bool) -> u64 {
    stacks
        .iter()
        .filter(|s| s.frames.iter().any(|f| pred(f)))
        .map(|s| s.count)
        .sum()
}

/// Folds a profile.proto (plain or gzip-compressed, as Go writes them):
/// each sample's locations leaf first, each location's lines innermost
/// first (the last line is the function the others were inlined into).
/// The thread comes from a `thread` label when there is one (pprof-rs
/// writes it), else `all`.
pub fn from_pprof(bytes: &[u8]) -> Result<Vec<Stack>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        bail!(
            "this profile is gzip-compressed; decompress it first (`gunzip -c profile.pb.gz > profile.pb`)"
        );
    }
    let p = pprof::protos::Profile::decode(bytes).context("not a profile.proto message")?;
    let string = |i: i64| -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| p.string_table.get(i))
            .map_or("?", String::as_str)
    };
    let functions: HashMap<u64, &str> = p.function.iter().map(|f| (f.id, string(f.name))).collect();
    let locations: HashMap<u64, Vec<&str>> = p
        .location
        .iter()
        .map(|l| {
            let names = l
                .line
                .iter()
                .rev()
                .map(|line| functions.get(&line.function_id).copied().unwrap_or("?"))
                .collect();
            (l.id, names)
        })
        .collect();
    let mut out = Vec::with_capacity(p.sample.len());
    for s in &p.sample {
        let count = s.value.first().copied().unwrap_or(0).max(0) as u64;
        let thread = s
            .label
            .iter()
            .find(|l| string(l.key) == "thread")
            .map_or("all", |l| string(l.str));
        let mut frames = Vec::new();
        for id in s.location_id.iter().rev() {
            match locations.get(id) {
                Some(names) => frames.extend(names.iter().map(|n| (*n).to_owned())),
                None => bail!("sample refers to location {id}, which the profile does not have"),
            }
        }
        out.push(Stack {
            thread: thread.to_owned(),
            frames,
            count,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(thread: &str, frames: &[&str], count: u64) -> Stack {
        Stack {
            thread: thread.into(),
            frames: frames.iter().map(|f| (*f).to_owned()).collect(),
            count,
        }
    }

    #[test]
    fn folded_merges_sorts_and_round_trips() {
        let stacks = vec![
            st("w-1", &["main", "serve", "get"], 3),
            st("w-0", &["main", "a;b"], 1),
            st("w-1", &["main", "serve", "get"], 2),
            st("w-0", &["main"], 0),
        ];
        let text = to_folded(&stacks);
        assert_eq!(text, "w-0;main;a:b 1\nw-1;main;serve;get 5\n");
        let back = parse_folded(&text).unwrap();
        assert_eq!(back[1], st("w-1", &["main", "serve", "get"], 5));
        assert_eq!(total(&back), 6);
    }

    #[test]
    fn bad_folded_lines_are_errors() {
        assert!(parse_folded("a;b").is_err());
        assert!(
            parse_folded("a;b x")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }

    #[test]
    fn top_counts_flat_at_the_leaf_and_cum_once_per_stack() {
        let stacks = vec![
            st("t", &["main", "f", "f", "g"], 4),
            st("t", &["main", "f"], 2),
            st("t", &["main", "h"], 5),
        ];
        let rows = top(&stacks, 10);
        assert_eq!(rows[0].function, "h");
        let f = rows.iter().find(|r| r.function == "f").unwrap();
        assert_eq!((f.flat, f.cum), (2, 6), "recursion counted once");
        let main = rows.iter().find(|r| r.function == "main").unwrap();
        assert_eq!((main.flat, main.cum), (0, 11));
        assert_eq!(top(&stacks, 2).len(), 2);
        assert_eq!(samples_in(&stacks, |f| f == "f"), 6);
    }

    #[test]
    fn garbage_is_not_a_profile() {
        assert!(
            from_pprof(b"\x1f\x8b rest")
                .unwrap_err()
                .to_string()
                .contains("gzip")
        );
        assert!(from_pprof(&[0xff, 0xff, 0xff]).is_err());
    }
}
