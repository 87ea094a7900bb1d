//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD,
//! SPOP, SRANDMEMBER, SMOVE, and the set algebra (SINTER, SUNION, SDIFF and
//! their STORE forms, which see several keys at once).
//!
//! A set is an `IndexSet`, so a random member is one index away and SPOP
//! removes it with `swap_remove_index` in O(1). SPOP is logged as SREM of
//! the members it popped: a replay must remove the same ones. A set left
//! empty is deleted.

use super::Log;
use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

use indexmap::IndexSet;

use super::parse::{NOT_INT, SYNTAX, parse_count, parse_i64};
use super::{read_as, reply_count};
use crate::db::{Db, Hasher};
use crate::reply::{self, WRONGTYPE};
use crate::value::Value;

type Members = IndexSet<Vec<u8>, Hasher>;

thread_local! {
    /// xorshift64 state, seeded per thread from std's random hasher keys.
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(0x5eed_u64) | 1);
}

/// A random number in `0..n` (`n > 0`). Not cryptographic: SPOP and
/// SRANDMEMBER need spread, not secrecy.
pub(crate) fn random_below(n: usize) -> usize {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        ((u128::from(x) * n as u128) >> 64) as usize
    })
}

/// `SADD key member [member …]`: the number added.
pub(crate) fn sadd(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let members = &args[2..];
    let result = db.update(args[1], |slot| {
        if slot.is_none() {
            *slot = Some(Value::new_set());
        }
        let Some(Value::Set(s)) = slot else {
            return Err(WRONGTYPE);
        };
        let added = members
            .iter()
            .filter(|m| !s.contains(**m) && s.insert(m.to_vec()))
            .count();
        Ok(added)
    });
    reply_count(result, args, out, log);
}

/// `SREM key member [member …]`: the number removed.
pub(crate) fn srem(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::Set(s)) => {
            let n = args[2..].iter().filter(|m| s.swap_remove(**m)).count();
            if s.is_empty() {
                *slot = None;
            }
            Ok(n)
        }
        Some(_) => Err(WRONGTYPE),
    });
    reply_count(result, args, out, log);
}

/// Runs `f` on the set at `key` for a read; `missing` replies otherwise.
fn read_set(
    db: &mut Db<'_>,
    key: &[u8],
    out: &mut Vec<u8>,
    f: impl FnOnce(&Members, &mut Vec<u8>),
    missing: impl FnOnce(&mut Vec<u8>),
) {
    read_as(
        db,
        key,
        out,
        |v| match v {
            Value::Set(s) => Some(s),
            _ => None,
        },
        f,
        missing,
    )
}

/// `SMEMBERS key`
pub(crate) fn smembers(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_set(
        db,
        args[1],
        out,
        |s, out| reply::bulk_array(out, s.iter().map(|m| m.as_slice())),
        |out| reply::array(out, 0),
    );
}

/// `SISMEMBER key member`
pub(crate) fn sismember(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_set(
        db,
        args[1],
        out,
        |s, out| reply::int(out, i64::from(s.contains(args[2]))),
        |out| reply::int(out, 0),
    );
}

/// `SMISMEMBER key member [member …]`
pub(crate) fn smismember(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let members = &args[2..];
    read_set(
        db,
        args[1],
        out,
        |s, out| {
            reply::array(out, members.len());
            for m in members {
                reply::int(out, i64::from(s.contains(*m)));
            }
        },
        |out| {
            reply::array(out, members.len());
            for _ in members {
                reply::int(out, 0);
            }
        },
    );
}

/// `SCARD key`
pub(crate) fn scard(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_set(
        db,
        args[1],
        out,
        |s, out| reply::int(out, s.len() as i64),
        |out| reply::int(out, 0),
    );
}

