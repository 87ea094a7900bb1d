//! Exercise `top-table`: the table `go tool pprof -top` prints, from folded
//! stacks.
//!
//! For each function: **flat**, the samples in which it was the leaf (it
//! was running itself), and **cum**, the samples in which it was anywhere
//! on the stack (it or something it called was running). A recursive
//! function appears several times on one stack; count that stack once in
//! its `cum`. Sort by flat (most first), then by cum (most first), then by
//! name; keep the first `n`.
//!
//! Where to look: the two types re-exported below (`Stack`, the folded
//! stacks you read, and `TopRow`, the row you return) and their docs
//! (`cargo doc -p lab-04 --open`). Open `labs/lab-04/src/stacks.rs` only
//! after you are done: it has the lab's own `top`.

pub use lab_04::stacks::{Stack, TopRow};

/// The `n` functions with the most flat samples.
pub fn top(stacks: &[Stack], n: usize) -> Vec<TopRow> {
    let _ = (stacks, n);
    todo!("flat at the leaf, cum once per stack, sorted, first n")
}
