//! The server side of RESP2: [`parse_request`] reads one request from the front of a
//! connection's input buffer without copying it; a [`RequestParser`] gives
//! the same answers but resumes where its last call stopped, so a request
//! that arrives over many reads costs time linear in its size, not
//! quadratic. They follow Redis 7's `processMultibulkBuffer` and
//! `processInlineBuffer` (networking.c) and `sdssplitargs` (sds.c), error
//! texts included, so a client sees the same `-ERR Protocol error: …` it
//! would get from Redis. Where we differ, on purpose:
//!
//! - **CRLF is checked.** Redis only checks that *some* byte follows the `\r`
//!   of a `*`/`$` header and skips the two bytes after bulk data unread. We
//!   require `\r\n` in both places: a header whose `\r` is followed by another
//!   byte is an `invalid multibulk length` / `invalid bulk length`, and bulk
//!   data followed by anything but `\r\n` is
//!   [`ProtocolError::ExpectedCrlf`] (`Protocol error: expected CRLF after
//!   bulk data`, a text Redis does not have).
//! - **Results do not depend on how the bytes were split into reads.** Redis
//!   only notices an over-long line when a read leaves it without its line
//!   end, so a 100 KiB inline line that arrives in one read is accepted. We
//!   look for the line end only within the first `max_inline_len + 1` bytes,
//!   so the same bytes always give the same answer however they arrive.
//! - A **NUL byte** before a line end hides it, as in Redis, which looks for
//!   line ends with `strchr`: the request stays incomplete until more than
//!   `max_inline_len` bytes are waiting, then fails as too big. (Bulk data,
//!   skipped by length, may hold any byte.)
//! - No authentication-dependent limits (`unauthenticated multibulk length`):
//!   the parser knows nothing about connections.
//! - In `expected '$', got 'X'`, a byte above 0x7f is shown as the Unicode
//!   character with that number (Redis sends the raw byte), and CR or LF as a
//!   space (as Redis does).

use std::ops::Range;

use super::error::ProtocolError;

/// Limits on what a client may send, as in Redis's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk argument (`proto-max-bulk-len`, default 512 MiB).
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk request (default 1024 × 1024).
    pub max_multibulk_len: usize,
    /// Longest inline line, and longest `*`/`$` header line, without its line
    /// end (Redis's `PROTO_INLINE_MAX_SIZE`, 64 KiB, used for all three).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Where one argument of a parsed request lives: a range of the input buffer
/// (always, for a multibulk request, and for inline arguments written without
/// escapes), or of the scratch buffer (inline arguments that quotes or
/// escapes made different from any run of input bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgRange {
    // Read by the fuzz oracle's bounds checks, which is why they are
    // visible to the sibling modules.
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) in_scratch: bool,
}

impl ArgRange {
    pub(super) fn input(start: usize, end: usize) -> Self {
        Self {
            start,
            end,
            in_scratch: false,
        }
    }

    /// The argument's bytes. `buf` and `scratch` must be the buffers given to
    /// the [`parse_request`] call that produced this range; given others that
    /// are too short, this returns an empty slice rather than panicking.
    pub fn slice<'a>(&self, buf: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        let src = if self.in_scratch { scratch } else { buf };
        src.get(self.start..self.end).unwrap_or(&[])
    }

    /// Length of the argument in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the argument is the empty string.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the argument lives in the scratch buffer.
    pub fn in_scratch(&self) -> bool {
        self.in_scratch
    }

    /// The range, in the input buffer or (if [`Self::in_scratch`]) in the
    /// scratch buffer.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Parses one request from the front of `buf`, from scratch.
///
/// - `Ok(Some(consumed))`: a complete request of `consumed` (> 0) bytes.
///   `args` holds its arguments; it may be empty (an empty inline line,
///   `*0\r\n`, `*-1\r\n`), and the caller then skips the request. Inline
///   arguments that needed unescaping are in `scratch`.
/// - `Ok(None)`: the request is not complete yet; nothing was consumed. Call
///   again with the same bytes and more after them.
/// - `Err(e)`: a protocol error; reply `-ERR {e}` and close the connection.
///
/// `args` and `scratch` are cleared first, and are left empty unless the
/// result is `Ok(Some(_))`. Nothing is allocated in proportion to a length
/// the client declares, only to bytes that have arrived.
///
/// A call costs time linear in the request's headers (bulk data is skipped,
/// not scanned), so calling it again from the start after every read of a
/// request that arrives in many reads costs time quadratic in its size. A
/// connection uses a [`RequestParser`] instead, which resumes where the last
/// call stopped and gives the same answers; this function is that parser run
/// once, for input that is all there (an append-only file) and for tests.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<ArgRange>,
    scratch: &mut Vec<u8>,
) -> Result<Option<usize>, ProtocolError> {
    let mut parser = RequestParser {
        state: State::default(),
        args: std::mem::take(args),
        scratch: std::mem::take(scratch),
    };
    let result = parser.parse(buf, limits);
    *args = parser.args;
    *scratch = parser.scratch;
    if !matches!(result, Ok(Some(_))) {
        args.clear();
        scratch.clear();
    }
    result
}

