//! What is safe to send again, and when.
//!
//! A request may be sent again when the failure was transient (the next
//! try may well work) and sending it twice cannot do harm: either the
//! command is idempotent, or its bytes never left ([`NetError::sent`] is
//! false, so the server cannot have run it). When: after an exponential
//! backoff with full jitter ([`Backoff`]), and only while the retry budget
//! ([`RetryBudget`]) has a token, so that retries stay a bounded fraction
//! of the traffic however badly things fail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use kit::rng::Rng;

use crate::error::{Class, NetError};

/// Commands that only read. Sending one twice is harmless, and a copy may
/// go to another connection (a hedge).
const READ_ONLY: &[&str] = &[
    "GET",
    "MGET",
    "EXISTS",
    "TTL",
    "PTTL",
    "STRLEN",
    "TYPE",
    "GETRANGE",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "HGET",
    "HGETALL",
    "HMGET",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "SMEMBERS",
    "SISMEMBER",
    "SCARD",
    "ZSCORE",
    "ZRANGE",
    "ZCARD",
    "ZRANK",
    "ZCOUNT",
    "DBSIZE",
    "PING",
    "ECHO",
    "KEYS",
    "SCAN",
];

/// Commands that write, but leave the same *state* when run twice in a
/// row as when run once. Two caveats the caller owns: the second run's
/// reply may differ (a retried DEL that had worked answers 0, a retried
/// SADD counts no new members), and a retry that lands after another
/// client's write undoes it (a late SET overwrites a newer value), and a
/// relative expiry (EXPIRE, SET … EX) retried late ends later by the delay.
/// `SET` with `NX`, `XX` or `GET` is excluded below: its reply is the
/// result the caller acts on.
const IDEMPOTENT_WRITES: &[&str] = &[
    "SET",
    "MSET",
    "DEL",
    "UNLINK",
    "HSET",
    "HMSET",
    "HDEL",
    "SADD",
    "SREM",
    "ZADD",
    "ZREM",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "PERSIST",
];

fn name_is(args: &[&[u8]], names: &[&str]) -> bool {
    args.first().is_some_and(|name| {
        names
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
    })
}

/// Whether the command only reads.
pub fn is_read_only(args: &[&[u8]]) -> bool {
    name_is(args, READ_ONLY)
}

/// Whether running the command twice leaves the same state as running it
/// once. `SET` with `NX`, `XX` or `GET` is not: its reply reports what was
/// there before, so a second run reports the first run's write. `ZADD`
/// with `INCR` is an increment.
pub fn is_idempotent(args: &[&[u8]]) -> bool {
    if is_read_only(args) {
        return true;
    }
    if !name_is(args, IDEMPOTENT_WRITES) {
        return false;
    }
    let has_option = |options: &[&str]| {
        args.iter()
            .skip(1)
            .any(|a| options.iter().any(|o| a.eq_ignore_ascii_case(o.as_bytes())))
    };
    if name_is(args, &["SET"]) {
        // The options come after the key and the value.
        let options = args.get(3..).unwrap_or(&[]);
        return !options.iter().any(|a| {
            ["NX", "XX", "GET"]
                .iter()
                .any(|o| a.eq_ignore_ascii_case(o.as_bytes()))
        });
    }
    if name_is(args, &["ZADD"]) {
        return !has_option(&["INCR"]);
    }
    true
}

/// Whether a failure is transient: the same request may work on the next
/// try (a new connection, a moment later). A protocol error or an error
/// reply will be the same next time.
pub fn is_transient(class: Class) -> bool {
    matches!(
        class,
        Class::Timeout
            | Class::Refused
            | Class::ConnectFailed
            | Class::Reset
            | Class::BrokenPipe
            | Class::UnexpectedEof
            | Class::Closed
            | Class::ResourceExhausted
    )
}

// ANCHOR: may-retry
/// Whether a request that failed with `err` may be sent again: the failure
/// is transient, and either the command is idempotent or the server cannot
/// have seen it.
pub fn may_retry(err: &NetError, idempotent: bool) -> bool {
    is_transient(err.class()) && (idempotent || !err.sent)
}
// ANCHOR_END: may-retry

