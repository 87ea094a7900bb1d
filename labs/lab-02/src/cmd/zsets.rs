//! Sorted-set commands: ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD,
//! ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANGE (by index, BYSCORE, BYLEX,
//! REV, LIMIT, WITHSCORES) and its older forms ZREVRANGE, ZRANGEBYSCORE,
//! ZREVRANGEBYSCORE, ZRANGEBYLEX, ZPOPMIN/ZPOPMAX, and the range removals
//! ZREMRANGEBYSCORE, ZREMRANGEBYRANK, ZREMRANGEBYLEX.
//!
//! Scores are replied as Redis 7.0 writes them (`%.17g`, see
//! [`format_score`]): `0.1` comes back as `0.10000000000000001`.
//!
//! The data structure is [`ZSet`]. Every write here is deterministic given
//! the data, so writes are logged verbatim. A sorted set left empty is
//! deleted.

use super::Log;
use super::parse::{
    MIN_MAX_NOT_FLOAT, MUST_BE_POSITIVE, NOT_FLOAT, NOT_INT, SYNTAX, format_score, is, parse_f64,
    parse_i64, parse_score_bound,
};
use super::{Deferred, log_args, read_as, reply_count};
use crate::db::Db;
use crate::reply::{self, WRONGTYPE};
use crate::value::{Value, ZSet, index_range};

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const BAD_LEX: &str = "ERR min or max not valid string range item";