/// [`parse_request`] that resumes: it keeps, between calls, how far into the
/// request at the front of the buffer it got, so a request that arrives in
/// many reads is parsed in time linear in its size, each byte examined a
/// bounded number of times, rather than from its first byte after each read
/// (as Redis's `processMultibulkBuffer` keeps `multibulklen`, `bulklen` and
/// the arguments read so far in the client).
///
/// It keeps offsets from the start of the request, never pointers, so the
/// caller may move or compact its buffer between calls, as long as every call
/// is given the same request from its first byte, with at least the bytes of
/// the previous call (more once they have arrived). After a complete request
/// the caller consumes it and calls [`Self::reset`] before parsing the next.
///
/// For every way of splitting a request into reads, the answers are those
/// [`parse_request`] gives for the same bytes (the fuzz checks compare them).
#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    /// The arguments read so far, of a multibulk request; all of them once
    /// the request is complete.
    args: Vec<ArgRange>,
    /// Unescaped inline arguments of the last complete request.
    scratch: Vec<u8>,
}

/// How far a [`RequestParser`] got into the request at the front of the
/// buffer. All positions count from the request's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the first line (inline, or the `*` header of a multibulk request):
    /// its first `scanned` bytes hold no line end and no NUL.
    Start { scanned: usize },
    /// In the arguments of a multibulk request.
    Multibulk(Multibulk),
    /// A complete request of `len` bytes, whose arguments are in `args`.
    Done { len: usize },
}

impl Default for State {
    fn default() -> Self {
        State::Start { scanned: 0 }
    }
}

/// The progress of a multibulk request whose `*` header has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Multibulk {
    /// Arguments declared by the header (> 0); `args.len()` are complete.
    count: usize,
    /// Where the next argument's `$` header starts, or, while `bulk` is set,
    /// where its data starts.
    pos: usize,
    /// How many bytes of the header at `pos` hold no `\r` and no NUL.
    scanned: usize,
    /// The declared length of the argument whose header has been read and
    /// whose data (and `\r\n`) has not all arrived.
    bulk: Option<usize>,
}

/// A [`RequestParser`] keeps at most this many argument ranges' worth of
/// capacity from one request to the next, so one huge request does not pin
/// memory for the rest of the connection's life.
const KEPT_ARGS_CAPACITY: usize = 1024;

impl RequestParser {
    /// A parser at the start of a request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the request at the front of `buf`, resuming where the previous
    /// call stopped. The answers are [`parse_request`]'s:
    ///
    /// - `Ok(Some(len))`: a complete request of `len` bytes; its arguments
    ///   are [`Self::args`] (see [`Self::arg_slices`]). Until [`Self::reset`],
    ///   further calls return the same answer at once, so a caller may peek
    ///   and then parse.
    /// - `Ok(None)`: incomplete; call again once more bytes have arrived.
    /// - `Err(e)`: a protocol error. The parser starts over: called again
    ///   with the same bytes, it returns the same error.
    ///
    /// `buf` must start at the request's first byte and hold at least the
    /// bytes given to the previous call; if it is shorter, the parser starts
    /// over (it cannot tell a different request of at least that length from
    /// the same one). `limits` must be the same on every call.
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ProtocolError> {
        if self.seen() > buf.len() {
            self.state = State::default();
        }
        let result = match self.state {
            State::Done { len } => Ok(Some(len)),
            State::Start { scanned } => {
                // A new request: forget the last one's arguments.
                self.args.clear();
                self.args.shrink_to(KEPT_ARGS_CAPACITY);
                self.scratch.clear();
                match buf.first() {
                    None => Ok(None),
                    Some(b'*') => self.multibulk_header(buf, limits, scanned),
                    Some(_) => self.inline(buf, limits, scanned),
                }
            }
            State::Multibulk(progress) => self.multibulk_args(buf, limits, progress),
        };
        if result.is_err() {
            self.state = State::default();
            self.args.clear();
            self.scratch.clear();
        }
        result
    }

