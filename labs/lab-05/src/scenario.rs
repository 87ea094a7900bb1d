//! The scenarios: a fault plan for the proxy, one of the client's
//! strategies, open-model load through the proxy to lab-02, and what came
//! of it.
//!
//! The load is open: requests are due at lab-03's schedule's times whatever
//! the server and the client do, each runs as its own task, and latency is
//! measured from when the request was *due*, so time a request spends
//! waiting behind retries, backoff or a dead connection is counted
//! (lab-03's lesson). **Amplification** is what the server saw per request
//! the user made: lab-02's `total_commands_processed` over the run, read on
//! a direct connection, divided by the user's requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use lab_03::schedule::{Poisson, Schedule};
use serde::Serialize;
use tokio::time::Instant;

use crate::client::{ClientConfig, ClientError, ResilientClient, Strategy};
use crate::proxy::{Faults, ProxyHandle};

/// A fault plan: the faults for the whole run, and a window of the run
/// (fractions of its length) when others replace them.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub faults: Faults,
    pub window: Option<Window>,
}

/// Faults that hold from `from` to `to` (fractions of the run).
#[derive(Debug, Clone)]
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub faults: Faults,
}

/// The network every scenario starts from: a 5 ms delay each way (a
/// round trip of a nearby data centre), so requests overlap on a
/// connection as they do in production.
pub const BASE_LATENCY: Duration = Duration::from_millis(5);

fn base() -> Faults {
    Faults {
        latency: BASE_LATENCY,
        ..Faults::default()
    }
}

fn resets(p: f64) -> Faults {
    Faults { reset: p, ..base() }
}

// ANCHOR: scenarios
/// Every scenario, in the chapter's order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "clean",
            about: "no faults: the 5 ms network only",
            faults: base(),
            window: None,
        },
        Scenario {
            name: "resets-0.1",
            about: "0.1% of requests: the proxy resets the connection instead of passing the reply on",
            faults: resets(0.001),
            window: None,
        },
        Scenario {
            name: "resets-1",
            about: "1% of requests reset their connection",
            faults: resets(0.01),
            window: None,
        },
        Scenario {
            name: "resets-5",
            about: "5% of requests reset their connection",
            faults: resets(0.05),
            window: None,
        },
        Scenario {
            name: "blackhole",
            about: "for a fifth of the run, every request is swallowed",
            faults: base(),
            window: Some(Window {
                from: 0.2,
                to: 0.4,
                faults: Faults {
                    blackhole: true,
                    ..base()
                },
            }),
        },
        Scenario {
            name: "latency-spike",
            about: "for a fifth of the run, 150 ms each way: the server still gets each request in time, the reply comes after the client's 250 ms deadline",
            faults: base(),
            window: Some(Window {
                from: 0.2,
                to: 0.4,
                faults: Faults {
                    latency: Duration::from_millis(150),
                    ..base()
                },
            }),
        },
        Scenario {
            name: "stalls",
            about: "0.1% of replies are held 100 ms more, and what follows them on their connection waits behind them",
            faults: Faults {
                stall: 0.001,
                stall_for: Duration::from_millis(100),
                ..base()
            },
            window: None,
        },
        Scenario {
            name: "jitter",
            about: "every chunk waits up to 40 ms more, at random: both connections slow alike",
            faults: Faults {
                jitter: Duration::from_millis(40),
                ..base()
            },
            window: None,
        },
    ]
}
// ANCHOR_END: scenarios

/// Looks a scenario up by name.
pub fn named(name: &str) -> Result<Scenario> {
    let all = all();
    let names: Vec<&str> = all.iter().map(|s| s.name).collect();
    match all.iter().find(|s| s.name == name) {
        Some(s) => Ok(s.clone()),
        None => bail!("no scenario {name:?}; scenarios: {}", names.join(", ")),
    }
}

/// The load of one run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Load {
    /// Requests per second (Poisson arrivals).
    pub rate: f64,
    pub duration: Duration,
    /// Keys drawn uniformly from this many.
    pub keys: u64,
    /// One in this many requests is an INCR of a key of its own (not
    /// idempotent: the run counts the ones the server ran twice).
    pub incr_every: u64,
    /// One in this many of the rest is a SET, the others GETs.
    pub set_every: u64,
    pub seed: u64,
}

