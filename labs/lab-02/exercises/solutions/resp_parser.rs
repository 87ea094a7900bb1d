//! # Exercise 1: parse a RESP request (reference solution)
//!
//! See the starter, `src/resp_parser.rs`, for the task and the rules.
//! Unlike lab-02's parser, this one copies the arguments out and leaves the
//! limits on line length to the caller: the point is the framing.

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

// ANCHOR: solution
/// Parses one request from the front of `buf`; see the module docs.
pub fn parse_request(
    buf: &[u8],
    max_bulk: usize,
    max_args: usize,
) -> Result<Option<Request>, String> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => multibulk(buf, max_bulk, max_args),
        Some(_) => Ok(inline(buf)),
    }
}

/// The header line starting at `pos`: `Some(cr)`, the index of its first
/// `\r`, once the byte after that `\r` has arrived too; `None` before.
fn header_line(buf: &[u8], pos: usize) -> Option<usize> {
    let cr = pos + buf.get(pos..)?.iter().position(|&b| b == b'\r')?;
    (cr + 1 < buf.len()).then_some(cr)
}

/// A number as Redis's `string2ll` reads it: `-`?, digits, no leading
/// zero, no `+`, within `i64`.
fn number(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = match digits {
        [] => false,
        [b'0'] => text.len() == 1, // "0" yes, "-0" no
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    // Only ASCII digits and a `-` remain, so this is valid UTF-8, and
    // `parse` reports anything outside i64.
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn multibulk(buf: &[u8], max_bulk: usize, max_args: usize) -> Result<Option<Request>, String> {
    let Some(cr) = header_line(buf, 0) else {
        return Ok(None);
    };
    if buf[cr + 1] != b'\n' {
        return Err(INVALID_MULTIBULK_LENGTH.into());
    }
    let count = number(&buf[1..cr]).ok_or(INVALID_MULTIBULK_LENGTH)?;
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Some((Vec::new(), pos)));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= max_args)
        .ok_or(INVALID_MULTIBULK_LENGTH)?;
    // Reserve for what can have arrived, not for what the client claims.
    let mut args = Vec::with_capacity(count.min(buf.len() / 4));
    for _ in 0..count {
        let Some(cr) = header_line(buf, pos) else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err(expected_dollar(buf[pos]));
        }
        if buf[cr + 1] != b'\n' {
            return Err(INVALID_BULK_LENGTH.into());
        }
        let len = number(&buf[pos + 1..cr])
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= max_bulk)
            .ok_or(INVALID_BULK_LENGTH)?;
        let start = cr + 2;
        let end = start.checked_add(len).ok_or(INVALID_BULK_LENGTH)?;
        match buf.get(end..end.saturating_add(2)) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(EXPECTED_CRLF.into()),
        }
        args.push(buf[start..end].to_vec());
        pos = end + 2;
    }
    Ok(Some((args, pos)))
}

fn inline(buf: &[u8]) -> Option<Request> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let args = line
        .split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|arg| !arg.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Some((args, nl + 1))
}
// ANCHOR_END: solution
