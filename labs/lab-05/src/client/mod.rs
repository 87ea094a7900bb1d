//! A resilient RESP2 client: what a client should do with each class of
//! network error under load.
//!
//! [`ResilientClient`] sends over a small pool of multiplexed connections
//! ([`conn`]), round-robin; a dead connection is opened again on its next
//! use. Every attempt has a deadline. A failed request is sent again only
//! if [`policy::may_retry`] says it is safe, after a jittered backoff, and
//! while the retry budget has a token; a circuit breaker ([`breaker`])
//! fails fast while the server keeps failing; a slow read is hedged on a
//! second connection ([`hedge`]). The [`Strategy`] presets switch these on
//! one by one, for the chapter's storm table.

pub mod breaker;
pub mod conn;
pub mod hedge;
pub mod policy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lab_02::resp::Frame;

pub use breaker::{Breaker, BreakerConfig};
pub use conn::{Connection, Connector, TcpConnector};
pub use policy::{Backoff, RetryBudget, is_idempotent, is_read_only, may_retry};

use crate::error::{Class, NetError};
use breaker::Outcome;

/// What a call can end with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The network or the server failed, and no retry was allowed (or the
    /// retries failed too): the last attempt's error.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The circuit breaker is open: nothing was sent.
    #[error("circuit breaker open: not sent")]
    BreakerOpen,
}

impl ClientError {
    /// The class of the network error; `None` for [`ClientError::BreakerOpen`].
    pub fn class(&self) -> Option<Class> {
        match self {
            ClientError::Net(e) => Some(e.class()),
            ClientError::BreakerOpen => None,
        }
    }
}

/// Which requests are sent again, and how soon.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Retry {
    /// Never.
    Never,
    /// The naive retrier (ioredis's default behaviour): every transient
    /// failure, at once, whatever the command and whether or not it had
    /// been sent, up to `max_attempts` attempts in all.
    Naive { max_attempts: usize },
    /// Only what [`may_retry`] allows, after a jittered backoff.
    Safe(Backoff),
}

/// The retry budget's settings (see [`RetryBudget`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BudgetConfig {
    /// Tokens each request adds.
    pub ratio: f64,
    /// Most tokens the bucket holds (and holds at the start).
    pub cap: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.1,
            cap: 10.0,
        }
    }
}

/// The client's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClientConfig {
    /// Connections in the pool.
    pub pool_size: usize,
    /// Each attempt's deadline, from the moment it is queued.
    pub timeout: Duration,
    /// The deadline to open a connection.
    pub connect_timeout: Duration,
    pub retry: Retry,
    pub budget: Option<BudgetConfig>,
    pub breaker: Option<BreakerConfig>,
    /// Hedge a read with no reply after this long.
    pub hedge_after: Option<Duration>,
    /// Seeds the backoff's jitter.
    pub seed: u64,
}

/// The presets the chapter's experiments compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// A deadline, no retries.
    Naive,
    /// The naive retrier: every transient failure again at once, up to 5
    /// attempts, no budget.
    Retry,
    /// Safe retries only, backoff with jitter, a retry budget.
    Budget,
    /// Budget, plus a circuit breaker and hedged reads.
    Full,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Naive,
        Strategy::Retry,
        Strategy::Budget,
        Strategy::Full,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::Retry => "retry",
            Strategy::Budget => "budget",
            Strategy::Full => "full",
        }
    }
}

impl ClientConfig {
    /// The settings of a preset.
    pub fn preset(strategy: Strategy) -> Self {
        let base = Self {
            pool_size: 2,
            timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_millis(250),
            retry: Retry::Never,
            budget: None,
            breaker: None,
            hedge_after: None,
            seed: 0x5eed,
        };
        match strategy {
            Strategy::Naive => base,
            Strategy::Retry => Self {
                retry: Retry::Naive { max_attempts: 5 },
                ..base
            },
            Strategy::Budget => Self {
                retry: Retry::Safe(Backoff::default()),
                budget: Some(BudgetConfig::default()),
                ..base
            },
            Strategy::Full => Self {
                retry: Retry::Safe(Backoff::default()),
                budget: Some(BudgetConfig::default()),
                breaker: Some(BreakerConfig::default()),
                hedge_after: Some(Duration::from_millis(20)),
                ..base
            },
        }
    }
}

