//! Reference solution for `folded-writer`.

pub use crate::support::RawSample;

// ANCHOR: solution
/// The folded text of `samples`, each line ending in `\n`.
pub fn to_folded(samples: &[RawSample]) -> String {
    use std::collections::BTreeMap;
    let clean = |s: &str| s.replace(';', ":");
    // A BTreeMap merges identical stacks and keeps them sorted.
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.count > 0) {
        let mut line = clean(&s.thread);
        // Root first: the frames in reverse, and within a frame the
        // outermost function (the one the others were inlined into) first.
        for frame in s.frames.iter().rev() {
            for function in frame.iter().rev() {
                line.push(';');
                line.push_str(&clean(function));
            }
        }
        *merged.entry(line).or_default() += s.count;
    }
    merged
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}\n"))
        .collect()
}
// ANCHOR_END: solution
