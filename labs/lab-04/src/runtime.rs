//! What a CPU profile cannot see: the runtime. tokio-metrics (stable fields
//! only, so the default build needs no `tokio_unstable`) samples each
//! runtime's counters at the start and end of a window and reports:
//!
//! - **busy ratio**: the share of the window the workers spent running
//!   tasks rather than parked; a server at 30% busy whose p99 is bad is
//!   waiting on something, and a CPU profile will not say what;
//! - **parks**: how often workers went to sleep for lack of work;
//! - **queue depth**: tasks waiting in the global (injection) queue;
//! - per connection task (lab-02's `--task-metrics`): mean poll time and
//!   mean **scheduling delay** (woken to polled): time a task was ready but
//!   no worker ran it, which no on-CPU sample records.

use std::time::Duration;

use serde::Serialize;
use tokio::runtime::Handle;
use tokio_metrics::{RuntimeMonitor, TaskMonitor};

/// Longest window `/debug/runtime` waits over.
pub const MAX_WINDOW_SECONDS: u64 = 10;

type RuntimeList = Box<dyn Fn() -> Vec<(String, Handle)> + Send + Sync>;

/// A live task profile (`/debug/tasks`, Go's `/debug/pprof/goroutine`):
/// given the query string, the content type and body, or a message for a
/// bad query. A later lab that tracks tasks provides it.
pub type TaskProfile = Box<dyn Fn(&str) -> Result<(&'static str, String), String> + Send + Sync>;

/// Where the metrics come from: the runtimes (looked up when asked, since
/// a server publishes them as it starts) and a task monitor, if any.
#[derive(Default)]
pub struct Sources {
    pub runtimes: Option<RuntimeList>,
    pub tasks: Option<TaskMonitor>,
    /// Live tasks by spawn site, if a task tracker is installed.
    pub task_profile: Option<TaskProfile>,
}

/// One runtime over the window.
#[derive(Debug, Serialize)]
pub struct RuntimeReport {
    pub name: String,
    pub workers: usize,
    pub live_tasks: usize,
    pub busy_ratio: f64,
    pub parks: u64,
    pub global_queue_depth: usize,
}

/// The connection tasks over the window.
#[derive(Debug, Serialize)]
pub struct TaskReport {
    pub instrumented: u64,
    pub dropped: u64,
    pub polls: u64,
    pub mean_poll_us: f64,
    pub mean_scheduled_delay_us: f64,
    pub slow_poll_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub window_seconds: f64,
    pub runtimes: Vec<RuntimeReport>,
    /// `None` when the server was started without task metrics.
    pub tasks: Option<TaskReport>,
}

/// Parses `seconds=N` (default 1, at most [`MAX_WINDOW_SECONDS`]).
pub fn window_from_query(query: &str) -> Result<Duration, String> {
    let mut window = Duration::from_secs(1);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("seconds", v)) => match v.parse::<u64>() {
                Ok(n) if (1..=MAX_WINDOW_SECONDS).contains(&n) => window = Duration::from_secs(n),
                _ => {
                    return Err(format!(
                        "seconds must be a whole number from 1 to {MAX_WINDOW_SECONDS}"
                    ));
                }
            },
            _ => return Err("unknown parameter: /debug/runtime takes only seconds".into()),
        }
    }
    Ok(window)
}

impl Sources {
    /// Samples every source over `window` (sleeping meanwhile) and returns
    /// JSON.
    pub fn snapshot(&self, window: Duration) -> String {
        let snap = self.measure(window);
        serde_json::to_string_pretty(&snap).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    // ANCHOR: measure
    pub fn measure(&self, window: Duration) -> Snapshot {
        let runtimes = self.runtimes.as_ref().map(|f| f()).unwrap_or_default();
        let mut intervals: Vec<_> = runtimes
            .iter()
            .map(|(name, h)| (name.clone(), RuntimeMonitor::new(h).intervals()))
            .collect();
        let mut tasks = self.tasks.as_ref().map(TaskMonitor::intervals);
        // The first interval starts the window; the second is the window.
        for (_, i) in &mut intervals {
            i.next();
        }
        if let Some(t) = &mut tasks {
            t.next();
        }
        std::thread::sleep(window);
        let runtimes = intervals
            .iter_mut()
            .filter_map(|(name, i)| {
                let m = i.next()?;
                let capacity = m.elapsed.as_secs_f64() * m.workers_count as f64;
                Some(RuntimeReport {
                    name: name.clone(),
                    workers: m.workers_count,
                    live_tasks: m.live_tasks_count,
                    busy_ratio: if capacity > 0.0 {
                        m.total_busy_duration.as_secs_f64() / capacity
                    } else {
                        0.0
                    },
                    parks: m.total_park_count,
                    global_queue_depth: m.global_queue_depth,
                })
            })
            .collect();
        let tasks = tasks.and_then(|mut t| t.next()).map(|m| TaskReport {
            instrumented: m.instrumented_count,
            dropped: m.dropped_count,
            polls: m.total_poll_count,
            mean_poll_us: m.mean_poll_duration().as_secs_f64() * 1e6,
            mean_scheduled_delay_us: m.mean_scheduled_duration().as_secs_f64() * 1e6,
            slow_poll_ratio: m.slow_poll_ratio(),
        });
        Snapshot {
            window_seconds: window.as_secs_f64(),
            runtimes,
            tasks,
        }
    }
    // ANCHOR_END: measure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(window_from_query(""), Ok(Duration::from_secs(1)));
        assert_eq!(window_from_query("seconds=3"), Ok(Duration::from_secs(3)));
        assert!(window_from_query("seconds=0").is_err());
        assert!(window_from_query("seconds=11").is_err());
        assert!(window_from_query("x=1").is_err());
    }

    #[test]
    fn a_busy_runtime_reads_busy_and_its_tasks_are_timed() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        let monitor = TaskMonitor::new();
        let m2 = monitor.clone();
        // One task that spins in short polls for the whole window.
        rt.spawn(m2.instrument(async {
            let until = std::time::Instant::now() + Duration::from_millis(1500);
            while std::time::Instant::now() < until {
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_micros(200) {}
                tokio::task::yield_now().await;
            }
        }));
        let sources = Sources {
            runtimes: Some(Box::new(move || vec![("test".into(), handle.clone())])),
            tasks: Some(monitor),
            task_profile: None,
        };
        let snap = sources.measure(Duration::from_millis(1000));
        assert_eq!(snap.runtimes.len(), 1);
        let r = &snap.runtimes[0];
        assert_eq!(r.workers, 1);
        assert!(r.busy_ratio > 0.5, "busy {}", r.busy_ratio);
        let t = snap.tasks.unwrap();
        assert!(t.polls > 100, "{} polls", t.polls);
        assert!(t.mean_poll_us > 100.0, "{} µs", t.mean_poll_us);
        drop(rt);
        let json = Sources::default().snapshot(Duration::from_millis(10));
        assert!(json.contains("\"runtimes\": []"));
    }
}