/// Counters the experiments read.
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    hedges: AtomicU64,
    budget_refusals: AtomicU64,
    breaker_rejections: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Calls made by the user.
    pub requests: u64,
    /// Attempts that went to a connection (first tries, retries and
    /// hedges; one whose connect failed counts).
    pub attempts: u64,
    /// Retries decided on (sent unless the breaker refused them).
    pub retries: u64,
    /// Hedges sent.
    pub hedges: u64,
    /// Retries and hedges the budget refused.
    pub budget_refusals: u64,
    /// Attempts the open breaker failed fast.
    pub breaker_rejections: u64,
    /// Connections opened or tried.
    pub connects: u64,
    /// Of those, the ones replacing a connection that had died (or failed
    /// to open).
    pub reconnects: u64,
}

impl Stats {
    fn snapshot(&self) -> StatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            hedges: get(&self.hedges),
            budget_refusals: get(&self.budget_refusals),
            breaker_rejections: get(&self.breaker_rejections),
            connects: get(&self.connects),
            reconnects: get(&self.reconnects),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One place in the pool.
#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
    /// Bumped after every connect, so the callers that queued behind a
    /// failed one share its error instead of each trying again.
    generation: AtomicU64,
}

#[derive(Default)]
struct SlotState {
    conn: Option<Connection>,
    failed: Option<NetError>,
    tried: bool,
}

struct Inner<C> {
    config: ClientConfig,
    connector: C,
    slots: Vec<Slot>,
    next: AtomicUsize,
    calls: AtomicU64,
    budget: Option<RetryBudget>,
    breaker: Option<Breaker>,
    stats: Stats,
}

/// The resilient client. Cheap to clone; clones share the pool, the
/// budget, the breaker and the counters.
pub struct ResilientClient<C: Connector = TcpConnector> {
    inner: Arc<Inner<C>>,
}

impl<C: Connector> Clone for ResilientClient<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl ResilientClient<TcpConnector> {
    /// A client of the server at `addr`, over TCP. Connects lazily.
    pub fn new(addr: SocketAddr, config: ClientConfig) -> Self {
        Self::with_connector(TcpConnector::new(addr), config)
    }
}