/// Exponential backoff with full jitter: the `n`th retry waits a uniform
/// random time in `[0, min(max, min × factor^(n-1)))`.
///
/// The ceilings come from backon's [`ExponentialBuilder`]. backon's own
/// jitter (seedable) *adds* up to one more ceiling, `[d, 2d)`; full jitter
/// (`[0, d)`, the AWS Architecture Blog's recommendation) spreads a storm
/// of retries over the whole interval, so it is drawn here, from a
/// [`kit::rng::Rng`]: the same seed, the same delays.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Backoff {
    /// The first ceiling.
    pub min: Duration,
    /// The largest ceiling.
    pub max: Duration,
    pub factor: f32,
    /// Attempts in all, the first one included (so `max_attempts - 1`
    /// retries at most).
    pub max_attempts: usize,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(5),
            max: Duration::from_millis(200),
            factor: 2.0,
            max_attempts: 3,
        }
    }
}

impl Backoff {
    /// The delays before each retry, jittered from `seed`.
    pub fn delays(&self, seed: u64) -> Delays {
        Delays {
            ceilings: self.ceilings(),
            rng: Rng::new(seed),
        }
    }

    /// The ceilings, without jitter (backon's schedule).
    pub fn ceilings(&self) -> ExponentialBackoff {
        ExponentialBuilder::new()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(self.factor)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .build()
    }
}

/// The jittered delays of one request's retries; `None` when no retry is
/// left.
#[derive(Debug)]
pub struct Delays {
    ceilings: ExponentialBackoff,
    rng: Rng,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let ceiling = self.ceilings.next()?;
        Some(ceiling.mul_f64(self.rng.next_f64()))
    }
}

// ANCHOR: budget
/// A retry budget (Finagle's `RetryBudget`, gRPC's retry throttling): a
/// token bucket that each request fills by `ratio` tokens and each retry
/// or hedge empties by one, capped at `cap`. Over a run, retries ≤ ratio ×
/// requests + cap, whatever fails: retries cannot multiply a storm.
///
/// Tokens are kept in thousandths, in one atomic, so thousands of tasks
/// share the bucket without a lock.
#[derive(Debug)]
pub struct RetryBudget {
    milli: AtomicU64,
    deposit: u64,
    cap: u64,
}

const MILLI: u64 = 1000;

impl RetryBudget {
    /// A full bucket.
    pub fn new(ratio: f64, cap: f64) -> Self {
        let cap = (cap * MILLI as f64).round() as u64;
        Self {
            milli: AtomicU64::new(cap),
            deposit: (ratio * MILLI as f64).round() as u64,
            cap,
        }
    }

