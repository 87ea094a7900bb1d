//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD,
//! SPOP, SRANDMEMBER.
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
