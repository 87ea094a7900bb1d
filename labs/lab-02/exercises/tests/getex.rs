//! Checks exercise `getex`: your function called directly on a keyspace,
//! then registered in real servers (every model) as `MYGETEX` (lab-02 has
//! its own `GETEX` built in) and driven over TCP, beside the server's own
//! GETEX on the same inputs, then across a restart from the append-only
//! file.

use std::thread;
use std::time::Duration;

use kit::testutil::TempDir;
use lab_02::client::Client;
use lab_02::cmd;
use lab_02::config::{Config, FsyncPolicy, Model};
use lab_02::db::{self, Db, Hasher, unix_ms};
use lab_02::resp::{self, Frame, Limits};
use lab_02::server::{self, Server};
use lab_02_exercises::getex::getex;

// ---------------------------------------------------------------------------
// Called directly: exact replies and exact log records.
// ---------------------------------------------------------------------------

/// Runs a built-in command (SET, PTTL, …) on `db`.
fn run(db: &mut Db<'_>, args: &[&[u8]]) -> Vec<u8> {
    let spec = cmd::lookup(args[0]).expect("a lab-02 command");
    let (mut out, mut log) = (Vec::new(), cmd::Log::new(true));
    cmd::execute(db, spec, args, &mut out, &mut log);
    out
}

/// Calls your `getex` with `line`'s words: (reply, log).
fn call(db: &mut Db<'_>, line: &str) -> (Vec<u8>, Vec<u8>) {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    let (mut out, mut log) = (Vec::new(), cmd::Log::new(true));
    getex(db, &args, &mut out, &mut log);
    (out, log.bytes().to_vec())
}

/// The records in a log buffer, each as its arguments.
fn records(log: &[u8]) -> Vec<Vec<String>> {
    let limits = Limits::default();
    let (mut ranges, mut scratch) = (Vec::new(), Vec::new());
    let mut at = 0;
    let mut all = Vec::new();
    while at < log.len() {
        assert_eq!(
            log[at],
            b'*',
            "the log must hold RESP multibulk requests, found {:?}",
            String::from_utf8_lossy(&log[at..])
        );
        match resp::parse_request(&log[at..], &limits, &mut ranges, &mut scratch) {
            Ok(Some(n)) => {
                let rest = &log[at..];
                all.push(
                    ranges
                        .iter()
                        .map(|r| String::from_utf8_lossy(r.slice(rest, &scratch)).into_owned())
                        .collect(),
                );
                at += n;
            }
            other => panic!(
                "the log is not a sequence of complete RESP requests ({other:?}): {:?}",
                String::from_utf8_lossy(log)
            ),
        }
    }
    all
}