/// `SPOP key [count]`, logged as `SREM key <popped…>`.
pub(crate) fn spop(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    if args.len() > 3 {
        reply::error(out, SYNTAX);
        return;
    }
    let count = match args.get(2).map(|a| parse_count(a)) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            reply::error(out, e);
            return;
        }
    };
    let key = args[1];
    let mut rec = log.record();
    db.update(key, |slot| {
        let s = match slot {
            None => {
                match count {
                    Some(_) => reply::array(out, 0),
                    None => reply::null(out),
                }
                return;
            }
            Some(Value::Set(s)) => s,
            Some(_) => {
                reply::error(out, WRONGTYPE);
                return;
            }
        };
        let n = count.unwrap_or(1).min(s.len());
        if count.is_some() {
            reply::array(out, n);
        }
        if n > 0
            && let Some(log) = rec.as_deref_mut()
        {
            reply::array(log, n + 2);
            reply::bulk(log, b"SREM");
            reply::bulk(log, key);
        }
        for _ in 0..n {
            let i = random_below(s.len());
            if let Some(m) = s.swap_remove_index(i) {
                reply::bulk(out, &m);
                if let Some(log) = rec.as_deref_mut() {
                    reply::bulk(log, &m);
                }
            }
        }
        if s.is_empty() {
            *slot = None;
        }
    });
}

