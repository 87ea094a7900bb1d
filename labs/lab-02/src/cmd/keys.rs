//! Keyspace commands: DEL, EXISTS, TYPE, OBJECT, KEYS, SCAN, DBSIZE,
//! FLUSHDB, RENAME, RENAMENX, COPY, and the TTL family (EXPIRE and friends,
//! TTL, PERSIST).
//!
//! Times are kept by the keyspace as durations on a monotonic clock; the
//! commands convert from and to Unix milliseconds ([`unix_ms`]) at the
//! edge, and log every expiry as an absolute `PEXPIREAT` so a replay does
//! not extend it.

use super::Log;
use std::time::Duration;

use lab_01::{SetOptions, TtlState};

use super::glob::Glob;
use super::parse::{NOT_INT, SYNTAX, is, parse_i64};
use super::strings::log_pexpireat;
use super::{Deferred, error_bytes, log_args};
use crate::db::{Db, unix_ms};
use crate::reply;

/// `DEL key [key …]` and `UNLINK key [key …]`: the number removed. Logs a
/// DEL of just the keys that existed.
pub(crate) fn del(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let mut rec = log.record();
    let mut entry = rec.as_deref().map(|log| Deferred::start(log));
    let mut removed = 0;
    for key in &args[1..] {
        if db.remove(key).is_some() {
            removed += 1;
            if let (Some(log), Some(entry)) = (rec.as_deref_mut(), entry.as_mut()) {
                if entry.count() == 0 {
                    reply::bulk(log, b"DEL");
                    entry.add();
                }
                reply::bulk(log, key);
                entry.add();
            }
        }
    }
    if removed > 0
        && let (Some(log), Some(entry)) = (rec, entry)
    {
        entry.finish(log);
    }
    reply::int(out, removed);
}

/// `EXISTS key [key …]` (a key named twice counts twice) and `TOUCH`.
pub(crate) fn exists(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let n = args[1..].iter().filter(|k| db.contains(k)).count();
    reply::int(out, n as i64);
}

/// `TYPE key`
pub(crate) fn type_(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let name = db.read(args[1], |v| v.type_name()).unwrap_or("none");
    reply::simple(out, name);
}

/// What `OBJECT ENCODING` answers for `v`: the representation lab-02
/// really stores ([`Value`](crate::value::Value)), named in Redis's words
/// where they fit and by the Rust type where none does. Redis switches
/// encodings by size (`int`/`embstr`/`raw`, `listpack`/`quicklist`,
/// `intset`/`listpack`/`hashtable`, `listpack`/`skiplist`); lab-02 keeps
/// one representation per type whatever the size, so the answer depends
/// only on the type:
///
/// - a string is `raw`: bytes in a buffer of their own (a `Vec<u8>`), as
///   Redis's `raw`; there is no `int` or `embstr` form here;
/// - a list is `vecdeque`: a ring buffer, not Redis's quicklist of
///   listpacks;
/// - a hash and a set are `hashtable` (an `IndexMap`/`IndexSet`);
/// - a sorted set is `btree`: a hash table for scores plus a B-tree in
///   (score, member) order, where Redis's `skiplist` encoding pairs a hash
///   table with a skip list.
fn encoding(v: &crate::value::Value) -> &'static str {
    use crate::value::Value;
    match v {
        Value::Str(_) => "raw",
        Value::List(_) => "vecdeque",
        Value::Hash(_) | Value::Set(_) => "hashtable",
        Value::ZSet(_) => "btree",
    }
}

/// `OBJECT ENCODING key` (nil for a missing key; the names are in
/// [`encoding`]) and `OBJECT HELP`. FREQ, IDLETIME and REFCOUNT are not
/// kept here, and answer as unknown subcommands.
pub(crate) fn object(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let Some(spec) = super::lookup(b"object") else {
        reply::error(out, "ERR unknown command 'object'");
        return;
    };
    let Some(sub) = super::server::subcommand(spec, args, out) else {
        return;
    };
    if sub.name == "object|encoding" {
        match db.read(args[2], encoding) {
            Some(name) => reply::bulk(out, name.as_bytes()),
            None => reply::null(out),
        }
        return;
    }
    let help = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "HELP",
        "    Prints this help.",
    ];
    reply::array(out, help.len());
    for line in help {
        reply::simple(out, line);
    }
}