/// `PTTL key` on `db`, as a number.
fn pttl_of(db: &mut Db<'_>, key: &[u8]) -> i64 {
    let reply = text(&run(db, &[b"PTTL", key]));
    reply
        .strip_prefix(':')
        .and_then(|r| r.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("PTTL replied {reply:?}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs lab-02's own GETEX with `line`'s words: (reply, log).
fn builtin(db: &mut Db<'_>, line: &str) -> (Vec<u8>, Vec<u8>) {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    let spec = cmd::lookup(b"getex").expect("lab-02 has GETEX built in");
    let (mut out, mut log) = (Vec::new(), cmd::Log::new(true));
    cmd::execute(db, spec, &args, &mut out, &mut log);
    (out, log.bytes().to_vec())
}

#[test]
fn replies_and_logs_like_the_servers_own_getex() {
    // Two keyspaces set up the same way: yours runs on one, lab-02's
    // GETEX on the other. Only inputs whose log holds no clock reading.
    let hasher = Hasher::default();
    let (mut mine, mut theirs) = (db::new_store(&hasher, 1), db::new_store(&hasher, 1));
    let (mut mine, mut theirs) = (Db::new(&mut mine, &hasher), Db::new(&mut theirs, &hasher));
    for db in [&mut mine, &mut theirs] {
        run(db, &[b"SET", b"k", b"hello"]);
        run(db, &[b"SET", b"t", b"v", b"PX", b"100000"]);
        run(db, &[b"RPUSH", b"list", b"a"]);
    }
    for line in [
        "GETEX k",
        "GETEX nosuch",
        "GETEX nosuch EX abc",
        "GETEX k PERSIST",
        "GETEX t PERSIST",
        "GETEX t PERSIST",
        "GETEX k EX 10 EX",
        "GETEX k FOO",
        "GETEX k PERSIST EX 10",
        "GETEX k EX 10 PX 10",
        "GETEX k EX abc",
        "GETEX k EX 0",
        "GETEX k PXAT 0",
        "GETEX k EX 9223372036854775807",
        "GETEX list",
        "GETEX list EX abc",
        "GETEX list FOO",
        "GETEX k EXAT 1",
        "GETEX k",
    ] {
        let (out, log) = call(&mut mine, line);
        let (want_out, want_log) = builtin(&mut theirs, line);
        assert_eq!(
            text(&out),
            text(&want_out),
            "`{line}`: your reply, then lab-02's GETEX's"
        );
        assert_eq!(
            text(&log),
            text(&want_log),
            "`{line}`: what you logged, then what lab-02's GETEX logs"
        );
    }
}

#[test]
fn replies_and_logs_when_called_directly() {
    let hasher = Hasher::default();
    let mut store = db::new_store(&hasher, 1);
    let mut db = Db::new(&mut store, &hasher);
    run(&mut db, &[b"SET", b"k", b"hello"]);
    let value = "$5\r\nhello\r\n";

    let (out, log) = call(&mut db, "GETEX k");
    assert_eq!(text(&out), value, "GETEX k replies the value like GET");
    assert_eq!(text(&log), "", "GETEX k only reads: log nothing");

    let (out, log) = call(&mut db, "GETEX nosuch PX 100");
    assert_eq!(text(&out), "$-1\r\n", "GETEX of a missing key replies nil");
    assert_eq!(text(&log), "", "GETEX of a missing key logs nothing");

    let (out, log) = call(&mut db, "GETEX k PERSIST");
    assert_eq!(text(&out), value, "GETEX k PERSIST replies the value");
    assert_eq!(
        text(&log),
        "",
        "PERSIST of a key without a TTL changes nothing: log nothing"
    );

    let before = unix_ms();
    let (out, log) = call(&mut db, "GETEX k PX 100000");
    let after = unix_ms();
    assert_eq!(text(&out), value, "GETEX k PX 100000 replies the value");
    let recs = records(&log);
    assert!(
        recs.len() == 1 && recs[0].len() == 3 && recs[0][0].eq_ignore_ascii_case("pexpireat"),
        "GETEX k PX 100000 must log one `PEXPIREAT k <unix-ms>`, logged {recs:?}"
    );
    assert_eq!(recs[0][1], "k", "the key of the PEXPIREAT record");
    let at: u64 = recs[0][2].parse().expect("a number of milliseconds");
    assert!(
        (before + 100_000..=after + 100_000).contains(&at),
        "GETEX k PX 100000 at Unix ms {before}..={after} must log PEXPIREAT k {}..={}, logged {at}",
        before + 100_000,
        after + 100_000
    );
    let pttl = pttl_of(&mut db, b"k");
    assert!(
        (90_000..=100_000).contains(&pttl),
        "after GETEX k PX 100000, PTTL k should be about 100000, got {pttl}"
    );

    let (out, log) = call(&mut db, "GETEX k");
    assert_eq!(text(&out), value);
    assert_eq!(text(&log), "", "GETEX k without option logs nothing");
    let pttl = pttl_of(&mut db, b"k");
    assert!(
        (90_000..=100_000).contains(&pttl),
        "GETEX k without option must keep the TTL, PTTL k is {pttl}"
    );

    let (out, log) = call(&mut db, "GETEX k PERSIST");
    assert_eq!(text(&out), value);
    assert_eq!(
        text(&log),
        "*2\r\n$7\r\nPERSIST\r\n$1\r\nk\r\n",
        "GETEX k PERSIST on a key with a TTL must log `PERSIST k`"
    );
    assert_eq!(pttl_of(&mut db, b"k"), -1, "PTTL k");

    let secs = unix_ms() / 1000 + 1000;
    let (_, log) = call(&mut db, &format!("GETEX k EXAT {secs}"));
    assert_eq!(
        records(&log),
        vec![vec![
            "PEXPIREAT".to_owned(),
            "k".to_owned(),
            (secs * 1000).to_string()
        ]],
        "GETEX k EXAT {secs} must log PEXPIREAT k {}",
        secs * 1000
    );

    let (out, log) = call(&mut db, "GETEX k PXAT 1");
    assert_eq!(
        text(&out),
        value,
        "GETEX k PXAT 1 still replies the value it deletes"
    );
    assert_eq!(
        text(&log),
        "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n",
        "a time already past deletes the key: log `DEL k`"
    );
    assert!(
        !db.contains(b"k"),
        "after GETEX k PXAT 1 the key must be gone"
    );

    run(&mut db, &[b"SET", b"k", b"hello"]);
    for (line, error) in [
        ("GETEX k PX", "-ERR syntax error\r\n"),
        ("GETEX k NOPE", "-ERR syntax error\r\n"),
        (
            "GETEX k PX abc",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "GETEX k PX 0",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
    ] {
        let (out, log) = call(&mut db, line);
        assert_eq!(text(&out), error, "{line}");
        assert_eq!(text(&log), "", "{line} fails: log nothing");
    }
    assert_eq!(pttl_of(&mut db, b"k"), -1, "PTTL k");
}

// ---------------------------------------------------------------------------
// In real servers, every model.
// ---------------------------------------------------------------------------

fn start(config: Config) -> (Server, Client) {
    lab_02_exercises::install();
    let model = config.model.name();
    let server = server::start(config).unwrap_or_else(|e| panic!("{model}: cannot start: {e:#}"));
    let client = Client::connect(server.addr()).expect("connect");
    client
        .set_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    (server, client)
}

fn stop(server: Server) {
    server.shutdown();
    server.wait().expect("the server stopped with an error");
}

/// Runs `test` against a fresh server of each model.
fn each_model(test: impl Fn(&str, &mut Client)) {
    for model in Model::ALL {
        let (server, mut client) = start(Config {
            threads: Some(2),
            ..Config::ephemeral(model)
        });
        test(model.name(), &mut client);
        drop(client);
        stop(server);
    }
}

fn send(c: &mut Client, model: &str, line: &str) -> Frame {
    c.cmd_str(line).unwrap_or_else(|e| {
        panic!("{model}: `{line}` got no reply ({e}); did the command panic? See the server's output above")
    })
}

fn pttl(c: &mut Client, model: &str, key: &str) -> i64 {
    send(c, model, &format!("PTTL {key}"))
        .as_int()
        .expect("PTTL replies an integer")
}

fn assert_pttl(
    c: &mut Client,
    model: &str,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    after: &str,
) {
    let got = pttl(c, model, key);
    assert!(
        range.contains(&got),
        "{model}: after `{after}`, PTTL {key} should be in {range:?}, got {got}"
    );
}

/// The server's PTTL of `key`, with a TTL rounded to whole seconds (the
/// two commands run a few milliseconds apart).
fn ttl_class(c: &mut Client, model: &str, key: &str) -> i64 {
    match pttl(c, model, key) {
        n if n < 0 => n,
        n => (n + 500) / 1000,
    }
}

#[test]
fn matches_the_servers_own_getex() {
    each_model(|m, c| {
        let at_s = unix_ms() / 1000 + 300;
        let at_ms = unix_ms() + 40_000;
        for options in [
            String::new(),
            "EX 100".into(),
            "px 50000".into(),
            format!("EXAT {at_s}"),
            format!("PXAT {at_ms}"),
            "EX 10 EX 20".into(),
            "PERSIST".into(),
            "PXAT 1".into(),
            "EXAT 1".into(),
            "EX".into(),
            "FOO".into(),
            "EX 10 PERSIST".into(),
            "EX abc".into(),
            "PX 1.5".into(),
            "EX 0".into(),
            "PXAT 0".into(),
        ] {
            for setup in ["SET {} v", "SET {} v EX 500", "RPUSH {} a", ""] {
                for key in ["mine", "theirs"] {
                    send(c, m, &format!("DEL {key}"));
                    if !setup.is_empty() {
                        send(c, m, &setup.replace("{}", key));
                    }
                }
                let yours = send(c, m, &format!("MYGETEX mine {options}"));
                let server = send(c, m, &format!("GETEX theirs {options}"));
                let case = format!("after `{setup}`, `GETEX key {options}`");
                assert_eq!(
                    yours, server,
                    "{m}: {case}: your reply (left), the server's GETEX's (right)"
                );
                assert_eq!(
                    send(c, m, "EXISTS mine"),
                    send(c, m, "EXISTS theirs"),
                    "{m}: {case}: whether the key still exists"
                );
                assert_eq!(
                    ttl_class(c, m, "mine"),
                    ttl_class(c, m, "theirs"),
                    "{m}: {case}: the key's TTL in seconds (-1: none, -2: no key)"
                );
            }
        }
    });
}

#[test]
fn reads_like_get() {
    each_model(|m, c| {
        send(c, m, "SET k hello");
        assert_eq!(
            send(c, m, "MYGETEX k"),
            Frame::bulk("hello"),
            "{m}: GETEX k"
        );
        assert_eq!(
            send(c, m, "mygetex k"),
            Frame::bulk("hello"),
            "{m}: mygetex k (any case)"
        );
        assert_eq!(pttl(c, m, "k"), -1, "{m}: GETEX k must not give k a TTL");
        assert_eq!(
            send(c, m, "MYGETEX nosuch"),
            Frame::Bulk(None),
            "{m}: GETEX of a missing key is nil"
        );
        send(c, m, "RPUSH list a");
        for line in ["MYGETEX list", "MYGETEX list PX 100"] {
            let reply = send(c, m, line);
            assert!(
                reply.as_error().is_some_and(|e| e.starts_with("WRONGTYPE")),
                "{m}: `{line}` on a list should be the WRONGTYPE error, got {reply:?}"
            );
        }
        assert_eq!(pttl(c, m, "list"), -1, "{m}: a failed GETEX changes no TTL");
    });
}

#[test]
fn sets_and_removes_the_ttl() {
    each_model(|m, c| {
        send(c, m, "SET k v");
        assert_eq!(
            send(c, m, "MYGETEX k EX 100"),
            Frame::bulk("v"),
            "{m}: GETEX k EX 100"
        );
        assert_pttl(c, m, "k", 90_000..=100_000, "MYGETEX k EX 100");
        send(c, m, "MYGETEX k px 50000");
        assert_pttl(c, m, "k", 40_000..=50_000, "MYGETEX k px 50000");
        send(c, m, "MYGETEX k");
        assert_pttl(
            c,
            m,
            "k",
            40_000..=50_000,
            "MYGETEX k (no option keeps the TTL)",
        );
        let at_s = unix_ms() / 1000 + 200;
        send(c, m, &format!("MYGETEX k EXAT {at_s}"));
        assert_pttl(
            c,
            m,
            "k",
            190_000..=200_000,
            &format!("MYGETEX k EXAT {at_s} (now + 200 s)"),
        );
        let at_ms = unix_ms() + 30_000;
        send(c, m, &format!("MYGETEX k PXAT {at_ms}"));
        assert_pttl(
            c,
            m,
            "k",
            20_000..=30_000,
            &format!("MYGETEX k PXAT {at_ms} (now + 30 s)"),
        );
        send(c, m, "MYGETEX k EX 10 EX 20");
        assert_pttl(
            c,
            m,
            "k",
            10_001..=20_000,
            "MYGETEX k EX 10 EX 20 (the last one wins)",
        );
        assert_eq!(
            send(c, m, "MYGETEX k PERSIST"),
            Frame::bulk("v"),
            "{m}: GETEX k PERSIST"
        );
        assert_eq!(
            pttl(c, m, "k"),
            -1,
            "{m}: after GETEX k PERSIST, k has no TTL"
        );
        assert_eq!(
            send(c, m, "MYGETEX k PERSIST"),
            Frame::bulk("v"),
            "{m}: PERSIST again"
        );
        assert_eq!(pttl(c, m, "k"), -1);
    });
}

#[test]
fn past_times_delete_the_key() {
    each_model(|m, c| {
        for option in ["PXAT 1", "EXAT 1"] {
            send(c, m, "SET k v");
            assert_eq!(
                send(c, m, &format!("MYGETEX k {option}")),
                Frame::bulk("v"),
                "{m}: GETEX k {option} replies the value"
            );
            assert_eq!(
                send(c, m, "EXISTS k"),
                Frame::Integer(0),
                "{m}: GETEX k {option} (a time long past) deletes k"
            );
        }
        send(c, m, "SET k v");
        send(c, m, "MYGETEX k PX 1");
        thread::sleep(Duration::from_millis(20));
        assert_eq!(
            send(c, m, "GET k"),
            Frame::Bulk(None),
            "{m}: 20 ms after GETEX k PX 1"
        );
    });
}

#[test]
fn errors_like_redis() {
    each_model(|m, c| {
        send(c, m, "SET k v");
        let syntax = Frame::error("ERR syntax error");
        let not_int = Frame::error("ERR value is not an integer or out of range");
        let invalid = Frame::error("ERR invalid expire time in 'getex' command");
        for (line, want) in [
            ("MYGETEX k EX", &syntax),
            ("MYGETEX k PERSIST 10", &syntax),
            ("MYGETEX k FOO", &syntax),
            ("MYGETEX k EX 10 PX 10", &syntax),
            ("MYGETEX k PERSIST EX 10", &syntax),
            ("MYGETEX k EX 10 PERSIST", &syntax),
            ("MYGETEX nosuch EX", &syntax),
            ("MYGETEX k EX abc", &not_int),
            ("MYGETEX k PX 1.5", &not_int),
            ("MYGETEX k EX 0", &invalid),
            ("MYGETEX k EX -1", &invalid),
            ("MYGETEX k PXAT 0", &invalid),
            ("MYGETEX k EX 9223372036854775807", &invalid),
            ("MYGETEX k PX 9223372036854775807", &invalid),
        ] {
            assert_eq!(&send(c, m, line), want, "{m}: {line}");
        }
        assert_eq!(
            pttl(c, m, "k"),
            -1,
            "{m}: failed GETEX commands changed k's TTL"
        );
        assert_eq!(
            send(c, m, "MYGETEX nosuch EX abc"),
            Frame::Bulk(None),
            "{m}: Redis checks the key before the time: GETEX of a missing key is nil even with a bad time"
        );
        assert_eq!(
            send(c, m, "MYGETEX"),
            Frame::error("ERR wrong number of arguments for 'mygetex' command"),
            "{m}: MYGETEX without a key (the server checks the arity)"
        );
    });
}

// ---------------------------------------------------------------------------
// Across a restart: the append-only file.
// ---------------------------------------------------------------------------

#[test]
fn ttl_changes_survive_a_restart() {
    for model in Model::ALL {
        let m = model.name();
        let dir = TempDir::new(&format!("lab-02-exercises-getex-aof-{m}"))
            .expect("a temporary directory");
        let file = dir.join("appendonly.aof");
        let config = Config {
            threads: Some(2),
            appendonly: true,
            appendfsync: FsyncPolicy::Always,
            appendfilename: file.clone(),
            ..Config::ephemeral(model)
        };

        let (server, mut c) = start(config.clone());
        let before = unix_ms();
        for line in [
            "SET a v",
            "MYGETEX a PX 60000",
            "SET b v",
            "MYGETEX b PX 60000",
            "MYGETEX b PERSIST",
            "SET c v",
            "MYGETEX c PX 1",
            "SET d v",
            "MYGETEX d PXAT 1",
            "SET e v",
            "MYGETEX e",
            "MYGETEX e PERSIST",
            "MYGETEX nosuch PX 100",
            "MYGETEX e PX abc",
        ] {
            let reply = send(&mut c, m, line);
            assert!(
                !reply.is_nil() || line.contains("nosuch"),
                "{m}: {line}: {reply:?}"
            );
        }
        let after = unix_ms();
        thread::sleep(Duration::from_millis(20));
        drop(c);
        stop(server);

        let log = std::fs::read(&file).expect("the append-only file");
        let recs = records(&log);
        let names: Vec<String> = recs.iter().map(|r| r[0].to_ascii_uppercase()).collect();
        assert_eq!(
            names,
            [
                "SET",
                "PEXPIREAT",
                "SET",
                "PEXPIREAT",
                "PERSIST",
                "SET",
                "PEXPIREAT",
                "SET",
                "DEL",
                "SET"
            ],
            "{m}: the commands in the append-only file; GETEX must be logged as PEXPIREAT, \
             PERSIST or DEL, and not at all when it changes nothing. The file: {recs:?}"
        );
        let at: u64 = recs[1][2].parse().expect("PEXPIREAT's time");
        assert!(
            (before + 60_000..=after + 60_000).contains(&at),
            "{m}: GETEX a PX 60000 logged PEXPIREAT a {at}, not within now + 60000"
        );

        let (server, mut c) = start(config);
        assert_eq!(
            send(&mut c, m, "GET a"),
            Frame::bulk("v"),
            "{m}: a after restart"
        );
        assert_pttl(
            &mut c,
            m,
            "a",
            1..=60_000,
            "MYGETEX a PX 60000 and a restart",
        );
        assert_eq!(
            send(&mut c, m, "GET b"),
            Frame::bulk("v"),
            "{m}: b after restart"
        );
        assert_eq!(
            pttl(&mut c, m, "b"),
            -1,
            "{m}: GETEX b PERSIST must survive the restart"
        );
        assert_eq!(
            send(&mut c, m, "EXISTS c"),
            Frame::Integer(0),
            "{m}: c expired before the restart"
        );
        assert_eq!(
            send(&mut c, m, "EXISTS d"),
            Frame::Integer(0),
            "{m}: d was deleted by GETEX d PXAT 1"
        );
        assert_eq!(
            send(&mut c, m, "GET e"),
            Frame::bulk("v"),
            "{m}: e after restart"
        );
        assert_eq!(pttl(&mut c, m, "e"), -1, "{m}: e never had a TTL");
        drop(c);
        stop(server);
    }
}
