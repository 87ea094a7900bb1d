//! Reference solution for `top-table`.

pub use lab_04::stacks::{Stack, TopRow};

// ANCHOR: solution
/// The `n` functions with the most flat samples.
pub fn top(stacks: &[Stack], n: usize) -> Vec<TopRow> {
    use std::collections::{HashMap, HashSet};
    let mut flat: HashMap<&str, u64> = HashMap::new();
    let mut cum: HashMap<&str, u64> = HashMap::new();
    for s in stacks {
        if let Some(leaf) = s.frames.last() {
            *flat.entry(leaf).or_default() += s.count;
        }
        // Once per stack, however often it recurses.
        let on_stack: HashSet<&str> = s.frames.iter().map(String::as_str).collect();
        for f in on_stack {
            *cum.entry(f).or_default() += s.count;
        }
    }
    let mut rows: Vec<TopRow> = cum
        .into_iter()
        .map(|(f, c)| TopRow {
            function: f.to_owned(),
            flat: flat.get(f).copied().unwrap_or(0),
            cum: c,
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.flat, b.cum)
            .cmp(&(a.flat, a.cum))
            .then_with(|| a.function.cmp(&b.function))
    });
    rows.truncate(n);
    rows
}
// ANCHOR_END: solution
