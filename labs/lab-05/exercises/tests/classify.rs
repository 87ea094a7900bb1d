//! `classify-errors`: real errors from real sockets on loopback, and two
//! that lie in their text.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use lab_05::{Class, Op};
use lab_05_exercises::classify::class_of;

/// A listener on a free loopback port, and a thread that does `peer` with
/// the one connection it accepts.
fn peer(then: impl FnOnce(TcpStream) + Send + 'static) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let t = thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            then(s);
        }
    });
    let client = TcpStream::connect(addr).expect("connect");
    t.join().expect("peer thread");
    client
}

#[test]
fn a_connect_to_a_port_nobody_listens_on_is_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let e = TcpStream::connect(("127.0.0.1", port)).expect_err("nobody listens");
    assert_eq!(class_of(Op::Connect, &e), Class::Refused, "{e}");
}

#[test]
fn a_peer_that_resets_gives_a_reset() {
    let mut c = peer(|s| {
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s); // with a zero linger, close sends RST
    });
    thread::sleep(Duration::from_millis(50));
    let e = c.read(&mut [0u8; 16]).expect_err("the peer reset");
    assert_eq!(class_of(Op::Receive, &e), Class::Reset, "{e}");
}

#[test]
fn writing_to_a_peer_that_closed_is_a_broken_pipe() {
    let mut c = peer(drop);
    thread::sleep(Duration::from_millis(50));
    // The first write draws the peer's reset; a later one fails.
    let e = (0..50)
        .find_map(|_| {
            let r = c.write_all(b"PING\r\n").err();
            thread::sleep(Duration::from_millis(5));
            r
        })
        .expect("a write fails");
    assert_eq!(class_of(Op::Send, &e), Class::BrokenPipe, "{e}");
}

#[test]
fn a_socket_read_timeout_is_a_timeout_whatever_its_kind() {
    let mut c = peer(|s| {
        thread::spawn(move || {
            // Keep the connection open, say nothing.
            thread::sleep(Duration::from_millis(500));
            drop(s);
        });
    });
    c.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let e = c.read(&mut [0u8; 16]).expect_err("nothing comes");
    assert_eq!(
        class_of(Op::Receive, &e),
        Class::Timeout,
        "{e} ({:?})",
        e.kind()
    );
}

#[test]
fn a_reply_cut_short_is_an_unexpected_eof() {
    let mut c = peer(|mut s| {
        let _ = s.write_all(b"$10\r\nabc");
    });
    let mut reply = [0u8; 16];
    let e = c.read_exact(&mut reply).expect_err("only 8 bytes come");
    assert_eq!(class_of(Op::Receive, &e), Class::UnexpectedEof, "{e}");
}

#[test]
fn out_of_descriptors_is_resource_exhaustion() {
    // EMFILE and ENFILE, as the OS reports them (tests/taxonomy.rs in the
    // lab provokes EMFILE for real in a child process).
    for n in [24, 23] {
        let e = io::Error::from_raw_os_error(n);
        assert_eq!(class_of(Op::Connect, &e), Class::ResourceExhausted, "{e}");
        assert_eq!(class_of(Op::Accept, &e), Class::ResourceExhausted, "{e}");
    }
}

#[test]
fn the_text_never_decides() {
    let reset = io::Error::new(io::ErrorKind::ConnectionReset, "i/o timeout");
    assert_eq!(class_of(Op::Receive, &reset), Class::Reset);
    let refused = io::Error::other("connection refused");
    assert_eq!(class_of(Op::Receive, &refused), Class::Other);
}

#[test]
fn a_connect_that_fails_some_other_way_is_a_connect_failure() {
    let e = io::Error::new(io::ErrorKind::HostUnreachable, "no route");
    assert_eq!(class_of(Op::Connect, &e), Class::ConnectFailed);
    assert_eq!(class_of(Op::Receive, &e), Class::Other);
}