    /// Forgets the request: the next [`Self::parse`] starts afresh at the
    /// front of the buffer it is given. Call it once a complete request has
    /// been consumed (or whenever the buffer no longer starts with the request
    /// parsed so far). [`Self::args`] and [`Self::scratch`] still describe the
    /// last complete request until that next call, so a caller may reset as
    /// soon as it takes a request and read the arguments after.
    pub fn reset(&mut self) {
        self.state = State::default();
    }

    /// The arguments of the complete request, as ranges of the buffer given
    /// to [`Self::parse`] and of [`Self::scratch`]. Only meaningful after
    /// `Ok(Some(_))`.
    pub fn args(&self) -> &[ArgRange] {
        &self.args
    }

    /// Where inline arguments that needed unescaping live.
    pub fn scratch(&self) -> &[u8] {
        &self.scratch
    }

    /// The arguments of the complete request, as bytes; `buf` is the buffer
    /// given to [`Self::parse`].
    pub fn arg_slices<'a>(&'a self, buf: &'a [u8]) -> impl ExactSizeIterator<Item = &'a [u8]> {
        self.args.iter().map(move |a| a.slice(buf, &self.scratch))
    }

    /// How many bytes of the request the state depends on.
    fn seen(&self) -> usize {
        match self.state {
            State::Start { scanned } => scanned,
            State::Multibulk(m) => m.pos.saturating_add(m.scanned),
            State::Done { len } => len,
        }
    }

    fn done(&mut self, len: usize) -> Result<Option<usize>, ProtocolError> {
        self.state = State::Done { len };
        Ok(Some(len))
    }

