//! The steps Part VII's recorder (lab-07) sees inside this server: a few
//! `tracing` events with target [`TARGET`] at TRACE level, at the points
//! a reader replaying a run needs (a socket ready, a read, a command run,
//! a reply written, a hop to another core and back).
//!
//! Their fields are the ones lab-07's recorder reads: `lane` (whose row in
//! the player: the event loop, a connection's task, a core), `lane_kind`,
//! `kind`, `label`, and `emits` / `answers`, numbers that tie a step to
//! the one that caused it. The numbers are made here, so that the server
//! and a recording client agree on them: a client's request is its local
//! port ([`request`]), the server's reply to it the same port tagged
//! ([`reply`]), a hop the server's hop count ([`hop`], [`hop_back`]).
//! Extra fields (`conn`, `key`, `worker`, `ready`, `queued`) feed the
//! player's side panel.
//!
//! Why this costs nothing measurable when nobody records: lab-02's
//! binaries log at INFO or WARN, so the level check in front of each
//! event (one relaxed atomic load and a branch) fails, and the fields,
//! the labels' formatting included, are never evaluated. lab-07 measures
//! both that and the cost of recording.

use std::fmt;

/// The `tracing` target of a recorded step (lab-07's `recorder::TARGET`).
pub const TARGET: &str = "ul::step";

const REPLY: u64 = 1 << 32;
const HOP: u64 = 2 << 32;
const HOP_BACK: u64 = 3 << 32;
const LOW: u64 = (1 << 32) - 1;

/// The port of an `ip:port` address (0 if there is none).
pub fn port(addr: &str) -> u64 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// The number a client's request carries: its local port.
pub fn request(port: u64) -> u64 {
    port & LOW
}

/// The number the server's reply to the client on `port` carries.
pub fn reply(port: u64) -> u64 {
    REPLY | (port & LOW)
}

/// The number of hop `n` to another core (thread per core).
pub fn hop(n: u64) -> u64 {
    HOP | (n & LOW)
}

/// The number of the reply that comes back for hop `n`.
pub fn hop_back(n: u64) -> u64 {
    HOP_BACK | (n & LOW)
}

/// The name of the thread a step runs on (a tokio worker's name says
/// which worker polled the task).
pub fn worker() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed thread")
        .to_owned()
}

/// A command as a label shows it: `SET k1 v1`, the name uppercase, each
/// argument cut at 16 bytes, at most four arguments.
pub struct Command<'a>(pub &'a [&'a [u8]]);

impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().take(5).enumerate() {
            let text = String::from_utf8_lossy(&arg[..arg.len().min(16)]);
            match i {
                0 => write!(f, "{}", text.to_uppercase())?,
                _ => write!(f, " {text}")?,
            }
            if arg.len() > 16 {
                f.write_str("…")?;
            }
        }
        if self.0.len() > 5 {
            f.write_str(" …")?;
        }
        Ok(())
    }
}

/// The step kind of running `spec`: `data` for a write, `note` otherwise.
pub fn command_kind(spec: &crate::cmd::Spec) -> &'static str {
    if spec.has(crate::cmd::flags::WRITE) {
        "data"
    } else {
        "note"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_do_not_collide() {
        let p = port("127.0.0.1:54321");
        assert_eq!(p, 54321);
        let all = [request(p), reply(p), hop(p), hop_back(p)];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(port("no port"), 0);
    }

    #[test]
    fn commands_read_as_typed() {
        let long = [b'x'; 20];
        let args: [&[u8]; 3] = [b"set", b"k1", &long];
        assert_eq!(
            Command(&args).to_string(),
            format!("SET k1 {}…", "x".repeat(16))
        );
    }
}
