//! Compatibility with real Redis tools and a real client library, against
//! each concurrency model: redis-cli (one-shot, piped, `--pipe`),
//! redis-benchmark (the full default suite, and a pipelined `--csv` run) and
//! the `redis` crate (redis-rs).
//!
//! The expected redis-cli output is what Debian's redis-cli 7.0 prints
//! against a real redis-server when its output is not a terminal: plain
//! values, one per line; nil and the empty list as an empty line; errors as
//! `ERR …` followed by an empty line.

// Helpers outside #[test] functions unwrap too (clippy.toml only covers
// the test functions themselves).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{ServerProc, for_each_model, redis_cli, run_with_timeout};
use redis::Commands;

/// redis-cli's output for one command, with the trailing newline removed.
fn cli(server: &ServerProc, args: &[&str]) -> String {
    let ran = redis_cli(server.port(), args, None);
    assert!(
        ran.status.success(),
        "[{}] redis-cli {args:?} exited with {}; stdout:\n{}stderr:\n{}",
        server.model(),
        ran.status,
        ran.stdout,
        ran.stderr
    );
    ran.stdout.trim_end_matches('\n').to_string()
}

#[test]
fn redis_cli_one_shot() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let check = |args: &[&str], want: &str| {
            assert_eq!(cli(&s, args), want, "[{model}] redis-cli {args:?}");
        };
        check(&["PING"], "PONG");
        check(&["SET", "k", "v"], "OK");
        check(&["GET", "k"], "v");
        check(&["GET", "missing"], "");
        check(&["INCR", "n"], "1");
        check(&["INCR", "n"], "2");
        check(&["LPUSH", "l", "a", "b"], "2");
        check(&["LRANGE", "l", "0", "-1"], "b\na");
        check(&["LRANGE", "nolist", "0", "-1"], "");
        check(&["HSET", "h", "f", "v"], "1");
        check(&["HGETALL", "h"], "f\nv");
        check(&["TTL", "k"], "-1");
        check(&["TTL", "missing"], "-2");
        check(&["EXPIRE", "k", "100"], "1");
        let ttl: i64 = cli(&s, &["TTL", "k"]).parse().expect("TTL is an integer");
        assert!((99..=100).contains(&ttl), "[{model}] TTL k = {ttl}");
        // An error reply: printed as its text (then an empty line, trimmed
        // here), exit 0 in redis-cli 7.0.
        check(
            &["INCR", "k"],
            "ERR value is not an integer or out of range",
        );
        check(
            &["LPUSH", "k", "x"],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        check(&["DBSIZE"], "4");
        check(&["EXISTS", "k", "n", "missing"], "2");
        let info = cli(&s, &["INFO", "server"]);
        assert!(
            info.contains("redis_version:"),
            "[{model}] INFO server:\n{info}"
        );
        assert!(
            info.starts_with("# Server"),
            "[{model}] INFO server:\n{info}"
        );
        s.assert_no_panic();
    });
}

/// Twenty-odd commands fed to redis-cli on stdin, and what redis-cli 7.0
/// prints for them against redis-server 7.0.
const SCRIPT: &str = r#"PING
SET greeting hello
GET greeting
APPEND greeting " world"
GET greeting
STRLEN greeting
INCR counter
INCRBY counter 41
DECR counter
GET nosuchkey
RPUSH list a b c
LRANGE list 0 -1
LLEN list
LPOP list
SADD set x y z x
SCARD set
SISMEMBER set y
HSET hash f1 v1 f2 v2
HGET hash f2
ZADD z 1 one 2.5 two
ZRANGE z 0 -1 WITHSCORES
ZSCORE z two
EXISTS greeting nosuchkey
TYPE list
INCR list
NOSUCHCOMMAND arg
DEL greeting
EXPIRE counter 100
TTL counter
DBSIZE
"#;

const SCRIPT_OUTPUT: &str = "PONG
OK
hello
11
hello world
11
1
42
41

3
a
b
c
3
a
3
3
1
2
v2
2
one
1
two
2.5
2.5
1
list
WRONGTYPE Operation against a key holding the wrong kind of value

ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'arg' 

1
1
100
5
";

