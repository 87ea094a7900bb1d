//! What tokio's unstable features add, behind `cfg(tokio_unstable)`
//! (build with `RUSTFLAGS="--cfg tokio_unstable"`; the suite has a step of
//! its own for it). The default build never needs any of it.
//!
//! - A task dump (`Handle::dump`): where each leaked task's future was
//!   waiting at its last poll, attached to the check's report. A dump
//!   waits for every worker to reach a poll boundary, so it is bounded by
//!   [`DUMP_TIMEOUT`].
//! - Task hooks (`Builder::on_task_spawn`/`on_task_terminate`): the spawn
//!   site of *every* task, tracked or not, so a plain `tokio::spawn` leak
//!   gets a file and line too.

use tokio::runtime::Handle;

use crate::check::LeakReport;
use crate::track::TaskInfo;

/// The longest a check waits for a task dump.
pub const DUMP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Traces kept per spawn site: enough to see the pattern.
pub const TRACES_PER_SITE: usize = 2;

/// Adds each leaked task's trace to its site in `report` (a no-op
/// without `tokio_unstable`).
#[cfg(tokio_unstable)]
pub async fn attach_traces(handle: &Handle, leaked: &[TaskInfo], report: &mut LeakReport) {
    use std::collections::HashMap;
    let Ok(dump) = tokio::time::timeout(DUMP_TIMEOUT, handle.dump()).await else {
        tracing::warn!(
            "the task dump did not finish within {DUMP_TIMEOUT:?}; reporting without it"
        );
        return;
    };
    let traces: HashMap<tokio::task::Id, String> = dump
        .tasks()
        .iter()
        .map(|t| (t.id(), t.trace().to_string()))
        .collect();
    for leak in &mut report.leaks {
        let found = leaked
            .iter()
            .filter(|t| t.site == leak.site)
            .filter_map(|t| t.task_id.and_then(|id| traces.get(&id)))
            .take(TRACES_PER_SITE);
        leak.traces.extend(found.cloned());
    }
}

/// Adds each leaked task's trace to its site in `report` (a no-op
/// without `tokio_unstable`).
#[cfg(not(tokio_unstable))]
pub async fn attach_traces(_handle: &Handle, _leaked: &[TaskInfo], _report: &mut LeakReport) {}

#[cfg(tokio_unstable)]
pub use hooks::{SiteCounts, with_site_hooks};

#[cfg(tokio_unstable)]
mod hooks {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use crate::track::Site;

    /// Live tasks by spawn site, from the runtime's own hooks: every task,
    /// whoever spawned it.
    #[derive(Debug, Clone, Default)]
    pub struct SiteCounts {
        inner: Arc<Mutex<Live>>,
    }

    /// Each live task's site, and the live count per site.
    #[derive(Debug, Default)]
    struct Live {
        by_task: HashMap<tokio::task::Id, Site>,
        by_site: HashMap<Site, usize>,
    }

    impl SiteCounts {
        /// Live tasks per site, most first.
        pub fn live(&self) -> Vec<(Site, usize)> {
            let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let mut v: Vec<(Site, usize)> = g
                .by_site
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(s, n)| (*s, *n))
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.line().cmp(&b.0.line())));
            v
        }
    }

    /// Installs spawn and terminate hooks on `builder` that keep a count
    /// of live tasks per spawn site.
    pub fn with_site_hooks(builder: &mut tokio::runtime::Builder) -> SiteCounts {
        let counts = SiteCounts::default();
        let on_spawn = counts.inner.clone();
        let on_end = counts.inner.clone();
        builder
            .on_task_spawn(move |meta| {
                let mut g = on_spawn.lock().unwrap_or_else(|p| p.into_inner());
                g.by_task.insert(meta.id(), meta.spawned_at());
                *g.by_site.entry(meta.spawned_at()).or_default() += 1;
            })
            .on_task_terminate(move |meta| {
                let mut g = on_end.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(site) = g.by_task.remove(&meta.id())
                    && let Some(n) = g.by_site.get_mut(site)
                {
                    *n -= 1;
                }
            });
        counts
    }
}

#[cfg(all(test, tokio_unstable))]
mod tests {
    use std::time::Duration;

    use crate::check::{LeakCheck, Schedule};

    /// Waits on a tokio leaf future (a timer): a dump traces the task
    /// down to the leaf it waits on, and `pending()` is not one.
    async fn parked_forever() {
        tokio::time::sleep(Duration::from_secs(3600)).await
    }

    #[test]
    fn a_leaks_report_carries_the_task_dump() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let report = rt.block_on(async {
            let check = LeakCheck::start().schedule(Schedule {
                budget: Duration::from_millis(50),
                ..Schedule::default()
            });
            crate::spawn(parked_forever());
            check.verify().await.expect_err("a leak")
        });
        let traces = &report.leaks[0].traces;
        assert_eq!(traces.len(), 1, "{report}");
        assert!(
            traces[0].contains("parked_forever"),
            "the trace names the future: {report}"
        );
        rt.shutdown_background();
    }

    #[test]
    fn hooks_name_the_site_of_an_untracked_spawn() {
        let mut b = tokio::runtime::Builder::new_current_thread();
        let counts = super::with_site_hooks(&mut b);
        let rt = b.enable_all().build().expect("runtime");
        let line = line!() + 2;
        rt.block_on(async {
            tokio::spawn(parked_forever());
        });
        let live = counts.live();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].0.line(), line);
        assert!(live[0].0.file().ends_with("unstable.rs"));
        drop(rt);
        assert!(counts.live().is_empty(), "terminated at shutdown");
    }
}
