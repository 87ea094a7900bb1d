//! Lab 02 exercises: parse the protocol, add a command to the real server,
//! and swap lab-01's shards for one lock to see what they buy.
//!
//! | exercise | file you edit | checked by |
//! |---|---|---|
//! | `resp-parser`: parse a RESP request | `src/resp_parser.rs` | `cargo xtask exercise check lab-02 resp-parser` |
//! | `getex`: add GETEX, end to end | `src/getex.rs` | `cargo xtask exercise check lab-02 getex` |
//! | `global-lock`: one lock for everything | `src/global_lock.rs` | `cargo xtask exercise check lab-02 global-lock` |
//!
//! Each starter compiles and panics with `todo!()` until you fill it in.
//! The reference solutions live in `solutions/` and are built instead of
//! the starters with `--features solution`. `exercises.toml` lists the
//! exercises, their tests and hints for the automation.
//!
//! Once `global-lock` passes, `cargo run -p lab-02-exercises --release --
//! bench` measures your one lock beside lab-01's sharded cache, through
//! the same routing the server uses; [`mod@bench`] is that benchmark.

use std::sync::Once;

#[cfg_attr(feature = "solution", path = "../solutions/resp_parser.rs")]
pub mod resp_parser;

#[cfg_attr(feature = "solution", path = "../solutions/getex.rs")]
pub mod getex;

#[cfg_attr(feature = "solution", path = "../solutions/global_lock.rs")]
pub mod global_lock;

pub mod bench;

/// Adds your [`getex::getex`] to this process's command table as `GETEX`,
/// so that every server started afterwards (any model) runs it. Safe to
/// call many times; only the first call registers. Not part of the
/// exercise: the tests call it before they start a server.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        use lab_02::cmd::{self, flags};
        let registered = cmd::register(
            "getex",
            -2,
            flags::WRITE | flags::FAST,
            "Get the value of a key and optionally set its expiration.",
            getex::getex,
        );
        match registered {
            Ok(_) => {}
            // Already in the table (lab-02 itself may gain GETEX one day).
            Err(cmd::RegisterError::Exists(_)) => {}
            Err(e) => panic!("cannot register GETEX: {e}"),
        }
    });
}
