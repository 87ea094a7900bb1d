//! The leak check: what goleak's `VerifyNone` does for goroutines, for
//! tokio tasks.
//!
//! [`LeakCheck::start`] notes the tasks alive on the current runtime (the
//! baseline: a shared runtime's own tasks are not the test's fault);
//! [`LeakCheck::verify`] looks again at the end. A task that is just
//! finishing must not fail the test, so a check that finds tasks waits
//! and looks again on a [`Schedule`] of growing sleeps, bounded in total,
//! and reports only what is still alive at the end: each leaked task's
//! spawn site and age. It also compares tokio's own count of alive tasks,
//! which sees tasks spawned without the tracker (with no site).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::track::{self, Kind, Marks, Site, TaskInfo};

// ANCHOR: schedule
/// How long a check waits between looks, and how long in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The first sleep; each later one doubles.
    pub first: Duration,
    /// No sleep is longer than this.
    pub cap: Duration,
    /// Total waiting never exceeds this.
    pub budget: Duration,
}

impl Default for Schedule {
    /// 1 ms, doubling to 100 ms, at most 2 s in all: a task finishing
    /// within milliseconds passes after a look or two, and a real leak
    /// fails in about two seconds.
    fn default() -> Self {
        Self {
            first: Duration::from_millis(1),
            cap: Duration::from_millis(100),
            budget: Duration::from_secs(2),
        }
    }
}

impl Schedule {
    /// The sleep before look number `attempt + 1` (the first look is
    /// attempt 0), given `waited` so far; `None` when the budget is spent.
    pub fn next(&self, attempt: u32, waited: Duration) -> Option<Duration> {
        if waited >= self.budget {
            return None;
        }
        let grown = self
            .first
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX));
        Some(grown.min(self.cap).min(self.budget - waited))
    }

    /// Looks with `look` until it finds nothing left (`Ok(None)`) or the
    /// budget is spent, sleeping the calling thread in between; returns
    /// what the last look found. For checks outside a runtime (resources,
    /// a server's tasks seen from a test thread).
    pub fn retry_blocking<T, E>(
        &self,
        mut look: impl FnMut() -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let Some(left) = look()? else {
                return Ok(None);
            };
            match self.next(attempt, started.elapsed()) {
                Some(d) => std::thread::sleep(d),
                None => return Ok(Some(left)),
            }
            attempt += 1;
        }
    }
}
// ANCHOR_END: schedule

/// Leaked tasks from one spawn site.
#[derive(Debug, Clone)]
pub struct Leak {
    pub site: Site,
    pub kind: Kind,
    pub count: usize,
    /// The age of the oldest task from this site at the last look.
    pub oldest: Duration,
    /// Where each task's future was waiting, when a task dump was taken
    /// (only under `tokio_unstable`; see [`crate::unstable`]).
    pub traces: Vec<String>,
}

/// What a failed check found.
#[derive(Debug, Clone)]
pub struct LeakReport {
    /// Grouped by spawn site, most tasks first.
    pub leaks: Vec<Leak>,
    /// Tasks alive on the runtime by tokio's count that the tracker did
    /// not see spawned (plain `tokio::spawn`): counted, not named.
    pub untracked: usize,
    pub looks: u32,
    pub waited: Duration,
}

impl LeakReport {
    /// Leaked tracked tasks, all sites.
    pub fn tracked(&self) -> usize {
        self.leaks.iter().map(|l| l.count).sum()
    }
}

