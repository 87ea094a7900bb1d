//! String commands: GET, GETEX, SET and its variants, counters, APPEND,
//! ranges.
//!
//! The hot paths (GET, plain SET, INCR) allocate nothing beyond the key and
//! value they store: GET writes the reply from inside the read closure,
//! INCR rewrites the digits in the string's own buffer.

use super::Log;
use std::time::Duration;

use lab_01::SetOptions;

use super::parse::{
    MAX_STRING, NAN_OR_INF, NOT_FLOAT, NOT_INT, OVERFLOW, SYNTAX, TOO_BIG, format_float, is,
    parse_f64, parse_i64,
};
use super::{arity_error, log_args};
use crate::db::{Db, unix_ms};
use crate::reply::{self, WRONGTYPE};
use crate::value::Value;

/// `GET key`
pub(crate) fn get(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let found = db.read(args[1], |v| match v {
        Value::Str(s) => reply::bulk(out, s),
        _ => reply::error(out, WRONGTYPE),
    });
    if found.is_none() {
        reply::null(out);
    }
}

/// `GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]`, in
/// Redis 7's order: the options (a syntax error first), then the key (nil
/// or WRONGTYPE), then the time. Logged as what it did, never as itself
/// (a relative time replayed later would mean a later expiry):
/// `PEXPIREAT key at`, `DEL key` for a time already past, `PERSIST key`
/// if a TTL was removed, nothing when it only read.
pub(crate) fn getex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let key = args[1];
    let mut expiry = Expiry::None;
    let mut persist = false;
    let mut expire_arg: &[u8] = b"";
    let mut j = 2;
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        let kind = [
            ("ex", Expiry::Ex),
            ("px", Expiry::Px),
            ("exat", Expiry::ExAt),
            ("pxat", Expiry::PxAt),
        ]
        .iter()
        .find(|(name, _)| is(opt, name))
        .map(|&(_, e)| e);
        match (kind, next) {
            _ if is(opt, "persist") && expiry == Expiry::None => persist = true,
            (Some(e), Some(arg)) if !persist && (expiry == Expiry::None || expiry == e) => {
                expiry = e;
                expire_arg = arg;
                j += 1;
            }
            _ => {
                reply::error(out, SYNTAX);
                return;
            }
        }
        j += 1;
    }
    match db.read(key, |v| matches!(v, Value::Str(_))) {
        None => return reply::null(out),
        Some(false) => return reply::error(out, WRONGTYPE),
        Some(true) => {}
    }
    let now = unix_ms() as i64;
    let at = match expiry {
        Expiry::None => None,
        e => {
            let seconds = matches!(e, Expiry::Ex | Expiry::ExAt);
            let relative = matches!(e, Expiry::Ex | Expiry::Px);
            match expire_at_ms(expire_arg, seconds, relative, now, "getex") {
                Ok(at) => Some(at),
                Err(e) => return reply::error(out, &e),
            }
        }
    };
    db.read(key, |v| {
        if let Value::Str(s) = v {
            reply::bulk(out, s);
        }
    });
    if let Some(at) = at {
        if at <= now {
            db.remove(key);
            log_args(log, &[b"DEL".as_slice(), key]);
        } else {
            db.expire(key, Some(until(at, now)));
            log_pexpireat(log, key, at);
        }
    } else if persist && db.persist(key) {
        log_args(log, &[b"PERSIST".as_slice(), key]);
    }
}

/// The expiry option of SET.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Redis's `getExpireMillisecondsOrReply`: the expiry argument as an
/// absolute Unix time in milliseconds, or the error to reply.
fn expire_at_ms(
    arg: &[u8],
    seconds: bool,
    relative: bool,
    now: i64,
    command: &str,
) -> Result<i64, String> {
    let n = parse_i64(arg).ok_or_else(|| NOT_INT.to_string())?;
    let invalid = || format!("ERR invalid expire time in '{command}' command");
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = if relative {
        ms.checked_add(now).ok_or_else(invalid)?
    } else {
        ms
    };
    if at <= 0 {
        return Err(invalid());
    }
    Ok(at)
}

/// The time left until `at_ms` (Unix ms); zero if it has passed, which
/// makes the keyspace delete the key at once.
fn until(at_ms: i64, now: i64) -> Duration {
    Duration::from_millis(at_ms.saturating_sub(now).max(0) as u64)
}

