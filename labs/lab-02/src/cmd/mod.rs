//! The command table and every command's implementation.
//!
//! The server looks a command up ([`lookup`]), checks its arity
//! ([`arity_ok`]), then either runs it on the connection ([`Route::Server`]:
//! [`execute_server`]) or routes it to the shard(s) that own its keys and
//! runs it there ([`execute`]). Commands write their reply straight into the
//! connection's output buffer and, when they change data, the commands that
//! replay the change into the append-only-file buffer (`log`).
//!
//! Files: `table` (the static table), `parse` (number parsing and Redis's
//! error texts), `glob` (KEYS/SCAN/CONFIG patterns), one file per data
//! type (`strings`, `keys`, `lists`, `hashes`, `sets`, `zsets`), `server`
//! (the session, the AUTH gate and the connection commands),
//! `introspect` (COMMAND, INFO, CONFIG) and `tunables` (the Redis
//! parameters CONFIG SET accepts and stores without using them).

mod glob;
mod hashes;
mod introspect;
mod keys;
mod lists;
mod parse;
mod server;
mod sets;
mod strings;
mod table;
mod tunables;
mod zsets;

pub use glob::{Glob, glob_match};
pub use server::{After, ServerCtx, Session, auth_gate, execute_server};
pub use tunables::Tunables;

use crate::db::Db;
use crate::reply;

/// Command flags, as bits of [`Spec::flags`]. `COMMAND` shows them by the
/// names in [`flags::NAMES`].
pub mod flags {
    /// May modify the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads the keyspace.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory use (refused under maxmemory in Redis).
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 4;
    /// Allowed while the server loads its data.
    pub const LOADING_OK: u32 = 1 << 5;
    /// Allowed on a replica with stale data.
    pub const STALE: u32 = 1 << 6;
    /// O(1) or O(log n): never blocks the server for long.
    pub const FAST: u32 = 1 << 7;
    /// Allowed before `AUTH` (AUTH, HELLO, QUIT).
    pub const NOAUTH: u32 = 1 << 8;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 9;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 10;
    /// Available in sentinel mode.
    pub const SENTINEL: u32 = 1 << 11;
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH: answered by the connection
    /// (`crate::tx`). lab-02's own bit, not shown by `COMMAND`.
    pub const TRANSACTION: u32 = 1 << 16;

    /// Flag names as `COMMAND` replies them, in Redis's order.
    pub const NAMES: [(u32, &str); 12] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING_OK, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NOAUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
        (NO_MULTI, "no_multi"),
        (SENTINEL, "sentinel"),
    ];
}

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Handled by the connection, not the keyspace (PING, ECHO, QUIT, AUTH,
    /// HELLO, CLIENT, SELECT, INFO, CONFIG, COMMAND, SHUTDOWN, TIME).
    Server,
    /// Exactly one key ([`Spec::routing_key`]: `args[1]`, or a
    /// container's subcommand's key); runs whole on the shard that owns it.
    Key,
    /// Several keys that one run must see together (RENAME, SMOVE,
    /// SUNIONSTORE …): runs whole, with every key's part held at once.
    Keys,
    /// DEL, UNLINK, EXISTS, TOUCH, MGET, MSET: split into one command per
    /// key (per key-value pair for MSET, see [`Spec::step`]), each run on
    /// its owner, the replies merged.
    EachKey(Merge),
    /// KEYS, DBSIZE, FLUSHDB, FLUSHALL: run on every shard, replies merged.
    AllShards(Merge),
    /// SCAN: the server routes the cursor across shards; [`execute`] runs
    /// one shard's step.
    Scan,
}

/// How the replies of a split command combine into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Integers, added up (DEL, EXISTS, DBSIZE).
    SumInts,
    /// Arrays, concatenated in order (MGET, KEYS).
    ConcatArrays,
    /// `+OK` if every part said `+OK`, otherwise the first error.
    AllOk,
}

