//! Exercises for lab 04. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-04 ID`.

#[cfg_attr(feature = "solution", path = "../solutions/folded_writer.rs")]
pub mod folded_writer;
#[cfg_attr(feature = "solution", path = "../solutions/hotspot.rs")]
pub mod hotspot;
pub mod support;
#[cfg_attr(feature = "solution", path = "../solutions/top_table.rs")]
pub mod top_table;
