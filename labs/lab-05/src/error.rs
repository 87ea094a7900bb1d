//! The error taxonomy: one error type for everything that can go wrong
//! between a client and a server, and the classes a caller acts on.
//!
//! Go wraps a failed socket call in `*net.OpError` (the operation, the
//! addresses, the cause) and leaves the caller to find out what the cause
//! was with `errors.Is(err, syscall.ECONNRESET)`, a `Timeout()` method or,
//! too often, the error's text. [`NetError`] carries the same three things,
//! plus the one fact a retry decision needs and Go's error never states:
//! whether any byte of the request had left the client ([`NetError::sent`]).
//! [`NetError::class`] then answers the question once, from
//! [`io::ErrorKind`] and the OS error number, never from a message.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// What the client was doing when it failed (Go's `OpError.Op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Opening the connection.
    Connect,
    /// Writing the request.
    Send,
    /// Waiting for or reading the reply.
    Receive,
    /// A server accepting a connection.
    Accept,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Send => "send",
            Op::Receive => "receive",
            Op::Accept => "accept",
        }
    }
}

/// Why it failed.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// The operating system said no.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Our own deadline passed first (tokio's `timeout_at`; Go's
    /// `context.DeadlineExceeded`).
    #[error("no answer within {0:?}")]
    Deadline(Duration),
    /// The peer closed the connection part-way through a reply: `got` bytes
    /// of a frame had arrived.
    #[error("connection closed after {got} bytes of a reply")]
    MidFrame { got: usize },
    /// The peer closed the connection cleanly between replies.
    #[error("connection closed by the peer")]
    Closed,
    /// The bytes were not RESP.
    #[error("not a RESP reply: {0}")]
    Protocol(#[from] lab_02::resp::ProtocolError),
    /// The server answered with an error reply (`-ERR …`): the request
    /// arrived and was refused, the connection is fine.
    #[error("server replied: {0}")]
    Reply(String),
}

impl Cause {
    /// A copy, classifying the same (see [`NetError::copy`]).
    pub fn copy(&self) -> Cause {
        match self {
            Cause::Io(e) => Cause::Io(copy_io(e)),
            Cause::Deadline(d) => Cause::Deadline(*d),
            Cause::MidFrame { got } => Cause::MidFrame { got: *got },
            Cause::Closed => Cause::Closed,
            Cause::Protocol(p) => Cause::Protocol(p.clone()),
            Cause::Reply(s) => Cause::Reply(s.clone()),
        }
    }
}

/// A copy of an OS error: its number if it has one, else its kind and text.
pub fn copy_io(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(n) => io::Error::from_raw_os_error(n),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The classes a caller decides on. Each row of the chapter's table is one
/// of these, provoked for real (see [`crate::provoke`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// No answer in time: our deadline, or the socket's own timeout.
    Timeout,
    /// Nothing listens there (`ECONNREFUSED`).
    Refused,
    /// Connecting failed some other way (no route to the host, the
    /// network down).
    ConnectFailed,
    /// The peer reset the connection (`ECONNRESET`).
    Reset,
    /// We wrote to a connection the peer had already closed (`EPIPE`).
    BrokenPipe,
    /// The connection ended in the middle of a reply.
    UnexpectedEof,
    /// The connection ended cleanly where a reply should have started.
    Closed,
    /// Out of descriptors, memory or ports (`EMFILE`, `ENFILE`, `ENOBUFS`,
    /// `ENOMEM`, and `EADDRNOTAVAIL` on connect: no ephemeral port left).
    ResourceExhausted,
    /// The peer does not speak RESP.
    Protocol,
    /// The server refused the request with an error reply.
    ServerError,
    /// Anything else the OS reports.
    Other,
}

