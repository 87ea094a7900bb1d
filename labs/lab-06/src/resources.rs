//! Leaks beside task leaks: file descriptors, sockets a peer closed that
//! this process never closed (CLOSE_WAIT), and threads. Read from
//! `/proc/self` (Linux), compared with a snapshot taken at the start,
//! retried on the same [`Schedule`] as the task check, and reported in the
//! same shape.
//!
//! These are process-wide: another test running at the same time in the
//! same binary opens descriptors and threads too. Run a resource check in
//! a test binary of its own, or serialise the tests that use it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::{Context, Result};

use crate::check::Schedule;

/// TCP state 8 in `/proc/net/tcp`: the peer sent FIN, we have not closed.
const TCP_CLOSE_WAIT: u8 = 0x08;

/// A socket of this process in CLOSE_WAIT.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CloseWait {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub inode: u64,
}

/// What the process holds at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Descriptor number → what it points to (`socket:[inode]`, a path…).
    pub fds: BTreeMap<i32, String>,
    /// Thread id → name.
    pub threads: BTreeMap<i32, String>,
    pub close_wait: BTreeSet<CloseWait>,
}

impl Snapshot {
    pub fn take() -> Result<Self> {
        let mut fds = BTreeMap::new();
        // The listing's own descriptor shows up in it; leave it out.
        let own = format!("/proc/{}/fd", std::process::id());
        for e in std::fs::read_dir("/proc/self/fd").context("reading /proc/self/fd")? {
            let e = e?;
            let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(target) = std::fs::read_link(e.path()) {
                let target = target.to_string_lossy().into_owned();
                if target != own {
                    fds.insert(n, target);
                }
            }
        }
        let mut threads = BTreeMap::new();
        for e in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
            let e = e?;
            let Ok(tid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            threads.insert(tid, name.trim_end().to_owned());
        }
        let inodes: BTreeSet<u64> = fds.values().filter_map(|t| socket_inode(t)).collect();
        let mut close_wait = BTreeSet::new();
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for cw in parse_tcp_table(&text) {
                if inodes.contains(&cw.inode) {
                    close_wait.insert(cw);
                }
            }
        }
        Ok(Self {
            fds,
            threads,
            close_wait,
        })
    }

    /// What is here now and was not in `baseline`.
    pub fn since(&self, baseline: &Snapshot) -> ResourceLeaks {
        ResourceLeaks {
            fds: self
                .fds
                .iter()
                .filter(|(n, t)| baseline.fds.get(n) != Some(t))
                .map(|(n, t)| (*n, t.clone()))
                .collect(),
            threads: self
                .threads
                .iter()
                .filter(|(tid, _)| !baseline.threads.contains_key(tid))
                .map(|(tid, name)| (*tid, name.clone()))
                .collect(),
            close_wait: self
                .close_wait
                .difference(&baseline.close_wait)
                .cloned()
                .collect(),
        }
    }
}

fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The CLOSE_WAIT rows of `/proc/net/tcp` or `tcp6`.
pub fn parse_tcp_table(text: &str) -> Vec<CloseWait> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
            if state != TCP_CLOSE_WAIT {
                return None;
            }
            Some(CloseWait {
                local: parse_addr(f.get(1)?)?,
                remote: parse_addr(f.get(2)?)?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): the kernel
/// prints each 32-bit word of the address in host (little-endian) order.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    if !s.is_ascii() {
        return None;
    }
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).map(u32::swap_bytes))
        .collect::<Result<_, _>>()
        .ok()?;
    let ip = match words.as_slice() {
        [a] => IpAddr::V4(Ipv4Addr::from(*a)),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Resources held now that were not held at the start.
#[derive(Debug, Clone, Default)]
pub struct ResourceLeaks {
    pub fds: Vec<(i32, String)>,
    pub threads: Vec<(i32, String)>,
    pub close_wait: Vec<CloseWait>,
}

impl ResourceLeaks {
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.threads.is_empty() && self.close_wait.is_empty()
    }
}

impl fmt::Display for ResourceLeaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} descriptor(s), {} socket(s) in CLOSE_WAIT, {} thread(s) more than at the start:",
            self.fds.len(),
            self.close_wait.len(),
            self.threads.len()
        )?;
        for (n, t) in &self.fds {
            writeln!(f, "  fd {n} → {t}")?;
        }
        for c in &self.close_wait {
            writeln!(
                f,
                "  CLOSE_WAIT {} ← {} (the peer closed; this process has not)",
                c.local, c.remote
            )?;
        }
        for (tid, name) in &self.threads {
            writeln!(f, "  thread {tid} `{name}`")?;
        }
        Ok(())
    }
}

/// A resource check: [`ResourceCheck::start`] first, [`ResourceCheck::verify`]
/// (blocking: it sleeps the calling thread between looks) last.
pub struct ResourceCheck {
    baseline: Snapshot,
    schedule: Schedule,
    threads: bool,
}

impl ResourceCheck {
    pub fn start() -> Result<Self> {
        Ok(Self {
            baseline: Snapshot::take()?,
            schedule: Schedule::default(),
            threads: true,
        })
    }

    /// Leaves threads out: for a check whose runtimes keep idle
    /// blocking-pool threads for seconds, which are not leaks.
    pub fn without_threads(mut self) -> Self {
        self.threads = false;
        self
    }

    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// What is held now beyond the baseline, at one look.
    pub fn look(&self) -> Result<ResourceLeaks> {
        let mut held = Snapshot::take()?.since(&self.baseline);
        if !self.threads {
            held.threads.clear();
        }
        Ok(held)
    }

    /// Looks until nothing extra is held or the budget is spent.
    pub fn verify(&self) -> Result<std::result::Result<(), ResourceLeaks>> {
        let left = self.schedule.retry_blocking(|| {
            let leaks = self.look()?;
            anyhow::Ok((!leaks.is_empty()).then_some(leaks))
        })?;
        Ok(left.map_or(Ok(()), Err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_close_wait_rows_in_both_address_families() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:18EB 0100007F:9C40 08 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n   \
            1: 0100007F:18EB 0100007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0\n";
        let rows = parse_tcp_table(v4);
        assert_eq!(rows.len(), 1, "only state 08");
        assert_eq!(rows[0].local, "127.0.0.1:6379".parse().expect("addr"));
        assert_eq!(rows[0].remote, "127.0.0.1:40000".parse().expect("addr"));
        assert_eq!(rows[0].inode, 4242);
        let v6 = "header\n 0: 00000000000000000000000001000000:18EB 00000000000000000000000001000000:9C40 08 0:0 0:0 0 0 0 77 1\n";
        let rows = parse_tcp_table(v6);
        assert_eq!(rows[0].local, "[::1]:6379".parse().expect("addr"));
        assert_eq!(rows[0].inode, 77);
    }

    #[test]
    fn a_snapshot_sees_this_process_descriptors_and_threads() {
        let s = Snapshot::take().expect("snapshot");
        assert!(
            s.fds.len() >= 3,
            "stdin, stdout, stderr at least: {:?}",
            s.fds
        );
        assert!(!s.threads.is_empty());
    }
}
