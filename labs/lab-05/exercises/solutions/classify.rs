//! The reference solution of `classify-errors`.

use std::io;

use lab_05::{Class, Op};

// ANCHOR: solution
/// The class of `e`, which happened while doing `op`.
pub fn class_of(op: Op, e: &io::Error) -> Class {
    use io::ErrorKind as K;
    // Out of descriptors has no kind of its own: its number says it.
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) {
        return Class::ResourceExhausted;
    }
    match e.kind() {
        // std reports a socket timeout as WouldBlock on Unix.
        K::TimedOut | K::WouldBlock => Class::Timeout,
        K::ConnectionRefused => Class::Refused,
        K::ConnectionReset | K::ConnectionAborted => Class::Reset,
        K::BrokenPipe => Class::BrokenPipe,
        K::UnexpectedEof => Class::UnexpectedEof,
        K::OutOfMemory => Class::ResourceExhausted,
        _ if op == Op::Connect => Class::ConnectFailed,
        _ => Class::Other,
    }
}
// ANCHOR_END: solution
