//! Exercises for lab 07. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-07 ID`.

#[cfg_attr(feature = "solution", path = "../solutions/first_step.rs")]
pub mod first_step;
