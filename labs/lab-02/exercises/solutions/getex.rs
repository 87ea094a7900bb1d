//! # Exercise 2: add a command end to end, GETEX (reference solution)
//!
//! See the starter, `src/getex.rs`, for the task. The shape is Redis 7's
//! `getexCommand` (t_string.c): parse, look up, validate the time, reply,
//! then change the TTL and propagate the change as an absolute
//! `PEXPIREAT`, a `DEL` or a `PERSIST`, never as GETEX itself.

use std::time::Duration;

use lab_02::cmd::Log;
use lab_02::db::{Db, unix_ms};
use lab_02::reply;
use lab_02::value::Value;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const INVALID_TIME: &str = "ERR invalid expire time in 'getex' command";

// ANCHOR: solution
/// The TTL option of GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    Ex,
    Px,
    ExAt,
    PxAt,
    Persist,
}

/// `GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]`:
/// writes exactly one reply into `out`, and into `log` the commands that
/// replay the change, if any. `args[0]` is the command name; the server
/// has checked that there are at least two arguments.
pub fn getex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let key = args[1];

    // 1. Options. Repeating one is fine; mixing two is a syntax error.
    let mut option: Option<(Ttl, &[u8])> = None;
    let mut j = 2;
    while j < args.len() {
        let kind = match args[j].to_ascii_lowercase().as_slice() {
            b"ex" => Ttl::Ex,
            b"px" => Ttl::Px,
            b"exat" => Ttl::ExAt,
            b"pxat" => Ttl::PxAt,
            b"persist" => Ttl::Persist,
            _ => return reply::error(out, SYNTAX),
        };
        let value: &[u8] = if kind == Ttl::Persist {
            b""
        } else {
            match args.get(j + 1) {
                Some(v) => v,
                None => return reply::error(out, SYNTAX),
            }
        };
        if option.is_some_and(|(k, _)| k != kind) {
            return reply::error(out, SYNTAX);
        }
        option = Some((kind, value));
        j += if kind == Ttl::Persist { 1 } else { 2 };
    }

    // 2. The key: nil, or WRONGTYPE, before the time is even looked at.
    match db.read(key, |v| matches!(v, Value::Str(_))) {
        None => return reply::null(out),
        Some(false) => return reply::error(out, reply::WRONGTYPE),
        Some(true) => {}
    }

    // 3. The time, as an absolute Unix time in milliseconds.
    let now = unix_ms() as i64;
    let at = match option {
        Some((kind, value)) if kind != Ttl::Persist => match expire_at(kind, value, now) {
            Ok(at) => Some(at),
            Err(e) => return reply::error(out, e),
        },
        _ => None,
    };

    // 4. Reply the value, then change the TTL and log what changed.
    db.read(key, |v| {
        if let Value::Str(s) = v {
            reply::bulk(out, s);
        }
    });
    if let Some(at) = at {
        if at <= now {
            db.remove(key);
            log_args(log, &[b"DEL", key]);
        } else {
            let left = Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
            db.expire(key, Some(left));
            log_args(log, &[b"PEXPIREAT", key, at.to_string().as_bytes()]);
        }
    } else if option.is_some_and(|(k, _)| k == Ttl::Persist) && db.persist(key) {
        log_args(log, &[b"PERSIST", key]);
    }
}

/// Redis's `getExpireMillisecondsOrReply`: the option's value as an
/// absolute Unix time in milliseconds, or the error to reply.
fn expire_at(kind: Ttl, value: &[u8], now: i64) -> Result<i64, &'static str> {
    let n = parse_int(value).ok_or(NOT_INT)?;
    let seconds = matches!(kind, Ttl::Ex | Ttl::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(INVALID_TIME);
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = if matches!(kind, Ttl::Ex | Ttl::Px) {
        ms.checked_add(now).ok_or(INVALID_TIME)?
    } else {
        ms
    };
    Ok(at)
}

/// An integer as Redis reads one: `-`?, digits, no leading zero, no `+`.
fn parse_int(arg: &[u8]) -> Option<i64> {
    let digits = arg.strip_prefix(b"-").unwrap_or(arg);
    let canonical = match digits {
        [] => false,
        [b'0'] => arg.len() == 1,
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// Appends one command to the append-only-file buffer, as a RESP multibulk
/// request: what a client would have sent.
fn log_args(log: &mut Log, args: &[&[u8]]) {
    // No buffer when the server keeps no log (no append-only file).
    let Some(log) = log.record() else { return };
    reply::array(log, args.len());
    for arg in args {
        reply::bulk(log, arg);
    }
}
// ANCHOR_END: solution
