//! The tools and facts every table's notes name: versions of redis-server,
//! redis-benchmark, taskset and Go, cores, clock ticks, the open-file limit.
//! (The generic readers of `/proc` are in the kit's `procfs`.)

use anyhow::Result;
use kit::process::tool_version;
use kit::procfs;
use serde::Serialize;

const HINT: &str = "lab-02's measurements need redis-server, redis-benchmark (Debian: \
                    redis-server, redis-tools) and taskset (util-linux)";

/// The tools and facts every table's notes refer to.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub cores: usize,
    pub clk_tck: u64,
    pub redis_server: String,
    pub redis_benchmark: String,
    pub taskset: String,
    /// `go version`: Debian's Go, which builds the Go server.
    pub go: String,
    pub fd_limit: Option<u64>,
}

impl Facts {
    /// Collects the facts, failing early if a tool is missing.
    pub fn collect() -> Result<Self> {
        let server = tool_version("redis-server", &["--version"], HINT)?;
        // "Redis server v=7.0.15 sha=…": keep the version.
        let server_version = server
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .map_or(server.clone(), |v| format!("redis-server {v}"));
        Ok(Self {
            cores: procfs::cores(),
            clk_tck: procfs::clk_tck(),
            redis_server: server_version,
            redis_benchmark: tool_version("redis-benchmark", &["--version"], HINT)?,
            taskset: tool_version("taskset", &["--version"], HINT)?,
            go: kit::golang::version()?,
            fd_limit: procfs::fd_limit(),
        })
    }
}