#[test]
fn redis_cli_piped_script() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let ran = redis_cli(s.port(), &[], Some(SCRIPT.as_bytes().to_vec()));
        assert!(ran.status.success(), "[{model}] {ran:?}");
        let got: Vec<&str> = ran.stdout.lines().collect();
        let want: Vec<&str> = SCRIPT_OUTPUT.lines().collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g,
                w,
                "[{model}] output line {} differs:\n{}",
                i + 1,
                ran.stdout
            );
        }
        assert_eq!(
            got.len(),
            want.len(),
            "[{model}] output line count; stdout:\n{}",
            ran.stdout
        );
        s.assert_no_panic();
    });
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    const N: usize = 10_000;
    let mut input = Vec::new();
    for i in 0..N {
        let key = format!("mass:{i}");
        let value = format!("value-{i}");
        lab_02::resp::encode_command(&[b"SET", key.as_bytes(), value.as_bytes()], &mut input);
    }
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let ran = redis_cli(s.port(), &["--pipe"], Some(input.clone()));
        assert!(ran.status.success(), "[{model}] {ran:?}");
        assert!(
            ran.stdout.contains(&format!("errors: 0, replies: {N}")),
            "[{model}] redis-cli --pipe printed:\n{}{}",
            ran.stdout,
            ran.stderr
        );
        let mut c = s.client();
        assert_eq!(
            c.cmd_str("DBSIZE").unwrap().as_int(),
            Some(N as i64),
            "[{model}]"
        );
        for i in [0, 1, N / 2, N - 1] {
            assert_eq!(
                c.cmd_str(&format!("GET mass:{i}")).unwrap().as_bulk(),
                Some(format!("value-{i}").as_bytes()),
                "[{model}] mass:{i}"
            );
        }
        s.assert_no_panic();
    });
}

/// The `NAME: RATE requests per second` results in redis-benchmark's
/// output (progress lines end with `\r`, results with `\n`).
fn benchmark_results(output: &str) -> Vec<(String, f64)> {
    output
        .split(['\r', '\n'])
        .filter_map(|segment| {
            let (name, rest) = segment.trim().split_once(": ")?;
            let (rate, _) = rest.split_once(" requests per second")?;
            Some((name.to_string(), rate.trim().parse().ok()?))
        })
        .collect()
}

/// Lines that report an error, in either stream.
fn error_lines(text: &str) -> Vec<String> {
    text.split(['\r', '\n'])
        .filter(|l| {
            l.contains("ERR")
                || l.contains("WRONGTYPE")
                || l.to_ascii_lowercase().contains("error")
                || l.contains("Could not")
        })
        .map(str::to_string)
        .collect()
}

const DEFAULT_SUITE: [&str; 20] = [
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];

#[test]
fn redis_benchmark_default_suite() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let ran = run_with_timeout(
            Command::new("redis-benchmark").args([
                "-h",
                "127.0.0.1",
                "-p",
                &s.port().to_string(),
                "-q",
                "-n",
                "2000",
                "-c",
                "10",
            ]),
            None,
            Duration::from_secs(55),
        );
        let all = format!("{}\n{}", ran.stdout, ran.stderr);
        assert!(ran.status.success(), "[{model}] redis-benchmark: {all}");
        let errors = error_lines(&all);
        assert!(errors.is_empty(), "[{model}] errors: {errors:#?}\n{all}");
        let results = benchmark_results(&ran.stdout);
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, DEFAULT_SUITE, "[{model}] tests reported:\n{all}");
        for (name, rate) in &results {
            assert!(*rate > 0.0, "[{model}] {name}: {rate} requests per second");
        }
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn redis_benchmark_csv_pipelined() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let ran = run_with_timeout(
            Command::new("redis-benchmark").args([
                "-h",
                "127.0.0.1",
                "-p",
                &s.port().to_string(),
                "--csv",
                "-t",
                "set,get",
                "-P",
                "16",
                "-n",
                "20000",
                "-c",
                "10",
            ]),
            None,
            Duration::from_secs(55),
        );
        let all = format!("{}\n{}", ran.stdout, ran.stderr);
        assert!(ran.status.success(), "[{model}] redis-benchmark: {all}");
        let errors = error_lines(&all);
        assert!(errors.is_empty(), "[{model}] errors: {errors:#?}\n{all}");
        let rows: Vec<Vec<String>> = ran
            .stdout
            .lines()
            .map(|l| {
                l.split(',')
                    .map(|f| f.trim_matches('"').to_string())
                    .collect()
            })
            .collect();
        assert_eq!(
            rows.first().map(|r| r[..2].to_vec()),
            Some(vec!["test".to_string(), "rps".to_string()]),
            "[{model}] CSV header:\n{all}"
        );
        let tests: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(tests, ["SET", "GET"], "[{model}]\n{all}");
        for row in &rows[1..] {
            let rps: f64 = row[1].parse().unwrap_or(0.0);
            assert!(rps > 0.0, "[{model}] {row:?}");
        }
        // Every SET landed: the GET test read the key the SET test wrote.
        assert_eq!(
            s.client().cmd_str("EXISTS key:__rand_int__").unwrap(),
            lab_02::resp::Frame::Integer(1),
            "[{model}]"
        );
        s.assert_no_panic();
    });
}

