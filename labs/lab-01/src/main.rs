//! `lab-01`: see `lab-01 --help`, and the module map in `lib.rs`.

use std::process::ExitCode;

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
