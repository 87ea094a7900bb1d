//! `lab-01`: see `lab-01 --help`, and the module map in `lib.rs`.

use std::process::ExitCode;

// ANCHOR: allocator
// The global allocator: the system's (glibc's malloc) unless a feature
// picks another, for lab-04's build-settings experiment. Only this binary
// gets it: the labs that embed lab-01's library keep their own.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
// ANCHOR_END: allocator

fn main() -> ExitCode {
    // A bad option is the user's mistake, not a crash: print the error
    // chain on one line each, without a backtrace, and exit non-zero.
    match lab_01::cli::main_with(Vec::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
