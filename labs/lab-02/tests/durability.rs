//! The append-only file, end to end, against each concurrency model:
//! SIGKILL loses no acknowledged write under `appendfsync always`, a torn
//! last record is cut and reported, damage in the middle refuses to start,
//! and a graceful stop (SIGTERM, SHUTDOWN, SIGINT) keeps everything.

// Helpers outside #[test] functions unwrap too (clippy.toml only covers
// the test functions themselves).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{ServerProc, TempDir, args, for_each_model, run_with_timeout, server_bin};
use lab_02::client::Client;
use lab_02::resp::{Frame, encode_command};

fn aof_args(path: &str, fsync: &'static str) -> Vec<String> {
    vec![
        "--appendonly".into(),
        "--appendfsync".into(),
        fsync.into(),
        "--appendfilename".into(),
        path.into(),
    ]
}

fn start(model: &str, args: &[String]) -> ServerProc {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ServerProc::start(model, &refs)
}

/// What one writer got acknowledged before the server died.
#[derive(Debug, Default)]
struct Acked {
    /// `i` of every `SET key:T:i i` that was answered `+OK`.
    sets: Vec<u64>,
    /// The last value an `INCR counter:T` returned.
    counter: i64,
    /// INCRs sent (acknowledged or not).
    incrs_sent: i64,
}