/// `SRANDMEMBER key [count]`: distinct members for a positive count,
/// possibly repeated ones for a negative count.
pub(crate) fn srandmember(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    if args.len() > 3 {
        reply::error(out, SYNTAX);
        return;
    }
    let count = match args.get(2).map(|a| parse_i64(a)) {
        None => None,
        Some(Some(n)) if n > -(i64::MAX / 2) => Some(n),
        // Redis 7.0 reads the count within ±LONG_MAX: only i64::MIN is out.
        Some(Some(i64::MIN)) => {
            reply::error(
                out,
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
            return;
        }
        // Redis 7.0 would try to reply this many members; refuse instead.
        Some(Some(_)) => {
            reply::error(out, "ERR value is out of range");
            return;
        }
        Some(None) => {
            reply::error(out, NOT_INT);
            return;
        }
    };
    read_set(
        db,
        args[1],
        out,
        |s, out| match count {
            None => {
                let i = random_below(s.len());
                match s.get_index(i) {
                    Some(m) => reply::bulk(out, m),
                    None => reply::null(out),
                }
            }
            Some(n) if n < 0 => {
                let n = n.unsigned_abs() as usize;
                reply::array(out, n);
                for _ in 0..n {
                    if let Some(m) = s.get_index(random_below(s.len())) {
                        reply::bulk(out, m);
                    }
                }
            }
            Some(n) => {
                let n = (n as usize).min(s.len());
                reply::array(out, n);
                if n == s.len() {
                    for m in s {
                        reply::bulk(out, m);
                    }
                    return;
                }
                // A partial Fisher-Yates shuffle of the indices.
                let mut picks: Vec<usize> = (0..s.len()).collect();
                for i in 0..n {
                    let j = i + random_below(picks.len() - i);
                    picks.swap(i, j);
                    if let Some(m) = s.get_index(picks[i]) {
                        reply::bulk(out, m);
                    }
                }
            }
        },
        |out| match count {
            None => reply::null(out),
            Some(_) => reply::array(out, 0),
        },
    );
}

/// `SMOVE src dst member`: 1 if moved. Routed
/// [`Route::Keys`](super::Route::Keys): the member is never in both sets
/// or in neither for another client.
pub(crate) fn smove(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (src, dst, member) = (args[1], args[2], args[3]);
    let src_kind = db.read(src, |v| matches!(v, Value::Set(_)));
    let Some(src_is_set) = src_kind else {
        reply::int(out, 0);
        return;
    };
    let dst_ok = db.read(dst, |v| matches!(v, Value::Set(_))).unwrap_or(true);
    if !src_is_set || !dst_ok {
        reply::error(out, WRONGTYPE);
        return;
    }
    if src == dst {
        let here = db
            .read(src, |v| matches!(v, Value::Set(s) if s.contains(member)))
            .unwrap_or(false);
        reply::int(out, i64::from(here));
        return;
    }
    let removed = db.update(src, |slot| {
        let Some(Value::Set(s)) = slot else {
            return false;
        };
        let removed = s.swap_remove(member);
        if s.is_empty() {
            *slot = None;
        }
        removed
    });
    if !removed {
        reply::int(out, 0);
        return;
    }
    db.update(dst, |slot| {
        if slot.is_none() {
            *slot = Some(Value::new_set());
        }
        if let Some(Value::Set(s)) = slot {
            s.insert(member.to_vec());
        }
    });
    super::log_args(log, args);
    reply::int(out, 1);
}

/// Which set algebra.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// The sets at `keys` (a missing key is the empty set), or WRONGTYPE.
fn sets_at(db: &Db<'_>, keys: &[&[u8]]) -> Result<Vec<Option<Members>>, &'static str> {
    keys.iter()
        .map(|k| {
            match db.read(k, |v| match v {
                Value::Set(s) => Ok(s.clone()),
                _ => Err(WRONGTYPE),
            }) {
                None => Ok(None),
                Some(r) => r.map(Some),
            }
        })
        .collect()
}

/// SINTER, SUNION, SDIFF of the sets at `keys`, in the order of the first
/// set's members (Redis leaves the order unspecified).
fn algebra(db: &Db<'_>, keys: &[&[u8]], op: Algebra) -> Result<Members, &'static str> {
    let sets = sets_at(db, keys)?;
    let mut result = Members::default();
    match op {
        Algebra::Union => {
            for s in sets.iter().flatten() {
                result.extend(s.iter().cloned());
            }
        }
        Algebra::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(result);
            }
            let sets: Vec<&Members> = sets.iter().flatten().collect();
            if let Some((first, rest)) = sets.split_first() {
                result.extend(
                    first
                        .iter()
                        .filter(|m| rest.iter().all(|s| s.contains(*m)))
                        .cloned(),
                );
            }
        }
        Algebra::Diff => {
            if let Some(Some(first)) = sets.first() {
                result.extend(
                    first
                        .iter()
                        .filter(|m| sets[1..].iter().flatten().all(|s| !s.contains(*m)))
                        .cloned(),
                );
            }
        }
    }
    Ok(result)
}

fn algebra_reply(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, op: Algebra) {
    match algebra(db, &args[1..], op) {
        Err(e) => reply::error(out, e),
        Ok(members) => reply::bulk_array(out, members.iter().map(Vec::as_slice)),
    }
}

/// `…STORE dst key [key …]`: stores the result at `dst` (whatever was
/// there goes; an empty result deletes it) and replies its size. Logged
/// verbatim: replayed in order, the sources hold the same members.
fn algebra_store(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, op: Algebra) {
    let members = match algebra(db, &args[2..], op) {
        Err(e) => {
            reply::error(out, e);
            return;
        }
        Ok(m) => m,
    };
    let n = members.len();
    let changed = if members.is_empty() {
        db.remove(args[1]).is_some()
    } else {
        db.set(
            args[1],
            Value::Set(members),
            lab_01::SetOptions::default(),
            false,
        );
        true
    };
    if changed {
        super::log_args(log, args);
    }
    reply::int(out, n as i64);
}

/// `SINTER key [key …]`.
pub(crate) fn sinter(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    algebra_reply(db, args, out, Algebra::Inter);
}

/// `SUNION key [key …]`.
pub(crate) fn sunion(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    algebra_reply(db, args, out, Algebra::Union);
}

/// `SDIFF key [key …]`.
pub(crate) fn sdiff(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    algebra_reply(db, args, out, Algebra::Diff);
}

/// `SINTERSTORE dst key [key …]`.
pub(crate) fn sinterstore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    algebra_store(db, args, out, log, Algebra::Inter);
}

/// `SUNIONSTORE dst key [key …]`.
pub(crate) fn sunionstore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    algebra_store(db, args, out, log, Algebra::Union);
}

/// `SDIFFSTORE dst key [key …]`.
pub(crate) fn sdiffstore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    algebra_store(db, args, out, log, Algebra::Diff);
}
