//! `cargo run -p lab-04-exercises --release --bin profile-hotspot`
//!
//! Profiles your `busiest` (src/hotspot.rs) on a large input with lab-04's
//! in-process sampler and prints the top functions, as `go tool pprof -top`
//! would, plus where the flame graph went.

use std::time::{Duration, Instant};

use lab_04_exercises::hotspot::{ClientId, busiest};

fn main() -> anyhow::Result<()> {
    let reqs: Vec<(ClientId, u64)> = (0..40_000u32)
        .map(|i| {
            (
                ClientId(i.wrapping_mul(2_654_435_761) % 8_000),
                u64::from(i % 97),
            )
        })
        .collect();
    let running = lab_04::sampling::start(499)?;
    let started = Instant::now();
    let mut runs = 0;
    while started.elapsed() < Duration::from_secs(3) || runs == 0 {
        std::hint::black_box(busiest(&reqs, 10));
        runs += 1;
    }
    let took = started.elapsed() / runs;
    let profile = running.finish()?;
    let dir = std::path::Path::new("target/profile-hotspot");
    lab_04::bench::write_profile(&profile, "busiest", dir)?;
    println!("busiest: {took:?} per call over {} requests", reqs.len());
    print!("{}", lab_04::session::top_text(&profile.stacks, 8));
    // The heaviest stack, from your code down to the leaf: the flat top
    // alone names the leaf, this says who called it.
    if let Some(s) = profile.stacks.iter().max_by_key(|s| s.count) {
        let from = s
            .frames
            .iter()
            .position(|f| f.contains("busiest"))
            .unwrap_or(0);
        println!("\nhottest stack ({} samples):", s.count);
        for (depth, f) in s.frames[from..].iter().enumerate() {
            println!("{}{}", "  ".repeat(depth), f);
        }
    }
    Ok(())
}