/// Appends `SET key value PXAT at` (or `… KEEPTTL`, or plain) to the log.
fn log_set(log: &mut Log, key: &[u8], value: &[u8], pxat: Option<i64>, keepttl: bool) {
    let Some(log) = log.record() else { return };
    let n = 3 + if pxat.is_some() {
        2
    } else {
        usize::from(keepttl)
    };
    reply::array(log, n);
    reply::bulk(log, b"SET");
    reply::bulk(log, key);
    reply::bulk(log, value);
    if let Some(at) = pxat {
        reply::bulk(log, b"PXAT");
        reply::bulk_int(log, at);
    } else if keepttl {
        reply::bulk(log, b"KEEPTTL");
    }
}

/// Appends `PEXPIREAT key at` to the log.
pub(crate) fn log_pexpireat(log: &mut Log, key: &[u8], at: i64) {
    let Some(log) = log.record() else { return };
    reply::array(log, 3);
    reply::bulk(log, b"PEXPIREAT");
    reply::bulk(log, key);
    reply::bulk_int(log, at);
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`
pub(crate) fn set(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (key, value) = (args[1], args[2]);
    if args.len() == 3 {
        // The common case: no options to parse.
        db.set(
            key,
            Value::Str(value.to_vec()),
            SetOptions::default(),
            false,
        );
        reply::ok(out);
        log_args(log, args);
        return;
    }
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expiry = Expiry::None;
    let mut expire_arg: &[u8] = b"";
    let mut j = 3;
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        // The same compatibility rules as Redis's
        // parseExtendedStringArgumentsOrReply: repeating an option is
        // fine, combining exclusive ones is a syntax error.
        let free_for = |e: Expiry| !keepttl && (expiry == Expiry::None || expiry == e);
        if is(opt, "nx") && !xx {
            nx = true;
        } else if is(opt, "xx") && !nx {
            xx = true;
        } else if is(opt, "get") {
            get = true;
        } else if is(opt, "keepttl") && expiry == Expiry::None {
            keepttl = true;
        } else if let Some(arg) = next
            && let Some(e) = [
                ("ex", Expiry::Ex),
                ("px", Expiry::Px),
                ("exat", Expiry::ExAt),
                ("pxat", Expiry::PxAt),
            ]
            .iter()
            .find(|(name, _)| is(opt, name))
            .map(|&(_, e)| e)
            && free_for(e)
        {
            expiry = e;
            expire_arg = arg;
            j += 1;
        } else {
            reply::error(out, SYNTAX);
            return;
        }
        j += 1;
    }
    let now = unix_ms() as i64;
    let at = match expiry {
        Expiry::None => None,
        e => {
            let seconds = matches!(e, Expiry::Ex | Expiry::ExAt);
            let relative = matches!(e, Expiry::Ex | Expiry::Px);
            match expire_at_ms(expire_arg, seconds, relative, now, "set") {
                Ok(at) => Some(at),
                Err(e) => {
                    reply::error(out, &e);
                    return;
                }
            }
        }
    };
    if get {
        // As Redis does: reply the old value first (no copy of it is
        // kept), and a non-string stops the command before any write.
        let found = db.read(key, |v| match v {
            Value::Str(s) => {
                reply::bulk(out, s);
                true
            }
            _ => {
                reply::error(out, WRONGTYPE);
                false
            }
        });
        match found {
            Some(false) => return,
            Some(true) => {}
            None => reply::null(out),
        }
    }
    let mut options = SetOptions::default();
    if nx {
        options = options.if_absent();
    }
    if xx {
        options = options.if_present();
    }
    if let Some(at) = at {
        options = options.ttl(until(at, now));
    } else if keepttl {
        options = options.keep_ttl();
    }
    let outcome = db.set(key, Value::Str(value.to_vec()), options, false);
    if get {
        // Replied above.
    } else if outcome.written {
        reply::ok(out);
    } else {
        reply::null(out);
    }
    if outcome.written {
        log_set(log, key, value, at, keepttl);
    }
}

/// `SETNX key value`
pub(crate) fn setnx(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let outcome = db.set(
        args[1],
        Value::Str(args[2].to_vec()),
        SetOptions::default().if_absent(),
        false,
    );
    reply::int(out, i64::from(outcome.written));
    if outcome.written {
        log_args(log, args);
    }
}

fn setex_generic(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, seconds: bool) {
    let (key, value) = (args[1], args[3]);
    let now = unix_ms() as i64;
    let name = if seconds { "setex" } else { "psetex" };
    let at = match expire_at_ms(args[2], seconds, true, now, name) {
        Ok(at) => at,
        Err(e) => {
            reply::error(out, &e);
            return;
        }
    };
    db.set(
        key,
        Value::Str(value.to_vec()),
        SetOptions::default().ttl(until(at, now)),
        false,
    );
    reply::ok(out);
    log_set(log, key, value, None, false);
    log_pexpireat(log, key, at);
}

/// `SETEX key seconds value`
pub(crate) fn setex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    setex_generic(db, args, out, log, true);
}

/// `PSETEX key milliseconds value`
pub(crate) fn psetex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    setex_generic(db, args, out, log, false);
}

/// `GETSET key value`: SET that replies the old value (logged as SET).
pub(crate) fn getset(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (key, value) = (args[1], args[2]);
    if db.read(key, |v| matches!(v, Value::Str(_))) == Some(false) {
        reply::error(out, WRONGTYPE);
        return;
    }
    let outcome = db.set(
        key,
        Value::Str(value.to_vec()),
        SetOptions::default(),
        false,
    );
    match &outcome.previous {
        Some(Value::Str(s)) => reply::bulk(out, s),
        _ => reply::null(out),
    }
    log_set(log, key, value, None, false);
}

/// `GETDEL key` (logged as DEL).
pub(crate) fn getdel(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let key = args[1];
    match db.read(key, |v| matches!(v, Value::Str(_))) {
        None => reply::null(out),
        Some(false) => reply::error(out, WRONGTYPE),
        Some(true) => {
            match db.remove(key) {
                Some(Value::Str(s)) => reply::bulk(out, &s),
                _ => reply::null(out),
            }
            log_args(log, &[b"DEL".as_slice(), key]);
        }
    }
}

/// `MGET key [key …]`: a non-string reads as nil, as in Redis.
pub(crate) fn mget(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    reply::array(out, args.len() - 1);
    for key in &args[1..] {
        let found = db.read(key, |v| match v {
            Value::Str(s) => reply::bulk(out, s),
            _ => reply::null(out),
        });
        if found.is_none() {
            reply::null(out);
        }
    }
}

/// `MSET key value [key value …]` (the server splits it per pair; this
/// takes any number of pairs).
pub(crate) fn mset(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    if args.len().is_multiple_of(2) {
        arity_error(out, "mset");
        return;
    }
    for pair in args[1..].chunks_exact(2) {
        db.set(
            pair[0],
            Value::Str(pair[1].to_vec()),
            SetOptions::default(),
            false,
        );
    }
    reply::ok(out);
    log_args(log, args);
}

/// Adds `delta` to the integer stored at `key`, in place.
fn incr_by(db: &mut Db<'_>, key: &[u8], delta: i64) -> Result<i64, &'static str> {
    db.update(key, |slot| {
        let mut digits = [0u8; 20];
        match slot {
            None => {
                let len = reply::format_int(&mut digits, delta);
                *slot = Some(Value::Str(digits[..len].to_vec()));
                Ok(delta)
            }
            Some(Value::Str(s)) => {
                let current = parse_i64(s).ok_or(NOT_INT)?;
                let new = current.checked_add(delta).ok_or(OVERFLOW)?;
                let len = reply::format_int(&mut digits, new);
                s.clear();
                s.extend_from_slice(&digits[..len]);
                Ok(new)
            }
            Some(_) => Err(WRONGTYPE),
        }
    })
}

fn incr_reply(db: &mut Db<'_>, args: &[&[u8]], delta: i64, out: &mut Vec<u8>, log: &mut Log) {
    match incr_by(db, args[1], delta) {
        Ok(n) => {
            reply::int(out, n);
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `INCR key`
pub(crate) fn incr(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    incr_reply(db, args, 1, out, log);
}

/// `DECR key`
pub(crate) fn decr(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    incr_reply(db, args, -1, out, log);
}

/// `INCRBY key increment`
pub(crate) fn incrby(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    match parse_i64(args[2]) {
        Some(n) => incr_reply(db, args, n, out, log),
        None => reply::error(out, NOT_INT),
    }
}

/// `DECRBY key decrement`
pub(crate) fn decrby(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    match parse_i64(args[2]) {
        Some(i64::MIN) => reply::error(out, "ERR decrement would overflow"),
        Some(n) => incr_reply(db, args, -n, out, log),
        None => reply::error(out, NOT_INT),
    }
}

/// `INCRBYFLOAT key increment` (logged as `SET key result KEEPTTL`, so a
/// replay does not depend on float arithmetic).
pub(crate) fn incrbyfloat(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(by) = parse_f64(args[2]) else {
        reply::error(out, NOT_FLOAT);
        return;
    };
    let result = db.update(args[1], |slot| {
        let current = match slot {
            None => 0.0,
            Some(Value::Str(s)) => parse_f64(s).ok_or(NOT_FLOAT)?,
            Some(_) => return Err(WRONGTYPE),
        };
        let new = current + by;
        if !new.is_finite() {
            return Err(NAN_OR_INF);
        }
        let text = format_float(new);
        match slot {
            Some(Value::Str(s)) => {
                s.clear();
                s.extend_from_slice(text.as_bytes());
            }
            _ => *slot = Some(Value::Str(text.as_bytes().to_vec())),
        }
        Ok(text)
    });
    match result {
        Ok(text) => {
            reply::bulk(out, text.as_bytes());
            log_set(log, args[1], text.as_bytes(), None, true);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `APPEND key value`
pub(crate) fn append(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let add = args[2];
    let result = db.update(args[1], |slot| match slot {
        None => {
            *slot = Some(Value::Str(add.to_vec()));
            Ok(add.len())
        }
        Some(Value::Str(s)) => {
            if s.len() + add.len() > MAX_STRING {
                return Err(TOO_BIG);
            }
            s.extend_from_slice(add);
            Ok(s.len())
        }
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(len) => {
            reply::int(out, len as i64);
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `STRLEN key`
pub(crate) fn strlen(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let found = db.read(args[1], |v| match v {
        Value::Str(s) => reply::int(out, s.len() as i64),
        _ => reply::error(out, WRONGTYPE),
    });
    if found.is_none() {
        reply::int(out, 0);
    }
}

/// `GETRANGE key start end`
pub(crate) fn getrange(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let (Some(start), Some(end)) = (parse_i64(args[2]), parse_i64(args[3])) else {
        reply::error(out, NOT_INT);
        return;
    };
    let found = db.read(args[1], |v| {
        let Value::Str(s) = v else {
            reply::error(out, WRONGTYPE);
            return;
        };
        let len = s.len() as i64;
        if start < 0 && end < 0 && start > end {
            reply::bulk(out, b"");
            return;
        }
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        start = start.max(0);
        end = end.max(0);
        if end >= len {
            end = len - 1;
        }
        if start > end || len == 0 {
            reply::bulk(out, b"");
        } else {
            reply::bulk(out, &s[start as usize..=end as usize]);
        }
    });
    if found.is_none() {
        reply::bulk(out, b"");
    }
}

/// `SETRANGE key offset value`
pub(crate) fn setrange(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(offset) = parse_i64(args[2]) else {
        reply::error(out, NOT_INT);
        return;
    };
    if offset < 0 {
        reply::error(out, "ERR offset is out of range");
        return;
    }
    let offset = offset as usize;
    let value = args[3];
    let fits = offset.saturating_add(value.len()) <= MAX_STRING;
    // (new length, whether anything changed)
    let result = db.update(args[1], |slot| match slot {
        None if value.is_empty() => Ok((0, false)),
        None if !fits => Err(TOO_BIG),
        None => {
            let mut s = vec![0u8; offset];
            s.extend_from_slice(value);
            let len = s.len();
            *slot = Some(Value::Str(s));
            Ok((len, true))
        }
        Some(Value::Str(s)) => {
            if value.is_empty() {
                return Ok((s.len(), false));
            }
            if !fits {
                return Err(TOO_BIG);
            }
            let end = offset + value.len();
            if s.len() < end {
                s.resize(end, 0);
            }
            s[offset..end].copy_from_slice(value);
            Ok((s.len(), true))
        }
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok((len, changed)) => {
            reply::int(out, len as i64);
            if changed {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}
