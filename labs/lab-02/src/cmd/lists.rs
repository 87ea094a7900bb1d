//! List commands: LPUSH/RPUSH (and the X forms), LPOP/RPOP, LLEN, LINDEX,
//! LRANGE, LPOS, LSET, LINSERT, LREM, LTRIM.
//!
//! A list is a `VecDeque`, so pushes and pops at either end are O(1) and
//! LINDEX is O(1) too (Redis's quicklist makes that one O(n)). A list
//! left empty is deleted, as Redis never keeps an empty list.

use super::Log;
use std::collections::VecDeque;

use super::parse::{NOT_INT, SYNTAX, is, parse_count, parse_i64};
use super::{Deferred, arity_error, log_args};
use crate::db::Db;
use crate::reply::{self, WRONGTYPE};
use crate::value::{Value, index_range};

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn push_generic(
    db: &mut Db<'_>,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
    end: End,
    only_existing: bool,
) {
    let items = &args[2..];
    let push = |list: &mut VecDeque<Vec<u8>>| {
        for item in items {
            match end {
                End::Left => list.push_front(item.to_vec()),
                End::Right => list.push_back(item.to_vec()),
            }
        }
        list.len()
    };
    let result = db.update(args[1], |slot| match slot {
        None if only_existing => Ok(0),
        None => {
            let mut list = VecDeque::with_capacity(items.len());
            let len = push(&mut list);
            *slot = Some(Value::List(list));
            Ok(len)
        }
        Some(Value::List(list)) => Ok(push(list)),
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(len) => {
            reply::int(out, len as i64);
            if len > 0 {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// `LPUSH key element [element …]`
pub(crate) fn lpush(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    push_generic(db, args, out, log, End::Left, false);
}

/// `RPUSH key element [element …]`
pub(crate) fn rpush(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    push_generic(db, args, out, log, End::Right, false);
}

/// `LPUSHX key element [element …]`: only onto an existing list.
pub(crate) fn lpushx(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    push_generic(db, args, out, log, End::Left, true);
}

/// `RPUSHX key element [element …]`
pub(crate) fn rpushx(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    push_generic(db, args, out, log, End::Right, true);
}

fn pop_generic(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, end: End) {
    if args.len() > 3 {
        arity_error(out, if end == End::Left { "lpop" } else { "rpop" });
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
    let popped = db.update(args[1], |slot| {
        let list = match slot {
            None => {
                match count {
                    Some(_) => reply::null_array(out),
                    None => reply::null(out),
                }
                return 0;
            }
            Some(Value::List(list)) => list,
            Some(_) => {
                reply::error(out, WRONGTYPE);
                return 0;
            }
        };
        let pop = |list: &mut VecDeque<Vec<u8>>| match end {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        };
        let n = match count {
            None => match pop(list) {
                Some(item) => {
                    reply::bulk(out, &item);
                    1
                }
                None => {
                    reply::null(out);
                    0
                }
            },
            Some(count) => {
                let n = count.min(list.len());
                reply::array(out, n);
                for _ in 0..n {
                    if let Some(item) = pop(list) {
                        reply::bulk(out, &item);
                    }
                }
                n
            }
        };
        if list.is_empty() {
            *slot = None;
        }
        n
    });
    if popped > 0 {
        log_args(log, args);
    }
}

/// `LPOP key [count]`
pub(crate) fn lpop(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    pop_generic(db, args, out, log, End::Left);
}

/// `RPOP key [count]`
pub(crate) fn rpop(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    pop_generic(db, args, out, log, End::Right);
}

/// `LLEN key`
pub(crate) fn llen(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let found = db.read(args[1], |v| match v {
        Value::List(l) => reply::int(out, l.len() as i64),
        _ => reply::error(out, WRONGTYPE),
    });
    if found.is_none() {
        reply::int(out, 0);
    }
}

/// A list index (negative counts from the end) as a position, if in range.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { index + len } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// `LINDEX key index`
pub(crate) fn lindex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let Some(index) = parse_i64(args[2]) else {
        reply::error(out, NOT_INT);
        return;
    };
    let found = db.read(args[1], |v| match v {
        Value::List(l) => match position(index, l.len()).and_then(|i| l.get(i)) {
            Some(item) => reply::bulk(out, item),
            None => reply::null(out),
        },
        _ => reply::error(out, WRONGTYPE),
    });
    if found.is_none() {
        reply::null(out);
    }
}

/// `LRANGE key start stop`
pub(crate) fn lrange(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let (Some(start), Some(stop)) = (parse_i64(args[2]), parse_i64(args[3])) else {
        reply::error(out, NOT_INT);
        return;
    };
    let found = db.read(args[1], |v| match v {
        Value::List(l) => match index_range(start, stop, l.len()) {
            Some((first, n)) => {
                reply::array(out, n);
                for item in l.range(first..first + n) {
                    reply::bulk(out, item);
                }
            }
            None => reply::array(out, 0),
        },
        _ => reply::error(out, WRONGTYPE),
    });
    if found.is_none() {
        reply::array(out, 0);
    }
}

/// `LSET key index element`
pub(crate) fn lset(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let result = db.update(args[1], |slot| match slot {
        None => Err("ERR no such key"),
        Some(Value::List(l)) => {
            let index = parse_i64(args[2]).ok_or(NOT_INT)?;
            let i = position(index, l.len()).ok_or("ERR index out of range")?;
            l[i].clear();
            l[i].extend_from_slice(args[3]);
            Ok(())
        }
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(()) => {
            reply::ok(out);
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `LREM key count element`: removes the first `count` matches (from the
/// tail if negative, all if 0).
pub(crate) fn lrem(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(count) = parse_i64(args[2]) else {
        reply::error(out, NOT_INT);
        return;
    };
    let target = args[3];
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::List(l)) => {
            let limit = if count == 0 {
                usize::MAX
            } else {
                usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
            };
            // From the tail: skip the matches that stay at the front.
            let skip = if count < 0 {
                let total = l.iter().filter(|x| x.as_slice() == target).count();
                total.saturating_sub(limit)
            } else {
                0
            };
            let (mut seen, mut removed) = (0usize, 0usize);
            l.retain(|x| {
                if x.as_slice() != target {
                    return true;
                }
                seen += 1;
                if seen > skip && removed < limit {
                    removed += 1;
                    false
                } else {
                    true
                }
            });
            if l.is_empty() {
                *slot = None;
            }
            Ok(removed)
        }
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(removed) => {
            reply::int(out, removed as i64);
            if removed > 0 {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// `LTRIM key start stop`
pub(crate) fn ltrim(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (Some(start), Some(stop)) = (parse_i64(args[2]), parse_i64(args[3])) else {
        reply::error(out, NOT_INT);
        return;
    };
    let result = db.update(args[1], |slot| match slot {
        None => Ok(false),
        Some(Value::List(l)) => {
            let before = l.len();
            match index_range(start, stop, l.len()) {
                Some((first, n)) => {
                    l.truncate(first + n);
                    l.drain(..first);
                }
                None => l.clear(),
            }
            let changed = l.len() != before;
            if l.is_empty() {
                *slot = None;
            }
            Ok(changed)
        }
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(changed) => {
            reply::ok(out);
            if changed {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// `LINSERT key BEFORE|AFTER pivot element`: the new length, 0 for a
/// missing key, -1 when the pivot is not there. Inserts next to the first
/// pivot from the head, so the command replays verbatim.
pub(crate) fn linsert(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let after = if is(args[2], "after") {
        true
    } else if is(args[2], "before") {
        false
    } else {
        reply::error(out, SYNTAX);
        return;
    };
    let (pivot, element) = (args[3], args[4]);
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::List(l)) => match l.iter().position(|x| x.as_slice() == pivot) {
            Some(i) => {
                l.insert(if after { i + 1 } else { i }, element.to_vec());
                Ok(l.len() as i64)
            }
            None => Ok(-1),
        },
        Some(_) => Err(WRONGTYPE),
    });
    match result {
        Ok(n) => {
            reply::int(out, n);
            if n > 0 {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// `LPOS key element [RANK rank] [COUNT num] [MAXLEN len]`: the index of
/// the rank-th match (negative ranks count matches from the tail), or,
/// with COUNT, an array of up to `num` indexes (0: all). MAXLEN stops
/// after that many elements. Options are checked before the key, as in
/// Redis; the rank arithmetic wraps as Redis's C does, so even
/// `RANK -9223372036854775808` answers the same.
pub(crate) fn lpos(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < args.len() {
        let (opt, value) = (args[j], args.get(j + 1).copied());
        let non_negative = |v: &[u8]| parse_i64(v).filter(|n| *n >= 0);
        match value {
            Some(v) if is(opt, "rank") => match parse_i64(v) {
                None => return reply::error(out, NOT_INT),
                Some(0) => {
                    return reply::error(
                        out,
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from \
                         the second ... or use negative to start from the end of the list",
                    );
                }
                Some(n) => rank = n,
            },
            Some(v) if is(opt, "count") => match non_negative(v) {
                Some(n) => count = Some(n),
                None => return reply::error(out, "ERR COUNT can't be negative"),
            },
            Some(v) if is(opt, "maxlen") => match non_negative(v) {
                Some(n) => maxlen = n,
                None => return reply::error(out, "ERR MAXLEN can't be negative"),
            },
            _ => return reply::error(out, SYNTAX),
        }
        j += 2;
    }
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let element = args[2];
    let found = db.read(args[1], |v| {
        let Value::List(l) = v else {
            reply::error(out, WRONGTYPE);
            return;
        };
        let len = l.len();
        let mut array = count.map(|_| Deferred::start(out));
        let mut matches = 0i64;
        for index in 0..len {
            if maxlen != 0 && index as i64 >= maxlen {
                break;
            }
            let at = if from_tail { len - 1 - index } else { index };
            if l[at].as_slice() != element {
                continue;
            }
            matches += 1;
            if matches < rank {
                continue;
            }
            match (&mut array, count) {
                (Some(array), Some(count)) => {
                    reply::int(out, at as i64);
                    array.add();
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                }
                _ => {
                    reply::int(out, at as i64);
                    return;
                }
            }
        }
        match array {
            Some(array) => array.finish(out),
            None => reply::null(out),
        }
    });
    if found.is_none() {
        match count {
            Some(_) => reply::array(out, 0),
            None => reply::null(out),
        }
    }
}
