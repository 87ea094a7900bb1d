//! Lab 02 exercises: parse the protocol, add a command to the real server,
//! and swap lab-01's shards for one lock to see what they buy.
//!
//! | exercise | file you edit | checked by |
//! |---|---|---|
//! | `resp-parser`: parse a RESP request | `src/resp_parser.rs` | `cargo xtask exercise check lab-02 resp-parser` |
//! | `getex`: add GETEX, end to end (as MYGETEX) | `src/getex.rs` | `cargo xtask exercise check lab-02 getex` |
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

/// The name your [`getex::getex`] is registered under: lab-02 has GETEX
/// built in, and a name cannot be registered twice.
pub const GETEX_NAME: &str = "mygetex";

/// Adds your [`getex::getex`] to this process's command table as
/// `MYGETEX`, so that every server started afterwards (any model) runs it
/// beside its own `GETEX`, and the tests can send both the same inputs.
/// Safe to call many times; only the first call registers. Not part of
/// the exercise: the tests call it before they start a server.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        use lab_02::cmd::{self, flags};
        let registered = cmd::register(
            GETEX_NAME,
            -2,
            flags::WRITE | flags::FAST,
            "Your GETEX: the value of a key, optionally setting its expiration.",
            getex::getex,
        );
        if let Err(e) = registered {
            panic!("cannot register {GETEX_NAME}: {e}");
        }
    });
}
