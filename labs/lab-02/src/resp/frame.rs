//! The client side of RESP2: [`Frame`] is an owned reply, [`parse_frame`]
//! reads one, [`Frame::encode`] writes one and [`encode_command`] writes a
//! request. Used by [`crate::client`], the tests and the load generators;
//! the server itself never parses a reply.

use std::ops::Range;

use super::error::{MAX_FRAME_DEPTH, ProtocolError};
use super::request::string2ll;

/// An owned RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+text`. Bytes that are not UTF-8 are replaced by U+FFFD when parsed.
    Simple(String),
    /// `-text`. Bytes that are not UTF-8 are replaced by U+FFFD when parsed.
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$n` and its bytes; `None` is the nil bulk `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*n` and its elements; `None` is the nil array `*-1`.
    Array(Option<Vec<Frame>>),
}

impl Frame {
    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Self {
        Frame::Bulk(Some(bytes.into()))
    }

    /// A simple string.
    pub fn simple(text: impl Into<String>) -> Self {
        Frame::Simple(text.into())
    }

    /// An error.
    pub fn error(text: impl Into<String>) -> Self {
        Frame::Error(text.into())
    }

    /// An array.
    pub fn array(items: Vec<Frame>) -> Self {
        Frame::Array(Some(items))
    }

    /// The bytes of a (non-nil) bulk string.
    pub fn as_bulk(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The value of an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The text of a simple string, or of a bulk string that is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Frame::Simple(s) => Some(s),
            Frame::Bulk(Some(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The elements of a (non-nil) array.
    pub fn as_array(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// The text of an error reply.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Frame::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Whether this is the nil bulk string or the nil array.
    pub fn is_nil(&self) -> bool {
        matches!(self, Frame::Bulk(None) | Frame::Array(None))
    }

    /// Appends the RESP2 encoding. CR and LF inside a simple string or an
    /// error are written as spaces, so the reply stays one line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => push_line(out, b'+', s),
            Frame::Error(s) => push_line(out, b'-', s),
            Frame::Integer(n) => {
                out.push(b':');
                push_i64(out, *n);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Frame::Bulk(Some(b)) => push_bulk(out, b),
            Frame::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(Some(items)) => {
                push_header(out, b'*', items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// The RESP2 encoding, as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn push_line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // n % 10 < 10, so the cast cannot truncate.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    push_u64(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    push_header(out, b'$', bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends `args` as a multibulk request (`*n` then one `$len` bulk each).
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    push_header(out, b'*', args.len());
    for arg in args {
        push_bulk(out, arg);
    }
}

/// Parses one RESP2 reply from the front of `buf`: `Ok(Some((frame,
/// consumed)))`, `Ok(None)` if more bytes are needed, or an error. There is
/// no length limit, but nothing is allocated before the bytes arrive; arrays
/// may nest at most [`MAX_FRAME_DEPTH`] deep.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    parse_frame_at(buf, 0, 0)
}

/// The line starting at `start` and ending at the first CR, which must be
/// followed by LF: `(content range, position after the CRLF)`.
fn reply_line(buf: &[u8], start: usize) -> Result<Option<(Range<usize>, usize)>, ProtocolError> {
    let rest = buf.get(start..).unwrap_or(&[]);
    let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') else {
        return Ok(None);
    };
    if rest[i] == b'\n' {
        return Err(ProtocolError::InvalidReplyLine);
    }
    match rest.get(i + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((start..start + i, start + i + 2))),
        Some(_) => Err(ProtocolError::InvalidReplyLine),
    }
}