/// A score as a bulk string, in Redis 7.0's `%.17g` form.
fn bulk_score(out: &mut Vec<u8>, score: f64) {
    reply::bulk(out, format_score(score).as_bytes());
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member …]`
pub(crate) fn zadd(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut at = 2;
    while let Some(opt) = args.get(at) {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if is(opt, "incr") {
            incr = true;
        } else {
            break;
        }
        at += 1;
    }
    let pairs = &args[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        reply::error(out, SYNTAX);
        return;
    }
    if nx && xx {
        reply::error(
            out,
            "ERR XX and NX options at the same time are not compatible",
        );
        return;
    }
    if ((gt || lt) && nx) || (gt && lt) {
        reply::error(
            out,
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        );
        return;
    }
    if incr && pairs.len() > 2 {
        reply::error(
            out,
            "ERR INCR option supports a single increment-element pair",
        );
        return;
    }
    // Parse every score first: the command runs whole or not at all.
    if pairs.chunks_exact(2).any(|p| parse_f64(p[0]).is_none()) {
        reply::error(out, NOT_FLOAT);
        return;
    }
    // (added, updated, processed, last score)
    let result = db.update(args[1], |slot| {
        if slot.is_none() {
            if xx {
                return Ok((0, 0, 0, 0.0));
            }
            *slot = Some(Value::new_zset());
        }
        let Some(Value::ZSet(z)) = slot else {
            return Err(WRONGTYPE);
        };
        let (mut added, mut updated, mut processed) = (0usize, 0usize, 0usize);
        let mut last = 0.0;
        for pair in pairs.chunks_exact(2) {
            let score = parse_f64(pair[0]).unwrap_or(0.0);
            let member = pair[1];
            match z.score(member) {
                Some(current) => {
                    if nx {
                        continue;
                    }
                    let new = if incr { current + score } else { score };
                    if new.is_nan() {
                        if z.is_empty() {
                            *slot = None;
                        }
                        return Err(NAN_SCORE);
                    }
                    if (lt && new >= current) || (gt && new <= current) {
                        continue;
                    }
                    if new != current && z.insert(member, new).is_ok() {
                        updated += 1;
                    }
                    processed += 1;
                    last = new;
                }
                None => {
                    if xx {
                        continue;
                    }
                    if z.insert(member, score).is_ok() {
                        added += 1;
                        processed += 1;
                        last = score;
                    }
                }
            }
        }
        if z.is_empty() {
            *slot = None;
        }
        Ok((added, updated, processed, last))
    });
    match result {
        Ok((added, updated, processed, last)) => {
            if incr {
                if processed > 0 {
                    bulk_score(out, last);
                } else {
                    reply::null(out);
                }
            } else {
                reply::int(out, (if ch { added + updated } else { added }) as i64);
            }
            if added + updated > 0 {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// `ZINCRBY key increment member`
pub(crate) fn zincrby(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let Some(by) = parse_f64(args[2]) else {
        reply::error(out, NOT_FLOAT);
        return;
    };
    let member = args[3];
    let result = db.update(args[1], |slot| {
        if slot.is_none() {
            *slot = Some(Value::new_zset());
        }
        let Some(Value::ZSet(z)) = slot else {
            return Err(WRONGTYPE);
        };
        let new = z.score(member).unwrap_or(0.0) + by;
        let r = match z.insert(member, new) {
            Ok(_) => Ok(new),
            Err(_) => Err(NAN_SCORE),
        };
        if z.is_empty() {
            *slot = None;
        }
        r
    });
    match result {
        Ok(score) => {
            bulk_score(out, score);
            log_args(log, args);
        }
        Err(e) => reply::error(out, e),
    }
}

/// `ZREM key member [member …]`
pub(crate) fn zrem(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::ZSet(z)) => {
            let n = args[2..].iter().filter(|m| z.remove(m).is_some()).count();
            if z.is_empty() {
                *slot = None;
            }
            Ok(n)
        }
        Some(_) => Err(WRONGTYPE),
    });
    reply_count(result, args, out, log);
}

/// Runs `f` on the sorted set at `key` for a read; `missing` replies
/// otherwise.
fn read_zset(
    db: &mut Db<'_>,
    key: &[u8],
    out: &mut Vec<u8>,
    f: impl FnOnce(&ZSet, &mut Vec<u8>),
    missing: impl FnOnce(&mut Vec<u8>),
) {
    read_as(
        db,
        key,
        out,
        |v| match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        },
        f,
        missing,
    )
}

/// `ZSCORE key member`
pub(crate) fn zscore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_zset(
        db,
        args[1],
        out,
        |z, out| match z.score(args[2]) {
            Some(s) => bulk_score(out, s),
            None => reply::null(out),
        },
        reply::null,
    );
}

/// `ZMSCORE key member [member …]`
pub(crate) fn zmscore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let members = &args[2..];
    read_zset(
        db,
        args[1],
        out,
        |z, out| {
            reply::array(out, members.len());
            for m in members {
                match z.score(m) {
                    Some(s) => bulk_score(out, s),
                    None => reply::null(out),
                }
            }
        },
        |out| {
            reply::array(out, members.len());
            for _ in members {
                reply::null(out);
            }
        },
    );
}

/// `ZCARD key`
pub(crate) fn zcard(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_zset(
        db,
        args[1],
        out,
        |z, out| reply::int(out, z.len() as i64),
        |out| reply::int(out, 0),
    );
}

/// `ZRANK key member` (O(n), see [`ZSet::rank`]).
pub(crate) fn zrank(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_zset(
        db,
        args[1],
        out,
        |z, out| match z.rank(args[2]) {
            Some(r) => reply::int(out, r as i64),
            None => reply::null(out),
        },
        reply::null,
    );
}

/// `ZREVRANK key member`
pub(crate) fn zrevrank(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    read_zset(
        db,
        args[1],
        out,
        |z, out| match z.rev_rank(args[2]) {
            Some(r) => reply::int(out, r as i64),
            None => reply::null(out),
        },
        reply::null,
    );
}

/// `ZCOUNT key min max`
pub(crate) fn zcount(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let (Some(min), Some(max)) = (parse_score_bound(args[2]), parse_score_bound(args[3])) else {
        reply::error(out, MIN_MAX_NOT_FLOAT);
        return;
    };
    read_zset(
        db,
        args[1],
        out,
        |z, out| reply::int(out, z.count_by_score(min, max) as i64),
        |out| reply::int(out, 0),
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// One end of a lexicographic range: `-`, `+`, `[member`, `(member`.
#[derive(Clone, Copy)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex(s: &[u8]) -> Option<Lex<'_>> {
    match s {
        b"-" => Some(Lex::Min),
        b"+" => Some(Lex::Max),
        [b'[', rest @ ..] => Some(Lex::Incl(rest)),
        [b'(', rest @ ..] => Some(Lex::Excl(rest)),
        _ => None,
    }
}

fn lex_in_range(m: &[u8], min: Lex<'_>, max: Lex<'_>) -> bool {
    let above = match min {
        Lex::Min => true,
        Lex::Max => false,
        Lex::Incl(x) => m >= x,
        Lex::Excl(x) => m > x,
    };
    let below = match max {
        Lex::Max => true,
        Lex::Min => false,
        Lex::Incl(x) => m <= x,
        Lex::Excl(x) => m < x,
    };
    above && below
}

/// Writes one element of a range reply.
fn emit(out: &mut Vec<u8>, member: &[u8], score: f64, withscores: bool) {
    reply::bulk(out, member);
    if withscores {
        bulk_score(out, score);
    }
}

/// Writes the elements of `items` after skipping `offset` and keeping at
/// most `limit` (negative: no limit), as an array with a deferred header.
fn emit_limited<'a>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = (&'a [u8], f64)>,
    offset: i64,
    limit: i64,
    withscores: bool,
) {
    let mut array = Deferred::start(out);
    if offset >= 0 {
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (m, s) in items.skip(skip).take(take) {
            emit(out, m, s, withscores);
            array.add();
            if withscores {
                array.add();
            }
        }
    }
    array.finish(out);
}

/// The shared body of ZRANGE, ZREVRANGE, ZRANGEBYSCORE and
/// ZREVRANGEBYSCORE, following Redis's zrangeGenericCommand: options
/// first, then the range, then the key.
fn zrange_generic(
    db: &mut Db<'_>,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    mut range_type: RangeType,
    fixed_reverse: Option<bool>,
) {
    let mut reverse = fixed_reverse;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = 4;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = args[j];
        if is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            let (Some(o), Some(l)) = (parse_i64(args[j + 1]), parse_i64(args[j + 2])) else {
                reply::error(out, NOT_INT);
                return;
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if reverse.is_none() && is(opt, "rev") {
            reverse = Some(true);
        } else if range_type == RangeType::Auto && is(opt, "bylex") {
            range_type = RangeType::Lex;
        } else if range_type == RangeType::Auto && is(opt, "byscore") {
            range_type = RangeType::Score;
        } else {
            reply::error(out, SYNTAX);
            return;
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    if range_type == RangeType::Auto {
        range_type = RangeType::Rank;
    }
    if limit != -1 && range_type == RangeType::Rank {
        reply::error(
            out,
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return;
    }
    if withscores && range_type == RangeType::Lex {
        reply::error(
            out,
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
        return;
    }
    // Reversed score and lex ranges are written max first.
    let (lo, hi) = if reverse && range_type != RangeType::Rank {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let key = args[1];
    let empty = |out: &mut Vec<u8>| reply::array(out, 0);
    match range_type {
        RangeType::Auto | RangeType::Rank => {
            let (Some(start), Some(stop)) = (parse_i64(lo), parse_i64(hi)) else {
                reply::error(out, NOT_INT);
                return;
            };
            read_zset(
                db,
                key,
                out,
                |z, out| {
                    let Some((first, n)) = index_range(start, stop, z.len()) else {
                        reply::array(out, 0);
                        return;
                    };
                    reply::array(out, if withscores { n * 2 } else { n });
                    if reverse {
                        // Reverse ranks first..first+n are these forward ones.
                        let from = z.len() - first - n;
                        for (m, s) in z.range_at(from, n).rev() {
                            emit(out, m, s, withscores);
                        }
                    } else {
                        for (m, s) in z.range_at(first, n) {
                            emit(out, m, s, withscores);
                        }
                    }
                },
                empty,
            );
        }
        RangeType::Score => {
            let (Some(min), Some(max)) = (parse_score_bound(lo), parse_score_bound(hi)) else {
                reply::error(out, MIN_MAX_NOT_FLOAT);
                return;
            };
            read_zset(
                db,
                key,
                out,
                |z, out| {
                    let items = z.range_by_score(min, max);
                    if reverse {
                        emit_limited(out, items.rev(), offset, limit, withscores);
                    } else {
                        emit_limited(out, items, offset, limit, withscores);
                    }
                },
                empty,
            );
        }
        RangeType::Lex => {
            let (Some(min), Some(max)) = (parse_lex(lo), parse_lex(hi)) else {
                reply::error(out, BAD_LEX);
                return;
            };
            read_zset(
                db,
                key,
                out,
                |z, out| {
                    // A linear filter: lex ranges assume equal scores, and
                    // with equal scores the order is the member order.
                    let items = z.iter().filter(|(m, _)| lex_in_range(m, min, max));
                    if reverse {
                        emit_limited(out, items.rev(), offset, limit, false);
                    } else {
                        emit_limited(out, items, offset, limit, false);
                    }
                },
                empty,
            );
        }
    }
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]`
pub(crate) fn zrange(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    zrange_generic(db, args, out, RangeType::Auto, None);
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub(crate) fn zrevrange(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    zrange_generic(db, args, out, RangeType::Rank, Some(true));
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub(crate) fn zrangebyscore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    zrange_generic(db, args, out, RangeType::Score, Some(false));
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub(crate) fn zrevrangebyscore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    zrange_generic(db, args, out, RangeType::Score, Some(true));
}

fn zpop_generic(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log, max: bool) {
    if args.len() > 3 {
        reply::error(out, SYNTAX);
        return;
    }
    let count = match args.get(2) {
        None => 1,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                reply::error(out, MUST_BE_POSITIVE);
                return;
            }
        },
    };
    let popped = db.update(args[1], |slot| match slot {
        Some(Value::ZSet(z)) => {
            let items = if max {
                z.pop_max(count)
            } else {
                z.pop_min(count)
            };
            reply::array(out, items.len() * 2);
            for (m, s) in &items {
                emit(out, m, *s, true);
            }
            if z.is_empty() {
                *slot = None;
            }
            items.len()
        }
        Some(_) => {
            reply::error(out, WRONGTYPE);
            0
        }
        None => {
            reply::array(out, 0);
            0
        }
    });
    if popped > 0 {
        log_args(log, args);
    }
}

/// `ZPOPMIN key [count]`: member, score, … (lowest first).
pub(crate) fn zpopmin(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    zpop_generic(db, args, out, log, false);
}

/// `ZPOPMAX key [count]`: member, score, … (highest first).
pub(crate) fn zpopmax(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    zpop_generic(db, args, out, log, true);
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub(crate) fn zrangebylex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    zrange_generic(db, args, out, RangeType::Lex, Some(false));
}

/// `ZLEXCOUNT key min max`
pub(crate) fn zlexcount(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, _log: &mut Log) {
    let (Some(min), Some(max)) = (parse_lex(args[2]), parse_lex(args[3])) else {
        reply::error(out, BAD_LEX);
        return;
    };
    read_zset(
        db,
        args[1],
        out,
        |z, out| {
            let n = z.iter().filter(|(m, _)| lex_in_range(m, min, max)).count();
            reply::int(out, n as i64);
        },
        |out| reply::int(out, 0),
    );
}

/// The shared end of the ZREMRANGEBY* commands, once the range has
/// parsed: `pick` names the members to remove; the reply is how many
/// went, the log the command verbatim (a range of the same data removes
/// the same members on replay). An emptied sorted set is deleted.
fn zremrange(
    db: &mut Db<'_>,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
    pick: impl FnOnce(&ZSet) -> Vec<Vec<u8>>,
) {
    let result = db.update(args[1], |slot| match slot {
        None => Ok(0),
        Some(Value::ZSet(z)) => {
            let doomed = pick(z);
            for m in &doomed {
                z.remove(m);
            }
            if z.is_empty() {
                *slot = None;
            }
            Ok(doomed.len())
        }
        Some(_) => Err(WRONGTYPE),
    });
    reply_count(result, args, out, log);
}

/// `ZREMRANGEBYSCORE key min max`
pub(crate) fn zremrangebyscore(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (Some(min), Some(max)) = (parse_score_bound(args[2]), parse_score_bound(args[3])) else {
        reply::error(out, MIN_MAX_NOT_FLOAT);
        return;
    };
    zremrange(db, args, out, log, |z| {
        z.range_by_score(min, max)
            .map(|(m, _)| m.to_vec())
            .collect()
    });
}

/// `ZREMRANGEBYRANK key start stop` (Redis's index rules, as ZRANGE).
pub(crate) fn zremrangebyrank(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (Some(start), Some(stop)) = (parse_i64(args[2]), parse_i64(args[3])) else {
        reply::error(out, NOT_INT);
        return;
    };
    zremrange(db, args, out, log, |z| {
        z.range(start, stop).map(|(m, _)| m.to_vec()).collect()
    });
}

/// `ZREMRANGEBYLEX key min max`: like ZRANGEBYLEX, meant for members of
/// equal score.
pub(crate) fn zremrangebylex(db: &mut Db<'_>, args: &[&[u8]], out: &mut Vec<u8>, log: &mut Log) {
    let (Some(min), Some(max)) = (parse_lex(args[2]), parse_lex(args[3])) else {
        reply::error(out, BAD_LEX);
        return;
    };
    zremrange(db, args, out, log, |z| {
        z.iter()
            .filter(|(m, _)| lex_in_range(m, min, max))
            .map(|(m, _)| m.to_vec())
            .collect()
    });
}
