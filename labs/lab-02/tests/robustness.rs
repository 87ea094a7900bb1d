//! Hostile and heavy clients, against each concurrency model: malformed
//! requests, the configured limits, a client that never reads its replies,
//! thousands of connections. After every hostile case a fresh, well-behaved
//! client must still get PONG and a working SET/GET, and the server must
//! never panic.

// Helpers outside #[test] functions unwrap too (clippy.toml only covers
// the test functions themselves).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{ServerProc, for_each_model, info_of, pseudo_random_bytes, redis_cli, wait_until};
use lab_02::client::Client;
use lab_02::resp::Frame;

/// How a connection must be after the error reply.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Then {
    /// Closed by the server (a protocol error).
    Closed,
    /// Still usable (a command error).
    Open,
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Writes `bytes` from another thread (the server may stop reading, or
/// close, before it has all of them), so the reply can be read meanwhile.
fn send_in_background(c: &Client, bytes: Vec<u8>) -> thread::JoinHandle<()> {
    let mut w = c.stream().try_clone().expect("clone the stream");
    thread::spawn(move || {
        let _ = w.write_all(&bytes);
    })
}

/// Sends `bytes` on a new connection, expects the error reply `want`
/// exactly, then the connection closed or still working.
fn expect_error(s: &ServerProc, bytes: &[u8], want: &str, then: Then) {
    let model = s.model();
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
    let mut c = s.client();
    c.set_timeout(Some(Duration::from_secs(5))).unwrap();
    let writer = send_in_background(&c, bytes.to_vec());
    match c.read_frame() {
        Ok(Frame::Error(e)) => assert_eq!(e, want, "[{model}] reply to {shown:?}"),
        other => panic!("[{model}] {shown:?}: expected -{want}, got {other:?}"),
    }
    match then {
        Then::Closed => match c.read_frame() {
            Err(e) if is_closed(&e) => {}
            other => panic!("[{model}] {shown:?}: expected the connection closed, got {other:?}"),
        },
        Then::Open => assert_eq!(
            c.cmd(&[b"PING"]).unwrap(),
            Frame::simple("PONG"),
            "[{model}] {shown:?}: the connection should stay usable"
        ),
    }
    drop(c);
    writer.join().unwrap();
    s.assert_healthy();
}

/// Sends `bytes` and expects, within a few seconds, an error reply or the
/// connection closed: never silence.
fn expect_error_or_close(s: &ServerProc, bytes: Vec<u8>, what: &str) {
    let model = s.model();
    let mut c = s.client();
    c.set_timeout(Some(Duration::from_secs(10))).unwrap();
    let writer = send_in_background(&c, bytes);
    let start = Instant::now();
    loop {
        match c.read_frame() {
            Ok(Frame::Error(_)) => break,
            Ok(_) => {}
            Err(e) if is_closed(&e) => break,
            Err(e) => panic!(
                "[{model}] {what}: no error and no close after {:?}: {e}",
                start.elapsed()
            ),
        }
    }
    drop(c);
    writer.join().unwrap();
    s.assert_healthy();
}

#[test]
fn malformed_requests() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        use Then::*;
        // A byte that is no RESP type starts an inline command.
        expect_error(
            &s,
            b"?foo\r\n",
            "ERR unknown command '?foo', with args beginning with: ",
            Open,
        );
        expect_error(
            &s,
            b"*abc\r\n",
            "ERR Protocol error: invalid multibulk length",
            Closed,
        );
        expect_error(
            &s,
            b"*1\r\n$-5\r\n",
            "ERR Protocol error: invalid bulk length",
            Closed,
        );
        expect_error(
            &s,
            b"*99999999\r\n",
            "ERR Protocol error: invalid multibulk length",
            Closed,
        );
        // One over the default limit of 1024 * 1024 arguments.
        expect_error(
            &s,
            b"*1048577\r\n",
            "ERR Protocol error: invalid multibulk length",
            Closed,
        );
        expect_error(
            &s,
            b"*1\r\n$999999999999\r\n",
            "ERR Protocol error: invalid bulk length",
            Closed,
        );
        expect_error(
            &s,
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "ERR Protocol error: expected '$', got ':'",
            Closed,
        );
        expect_error(
            &s,
            b"*1\r\n$4\r\nPINGxx",
            "ERR Protocol error: expected CRLF after bulk data",
            Closed,
        );
        expect_error(
            &s,
            &vec![b'A'; 100 * 1024],
            "ERR Protocol error: too big inline request",
            Closed,
        );
        expect_error(
            &s,
            b"SET k \"unbalanced\r\n",
            "ERR Protocol error: unbalanced quotes in request",
            Closed,
        );
        // Command errors keep the connection.
        expect_error(
            &s,
            b"*1\r\n$3\r\nGET\r\n",
            "ERR wrong number of arguments for 'get' command",
            Open,
        );
        expect_error(
            &s,
            b"SET onlykey\r\n",
            "ERR wrong number of arguments for 'set' command",
            Open,
        );
        expect_error(
            &s,
            b"*3\r\n$6\r\nFOOBAR\r\n$1\r\na\r\n$1\r\nb\r\n",
            "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' ",
            Open,
        );
        // Random binary garbage, as an inline stream and after a valid
        // multibulk start.
        expect_error_or_close(&s, pseudo_random_bytes(7, 1 << 20), "1 MiB of garbage");
        let mut framed = b"*3\r\n$3\r\nSET\r\n".to_vec();
        framed.extend(pseudo_random_bytes(11, 1 << 20));
        expect_error_or_close(&s, framed, "a SET header then 1 MiB of garbage");
        s.assert_no_panic();
    });
}

