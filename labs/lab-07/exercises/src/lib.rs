//! Exercises for lab 07. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-07 ID`.

pub mod support;
#[cfg_attr(feature = "solution", path = "../solutions/wake_edge.rs")]
pub mod wake_edge;
#[cfg_attr(feature = "solution", path = "../solutions/who_runs_next.rs")]
pub mod who_runs_next;
