//! Checks on the book's prose that keep it true to its data and to the
//! repository.
//!
//! - **No typed measurements.** A number with a measured unit (ns, µs, ms,
//!   s, ×, %, req/s, ops/s, KiB, MiB, MB, GB, bytes…) in a chapter's prose
//!   is a defect: it drifts from the table beside it. Such numbers come from
//!   the results by reference, `{{#value LAB/TABLE:KEY}}`, which the
//!   preprocessor expands. Code (fenced or inline), includes, value
//!   references and HTML tags are not prose. The rare sentence whose number
//!   is not a measurement of ours (a fact about Go, a definition) carries
//!   the marker `<!-- ul:fixed WHY -->` and is skipped: the reason is in the
//!   source for a reviewer to judge.
//! - **Nothing that exists is "planned".** The README's lab table and the
//!   introduction name every lab, and no page says "planned" in a sentence
//!   that names an existing lab.

use std::path::Path;

/// Units that mark a measured number. Longest first, so `ms` wins over `s`.
const UNITS: &[&str] = &[
    "req/s",
    "ops/s",
    "requests/s",
    "µs",
    "us",
    "ns",
    "ms",
    "s",
    "×",
    "%",
    "KiB",
    "MiB",
    "GiB",
    "KB",
    "MB",
    "GB",
    "bytes",
];

/// The marker that exempts one sentence (or table row, or list item).
pub const FIXED_MARKER: &str = "<!-- ul:fixed";

/// Replaces what is not prose with spaces (keeping line numbers): fenced
/// code, inline code, `{{#…}}` directives, HTML comments and tags.
fn prose_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            out.push('\n');
            continue;
        }
        if in_fence {
            out.push('\n');
            continue;
        }
        out.push_str(&blank_spans(line));
    }
    out
}

/// Blanks inline code, directives, comments and tags within one line.
fn blank_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let next = [
            rest.find('`').map(|i| (i, "`", "`")),
            rest.find("{{#").map(|i| (i, "{{#", "}}")),
            rest.find("<!--").map(|i| (i, "<!--", "-->")),
            rest.find('<').map(|i| (i, "<", ">")),
            rest.find("](").map(|i| (i, "](", ")")),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(i, open, _)| (*i, std::cmp::Reverse(open.len())));
        let Some((i, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) => {
                out.push(' ');
                rest = &after[j + close.len()..];
            }
            None => {
                // An unclosed span (a `<` in text): keep it as prose.
                out.push_str(open);
                rest = after;
            }
        }
    }
}

/// `(line number, the number as written, its unit)` for every measured
/// number in `prose` (already stripped by [`prose_only`]).
fn measured_numbers(prose: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose.lines().enumerate() {
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut k = 0;
        while k < chars.len() {
            let (start, c) = chars[k];
            let prev = k.checked_sub(1).map(|p| chars[p].1);
            let starts_number = c.is_ascii_digit()
                && !prev.is_some_and(|p| p.is_alphanumeric() || p == '.' || p == '_' || p == '-');
            if !starts_number {
                k += 1;
                continue;
            }
            // Digits, thousands separators and one decimal point.
            let mut e = k;
            while e < chars.len()
                && (chars[e].1.is_ascii_digit()
                    || (matches!(chars[e].1, ',' | '.')
                        && chars.get(e + 1).is_some_and(|x| x.1.is_ascii_digit())))
            {
                e += 1;
            }
            let end = chars.get(e).map_or(line.len(), |x| x.0);
            let after = &line[end..];
            let spaced = after.strip_prefix(' ').unwrap_or(after);
            let unit = UNITS.iter().find(|u| {
                spaced.starts_with(**u)
                    && !spaced[u.len()..]
                        .chars()
                        .next()
                        .is_some_and(|x| x.is_alphanumeric() || x == '/')
            });
            if let Some(u) = unit {
                found.push((
                    n + 1,
                    format!("{}{}", &line[start..end], {
                        let gap = if after.starts_with(' ') { " " } else { "" };
                        format!("{gap}{u}")
                    }),
                ));
            }
            k = e.max(k + 1);
        }
    }
    found
}

