//! Comparator crates as lab-01 bench targets.

use dashmap::DashMap;
use lab_01::measure::workload::{BenchError, BenchTarget, Value, WorkloadSpec};

/// `dashmap::DashMap`: a sharded map with one `RwLock` per shard, the most
/// used concurrent map on crates.io. Built with the same shard count as
/// lab-01's sharded caches so the comparison is of implementations, not of
/// configurations (dashmap's default is 4 × cores, rounded up to a power of
/// two: 8 shards on a 2-core machine).
pub struct DashMapTarget(DashMap<u64, Value>);

impl BenchTarget for DashMapTarget {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        // dashmap panics on a shard count that is not a power of two above 1.
        if spec.shards < 2 || !spec.shards.is_power_of_two() {
            return Err(BenchError::Spec(format!(
                "dashmap needs a power-of-two shard count of at least 2, got {}",
                spec.shards
            )));
        }
        Ok(Self(DashMap::with_capacity_and_shard_amount(
            spec.keys as usize,
            spec.shards,
        )))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.0.get(&key).map(|v| std::hint::black_box(*v)).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.0.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashmap_target_reads_what_it_wrote() {
        let t = DashMapTarget::build(&WorkloadSpec::default()).unwrap();
        assert!(!t.bench_read(7));
        t.bench_write(7, 1);
        assert!(t.bench_read(7));
    }

    #[test]
    fn bad_shard_counts_are_errors_not_panics() {
        let spec = WorkloadSpec {
            shards: 3,
            ..WorkloadSpec::default()
        };
        assert!(DashMapTarget::build(&spec).is_err());
    }
}