    /// A request was made: add `ratio` tokens, up to the cap.
    pub fn deposit(&self) {
        let _ = self
            .milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some((t + self.deposit).min(self.cap))
            });
    }

    /// Takes one token for a retry or a hedge; `false` if there is none.
    pub fn try_withdraw(&self) -> bool {
        self.milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(MILLI)
            })
            .is_ok()
    }

    /// The tokens in the bucket now.
    pub fn tokens(&self) -> f64 {
        self.milli.load(Ordering::Relaxed) as f64 / MILLI as f64
    }
}
// ANCHOR_END: budget

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Cause, Op};
    use std::io;

    fn cmd(line: &str) -> Vec<&[u8]> {
        line.split_whitespace().map(str::as_bytes).collect()
    }

    #[test]
    fn read_only_and_idempotent_commands() {
        for c in [
            "GET k",
            "get k",
            "MGET a b",
            "HGETALL h",
            "ZRANGE z 0 -1",
            "PING",
        ] {
            assert!(is_read_only(&cmd(c)), "{c}");
            assert!(is_idempotent(&cmd(c)), "{c}");
        }
        for c in [
            "SET k v",
            "SET k v EX 10",
            "DEL k",
            "HSET h f v",
            "SADD s m",
            "ZADD z 1 m",
            "EXPIRE k 5",
            "PERSIST k",
        ] {
            assert!(!is_read_only(&cmd(c)), "{c}");
            assert!(is_idempotent(&cmd(c)), "{c}");
        }
        for c in [
            "INCR k",
            "INCRBY k 2",
            "DECR k",
            "APPEND k v",
            "LPUSH l v",
            "RPUSH l v",
            "LPOP l",
            "RPOP l",
            "SPOP s",
            "HINCRBY h f 1",
            "GETDEL k",
            "SET k v NX",
            "SET k v xx",
            "SET k v GET",
            "ZADD z INCR 1 m",
            "",
        ] {
            assert!(!is_read_only(&cmd(c)), "{c}");
            assert!(!is_idempotent(&cmd(c)), "{c}");
        }
        // A key or value named like an option is not the option.
        assert!(is_idempotent(&cmd("SET NX GET")));
    }

    #[test]
    fn may_retry_needs_a_transient_class_and_idempotence_or_unsent() {
        let reset = |sent| {
            NetError::new(
                Op::Receive,
                None,
                sent,
                io::Error::from(io::ErrorKind::ConnectionReset),
            )
        };
        assert!(may_retry(&reset(true), true));
        assert!(!may_retry(&reset(true), false));
        assert!(may_retry(&reset(false), false));
        let refused = NetError::new(
            Op::Connect,
            None,
            false,
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert!(may_retry(&refused, false));
        let deadline = NetError::new(
            Op::Receive,
            None,
            true,
            Cause::Deadline(Duration::from_millis(5)),
        );
        assert!(may_retry(&deadline, true) && !may_retry(&deadline, false));
        let reply = NetError::new(Op::Receive, None, true, Cause::Reply("ERR no".into()));
        assert!(!may_retry(&reply, true));
        let protocol = NetError::new(
            Op::Receive,
            None,
            false,
            lab_02::resp::ProtocolError::InvalidInteger,
        );
        assert!(!may_retry(&protocol, true));
    }

    #[test]
    fn backoff_ceilings_grow_to_the_max_and_jitter_stays_below_them() {
        let b = Backoff {
            min: Duration::from_millis(10),
            max: Duration::from_millis(50),
            factor: 2.0,
            max_attempts: 6,
        };
        let ceilings: Vec<Duration> = b.ceilings().collect();
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        // backon multiplies in f32: 40 ms comes out a nanosecond short.
        let want = ms(&[10, 20, 40, 50, 50]);
        assert_eq!(ceilings.len(), want.len());
        for (c, w) in ceilings.iter().zip(&want) {
            assert!(c.abs_diff(*w) < Duration::from_micros(1), "{c:?} ≈ {w:?}");
        }
        let delays: Vec<Duration> = b.delays(7).collect();
        assert_eq!(delays.len(), 5);
        for (d, c) in delays.iter().zip(&ceilings) {
            assert!(d < c, "{d:?} < {c:?}");
        }
        // Deterministic for a seed, different for another.
        assert_eq!(delays, b.delays(7).collect::<Vec<_>>());
        assert_ne!(delays, b.delays(8).collect::<Vec<_>>());
        // Full jitter: over many draws, both halves of [0, ceiling) are hit.
        let firsts: Vec<Duration> = (0..200).filter_map(|s| b.delays(s).next()).collect();
        assert!(firsts.iter().any(|d| *d < Duration::from_millis(3)));
        assert!(firsts.iter().any(|d| *d > Duration::from_millis(7)));
    }

    #[test]
    fn budget_refuses_when_empty_and_refills_with_requests() {
        let budget = RetryBudget::new(0.1, 2.0);
        assert!(budget.try_withdraw() && budget.try_withdraw());
        assert!(!budget.try_withdraw());
        for _ in 0..9 {
            budget.deposit();
        }
        assert!(!budget.try_withdraw(), "0.9 tokens is not a retry");
        budget.deposit();
        assert!(budget.try_withdraw());
        for _ in 0..1000 {
            budget.deposit();
        }
        assert_eq!(budget.tokens(), 2.0, "capped");
    }
}
