//! Checks exercise `global-lock`: commands through `route::dispatch` on
//! your one-lock keyspace, alone and from several threads at once.

use std::thread;

use lab_02::cmd::{self, flags};
use lab_02::models::LockedParts;
use lab_02::route::{self, Shards};
use lab_02_exercises::global_lock::{GlobalLock, GlobalParts};

/// Runs one command, written as words, through `route::dispatch`, as the
/// server does once it has parsed a request.
fn send(parts: &mut dyn Shards, line: &str) -> String {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    let spec = cmd::lookup(args[0]).unwrap_or_else(|| panic!("no command {line:?}"));
    assert!(cmd::arity_ok(spec, args.len()), "bad arity: {line}");
    let mut out = Vec::new();
    route::dispatch(parts, spec, &args, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn check(parts: &mut GlobalParts<'_>, line: &str, want: &str) {
    assert_eq!(send(parts, line), want, "{line}");
}

#[test]
fn is_one_part() {
    let lock = GlobalLock::new();
    let parts = lock.parts();
    assert_eq!(parts.count(), 1, "one lock, one part: count() must be 1");
    for key in [&b"a"[..], b"b", b"some longer key", b""] {
        assert_eq!(
            parts.owner(key),
            0,
            "with one part, every key is owned by part 0"
        );
    }
}

#[test]
fn runs_commands_through_dispatch() {
    let lock = GlobalLock::new();
    let mut p = lock.parts();
    check(&mut p, "GET k", "$-1\r\n");
    check(&mut p, "SET k hello", "+OK\r\n");
    check(&mut p, "GET k", "$5\r\nhello\r\n");
    check(&mut p, "INCR n", ":1\r\n");
    check(&mut p, "INCRBY n 41", ":42\r\n");
    check(
        &mut p,
        "INCR k",
        "-ERR value is not an integer or out of range\r\n",
    );
    check(&mut p, "MSET a 1 b 2 c 3", "+OK\r\n");
    check(
        &mut p,
        "MGET a b nosuch c",
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n",
    );
    check(&mut p, "EXISTS a b nosuch", ":2\r\n");
    check(&mut p, "DEL a b nosuch", ":2\r\n");
    check(&mut p, "KEYS c", "*1\r\n$1\r\nc\r\n");
    let keys = send(&mut p, "KEYS *");
    for k in ["$1\r\nk\r\n", "$1\r\nn\r\n", "$1\r\nc\r\n"] {
        assert!(keys.contains(k), "KEYS * should list k, n and c: {keys:?}");
    }
    assert!(
        keys.starts_with("*3\r\n"),
        "KEYS * should list 3 keys: {keys:?}"
    );
    check(&mut p, "DBSIZE", ":3\r\n");
    check(&mut p, "RPUSH l x y", ":2\r\n");
    check(
        &mut p,
        "GET l",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    check(&mut p, "FLUSHDB", "+OK\r\n");
    check(&mut p, "DBSIZE", ":0\r\n");
}

#[test]
fn handles_share_one_keyspace() {
    let lock = GlobalLock::new();
    let mut first = lock.parts();
    let mut second = lock.parts();
    check(&mut first, "SET shared 1", "+OK\r\n");
    check(&mut second, "GET shared", "$1\r\n1\r\n");
    drop(first);
    check(&mut lock.parts(), "INCR shared", ":2\r\n");
}

#[test]
fn answers_like_lab_01s_shards() {
    // The same commands on your keyspace and on lab-02's own (one shard of
    // lab-01's cache): the same replies.
    let lock = GlobalLock::new();
    let cache = lab_02::db::new_shared_store(1).expect("a store");
    let mut yours = lock.parts();
    let mut theirs = LockedParts::new(&cache, None, lab_02::cmd::Log::new(false), None);
    let mut x = 0x1234_5678_9abc_def1_u64;
    for i in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = (x % 20, (x >> 8) % 20);
        let line = match (x >> 16) % 10 {
            0 => format!("SET k{a} v{i}"),
            1 => format!("GET k{a}"),
            2 => format!("INCR n{a}"),
            3 => format!("DEL k{a} n{b} l{a}"),
            4 => format!("MSET k{a} {i} n{b} {i}"),
            5 => format!("MGET k{a} n{b} l{a}"),
            6 => format!("LPUSH l{a} {i}"),
            7 => format!("LLEN l{a}"),
            8 => format!("APPEND k{a} x"),
            _ => format!("EXISTS k{a} l{b} n{a}"),
        };
        let got = send(&mut yours, &line);
        let want = send(&mut theirs, &line);
        assert_eq!(got, want, "command {i}: {line}");
    }
}

#[test]
fn concurrent_increments_are_exact() {
    let lock = GlobalLock::new();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut p = lock.parts();
                for _ in 0..5_000 {
                    let r = send(&mut p, "INCR counter");
                    assert!(r.starts_with(':'), "INCR counter replied {r:?}");
                }
            });
        }
    });
    check(&mut lock.parts(), "GET counter", "$5\r\n20000\r\n");
}

#[test]
fn concurrent_pushes_are_all_kept() {
    let lock = GlobalLock::new();
    thread::scope(|s| {
        for t in 0..4 {
            let lock = &lock;
            s.spawn(move || {
                let mut p = lock.parts();
                for i in 0..1_000 {
                    send(&mut p, &format!("LPUSH list t{t}-{i}"));
                    send(&mut p, &format!("SET key{t}-{} {i}", i % 10));
                }
            });
        }
    });
    let mut p = lock.parts();
    check(&mut p, "LLEN list", ":4000\r\n");
    check(&mut p, "DBSIZE", ":41\r\n");
}

/// A command that panics while it runs, as a bug in a command would.
fn boom(_: &mut lab_02::db::Db<'_>, _: &[&[u8]], _: &mut Vec<u8>, _: &mut lab_02::cmd::Log) {
    panic!("BOOM: a command panicked on purpose (this is expected)");
}

#[test]
fn survives_a_panic_while_locked() {
    let _ = cmd::register("boom", 2, flags::WRITE, "Panics (a test).", boom);
    let lock = GlobalLock::new();
    check(&mut lock.parts(), "SET before 1", "+OK\r\n");
    let crashed = thread::scope(|s| s.spawn(|| send(&mut lock.parts(), "BOOM key")).join());
    assert!(crashed.is_err(), "BOOM should have panicked");
    // The lock is poisoned now; the store is still fine.
    let mut p = lock.parts();
    check(&mut p, "GET before", "$1\r\n1\r\n");
    check(&mut p, "SET after 2", "+OK\r\n");
    check(&mut p, "DBSIZE", ":2\r\n");
}
