//! Profiling a criterion benchmark: a `criterion::profiler::Profiler` of our
//! own on [`crate::sampling`] (pprof-rs's criterion integration is tied to
//! an older criterion). Criterion calls it only in profile mode:
//!
//! ```text
//! cargo bench -p benches --bench cache -- --profile-time 5 read-heavy
//! ```
//!
//! Each benchmark then runs for the given time with no statistics, under
//! the sampler, and its directory (`target/criterion/<id>/profile/`) gets
//! `flamegraph.svg`, `stacks.folded` and `top.txt`.

use std::path::Path;

use crate::sampling::{self, Running};
use crate::stacks;

/// A flame graph per benchmark.
pub struct FlameProfiler {
    frequency: u32,
    running: Option<Running>,
}

impl FlameProfiler {
    pub fn new(frequency: u32) -> Self {
        Self {
            frequency,
            running: None,
        }
    }
}

impl criterion::profiler::Profiler for FlameProfiler {
    fn start_profiling(&mut self, benchmark_id: &str, _dir: &Path) {
        match sampling::start(self.frequency) {
            Ok(r) => self.running = Some(r),
            Err(e) => eprintln!("not profiling {benchmark_id}: {e}"),
        }
    }

    fn stop_profiling(&mut self, benchmark_id: &str, dir: &Path) {
        let Some(running) = self.running.take() else {
            return;
        };
        let result = running
            .finish()
            .map_err(anyhow::Error::from)
            .and_then(|p| write_profile(&p, benchmark_id, dir));
        if let Err(e) = result {
            eprintln!("profile of {benchmark_id} not written: {e:#}");
        }
    }
}

/// Writes a profile's flame graph, folded stacks and top table into `dir`.
pub fn write_profile(p: &sampling::Profile, title: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let folded = stacks::to_folded(&p.stacks);
    let sub = format!("{} samples at {} Hz", p.samples(), p.frequency);
    std::fs::write(dir.join("stacks.folded"), &folded)?;
    std::fs::write(
        dir.join("flamegraph.svg"),
        crate::flame::svg(&folded, title, Some(&sub))?,
    )?;
    std::fs::write(dir.join("top.txt"), crate::session::top_text(&p.stacks, 25))?;
    eprintln!(
        "profile of {title}: {}",
        dir.join("flamegraph.svg").display()
    );
    Ok(())
}