impl<C: Connector> ResilientClient<C> {
    /// A client over any transport. Connects lazily.
    pub fn with_connector(connector: C, config: ClientConfig) -> Self {
        let pool_size = config.pool_size.max(1);
        let inner = Inner {
            slots: (0..pool_size).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            budget: config.budget.map(|b| RetryBudget::new(b.ratio, b.cap)),
            breaker: config.breaker.map(Breaker::new),
            stats: Stats::default(),
            connector,
            config,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The breaker's state, if there is a breaker.
    pub fn breaker_state(&self) -> Option<breaker::State> {
        self.inner.breaker.as_ref().map(Breaker::state)
    }

    /// The budget's tokens, if there is a budget.
    pub fn budget_tokens(&self) -> Option<f64> {
        self.inner.budget.as_ref().map(RetryBudget::tokens)
    }

    // ANCHOR: retry-loop
    /// Sends one command and returns its reply. An error reply is
    /// `Err(ClientError::Net)` with [`crate::Cause::Reply`].
    pub async fn call(&self, args: &[&[u8]]) -> Result<Frame, ClientError> {
        let inner = &*self.inner;
        bump(&inner.stats.requests);
        if let Some(budget) = &inner.budget {
            budget.deposit();
        }
        let idempotent = is_idempotent(args);
        // A hedge goes to another connection: with one, it would wait
        // behind the slow request it is meant to overtake.
        let hedge_after = inner
            .config
            .hedge_after
            .filter(|_| is_read_only(args) && inner.slots.len() > 1);
        let mut delays = None;
        let mut attempts = 0;
        let mut last: Option<NetError> = None;
        loop {
            attempts += 1;
            let result = match hedge_after {
                Some(after) => self.hedged(args, after).await,
                None => self.attempt(self.pick(), args).await,
            };
            let err = match result {
                Ok(frame) => return Ok(frame),
                Err(ClientError::Net(e)) => e,
                // The breaker opened between tries: the caller learns
                // what failed, if anything did.
                Err(ClientError::BreakerOpen) => {
                    return Err(last.map_or(ClientError::BreakerOpen, ClientError::Net));
                }
            };
            let delay = match inner.config.retry {
                Retry::Never => None,
                Retry::Naive { max_attempts } => (attempts < max_attempts
                    && policy::is_transient(err.class()))
                .then_some(Duration::ZERO),
                Retry::Safe(backoff) if may_retry(&err, idempotent) => delays
                    .get_or_insert_with(|| backoff.delays(self.seed()))
                    .next(),
                Retry::Safe(_) => None,
            };
            let Some(delay) = delay else {
                return Err(ClientError::Net(err));
            };
            if let Some(budget) = &inner.budget
                && !budget.try_withdraw()
            {
                bump(&inner.stats.budget_refusals);
                return Err(ClientError::Net(err));
            }
            bump(&inner.stats.retries);
            tokio::time::sleep(delay).await;
            last = Some(err);
        }
    }
    // ANCHOR_END: retry-loop

    /// A seed for one call's jitter: the configured seed and the call's
    /// number, so a run is reproducible given the seed and the order of
    /// calls.
    fn seed(&self) -> u64 {
        let n = self.inner.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.config.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn pick(&self) -> usize {
        self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.slots.len()
    }

    // ANCHOR: hedged
    /// One try of a read, hedged on the next connection in the pool.
    async fn hedged(&self, args: &[&[u8]], after: Duration) -> Result<Frame, ClientError> {
        let first = self.pick();
        let second = (first + 1) % self.inner.slots.len();
        hedge::race(self.attempt(first, args), after, || {
            if let Some(budget) = &self.inner.budget
                && !budget.try_withdraw()
            {
                bump(&self.inner.stats.budget_refusals);
                return None;
            }
            bump(&self.inner.stats.hedges);
            Some(self.attempt(second, args))
        })
        .await
    }
    // ANCHOR_END: hedged

    /// One attempt on the pool's connection `slot`: past the breaker,
    /// connecting if need be, with the deadline.
    async fn attempt(&self, slot: usize, args: &[&[u8]]) -> Result<Frame, ClientError> {
        let inner = &*self.inner;
        let permit = match &inner.breaker {
            Some(b) => match b.admit() {
                Some(p) => Some(p),
                None => {
                    bump(&inner.stats.breaker_rejections);
                    return Err(ClientError::BreakerOpen);
                }
            },
            None => None,
        };
        bump(&inner.stats.attempts);
        // A connection that dies fails every request on it at once: one
        // failure for the breaker, reported by the first of them.
        let (result, first_failure) = match self.connection(slot).await {
            Ok(conn) => {
                let r = conn.call(args, inner.config.timeout).await;
                let first = matches!(&r, Err(e) if policy::is_transient(e.class()))
                    && conn.first_to_report_failure();
                (r, first)
            }
            // Only the caller that tried to connect reports the failure;
            // those queued behind it share its error, not a failure each.
            Err((e, tried)) => (Err(e), tried),
        };
        if let Some(permit) = permit {
            permit.record(match &result {
                Err(e) if policy::is_transient(e.class()) && first_failure => Outcome::Failure,
                Err(e) if policy::is_transient(e.class()) => Outcome::Abandoned,
                _ => Outcome::Success,
            });
        }
        result.map_err(ClientError::Net)
    }

    /// The live connection in `slot`, opened if it is missing or dead. An
    /// error says whether this caller made the connect attempt (`true`) or
    /// shares the error of one that had just failed.
    async fn connection(&self, slot: usize) -> Result<Connection, (NetError, bool)> {
        let inner = &*self.inner;
        let slot = &inner.slots[slot];
        let seen = slot.generation.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        if let Some(conn) = &state.conn
            && !conn.is_closed()
        {
            return Ok(conn.clone());
        }
        if slot.generation.load(Ordering::Acquire) != seen
            && let Some(e) = &state.failed
        {
            // Someone tried while we queued, and failed: so do we.
            return Err((e.copy(), false));
        }
        bump(&inner.stats.connects);
        if state.tried {
            bump(&inner.stats.reconnects);
        }
        state.tried = true;
        let opened = Connection::open(&inner.connector, inner.config.connect_timeout).await;
        slot.generation.fetch_add(1, Ordering::Release);
        match opened {
            Ok(conn) => {
                state.conn = Some(conn.clone());
                state.failed = None;
                Ok(conn)
            }
            Err(e) => {
                state.conn = None;
                state.failed = Some(e.copy());
                Err((e, true))
            }
        }
    }
}
