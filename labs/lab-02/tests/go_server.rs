//! The seed's Go Redis clone (`go/server`), which lab-02's measurements run
//! beside its models: built with Debian's Go and started the way the
//! measurements start it (`lab_02::launch`, `Target::Go`), then spoken to
//! over loopback the way a peer does. The suite installs Go, so a missing
//! `go` fails this test (with the Debian package to install) rather than
//! skipping it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lab_02::launch::{Launch, Server, Target};
use lab_02::resp::Frame;

fn start() -> anyhow::Result<Server> {
    Server::start(&Launch::new(Target::Go, 1))
}

/// Sends raw bytes on a fresh connection and returns everything the
/// server wrote before it closed the connection.
fn raw(server: &Server, bytes: &[u8]) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", server.port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(bytes)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn go_server_answers_ping_set_get_and_del() -> anyhow::Result<()> {
    let server = start()?;
    let mut c = server.client()?;
    assert_eq!(c.cmd(&[b"PING"])?, Frame::Simple("PONG".into()));
    assert_eq!(
        c.cmd(&[b"SET", b"greeting", b"hello"])?,
        Frame::Simple("OK".into())
    );
    assert_eq!(
        c.cmd(&[b"GET", b"greeting"])?.as_bulk(),
        Some(&b"hello"[..])
    );
    assert_eq!(c.cmd(&[b"GET", b"missing"])?, Frame::Bulk(None));
    assert_eq!(
        c.cmd(&[b"DEL", b"greeting", b"missing"])?,
        Frame::Integer(1)
    );
    assert_eq!(c.cmd(&[b"INCR", b"n"])?, Frame::Integer(1));
    assert!(c.cmd(&[b"NOSUCH"])?.is_error());
    assert!(
        c.cmd(&[b"GET"])?.is_error(),
        "wrong arity is an error reply"
    );
    // What lab-02's launcher and measurements rely on.
    server.fill(1_000)?;
    // Inline requests, as the memory experiment sends them, pipelined.
    assert_eq!(
        raw(&server, b"PING\r\nPING\r\nQUIT\r\n")?,
        "+PONG\r\n+PONG\r\n+OK\r\n"
    );
    Ok(())
}

#[test]
fn go_server_rejects_malformed_requests_and_keeps_serving() -> anyhow::Result<()> {
    let mut server = start()?;
    for (bad, expect) in [
        (
            &b"*1\r\n$x\r\n"[..],
            "-ERR Protocol error: invalid bulk length",
        ),
        (b"*1\r\n:5\r\n", "-ERR Protocol error: expected '$'"),
        (
            b"*99999999999\r\n",
            "-ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$999999999\r\n",
            "-ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            "-ERR Protocol error: expected '\\r\\n'",
        ),
    ] {
        let reply = raw(&server, bad)?;
        assert!(
            reply.starts_with(expect),
            "{:?} answered {reply:?}, expected {expect:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // An inline line longer than the reader's buffer.
    let long = [b"GET ".as_slice(), &vec![b'k'; 100_000], b"\r\n"].concat();
    assert!(raw(&server, &long)?.starts_with("-ERR Protocol error: too big inline request"));
    server.check_alive()?;
    let mut c = server.client()?;
    assert_eq!(c.cmd(&[b"PING"])?, Frame::Simple("PONG".into()));
    Ok(())
}
