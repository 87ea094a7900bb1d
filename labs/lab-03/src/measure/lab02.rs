//! Starting lab-02's servers (and redis-server) for the experiments that
//! measure them, and writing their keyspace first: through lab-02's
//! component API (`lab_02::launch`, `lab_02::client`), never its harness.

use anyhow::{Result, ensure};
use kit::redis_benchmark::key;
use lab_02::launch::{Launch, Server, Target};

/// Keys per `MSET` while filling.
const BATCH: u64 = 1_000;

/// Starts `target` from this binary's hidden `lab02` subcommand (or
/// redis-server), pinned to `cpus`, with `threads` for the multi-threaded
/// models.
pub fn start(target: Target, cpus: Option<&'static str>, threads: usize) -> Result<Server> {
    let launch = Launch {
        cpus,
        subcommand: Some("lab02"),
        ..Launch::new(target, threads)
    };
    Server::start(&launch)
}

/// Writes the keys redis-benchmark's `-r keys` and lab-03's `--keyspace
/// keys` draw from (`key:000000000000` on), with 3-byte values, one `MSET`
/// of [`BATCH`] keys at a time, and checks `DBSIZE`.
pub fn fill(server: &Server, keys: u64) -> Result<()> {
    let mut c = server.client()?;
    for first in (0..keys).step_by(BATCH as usize) {
        let names: Vec<String> = (first..(first + BATCH).min(keys)).map(key).collect();
        let mut args: Vec<&[u8]> = vec![b"MSET"];
        for name in &names {
            args.push(name.as_bytes());
            args.push(b"xxx");
        }
        let reply = c.cmd(&args)?;
        ensure!(!reply.is_error(), "MSET during fill answered {reply:?}");
    }
    let size = c.cmd(&[b"DBSIZE"])?;
    ensure!(
        size.as_int() == Some(keys as i64),
        "{} answered DBSIZE {size:?} after writing {keys} keys",
        server.target.name()
    );
    Ok(())
}

/// The servers of `all` in the order round `round` visits them, rotated by
/// one each round so that none is always first.
pub fn rotation(all: &[Target], round: usize) -> Vec<Target> {
    (0..all.len())
        .map(|i| all[(round + i) % all.len()])
        .collect()
}

/// A server's name as a fact key: `event_loop`, `redis_server`.
pub fn slug(target: Target) -> String {
    target.name().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_slugs() {
        let r = rotation(&Target::ALL, 1);
        assert_eq!(r[0], Target::TaskPerConnection);
        assert_eq!(r[3], Target::EventLoop);
        assert_eq!(rotation(&Target::ALL, 4)[0], Target::EventLoop);
        assert_eq!(slug(Target::Redis), "redis_server");
        assert_eq!(slug(Target::TaskPerConnection), "task_per_connection");
    }
}