// ANCHOR: report
impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.tracked() + self.untracked;
        writeln!(
            f,
            "{total} leaked task{} still alive after {} looks over {}:",
            if total == 1 { "" } else { "s" },
            self.looks,
            kit::fmt::fmt_duration(self.waited),
        )?;
        for l in &self.leaks {
            let kind = match l.kind {
                Kind::Async => "",
                Kind::Blocking => " (blocking)",
            };
            writeln!(
                f,
                "  {} × spawned at {}:{}:{}{kind}, oldest alive {}",
                l.count,
                l.site.file(),
                l.site.line(),
                l.site.column(),
                kit::fmt::fmt_duration(l.oldest),
            )?;
            for t in &l.traces {
                for line in t.lines() {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        if self.untracked > 0 {
            writeln!(
                f,
                "  {} × not spawned through lab_06 (tokio counts them alive; spawn with \
                 lab_06::spawn or lab_06::track to see where)",
                self.untracked
            )?;
        }
        Ok(())
    }
}
// ANCHOR_END: report

impl std::error::Error for LeakReport {}

/// Which spawn sites a check forgives: tasks meant to outlive a test.
#[derive(Debug, Clone)]
struct Ignore {
    file_suffix: String,
    line: Option<u32>,
}

impl Ignore {
    fn matches(&self, site: Site) -> bool {
        site.file().ends_with(&self.file_suffix) && self.line.is_none_or(|l| l == site.line())
    }
}

/// A leak check over one runtime. Start it first, verify it last.
#[must_use = "a leak check does nothing until `verify().await`"]
pub struct LeakCheck {
    handle: Handle,
    /// The registry's marks at the start: tasks registered before are the
    /// baseline.
    baseline: Marks,
    /// Untracked tasks alive at the start.
    baseline_untracked: usize,
    ignore: Vec<Ignore>,
    schedule: Schedule,
    /// Take a task dump of the leaks (`tokio_unstable` builds only).
    dump: bool,
}

// ANCHOR: check
impl LeakCheck {
    /// Notes the tasks alive now on the current runtime; they are never
    /// blamed. Panics outside a tokio runtime, like `tokio::spawn`.
    pub fn start() -> Self {
        let handle = Handle::try_current()
            .expect("LeakCheck::start needs a tokio runtime (call it inside #[tokio::test])");
        let baseline = track::registry().marks();
        let mut check = Self {
            baseline,
            baseline_untracked: 0,
            handle,
            ignore: Vec::new(),
            schedule: Schedule::default(),
            dump: cfg!(tokio_unstable),
        };
        check.baseline_untracked = check.steady_untracked();
        check
    }

    /// The untracked count, read until tokio's count is the same before
    /// and after the registry's: a task between its registration and its
    /// spawn (or between waking its joiner and leaving tokio's count)
    /// would otherwise shift the baseline by one for the whole check.
    fn steady_untracked(&self) -> usize {
        let registry = track::registry();
        let mut last = 0;
        for _ in 0..100 {
            let before = self.handle.metrics().num_alive_tasks();
            let tracked_async = registry.count_async(self.handle.id());
            let after = self.handle.metrics().num_alive_tasks();
            last = before.saturating_sub(tracked_async);
            if before == after {
                break;
            }
            std::thread::yield_now();
        }
        last
    }

    /// Forgives tasks spawned in a file whose path ends with `file`, at
    /// `line` or (with `None`) anywhere in it.
    pub fn ignore(mut self, file: &str, line: Option<u32>) -> Self {
        self.ignore.push(Ignore {
            file_suffix: file.to_owned(),
            line,
        });
        self
    }

    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Whether a failed check takes a task dump of its leaks (on by
    /// default under `tokio_unstable`, where it exists; a dump waits for
    /// every worker to reach a poll boundary, so it is skipped when a
    /// test must not wait for that).
    pub fn dump(mut self, dump: bool) -> Self {
        self.dump = dump;
        self
    }

    /// One look: the leaked tracked tasks and the untracked count.
    pub fn look(&self) -> (Vec<TaskInfo>, usize) {
        let (new, tracked_async) = track::registry().since(self.handle.id(), &self.baseline);
        let untracked = self
            .untracked_now(tracked_async)
            .saturating_sub(self.baseline_untracked);
        let leaked = new
            .into_iter()
            .filter(|t| !self.ignore.iter().any(|i| i.matches(t.site)))
            .collect();
        (leaked, untracked)
    }

    /// Tasks tokio counts alive that the tracker does not know. tokio
    /// counts async tasks only, so blocking ones are left out of both.
    fn untracked_now(&self, tracked_async: usize) -> usize {
        self.handle
            .metrics()
            .num_alive_tasks()
            .saturating_sub(tracked_async)
    }

    /// Looks until nothing leaked is left or the schedule's budget is
    /// spent; then reports every task still alive, by spawn site.
    pub async fn verify(self) -> Result<(), LeakReport> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let (leaked, untracked) = self.look();
            if leaked.is_empty() && untracked == 0 {
                return Ok(());
            }
            match self.schedule.next(attempt, started.elapsed()) {
                Some(sleep) => tokio::time::sleep(sleep).await,
                None => {
                    let mut report = group(&leaked, untracked, attempt + 1, started.elapsed());
                    if self.dump {
                        crate::unstable::attach_traces(&self.handle, &leaked, &mut report).await;
                    }
                    return Err(report);
                }
            }
            attempt += 1;
        }
    }
}
// ANCHOR_END: check

fn group(leaked: &[TaskInfo], untracked: usize, looks: u32, waited: Duration) -> LeakReport {
    let now = Instant::now();
    let mut by_site: BTreeMap<(&str, u32, u32), Leak> = BTreeMap::new();
    for t in leaked {
        let key = (t.site.file(), t.site.line(), t.site.column());
        let age = now.saturating_duration_since(t.spawned);
        let e = by_site.entry(key).or_insert(Leak {
            site: t.site,
            kind: t.kind,
            count: 0,
            oldest: Duration::ZERO,
            traces: Vec::new(),
        });
        e.count += 1;
        e.oldest = e.oldest.max(age);
    }
    let mut leaks: Vec<Leak> = by_site.into_values().collect();
    leaks.sort_by_key(|l| std::cmp::Reverse(l.count));
    LeakReport {
        leaks,
        untracked,
        looks,
        waited,
    }
}

// ANCHOR: no-leaks
/// The one-line form: runs `body`, then fails (panics, as a test
/// assertion does) if it left tasks behind on this runtime.
///
/// ```ignore
/// #[tokio::test]
/// async fn serves_and_cleans_up() {
///     lab_06::no_leaks(async { /* the test */ }).await
/// }
/// ```
pub async fn no_leaks<F: Future>(body: F) -> F::Output {
    let check = LeakCheck::start();
    let out = body.await;
    if let Err(report) = check.verify().await {
        panic!("{report}");
    }
    out
}
// ANCHOR_END: no-leaks

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_doubles_caps_and_stops_at_its_budget() {
        let s = Schedule::default();
        let mut waited = Duration::ZERO;
        let mut sleeps = Vec::new();
        let mut attempt = 0;
        while let Some(d) = s.next(attempt, waited) {
            sleeps.push(d);
            waited += d;
            attempt += 1;
        }
        assert_eq!(sleeps[0], Duration::from_millis(1));
        assert_eq!(sleeps[1], Duration::from_millis(2));
        assert!(sleeps.iter().all(|d| *d <= s.cap));
        assert_eq!(waited, s.budget, "uses the whole budget, never more");
        assert!(
            s.next(1000, Duration::ZERO).is_some_and(|d| d == s.cap),
            "no overflow"
        );
    }
}
