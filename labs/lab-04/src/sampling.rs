//! In-process CPU sampling with pprof-rs: a timer signal (`SIGPROF`, from
//! `setitimer(ITIMER_PROF)`, which counts CPU time of the whole process)
//! interrupts whichever thread is on a CPU; the handler walks that thread's
//! stack (DWARF unwind tables, no frame pointers needed) and counts it.
//!
//! One profile at a time per process: the timer and the sample table are
//! process-wide. [`record`] claims the profiler first and answers
//! [`ProfileError::Busy`] to a second caller, which the debug port turns
//! into 409. Symbolisation (addresses to names, the slow part) runs on the
//! caller's thread after the timer stops, never on a runtime thread and
//! never inside the signal handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pprof::protos::Message;

use crate::request::Blocklist;
use crate::stacks::Stack;

/// Libraries in which a sample is dropped rather than unwound: the
/// unwinder itself (libgcc: interrupting it and unwinding again would
/// re-enter it) and the vDSO. pprof-rs's examples also list libc, but
/// pprof-rs then drops *every* sample whose interrupted instruction is in
/// libc, and a network server spends much of its CPU time returning from
/// `read`, `write` and `epoll_wait` through libc's wrappers: with libc on
/// the list this lab's profiles of lab-02 kept about a tenth of the samples
/// the frequency predicts, all of them from the user-space part of the
/// work, so the profile misdrew where the time went.
const BLOCKLIST: [&str; 2] = ["libgcc", "vdso"];
/// pprof-rs's example list, libc included: what [`Blocklist::Libc`] asks for.
const WITH_LIBC: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

static BUSY: AtomicBool = AtomicBool::new(false);

/// Tests that take a profile hold this, so they do not see each other's.
#[cfg(test)]
pub(crate) static TEST_PROFILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Why a profile was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("another profile is running in this process; try again when it ends")]
    Busy,
    #[error("the profiler failed: {0}")]
    Profiler(String),
}

/// A finished CPU profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub stacks: Vec<Stack>,
    pub frequency: u32,
    /// How long the timer ran.
    pub duration: Duration,
    /// The same samples as profile.proto, for `go tool pprof`.
    pub pprof: Vec<u8>,
}

impl Profile {
    pub fn samples(&self) -> u64 {
        crate::stacks::total(&self.stacks)
    }
}

/// The profiler, held: released on drop, whatever happens.
struct Claim;

impl Claim {
    fn take() -> Result<Self, ProfileError> {
        BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| Claim)
            .map_err(|_| ProfileError::Busy)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// Whether a profile is running now.
pub fn busy() -> bool {
    BUSY.load(Ordering::Relaxed)
}

// ANCHOR: record
/// Samples every thread of this process at `frequency` Hz for `duration`,
/// then symbolises on the calling thread.
pub fn record(duration: Duration, frequency: u32) -> Result<Profile, ProfileError> {
    record_with(duration, frequency, Blocklist::Unwinder)
}

/// [`record`] with a choice of blocklist.
pub fn record_with(
    duration: Duration,
    frequency: u32,
    blocklist: Blocklist,
) -> Result<Profile, ProfileError> {
    let running = start_with(frequency, blocklist)?;
    std::thread::sleep(duration);
    running.finish()
}

/// A profile being taken: started by [`start`], ended by
/// [`Running::finish`] (for callers that know when, not how long: a
/// benchmark harness).
pub struct Running {
    guard: pprof::ProfilerGuard<'static>,
    started: Instant,
    frequency: u32,
    _claim: Claim,
}

/// Starts the timer and the sampling.
pub fn start(frequency: u32) -> Result<Running, ProfileError> {
    start_with(frequency, Blocklist::Unwinder)
}

/// [`start`] with a choice of blocklist.
pub fn start_with(frequency: u32, blocklist: Blocklist) -> Result<Running, ProfileError> {
    let claim = Claim::take()?;
    let list: &[&str] = match blocklist {
        Blocklist::Unwinder => &BLOCKLIST,
        Blocklist::Libc => &WITH_LIBC,
    };
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency as i32)
        .blocklist(list)
        .build()
        .map_err(err)?;
    Ok(Running {
        guard,
        started: Instant::now(),
        frequency,
        _claim: claim,
    })
}

fn err(e: pprof::Error) -> ProfileError {
    ProfileError::Profiler(e.to_string())
}

impl Running {
    /// Stops sampling and turns the samples into named stacks.
    pub fn finish(self) -> Result<Profile, ProfileError> {
        let report = self.guard.report().build().map_err(err)?;
        let duration = self.started.elapsed();
        drop(self.guard); // stops the timer
        let pprof = report.pprof().map_err(err)?.encode_to_vec();
        let stacks = report
            .data
            .iter()
            .map(|(frames, &count)| Stack {
                thread: frames.thread_name_or_id(),
                // pprof-rs keeps frames leaf first, and each frame's inlined
                // symbols innermost first: reverse both for root-first.
                frames: frames
                    .frames
                    .iter()
                    .rev()
                    .flat_map(|symbols| symbols.iter().rev().map(|s| tidy(&s.name())))
                    .collect(),
                count: count.max(0) as u64,
            })
            .collect();
        Ok(Profile {
            stacks,
            frequency: self.frequency,
            duration,
            pprof,
        })
    }
}
// ANCHOR_END: record

/// Drops the `::h0123456789abcdef` hash rustc appends to symbol names, so
/// the same function has the same name across builds (diffs need that).
pub fn tidy(name: &str) -> String {
    match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            name[..i].to_owned()
        }
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_tidied_and_other_names_kept() {
        assert_eq!(
            tidy("lab_02::cmd::execute::h0123456789abcdef"),
            "lab_02::cmd::execute"
        );
        assert_eq!(tidy("a::hello"), "a::hello");
    }

    /// Busy work the profiler must find by name.
    #[inline(never)]
    fn spin_for_the_profiler(until: Instant) -> u64 {
        let mut x = 1u64;
        while Instant::now() < until {
            for _ in 0..1000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        x
    }

    #[test]
    fn a_profile_finds_the_busy_function_and_a_second_one_is_refused() {
        let _one = TEST_PROFILE.lock().unwrap_or_else(|p| p.into_inner());
        let worker = std::thread::Builder::new()
            .name("spinner".into())
            .spawn(|| spin_for_the_profiler(Instant::now() + Duration::from_millis(1500)))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let first = std::thread::spawn(move || {
            let p = record(Duration::from_millis(1000), 499);
            tx.send(()).ok();
            p
        });
        std::thread::sleep(Duration::from_millis(200));
        if rx.try_recv().is_err() {
            assert!(matches!(
                record(Duration::from_millis(10), 99),
                Err(ProfileError::Busy)
            ));
        }
        let p = first.join().unwrap().unwrap();
        worker.join().unwrap();
        assert!(p.samples() > 50, "{} samples", p.samples());
        let spinner: u64 = p
            .stacks
            .iter()
            .filter(|s| s.thread == "spinner")
            .map(|s| s.count)
            .sum();
        let named = crate::stacks::samples_in(&p.stacks, |f| f.contains("spin_for_the_profiler"));
        assert!(
            spinner * 2 > p.samples(),
            "the spinner thread had most samples"
        );
        assert!(
            named * 2 > spinner,
            "and its function is named: {named} of {spinner}"
        );
        assert!(!p.pprof.is_empty());
        let back = crate::stacks::from_pprof(&p.pprof).unwrap();
        assert_eq!(
            crate::stacks::total(&back),
            p.samples(),
            "the proto has the same samples"
        );
        assert!(!busy(), "released after use");
    }
}
