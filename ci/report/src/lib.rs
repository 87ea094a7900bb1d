//! The results format of *Under Load*.
//!
//! Every lab's `measure` command writes one [`Report`] as JSON. The results
//! pipeline (`cargo xtask results`) reads it, stamps it with a
//! [`Provenance`] header (command, machine, toolchain, commit, date) and
//! renders each artifact into the files chapters include:
//!
//! - a [`Table`] becomes `NAME.md` (a Markdown table under its header),
//! - a [`Transcript`] (a command and its normalised output) becomes `NAME.md`,
//! - a [`Plot`] becomes `NAME.svg` (an inline-able SVG chart that follows the
//!   book's light and dark themes),
//! - and the whole report is kept as `report.json` for machines.
//!
//! Module map:
//! - [`model`]: the data a lab produces (reports, tables, plots).
//! - [`provenance`]: the header: where and how a number was made.
//! - [`markdown`]: tables to Markdown.
//! - [`svg`]: plots to SVG.
//! - [`render`]: one report to the set of files the book includes.

pub mod markdown;
pub mod model;
pub mod provenance;
pub mod render;
pub mod svg;

pub use model::{Artifact, Figure, Plot, PlotKind, Report, Series, Table, Transcript};
pub use provenance::Provenance;
pub use render::{RenderError, render_report};