impl Class {
    /// Every class, in the table's order.
    pub const ALL: [Class; 11] = [
        Class::Timeout,
        Class::Refused,
        Class::ConnectFailed,
        Class::Reset,
        Class::BrokenPipe,
        Class::UnexpectedEof,
        Class::Closed,
        Class::ResourceExhausted,
        Class::Protocol,
        Class::ServerError,
        Class::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Timeout => "timeout",
            Class::Refused => "refused",
            Class::ConnectFailed => "connect-failed",
            Class::Reset => "reset",
            Class::BrokenPipe => "broken-pipe",
            Class::UnexpectedEof => "unexpected-eof",
            Class::Closed => "closed",
            Class::ResourceExhausted => "resource-exhausted",
            Class::Protocol => "protocol",
            Class::ServerError => "server-error",
            Class::Other => "other",
        }
    }

    /// Is the connection still usable after this error? Only an error
    /// reply leaves it in a known state; after anything else the client
    /// must drop the connection (a late reply would answer the next
    /// request).
    pub fn connection_usable(self) -> bool {
        self == Class::ServerError
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: net-error
/// A failed network operation: Go's `*net.OpError`, plus whether the
/// request may have reached the server.
#[derive(Debug, thiserror::Error)]
#[error("{} {}: {cause}", op.name(), peer.map_or("-".to_string(), |p| p.to_string()))]
pub struct NetError {
    pub op: Op,
    pub peer: Option<SocketAddr>,
    /// `false` only when no byte of the request was handed to the kernel:
    /// the server cannot have seen it, so any request may be sent again.
    pub sent: bool,
    #[source]
    pub cause: Cause,
}
// ANCHOR_END: net-error

impl NetError {
    pub fn new(op: Op, peer: Option<SocketAddr>, sent: bool, cause: impl Into<Cause>) -> Self {
        Self {
            op,
            peer,
            sent,
            cause: cause.into(),
        }
    }

    /// The class a caller decides on.
    pub fn class(&self) -> Class {
        match &self.cause {
            Cause::Io(e) => classify_io(self.op, e),
            Cause::Deadline(_) => Class::Timeout,
            Cause::MidFrame { .. } => Class::UnexpectedEof,
            Cause::Closed => Class::Closed,
            Cause::Protocol(_) => Class::Protocol,
            Cause::Reply(_) => Class::ServerError,
        }
    }

    /// Go's `net.Error.Timeout()`.
    pub fn is_timeout(&self) -> bool {
        self.class() == Class::Timeout
    }

    /// A copy (`io::Error` is not `Clone`): the same kind and OS error
    /// number, so the copy classifies the same. Every request on a
    /// connection that died gets one.
    pub fn copy(&self) -> NetError {
        NetError::new(self.op, self.peer, self.sent, self.cause.copy())
    }

    /// The OS error number, when the OS gave one (`errors.Is(err,
    /// syscall.ECONNRESET)` compares this).
    pub fn errno(&self) -> Option<i32> {
        match &self.cause {
            Cause::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

// ANCHOR: classify
/// The class of an OS error, from its kind and number, never its text.
pub fn classify_io(op: Op, e: &io::Error) -> Class {
    use io::ErrorKind as K;
    if let Some(n) = e.raw_os_error()
        && [
            rustix::io::Errno::MFILE.raw_os_error(),
            rustix::io::Errno::NFILE.raw_os_error(),
            rustix::io::Errno::NOBUFS.raw_os_error(),
            rustix::io::Errno::NOMEM.raw_os_error(),
        ]
        .contains(&n)
    {
        return Class::ResourceExhausted;
    }
    match e.kind() {
        // A socket timeout shows as `WouldBlock` on Unix, `TimedOut`
        // elsewhere (and for a connect the kernel gave up on).
        K::TimedOut | K::WouldBlock => Class::Timeout,
        K::ConnectionRefused => Class::Refused,
        K::ConnectionReset | K::ConnectionAborted => Class::Reset,
        K::BrokenPipe => Class::BrokenPipe,
        K::UnexpectedEof => Class::UnexpectedEof,
        K::AddrNotAvailable if op == Op::Connect => Class::ResourceExhausted,
        K::OutOfMemory => Class::ResourceExhausted,
        K::InvalidData => Class::Protocol,
        _ if op == Op::Connect => Class::ConnectFailed,
        _ => Class::Other,
    }
}
// ANCHOR_END: classify

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_come_from_kinds_and_numbers_not_text() {
        // The same text with different kinds classifies differently.
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "timeout");
        assert_eq!(classify_io(Op::Receive, &reset), Class::Reset);
        let emfile = io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error());
        assert_eq!(classify_io(Op::Accept, &emfile), Class::ResourceExhausted);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_io(Op::Connect, &refused), Class::Refused);
        let weird = io::Error::other("weird");
        assert_eq!(classify_io(Op::Connect, &weird), Class::ConnectFailed);
        assert_eq!(classify_io(Op::Receive, &weird), Class::Other);
    }

    #[test]
    fn display_names_op_peer_and_cause() {
        let peer: SocketAddr = "127.0.0.1:6380".parse().unwrap_or_else(|_| unreachable!());
        let e = NetError::new(Op::Receive, Some(peer), true, Cause::MidFrame { got: 3 });
        assert_eq!(
            e.to_string(),
            "receive 127.0.0.1:6380: connection closed after 3 bytes of a reply"
        );
        assert_eq!(e.class(), Class::UnexpectedEof);
        assert!(!e.class().connection_usable());
    }
}
