//! The automation behind *Under Load*: everything the README's two commands,
//! CI and contributors run, written in Rust so that `cargo xtask …` works the
//! same on every machine with nothing but cargo (the xtask pattern).
//!
//! Module map:
//! - [`sh`]: running commands: echoing them, timing them, explaining failures.
//! - [`project`]: where things are: the repository root, the labs and their
//!   metadata (from `cargo metadata`), the chapters.
//! - [`tools`]: pinned tools (mdBook, mdbook-linkcheck2) installed into
//!   `.tools/`, and Debian packages (chromium) installed when root.
//! - [`book`]: building and serving the book, failing on any warning.
//! - [`results`]: the results pipeline: run every `measure` command, render
//!   tables and plots with their provenance header into `src/results/`.
//! - [`freshness`]: which committed results are older than the code they
//!   describe (digests of each producer's source folders).
//! - [`preprocess`]: the book's mdBook preprocessor: `{{#value …}}`
//!   references expanded from the results, stale notices on results.
//! - [`transcripts`]: the workbench chapter's real command transcripts
//!   (tests, loom, bench), normalised and regenerated like any result.
//! - [`exercises`]: list, check one learner answer, and verify that every
//!   starter fails and every reference solution passes.
//! - [`structure`]: the book's invariants: every lab has a chapter with a lab
//!   card and exercises; every include resolves; committed results are full
//!   runs; module maps name the component and how it is measured; no lab
//!   uses another lab's `measure` or `cli`, or depends on a later lab.
//! - [`unify`]: every lab resolves the dependencies they share with the
//!   same features (`ci/unify`), so one lab's build reuses another's.
//! - [`prose`]: the prose lint (no measured number typed into a chapter)
//!   and the check that every existing lab is listed and none is "planned".
//! - [`readme`]: the README's and the lab READMEs' commands, run as written.
//! - [`scaffold`]: `new-lab`: a compiling lab crate in the labs' shape
//!   (component, `measure` harness on the kit), its chapter and one
//!   exercise, wired into the workspace and `SUMMARY.md`.
//! - [`browser`]: the built book checked in headless Chromium over the
//!   DevTools protocol.
//! - [`suite`]: the whole test suite, step by step, as `cargo xtask test`.

pub mod book;
pub mod browser;
pub mod exercises;
pub mod freshness;
pub mod preprocess;
pub mod project;
pub mod prose;
pub mod readme;
pub mod results;
pub mod scaffold;
pub mod sh;
pub mod structure;
pub mod suite;
pub mod tools;
pub mod transcripts;
pub mod unify;