#[test]
fn maxclients() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--maxclients", "5"]);
        let mut five: Vec<Client> = (0..5).map(|_| s.client()).collect();
        for c in &mut five {
            assert_eq!(
                c.cmd_str("PING").unwrap(),
                Frame::simple("PONG"),
                "[{model}]"
            );
        }
        let mut sixth = s.client();
        sixth.set_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(
            sixth.read_frame().unwrap(),
            Frame::error("ERR max number of clients reached"),
            "[{model}] the sixth client"
        );
        match sixth.read_frame() {
            Err(e) if is_closed(&e) => {}
            other => panic!("[{model}] the sixth client should be closed: {other:?}"),
        }
        for c in &mut five {
            assert_eq!(
                c.cmd_str("PING").unwrap(),
                Frame::simple("PONG"),
                "[{model}]"
            );
        }
        // A freed slot is reusable (the server notices the close soon).
        drop(five.pop());
        let ok = wait_until(Duration::from_secs(5), || {
            let mut c = s.client();
            c.cmd_str("PING").ok() == Some(Frame::simple("PONG"))
        });
        assert!(
            ok,
            "[{model}] a slot freed by a client leaving was not reused"
        );
        drop(five);
        assert!(
            wait_until(Duration::from_secs(5), || {
                let mut c = s.client();
                matches!(c.cmd_str("PING"), Ok(f) if f == Frame::simple("PONG"))
            }),
            "[{model}]"
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn bulk_and_multibulk_limits() {
    for_each_model(|model| {
        let s = ServerProc::start(
            model,
            &["--proto-max-bulk-len", "1k", "--max-multibulk-len", "8"],
        );
        let mut c = s.client();
        let at_limit = vec![b'x'; 1024];
        assert_eq!(
            c.cmd(&[b"SET", b"k", &at_limit]).unwrap(),
            Frame::simple("OK"),
            "[{model}] a 1 KiB bulk"
        );
        let mut over = Vec::new();
        lab_02::resp::encode_command(&[b"SET", b"k", &vec![b'y'; 2048]], &mut over);
        expect_error(
            &s,
            &over,
            "ERR Protocol error: invalid bulk length",
            Then::Closed,
        );
        assert_eq!(
            c.cmd(&[b"GET", b"k"]).unwrap().as_bulk(),
            Some(&at_limit[..]),
            "[{model}] the rejected SET changed nothing"
        );
        let eight: Vec<&[u8]> = vec![b"MSET", b"a", b"1", b"b", b"2", b"c", b"3", b"d"];
        assert!(c.cmd(&eight).unwrap().is_error(), "[{model}] MSET arity");
        let mut nine = Vec::new();
        lab_02::resp::encode_command(
            &[b"MSET", b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"4"],
            &mut nine,
        );
        expect_error(
            &s,
            &nine,
            "ERR Protocol error: invalid multibulk length",
            Then::Closed,
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn idle_timeout() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--timeout", "1"]);
        let stop = AtomicBool::new(false);
        thread::scope(|scope| {
            let active = scope.spawn(|| {
                let mut c = s.client();
                let begun = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(
                        c.cmd_str("PING").unwrap(),
                        Frame::simple("PONG"),
                        "[{model}] the active client"
                    );
                    thread::sleep(Duration::from_millis(200));
                }
                begun.elapsed()
            });
            // One idle after a command, one that never sent anything, one
            // stalled in the middle of a request.
            let start = Instant::now();
            let mut talked = s.client();
            let mut silent = s.client();
            let mut stalled = s.client();
            assert_eq!(talked.cmd_str("PING").unwrap(), Frame::simple("PONG"));
            stalled.send_raw(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel").unwrap();
            for (name, c) in [
                ("idle", &mut talked),
                ("silent", &mut silent),
                ("stalled", &mut stalled),
            ] {
                c.set_timeout(Some(Duration::from_secs(6))).unwrap();
                match c.read_frame() {
                    Err(e) if is_closed(&e) => {}
                    other => panic!("[{model}] the {name} client: expected a close, got {other:?}"),
                }
                let after = start.elapsed();
                assert!(
                    after >= Duration::from_millis(900) && after <= Duration::from_millis(3500),
                    "[{model}] the {name} client was closed after {after:?} (--timeout 1)"
                );
            }
            // The active client outlived them by a while.
            thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Relaxed);
            let active_for = active.join().unwrap();
            assert!(
                active_for >= Duration::from_millis(2400),
                "[{model}] the active client only ran {active_for:?}"
            );
        });
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn requirepass() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--requirepass", "secret"]);
        let mut c = s.client();
        let noauth = Frame::error("NOAUTH Authentication required.");
        assert_eq!(c.cmd_str("PING").unwrap(), noauth, "[{model}]");
        assert_eq!(c.cmd_str("GET k").unwrap(), noauth, "[{model}]");
        assert_eq!(c.cmd_str("SET k v").unwrap(), noauth, "[{model}]");
        let wrongpass =
            Frame::error("WRONGPASS invalid username-password pair or user is disabled.");
        assert_eq!(c.cmd_str("AUTH nope").unwrap(), wrongpass, "[{model}]");
        assert_eq!(
            c.cmd_str("AUTH default nope").unwrap(),
            wrongpass,
            "[{model}]"
        );
        assert_eq!(c.cmd_str("PING").unwrap(), noauth, "[{model}]");
        // Not even SHUTDOWN before AUTH.
        assert_eq!(c.cmd_str("SHUTDOWN").unwrap(), noauth, "[{model}]");
        assert_eq!(c.cmd_str("AUTH secret").unwrap(), Frame::simple("OK"));
        assert_eq!(c.cmd_str("PING").unwrap(), Frame::simple("PONG"));
        assert_eq!(c.cmd_str("SET k v").unwrap(), Frame::simple("OK"));
        let mut d = s.client();
        assert_eq!(
            d.cmd_str("AUTH default secret").unwrap(),
            Frame::simple("OK"),
            "[{model}] AUTH with the default user"
        );
        assert_eq!(d.cmd_str("GET k").unwrap(), Frame::bulk("v"));

        let ran = redis_cli(
            s.port(),
            &["-a", "secret", "--no-auth-warning", "GET", "k"],
            None,
        );
        assert_eq!(ran.stdout, "v\n", "[{model}] redis-cli -a secret: {ran:?}");
        let ran = redis_cli(s.port(), &["GET", "k"], None);
        assert!(
            ran.stdout.starts_with("NOAUTH Authentication required."),
            "[{model}] redis-cli without -a: {ran:?}"
        );
        let ran = redis_cli(
            s.port(),
            &["-a", "wrong", "--no-auth-warning", "GET", "k"],
            None,
        );
        assert!(
            format!("{}{}", ran.stdout, ran.stderr).contains("WRONGPASS"),
            "[{model}] redis-cli -a wrong: {ran:?}"
        );

        // redis-rs authenticates from the URL.
        let client = redis::Client::open(format!("redis://:secret@{}/", s.addr())).unwrap();
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("[{model}] redis-rs with a password: {e}"));
        let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
        assert_eq!(v, "v");
        let client = redis::Client::open(format!("redis://:bad@{}/", s.addr())).unwrap();
        assert!(
            client
                .get_connection_with_timeout(Duration::from_secs(10))
                .is_err(),
            "[{model}] redis-rs with a wrong password connected"
        );

        s.assert_healthy_with(Some("secret"));
        s.assert_no_panic();
    });
}