/// `KEYS pattern`
pub(crate) fn keys(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let glob = Glob::new(args[1], false);
    let mut array = Deferred::start(out);
    db.for_each(|k, _| {
        if glob.matches(k) {
            reply::bulk(out, k);
            array.add();
        }
    });
    array.finish(out);
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]` over this shard.
///
/// The cursor is the shard's scan position ([`Db::scan`]'s upper bound):
/// 0 starts a scan, and a returned 0 means it is complete. Like Redis, the
/// MATCH and TYPE filters apply after COUNT keys have been collected, so a
/// step may return fewer keys (even none) without being the last.
pub(crate) fn scan(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let cursor = std::str::from_utf8(args[1])
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok());
    let Some(cursor) = cursor else {
        reply::error(out, "ERR invalid cursor");
        return;
    };
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut j = 2;
    while j < args.len() {
        let Some(&arg) = args.get(j + 1) else {
            reply::error(out, SYNTAX);
            return;
        };
        if is(args[j], "count") {
            match parse_i64(arg) {
                None => {
                    reply::error(out, NOT_INT);
                    return;
                }
                Some(n) if n < 1 => {
                    reply::error(out, SYNTAX);
                    return;
                }
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if is(args[j], "match") {
            pattern = Some(arg);
        } else if is(args[j], "type") {
            type_filter = Some(arg);
        } else {
            reply::error(out, SYNTAX);
            return;
        }
        j += 2;
    }
    let upper = match cursor {
        0 => None,
        c => Some(usize::try_from(c).unwrap_or(usize::MAX)),
    };
    let mut found = Vec::with_capacity(count.min(1024));
    let next = db.scan(upper, count, &mut found);
    if let Some(p) = pattern.filter(|p| *p != b"*") {
        let glob = Glob::new(p, false);
        found.retain(|k| glob.matches(k));
    }
    if let Some(t) = type_filter {
        found.retain(|k| {
            db.read(k, |v| v.type_name().as_bytes().eq_ignore_ascii_case(t))
                .unwrap_or(false)
        });
    }
    reply::array(out, 2);
    reply::bulk_int(out, next as i64);
    reply::bulk_array(out, found.iter().map(|k| k.as_slice()));
}

/// `DBSIZE` of this shard: keys held, including expired keys not yet
/// reclaimed (as Redis counts them).
pub(crate) fn dbsize(db: &mut Db<'_>, _args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    reply::int(out, db.len() as i64);
}

/// `FLUSHDB [ASYNC|SYNC]` and `FLUSHALL [ASYNC|SYNC]` of this shard.
/// Logged (as the bare command) only if the shard held keys.
pub(crate) fn flushdb(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    if args.len() > 2 || (args.len() == 2 && !is(args[1], "async") && !is(args[1], "sync")) {
        reply::error(out, SYNTAX);
        return;
    }
    if db.is_empty() {
        reply::ok(out);
        return;
    }
    if db.is_whole() {
        db.clear();
        log_args(log, &args[..1]);
    } else {
        // One part of a split keyspace: log the keys it removed (see
        // `Db::is_whole`), in bounded records.
        let mut keys = Vec::with_capacity(db.len());
        db.for_each(|k, _| keys.push(k.clone()));
        db.clear();
        for chunk in keys.chunks(1024) {
            let mut record: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 1);
            record.push(b"DEL");
            record.extend(chunk.iter().map(Vec::as_slice));
            log_args(log, &record);
        }
    }
    reply::ok(out);
}

/// Milliseconds left, rounded up (so `PEXPIRE k 100` then `PTTL k` says
/// 100, as Redis does within the same millisecond).
fn ceil_ms(d: Duration) -> i64 {
    i64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

/// The key's expiry as Unix ms: `Err(-2)` missing, `Err(-1)` persistent.
fn expire_time(db: &Db<'_>, key: &[u8], now: i64) -> Result<i64, i64> {
    match db.ttl(key) {
        TtlState::Missing => Err(-2),
        TtlState::Persistent => Err(-1),
        TtlState::Remaining(d) => Ok(now.saturating_add(ceil_ms(d))),
    }
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT `key n [NX|XX|GT|LT]`, as Redis's
/// expireGenericCommand: a time at or before now deletes the key (logged
/// as DEL), otherwise the expiry is set and logged as PEXPIREAT.
fn expire_generic(
    db: &mut Db<'_>,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
    seconds: bool,
    relative: bool,
) {
    let key = args[1];
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            let mut text = b"ERR Unsupported option ".to_vec();
            text.extend_from_slice(opt);
            error_bytes(out, &text);
            return;
        }
    }
    if nx && (xx || gt || lt) {
        reply::error(
            out,
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
        return;
    }
    if gt && lt {
        reply::error(
            out,
            "ERR GT and LT options at the same time are not compatible",
        );
        return;
    }
    let Some(n) = parse_i64(args[2]) else {
        reply::error(out, NOT_INT);
        return;
    };
    let invalid = |out: &mut Vec<u8>| {
        let name = std::str::from_utf8(args[0]).unwrap_or("expire");
        reply::error(
            out,
            &format!(
                "ERR invalid expire time in '{}' command",
                name.to_ascii_lowercase()
            ),
        );
    };
    let now = unix_ms() as i64;
    let mut when = n;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&n) {
            invalid(out);
            return;
        }
        when *= 1000;
    }
    let base = if relative { now } else { 0 };
    let Some(when) = when.checked_add(base) else {
        invalid(out);
        return;
    };
    let current = match expire_time(db, key, now) {
        Err(-2) => {
            reply::int(out, 0);
            return;
        }
        Ok(t) => Some(t),
        Err(_) => None,
    };
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        reply::int(out, 0);
        return;
    }
    if when <= now {
        db.remove(key);
        log_args(log, &[b"DEL".as_slice(), key]);
    } else {
        db.expire(key, Some(Duration::from_millis((when - now) as u64)));
        log_pexpireat(log, key, when);
    }
    reply::int(out, 1);
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`
pub(crate) fn expire(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    expire_generic(db, args, out, log, true, true);
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
pub(crate) fn pexpire(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    expire_generic(db, args, out, log, false, true);
}

/// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`
pub(crate) fn expireat(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    expire_generic(db, args, out, log, true, false);
}

/// `PEXPIREAT key unix-ms [NX|XX|GT|LT]`
pub(crate) fn pexpireat(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    expire_generic(db, args, out, log, false, false);
}

/// `TTL key`: seconds, rounded to nearest; -1 no expiry; -2 no key.
pub(crate) fn ttl(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let n = match db.ttl(args[1]) {
        TtlState::Missing => -2,
        TtlState::Persistent => -1,
        TtlState::Remaining(d) => (ceil_ms(d) + 500) / 1000,
    };
    reply::int(out, n);
}

/// `PTTL key`: milliseconds; -1 no expiry; -2 no key.
pub(crate) fn pttl(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let n = match db.ttl(args[1]) {
        TtlState::Missing => -2,
        TtlState::Persistent => -1,
        TtlState::Remaining(d) => ceil_ms(d),
    };
    reply::int(out, n);
}

/// `EXPIRETIME key`: the expiry as a Unix time in seconds.
pub(crate) fn expiretime(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let n = expire_time(db, args[1], unix_ms() as i64).map_or_else(|e| e, |t| t / 1000);
    reply::int(out, n);
}

/// `PEXPIRETIME key`: the expiry as a Unix time in milliseconds.
pub(crate) fn pexpiretime(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let n = expire_time(db, args[1], unix_ms() as i64).unwrap_or_else(|e| e);
    reply::int(out, n);
}

/// `PERSIST key`: 1 if a TTL was removed.
pub(crate) fn persist(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let removed = db.persist(args[1]);
    reply::int(out, i64::from(removed));
    if removed {
        log_args(log, args);
    }
}

// ANCHOR: rename
/// `RENAME src dst` (`nx`: `RENAMENX`): moves the value and its time to
/// live. The two keys may live in different parts of the keyspace: the
/// command is routed [`Route::Keys`](super::Route::Keys), so both parts
/// are held while it runs, and no client sees the value in both places or
/// in neither.
fn rename_generic(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, nx: bool) {
    let (src, dst) = (args[1], args[2]);
    let ttl = match db.ttl(src) {
        TtlState::Missing => {
            reply::error(out, "ERR no such key");
            return;
        }
        TtlState::Persistent => None,
        TtlState::Remaining(d) => Some(d),
    };
    if src == dst {
        if nx {
            reply::int(out, 0);
        } else {
            reply::ok(out);
        }
        return;
    }
    if nx && db.contains(dst) {
        reply::int(out, 0);
        return;
    }
    let Some(value) = db.remove(src) else {
        reply::error(out, "ERR no such key");
        return;
    };
    let options = match ttl {
        Some(d) => SetOptions::default().ttl(d),
        None => SetOptions::default(),
    };
    db.set(dst, value, options, false);
    log_args(log, args);
    if nx {
        reply::int(out, 1);
    } else {
        reply::ok(out);
    }
}
// ANCHOR_END: rename

/// `RENAME src dst`.
pub(crate) fn rename(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    rename_generic(db, args, out, log, false);
}

/// `RENAMENX src dst`: 1 if renamed, 0 if `dst` exists.
pub(crate) fn renamenx(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    rename_generic(db, args, out, log, true);
}

/// `COPY src dst [DB n] [REPLACE]`: 1 if copied (value and time to
/// live), 0 if `src` is missing or `dst` exists without REPLACE. This
/// server has one database: `DB 0` is accepted, any other is out of
/// range.
pub(crate) fn copy(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (src, dst) = (args[1], args[2]);
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is(args[j], "replace") {
            replace = true;
            j += 1;
        } else if is(args[j], "db") && j + 1 < args.len() {
            match parse_i64(args[j + 1]) {
                None => {
                    reply::error(out, NOT_INT);
                    return;
                }
                Some(0) => {}
                Some(_) => {
                    reply::error(out, "ERR DB index is out of range");
                    return;
                }
            }
            j += 2;
        } else {
            reply::error(out, SYNTAX);
            return;
        }
    }
    if src == dst {
        reply::error(out, "ERR source and destination objects are the same");
        return;
    }
    let ttl = match db.ttl(src) {
        TtlState::Missing => {
            reply::int(out, 0);
            return;
        }
        TtlState::Persistent => None,
        TtlState::Remaining(d) => Some(d),
    };
    if !replace && db.contains(dst) {
        reply::int(out, 0);
        return;
    }
    let Some(value) = db.read(src, Clone::clone) else {
        reply::int(out, 0);
        return;
    };
    let options = match ttl {
        Some(d) => SetOptions::default().ttl(d),
        None => SetOptions::default(),
    };
    db.set(dst, value, options, false);
    log_args(log, args);
    reply::int(out, 1);
}
