//! Lab {{NN}}: {{TITLE}}.
//!
//! Module map (one sentence each; keep it current as the lab grows):
//! - this file: the component's public API.
//! - `main.rs`: the CLI: `run` to use the component, `measure` for the
//!   results pipeline.

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
