//! The fuzz oracle: [`fuzz_one`] checks the invariants of both parsers on
//! arbitrary input, and panics when one breaks. The proptests in
//! `tests/resp_fuzz.rs` and the cargo-fuzz target in `fuzz/` call it.
//!
//! Compiled only for tests and with the `fuzz-oracle` feature: it is a
//! checker, with reference parsers of its own, and a server has no use
//! for it. It lives inside the crate (not in the fuzz crate) because it
//! checks the parser's internals: argument ranges, and the header scan
//! the reference multibulk parser shares.

use super::error::ProtocolError;
use super::frame::{encode_command, parse_frame};
use super::request::{
    ArgRange, HeaderLine, Limits, RequestParser, header_line, hex_value, is_c_space, parse_request,
    string2ll,
};

/// A parse result with its arguments copied out, for comparisons.
type OwnedRequest = Result<Option<(usize, Vec<Vec<u8>>)>, ProtocolError>;

/// Runs [`parse_request`] and checks what must hold of any result.
fn checked_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<ArgRange>,
    scratch: &mut Vec<u8>,
) -> OwnedRequest {
    // Leftovers from an earlier call must not leak into this one.
    args.push(ArgRange::input(usize::MAX - 1, usize::MAX));
    scratch.extend_from_slice(b"stale");
    match parse_request(buf, limits, args, scratch) {
        Ok(Some(n)) => {
            assert!(n > 0, "consumed 0 bytes");
            assert!(n <= buf.len(), "consumed {n} of {} bytes", buf.len());
            for a in args.iter() {
                assert!(a.start <= a.end, "reversed range {a:?}");
                if a.in_scratch {
                    assert!(a.end <= scratch.len(), "{a:?} outside scratch");
                } else {
                    assert!(a.end <= n, "{a:?} outside the {n} consumed bytes");
                }
            }
            let owned = args.iter().map(|a| a.slice(buf, scratch).to_vec());
            Ok(Some((n, owned.collect())))
        }
        Ok(None) => {
            assert!(args.is_empty() && scratch.is_empty(), "leftovers");
            Ok(None)
        }
        Err(e) => {
            assert!(args.is_empty() && scratch.is_empty(), "leftovers");
            assert!(e.to_string().starts_with("Protocol error: "), "{e}");
            Err(e)
        }
    }
}

/// A small deterministic generator (an LCG) for picking cuts: the same input
/// always gets the same ones, and the fuzzer varies them by varying it.
struct Lcg(u64);

impl Lcg {
    /// Seeded from `len` and `bytes` (FNV-1a style).
    fn seeded(bytes: &[u8], len: usize, salt: u64) -> Self {
        Lcg(bytes.iter().fold(len as u64 ^ salt, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }))
    }

    /// A number below `n` (> 0).
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % n
    }
}

/// Where to cut `len` bytes in two for the split-delivery check: everywhere
/// for short inputs, a sample (ends, the first request's end, the small
/// limits, and a few spots picked from the data) for long ones.
fn split_points(data: &[u8], first_end: Option<usize>) -> Vec<usize> {
    let len = data.len();
    if len <= 64 {
        return (0..len).collect();
    }
    let mut points = vec![1, 2, 3, 31, 32, 33, 34, len / 4, len / 2, len - 2, len - 1];
    if let Some(n) = first_end {
        points.extend([n.saturating_sub(2), n - 1, n, n + 1]);
    }
    let mut rng = Lcg::seeded(&data[..64], len, 0x9e37_79b9_7f4a_7c15);
    for _ in 0..6 {
        points.push(rng.below(len));
    }
    points.retain(|&k| k < len);
    points.sort_unstable();
    points.dedup();
    points
}

/// Ends of the pieces for the many-pieces delivery check: up to 64 pieces of
/// 1 to `2^k` bytes (`k` below 8, picked from the data), then the rest.
fn piece_ends(data: &[u8]) -> Vec<usize> {
    let len = data.len();
    let mut rng = Lcg::seeded(data, len, 0x2545_f491_4f6c_dd1d);
    let max_piece = 1 << rng.below(8);
    let mut ends = Vec::new();
    let mut at = 0;
    while at < len && ends.len() < 64 {
        at = len.min(at + 1 + rng.below(max_piece));
        ends.push(at);
    }
    if ends.last() != Some(&len) {
        ends.push(len);
    }
    ends
}

