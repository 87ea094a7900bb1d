//! What can go wrong reading RESP2, on either side of the wire, and the
//! nesting limit the client side enforces. Its own module because both
//! parsers report it and neither should import the other for it.

/// Deepest nesting of arrays [`parse_frame`](super::parse_frame) accepts (the top-level array
/// counts as one), so that parsing, encoding and dropping a hostile reply
/// cannot overflow the stack.
pub const MAX_FRAME_DEPTH: usize = 64;

/// Why a request (or, client side, a reply) could not be parsed. The
/// `Display` texts of the request errors are Redis's, byte for byte; a server
/// replies `-ERR {error}` and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `*` count not a number, or above [`Limits::max_multibulk_len`](super::Limits::max_multibulk_len).
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$` length not a number, negative, or above [`Limits::max_bulk_len`](super::Limits::max_bulk_len).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument of a multibulk request did not start with `$`.
    #[error("Protocol error: expected '$', got '{}'", shown_byte(*.0))]
    ExpectedDollar(u8),
    /// An inline line longer than [`Limits::max_inline_len`](super::Limits::max_inline_len).
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// A `*` header line longer than [`Limits::max_inline_len`](super::Limits::max_inline_len).
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// A `$` header line longer than [`Limits::max_inline_len`](super::Limits::max_inline_len).
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline line with an unterminated quote, or a closing quote followed
    /// by something other than whitespace.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Bulk data not followed by `\r\n` (Redis does not check this).
    #[error("Protocol error: expected CRLF after bulk data")]
    ExpectedCrlf,
    /// Client side: a reply starting with a byte that is no RESP2 type.
    #[error("Protocol error: invalid reply type byte 0x{0:02x}")]
    InvalidReplyType(u8),
    /// Client side: a `+`, `-` or `:` line containing a lone CR or LF.
    #[error("Protocol error: reply line not ended by CRLF")]
    InvalidReplyLine,
    /// Client side: a `:` reply that is not a 64-bit integer.
    #[error("Protocol error: invalid integer reply")]
    InvalidInteger,
    /// Client side: arrays nested deeper than [`MAX_FRAME_DEPTH`].
    #[error("Protocol error: reply nested deeper than {} arrays", MAX_FRAME_DEPTH)]
    TooDeep,
}

/// How `expected '$', got 'X'` shows X: Redis turns CR and LF in an error
/// into spaces so the reply stays one line.
fn shown_byte(b: u8) -> char {
    if b == b'\r' || b == b'\n' {
        ' '
    } else {
        char::from(b)
    }
}
