//! The server's settings: one struct, filled from the command line
//! (`cargo run -p lab-02 -- --help`) or built in code by tests.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::Location;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Which concurrency model serves the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Model {
    /// One thread owns all data and serves every connection from one
    /// readiness loop (epoll through mio), as Redis does. No locks.
    #[value(name = "event-loop")]
    EventLoop,
    /// A multi-threaded tokio runtime, one task per connection; the data in
    /// lab-01's sharded cache, one lock per shard.
    #[value(name = "task-per-connection", alias = "tasks")]
    TaskPerConnection,
    /// One single-threaded runtime per core, each owning a part of the
    /// keyspace; a command for a key owned elsewhere travels to its owner
    /// as a message.
    #[value(name = "thread-per-core", alias = "per-core")]
    ThreadPerCore,
}

impl Model {
    pub const ALL: [Model; 3] = [
        Model::EventLoop,
        Model::TaskPerConnection,
        Model::ThreadPerCore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::EventLoop => "event-loop",
            Model::TaskPerConnection => "task-per-connection",
            Model::ThreadPerCore => "thread-per-core",
        }
    }
}

/// Where task-per-connection runs a slow command ([`crate::cmd::is_slow`]:
/// KEYS): on the worker that read it, or somewhere the runtime's other
/// tasks do not wait for it. Only task-per-connection has a choice: the
/// other models' threads own their stores outright, and no other thread
/// may touch them ([`Config::validate`] refuses the combination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum SlowCommands {
    /// On the runtime worker that runs the connection's task, like any
    /// other command: the worker, and every task queued on it, waits.
    Inline,
    /// On tokio's blocking pool (`spawn_blocking`), with owned copies of
    /// the arguments; the connection's task awaits the reply and puts it
    /// in order. The worker goes on running other tasks.
    #[value(name = "spawn-blocking")]
    SpawnBlocking,
    /// On the same thread, inside `block_in_place`: the worker hands its
    /// run queue to another thread first, which goes on running the other
    /// tasks.
    #[value(name = "block-in-place")]
    BlockInPlace,
}

impl SlowCommands {
    pub const ALL: [SlowCommands; 3] = [
        SlowCommands::Inline,
        SlowCommands::SpawnBlocking,
        SlowCommands::BlockInPlace,
    ];

    /// The `--slow-commands` value.
    pub fn name(self) -> &'static str {
        match self {
            SlowCommands::Inline => "inline",
            SlowCommands::SpawnBlocking => "spawn-blocking",
            SlowCommands::BlockInPlace => "block-in-place",
        }
    }
}

/// When the append-only file is flushed to disk (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum FsyncPolicy {
    /// `fdatasync` before any reply to a write is sent: an acknowledged write
    /// survives a power cut. Concurrent writers share one sync.
    Always,
    /// Written to the OS before the reply, synced once a second: a crash of
    /// the process loses nothing, a power cut up to a second.
    Everysec,
    /// Written to the OS before the reply, never synced by us: the kernel
    /// decides (typically within 30 s).
    No,
}

impl FsyncPolicy {
    pub const ALL: [FsyncPolicy; 3] = [FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No];

    /// Redis's name for the policy: the `--appendfsync` value and what
    /// `CONFIG GET appendfsync` replies.
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not `always`, `everysec` or `no`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown appendfsync policy {0:?} (use always, everysec or no)")]
pub struct UnknownFsyncPolicy(pub String);

impl FromStr for FsyncPolicy {
    type Err = UnknownFsyncPolicy;

    /// Case-insensitive, as Redis reads `appendfsync`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownFsyncPolicy(text.to_owned()))
    }
}

/// A combination of settings the server refuses to start with. The texts
/// name the command-line flags, since that is where a user sets them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--threads must be at least 1")]
    NoThreads,
    #[error("--shards must be a power of two up to {max}, got {got}")]
    Shards { got: usize, max: usize },
    #[error("--maxclients must be at least 1")]
    NoClients,
    #[error(
        "--client-query-buffer-limit ({query_buffer}) must be at least --proto-max-bulk-len ({bulk})"
    )]
    QueryBufferBelowBulk { query_buffer: usize, bulk: usize },
    #[error("--max-multibulk-len and --proto-max-bulk-len must be positive")]
    ZeroLimit,
    #[error(
        "--slow-commands {mode} needs --model task-per-connection: in the {model} model \
         each store belongs to one thread outright, so no other thread may run a command on \
         it (use --slow-commands inline)"
    )]
    SlowCommandsNeedTasks {
        mode: &'static str,
        model: &'static str,
    },
}

