//! Load while profiling: lab-03's generator, run in this process against
//! a server in another, so the profile shows the server and only the
//! server. Open model (a fixed rate, what the overhead table uses so a
//! slower server cannot hide behind a lower offered load) or closed (N
//! connections as fast as replies come: peak throughput).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use lab_03::engine::{self, Load, Plan};
use lab_03::schedule::{self, Arrival};
use lab_03::summary::Summary;
use lab_03::workload::{KeyDist, Mix, Resp, RespSpec, Workload};

/// A load to drive.
#[derive(Debug, Clone)]
pub struct Drive {
    /// Requests per second (open model), or `None` for closed.
    pub rate: Option<f64>,
    pub connections: usize,
    pub pipeline: usize,
    /// lab-03's mix syntax: `set:get=1:9`.
    pub mix: String,
    /// Keys drawn from (fill them first: [`lab_02::launch::Server::fill`]).
    pub keyspace: u64,
    pub value_size: usize,
    pub duration: Duration,
    pub seed: u64,
}

impl Default for Drive {
    fn default() -> Self {
        Self {
            rate: None,
            connections: 16,
            pipeline: 1,
            mix: "set:get=1:9".into(),
            keyspace: 10_000,
            value_size: 32,
            duration: Duration::from_secs(10),
            seed: 1,
        }
    }
}

impl Drive {
    /// Runs the load to the end (one generator thread) and returns
    /// lab-03's summary of it.
    pub fn run(&self, addr: SocketAddr) -> Result<Summary> {
        let mix: Mix = self.mix.parse().map_err(anyhow::Error::msg)?;
        let plan = Plan {
            load: if self.rate.is_some() {
                Load::Open
            } else {
                Load::Closed {
                    think: Duration::ZERO,
                }
            },
            connections: self.connections,
            threads: 1,
            duration: Some(self.duration),
            requests: None,
            timeout: Duration::from_secs(5),
            drain: Duration::from_secs(2),
            script_cost: Duration::ZERO,
            max_response: lab_03::engine::MAX_RESPONSE,
        };
        let spec = |seed: u64| RespSpec {
            mix: mix.clone(),
            keyspace: self.keyspace,
            keys: KeyDist::Uniform,
            value_size: self.value_size,
            pipeline: self.pipeline,
            seed,
        };
        let workload = |i: usize| -> Box<dyn Workload> {
            Box::new(Resp::new(spec(self.seed.wrapping_add(i as u64))))
        };
        let schedules = match self.rate {
            Some(rate) => schedule::split(Arrival::Poisson, rate, 1, self.seed),
            None => Vec::new(),
        };
        let outcome = engine::run(&plan, addr, &workload, schedules, &mut |_| {})?;
        let description = workload(0).describe();
        Ok(Summary::new(
            &plan,
            addr.to_string(),
            description,
            self.rate,
            &outcome,
        ))
    }
}
