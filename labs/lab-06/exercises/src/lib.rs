//! Exercises for lab 06. Each module is one exercise: edit the file in
//! `src/`, then run `cargo xtask exercise check lab-06 ID`.

#[cfg_attr(feature = "solution", path = "../solutions/lookup_service.rs")]
pub mod lookup_service;
#[cfg_attr(feature = "solution", path = "../solutions/retry_schedule.rs")]
pub mod retry_schedule;
pub mod support;
#[cfg_attr(feature = "solution", path = "../solutions/worker_pool.rs")]
pub mod worker_pool;