/// A keyspace command's implementation: `(db, args, reply, log)`, with
/// the contract of [`execute`].
pub type KeyFn = fn(&mut Db<'_>, &[&[u8]], &mut Vec<u8>, &mut Log);
/// A connection command's implementation.
pub(crate) type ServerFn = fn(&mut Session, &[&[u8]], &dyn ServerCtx, &mut Vec<u8>) -> After;

/// Which function runs a command.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    Key(KeyFn),
    Server(ServerFn),
    /// A subcommand entry: its container command runs it.
    Sub,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Run::Key(_) => "Key",
            Run::Server(_) => "Server",
            Run::Sub => "Sub",
        })
    }
}

/// One command's entry in the table: what `COMMAND INFO` and `COMMAND
/// DOCS` show, how it is routed, and what runs it.
#[derive(Debug)]
pub struct Spec {
    /// Lowercase; `container|sub` for a subcommand.
    pub name: &'static str,
    /// Redis's convention: `n` means exactly n arguments, `-n` at least n,
    /// counting the command name.
    pub arity: i32,
    /// Bits from [`flags`].
    pub flags: u32,
    /// Index of the first key argument (0: no keys).
    pub first_key: i32,
    /// Index of the last key argument (-1: the last argument).
    pub last_key: i32,
    /// Distance between keys (2 for `MSET k v k v`).
    pub step: i32,
    pub route: Route,
    /// `COMMAND DOCS` group: string, generic, list, hash, set, sorted-set,
    /// connection, server.
    pub group: &'static str,
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// Time complexity, as `COMMAND DOCS` gives it.
    pub complexity: &'static str,
    /// The subcommands of a container command (CLIENT, CONFIG, COMMAND).
    pub subcommands: &'static [Spec],
    pub(crate) run: Run,
}

impl Spec {
    /// Whether the command has flag bit(s) `flag`.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag == flag
    }

    /// The entry that describes `args`' keys: the subcommand `args[1]`
    /// names for a container (`OBJECT ENCODING key` has its key at index
    /// 2), else this one.
    pub fn keys_of(&'static self, args: &[&[u8]]) -> &'static Spec {
        let name = args.get(1).copied().unwrap_or(b"");
        self.subcommands
            .iter()
            .find(|sub| {
                sub.name
                    .split_once('|')
                    .is_some_and(|(_, s)| s.as_bytes().eq_ignore_ascii_case(name))
            })
            .unwrap_or(self)
    }

    /// The argument a [`Route::Key`] command is routed by: its key, which
    /// is `args[1]` for every one-key command but a container's
    /// (`OBJECT ENCODING key`). A command sent without its key (`OBJECT
    /// HELP`, or one its own code will refuse) goes by `args[1]`.
    pub fn routing_key<'a>(&'static self, args: &[&'a [u8]]) -> &'a [u8] {
        let at = usize::try_from(self.keys_of(args).first_key).unwrap_or(1);
        args.get(at.max(1))
            .or_else(|| args.get(1))
            .copied()
            .unwrap_or(b"")
    }
}

/// The longest command name in the table (`zrevrangebyscore`), rounded up.
const MAX_NAME: usize = 24;

/// The command named `name`, ASCII case-insensitively. No allocation: the
/// name is lowercased into a stack buffer and binary-searched in the
/// sorted table.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    let table = table::TABLE;
    table
        .binary_search_by(|s| s.name.as_bytes().cmp(lower))
        .ok()
        .and_then(|i| table.get(i))
        .or_else(|| registered(lower))
}

// ANCHOR: register
/// Commands added at run time by [`register`]. Looked at only for names
/// the static table does not have, so the common path stays lock-free.
static REGISTERED: std::sync::Mutex<Vec<&'static Spec>> = std::sync::Mutex::new(Vec::new());

fn registered(lower: &[u8]) -> Option<&'static Spec> {
    let list = REGISTERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    list.iter().copied().find(|s| s.name.as_bytes() == lower)
}

