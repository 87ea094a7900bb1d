//! Hash commands: HSET/HMSET/HSETNX, HGET/HMGET/HGETALL/HKEYS/HVALS,
//! HLEN, HEXISTS, HSTRLEN, HDEL, HINCRBY, HINCRBYFLOAT.
//!
//! A hash is an `IndexMap`; HDEL uses `swap_remove` (O(1)), so field
//! order is not insertion order after a delete, which Redis does not
//! promise either. A hash left empty is deleted.

use super::Log;
use indexmap::IndexMap;

use super::parse::{NAN_OR_INF, NOT_FLOAT, NOT_INT, OVERFLOW, format_float, parse_f64, parse_i64};
use super::{arity_error, log_args, read_as, reply_count};
use crate::db::{Db, Hasher};
use crate::reply::{self, WRONGTYPE};
use crate::value::Value;

type Fields = IndexMap<Vec<u8>, Vec<u8>, Hasher>;

/// Sets `field` to `value`, reusing the old value's buffer; true if new.
fn put(h: &mut Fields, field: &[u8], value: &[u8]) -> bool {
    match h.get_mut(field) {
        Some(old) => {
            old.clear();
            old.extend_from_slice(value);
            false
        }
        None => {
            h.insert(field.to_vec(), value.to_vec());
            true
        }
    }
}

/// Runs `f` on the hash at `key`, creating it if missing; an empty result
/// is deleted.
fn with_hash<R>(
    db: &mut Db<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Fields) -> Result<R, &'static str>,
) -> Result<R, &'static str> {
    db.update(key, |slot| {
        if slot.is_none() {
            *slot = Some(Value::new_hash());
        }
        let Some(Value::Hash(h)) = slot else {
            return Err(WRONGTYPE);
        };
        let r = f(h);
        if h.is_empty() {
            *slot = None;
        }
        r
    })
}

fn hset_generic(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, hmset: bool) {
    if !args.len().is_multiple_of(2) {
        arity_error(out, if hmset { "hmset" } else { "hset" });
        return;
    }
    let result = with_hash(db, args[1], |h| {
        Ok(args[2..]
            .chunks_exact(2)
            .filter(|pair| put(h, pair[0], pair[1]))
            .count())
    });
    match result {
        Ok(added) => {
            if hmset {
                reply::ok(out);
            } else {
                reply::int(out, added as i64);
            }
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `HSET key field value [field value …]`: the number of new fields.
pub(crate) fn hset(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    hset_generic(db, args, out, log, false);
}

/// `HMSET key field value [field value …]`: `+OK`.
pub(crate) fn hmset(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    hset_generic(db, args, out, log, true);
}

/// `HSETNX key field value`
pub(crate) fn hsetnx(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let result = with_hash(db, args[1], |h| {
        if h.contains_key(args[2]) {
            Ok(false)
        } else {
            h.insert(args[2].to_vec(), args[3].to_vec());
            Ok(true)
        }
    });
    match result {
        Ok(set) => {
            reply::int(out, i64::from(set));
            if set {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// Runs `f` on the hash at `key` for a read; `missing` replies otherwise.
fn read_hash(
    db: &mut Db<'_>,
    key: &[u8],
    out: &mut Vec<u8>,
    f: impl FnOnce(&Fields, &mut Vec<u8>),
    missing: impl FnOnce(&mut Vec<u8>),
) {
    read_as(
        db,
        key,
        out,
        |v| match v {
            Value::Hash(h) => Some(h),
            _ => None,
        },
        f,
        missing,
    )
}

/// `HGET key field`
pub(crate) fn hget(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| match h.get(args[2]) {
            Some(v) => reply::bulk(out, v),
            None => reply::null(out),
        },
        reply::null,
    );
}

/// `HMGET key field [field …]`
pub(crate) fn hmget(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let fields = &args[2..];
    read_hash(
        db,
        args[1],
        out,
        |h, out| {
            reply::array(out, fields.len());
            for f in fields {
                match h.get(*f) {
                    Some(v) => reply::bulk(out, v),
                    None => reply::null(out),
                }
            }
        },
        |out| {
            reply::array(out, fields.len());
            for _ in fields {
                reply::null(out);
            }
        },
    );
}

/// `HGETALL key`: field, value, field, value, …
pub(crate) fn hgetall(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| {
            reply::array(out, h.len() * 2);
            for (k, v) in h {
                reply::bulk(out, k);
                reply::bulk(out, v);
            }
        },
        |out| reply::array(out, 0),
    );
}

/// `HKEYS key`
pub(crate) fn hkeys(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| reply::bulk_array(out, h.keys().map(|k| k.as_slice())),
        |out| reply::array(out, 0),
    );
}

/// `HVALS key`
pub(crate) fn hvals(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| reply::bulk_array(out, h.values().map(|v| v.as_slice())),
        |out| reply::array(out, 0),
    );
}

/// `HLEN key`
pub(crate) fn hlen(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| reply::int(out, h.len() as i64),
        |out| reply::int(out, 0),
    );
}

/// `HEXISTS key field`
pub(crate) fn hexists(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| reply::int(out, i64::from(h.contains_key(args[2]))),
        |out| reply::int(out, 0),
    );
}

/// `HSTRLEN key field`
pub(crate) fn hstrlen(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_hash(
        db,
        args[1],
        out,
        |h, out| reply::int(out, h.get(args[2]).map_or(0, |v| v.len() as i64)),
        |out| reply::int(out, 0),
    );
}

/// `HDEL key field [field …]`
pub(crate) fn hdel(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::Hash(h)) => {
            let n = args[2..]
                .iter()
                .filter(|f| h.swap_remove(**f).is_some())
                .count();
            if h.is_empty() {
                *slot = None;
            }
            Ok(n)
        }
        Some(_) => Err(WRONGTYPE),
    });
    reply_count(result, args, out, log);
}

/// `HINCRBY key field increment`
pub(crate) fn hincrby(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(by) = parse_i64(args[3]) else {
        reply::error(out, NOT_INT);
        return;
    };
    let result = with_hash(db, args[1], |h| {
        let current = match h.get(args[2]) {
            Some(v) => parse_i64(v).ok_or("ERR hash value is not an integer")?,
            None => 0,
        };
        let new = current.checked_add(by).ok_or(OVERFLOW)?;
        let mut digits = [0u8; 20];
        let len = reply::format_int(&mut digits, new);
        put(h, args[2], &digits[..len]);
        Ok(new)
    });
    match result {
        Ok(n) => {
            reply::int(out, n);
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `HINCRBYFLOAT key field increment` (logged as HSET of the result).
pub(crate) fn hincrbyfloat(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(by) = parse_f64(args[3]) else {
        reply::error(out, NOT_FLOAT);
        return;
    };
    if by.is_infinite() {
        // Redis refuses an infinite increment before it looks at the key.
        reply::error(out, "ERR value is NaN or Infinity");
        return;
    }
    let result = with_hash(db, args[1], |h| {
        let current = match h.get(args[2]) {
            Some(v) => parse_f64(v).ok_or("ERR hash value is not a float")?,
            None => 0.0,
        };
        let new = current + by;
        if !new.is_finite() {
            return Err(NAN_OR_INF);
        }
        let text = format_float(new);
        put(h, args[2], text.as_bytes());
        Ok(text)
    });
    match result {
        Ok(text) => {
            reply::bulk(out, text.as_bytes());
            log_args(
                log,
                &[b"HSET".as_slice(), args[1], args[2], text.as_bytes()],
            );
        }
        Err(e) => reply::error(out, e),
    }
}
