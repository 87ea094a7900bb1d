//! Exercise `first-step`: return the largest item, or `None` when empty.

pub fn largest(items: &[u64]) -> Option<u64> {
    let _ = items;
    todo!("return the largest item")
}