fn redis_rs_session(s: &ServerProc) -> redis::RedisResult<()> {
    let model = s.model().to_string();
    let client = redis::Client::open(format!("redis://{}/", s.addr()))?;
    // The handshake pipelines CLIENT SETINFO LIB-NAME / LIB-VER.
    let mut con = client.get_connection_with_timeout(Duration::from_secs(10))?;
    con.set_read_timeout(Some(Duration::from_secs(10)))?;
    con.set_write_timeout(Some(Duration::from_secs(10)))?;

    let pong: String = redis::cmd("PING").query(&mut con)?;
    assert_eq!(pong, "PONG");

    // Strings.
    let () = con.set("s:a", "hello")?;
    let got: String = con.get("s:a")?;
    assert_eq!(got, "hello");
    let missing: Option<String> = con.get("s:missing")?;
    assert_eq!(missing, None);
    let len: usize = con.append("s:a", " world")?;
    assert_eq!(len, 11);
    let () = con.set("s:n", 10)?;
    let n: i64 = redis::cmd("INCR").arg("s:n").query(&mut con)?;
    assert_eq!(n, 11);
    let n: i64 = con.incr("s:n", 5)?;
    assert_eq!(n, 16);
    let () = con.mset(&[("s:m1", "one"), ("s:m2", "two")])?;
    let many: Vec<Option<String>> = con.mget(&["s:m1", "s:missing", "s:m2"])?;
    assert_eq!(
        many,
        vec![Some("one".to_string()), None, Some("two".to_string())]
    );
    let bad: redis::RedisResult<i64> = con.incr("s:a", 1);
    let err = bad.expect_err("INCR of a non-integer");
    assert!(
        err.to_string().contains("not an integer"),
        "[{model}] {err}"
    );
    let opts = redis::SetOptions::default()
        .conditional_set(redis::ExistenceCheck::NX)
        .with_expiration(redis::SetExpiry::EX(100));
    let first: Option<String> = con.set_options("s:nx", "first", opts.clone())?;
    assert_eq!(first.as_deref(), Some("OK"));
    let second: Option<String> = con.set_options("s:nx", "second", opts)?;
    assert_eq!(second, None, "[{model}] SET NX on an existing key");
    let got: String = con.get("s:nx")?;
    assert_eq!(got, "first");
    let ttl: i64 = con.ttl("s:nx")?;
    assert!(
        (99..=100).contains(&ttl),
        "[{model}] TTL after SET EX 100: {ttl}"
    );

    // Lists.
    let len: usize = con.rpush("l", &["b", "c"])?;
    assert_eq!(len, 2);
    let len: usize = con.lpush("l", "a")?;
    assert_eq!(len, 3);
    let items: Vec<String> = con.lrange("l", 0, -1)?;
    assert_eq!(items, ["a", "b", "c"]);
    let first: Option<String> = con.lpop("l", None)?;
    assert_eq!(first.as_deref(), Some("a"));
    let len: usize = con.llen("l")?;
    assert_eq!(len, 2);
    let at: Option<String> = con.lindex("l", -1)?;
    assert_eq!(at.as_deref(), Some("c"));

    // Hashes.
    let () = con.hset_multiple("h", &[("f1", "v1"), ("f2", "v2"), ("f3", "v3")])?;
    let all: HashMap<String, String> = con.hgetall("h")?;
    let want: HashMap<String, String> = [("f1", "v1"), ("f2", "v2"), ("f3", "v3")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(all, want);
    let v: Option<String> = con.hget("h", "f2")?;
    assert_eq!(v.as_deref(), Some("v2"));
    let removed: usize = con.hdel("h", "f1")?;
    assert_eq!(removed, 1);
    let exists: bool = con.hexists("h", "f1")?;
    assert!(!exists);
    let count: i64 = con.hincr("h", "count", 3)?;
    assert_eq!(count, 3);

    // Sets.
    let added: usize = con.sadd("set", &["x", "y", "z", "x"])?;
    assert_eq!(added, 3);
    let members: HashSet<String> = con.smembers("set")?;
    assert_eq!(
        members,
        ["x", "y", "z"].iter().map(|s| s.to_string()).collect()
    );
    let is: bool = con.sismember("set", "y")?;
    assert!(is);
    let removed: usize = con.srem("set", "y")?;
    assert_eq!(removed, 1);
    let card: usize = con.scard("set")?;
    assert_eq!(card, 2);

    // Sorted sets.
    let added: usize = con.zadd("z", "one", 1)?;
    assert_eq!(added, 1);
    let added: usize = con.zadd_multiple("z", &[(2.5, "two"), (3.0, "three")])?;
    assert_eq!(added, 2);
    let ranked: Vec<(String, f64)> = con.zrange_withscores("z", 0, -1)?;
    assert_eq!(
        ranked,
        vec![
            ("one".to_string(), 1.0),
            ("two".to_string(), 2.5),
            ("three".to_string(), 3.0)
        ]
    );
    let score: Option<f64> = con.zscore("z", "two")?;
    assert_eq!(score, Some(2.5));
    let rank: Option<usize> = con.zrank("z", "three")?;
    assert_eq!(rank, Some(2));
    let rank: Option<usize> = con.zrank("z", "nobody")?;
    assert_eq!(rank, None);
    let score: f64 = con.zincr("z", "one", 10)?;
    assert_eq!(score, 11.0);
    let card: usize = con.zcard("z")?;
    assert_eq!(card, 3);

    // Expiry.
    let () = con.set("e:k", "v")?;
    let set: bool = con.expire("e:k", 100)?;
    assert!(set);
    let ttl: i64 = con.ttl("e:k")?;
    assert!((99..=100).contains(&ttl), "[{model}] TTL {ttl}");
    let pttl: i64 = con.pttl("e:k")?;
    assert!((98_000..=100_000).contains(&pttl), "[{model}] PTTL {pttl}");
    let persisted: bool = con.persist("e:k")?;
    assert!(persisted);
    let ttl: i64 = con.ttl("e:k")?;
    assert_eq!(ttl, -1);
    let ttl: i64 = con.ttl("e:missing")?;
    assert_eq!(ttl, -2);
    let () = con.pset_ex("e:short", "v", 50)?;
    let there: bool = con.exists("e:short")?;
    assert!(there);
    thread::sleep(Duration::from_millis(100));
    let gone: Option<String> = con.get("e:short")?;
    assert_eq!(gone, None, "[{model}] a PX 50 key after 100 ms");
    let there: bool = con.exists("e:short")?;
    assert!(!there);

    // Pipelining.
    let (n, got, len, ranked): (i64, String, usize, Vec<String>) = redis::pipe()
        .cmd("SET")
        .arg("p:n")
        .arg(1)
        .ignore()
        .incr("p:n", 41)
        .get("p:n")
        .rpush("p:l", &["a", "b", "c"])
        .lrange("p:l", 0, -1)
        .query(&mut con)?;
    assert_eq!((n, got.as_str(), len), (42, "42", 3));
    assert_eq!(ranked, ["a", "b", "c"]);
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..1000 {
        p.get(format!("p:{i}"));
    }
    let values: Vec<i64> = p.query(&mut con)?;
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());

    // The keys are all there. KEYS skips expired keys; DBSIZE, as in
    // Redis, also counts an expired key that active expiry has not
    // reclaimed yet (the PX 50 key above), so it may say one more.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con)?;
    assert_eq!(keys.len(), 1000 + 12, "[{model}] KEYS *");
    let size: i64 = redis::cmd("DBSIZE").query(&mut con)?;
    assert!((1012..=1013).contains(&size), "[{model}] DBSIZE {size}");
    Ok(())
}

#[test]
fn redis_rs_client() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        if let Err(e) = redis_rs_session(&s) {
            panic!("[{model}] redis-rs: {e}; stderr:\n{}", s.stderr());
        }
        s.assert_healthy();
        s.assert_no_panic();
    });
}