/// Feeds `data` to one [`RequestParser`] in pieces ending at `ends`
/// (ascending, the last `data.len()`) as a connection does: after each piece
/// it takes requests off the front until one is incomplete, resetting the
/// parser after each, and stops at an error. Every answer must be
/// [`parse_request`]'s for the same bytes, argument ranges and scratch
/// included, and asking twice (a peek, then the parse) must give it twice.
fn check_resumed(data: &[u8], limits: &Limits, ends: &[usize]) {
    let mut parser = RequestParser::new();
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut start = 0;
    for &end in ends {
        while let Some(buf) = data.get(start..end) {
            let want = parse_request(buf, limits, &mut args, &mut scratch);
            for _ in 0..2 {
                let got = parser.parse(buf, limits);
                assert_eq!(
                    got,
                    want,
                    "resumed parse of the request at {start}, {} bytes in, disagrees",
                    buf.len()
                );
                if let Ok(Some(_)) = got {
                    assert_eq!(parser.args(), &args[..], "resumed parse: arguments");
                    assert_eq!(parser.scratch(), &scratch[..], "resumed parse: scratch");
                }
            }
            match want {
                Ok(Some(n)) => {
                    parser.reset();
                    start += n;
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Checks that parsing `data[..k]` agrees with parsing all of `data`
/// (`full`): "incomplete", or the same answer, and the same answer whenever
/// the prefix holds the whole first request.
fn check_prefix<T: PartialEq + std::fmt::Debug>(
    k: usize,
    prefix: &Result<Option<T>, ProtocolError>,
    full: &Result<Option<T>, ProtocolError>,
    full_end: Option<usize>,
) {
    match prefix {
        Ok(None) => {
            if let Some(n) = full_end {
                assert!(
                    k < n,
                    "prefix of {k} bytes holds the {n}-byte request but is incomplete"
                );
            }
        }
        _ => assert_eq!(prefix, full, "prefix of {k} bytes disagrees"),
    }
}

/// The multibulk parser as it was before it could resume: from the first
/// byte on every call, nothing kept. [`RequestParser`] must agree with it.
fn reference_multibulk(buf: &[u8], limits: &Limits) -> OwnedRequest {
    let line = |pos: usize| header_line(buf, pos, limits.max_inline_len, &mut 0);
    let cr = match line(0) {
        HeaderLine::Found { cr } => cr,
        HeaderLine::Incomplete => return Ok(None),
        HeaderLine::TooBig => return Err(ProtocolError::TooBigMbulkCount),
    };
    if buf.get(cr + 1) != Some(&b'\n') {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    let count = buf
        .get(1..cr)
        .and_then(string2ll)
        .ok_or(ProtocolError::InvalidMultibulkLength)?;
    let mut pos = cr + 2;
    let mut args = Vec::new();
    if count <= 0 {
        return Ok(Some((pos, args)));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= limits.max_multibulk_len)
        .ok_or(ProtocolError::InvalidMultibulkLength)?;
    for _ in 0..count {
        let cr = match line(pos) {
            HeaderLine::Found { cr } => cr,
            HeaderLine::Incomplete => return Ok(None),
            HeaderLine::TooBig => return Err(ProtocolError::TooBigBulkCount),
        };
        match buf.get(pos) {
            Some(b'$') => {}
            Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
            None => return Ok(None),
        }
        if buf.get(cr + 1) != Some(&b'\n') {
            return Err(ProtocolError::InvalidBulkLength);
        }
        let len = buf
            .get(pos + 1..cr)
            .and_then(string2ll)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.max_bulk_len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let start = cr + 2;
        let end = start
            .checked_add(len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let Some(crlf) = buf.get(end..end.saturating_add(2)) else {
            return Ok(None);
        };
        if crlf != b"\r\n" {
            return Err(ProtocolError::ExpectedCrlf);
        }
        args.push(buf[start..end].to_vec());
        pos = end + 2;
    }
    Ok(Some((pos, args)))
}

/// Sdssplitargs written the plain way (owned arguments, no ranges), to check
/// the zero-copy version against.
fn reference_split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    assert!(!line.contains(&0), "a NUL byte in a parsed inline line");
    let mut args = Vec::new();
    let mut rest = line;
    loop {
        while let [c, tail @ ..] = rest {
            if !is_c_space(*c) {
                break;
            }
            rest = tail;
        }
        if rest.is_empty() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let mut quote = None;
        loop {
            match (quote, rest) {
                (Some(b'"'), [b'\\', b'x', h, l, tail @ ..])
                    if hex_value(*h).is_some() && hex_value(*l).is_some() =>
                {
                    arg.push(hex_value(*h)? * 16 + hex_value(*l)?);
                    rest = tail;
                }
                (Some(b'"'), [b'\\', e, tail @ ..]) => {
                    arg.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => *other,
                    });
                    rest = tail;
                }
                (Some(b'\''), [b'\\', b'\'', tail @ ..]) => {
                    arg.push(b'\'');
                    rest = tail;
                }
                (Some(q), [c, tail @ ..]) if *c == q => {
                    if let [next, ..] = tail
                        && !is_c_space(*next)
                    {
                        return None;
                    }
                    rest = tail;
                    break;
                }
                (Some(_), []) => return None,
                (Some(_), [c, tail @ ..]) => {
                    arg.push(*c);
                    rest = tail;
                }
                (None, []) => break,
                (None, [b' ' | b'\n' | b'\r' | b'\t', tail @ ..]) => {
                    rest = tail;
                    break;
                }
                (None, [q @ (b'"' | b'\''), tail @ ..]) => {
                    quote = Some(*q);
                    rest = tail;
                }
                (None, [c, tail @ ..]) => {
                    arg.push(*c);
                    rest = tail;
                }
            }
        }
        args.push(arg);
    }
}

/// Checks the invariants of [`parse_request`] and [`parse_frame`] on
/// arbitrary bytes, panicking on a violation; the body of the fuzz targets.
///
/// - no panic; a complete request consumes `0 < n <= len` bytes and its
///   argument ranges are in bounds (input ranges within the request);
/// - delivered in two pieces (every cut for short inputs, a sample for long
///   ones), the prefix gives "incomplete" or the same result as the whole,
///   and the same result whenever it holds the whole first request;
/// - a multibulk request parses as the plain non-resuming parser would;
/// - delivered to one [`RequestParser`] in many pieces (one byte at a time
///   for short inputs; the two-piece cuts above; up to 64 pieces of sizes
///   picked from the data), every answer, arguments included, is
///   [`parse_request`]'s for the same bytes, and a peek then a parse give it
///   twice; requests are taken off the front as a connection does;
/// - a whole buffer of pipelined requests parses one after another;
/// - arguments re-encoded with [`encode_command`] parse back the same, and a
///   multibulk request with arguments re-encodes to exactly its bytes;
/// - inline arguments equal those of a plain reference `sdssplitargs`;
/// - both with the default [`Limits`] and with tiny ones;
/// - the same prefix property for [`parse_frame`], and
///   `parse_frame(encode(frame)) == frame`.
pub fn fuzz_one(data: &[u8]) {
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let tiny = Limits {
        max_bulk_len: 16,
        max_multibulk_len: 8,
        max_inline_len: 32,
    };
    for limits in [Limits::default(), tiny] {
        let full = checked_request(data, &limits, &mut args, &mut scratch);
        let full_end = match &full {
            Ok(Some((n, _))) => Some(*n),
            _ => None,
        };
        let is_multibulk = data.first() == Some(&b'*');
        if is_multibulk {
            assert_eq!(full, reference_multibulk(data, &limits), "reference");
        }
        let mut cuts = split_points(data, full_end);
        for &k in &cuts {
            let prefix = checked_request(&data[..k], &limits, &mut args, &mut scratch);
            check_prefix(k, &prefix, &full, full_end);
            if is_multibulk {
                let reference = reference_multibulk(&data[..k], &limits);
                assert_eq!(prefix, reference, "reference, prefix of {k} bytes");
            }
        }
        cuts.push(data.len());
        check_resumed(data, &limits, &cuts);
        check_resumed(data, &limits, &piece_ends(data));

        // Pipelined: take requests off the front until one is not complete.
        let mut offset = 0;
        while let Ok(Some((n, _))) =
            checked_request(&data[offset..], &limits, &mut args, &mut scratch)
        {
            offset += n;
        }

        let Ok(Some((n, parsed))) = &full else {
            continue;
        };
        if !is_multibulk {
            let mut line = &data[..*n - 1];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            let expected = reference_split(line);
            assert_eq!(expected.as_ref(), Some(parsed), "inline split differs");
        }
        if limits == Limits::default() {
            let refs: Vec<&[u8]> = parsed.iter().map(Vec::as_slice).collect();
            let mut encoded = Vec::new();
            encode_command(&refs, &mut encoded);
            let again = checked_request(&encoded, &limits, &mut args, &mut scratch);
            assert_eq!(
                again,
                Ok(Some((encoded.len(), parsed.clone()))),
                "re-encoding"
            );
            if is_multibulk && !parsed.is_empty() {
                assert_eq!(encoded, data[..*n], "multibulk is not canonical");
            }
        }
    }

    let full = parse_frame(data);
    let full_end = match &full {
        Ok(Some((frame, n))) => {
            assert!(*n > 0 && *n <= data.len(), "frame consumed {n}");
            let encoded = frame.to_bytes();
            assert_eq!(
                parse_frame(&encoded),
                Ok(Some((frame.clone(), encoded.len()))),
                "frame round trip"
            );
            Some(*n)
        }
        Ok(None) => None,
        Err(e) => {
            assert!(e.to_string().starts_with("Protocol error: "), "{e}");
            None
        }
    };
    for k in split_points(data, full_end) {
        check_prefix(k, &parse_frame(&data[..k]), &full, full_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_one_accepts_samples() {
        for sample in [
            &b""[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
            b"SET \"a\\x41\" 'b'\r\nGET a\n",
            b"*1\r\n+OK\r\n",
            b"*2\r\n$-1\r\n:5\r\n",
            b"\xff\xfe\x00*",
        ] {
            fuzz_one(sample);
        }
    }
}
