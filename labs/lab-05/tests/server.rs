//! The server side: lab-02, each model, survives what a hostile or broken
//! network throws at it. Each test starts lab-02 as a child process (this
//! lab's hidden `lab02` command), so its descriptors, CPU time and log are
//! its own, and checks three things: it keeps serving the clients it has,
//! it does not spin, and it gives back what the bad peers took.
//!
//! - Out of descriptors (`EMFILE`): the server runs under a low
//!   `RLIMIT_NOFILE` (prlimit(1)); clients beyond the limit wait in the
//!   listen backlog and are admitted, without a new connection arriving,
//!   as soon as others leave.
//! - Resets: clients that send half a command and reset the connection.
//! - Half-closed peers: a client that sends a command and shuts down its
//!   write side gets its reply, and the server closes its side (no socket
//!   left in CLOSE_WAIT).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use kit::process::Process;
use kit::testutil::wait_until;
use lab_02::client::Client;
use lab_02::resp::Frame;

const MODELS: [&str; 3] = ["event-loop", "task-per-connection", "thread-per-core"];

/// lab-02 `model` as a child process; with `nofile`, under that
/// descriptor limit.
fn start(model: &str, nofile: Option<u64>) -> (Process, u16) {
    let exe = env!("CARGO_BIN_EXE_lab-05");
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg("--").arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(["lab02", "--model", model, "--port", "0", "--threads", "2"])
        .env("RUST_LOG", "warn");
    let mut p = Process::spawn(cmd, model).expect("lab-02 starts");
    let port = p.ready_line().expect("lab-02 prints its ready line");
    (p, port)
}

fn client(port: u16) -> Client {
    let c = Client::connect(("127.0.0.1", port)).expect("connect");
    c.set_timeout(Some(Duration::from_secs(5)))
        .expect("set timeout");
    c
}