impl Load {
    pub fn new(rate: f64, duration: Duration) -> Self {
        Self {
            rate,
            duration,
            keys: 1_000,
            incr_every: 20,
            set_every: 10,
            seed: 5,
        }
    }
}

/// What a run came to.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub strategy: Strategy,
    /// Requests the user made.
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by class (`breaker-open` for the breaker's).
    pub failed: BTreeMap<String, u64>,
    /// From when each request was due to its outcome, success or failure.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Requests the server executed.
    pub server_requests: u64,
    /// INCRs made, and how many of them the server ran more than once.
    pub incrs: u64,
    pub incrs_twice: u64,
    pub client: crate::client::StatsSnapshot,
}

impl Outcome {
    pub fn success(&self) -> f64 {
        self.ok as f64 / self.requests.max(1) as f64
    }

    pub fn amplification(&self) -> f64 {
        self.server_requests as f64 / self.requests.max(1) as f64
    }

    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Counts the requests the server has executed, on its own connection.
pub trait ServerCount {
    /// Commands executed so far, this connection's own excluded.
    fn commands(&mut self) -> Result<u64>;
    /// Waits until no other client is connected, so the count is final.
    fn settle(&mut self) -> Result<()>;
    /// The integer value of each key (0 for a missing key).
    fn integers(&mut self, keys: &[String]) -> Result<Vec<u64>>;
}

// ANCHOR: server-count
/// The count from lab-02's INFO. Its tokio models add a connection's
/// commands to `total_commands_processed` when the connection closes
/// (Redis adds each at once), so every question is asked on a fresh
/// connection, [`ServerCount::settle`] waits until the load's connections
/// are gone, and the commands of this counter's own closed connections are
/// taken off.
#[derive(Debug)]
pub struct Lab02Count {
    addr: SocketAddr,
    /// Commands sent on connections that are closed now.
    own: u64,
}

impl Lab02Count {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, own: 0 }
    }

    fn field(&mut self, section: &[u8], field: &str) -> Result<u64> {
        let mut c = lab_02::client::Client::connect(self.addr)?;
        let reply = c.cmd(&[b"INFO", section])?;
        drop(c);
        self.own += 1;
        let lab_02::resp::Frame::Bulk(Some(text)) = reply else {
            bail!("INFO answered {reply:?}");
        };
        let text = String::from_utf8_lossy(&text);
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .with_context(|| format!("INFO has no {field}"))?;
        Ok(n.trim().parse::<u64>()?)
    }
}

impl ServerCount for Lab02Count {
    fn commands(&mut self) -> Result<u64> {
        self.settle()?;
        let own_before = self.own;
        let n = self.field(b"stats", "total_commands_processed")?;
        Ok(n.saturating_sub(own_before))
    }

