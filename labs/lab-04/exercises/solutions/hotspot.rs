//! Reference solution for `hotspot`.

pub use crate::support::{COMPARISONS, ClientId};

// ANCHOR: solution
/// The `n` clients that sent the most bytes, most first (ties: lower id
/// first), with their totals.
pub fn busiest(requests: &[(ClientId, u64)], n: usize) -> Vec<(ClientId, u64)> {
    // The profile's top function was `position`'s comparison closure: a
    // linear search per request. A hash map finds the client in one step.
    let mut totals: std::collections::HashMap<ClientId, u64> = std::collections::HashMap::new();
    for &(client, bytes) in requests {
        *totals.entry(client).or_default() += bytes;
    }
    let mut totals: Vec<(ClientId, u64)> = totals.into_iter().collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    totals.truncate(n);
    totals
}
// ANCHOR_END: solution