fn parse_frame_at(
    buf: &[u8],
    pos: usize,
    depth: usize,
) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(ProtocolError::InvalidReplyType(kind));
    }
    if kind == b'*' && depth >= MAX_FRAME_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    let Some((line, next)) = reply_line(buf, pos + 1)? else {
        return Ok(None);
    };
    let text = &buf[line];
    match kind {
        b'+' => Ok(Some((
            Frame::Simple(String::from_utf8_lossy(text).into_owned()),
            next,
        ))),
        b'-' => Ok(Some((
            Frame::Error(String::from_utf8_lossy(text).into_owned()),
            next,
        ))),
        b':' => {
            let n = string2ll(text).ok_or(ProtocolError::InvalidInteger)?;
            Ok(Some((Frame::Integer(n), next)))
        }
        b'$' => match string2ll(text) {
            Some(-1) => Ok(Some((Frame::Bulk(None), next))),
            Some(n) if n >= 0 => {
                let len = usize::try_from(n).map_err(|_| ProtocolError::InvalidBulkLength)?;
                let end = next
                    .checked_add(len)
                    .ok_or(ProtocolError::InvalidBulkLength)?;
                let Some(tail) = buf.get(end..end.saturating_add(2)) else {
                    return Ok(None);
                };
                if tail != b"\r\n" {
                    return Err(ProtocolError::ExpectedCrlf);
                }
                Ok(Some((Frame::Bulk(Some(buf[next..end].to_vec())), end + 2)))
            }
            _ => Err(ProtocolError::InvalidBulkLength),
        },
        _ => match string2ll(text) {
            Some(-1) => Ok(Some((Frame::Array(None), next))),
            Some(n) if n >= 0 => {
                let count =
                    usize::try_from(n).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
                // Every element takes at least 3 bytes (`+\r\n`): reserve no
                // more than the bytes present could hold.
                let mut items = Vec::with_capacity(count.min((buf.len() - next) / 3));
                let mut at = next;
                for _ in 0..count {
                    let Some((item, after)) = parse_frame_at(buf, at, depth + 1)? else {
                        return Ok(None);
                    };
                    items.push(item);
                    at = after;
                }
                Ok(Some((Frame::Array(Some(items)), at)))
            }
            _ => Err(ProtocolError::InvalidMultibulkLength),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frame = Frame::array(vec![
            Frame::simple("OK"),
            Frame::error("ERR nope"),
            Frame::Integer(i64::MIN),
            Frame::Integer(42),
            Frame::bulk(&b"a\r\nb"[..]),
            Frame::Bulk(None),
            Frame::Array(None),
            Frame::array(vec![]),
        ]);
        let bytes = frame.to_bytes();
        assert_eq!(
            &bytes[..],
            &b"*8\r\n+OK\r\n-ERR nope\r\n:-9223372036854775808\r\n:42\r\n$4\r\na\r\nb\r\n$-1\r\n*-1\r\n*0\r\n"[..]
        );
        assert_eq!(parse_frame(&bytes), Ok(Some((frame, bytes.len()))));
        for k in 0..bytes.len() {
            assert_eq!(parse_frame(&bytes[..k]), Ok(None), "prefix {k}");
        }
    }

    #[test]
    fn frame_errors() {
        assert_eq!(
            parse_frame(b"!x\r\n"),
            Err(ProtocolError::InvalidReplyType(b'!'))
        );
        assert_eq!(
            parse_frame(b"+a\nb\r\n"),
            Err(ProtocolError::InvalidReplyLine)
        );
        assert_eq!(
            parse_frame(b"+a\rb\r\n"),
            Err(ProtocolError::InvalidReplyLine)
        );
        assert_eq!(parse_frame(b":1.5\r\n"), Err(ProtocolError::InvalidInteger));
        assert_eq!(
            parse_frame(b"$-2\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_frame(b"*-2\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_frame(b"$1\r\nab\r\n"),
            Err(ProtocolError::ExpectedCrlf)
        );
        let deep = b"*1\r\n".repeat(MAX_FRAME_DEPTH + 1);
        assert_eq!(parse_frame(&deep), Err(ProtocolError::TooDeep));
        let ok = [b"*1\r\n".repeat(MAX_FRAME_DEPTH), b":1\r\n".to_vec()].concat();
        assert!(matches!(parse_frame(&ok), Ok(Some(_))));
        // A huge declared array or bulk: wait, reserving nothing big.
        assert_eq!(parse_frame(b"*2147483647\r\n:1\r\n"), Ok(None));
        assert_eq!(parse_frame(b"$9223372036854775807\r\n"), Ok(None));
    }

    #[test]
    fn frame_accessors() {
        assert_eq!(Frame::bulk("x").as_bulk(), Some(&b"x"[..]));
        assert_eq!(Frame::bulk("x").as_str(), Some("x"));
        assert_eq!(Frame::simple("OK").as_str(), Some("OK"));
        assert_eq!(Frame::Integer(3).as_int(), Some(3));
        assert!(Frame::error("ERR").is_error());
        assert_eq!(Frame::error("ERR x").as_error(), Some("ERR x"));
        assert!(Frame::Bulk(None).is_nil() && Frame::Array(None).is_nil());
        assert_eq!(Frame::array(vec![]).as_array(), Some(&[][..]));
        assert_eq!(Frame::simple("a\r\nb").to_bytes(), b"+a  b\r\n");
    }

    #[test]
    fn encode_command_is_multibulk() {
        let mut out = Vec::new();
        encode_command(&[b"GET", b"key"], &mut out);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    }
}
