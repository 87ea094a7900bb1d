//! The client matrix: the clients people install, with their default
//! settings, against every model: redis-py 8 (RESP3 and a transactional
//! `pipeline()` by default), the Rust `redis` crate over RESP2 and RESP3,
//! and `redis-cli -3`, whose output must be the same as against a real
//! `redis-server`. Strings, lists, hashes, sets, sorted sets, expiry,
//! transactions and WATCH conflicts.
//!
//! redis-py comes from PyPI, at the version `cargo xtask setup --debian`
//! pins, in the project's own `.tools/py` (the suite's setup step
//! installs it).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{ServerProc, for_each_model, redis_cli, run_with_timeout};
use lab_02::launch::{Launch, Server, Target};
use redis::Commands;

/// Three cores, four shards: transactions and multi-key commands cross
/// them.
const SPLIT: &[&str] = &["--threads", "3", "--shards", "4"];

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tools/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `cargo xtask setup --debian` installs redis-py from PyPI there",
        python.display()
    );
    python
}

#[test]
fn redis_py_with_default_settings() {
    let python = python();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py.py");
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let ran = run_with_timeout(
            Command::new(&python).arg(&script).arg(s.port().to_string()),
            None,
            Duration::from_secs(60),
        );
        assert!(
            ran.status.success() && ran.stdout.ends_with("all passed\n"),
            "[{model}] redis-py failed ({}):\n{}{}",
            ran.status,
            ran.stdout,
            ran.stderr
        );
        s.assert_healthy();
    });
}

/// One session of the `redis` crate over `protocol` ("resp2"/"resp3").
fn redis_rs_session(s: &ServerProc, protocol: &str) -> redis::RedisResult<()> {
    let model = s.model().to_string();
    let url = format!("redis://{}/?protocol={protocol}", s.addr());
    let client = redis::Client::open(url.as_str())?;
    let mut con = client.get_connection_with_timeout(Duration::from_secs(10))?;
    con.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut other = client.get_connection_with_timeout(Duration::from_secs(10))?;
    let what = format!("[{model} {protocol}]");
    let () = redis::cmd("FLUSHALL").query(&mut con)?;

    let () = con.set("s", "hello")?;
    let got: Option<String> = con.get("missing")?;
    assert_eq!(got, None, "{what}");
    let () = con.rename("s", "s2")?;
    let got: String = con.get("s2")?;
    assert_eq!(got, "hello", "{what}");
    let f: f64 = con.incr("f", 1.5)?;
    assert_eq!(f, 1.5, "{what}");

    let _: usize = con.rpush("l", &["a", "b", "c"])?;
    let items: Vec<String> = con.lrange("l", 0, -1)?;
    assert_eq!(items, ["a", "b", "c"], "{what}");

    let () = con.hset_multiple("h", &[("a", "1"), ("b", "2")])?;
    let all: HashMap<String, String> = con.hgetall("h")?;
    assert_eq!(all.len(), 2, "{what} {all:?}");
    assert_eq!(all["b"], "2", "{what}");

    let _: usize = con.sadd("set", &["x", "y"])?;
    let members: HashSet<String> = con.smembers("set")?;
    assert_eq!(members, HashSet::from(["x".into(), "y".into()]), "{what}");
    let _: usize = con.sadd("set2", &["y", "z"])?;
    let inter: HashSet<String> = con.sinter(&["set", "set2"])?;
    assert_eq!(inter, HashSet::from(["y".into()]), "{what}");

    let _: usize = con.zadd_multiple("z", &[(1.5, "a"), (2.0, "b")])?;
    let with: Vec<(String, f64)> = con.zrange_withscores("z", 0, -1)?;
    assert_eq!(with, [("a".into(), 1.5), ("b".into(), 2.0)], "{what}");
    let score: Option<f64> = con.zscore("z", "a")?;
    assert_eq!(score, Some(1.5), "{what}");

    let _: bool = con.expire("s2", 100)?;
    let ttl: i64 = con.ttl("s2")?;
    assert!((99..=100).contains(&ttl), "{what} TTL {ttl}");

    // MULTI/EXEC through an atomic pipeline.
    let (a, n): (String, i64) = redis::pipe()
        .atomic()
        .set("t1", "x")
        .ignore()
        .get("t1")
        .incr("t2", 1)
        .query(&mut con)?;
    assert_eq!((a.as_str(), n), ("x", 1), "{what}");

    // An optimistic transaction: the first attempt is spoiled by another
    // connection's write, so EXEC answers null and the crate retries.
    let mut attempts = 0;
    let (v,): (i64,) = redis::transaction(&mut con, &["w"], |con, pipe| {
        attempts += 1;
        let current: Option<i64> = con.get("w")?;
        if attempts == 1 {
            let () = other.set("w", 10)?;
        }
        pipe.set("w", current.unwrap_or(0) + 1)
            .ignore()
            .get("w")
            .query(con)
    })?;
    assert_eq!((attempts, v), (2, 11), "{what} WATCH conflict then retry");
    Ok(())
}

#[test]
fn the_redis_crate_over_resp2_and_resp3() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        for protocol in ["resp2", "resp3"] {
            if let Err(e) = redis_rs_session(&s, protocol) {
                panic!("[{model} {protocol}] {e}; server log:\n{}", s.stderr());
            }
        }
        s.assert_healthy();
    });
}

/// Commands whose `redis-cli -3` output must be the same against lab-02
/// as against redis-server (one member per set: Redis leaves a set's
/// order unspecified).
const CLI_SCRIPT: &str = "SET s hello
GET s
GET missing
MGET s missing
HSET h a 1
HGETALL h
HGETALL missing
SADD set x
SMEMBERS set
SINTER set missing
SUNION set missing
ZADD z 1.5 a 2 b
ZSCORE z a
ZRANGE z 0 -1 WITHSCORES
ZPOPMIN z
RPUSH l a b
LRANGE l 0 -1
LPOP missing
EXPIRE s 100
PERSIST s
TTL s
RENAME s s2
GET s2
MULTI
INCR n
GET missing
HGETALL h
EXEC
INCR s2
NOSUCHCOMMAND
";

#[test]
fn redis_cli_resp3_prints_what_it_prints_for_redis() {
    let redis = Server::start(&Launch::new(Target::Redis, 1)).unwrap();
    let run = |port: u16| {
        let ran = redis_cli(port, &["-3"], Some(CLI_SCRIPT.as_bytes().to_vec()));
        assert!(ran.status.success(), "redis-cli -3: {}", ran.stderr);
        ran.stdout
    };
    let want = run(redis.port);
    drop(redis);
    assert!(
        want.contains("hello"),
        "redis-cli against redis-server:\n{want}"
    );
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let got = run(s.port());
        if got != want {
            let diff: Vec<String> = got
                .lines()
                .zip(want.lines())
                .enumerate()
                .filter(|(_, (g, w))| g != w)
                .map(|(i, (g, w))| format!("line {}: lab-02 {g:?}, redis {w:?}", i + 1))
                .collect();
            panic!(
                "[{model}] redis-cli -3 output differs:\n{}",
                diff.join("\n")
            );
        }
        s.assert_healthy();
    });
}