#[test]
fn client_that_never_reads() {
    const VALUE_LEN: usize = 10 * 1024;
    const GETS: usize = 200_000;
    const RSS_LIMIT_KIB: u64 = 200 * 1024;
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let mut other = s.client();
        assert_eq!(
            other.cmd(&[b"SET", b"k", &vec![b'v'; VALUE_LEN]]).unwrap(),
            Frame::simple("OK")
        );
        let rss_before = s.rss_kib().unwrap_or(0);

        let slow = TcpStream::connect(s.addr()).unwrap();
        slow.set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut w = slow.try_clone().unwrap();
        let writer = thread::spawn(move || {
            let mut one = Vec::new();
            lab_02::resp::encode_command(&[b"GET", b"k"], &mut one);
            let chunk: Vec<u8> = one.repeat(4096);
            let mut sent = 0;
            while sent < GETS {
                if w.write_all(&chunk).is_err() {
                    break;
                }
                sent += 4096;
            }
            sent
        });

        // For three seconds: others are served promptly, memory stays low.
        let start = Instant::now();
        let mut max_rss = 0;
        let mut worst = Duration::ZERO;
        while start.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            assert_eq!(other.cmd_str("PING").unwrap(), Frame::simple("PONG"));
            worst = worst.max(t.elapsed());
            if let Some(rss) = s.rss_kib() {
                max_rss = max_rss.max(rss);
                assert!(
                    rss < RSS_LIMIT_KIB,
                    "[{model}] RSS {rss} KiB while a client does not read (before: {rss_before} KiB)"
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
        assert!(
            worst < Duration::from_secs(1),
            "[{model}] a PING took {worst:?} while a client does not read"
        );
        let t = Instant::now();
        let mut fresh = s.client();
        assert_eq!(fresh.cmd_str("PING").unwrap(), Frame::simple("PONG"));
        assert!(t.elapsed() < Duration::from_secs(1), "[{model}] new client");

        // Drop the slow client.
        slow.shutdown(Shutdown::Both).unwrap();
        drop(slow);
        // (The writer may have got all its GETs into the socket buffers.)
        let sent = writer.join().unwrap();
        assert!(
            wait_until(Duration::from_secs(5), || {
                let info = info_of(&mut other, "clients");
                info.iter()
                    .any(|(k, v)| k == "connected_clients" && v.parse::<u64>().unwrap_or(99) <= 2)
            }),
            "[{model}] the slow client is still counted: {:?}",
            info_of(&mut other, "clients")
        );
        eprintln!(
            "[{model}] never-reading client: RSS before {rss_before} KiB, max {max_rss} KiB, worst PING {worst:?}, GETs written {sent}"
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn thousands_of_connections() {
    const N: usize = 3000;
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let mut conns = Vec::with_capacity(N);
        for i in 0..N {
            let mut c = TcpStream::connect(s.addr())
                .unwrap_or_else(|e| panic!("[{model}] connection {i}: {e}"));
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(b"*1\r\n$4\r\nPING\r\n")
                .unwrap_or_else(|e| panic!("[{model}] connection {i}: {e}"));
            conns.push(c);
        }
        for (i, c) in conns.iter_mut().enumerate() {
            let mut reply = [0u8; 7];
            c.read_exact(&mut reply)
                .unwrap_or_else(|e| panic!("[{model}] connection {i}: {e}"));
            assert_eq!(&reply, b"+PONG\r\n", "[{model}] connection {i}");
        }
        let connected = s.info_int("connected_clients");
        assert!(
            connected > N as i64,
            "[{model}] connected_clients = {connected} with {N} open"
        );
        drop(conns);
        let mut last = 0;
        let down = wait_until(Duration::from_secs(10), || {
            last = s.info_int("connected_clients");
            last <= 1
        });
        assert!(
            down,
            "[{model}] connected_clients still {last} after closing"
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn awkward_but_valid_clients() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);

        // Replies to what came before a protocol error are sent, then the
        // error, then the close.
        let mut c = s.client();
        c.set_timeout(Some(Duration::from_secs(5))).unwrap();
        // (Several keys: in thread-per-core some are owned by another core.)
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let sets: String = keys.iter().map(|k| format!("SET {k} 1\r\n")).collect();
        c.send_raw(format!("PING\r\n*1\r\n$4\r\nPING\r\n{sets}*abc\r\nPING\r\n").as_bytes())
            .unwrap();
        assert_eq!(c.read_frame().unwrap(), Frame::simple("PONG"), "[{model}]");
        assert_eq!(c.read_frame().unwrap(), Frame::simple("PONG"), "[{model}]");
        for k in keys {
            assert_eq!(
                c.read_frame().unwrap(),
                Frame::simple("OK"),
                "[{model}] SET {k} before a protocol error"
            );
        }
        assert_eq!(
            c.read_frame().unwrap(),
            Frame::error("ERR Protocol error: invalid multibulk length"),
            "[{model}]"
        );
        match c.read_frame() {
            Err(e) if is_closed(&e) => {}
            other => panic!("[{model}] expected a close after the error, got {other:?}"),
        }

        // A pipeline of multibulk and inline requests, one byte per write.
        let mut bytes = Vec::new();
        lab_02::resp::encode_command(&[b"SET", b"split", b"a\r\nb"], &mut bytes);
        bytes.extend_from_slice(b"GET split\r\n");
        bytes.extend_from_slice(b"RPUSH \"the list\" 'x y' \"\\x41\\n\"\n");
        lab_02::resp::encode_command(&[b"LRANGE", b"the list", b"0", b"-1"], &mut bytes);
        bytes.extend_from_slice(b"\r\n\r\nPING\r\n");
        let mut c = s.client();
        c.set_timeout(Some(Duration::from_secs(10))).unwrap();
        for b in &bytes {
            c.send_raw(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(c.read_frame().unwrap(), Frame::simple("OK"), "[{model}]");
        assert_eq!(c.read_frame().unwrap(), Frame::bulk("a\r\nb"), "[{model}]");
        assert_eq!(c.read_frame().unwrap(), Frame::Integer(2), "[{model}]");
        assert_eq!(
            c.read_frame().unwrap(),
            Frame::array(vec![Frame::bulk("x y"), Frame::bulk("A\n")]),
            "[{model}]"
        );
        // Empty lines are no commands: the next reply is PING's.
        assert_eq!(c.read_frame().unwrap(), Frame::simple("PONG"), "[{model}]");

        // A big value, and a big pipeline.
        let big: Vec<u8> = pseudo_random_bytes(3, 4 << 20);
        assert_eq!(c.cmd(&[b"SET", b"big", &big]).unwrap(), Frame::simple("OK"));
        assert_eq!(
            c.cmd(&[b"GET", b"big"]).unwrap().as_bulk(),
            Some(&big[..]),
            "[{model}] a 4 MiB value"
        );
        let cmds: Vec<Vec<Vec<u8>>> = (0..5000)
            .map(|i| common::args(&[b"INCR", format!("ctr{}", i % 7).as_bytes()]))
            .collect();
        let replies = c.pipeline(&cmds).unwrap();
        assert_eq!(replies.len(), 5000);
        assert_eq!(replies[4999], Frame::Integer(715), "[{model}] INCR ctr1");

        // QUIT: +OK after the replies before it, then the close.
        c.send_raw(format!("{sets}QUIT\r\nPING\r\n").as_bytes())
            .unwrap();
        for k in keys {
            assert_eq!(
                c.read_frame().unwrap(),
                Frame::simple("OK"),
                "[{model}] SET {k} before QUIT"
            );
        }
        assert_eq!(
            c.read_frame().unwrap(),
            Frame::simple("OK"),
            "[{model}] QUIT"
        );
        match c.read_frame() {
            Err(e) if is_closed(&e) => {}
            other => panic!("[{model}] expected a close after QUIT, got {other:?}"),
        }

        // Clients that leave mid-request, or with unread replies.
        for partial in [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc"[..],
            b"*3\r\n$3\r\nSET\r\n",
            b"SET k v",
            b"*2",
        ] {
            let mut c = s.client();
            c.send_raw(partial).unwrap();
            drop(c);
        }
        for _ in 0..3 {
            let mut c = s.client();
            c.send_raw(&b"GET big\r\n".repeat(10)).unwrap();
            drop(c);
        }
        let mut last = 0;
        assert!(
            wait_until(Duration::from_secs(5), || {
                last = s.info_int("connected_clients");
                last <= 1
            }),
            "[{model}] connected_clients stays at {last}"
        );
        let mut c = s.client();
        assert_eq!(
            c.cmd_str("EXISTS k").unwrap(),
            Frame::Integer(0),
            "[{model}] a half-sent SET was applied"
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

#[test]
fn query_buffer_limit() {
    for_each_model(|model| {
        let s = ServerProc::start(
            model,
            &[
                "--client-query-buffer-limit",
                "1m",
                "--proto-max-bulk-len",
                "512k",
            ],
        );
        // 2 MiB of small pipelined commands is no problem: each is parsed
        // and run as it arrives.
        let mut c = s.client();
        let mut burst = Vec::new();
        let n = 2 * 1024 * 1024 / 40;
        for i in 0..n {
            lab_02::resp::encode_command(
                &[b"SET", format!("burst:{i:08}").as_bytes(), b"0123456789"],
                &mut burst,
            );
        }
        let writer = send_in_background(&c, burst);
        for i in 0..n {
            match c.read_frame() {
                Ok(f) if f == Frame::simple("OK") => {}
                other => panic!("[{model}] reply {i} of {n} to a 2 MiB pipeline: {other:?}"),
            }
        }
        writer.join().unwrap();

        // One request that needs more than 1 MiB buffered before it is
        // complete: the client is disconnected.
        let mut big = Vec::new();
        let part = vec![b'x'; 400 * 1024];
        lab_02::resp::encode_command(&[b"RPUSH", b"l", &part, &part, &part, &part], &mut big);
        let mut c = s.client();
        c.set_timeout(Some(Duration::from_secs(10))).unwrap();
        let writer = send_in_background(&c, big);
        loop {
            match c.read_frame() {
                Ok(Frame::Error(_)) => {}
                Ok(other) => panic!(
                    "[{model}] a 1.6 MiB request was run (reply {other:?}) although \
                     --client-query-buffer-limit is 1m"
                ),
                Err(e) if is_closed(&e) => break,
                Err(e) => panic!("[{model}] expected a close: {e}"),
            }
        }
        writer.join().unwrap();
        assert_eq!(
            s.client().cmd_str("EXISTS l").unwrap(),
            Frame::Integer(0),
            "[{model}]"
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}

/// A pipeline whose replies are far bigger than its requests: the server
/// pauses reading while the replies back up, and must resume running the
/// requests already buffered once the client drains them, even when the
/// socket has nothing new to say (no readiness event will come).
#[test]
fn big_replies_to_a_small_pipeline_all_arrive() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &[]);
        let mut c = s.client();
        let value = vec![b'v'; 10 * 1024];
        assert_eq!(
            c.cmd(&[b"SET", b"big", &value]).unwrap(),
            Frame::Simple("OK".into())
        );
        let n = 2000;
        let mut request = Vec::new();
        for _ in 0..n {
            request.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
        }
        c.send_raw(&request).unwrap();
        let started = std::time::Instant::now();
        for i in 0..n {
            let f = c
                .read_frame()
                .unwrap_or_else(|e| panic!("{model}: reply {i} of {n}: {e}"));
            assert_eq!(f.as_bulk().map(<[u8]>::len), Some(value.len()), "{model}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{model}: 20 MB of replies took {:?}",
            started.elapsed()
        );
        s.assert_healthy();
        s.assert_no_panic();
    });
}
