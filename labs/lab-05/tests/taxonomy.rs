//! The taxonomy table, row by row: each test provokes its error through a
//! real socket on loopback (the proxy, a misbehaving peer, lab-02 itself,
//! or a child process short of descriptors) and asserts the class it comes
//! out as, so no row of the chapter's table is a claim nobody ran.

use std::path::Path;

use lab_02::config::{Config, Model};
use lab_05::Class;
use lab_05::provoke::{Observed, ROWS, Setup, provoke};

async fn observe(id: &str) -> Observed {
    let server =
        lab_02::server::start(Config::ephemeral(Model::TaskPerConnection)).expect("lab-02 starts");
    let setup = Setup {
        server: server.addr(),
        exe: Path::new(env!("CARGO_BIN_EXE_lab-05")),
    };
    let seen = provoke(id, &setup)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e:#}"));
    server.shutdown();
    seen
}

fn expected(id: &str) -> Class {
    ROWS.iter()
        .find(|r| r.id == id)
        .map(|r| r.class)
        .unwrap_or_else(|| panic!("no row {id}"))
}

macro_rules! row {
    ($name:ident, $id:literal, |$o:ident| $extra:expr) => {
        #[tokio::test]
        async fn $name() {
            let $o = observe($id).await;
            assert_eq!($o.class, expected($id).name(), "{}: {:?}", $id, $o);
            $extra;
        }
    };
}

row!(refused, "refused", |o| {
    assert_eq!(o.op, "connect");
    assert_eq!(o.kind.as_deref(), Some("ConnectionRefused"));
    assert!(!o.sent);
});
row!(connect_timeout, "connect-timeout", |o| {
    assert_eq!(o.op, "connect");
    assert!(!o.sent, "a connect that timed out sent nothing");
});
row!(read_deadline, "read-deadline", |o| {
    assert_eq!(o.op, "receive");
    assert_eq!(o.kind, None, "our own deadline, not an OS error");
    assert!(o.sent);
});
row!(socket_timeout, "socket-timeout", |o| {
    // The surprise the row is there for: std reports a socket timeout
    // on Unix as WouldBlock (EAGAIN), not TimedOut.
    assert_eq!(o.kind.as_deref(), Some("WouldBlock"));
});
row!(reset, "reset", |o| {
    assert_eq!(o.kind.as_deref(), Some("ConnectionReset"));
    assert!(o.sent, "the request went out before the reset");
});
row!(broken_pipe, "broken-pipe", |o| {
    assert_eq!(o.op, "send");
    assert_eq!(o.kind.as_deref(), Some("BrokenPipe"));
});
row!(mid_frame_eof, "mid-frame-eof", |o| {
    assert!(o.message.contains("bytes of a reply"), "{}", o.message);
});
row!(closed, "closed", |o| {
    // The end of the stream was read by the connection's task; the
    // request after it was refused before any byte left.
    assert_eq!(o.op, "send");
    assert!(!o.sent);
});
row!(too_many_files, "too-many-files", |o| {
    assert_eq!(o.op, "connect");
    assert_eq!(o.errno, Some(rustix::io::Errno::MFILE.raw_os_error()));
});
row!(protocol, "protocol", |o| {
    assert!(o.message.contains("not a RESP reply"), "{}", o.message);
});
row!(server_error, "server-error", |o| {
    assert!(o.message.contains("WRONGTYPE"), "{}", o.message);
});

#[test]
fn every_row_has_a_test_and_every_class_but_two_a_row() {
    let src = include_str!("taxonomy.rs");
    for r in ROWS {
        assert!(
            src.contains(&format!("\"{}\"", r.id)),
            "row {} has no test here",
            r.id
        );
    }
    // Connecting can only fail some other way off loopback (no route to
    // the host, the network down), and `Other` is the rest.
    for c in Class::ALL {
        let has_row = ROWS.iter().any(|r| r.class == c);
        assert_eq!(
            has_row,
            !matches!(c, Class::ConnectFailed | Class::Other),
            "class {c}"
        );
    }
}
