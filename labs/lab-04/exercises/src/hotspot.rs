//! Exercise `hotspot`: a report that got slow, and a profile that says why.
//!
//! `busiest` totals the bytes each client sent and returns the `n` clients
//! that sent the most (ties: the lower id first). It is correct, and it was
//! fast in review with ten clients. In production, with thousands, it
//! takes seconds. The test counts how often client ids are compared and
//! fails the version below, which compares them about `requests × clients /
//! 2` times.
//!
//! Profile it before you change anything:
//!
//! ```text
//! cargo run -p lab-04-exercises --release --bin profile-hotspot
//! ```
//!
//! prints the top functions of a profile of `busiest` on a large input
//! (lab-04's sampler, in process). Find the function with the most flat
//! samples, read where it is called from, and fix that, keeping the
//! results identical.
//!
//! Where to look: `labs/lab-04/exercises/src/support.rs` (`ClientId`, and
//! `COMPARISONS`, the counter the test reads).

pub use crate::support::{COMPARISONS, ClientId};

/// The `n` clients that sent the most bytes, most first (ties: lower id
/// first), with their totals.
pub fn busiest(requests: &[(ClientId, u64)], n: usize) -> Vec<(ClientId, u64)> {
    let mut totals: Vec<(ClientId, u64)> = Vec::new();
    for &(client, bytes) in requests {
        match totals.iter().position(|(c, _)| *c == client) {
            Some(i) => totals[i].1 += bytes,
            None => totals.push((client, bytes)),
        }
    }
    totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    totals.truncate(n);
    totals
}