    fn integers(&mut self, keys: &[String]) -> Result<Vec<u64>> {
        let mut c = lab_02::client::Client::connect(self.addr)?;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(chunk.iter().map(|k| k.as_bytes()));
            self.own += 1;
            let reply = c.cmd(&args)?;
            let lab_02::resp::Frame::Array(Some(values)) = reply else {
                bail!("MGET answered {reply:?}");
            };
            for v in values {
                out.push(match v {
                    lab_02::resp::Frame::Bulk(Some(b)) => {
                        String::from_utf8_lossy(&b).parse().unwrap_or(0)
                    }
                    _ => 0,
                });
            }
        }
        Ok(out)
    }

    fn settle(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // 1: the connection asking.
        while self.field(b"clients", "connected_clients")? > 1 {
            if std::time::Instant::now() > deadline {
                bail!("the server still has other clients 10 s after the run");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // lab-02 takes a connection off `connected_clients` a moment before
        // it adds the connection's commands to the total.
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    }
}
// ANCHOR_END: server-count

/// One request of the load.
enum Request {
    Get(String),
    Set(String),
    Incr(String),
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: BTreeMap<String, u64>,
}

// ANCHOR: run
/// Runs `scenario` against the proxy at `proxy` (in front of the server
/// `count` reads) with a fresh client of `strategy`. `tick` is called
/// about once a second with the requests so far.
pub async fn run(
    proxy: &ProxyHandle,
    count: &mut dyn ServerCount,
    scenario: &Scenario,
    strategy: Strategy,
    load: &Load,
    tick: &mut dyn FnMut(u64),
) -> Result<Outcome> {
    proxy.set_faults(scenario.faults.clone());
    let client = ResilientClient::new(proxy.addr(), ClientConfig::preset(strategy));
    let before = count.commands()?;
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut schedule = Poisson::new(load.rate, load.seed);
    let mut rng = kit::rng::Rng::new(load.seed ^ 0x1ab05);
    let start = Instant::now();
    let end = load.duration.as_nanos() as u64;
    let (mut in_window, mut next_tick, mut made) = (false, 1_000_000_000u64, 0u64);
    let mut incrs: Vec<String> = Vec::new();
    let nonce = format!(
        "{}:{}:{}",
        scenario.name,
        strategy.name(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    loop {
        let due_ns = schedule.next_ns();
        if due_ns >= end {
            break;
        }
        if let Some(w) = &scenario.window {
            let frac = due_ns as f64 / end as f64;
            let inside = frac >= w.from && frac < w.to;
            if inside != in_window {
                tokio::time::sleep_until(start + Duration::from_nanos(due_ns)).await;
                proxy.set_faults(if inside {
                    w.faults.clone()
                } else {
                    scenario.faults.clone()
                });
                in_window = inside;
            }
        }
        if due_ns >= next_tick {
            tick(made);
            next_tick += 1_000_000_000;
        }
        let due = start + Duration::from_nanos(due_ns);
        tokio::time::sleep_until(due).await;
        let op = if rng.below(load.incr_every) == 0 {
            incrs.push(format!("lab05:incr:{nonce}:{}", incrs.len()));
            Request::Incr(incrs[incrs.len() - 1].clone())
        } else if rng.below(load.set_every) == 0 {
            Request::Set(format!("lab05:{}", rng.below(load.keys)))
        } else {
            Request::Get(format!("lab05:{}", rng.below(load.keys)))
        };
        let (client, hist, tally) = (client.clone(), hist.clone(), tally.clone());
        made += 1;
        tasks.spawn(async move {
            let reply = match &op {
                Request::Incr(k) => client.call(&[b"INCR", k.as_bytes()]).await,
                Request::Set(k) => {
                    client
                        .call(&[b"SET", k.as_bytes(), b"value-of-16-bytes"])
                        .await
                }
                Request::Get(k) => client.call(&[b"GET", k.as_bytes()]).await,
            };
            let took = due.elapsed().as_micros() as u64;
            if let Ok(mut h) = hist.lock() {
                let _ = h.record(took.max(1));
            }
            if let Ok(mut t) = tally.lock() {
                match reply {
                    Ok(_) => t.ok += 1,
                    Err(e) => *t.failed.entry(failure_name(&e)).or_default() += 1,
                }
            }
        });
        // Reap finished tasks as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    proxy.set_faults(scenario.faults.clone());
    let stats = client.stats();
    // Closing the client's connections makes the server's count final.
    drop(client);
    let server_requests = count.commands()?.saturating_sub(before);
    // Each INCR has a key of its own: a value above 1 means the server ran
    // it more than once.
    let incrs_twice = count.integers(&incrs)?.iter().filter(|&&v| v > 1).count() as u64;
    let h = hist
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    let tally = std::mem::take(&mut *tally.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(Outcome {
        scenario: scenario.name.to_owned(),
        strategy,
        requests: made,
        ok: tally.ok,
        failed: tally.failed,
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
        server_requests,
        incrs: incrs.len() as u64,
        incrs_twice,
        client: stats,
    })
}
// ANCHOR_END: run

fn failure_name(e: &ClientError) -> String {
    e.class()
        .map_or("breaker-open".to_owned(), |c| c.name().to_owned())
}

/// The address lab-02 listens on, checked to be loopback.
pub fn loopback_only(addr: SocketAddr) -> Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address: this lab sends load to loopback only");
    }
    Ok(addr)
}
