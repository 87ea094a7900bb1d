//! # Exercise 1: parse a RESP request
//!
//! A client sends a Redis server its commands in one of two forms, and a
//! server must take them off the front of whatever bytes have arrived so
//! far: maybe half a request, maybe twenty pipelined ones.
//!
//! **Multibulk**, what every client library sends: `*` and the number of
//! arguments, then each argument as `$`, its length in bytes, and the bytes
//! themselves, every header and every argument ended by `\r\n`.
//!
//! ```text
//! *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n      = SET k hello
//! ```
//!
//! The lengths make arguments binary-safe: an argument may hold `\r\n` or
//! any other byte, because the parser counts them instead of scanning.
//!
//! **Inline**, what a person types into `telnet`: one line, arguments
//! separated by spaces, ended by `\n` or `\r\n` (`SET k hello\r\n`).
//!
//! Your task: [`parse_request`] reads one request from the front of `buf`.
//!
//! - `Ok(Some((args, consumed)))`: a whole request of `consumed` bytes
//!   (`consumed > 0`; whatever follows it in `buf` is the next request).
//! - `Ok(None)`: not all of it has arrived; the caller will call again with
//!   the same bytes and more after them. An empty `buf` is `Ok(None)`.
//! - `Err(text)`: the client broke the protocol; the server replies
//!   `-ERR {text}` and closes the connection.
//!
//! The rules, as Redis 7 applies them (the tests compare your answers with
//! lab-02's parser, `lab_02::resp::parse_request`, on thousands of inputs):
//!
//! 1. A request starting with `*` is multibulk; anything else is inline.
//! 2. **Header lines** (the `*` line, and each `$` line). A header line
//!    ends at its first `\r`. Until that `\r` *and the byte after it* have
//!    arrived, the answer is `Ok(None)`, whatever the line holds so far.
//!    Then, in this order: an argument's header must start with `$`, or
//!    it is [`expected_dollar`]`(byte)`; the byte after the `\r` must be
//!    `\n`; and the number between must be valid. A bad `*` line is
//!    [`INVALID_MULTIBULK_LENGTH`], a bad `$` line [`INVALID_BULK_LENGTH`].
//! 3. **Numbers** are read as Redis reads them: an optional `-`, then
//!    digits, with no leading zero (`0` itself is fine), no `+`, nothing
//!    else, within `i64`. So `-0`, `+3`, `03` and `3 ` are all invalid.
//! 4. **The count.** Zero or negative (`*0`, `*-1`): an empty request, no
//!    arguments, consumed up to the end of its header line. More than
//!    `max_args`: [`INVALID_MULTIBULK_LENGTH`].
//! 5. **Each argument.** Its length must not be negative nor more than
//!    `max_bulk` ([`INVALID_BULK_LENGTH`]). Then come that many bytes of
//!    data and `\r\n`: `Ok(None)` until all of them (the two line-end bytes
//!    included) have arrived; then the two bytes after the data must be
//!    `\r\n`, or it is [`EXPECTED_CRLF`].
//! 6. **Inline.** The line ends at the first `\n` (`Ok(None)` until there is
//!    one); a `\r` just before that `\n` is not part of the line. The
//!    arguments are the line split on spaces, tabs, `\r` and `\n`, empty
//!    pieces dropped; a blank line is a request with no arguments.
//!    `consumed` includes the `\n`.
//!
//! Not asked of you: quoted inline arguments (`SET k "a b"`), NUL bytes
//! before a line end, and the 64 KiB limit on inline lines. Redis and
//! lab-02 handle all three; the tests never send them.
//!
//! Check it with `cargo xtask exercise check lab-02 resp-parser`.

/// `*` count that is not a number, or more than `max_args`.
pub const INVALID_MULTIBULK_LENGTH: &str = "Protocol error: invalid multibulk length";
/// `$` length that is not a number, negative, or more than `max_bulk`.
pub const INVALID_BULK_LENGTH: &str = "Protocol error: invalid bulk length";
/// Bulk data followed by something other than `\r\n`. (Redis does not
/// check; lab-02 does, with this text.)
pub const EXPECTED_CRLF: &str = "Protocol error: expected CRLF after bulk data";

/// Redis's text for an argument that does not start with `$`: `got` is the
/// byte found instead, shown as a space if it is `\r` or `\n` (to keep the
/// error reply on one line) and as `char::from(got)` otherwise.
pub fn expected_dollar(got: u8) -> String {
    let shown = if got == b'\r' || got == b'\n' {
        ' '
    } else {
        char::from(got)
    };
    format!("Protocol error: expected '$', got '{shown}'")
}

/// One request parsed from the front of a buffer: its arguments and how
/// many bytes it took.
pub type Request = (Vec<Vec<u8>>, usize);

/// Parses one request from the front of `buf`; see the module docs.
pub fn parse_request(
    buf: &[u8],
    max_bulk: usize,
    max_args: usize,
) -> Result<Option<Request>, String> {
    let _ = (buf, max_bulk, max_args);
    todo!("exercise resp-parser: parse one multibulk or inline request")
}