/// Adds a one-key command to this process's command table: the way code
/// outside this crate (an exercise, a plugin) gives a real server a new
/// command. Call it before clients can send the name. The command is
/// routed like every `Route::Key` command, so it works under all three
/// models, and what it appends to `log` goes to the append-only file.
/// Refuses a name that is already taken, or that is not lowercase.
pub fn register(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    run: KeyFn,
) -> Result<&'static Spec, RegisterError> {
    if name.is_empty() || name.len() > MAX_NAME || name != name.to_ascii_lowercase() {
        return Err(RegisterError::BadName(name));
    }
    if arity.unsigned_abs() < 2 {
        return Err(RegisterError::NoKey(name));
    }
    let mut list = REGISTERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if table().iter().any(|s| s.name == name) || list.iter().any(|s| s.name == name) {
        return Err(RegisterError::Exists(name));
    }
    let spec: &'static Spec = Box::leak(Box::new(Spec {
        name,
        arity,
        flags,
        first_key: 1,
        last_key: 1,
        step: 1,
        route: Route::Key,
        group: "extension",
        summary,
        since: "lab-02",
        complexity: "",
        subcommands: &[],
        run: Run::Key(run),
    }));
    list.push(spec);
    Ok(spec)
}
// ANCHOR_END: register

/// Why [`register`] refused a command. A caller that registers at every
/// start-up matches [`RegisterError::Exists`] to tell "done already" from
/// a mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("command name {0:?}: use 1 to {MAX_NAME} lowercase characters")]
    BadName(&'static str),
    #[error("command {0}: a one-key command takes at least 2 arguments")]
    NoKey(&'static str),
    #[error("command {0} already exists")]
    Exists(&'static str),
}

/// Every command, sorted by name, for `COMMAND`, `COMMAND COUNT` and
/// `COMMAND DOCS`.
pub fn table() -> &'static [Spec] {
    table::TABLE
}

// ANCHOR: is-slow
/// The commands task-per-connection may run off its worker
/// (`--slow-commands`): the ones whose cost grows with the whole keyspace
/// rather than with what the client asked for. That is KEYS only. SCAN
/// does the same walk in steps the client bounds (COUNT); LRANGE,
/// SMEMBERS and the like are as large as one value the client chose to
/// make large; DBSIZE adds one count per shard. FLUSHDB and FLUSHALL also
/// walk everything, but they write, and Redis's answer for them is a
/// different one (ASYNC: unlink the keyspace at once, free it in the
/// background), not running the command elsewhere.
pub fn is_slow(spec: &Spec) -> bool {
    spec.name == "keys"
}
// ANCHOR_END: is-slow

/// Whether `argc` arguments (counting the name) fit `spec`'s arity. For a
/// command split per key-value pair (`MSET`), also that the pairs are
/// complete: Redis gives the arity error for `MSET k v k`, and the server
/// must know before it splits.
pub fn arity_ok(spec: &Spec, argc: usize) -> bool {
    let fits = if spec.arity >= 0 {
        argc == spec.arity as usize
    } else {
        argc >= spec.arity.unsigned_abs() as usize
    };
    fits && !(spec.step == 2 && matches!(spec.route, Route::EachKey(_)) && argc.is_multiple_of(2))
}

/// Redis 7's reply to an unknown command:
/// `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
/// The name is cut at 128 bytes and the quoted arguments stop once they
/// pass 128 bytes, as Redis does.
pub fn unknown_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let name = args.first().copied().unwrap_or(b"");
    let mut text = Vec::with_capacity(96);
    text.extend_from_slice(b"ERR unknown command '");
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    let start = text.len();
    for arg in args.iter().skip(1) {
        let used = text.len() - start;
        if used >= 128 {
            break;
        }
        text.push(b'\'');
        text.extend_from_slice(&arg[..arg.len().min(128 - used)]);
        text.extend_from_slice(b"' ");
    }
    error_bytes(out, &text);
}

/// `-ERR wrong number of arguments for 'get' command`.
pub fn wrong_arity(out: &mut Vec<u8>, spec: &Spec) {
    arity_error(out, spec.name);
}