fn pong(c: &mut Client) -> bool {
    matches!(c.cmd(&[b"PING"]), Ok(Frame::Simple(s)) if s == "PONG")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn info_field(port: u16, field: &str) -> u64 {
    let mut c = client(port);
    let Ok(Frame::Bulk(Some(text))) = c.cmd(&[b"INFO"]) else {
        panic!("INFO failed");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no {field}"))
}

// ANCHOR: emfile-test
/// Runs the server out of descriptors, then frees some by closing
/// established clients. A client waiting in the backlog must then be
/// served with no new connection to wake the server, and the server must
/// not burn CPU while it cannot accept.
fn survives_emfile(model: &str) {
    let (mut server, port) = start(model, Some(64));
    let mut first = client(port);
    assert!(pong(&mut first));
    // Established clients, each holding one of the server's descriptors,
    // until one is not served because `accept` failed (a client that is
    // merely slow to be served, on a busy machine, is kept and counted).
    let mut held = Vec::new();
    let waiting = loop {
        let mut c = client(port);
        c.set_timeout(Some(Duration::from_secs(1)))
            .expect("set timeout");
        if !pong(&mut c)
            && wait_until(Duration::from_secs(2), || {
                server.output().contains("accept failed")
            })
        {
            break c;
        }
        held.push(c);
        assert!(held.len() < 200, "{model}: never ran out of descriptors");
    };
    assert!(held.len() >= 5, "{model}: only {} clients fit", held.len());
    // Out of descriptors: it must not spin.
    let cpu = server.cpu_seconds().expect("cpu");
    thread::sleep(Duration::from_secs(1));
    let spent = server.cpu_seconds().expect("cpu") - cpu;
    assert!(
        spent < 0.2,
        "{model} spent {spent:.2} s of CPU in 1 s while out of descriptors"
    );
    // Clients it has are still served.
    assert!(
        pong(&mut first),
        "{model}: an established client lost service"
    );
    // Free descriptors without connecting anew: the waiting client's
    // request (sent above, unanswered) must now be answered.
    held.truncate(held.len() - 4);
    let mut waiting = waiting;
    waiting
        .set_timeout(Some(Duration::from_secs(3)))
        .expect("set timeout");
    let reply = waiting.read_frame();
    assert!(
        matches!(reply, Ok(Frame::Simple(ref s)) if s == "PONG"),
        "{model}: the client in the backlog was not served after descriptors came back: {reply:?}"
    );
    server.check_alive().expect("still running");
    // One warning per streak of failures, not one per attempt.
    let warnings = server.output().matches("accept failed").count();
    assert!(
        (1..=3).contains(&warnings),
        "{model}: {warnings} accept warnings in the log:\n{}",
        server.output()
    );
}
// ANCHOR_END: emfile-test

#[test]
fn event_loop_survives_running_out_of_descriptors() {
    survives_emfile("event-loop");
}

#[test]
fn task_per_connection_survives_running_out_of_descriptors() {
    survives_emfile("task-per-connection");
}

#[test]
fn thread_per_core_survives_running_out_of_descriptors() {
    survives_emfile("thread-per-core");
}

/// Sends `bytes` and resets the connection (SO_LINGER 0, then close).
fn send_and_reset(port: u16, bytes: &[u8]) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    (&s).write_all(bytes).expect("write");
    drop(s);
}

#[test]
fn resets_mid_command_leave_nothing_behind() {
    for model in MODELS {
        let (mut server, port) = start(model, None);
        let mut steady = client(port);
        assert!(pong(&mut steady));
        let base_clients = info_field(port, "connected_clients");
        let base_fds = open_fds(server.pid);
        let started = Instant::now();
        for i in 0..200 {
            // Half a SET, a whole one then half of the next, or nothing.
            let bytes: &[u8] = match i % 3 {
                0 => b"*3\r\n$3\r\nSET\r\n$1\r\nk",
                1 => b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGE",
                _ => b"",
            };
            send_and_reset(port, bytes);
            if i % 50 == 0 {
                assert!(pong(&mut steady), "{model}: a steady client lost service");
            }
        }
        assert!(
            wait_until(Duration::from_secs(5), || info_field(
                port,
                "connected_clients"
            ) == base_clients),
            "{model}: connected_clients did not return to {base_clients}"
        );
        assert!(
            wait_until(Duration::from_secs(5), || open_fds(server.pid) <= base_fds),
            "{model}: {} descriptors open, {base_fds} before",
            open_fds(server.pid)
        );
        assert!(pong(&mut steady));
        server.check_alive().expect("still running");
        assert!(
            !server.output().contains("panicked"),
            "{model}: {}",
            server.output()
        );
        eprintln!("{model}: 200 resets in {:?}", started.elapsed());
    }
}

/// Sockets on `port` in CLOSE_WAIT (state 08 in /proc/net/tcp): the
/// server's side of a connection whose peer left and that it never closed.
fn close_wait_on(port: u16) -> usize {
    let hex = format!(":{port:04X} ");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && format!("{} ", cols[1]).ends_with(&hex) && cols[3] == "08"
        })
        .count()
}

#[test]
fn half_closed_peers_get_their_reply_and_a_close() {
    for model in MODELS {
        let (mut server, port) = start(model, None);
        let base_clients = info_field(port, "connected_clients");
        let mut peers = Vec::new();
        for i in 0..20 {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let cmd = format!(
                "*3\r\n$3\r\nSET\r\n$4\r\nhc{i:02}\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$4\r\nhc{i:02}\r\n"
            );
            s.write_all(cmd.as_bytes()).expect("write");
            s.shutdown(Shutdown::Write).expect("half-close");
            peers.push(s);
        }
        for (i, mut s) in peers.into_iter().enumerate() {
            // Both replies, then end of stream: the server answered what
            // it was sent and then closed its side.
            let mut got = Vec::new();
            s.read_to_end(&mut got)
                .unwrap_or_else(|e| panic!("{model}: peer {i}: {e}"));
            assert_eq!(got, b"+OK\r\n$1\r\nv\r\n", "{model}: peer {i}");
        }
        assert!(
            wait_until(Duration::from_secs(5), || close_wait_on(port) == 0),
            "{model}: {} sockets left in CLOSE_WAIT",
            close_wait_on(port)
        );
        assert!(
            wait_until(Duration::from_secs(5), || info_field(
                port,
                "connected_clients"
            ) == base_clients),
            "{model}: connected_clients did not return to {base_clients}"
        );
        server.check_alive().expect("still running");
    }
}
