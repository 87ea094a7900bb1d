//! `--slow-commands`: task-per-connection runs KEYS inline, on tokio's
//! blocking pool, or inside `block_in_place`, and a client cannot tell
//! which from its replies: the same KEYS reply, pipelined commands after
//! a KEYS answered in order, RESP3 reshaping, a KEYS inside MULTI/EXEC.
//! The models that own their stores refuse the option at start-up.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{ServerProc, read_frame};

const MODES: [&str; 3] = ["inline", "spawn-blocking", "block-in-place"];

fn start(mode: &str) -> ServerProc {
    ServerProc::start(
        "task-per-connection",
        &["--slow-commands", mode, "--threads", "2"],
    )
}

/// Sends every command in one write, then reads one reply frame (its raw
/// bytes, RESP2 or RESP3) for each.
fn pipeline(s: &ServerProc, cmds: &[&[&str]]) -> Vec<Vec<u8>> {
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut req = Vec::new();
    for cmd in cmds {
        req.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for a in *cmd {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    stream.write_all(&req).unwrap();
    let mut reader = BufReader::new(stream);
    cmds.iter()
        .map(|cmd| {
            let mut frame = Vec::new();
            read_frame(&mut reader, &mut frame).unwrap_or_else(|e| {
                panic!(
                    "[{}] reply to {cmd:?}: {e}; stderr:\n{}",
                    s.model(),
                    s.stderr()
                )
            });
            frame
        })
        .collect()
}

/// The elements of a flat array of bulk strings, sorted (KEYS's order
/// follows the server's random hash seed).
fn sorted_bulks(frame: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(frame);
    let mut lines = text.split("\r\n");
    let header = lines.next().unwrap();
    assert!(header.starts_with('*'), "not an array: {text}");
    let mut keys: Vec<String> = lines
        .filter(|l| !l.is_empty() && !l.starts_with('$'))
        .map(str::to_owned)
        .collect();
    assert_eq!(header[1..].parse::<usize>().unwrap(), keys.len(), "{text}");
    keys.sort();
    keys
}

/// Each reply against the one wanted, shown escaped; `from` is the index
/// of the first reply checked.
fn assert_replies(mode: &str, got: &[Vec<u8>], want: &[&[u8]], from: usize) {
    assert_eq!(got.len(), want.len(), "[{mode}] replies");
    for (i, (got, want)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            got.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "[{mode}] reply {}",
            i + from
        );
    }
}

/// A few thousand keys, so that KEYS has a walk to make.
fn fill(s: &ServerProc) {
    let mut c = s.client();
    for batch in 0..4 {
        let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for i in 0..1000 {
            args.push(format!("key:{batch}:{i}").into_bytes());
            args.push(b"v".to_vec());
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        assert_eq!(c.cmd(&refs).unwrap(), lab_02::resp::Frame::simple("OK"));
    }
}

#[test]
fn keys_answers_the_same_under_every_mode() {
    let mut answers = Vec::new();
    for mode in MODES {
        let s = start(mode);
        fill(&s);
        let r = pipeline(
            &s,
            &[
                &["KEYS", "key:3:99*"],
                &["KEYS", "key:2:7"],
                &["KEYS", "nomatch*"],
                &["KEYS", "*"],
            ],
        );
        let all = sorted_bulks(&r[3]);
        assert_eq!(all.len(), 4000, "[{mode}]");
        answers.push((mode, sorted_bulks(&r[0]), r[1].clone(), r[2].clone(), all));
        s.assert_healthy();
        s.assert_no_panic();
    }
    let (_, some, one, none, all) = &answers[0];
    assert_eq!(some.len(), 11);
    assert_eq!(one, b"*1\r\n$7\r\nkey:2:7\r\n");
    assert_eq!(none, b"*0\r\n");
    for (mode, s, o, n, a) in &answers[1..] {
        assert_eq!(
            (s, o, n, a),
            (some, one, none, all),
            "[{mode}] against inline"
        );
    }
}

#[test]
fn pipelined_commands_after_a_keys_keep_their_order() {
    for mode in MODES {
        let s = start(mode);
        fill(&s);
        let r = pipeline(
            &s,
            &[
                &["SET", "a", "1"],
                &["KEYS", "a"],
                &["INCR", "a"],
                &["KEYS", "nomatch*"],
                &["KEYS", "a*"],
                &["GET", "a"],
                &["DEL", "a"],
                &["KEYS", "a"],
                &["PING"],
            ],
        );
        let want: [&[u8]; 9] = [
            b"+OK\r\n",
            b"*1\r\n$1\r\na\r\n",
            b":2\r\n",
            b"*0\r\n",
            b"*1\r\n$1\r\na\r\n",
            b"$1\r\n2\r\n",
            b":1\r\n",
            b"*0\r\n",
            b"+PONG\r\n",
        ];
        assert_replies(mode, &r, &want, 0);
        // The four KEYS went where the mode says.
        let offloaded = if mode == "inline" { 0 } else { 4 };
        assert_eq!(
            s.info_int("lab02_offloaded_commands"),
            offloaded,
            "[{mode}]"
        );
        s.assert_no_panic();
    }
}

#[test]
fn resp3_replies_around_a_keys_are_reshaped() {
    for mode in MODES {
        let s = start(mode);
        let r = pipeline(
            &s,
            &[
                &["HELLO", "3"],
                &["HSET", "h", "f", "v"],
                &["KEYS", "h"],
                &["GET", "missing"],
                &["KEYS", "nomatch*"],
                &["HGETALL", "h"],
            ],
        );
        assert!(r[0].starts_with(b"%"), "[{mode}] HELLO 3: a map");
        let want: [&[u8]; 5] = [
            b":1\r\n",
            b"*1\r\n$1\r\nh\r\n",
            b"_\r\n",
            b"*0\r\n",
            b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ];
        assert_replies(mode, &r[1..], &want, 1);
        s.assert_no_panic();
    }
}

/// Inside MULTI/EXEC a KEYS runs inline, with the transaction's shards
/// held: the transaction is atomic whatever `--slow-commands` says.
#[test]
fn a_keys_inside_a_transaction_runs_with_it() {
    for mode in MODES {
        let s = start(mode);
        let r = pipeline(
            &s,
            &[
                &["MULTI"],
                &["SET", "t", "1"],
                &["KEYS", "t*"],
                &["EXEC"],
                &["KEYS", "t"],
            ],
        );
        let want: [&[u8]; 5] = [
            b"+OK\r\n",
            b"+QUEUED\r\n",
            b"+QUEUED\r\n",
            b"*2\r\n+OK\r\n*1\r\n$1\r\nt\r\n",
            b"*1\r\n$1\r\nt\r\n",
        ];
        assert_replies(mode, &r, &want, 0);
        // Only the KEYS after EXEC left the transaction's path.
        let offloaded = if mode == "inline" { 0 } else { 1 };
        assert_eq!(
            s.info_int("lab02_offloaded_commands"),
            offloaded,
            "[{mode}]"
        );
        s.assert_no_panic();
    }
}

#[test]
fn models_that_own_their_stores_refuse_to_offload() {
    for model in ["event-loop", "thread-per-core"] {
        for mode in ["spawn-blocking", "block-in-place"] {
            let Err(why) = ServerProc::try_start(model, &["--slow-commands", mode]) else {
                panic!("{model} started with --slow-commands {mode}");
            };
            assert!(
                why.contains(&format!(
                    "--slow-commands {mode} needs --model task-per-connection"
                )) && why.contains("belongs to one thread outright"),
                "{model} {mode}: {why}"
            );
            assert!(!why.contains("panicked"), "{why}");
        }
        // Inline is what they do anyway.
        let s = ServerProc::start(model, &["--slow-commands", "inline"]);
        s.assert_healthy();
    }
    // A value that is not a mode: clap's usage error, no server.
    let Err(why) = ServerProc::try_start("task-per-connection", &["--slow-commands", "sideways"])
    else {
        panic!("started with --slow-commands sideways");
    };
    assert!(why.contains("invalid value 'sideways'"), "{why}");
}
