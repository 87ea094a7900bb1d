//! Starting lab-02's servers (and redis-server) for the experiments that
//! measure them, through lab-02's component API (`lab_02::launch`), never
//! its harness; `Server::fill` writes their keyspace first.

use anyhow::Result;
use lab_02::launch::{Launch, Server, Target};

/// Starts `target` from this binary's hidden `lab02` subcommand (or
/// redis-server), pinned to `cpus`, with `threads` for the multi-threaded
/// models.
pub fn start(target: Target, cpus: Option<&'static str>, threads: usize) -> Result<Server> {
    start_with(target, cpus, threads, &[])
}

/// [`start`], with more of lab-02's options (`--slow-commands …`).
pub fn start_with(
    target: Target,
    cpus: Option<&'static str>,
    threads: usize,
    extra: &[&str],
) -> Result<Server> {
    let launch = Launch {
        cpus,
        subcommand: Some("lab02"),
        extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        ..Launch::new(target, threads)
    };
    Server::start(&launch)
}

/// A server's name as a fact key: `event_loop`, `redis_server`.
pub fn slug(target: Target) -> String {
    target.name().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug(Target::Redis), "redis_server");
        assert_eq!(slug(Target::TaskPerConnection), "task_per_connection");
    }
}