/// Writes one command at a time until the connection fails or `stop`.
fn writer(addr: SocketAddr, t: usize, stop: &AtomicBool) -> Acked {
    let mut acked = Acked::default();
    let Ok(mut c) = Client::connect(addr) else {
        return acked;
    };
    c.set_timeout(Some(Duration::from_secs(5))).unwrap();
    let counter = format!("counter:{t}");
    for i in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("key:{t}:{i}");
        match c.cmd(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]) {
            Ok(f) if f == Frame::simple("OK") => acked.sets.push(i),
            Ok(other) => panic!("SET {key} {i} replied {other:?}"),
            Err(_) => break,
        }
        acked.incrs_sent += 1;
        match c.cmd(&[b"INCR", counter.as_bytes()]) {
            Ok(Frame::Integer(n)) => {
                assert_eq!(
                    n, acked.incrs_sent,
                    "INCR {counter} (one writer per counter)"
                );
                acked.counter = n;
            }
            Ok(other) => panic!("INCR {counter} replied {other:?}"),
            Err(_) => break,
        }
    }
    acked
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    for_each_model(|model| {
        let dir = TempDir::new("kill9");
        let aof = dir.join("appendonly.aof");
        let args = aof_args(aof.to_str().unwrap(), "always");
        let mut s = start(model, &args);
        let addr = s.addr();
        let stop = AtomicBool::new(false);
        let acked: Vec<Acked> = thread::scope(|scope| {
            let writers: Vec<_> = (0..4)
                .map(|t| {
                    let stop = &stop;
                    scope.spawn(move || writer(addr, t, stop))
                })
                .collect();
            thread::sleep(Duration::from_millis(1500));
            // While the writers are still writing.
            let still_running = writers.iter().all(|w| !w.is_finished());
            s.kill9();
            stop.store(true, Ordering::Relaxed);
            let acked = writers.into_iter().map(|w| w.join().unwrap()).collect();
            assert!(still_running, "[{model}] a writer stopped before the kill");
            acked
        });
        s.assert_no_panic();
        drop(s);
        let total_sets: usize = acked.iter().map(|a| a.sets.len()).sum();
        assert!(total_sets > 0, "[{model}] no write was acknowledged");

        let s = start(model, &args);
        let mut c = s.client();
        for (t, a) in acked.iter().enumerate() {
            for batch in a.sets.chunks(500) {
                let cmds: Vec<Vec<Vec<u8>>> = batch
                    .iter()
                    .map(|i| args_of(&["GET", &format!("key:{t}:{i}")]))
                    .collect();
                let got = c.pipeline(&cmds).unwrap();
                for (i, g) in batch.iter().zip(got) {
                    assert_eq!(
                        g,
                        Frame::bulk(i.to_string()),
                        "[{model}] acknowledged SET key:{t}:{i} {i} after SIGKILL"
                    );
                }
            }
            let counter = match c.cmd_str(&format!("GET counter:{t}")).unwrap() {
                Frame::Bulk(Some(v)) => String::from_utf8(v).unwrap().parse::<i64>().unwrap(),
                Frame::Bulk(None) => 0,
                other => panic!("[{model}] GET counter:{t}: {other:?}"),
            };
            assert!(
                counter >= a.counter && counter <= a.incrs_sent,
                "[{model}] counter:{t} = {counter} after SIGKILL; acknowledged {}, sent {}",
                a.counter,
                a.incrs_sent
            );
            // Nothing past what was sent.
            let next = a.sets.last().map_or(0, |i| i + 2);
            assert_eq!(
                c.cmd_str(&format!("EXISTS key:{t}:{next}")).unwrap(),
                Frame::Integer(0),
                "[{model}] key:{t}:{next} was never written"
            );
        }
        let loaded = s.info_int("aof_loaded_commands");
        assert!(
            loaded >= total_sets as i64,
            "[{model}] aof_loaded_commands = {loaded}, {total_sets} SETs acknowledged"
        );
        eprintln!(
            "[{model}] SIGKILL under appendfsync always: {total_sets} SETs and {} INCRs \
             acknowledged, {loaded} commands loaded",
            acked.iter().map(|a| a.counter).sum::<i64>()
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

fn args_of(parts: &[&str]) -> Vec<Vec<u8>> {
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    args(&bytes)
}

fn get(c: &mut Client, key: &str) -> Frame {
    c.cmd(&[b"GET", key.as_bytes()]).unwrap()
}

#[test]
fn truncated_last_record_is_cut_and_reported() {
    const TAIL: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhel";
    for_each_model(|model| {
        let dir = TempDir::new("torn");
        let aof = dir.join("appendonly.aof");
        let args = aof_args(aof.to_str().unwrap(), "everysec");

        // A valid file, from a run.
        let mut s = start(model, &args);
        let mut c = s.client();
        for cmd in [
            "SET a 1",
            "SET b 2",
            "RPUSH l x y z",
            "INCR n",
            "INCR n",
            "HSET h f v",
            "SADD s m1 m2",
            "ZADD z 1.5 one",
            "DEL b",
        ] {
            assert!(!c.cmd_str(cmd).unwrap().is_error(), "[{model}] {cmd}");
        }
        drop(c);
        let status = s.terminate(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SIGTERM: exit {status}");
        let valid = std::fs::read(&aof).unwrap();
        assert!(!valid.is_empty(), "[{model}] the AOF is empty");

        // A torn last record.
        let mut torn = valid.clone();
        torn.extend_from_slice(TAIL);
        std::fs::write(&aof, &torn).unwrap();

        let mut s = start(model, &args);
        // stderr is read by its own thread: the warning, logged before the
        // listening line on stdout, may reach us a moment after it.
        let reported = common::wait_until(Duration::from_secs(5), || {
            let err = s.stderr().to_ascii_lowercase();
            err.contains("incomplete") || err.contains("truncat")
        });
        assert!(
            reported,
            "[{model}] the truncation is not reported on stderr:\n{}",
            s.stderr()
        );
        assert_eq!(
            s.info_int("aof_truncated_bytes"),
            TAIL.len() as i64,
            "[{model}] INFO aof_truncated_bytes"
        );
        assert!(s.info_int("aof_loaded_commands") > 0, "[{model}]");
        let mut c = s.client();
        assert_eq!(
            get(&mut c, "x"),
            Frame::Bulk(None),
            "[{model}] the torn SET x"
        );
        assert_eq!(get(&mut c, "a"), Frame::bulk("1"), "[{model}]");
        assert_eq!(get(&mut c, "b"), Frame::Bulk(None), "[{model}]");
        assert_eq!(get(&mut c, "n"), Frame::bulk("2"), "[{model}]");
        // Writes after the cut replay on the next start.
        assert_eq!(c.cmd_str("SET x world").unwrap(), Frame::simple("OK"));
        assert_eq!(c.cmd_str("SET c 3").unwrap(), Frame::simple("OK"));
        assert_eq!(c.cmd_str("RPUSH l w").unwrap(), Frame::Integer(4));
        drop(c);
        let status = s.terminate(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SIGTERM: exit {status}");
        s.assert_no_panic();

        let s = start(model, &args);
        assert_eq!(s.info_int("aof_truncated_bytes"), 0, "[{model}]");
        let mut c = s.client();
        assert_eq!(get(&mut c, "x"), Frame::bulk("world"), "[{model}]");
        assert_eq!(get(&mut c, "c"), Frame::bulk("3"), "[{model}]");
        assert_eq!(get(&mut c, "a"), Frame::bulk("1"), "[{model}]");
        assert_eq!(
            c.cmd_str("LRANGE l 0 -1").unwrap(),
            Frame::array(["x", "y", "z", "w"].map(Frame::bulk).to_vec()),
            "[{model}]"
        );
        assert_eq!(
            c.cmd_str("HGET h f").unwrap(),
            Frame::bulk("v"),
            "[{model}]"
        );
        assert_eq!(
            c.cmd_str("SCARD s").unwrap(),
            Frame::Integer(2),
            "[{model}]"
        );
        assert_eq!(
            c.cmd_str("ZSCORE z one").unwrap(),
            Frame::bulk("1.5"),
            "[{model}]"
        );
        assert_eq!(c.cmd_str("DBSIZE").unwrap(), Frame::Integer(8), "[{model}]");
        s.assert_no_panic();
    });
}

/// A log of `n` SETs, written by hand.
fn records(keys: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in keys {
        let key = format!("k{i}");
        let value = format!("v{i}");
        encode_command(&[b"SET", key.as_bytes(), value.as_bytes()], &mut out);
    }
    out
}

/// The numbers that follow `byte ` in `text`.
fn byte_offsets(text: &str) -> Vec<u64> {
    text.match_indices("byte ")
        .filter_map(|(at, m)| {
            let digits: String = text[at + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// Runs the server on `file`, which must refuse to start; returns its
/// stderr.
fn refuses_to_start(model: &str, file: &std::path::Path) -> String {
    let mut cmd = Command::new(server_bin());
    cmd.args(["--model", model, "--port", "0"])
        .args(aof_args(file.to_str().unwrap(), "everysec"))
        .env("RUST_LOG", "info");
    let ran = run_with_timeout(&mut cmd, None, Duration::from_secs(15));
    assert!(
        !ran.status.success(),
        "[{model}] started on a damaged file: {ran:?}"
    );
    assert!(
        !ran.stdout.contains("listening"),
        "[{model}] listened on a damaged file: {ran:?}"
    );
    assert!(
        !ran.stderr.contains("panicked"),
        "[{model}] panicked: {}",
        ran.stderr
    );
    ran.stderr
}

#[test]
fn corrupt_middle_refuses_to_start() {
    for_each_model(|model| {
        let dir = TempDir::new("corrupt");
        let aof = dir.join("appendonly.aof");

        // Garbage between two records.
        let head = records(0..10);
        let mut file = head.clone();
        file.extend_from_slice(b"this is not a record\r\n");
        file.extend(records(10..20));
        std::fs::write(&aof, &file).unwrap();
        let err = refuses_to_start(model, &aof);
        assert!(
            byte_offsets(&err).contains(&(head.len() as u64)),
            "[{model}] the error should name byte {}:\n{err}",
            head.len()
        );
        assert_eq!(
            std::fs::read(&aof).unwrap(),
            file,
            "[{model}] a refused file must be left as it was"
        );

        // A damaged length inside a record in the middle.
        let mut bad = records(5..6);
        let at = bad.windows(3).position(|w| w == b"$2\r").unwrap();
        bad[at + 1] = b'x';
        let mut file = head.clone();
        file.extend_from_slice(&bad);
        file.extend(records(10..20));
        std::fs::write(&aof, &file).unwrap();
        let err = refuses_to_start(model, &aof);
        let range = head.len() as u64..=(head.len() + at + 1) as u64;
        assert!(
            byte_offsets(&err).iter().any(|o| range.contains(o)),
            "[{model}] the error should name a byte in {range:?}:\n{err}"
        );
        assert_eq!(std::fs::read(&aof).unwrap(), file, "[{model}]");
    });
}

/// Writes `k{i}` = `v{i}` for `keys`, pipelined.
fn write_keys(c: &mut Client, keys: std::ops::Range<usize>) {
    let cmds: Vec<Vec<Vec<u8>>> = keys
        .map(|i| args_of(&["SET", &format!("k{i}"), &format!("v{i}")]))
        .collect();
    for batch in cmds.chunks(250) {
        for reply in c.pipeline(batch).unwrap() {
            assert_eq!(reply, Frame::simple("OK"));
        }
    }
}

/// Checks `k{i}` = `v{i}` for `keys`, and the key count.
fn check_keys(s: &ServerProc, keys: std::ops::Range<usize>, what: &str) {
    let model = s.model();
    let mut c = s.client();
    assert_eq!(
        c.cmd_str("DBSIZE").unwrap(),
        Frame::Integer(keys.len() as i64),
        "[{model}] DBSIZE {what}"
    );
    let names: Vec<String> = keys.clone().map(|i| format!("k{i}")).collect();
    let mut mget: Vec<&[u8]> = vec![b"MGET"];
    mget.extend(names.iter().map(|n| n.as_bytes()));
    let got = c.cmd(&mget).unwrap();
    let want = Frame::array(keys.map(|i| Frame::bulk(format!("v{i}"))).collect());
    assert!(got == want, "[{model}] the keys {what} differ");
}

#[test]
fn graceful_stops_keep_everything() {
    for_each_model(|model| {
        let dir = TempDir::new("graceful");
        let aof = dir.join("appendonly.aof");
        let args = aof_args(aof.to_str().unwrap(), "no");

        let mut s = start(model, &args);
        write_keys(&mut s.client(), 0..1000);
        let status = s.terminate(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SIGTERM: exit {status}");
        s.assert_no_panic();

        let mut s = start(model, &args);
        check_keys(&s, 0..1000, "after SIGTERM");
        let mut c = s.client();
        write_keys(&mut c, 1000..2000);
        // Redis closes the connection without a reply on success.
        match c.cmd_str("SHUTDOWN") {
            Ok(f) if f == Frame::simple("OK") => {}
            Ok(other) => panic!("[{model}] SHUTDOWN replied {other:?}"),
            Err(_) => {}
        }
        let status = s.expect_exit(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SHUTDOWN: exit {status}");
        s.assert_no_panic();

        let mut s = start(model, &args);
        check_keys(&s, 0..2000, "after SHUTDOWN");
        write_keys(&mut s.client(), 2000..2500);
        s.signal("INT");
        let status = s.expect_exit(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SIGINT: exit {status}");
        s.assert_no_panic();

        let s = start(model, &args);
        check_keys(&s, 0..2500, "after SIGINT");
        s.assert_no_panic();
    });
}

/// Everything in the keyspace, as text: each key with its type, contents
/// (sorted where Redis's order is unspecified) and whether it has a TTL.
fn dump(c: &mut Client) -> Vec<String> {
    let keys = match c.cmd_str("KEYS *").unwrap() {
        Frame::Array(Some(keys)) => keys,
        other => panic!("KEYS *: {other:?}"),
    };
    let mut names: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| k.as_bulk().expect("a key").to_vec())
        .collect();
    names.sort();
    let text = |f: &Frame| match f {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    };
    let items = |f: Frame| -> Vec<String> {
        match f {
            Frame::Array(Some(items)) => items.iter().map(text).collect(),
            other => panic!("expected an array: {other:?}"),
        }
    };
    names
        .iter()
        .map(|key| {
            let name = String::from_utf8_lossy(key).into_owned();
            let kind = c.cmd(&[b"TYPE", key]).unwrap();
            let kind = kind.as_str().unwrap_or("?").to_string();
            let contents = match kind.as_str() {
                "string" => vec![text(&c.cmd(&[b"GET", key]).unwrap())],
                "list" => items(c.cmd(&[b"LRANGE", key, b"0", b"-1"]).unwrap()),
                "set" => {
                    let mut m = items(c.cmd(&[b"SMEMBERS", key]).unwrap());
                    m.sort();
                    m
                }
                "hash" => {
                    let flat = items(c.cmd(&[b"HGETALL", key]).unwrap());
                    let mut pairs: Vec<String> = flat
                        .chunks(2)
                        .map(|p| format!("{}={}", p[0], p[1]))
                        .collect();
                    pairs.sort();
                    pairs
                }
                "zset" => items(
                    c.cmd(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])
                        .unwrap(),
                ),
                other => vec![format!("type {other}")],
            };
            let ttl = match c.cmd(&[b"TTL", key]).unwrap() {
                Frame::Integer(-1) => "no ttl".to_string(),
                Frame::Integer(n) if n > 0 => "ttl".to_string(),
                other => format!("ttl {other:?}"),
            };
            format!("{name} ({kind}, {ttl}): {}", contents.join(" "))
        })
        .collect()
}

/// Every kind of write, some of them random (SPOP) or relative in time
/// (EX, EXPIRE), from four clients at once on shared keys, then a stop
/// and a restart: the replayed keyspace is the one that was stopped.
#[test]
fn replay_rebuilds_the_same_keyspace() {
    const SCRIPT: &[&str] = &[
        "SET s:plain hello",
        "APPEND s:plain !",
        "SETRANGE s:plain 1 EY",
        "SET s:ex v EX 1000",
        "SET s:px v PX 600000",
        "SETEX s:setex 1000 v",
        "PSETEX s:psetex 1000000 v",
        "SET s:short v PX 300",
        "SET s:kept v EX 1000",
        "PERSIST s:kept",
        "SET s:ttl v",
        "EXPIRE s:ttl 1000",
        "SET s:gone v",
        "EXPIRE s:gone 0",
        "SET s:getdel v",
        "GETDEL s:getdel",
        "SET s:nx first NX",
        "SET s:nx second NX",
        "SET s:xx never XX",
        "INCRBYFLOAT s:float 0.1",
        "INCRBYFLOAT s:float 0.2",
        "INCRBYFLOAT s:float 1e3",
        "DECRBY s:int 17",
        "MSET m:a 1 m:b 2 m:c 3 m:d 4",
        "DEL m:b m:nothere",
        "UNLINK m:c",
        "RPUSH l:list a b c d e f g",
        "LPUSH l:list z",
        "LSET l:list 1 A",
        "LREM l:list 1 c",
        "LTRIM l:list 0 4",
        "RPOP l:list",
        "LPUSHX l:none x",
        "HSET h:hash f1 1 f2 2 f3 3",
        "HINCRBY h:hash f1 10",
        "HINCRBYFLOAT h:hash f4 2.5",
        "HDEL h:hash f2",
        "HSETNX h:hash f3 no",
        "SADD t:set a b c d e f g h i j k l m n o p",
        "SPOP t:set",
        "SPOP t:set 3",
        "SREM t:set a",
        "ZADD z:set 1 a 2 b 3 c 4 d 5 e",
        "ZINCRBY z:set 10 a",
        "ZADD z:set XX GT CH 1 b 9 c",
        "ZADD z:set NX 100 b 100 f",
        "ZREM z:set d",
        "ZPOPMIN z:set",
        "ZPOPMAX z:set",
    ];
    for_each_model(|model| {
        let dir = TempDir::new("replay");
        let aof = dir.join("appendonly.aof");
        let args = aof_args(aof.to_str().unwrap(), "everysec");
        let mut s = start(model, &args);
        let mut c = s.client();
        for cmd in SCRIPT {
            let reply = c.cmd_str(cmd).unwrap();
            assert!(!reply.is_error(), "[{model}] {cmd}: {reply:?}");
        }
        // Four clients on the same keys at once.
        let addr = s.addr();
        thread::scope(|scope| {
            for t in 0..4 {
                scope.spawn(move || {
                    let mut c = Client::connect(addr).unwrap();
                    for i in 0..150 {
                        let v = format!("{t}:{i}");
                        let field = format!("f{}", i % 5);
                        let member = format!("m{}", i % 9);
                        let cmds = [
                            args_of(&["SET", "c:last", &v]),
                            args_of(&["RPUSH", "c:list", &v]),
                            args_of(&["INCR", "c:count"]),
                            args_of(&["HINCRBY", "c:hash", &field, "1"]),
                            args_of(&["ZINCRBY", "c:zset", "1", &member]),
                            args_of(&["SADD", "c:set", &v]),
                            args_of(&["SPOP", "c:set"]),
                            args_of(&["MSET", &format!("c:own:{t}"), &v, "c:shared", &v]),
                            args_of(&["LPOP", "c:list"]),
                            args_of(&["RPUSH", "c:list", &v, &v]),
                        ];
                        for reply in c.pipeline(&cmds).unwrap() {
                            assert!(!reply.is_error(), "{reply:?}");
                        }
                    }
                });
            }
        });
        thread::sleep(Duration::from_millis(400));
        let before = dump(&mut c);
        assert!(before.len() >= 20, "[{model}] {before:#?}");
        assert!(
            !before.iter().any(|k| k.starts_with("s:short ")),
            "[{model}] a PX 300 key outlived 400 ms"
        );
        drop(c);
        let status = s.terminate(Duration::from_secs(10));
        assert!(status.success(), "[{model}] SIGTERM: exit {status}");
        s.assert_no_panic();

        let s = start(model, &args);
        let after = dump(&mut s.client());
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b, a, "[{model}] a key differs after the replay");
        }
        assert_eq!(
            before.len(),
            after.len(),
            "[{model}] {before:#?}\n{after:#?}"
        );
        s.assert_no_panic();
    });
}

/// A graceful stop does not wait for idle clients, nor for one that is
/// in the middle of a request.
#[test]
fn graceful_stop_with_clients_connected() {
    for_each_model(|model| {
        let dir = TempDir::new("busy-stop");
        let aof = dir.join("appendonly.aof");
        let args = aof_args(aof.to_str().unwrap(), "everysec");
        for how in ["TERM", "SHUTDOWN"] {
            let mut s = start(model, &args);
            let mut idle = s.client();
            assert_eq!(idle.cmd_str("SET idle 1").unwrap(), Frame::simple("OK"));
            let mut partial = s.client();
            partial.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\np").unwrap();
            let silent = s.client();
            if how == "TERM" {
                s.signal("TERM");
            } else {
                let _ = s.client().cmd_str("SHUTDOWN");
            }
            let status = s.expect_exit(Duration::from_secs(10));
            assert!(status.success(), "[{model}] {how}: exit {status}");
            s.assert_no_panic();
            // The clients see the close.
            idle.set_timeout(Some(Duration::from_secs(5))).unwrap();
            assert!(idle.read_frame().is_err(), "[{model}] {how}");
            drop((idle, partial, silent));
            let s = start(model, &args);
            assert_eq!(
                s.client().cmd_str("GET idle").unwrap(),
                Frame::bulk("1"),
                "[{model}] {how}"
            );
            assert_eq!(
                s.client().cmd_str("EXISTS p").unwrap(),
                Frame::Integer(0),
                "[{model}] {how}"
            );
        }
    });
}

/// Redis refuses these too: a record that cannot be replayed, and a length
/// that points past the end of the file while complete records follow it.
/// Skipping the first, or cutting the file at the second, would start the
/// server without data it had acknowledged.
#[test]
fn unreplayable_records_and_damaged_lengths_refuse_to_start_and_keep_the_file() {
    for_each_model(|model| {
        let dir = TempDir::new("unreplayable");
        let aof = dir.join("appendonly.aof");
        let head = records(0..10);
        let tail = records(10..1000);

        for (what, record) in [
            ("unknown command", {
                let mut r = Vec::new();
                encode_command(&[b"NOSUCHCOMMAND", b"k", b"v"], &mut r);
                r
            }),
            ("wrong number of arguments", {
                let mut r = Vec::new();
                encode_command(&[b"SET", b"lonely"], &mut r);
                r
            }),
        ] {
            let mut file = head.clone();
            file.extend_from_slice(&record);
            file.extend_from_slice(&tail);
            std::fs::write(&aof, &file).unwrap();
            let err = refuses_to_start(model, &aof);
            assert!(
                byte_offsets(&err).contains(&(head.len() as u64)),
                "[{model}] {what}: the error should name byte {}:\n{err}",
                head.len()
            );
            assert!(
                err.contains("cannot replay") && err.contains("tail -c"),
                "[{model}] {what}: say why and how to cut it out:\n{err}"
            );
            assert_eq!(
                std::fs::read(&aof).unwrap(),
                file,
                "[{model}] {what}: a refused file must be left as it was"
            );
        }

        // A length in the middle grown past the end of the file: it looks
        // like a record cut short, but 990 complete records follow.
        let mut bad = records(10..11);
        let at = bad.windows(4).position(|w| w == b"$3\r\n").unwrap();
        bad.splice(at..at + 2, b"$99999999".iter().copied());
        let mut file = head.clone();
        file.extend_from_slice(&bad);
        file.extend(records(11..1000));
        std::fs::write(&aof, &file).unwrap();
        let err = refuses_to_start(model, &aof);
        assert!(
            byte_offsets(&err).contains(&(head.len() as u64)) && err.contains("damage in"),
            "[{model}] a damaged length should be named as damage at byte {}:\n{err}",
            head.len()
        );
        assert_eq!(
            std::fs::read(&aof).unwrap(),
            file,
            "[{model}] a damaged length must not truncate the file"
        );

        // The repair the message gives works: cut the record out, start,
        // and every other record is there.
        let resume = head.len() + bad.len();
        let mut repaired = file[..head.len()].to_vec();
        repaired.extend_from_slice(&file[resume..]);
        std::fs::write(&aof, &repaired).unwrap();
        let args = aof_args(aof.to_str().unwrap(), "everysec");
        let s = start(model, &args);
        let mut c = s.client();
        assert_eq!(
            c.cmd_str("DBSIZE").unwrap(),
            Frame::Integer(999),
            "[{model}]"
        );
        s.assert_no_panic();
    });
}
