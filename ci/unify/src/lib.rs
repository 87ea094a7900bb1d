//! No code: this crate exists for its `Cargo.toml`.
//!
//! Cargo builds a dependency once per set of features, and it picks the
//! features from the package being built: `cargo run -p lab-03` asks
//! `hdrhistogram` for serialization, `cargo run -p lab-02` does not, so
//! each would compile `hdrhistogram`, lab-01 and lab-02 again, and so on
//! up the labs. Every lab and `benches` depend on this crate, which asks
//! for the union of those features, so every lab resolves the shared
//! crates the same way and a build of one lab reuses the others'
//! (the "workspace hack" pattern; `cargo xtask structure` keeps it
//! complete). Turning on a feature adds code to a dependency but changes
//! none of the code a lab runs.