/// Typed measurements in one page: `page:line: "10 ms"` for each.
pub fn number_problems(page: &str, text: &str) -> Vec<String> {
    // A sentence marked fixed is exempt: blank each marked block (up to the
    // next blank line, so a marked table row or paragraph is covered).
    let mut exempt = vec![false; text.lines().count() + 1];
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.contains(FIXED_MARKER) {
            let mut a = i;
            while a > 0 && !lines[a - 1].trim().is_empty() {
                a -= 1;
            }
            let mut b = i;
            while b + 1 < lines.len() && !lines[b + 1].trim().is_empty() {
                b += 1;
            }
            for e in exempt.iter_mut().take(b + 2).skip(a + 1) {
                *e = true;
            }
        }
    }
    measured_numbers(&prose_only(text))
        .into_iter()
        .filter(|(line, _)| !exempt.get(*line).copied().unwrap_or(false))
        .map(|(line, number)| {
            format!(
                "{page}:{line}: \"{number}\" is a measured number typed into prose: quote it \
                 with {{{{#value LAB/TABLE:KEY}}}} (see CONTRIBUTING.md, \"Numbers on the page\")"
            )
        })
        .collect()
}

/// Labs missing from the README's lab table or the introduction, and
/// sentences that call an existing lab "planned".
pub fn listing_problems(labs: &[String], pages: &[(String, String)]) -> Vec<String> {
    let mut p = Vec::new();
    for (page, text) in pages {
        let must_list = page == "README.md" || page.ends_with("introduction.md");
        if must_list {
            for lab in labs {
                if !text.contains(lab.as_str()) {
                    p.push(format!("{page} does not name {lab}, which exists"));
                }
            }
        }
        let prose = prose_only(text);
        for sentence in prose
            .split(['.', '!', '?', '\n'])
            .filter(|s| !s.trim().is_empty())
        {
            let lower = sentence.to_lowercase();
            if !(lower.contains("planned") || lower.contains("not written yet")) {
                continue;
            }
            for lab in labs {
                if sentence.contains(lab.as_str()) {
                    p.push(format!(
                        "{page}: \"{}\" calls {lab} planned, but it exists",
                        sentence.trim()
                    ));
                }
            }
        }
    }
    p
}

/// Every Markdown page of the book (results excluded) plus the READMEs, as
/// (path relative to the root, text).
pub fn pages(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let path = e?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "results") {
                    walk(&path, out)?;
                }
            } else if path.extension().is_some_and(|x| x == "md") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files)?;
    files.push(root.join("README.md"));
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            Ok((rel, std::fs::read_to_string(&f)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_number_fails_and_references_code_and_markers_pass() {
        let page = "# T\n\nThe lock took 42 ms and the rate was 1,000 req/s.\n";
        let p = number_problems("x.md", page);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("x.md:3") && p[0].contains("\"42 ms\""),
            "{p:?}"
        );
        assert!(p[1].contains("\"1,000 req/s\""), "{p:?}");
        for fine in [
            "It took {{#value lab-02/t:p99}} at depth 16.\n",
            "Run `lab-03 -d 10s` now.\n",
            "```console\n$ sleep 10s\n```\n",
            "See <span title=\"3 ms\">this</span>.\n",
            "Sixteen shards on 2 cores, lab-02 and 64 shards.\n",
            "A goroutine starts with 2 KB of stack. <!-- ul:fixed Go's documented size -->\n",
            "[the slow run](x.md#run-at-5-ms)\n",
        ] {
            assert!(number_problems("x.md", fine).is_empty(), "{fine:?}");
        }
        assert_eq!(
            number_problems("x.md", "0.94× and 12% and 3.5µs\n").len(),
            3
        );
        assert_eq!(number_problems("x.md", "a 1.5 s stall\n").len(), 1);
        // Link text is prose.
        assert_eq!(number_problems("x.md", "[the 5 ms run](x.md)\n").len(), 1);
    }

    #[test]
    fn labs_that_exist_must_be_listed_and_not_planned() {
        let labs = vec!["lab-01".to_owned(), "lab-02".to_owned()];
        let pages = vec![
            ("README.md".to_owned(), "| lab-01 | cache |\n".to_owned()),
            (
                "src/introduction.md".to_owned(),
                "lab-01 and lab-02. The server (lab-02) is planned.\n".to_owned(),
            ),
        ];
        let p = listing_problems(&labs, &pages);
        assert!(
            p.iter()
                .any(|x| x.contains("README.md does not name lab-02")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("calls lab-02 planned")),
            "{p:?}"
        );
        assert_eq!(p.len(), 2, "{p:?}");
    }
}
