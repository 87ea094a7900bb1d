//! Lab 07: Seeing execution.
//!
//! # Module map
//!
//! One sentence per module; keep it current as the lab grows.
//!
//! The component, what the chapter builds (read this first):
//! - this file: the component's public API, [`component`].
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the chapter's experiment, as the report the results
//!   pipeline renders (`cargo xtask results --only lab-07`).
//! - `main.rs`: the command line: `run` uses the component, `measure`
//!   writes the report.
//!
//! What is about measuring in general (medians, number formats, writing
//! the report) comes from the measurement kit, `ci/kit`.

pub mod measure;
pub mod recorder;
pub mod scenes;
pub mod trace;

/// What the lab builds. Replace this with the real component.
// ANCHOR: component
pub fn component(items: &[u64]) -> u64 {
    items.iter().sum()
}
// ANCHOR_END: component

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_sums() {
        assert_eq!(component(&[1, 2, 3]), 6);
    }
}
