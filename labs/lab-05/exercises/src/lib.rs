//! Exercises for lab 05. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-05 ID`.

#[cfg_attr(feature = "solution", path = "../solutions/breaker.rs")]
pub mod breaker;
#[cfg_attr(feature = "solution", path = "../solutions/classify.rs")]
pub mod classify;
#[cfg_attr(feature = "solution", path = "../solutions/retry_policy.rs")]
pub mod retry_policy;
pub mod support;