    fn inline(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        mut scanned: usize,
    ) -> Result<Option<usize>, ProtocolError> {
        let Some(nl) = find_line_end(buf, b'\n', limits.max_inline_len, &mut scanned) else {
            self.state = State::Start { scanned };
            return if buf.len() > limits.max_inline_len {
                Err(ProtocolError::TooBigInlineRequest)
            } else {
                Ok(None)
            };
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        split_inline(&buf[..line_end], &mut self.args, &mut self.scratch)?;
        self.done(nl + 1)
    }

    /// The `*` header line.
    fn multibulk_header(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        mut scanned: usize,
    ) -> Result<Option<usize>, ProtocolError> {
        let cr = match header_line(buf, 0, limits.max_inline_len, &mut scanned) {
            HeaderLine::Found { cr } => cr,
            HeaderLine::Incomplete => {
                self.state = State::Start { scanned };
                return Ok(None);
            }
            HeaderLine::TooBig => return Err(ProtocolError::TooBigMbulkCount),
        };
        if buf.get(cr + 1) != Some(&b'\n') {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        let count = buf
            .get(1..cr)
            .and_then(string2ll)
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        let pos = cr + 2;
        if count <= 0 {
            return self.done(pos);
        }
        let count = usize::try_from(count)
            .ok()
            .filter(|&n| n <= limits.max_multibulk_len)
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        let progress = Multibulk {
            count,
            pos,
            scanned: 0,
            bulk: None,
        };
        self.multibulk_args(buf, limits, progress)
    }

    /// The arguments, from where `m` says the last call stopped.
    fn multibulk_args(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        mut m: Multibulk,
    ) -> Result<Option<usize>, ProtocolError> {
        while self.args.len() < m.count {
            let len = match m.bulk {
                Some(len) => len,
                None => {
                    let cr = match header_line(buf, m.pos, limits.max_inline_len, &mut m.scanned) {
                        HeaderLine::Found { cr } => cr,
                        HeaderLine::Incomplete => {
                            self.state = State::Multibulk(m);
                            return Ok(None);
                        }
                        HeaderLine::TooBig => return Err(ProtocolError::TooBigBulkCount),
                    };
                    match buf.get(m.pos) {
                        Some(b'$') => {}
                        Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
                        None => {
                            self.state = State::Multibulk(m);
                            return Ok(None);
                        }
                    }
                    if buf.get(cr + 1) != Some(&b'\n') {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    let len = buf
                        .get(m.pos + 1..cr)
                        .and_then(string2ll)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n <= limits.max_bulk_len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    let start = cr + 2;
                    start
                        .checked_add(len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    m.pos = start;
                    m.scanned = 0;
                    m.bulk = Some(len);
                    len
                }
            };
            // `pos + len` did not overflow when the header was read.
            let end = m.pos + len;
            let Some(crlf) = buf.get(end..end.saturating_add(2)) else {
                self.state = State::Multibulk(m);
                return Ok(None);
            };
            if crlf != b"\r\n" {
                return Err(ProtocolError::ExpectedCrlf);
            }
            self.args.push(ArgRange::input(m.pos, end));
            m.pos = end + 2;
            m.bulk = None;
        }
        self.done(m.pos)
    }
}

/// Redis's `string2ll`: an optional `-` then digits, no leading zeros (only
/// "0" itself), no `+`, at most 20 bytes, within `i64`.
pub(super) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// Where a header line (`*…` or `$…`) that starts at `pos` ends.
pub(super) enum HeaderLine {
    /// `buf[cr] == b'\r'` and `cr + 1 < buf.len()`.
    Found {
        cr: usize,
    },
    Incomplete,
    TooBig,
}

/// Where the first `end` byte of `buf` is, looking no further than `limit + 1`
/// bytes and, like C's `strchr`, not past a NUL byte. The first `*scanned`
/// bytes are known to hold neither (an earlier call looked at them), so the
/// search resumes after them, and `*scanned` is moved up to where it stopped:
/// called again with more bytes, it looks at each byte once.
fn find_line_end(buf: &[u8], end: u8, limit: usize, scanned: &mut usize) -> Option<usize> {
    let window = &buf[..buf.len().min(limit.saturating_add(1))];
    let from = (*scanned).min(window.len());
    match window[from..].iter().position(|&b| b == end || b == 0) {
        Some(i) => {
            // Stop at the byte found: a NUL stays found, and an `end` whose
            // line cannot be judged yet is found again at once.
            *scanned = from + i;
            (window[from + i] == end).then_some(from + i)
        }
        None => {
            *scanned = window.len();
            None
        }
    }
}

/// Finds the `\r` ending the header line at `pos`, and only reports it once
/// the byte after it has arrived (as Redis does). `scanned` counts bytes from
/// `pos`, as for [`find_line_end`].
pub(super) fn header_line(buf: &[u8], pos: usize, limit: usize, scanned: &mut usize) -> HeaderLine {
    let rest = buf.get(pos..).unwrap_or(&[]);
    match find_line_end(rest, b'\r', limit, scanned) {
        Some(i) if i + 1 < rest.len() => HeaderLine::Found { cr: pos + i },
        Some(_) => HeaderLine::Incomplete,
        None if rest.len() > limit => HeaderLine::TooBig,
        None => HeaderLine::Incomplete,
    }
}

/// `isspace` in the C locale.
pub(super) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub(super) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One inline argument being built: empty, a run of input bytes (zero-copy),
/// or, once a byte breaks the run, a copy at the end of `scratch`.
enum Token {
    Empty,
    Input { start: usize, end: usize },
    Scratch { start: usize },
}

impl Token {
    /// Appends the input byte at `i`.
    fn push_input(&mut self, line: &[u8], i: usize, scratch: &mut Vec<u8>) {
        match *self {
            Token::Empty => {
                *self = Token::Input {
                    start: i,
                    end: i + 1,
                }
            }
            Token::Input { start, end } if end == i => {
                *self = Token::Input { start, end: i + 1 };
            }
            Token::Input { .. } | Token::Scratch { .. } => {
                let b = line.get(i).copied().unwrap_or(0);
                self.push_byte(line, b, scratch);
            }
        }
    }

    /// Appends a byte that is not the next input byte of the run.
    fn push_byte(&mut self, line: &[u8], b: u8, scratch: &mut Vec<u8>) {
        match *self {
            Token::Empty => {
                *self = Token::Scratch {
                    start: scratch.len(),
                };
            }
            Token::Input { start, end } => {
                *self = Token::Scratch {
                    start: scratch.len(),
                };
                scratch.extend_from_slice(line.get(start..end).unwrap_or(&[]));
            }
            Token::Scratch { .. } => {}
        }
        scratch.push(b);
    }

    fn finish(self, scratch: &[u8]) -> ArgRange {
        match self {
            Token::Empty => ArgRange::input(0, 0),
            Token::Input { start, end } => ArgRange::input(start, end),
            Token::Scratch { start } => ArgRange {
                start,
                end: scratch.len(),
                in_scratch: true,
            },
        }
    }
}

/// Redis's `sdssplitargs`: arguments separated by whitespace; "double quotes"
/// with `\n \r \t \b \a \xHH` and `\<any>` escapes; 'single quotes' with
/// `\'` only; a quote may start inside an argument (`a"b c"` is `ab c`), but a
/// closing quote must be followed by whitespace or the end. `line` holds no
/// NUL byte (see [`find_line_end`]), so `at` can use 0 for "past the end" as
/// the C code does.
fn split_inline(
    line: &[u8],
    args: &mut Vec<ArgRange>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    // The byte at `i`, or 0 (C's terminating NUL) past the end.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let mut token = Token::Empty;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            let mut done = false;
            if in_double {
                let hex = match (at(p + 1), hex_value(at(p + 2)), hex_value(at(p + 3))) {
                    (b'x', Some(hi), Some(lo)) if c == b'\\' => Some(hi * 16 + lo),
                    _ => None,
                };
                if let Some(byte) = hex {
                    token.push_byte(line, byte, scratch);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    match at(p) {
                        b'n' => token.push_byte(line, b'\n', scratch),
                        b'r' => token.push_byte(line, b'\r', scratch),
                        b't' => token.push_byte(line, b'\t', scratch),
                        b'b' => token.push_byte(line, 0x08, scratch),
                        b'a' => token.push_byte(line, 0x07, scratch),
                        _ => token.push_input(line, p, scratch),
                    }
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    token.push_input(line, p, scratch);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    token.push_input(line, p, scratch);
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    token.push_input(line, p, scratch);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => token.push_input(line, p, scratch),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
            if done {
                break;
            }
        }
        args.push(token.finish(scratch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parse result with its arguments copied out, for comparisons.
    type OwnedRequest = Result<Option<(usize, Vec<Vec<u8>>)>, ProtocolError>;

    /// Parses with default limits; arguments copied out.
    fn parse(buf: &[u8]) -> OwnedRequest {
        parse_with(buf, &Limits::default())
    }

    fn parse_with(buf: &[u8], limits: &Limits) -> OwnedRequest {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let n = parse_request(buf, limits, &mut args, &mut scratch)?;
        Ok(n.map(|n| {
            let v = args.iter().map(|a| a.slice(buf, &scratch).to_vec());
            (n, v.collect())
        }))
    }

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn err_text(buf: &[u8]) -> String {
        match parse(buf) {
            Err(e) => e.to_string(),
            other => panic!("expected an error for {buf:?}, got {other:?}"),
        }
    }

    #[test]
    fn multibulk_request() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        assert_eq!(
            parse(buf),
            Ok(Some((buf.len(), args(&["SET", "k", "hello"]))))
        );
        // Zero-copy: every range points into the input.
        let mut a = Vec::new();
        let mut s = Vec::new();
        parse_request(buf, &Limits::default(), &mut a, &mut s).unwrap();
        assert!(a.iter().all(|r| !r.in_scratch()));
        assert_eq!(a[2].range(), 24..29);
        assert_eq!(a[2].len(), 5);
    }

    #[test]
    fn binary_and_empty_bulk() {
        let buf = b"*2\r\n$0\r\n\r\n$4\r\n\r\n\0\xff\r\n";
        assert_eq!(
            parse(buf),
            Ok(Some((buf.len(), vec![vec![], b"\r\n\0\xff".to_vec()])))
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            err_text(b"*x\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err_text(b"*01\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err_text(b"*1048577\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err_text(b"*99999999999999999999\r\n"),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err_text(b"*1\r\n$-5\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err_text(b"*1\r\n$x\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err_text(b"*1\r\n$536870913\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err_text(b"*1\r\n:5\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            err_text(b"*1\r\n\r\n"),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            err_text(&[b'x'; 64 * 1024 + 1]),
            "Protocol error: too big inline request"
        );
        let mut big = b"*".to_vec();
        big.resize(64 * 1024 + 1, b'1');
        assert_eq!(err_text(&big), "Protocol error: too big mbulk count string");
        let mut big = b"*1\r\n$".to_vec();
        big.resize(4 + 64 * 1024 + 1, b'1');
        assert_eq!(err_text(&big), "Protocol error: too big bulk count string");
        assert_eq!(
            err_text(b"GET \"k\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err_text(b"*1\r\n$1\r\nab\r\n"),
            "Protocol error: expected CRLF after bulk data"
        );
    }

    #[test]
    fn bulk_length_limit_is_inclusive() {
        let limits = Limits {
            max_bulk_len: 3,
            max_multibulk_len: 2,
            ..Limits::default()
        };
        let ok = b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n";
        assert_eq!(
            parse_with(ok, &limits),
            Ok(Some((ok.len(), args(&["abc", ""]))))
        );
        assert_eq!(
            parse_with(b"*1\r\n$4\r\n", &limits),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_with(b"*3\r\n", &limits),
            Err(ProtocolError::InvalidMultibulkLength)
        );
    }

    #[test]
    fn headers_must_end_in_crlf() {
        assert_eq!(parse(b"*1\rx"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse(b"*1\r\n$1\rx"), Err(ProtocolError::InvalidBulkLength));
        // A `\r` with nothing after it yet: wait.
        assert_eq!(parse(b"*1\r"), Ok(None));
        assert_eq!(parse(b"*1\r\n$1\r"), Ok(None));
        // Like Redis, a header waits for its `\r` before being judged.
        assert_eq!(parse(b"*1x"), Ok(None));
        assert_eq!(parse(b"*1\r\n:"), Ok(None));
    }

    #[test]
    fn empty_requests() {
        assert_eq!(parse(b"*0\r\n"), Ok(Some((4, vec![]))));
        assert_eq!(parse(b"*-1\r\n"), Ok(Some((5, vec![]))));
        assert_eq!(parse(b"*-100\r\nPING\r\n"), Ok(Some((7, vec![]))));
        assert_eq!(parse(b"\r\n"), Ok(Some((2, vec![]))));
        assert_eq!(parse(b"\n"), Ok(Some((1, vec![]))));
        assert_eq!(parse(b"   \t \r\n"), Ok(Some((7, vec![]))));
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn pipelined_requests() {
        let buf =
            b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*0\r\n\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
        let mut requests = Vec::new();
        let mut at = 0;
        while let Some((n, a)) = parse(&buf[at..]).unwrap() {
            requests.push(a);
            at += n;
        }
        assert_eq!(
            requests,
            vec![
                args(&["PING"]),
                args(&["ECHO", "hi"]),
                vec![],
                vec![],
                args(&["GET", "k"])
            ]
        );
        assert_eq!(&buf[at..], b"*1\r\n$4\r\nPI");
    }

    #[test]
    fn byte_by_byte_delivery() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$11\r\nhello world\r\nSET \"a b\" 'c'\r\n";
        let mut received = Vec::new();
        let mut got = Vec::new();
        for &b in full {
            received.push(b);
            if let Some((n, a)) = parse(&received).unwrap() {
                got.push(a);
                received.drain(..n);
            }
        }
        assert!(received.is_empty());
        assert_eq!(
            got,
            vec![
                args(&["SET", "key", "hello world"]),
                args(&["SET", "a b", "c"])
            ]
        );
    }

    #[test]
    fn inline_quoting() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"SET k v", &[b"SET", b"k", b"v"]),
            (b"  SET\t k   v  ", &[b"SET", b"k", b"v"]),
            (b"\x0bSET\x0ck", &[b"SET\x0ck"]),
            (br#"SET "a b" c"#, &[b"SET", b"a b", b"c"]),
            (br#""\n\r\t\b\a\\\"\q""#, &[b"\n\r\t\x08\x07\\\"q"]),
            (
                br#""\x41\x7a\xff" "\x4" "\xZZ""#,
                &[b"Az\xff", b"x4", b"xZZ"],
            ),
            (br"'it\'s' 'a\nb' 'a\\b'", &[b"it's", b"a\\nb", b"a\\\\b"]),
            (br#""" '' x"#, &[b"", b"", b"x"]),
            (br#"a"b c" d"#, &[b"ab c", b"d"]),
            (br#"a'b"c' d"#, &[b"ab\"c", b"d"]),
            (b"\"a\"\x0b\"b\"", &[b"a", b"b"]),
            (b"'a'\t'b'\x0c\"c\"\r'd'", &[b"a", b"b", b"c", b"d"]),
        ];
        for (line, expected) in cases {
            let mut buf = line.to_vec();
            buf.extend_from_slice(b"\r\n");
            let expected: Vec<Vec<u8>> = expected.iter().map(|a| a.to_vec()).collect();
            assert_eq!(parse(&buf), Ok(Some((buf.len(), expected))), "{line:?}");
        }
        for bad in [
            &b"\"abc\n"[..],
            b"'abc\n",
            b"\"a\"b\n",
            b"'a'b\n",
            b"'a\\\\'\n",
            b"\"a\\\"\n",
        ] {
            assert_eq!(parse(bad), Err(ProtocolError::UnbalancedQuotes), "{bad:?}");
        }
    }

    #[test]
    fn inline_zero_copy_where_possible() {
        let buf = br#"SET "plain" "esc\n" k"#.to_vec();
        let mut a = Vec::new();
        let mut s = Vec::new();
        let n = parse_request(
            &[&buf[..], b"\n"].concat(),
            &Limits::default(),
            &mut a,
            &mut s,
        );
        assert_eq!(n, Ok(Some(buf.len() + 1)));
        let in_scratch: Vec<bool> = a.iter().map(ArgRange::in_scratch).collect();
        assert_eq!(in_scratch, [false, false, true, false]);
        assert_eq!(s, b"esc\n");
    }

    #[test]
    fn inline_line_length_limit() {
        let limits = Limits {
            max_inline_len: 8,
            ..Limits::default()
        };
        // Eight bytes then the newline: fine. Nine bytes: too big, whether
        // the newline has arrived or not.
        assert_eq!(
            parse_with(b"12345678\n", &limits),
            Ok(Some((9, args(&["12345678"]))))
        );
        assert_eq!(parse_with(b"12345678", &limits), Ok(None));
        assert_eq!(
            parse_with(b"123456789", &limits),
            Err(ProtocolError::TooBigInlineRequest)
        );
        assert_eq!(
            parse_with(b"123456789\n", &limits),
            Err(ProtocolError::TooBigInlineRequest)
        );
    }

    #[test]
    fn nul_hides_line_ends_as_in_redis() {
        let limits = Limits {
            max_inline_len: 16,
            ..Limits::default()
        };
        let padded = |start: &[u8]| {
            let mut v = start.to_vec();
            v.resize(17, b'x');
            v
        };
        assert_eq!(parse_with(b"SET a\0b c\r\n", &limits), Ok(None));
        assert_eq!(
            parse_with(&padded(b"SET a\0b c\r\n"), &limits),
            Err(ProtocolError::TooBigInlineRequest)
        );
        assert_eq!(parse_with(b"*1\0\r\n", &limits), Ok(None));
        assert_eq!(
            parse_with(&padded(b"*1\0\r\n"), &limits),
            Err(ProtocolError::TooBigMbulkCount)
        );
        assert_eq!(parse_with(b"*1\r\n\0$1\r\n", &limits), Ok(None));
        let mut long = b"*1\r\n".to_vec();
        long.extend(padded(b"\0$1\r\n"));
        assert_eq!(
            parse_with(&long, &limits),
            Err(ProtocolError::TooBigBulkCount)
        );
        // After the line end, or inside bulk data, a NUL is just a byte.
        assert_eq!(parse(b"GET a\n\0"), Ok(Some((6, args(&["GET", "a"])))));
        assert_eq!(parse(b"*1\r\n$1\r\n\0\r\n"), Ok(Some((11, vec![vec![0]]))));
    }

    #[test]
    fn huge_declared_length_waits_without_allocating() {
        let mut a = Vec::new();
        let mut s = Vec::new();
        let buf = b"*1\r\n$536870911\r\nabc";
        let r = parse_request(buf, &Limits::default(), &mut a, &mut s);
        assert_eq!(r, Ok(None));
        assert!(a.capacity() < 1024 && s.capacity() < 1024);
        let r = parse_request(b"*1048576\r\n", &Limits::default(), &mut a, &mut s);
        assert_eq!(r, Ok(None));
        assert!(a.capacity() < 1024);
    }

    /// Feeds `data` in pieces of `piece` bytes; the first complete answer.
    fn resumed(
        parser: &mut RequestParser,
        data: &[u8],
        piece: usize,
    ) -> Result<Option<usize>, ProtocolError> {
        let mut end = 0;
        loop {
            end = data.len().min(end + piece);
            let r = parser.parse(&data[..end], &Limits::default());
            if !matches!(r, Ok(None)) || end == data.len() {
                return r;
            }
        }
    }

    #[test]
    fn resumed_parse_gives_the_same_request() {
        let buf = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$11\r\nhello world\r\n";
        for piece in 1..=buf.len() {
            let mut p = RequestParser::new();
            assert_eq!(resumed(&mut p, buf, piece), Ok(Some(buf.len())), "{piece}");
            let got: Vec<&[u8]> = p.arg_slices(buf).collect();
            assert_eq!(got, [&b"SET"[..], b"key", b"hello world"], "{piece}");
        }
    }

    #[test]
    fn resumed_parse_does_not_read_bytes_again() {
        // Once the first argument is read, its bytes are not looked at again:
        // garbage there now (which a caller must never do) goes unnoticed.
        let mut p = RequestParser::new();
        let limits = Limits::default();
        assert_eq!(p.parse(b"*2\r\n$1\r\na\r\n$1", &limits), Ok(None));
        let changed = b"*2\r\nxxxxxxx$1\r\nb\r\n";
        assert_eq!(p.parse(changed, &limits), Ok(Some(changed.len())));
        assert_eq!(p.args()[1].slice(changed, p.scratch()), b"b");
        // Likewise the part of a header line already scanned for its end: a
        // NUL there now would hide the line end from a parse from scratch.
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$10", &limits), Ok(None));
        let nul = b"*1\r\n$1\0\r\n";
        assert_eq!(p.parse(nul, &limits), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse(nul), Ok(None));
        // And bulk data: only its end is looked at.
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$3\r\nab", &limits), Ok(None));
        assert_eq!(p.parse(b"*1\r\n$3\r\n\r\nc\r\n", &limits), Ok(Some(13)));
    }

    #[test]
    fn a_million_arguments_in_reads_of_16_kib() {
        let n = 1 << 20;
        let mut buf = format!("*{n}\r\n").into_bytes();
        for _ in 0..n {
            buf.extend_from_slice(b"$1\r\na\r\n");
        }
        let mut p = RequestParser::new();
        assert_eq!(resumed(&mut p, &buf, 16 << 10), Ok(Some(buf.len())));
        assert_eq!(p.args().len(), n);
        assert!(p.arg_slices(&buf).all(|a| a == b"a"));
        // The next request does not keep the big one's capacity.
        p.reset();
        assert_eq!(p.parse(b"PING\r\n", &Limits::default()), Ok(Some(6)));
        assert!(p.args.capacity() <= KEPT_ARGS_CAPACITY);
    }

    #[test]
    fn peek_then_parse_then_reset() {
        let limits = Limits::default();
        let buf = b"*1\r\n$4\r\nPING\r\nECHO \"x\\ty\"\r\n*1\r\n$3\r\nGET";
        let mut p = RequestParser::new();
        // Asking again gives the same request, however often.
        for _ in 0..3 {
            assert_eq!(p.parse(&buf[..10], &limits), Ok(None));
        }
        for _ in 0..3 {
            assert_eq!(p.parse(buf, &limits), Ok(Some(14)));
            assert_eq!(p.arg_slices(buf).collect::<Vec<_>>(), [b"PING"]);
        }
        // After a reset the arguments stay readable until the next parse,
        // which starts at the front of the buffer it is given.
        p.reset();
        assert_eq!(p.arg_slices(buf).collect::<Vec<_>>(), [b"PING"]);
        let rest = &buf[14..];
        assert_eq!(p.parse(rest, &limits), Ok(Some(13)));
        let args: Vec<&[u8]> = p.arg_slices(rest).collect();
        assert_eq!(args, [&b"ECHO"[..], b"x\ty"]);
        assert!(p.args()[1].in_scratch());
        p.reset();
        let rest = &rest[13..];
        assert_eq!(p.parse(rest, &limits), Ok(None));
        // The buffer moved and grew (the connection compacted it and read
        // more): offsets, not pointers, so parsing goes on.
        let moved = [rest, &b"\r\n"[..]].concat();
        assert_eq!(p.parse(&moved, &limits), Ok(Some(moved.len())));
        assert_eq!(p.arg_slices(&moved).collect::<Vec<_>>(), [b"GET"]);
    }

    #[test]
    fn resumed_parse_errors_and_misuse() {
        let limits = Limits::default();
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*2\r\n$1\r\na\r\n", &limits), Ok(None));
        let bad = b"*2\r\n$1\r\na\r\n:1\r\n";
        // An error starts the parser over; asked again, it says the same.
        assert_eq!(
            p.parse(bad, &limits),
            Err(ProtocolError::ExpectedDollar(b':'))
        );
        assert!(p.args().is_empty());
        assert_eq!(
            p.parse(bad, &limits),
            Err(ProtocolError::ExpectedDollar(b':'))
        );
        // A buffer shorter than what was seen: not the same request; start
        // over rather than trust offsets past its end.
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*2\r\n$1\r\na\r\n", &limits), Ok(None));
        assert_eq!(p.parse(b"GET k\r\n", &limits), Ok(Some(7)));
        assert_eq!(p.parse(b"", &limits), Ok(None));
        assert_eq!(p.parse(b"*0\r\n", &limits), Ok(Some(4)));
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-0"), None);
        assert_eq!(string2ll(b"+1"), None);
        assert_eq!(string2ll(b"007"), None);
        assert_eq!(string2ll(b"-"), None);
        assert_eq!(string2ll(b""), None);
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"-9223372036854775809"), None);
        assert_eq!(string2ll(b"18446744073709551616"), None);
        assert_eq!(string2ll(b"1 "), None);
    }
}
