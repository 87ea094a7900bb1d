//! Exercises for lab 04. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-04 ID`.

#[cfg_attr(feature = "solution", path = "../solutions/first_step.rs")]
pub mod first_step;
