//! Reference solution for `folded-writer`.

/// One raw sample (or several identical ones), as a sampler records it.
#[derive(Debug, Clone)]
pub struct RawSample {
    pub thread: String,
    /// Leaf first; each frame's functions innermost first.
    pub frames: Vec<Vec<String>>,
    pub count: u64,
}

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