/// Every server setting. Field docs are the `--help` text.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// The concurrency model.
    #[arg(long, value_enum, default_value = "event-loop")]
    pub model: Model,

    /// Address to listen on. Loopback by default: this server has no TLS and
    /// only a single optional password, so exposing it is a deliberate act.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// TCP port (0 picks a free one and prints it).
    #[arg(long, default_value_t = 6380)]
    pub port: u16,

    /// Worker threads for task-per-connection, and cores (one runtime each)
    /// for thread-per-core. Default: the CPUs this process may run on.
    /// Ignored by the event loop, which is one thread by design.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Shards of lab-01's cache in the task-per-connection model (a power
    /// of two). More shards, fewer collisions on one lock.
    #[arg(long, default_value_t = 64)]
    pub shards: usize,

    /// Where task-per-connection runs a slow command (KEYS): `inline` on
    /// the worker that read it; `spawn-blocking` on tokio's blocking pool;
    /// `block-in-place` on the same thread, after handing the worker's
    /// other tasks to another thread. A KEYS inside MULTI/EXEC always runs
    /// inline. The other models refuse anything but `inline`: their
    /// threads own their data outright.
    #[arg(long, value_enum, default_value = "inline")]
    pub slow_commands: SlowCommands,

    /// Require clients to `AUTH` with this password first.
    #[arg(long)]
    pub requirepass: Option<String>,

    /// Most clients connected at once; one more is told
    /// `-ERR max number of clients reached` and disconnected.
    #[arg(long, default_value_t = 10_000)]
    pub maxclients: usize,

    /// Largest bulk string a client may send, in bytes (k, m, g suffixes
    /// allowed). Larger: `Protocol error: invalid bulk length`.
    #[arg(long, default_value = "512m", value_parser = parse_size)]
    pub proto_max_bulk_len: usize,

    /// Most arguments in one command. More: `Protocol error: invalid
    /// multibulk length`.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_multibulk_len: usize,

    /// Most unparsed input buffered for one client; a client past it is
    /// disconnected. Must be at least --proto-max-bulk-len.
    #[arg(long, default_value = "1g", value_parser = parse_size)]
    pub client_query_buffer_limit: usize,

    /// Disconnect a client idle for this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,

    /// Log every write to an append-only file and replay it at start-up.
    #[arg(long)]
    pub appendonly: bool,

    /// Encode each write's log record even with the append-only file off
    /// (what lab-02 did before Part IV's profile showed the cost; kept so
    /// one run can measure both).
    #[arg(long, hide = true)]
    pub log_without_aof: bool,

    /// Time every poll of every connection task (tokio-metrics'
    /// `TaskMonitor`: poll and scheduling delay), for the debug port of
    /// Part IV. Costs two clock reads a poll, so it is off by default.
    #[arg(long)]
    pub task_metrics: bool,

    /// The append-only file.
    #[arg(long, default_value = "appendonly.aof")]
    pub appendfilename: PathBuf,

    /// When the append-only file is synced to disk.
    #[arg(long, value_enum, default_value = "everysec")]
    pub appendfsync: FsyncPolicy,

    /// Who is told when the tokio models spawn a task (Part VI's leak
    /// detector); nobody by default. Set in code, never on the command line.
    #[arg(skip)]
    pub task_hook: TaskHooks,
}

// ANCHOR: task-hook
/// An observer of the tasks the tokio models spawn. At each spawn the
/// server calls [`TaskHook::spawned`] with the spawn's source location and
/// moves the token it returns into the task, so the token is dropped when
/// the task ends, whether it finished, was aborted or its runtime shut
/// down. Part VI's leak detector keeps its registry this way.
pub trait TaskHook: Send + Sync {
    fn spawned(&self, site: &'static Location<'static>) -> TaskToken;
}

/// What a task carries for its [`TaskHook`] until it ends.
pub type TaskToken = Box<dyn Send>;
// ANCHOR_END: task-hook

/// The optional [`TaskHook`] of a [`Config`].
#[derive(Clone, Default)]
pub struct TaskHooks(pub Option<Arc<dyn TaskHook>>);

impl TaskHooks {
    /// The token for a task spawned at the caller's location, if anyone
    /// is watching.
    #[track_caller]
    pub fn token(&self) -> Option<TaskToken> {
        let site = Location::caller();
        self.0.as_ref().map(|h| h.spawned(site))
    }
}

impl fmt::Debug for TaskHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "TaskHooks(set)"
        } else {
            "TaskHooks(none)"
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: Model::EventLoop,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 6380,
            threads: None,
            shards: 64,
            slow_commands: SlowCommands::Inline,
            requirepass: None,
            maxclients: 10_000,
            proto_max_bulk_len: 512 << 20,
            max_multibulk_len: 1024 * 1024,
            client_query_buffer_limit: 1 << 30,
            timeout: 0,
            appendonly: false,
            log_without_aof: false,
            task_metrics: false,
            appendfilename: PathBuf::from("appendonly.aof"),
            appendfsync: FsyncPolicy::Everysec,
            task_hook: TaskHooks::default(),
        }
    }
}

