//! # Exercise 2: add a command end to end, GETEX
//!
//! lab-02's commands are written once, against [`Db`] (the keyspace a
//! command sees), and run unchanged under all three concurrency models. A
//! new command only needs a function with the same signature as theirs;
//! [`crate::install`] puts yours in the real server's command table
//! (`lab_02::cmd::register`), and the tests then talk to real servers over
//! TCP, under each model, with the append-only file on.
//!
//! lab-02 has its own `GETEX` (in `cmd/strings.rs`: try not to read it
//! before you are done), so yours is registered as `MYGETEX`. The tests
//! send `MYGETEX` and the server's `GETEX` the same inputs and expect the
//! same replies, the same TTLs and the same append-only file records;
//! they also check yours against Redis's rules directly. Write your error
//! texts as GETEX's (`'getex' command`), whatever name it is registered
//! under.
//!
//! Your task: implement Redis's `GETEX`,
//!
//! ```text
//! GETEX key [EX seconds | PX milliseconds | EXAT unix-seconds | PXAT unix-milliseconds | PERSIST]
//! ```
//!
//! It replies like `GET` (the string value; nil for a missing key; the
//! `WRONGTYPE` error for a list, hash, …) and, with an option, changes the
//! key's time to live: EX and PX set it relative to now, EXAT and PXAT to
//! an absolute Unix time, PERSIST removes it. Without an option it only
//! reads. Options are case-insensitive; repeating one (`EX 10 EX 20`, the
//! last wins) is fine, combining two different ones is a syntax error.
//!
//! Check everything in Redis 7's order, with its error texts:
//!
//! 1. The options: an unknown option, a missing value, or two different
//!    options is `ERR syntax error`.
//! 2. The key: missing, reply nil (`lab_02::reply::null`) and stop, even if
//!    the time is bad; not a string (`lab_02::value::Value::Str`), reply
//!    `lab_02::reply::WRONGTYPE` and stop.
//! 3. The time: not an integer is `ERR value is not an integer or out of
//!    range`; zero, negative, or overflowing once turned into Unix
//!    milliseconds is `ERR invalid expire time in 'getex' command`.
//! 4. Reply the value (`lab_02::reply::bulk`), then change the TTL.
//!
//! **The append-only file.** `args[0]` is the name as the client wrote it;
//! `out` is the reply buffer; `log` is what the server appends to the
//! append-only file after the command: `log.record()` gives its buffer
//! (`None` when the server keeps no file: then write nothing). Write
//! there, as a RESP multibulk request (`lab_02::reply::array(buf, n)` then
//! `n` times `lab_02::reply::bulk(buf, arg)`), the command(s) that redo your change
//! when the file is replayed at start-up. Never log GETEX itself: replayed
//! tomorrow, `EX 10` would mean ten seconds from tomorrow.
//!
//! - A new expiry: `PEXPIREAT key <unix-ms>`, the absolute time
//!   (`lab_02::db::unix_ms()` is now), set with `db.expire(key,
//!   Some(time_left))`.
//! - A time already past (possible with EXAT and PXAT): the key is gone,
//!   `db.remove(key)`, logged as `DEL key`. The reply is still the value.
//! - PERSIST: `db.persist(key)`, logged as `PERSIST key` only if it removed
//!   a TTL.
//! - Only reading (no option, PERSIST of a key without TTL, any error):
//!   log nothing.
//!
//! Where to look: `labs/lab-02/src/cmd/strings.rs` (`get`: GETEX without
//! an option is exactly it), `labs/lab-02/src/db.rs` (`Db::read`,
//! `Db::expire`, `Db::persist`, `Db::remove`, `unix_ms`),
//! `labs/lab-02/src/reply.rs` (`bulk`, `null`, `array`, `error`,
//! `WRONGTYPE`) and `labs/lab-02/src/cmd/mod.rs` (`Log::record`).
//!
//! Check it with `cargo xtask exercise check lab-02 getex`.

use lab_02::cmd::Log;
use lab_02::db::Db;

/// `GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]`:
/// writes exactly one reply into `out`, and into `log` the commands that
/// replay the change, if any. `args[0]` is the command name; the server
/// has checked that there are at least two arguments.
pub fn getex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let _ = (db, args, out, log);
    todo!("exercise getex: reply like GET, then set or remove the TTL and log it")
}
