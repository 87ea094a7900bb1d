//! criterion benchmarks: lab-06's tracked spawn beside `tokio::spawn`, on
//! a current-thread runtime (spawn, one poll, join of a task that returns
//! at once). `cargo bench -p benches --bench spawn`. The chapter's figures
//! come from lab-06's own `measure`, which alternates the two within each
//! round; this is the tool for "did tracking get slower than last time".

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

fn spawns(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut g = c.benchmark_group("spawn-join");
    g.bench_function("tokio::spawn", |b| {
        b.iter(|| rt.block_on(async { tokio::spawn(async { black_box(1) }).await }))
    });
    g.bench_function("lab_06::spawn", |b| {
        b.iter(|| rt.block_on(async { lab_06::spawn(async { black_box(1) }).await }))
    });
    g.finish();
}

criterion_group! {
    name = spawn;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = spawns
}
criterion_main!(spawn);