impl Config {
    /// A config for `model` on an ephemeral loopback port: what tests use.
    pub fn ephemeral(model: Model) -> Self {
        Self {
            model,
            port: 0,
            ..Self::default()
        }
    }

    /// The thread (or core) count the model will use.
    pub fn thread_count(&self) -> usize {
        match self.model {
            Model::EventLoop => 1,
            _ => self
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    /// The idle timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.timeout > 0).then(|| Duration::from_secs(self.timeout))
    }

    /// Checks the settings that clap cannot check one at a time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.threads == Some(0) {
            return Err(ConfigError::NoThreads);
        }
        if !self.shards.is_power_of_two() || self.shards > lab_01::config::MAX_SHARDS {
            return Err(ConfigError::Shards {
                got: self.shards,
                max: lab_01::config::MAX_SHARDS,
            });
        }
        if self.maxclients == 0 {
            return Err(ConfigError::NoClients);
        }
        if self.client_query_buffer_limit < self.proto_max_bulk_len {
            return Err(ConfigError::QueryBufferBelowBulk {
                query_buffer: self.client_query_buffer_limit,
                bulk: self.proto_max_bulk_len,
            });
        }
        if self.max_multibulk_len == 0 || self.proto_max_bulk_len == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        if self.slow_commands != SlowCommands::Inline && self.model != Model::TaskPerConnection {
            return Err(ConfigError::SlowCommandsNeedTasks {
                mode: self.slow_commands.name(),
                model: self.model.name(),
            });
        }
        Ok(())
    }

    /// The parser's limits.
    pub fn limits(&self) -> crate::resp::Limits {
        crate::resp::Limits {
            max_bulk_len: self.proto_max_bulk_len,
            max_multibulk_len: self.max_multibulk_len,
            ..crate::resp::Limits::default()
        }
    }
}

/// `512`, `64k`, `512m`, `1g` (powers of 1024, as Redis reads them).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, shift) = match t.strip_suffix(['k', 'm', 'g']) {
        Some(d) if t.ends_with('k') => (d, 10),
        Some(d) if t.ends_with('m') => (d, 20),
        Some(d) => (d, 30),
        None => (t.strip_suffix('b').unwrap_or(&t), 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("not a size: {text:?} (use bytes, or a k, m or g suffix)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size too large: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_redis() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1k").is_err());
    }

    #[test]
    fn bad_combinations_are_refused() {
        let mut c = Config::default();
        assert!(c.validate().is_ok());
        c.shards = 3;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Shards { got: 3, .. })
        ));
        c = Config::default();
        c.client_query_buffer_limit = 1024;
        assert_eq!(
            c.validate(),
            Err(ConfigError::QueryBufferBelowBulk {
                query_buffer: 1024,
                bulk: 512 << 20
            })
        );
    }

    #[test]
    fn only_task_per_connection_offloads_slow_commands() {
        for model in Model::ALL {
            for mode in SlowCommands::ALL {
                let c = Config {
                    slow_commands: mode,
                    ..Config::ephemeral(model)
                };
                let allowed = mode == SlowCommands::Inline || model == Model::TaskPerConnection;
                match c.validate() {
                    Ok(()) => assert!(allowed, "{} {}", model.name(), mode.name()),
                    Err(e) => {
                        assert!(!allowed, "{} {}: {e}", model.name(), mode.name());
                        assert_eq!(
                            e,
                            ConfigError::SlowCommandsNeedTasks {
                                mode: mode.name(),
                                model: model.name()
                            }
                        );
                        let text = e.to_string();
                        assert!(text.contains("belongs to one thread outright"), "{text}");
                    }
                }
            }
            // The CLI names are the enum's names.
            for mode in SlowCommands::ALL {
                assert_eq!(
                    <SlowCommands as ValueEnum>::from_str(mode.name(), false),
                    Ok(mode)
                );
            }
        }
    }

    #[test]
    fn fsync_policy_names_round_trip() {
        for p in FsyncPolicy::ALL {
            assert_eq!(p.to_string().parse(), Ok(p));
            // The CLI (clap) and the CONFIG text use the same names.
            assert_eq!(
                <FsyncPolicy as ValueEnum>::from_str(&p.to_string(), false),
                Ok(p)
            );
        }
        assert_eq!("EverySec".parse(), Ok(FsyncPolicy::Everysec));
        assert_eq!(
            "sometimes".parse::<FsyncPolicy>(),
            Err(UnknownFsyncPolicy("sometimes".into()))
        );
    }
}