/// The arity error for a command name (also used by commands that check
/// their argument count themselves, like `HSET`'s pairs).
pub(crate) fn arity_error(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// An error reply whose text holds user bytes (not necessarily UTF-8):
/// CR and LF become spaces, as in [`reply::error`].
pub(crate) fn error_bytes(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'-');
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// Runs one keyspace command (route Key, EachKey, AllShards or Scan) on
/// one shard's data. `args[0]` is the name. Writes exactly one reply into
/// `out`. If the command changed the data, appends to `log` the RESP
/// multibulk encoding of the command(s) that reproduce the change when
/// replayed: the arguments verbatim for deterministic writes, rewritten
/// where a replay would differ (relative TTLs become `PXAT`/`PEXPIREAT`
/// Unix-millisecond times, SPOP becomes SREM of what it popped, GETDEL
/// becomes DEL, INCRBYFLOAT becomes SET … KEEPTTL). A write that changed
/// nothing, or a command that failed, appends nothing.
///
/// The arity is checked again here (cheaply) so that a caller that forgot
/// gets the arity error rather than a panic.
pub fn execute(
    db: &mut Db<'_>,
    spec: &'static Spec,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
) {
    if !arity_ok(spec, args.len()) {
        wrong_arity(out, spec);
        return;
    }
    match spec.run {
        Run::Key(f) => f(db, args, out, log),
        Run::Server(_) | Run::Sub => {
            reply::error(out, "ERR this command is not a keyspace command");
        }
    }
}

/// Runs `f` on the value at `key` when `pick` accepts its type; replies
/// WRONGTYPE when it does not, and calls `missing` when there is no key.
/// The read path of every aggregate type (`read_hash`, `read_set`, …).
pub(crate) fn read_as<T: ?Sized>(
    db: &mut Db<'_>,
    key: &[u8],
    out: &mut Vec<u8>,
    pick: impl FnOnce(&crate::value::Value) -> Option<&T>,
    f: impl FnOnce(&T, &mut Vec<u8>),
    missing: impl FnOnce(&mut Vec<u8>),
) {
    let found = db.read(key, |v| match pick(v) {
        Some(t) => f(t, out),
        None => reply::error(out, reply::WRONGTYPE),
    });
    if found.is_none() {
        missing(out);
    }
}

/// The reply of a write that counts what it changed (SREM, HDEL, ZREM…):
/// the count, and the command logged verbatim if it changed anything.
pub(crate) fn reply_count(
    result: Result<usize, &str>,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
) {
    match result {
        Ok(n) => {
            reply::int(out, n as i64);
            if n > 0 {
                log_args(log, args);
            }
        }
        Err(e) => reply::error(out, e),
    }
}

/// Appends one command, arguments verbatim, to the replay log.
pub(crate) fn log_args(log: &mut Log, args: &[&[u8]]) {
    let Some(log) = log.record() else { return };
    reply::array(log, args.len());
    for arg in args {
        reply::bulk(log, arg);
    }
}

// ANCHOR: log
/// Where a write command records its effect, as a RESP command, for the
/// append-only file. A log that is off records nothing: with no file to
/// append to, encoding each write's record is work nobody reads (Part IV's
/// profile of `SET` found it; `--log-without-aof` keeps the old behaviour
/// so the chapter can measure both in one run).
#[derive(Debug, Default)]
pub struct Log {
    buf: Vec<u8>,
    on: bool,
    /// On for this command because a client watches keys: the record says
    /// whether the command changed anything (see `crate::watch`).
    watching: bool,
}

impl Log {
    /// A log that records (`on`) or drops every record.
    pub fn new(on: bool) -> Self {
        Self {
            buf: Vec::new(),
            on,
            watching: false,
        }
    }

    /// The buffer to append a record to, or `None` when the log is off:
    /// every writer asks first, so an off log costs one branch a write.
    pub fn record(&mut self) -> Option<&mut Vec<u8>> {
        (self.on || self.watching).then_some(&mut self.buf)
    }
    // ANCHOR_END: log

    /// Records even when off, while `watching`: a write to a watched key
    /// must be seen, and the record is how a command says it wrote. The
    /// caller drops the record when no file reads it ([`Log::is_on`]).
    pub fn watching(&mut self, watching: bool) {
        self.watching = watching;
    }

    /// Whether an append-only file (or `--log-without-aof`) reads it.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The records appended since the last [`clear`](Log::clear).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// An array reply (or log entry) whose length is known only at the end:
/// the elements are written first and the header is inserted in front of
/// them by [`finish`](Deferred::finish). Costs one move of the elements'
/// bytes, no allocation.
pub(crate) struct Deferred {
    at: usize,
    count: usize,
}

impl Deferred {
    pub(crate) fn start(out: &[u8]) -> Self {
        Self {
            at: out.len(),
            count: 0,
        }
    }

    /// Counts one element (the caller has written it).
    pub(crate) fn add(&mut self) {
        self.count += 1;
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Inserts the `*count` header before the elements.
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        let mut digits = [0u8; 20];
        let len = reply::format_int(&mut digits, self.count as i64);
        let header = std::iter::once(b'*')
            .chain(digits[..len].iter().copied())
            .chain(*b"\r\n");
        out.splice(self.at..self.at, header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_is_the_slow_command() {
        let slow: Vec<&str> = table()
            .iter()
            .filter(|s| is_slow(s))
            .map(|s| s.name)
            .collect();
        assert_eq!(slow, ["keys"]);
        assert!(lookup(b"KEYS").is_some_and(is_slow));
        // Read-only and keyspace-wide: running it elsewhere changes no
        // ordering of writes.
        assert!(lookup(b"keys").is_some_and(|s| !s.has(flags::WRITE)));
    }

    #[test]
    fn table_is_sorted_unique_and_lowercase() {
        let t = table();
        for pair in t.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} !< {}",
                pair[0].name,
                pair[1].name
            );
        }
        for s in t {
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert!(s.name.len() <= MAX_NAME);
            assert!(!s.summary.is_empty() && !s.since.is_empty());
            match s.route {
                Route::Server => assert!(matches!(s.run, Run::Server(_)), "{}", s.name),
                _ => assert!(matches!(s.run, Run::Key(_)), "{}", s.name),
            }
            for sub in s.subcommands {
                assert!(sub.name.starts_with(s.name), "{}", sub.name);
                assert!(matches!(sub.run, Run::Sub));
            }
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"get").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert_eq!(
            lookup(b"ZREVRANGEBYSCORE").map(|s| s.name),
            Some("zrevrangebyscore")
        );
        assert!(lookup(b"nope").is_none());
        assert!(lookup(b"").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        for s in table() {
            assert!(std::ptr::eq(lookup(s.name.as_bytes()).unwrap(), s));
        }
    }

    #[test]
    fn arity_rules() {
        let get = lookup(b"get").unwrap();
        assert!(arity_ok(get, 2));
        assert!(!arity_ok(get, 1));
        assert!(!arity_ok(get, 3));
        let set = lookup(b"set").unwrap();
        assert!(arity_ok(set, 3) && arity_ok(set, 7) && !arity_ok(set, 2));
        let mset = lookup(b"mset").unwrap();
        assert!(arity_ok(mset, 3) && arity_ok(mset, 5));
        assert!(!arity_ok(mset, 4) && !arity_ok(mset, 1));
    }

    #[test]
    fn unknown_command_text() {
        let mut out = Vec::new();
        unknown_command(&mut out, &[b"foo", b"a", b"b"]);
        assert_eq!(
            out,
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
        );
        out.clear();
        unknown_command(&mut out, &[b"foo"]);
        assert_eq!(
            out,
            b"-ERR unknown command 'foo', with args beginning with: \r\n"
        );
        out.clear();
        let long = [b'x'; 200];
        unknown_command(&mut out, &[&long, &long, b"z"]);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with(&format!("-ERR unknown command '{}'", "x".repeat(128))));
        assert!(text.ends_with(&format!("'{}' \r\n", "x".repeat(128))));
        out.clear();
        wrong_arity(&mut out, lookup(b"get").unwrap());
        assert_eq!(out, b"-ERR wrong number of arguments for 'get' command\r\n");
    }

    #[test]
    fn deferred_header() {
        let mut out = b"+x\r\n".to_vec();
        let mut d = Deferred::start(&out);
        reply::bulk(&mut out, b"a");
        d.add();
        reply::bulk(&mut out, b"b");
        d.add();
        assert_eq!(d.count(), 2);
        d.finish(&mut out);
        assert_eq!(out, b"+x\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    }
}
