//! RESP3 replies, for connections that sent `HELLO 3`.
//!
//! Every command writes its reply in RESP2, the protocol most clients
//! speak; a RESP3 connection's replies are rewritten on their way out,
//! using what RESP3 adds where Redis 7 uses it: the null `_` for every nil,
//! maps (`%`) for HGETALL, CONFIG GET and HELLO, sets (`~`) for SMEMBERS
//! and the set algebra, doubles (`,`) for scores, `[member, score]` pairs
//! for `WITHSCORES`, and verbatim text (`=`) for INFO and CLIENT INFO/LIST.
//! Redis 7 returns no booleans from the commands this server has, so none
//! appear here.
//!
//! Why rewrite instead of writing both: the command code stays written
//! once, and a RESP2 connection (most traffic, and every benchmark) pays
//! nothing, not even a branch per reply element. A RESP3 reply costs one
//! pass over its bytes. How a command's reply is reshaped ([`Shape`]) is
//! decided from the request alone, so a reply computed on another core
//! (thread per core) is reshaped where it is put back in order.

use crate::cmd::Spec;
use crate::reply;

/// How a RESP2 reply becomes RESP3. Whatever the shape, an error reply
/// stays as it is and every nil becomes `_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The same types.
    Plain,
    /// A flat array `k1 v1 k2 v2 …` becomes a map.
    Map,
    /// An array becomes a set.
    Set,
    /// A bulk string holding a score becomes a double; an array of them,
    /// an array of doubles.
    Double,
    /// `member score member score …` becomes `[[member, score], …]`, with
    /// doubles for scores (`WITHSCORES`, ZPOPMIN with a count).
    ScorePairs,
    /// `member score` (ZPOPMIN without a count) keeps its flat form, with
    /// a double for the score.
    FlatScore,
    /// A bulk string becomes verbatim text (`=len\r\ntxt:…`).
    Verbatim,
}

fn has_arg(args: &[&[u8]], word: &str) -> bool {
    args.iter()
        .skip(2)
        .any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

fn sub_is(args: &[&[u8]], names: &[&str]) -> bool {
    args.get(1)
        .is_some_and(|a| names.iter().any(|n| a.eq_ignore_ascii_case(n.as_bytes())))
}

// ANCHOR: shape
/// How the reply to `args` (a command of `spec`) looks in RESP3.
pub fn shape(spec: &Spec, args: &[&[u8]]) -> Shape {
    match spec.name {
        "hgetall" | "hello" => Shape::Map,
        "config" if sub_is(args, &["get"]) => Shape::Map,
        "smembers" | "sinter" | "sunion" | "sdiff" => Shape::Set,
        "spop" if args.len() > 2 => Shape::Set,
        "zscore" | "zincrby" | "zmscore" => Shape::Double,
        "zadd" if has_arg(args, "incr") => Shape::Double,
        "zrange" | "zrangebyscore" | "zrevrange" | "zrevrangebyscore"
            if has_arg(args, "withscores") =>
        {
            Shape::ScorePairs
        }
        "zpopmin" | "zpopmax" if args.len() > 2 => Shape::ScorePairs,
        "zpopmin" | "zpopmax" => Shape::FlatScore,
        "info" => Shape::Verbatim,
        "client" if sub_is(args, &["info", "list"]) => Shape::Verbatim,
        _ => Shape::Plain,
    }
}
// ANCHOR_END: shape

/// Appends `reply` (one complete RESP2 reply, as the commands write
/// them) to `out` in RESP3, reshaped by `shape`. A reply that does not
/// parse (which would be a bug) is copied unchanged.
pub fn convert(shape: Shape, reply: &[u8], out: &mut Vec<u8>) {
    let mark = out.len();
    if (Reshape { buf: reply, out }).top(shape).is_none() {
        out.truncate(mark);
        out.extend_from_slice(reply);
    }
}

/// Rewrites the reply written to `out` from `start` on, in place.
pub fn convert_tail(shape: Shape, out: &mut Vec<u8>, start: usize) {
    if shape == Shape::Plain && !might_hold_nil(&out[start..]) {
        return;
    }
    let tail = out.split_off(start);
    convert(shape, &tail, out);
}

/// Whether a RESP2 reply could contain a nil (`$-1` or `*-1`): the fast
/// path for the common reply, which has none.
fn might_hold_nil(reply: &[u8]) -> bool {
    reply.windows(3).any(|w| w == b"-1\r")
}

struct Reshape<'a, 'o> {
    buf: &'a [u8],
    out: &'o mut Vec<u8>,
}

impl<'a> Reshape<'a, '_> {
    /// The line at `pos` (without CRLF) and where the next begins.
    fn line(&self, pos: usize) -> Option<(&'a [u8], usize)> {
        let buf: &'a [u8] = self.buf;
        let rest = buf.get(pos..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((&rest[..end], pos + end + 2))
    }

    fn number(text: &[u8]) -> Option<i64> {
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    /// An array header at `pos`: its length (`None` for the nil array)
    /// and where its elements start.
    fn array_at(&self, pos: usize) -> Option<(Option<usize>, usize)> {
        if self.buf.get(pos) != Some(&b'*') {
            return None;
        }
        let (text, next) = self.line(pos + 1)?;
        let n = Self::number(text)?;
        Some((usize::try_from(n).ok(), next))
    }

    /// A bulk string at `pos`: its bytes (`None` for nil) and what follows.
    fn bulk_at(&self, pos: usize) -> Option<(Option<&'a [u8]>, usize)> {
        let buf: &'a [u8] = self.buf;
        if buf.get(pos) != Some(&b'$') {
            return None;
        }
        let (text, start) = self.line(pos + 1)?;
        let Ok(len) = usize::try_from(Self::number(text)?) else {
            return Some((None, start));
        };
        let body = buf.get(start..start + len)?;
        (buf.get(start + len..start + len + 2)? == b"\r\n").then_some((Some(body), start + len + 2))
    }

    fn null(&mut self) {
        self.out.extend_from_slice(b"_\r\n");
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.out.push(kind);
        let mut digits = [0u8; 20];
        let len = reply::format_int(&mut digits, n as i64);
        self.out.extend_from_slice(&digits[..len]);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Copies the frame at `pos`, nils as `_`; returns where it ends.
    fn plain(&mut self, pos: usize) -> Option<usize> {
        match *self.buf.get(pos)? {
            b'+' | b'-' | b':' => {
                let (_, next) = self.line(pos + 1)?;
                self.out.extend_from_slice(&self.buf[pos..next]);
                Some(next)
            }
            b'$' => {
                let (body, next) = self.bulk_at(pos)?;
                match body {
                    None => self.null(),
                    Some(_) => self.out.extend_from_slice(&self.buf[pos..next]),
                }
                Some(next)
            }
            b'*' => {
                let (n, mut next) = self.array_at(pos)?;
                let Some(n) = n else {
                    self.null();
                    return Some(next);
                };
                self.header(b'*', n);
                for _ in 0..n {
                    next = self.plain(next)?;
                }
                Some(next)
            }
            _ => None,
        }
    }

    /// A score (bulk text) as a double, or nil as `_`.
    fn double(&mut self, pos: usize) -> Option<usize> {
        let (body, next) = self.bulk_at(pos)?;
        match body {
            None => self.null(),
            Some(text) => {
                self.out.push(b',');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
        Some(next)
    }

    /// The whole reply, by `shape`. Anything but the expected array (an
    /// error, a nil) is copied plain.
    fn top(&mut self, shape: Shape) -> Option<usize> {
        let pos = 0;
        let array = self.array_at(pos);
        match (shape, array) {
            (Shape::Plain, _) => self.plain(pos),
            (Shape::Double, Some((Some(n), mut next))) => {
                self.header(b'*', n);
                for _ in 0..n {
                    next = self.double(next)?;
                }
                Some(next)
            }
            (Shape::Double, _) if self.buf.first() == Some(&b'$') => self.double(pos),
            (Shape::Verbatim, _) => match self.bulk_at(pos) {
                Some((Some(text), next)) => {
                    self.header(b'=', text.len() + 4);
                    self.out.extend_from_slice(b"txt:");
                    self.out.extend_from_slice(text);
                    self.out.extend_from_slice(b"\r\n");
                    Some(next)
                }
                _ => self.plain(pos),
            },
            (Shape::Map, Some((Some(n), mut next))) if n % 2 == 0 => {
                self.header(b'%', n / 2);
                for _ in 0..n {
                    next = self.plain(next)?;
                }
                Some(next)
            }
            (Shape::Set, Some((Some(n), mut next))) => {
                self.header(b'~', n);
                for _ in 0..n {
                    next = self.plain(next)?;
                }
                Some(next)
            }
            (Shape::ScorePairs, Some((Some(n), mut next))) if n % 2 == 0 => {
                self.header(b'*', n / 2);
                for _ in 0..n / 2 {
                    self.header(b'*', 2);
                    next = self.plain(next)?;
                    next = self.double(next)?;
                }
                Some(next)
            }
            (Shape::FlatScore, Some((Some(2), next))) => {
                self.header(b'*', 2);
                let next = self.plain(next)?;
                self.double(next)
            }
            _ => self.plain(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(shape: Shape, r: &[u8]) -> Vec<u8> {
        let mut out = b"x".to_vec();
        convert(shape, r, &mut out);
        out.remove(0);
        out
    }

    #[test]
    fn nils_become_null_everywhere() {
        assert_eq!(conv(Shape::Plain, b"$-1\r\n"), b"_\r\n");
        assert_eq!(conv(Shape::Plain, b"*-1\r\n"), b"_\r\n");
        assert_eq!(
            conv(Shape::Plain, b"*2\r\n$-1\r\n$1\r\na\r\n"),
            b"*2\r\n_\r\n$1\r\na\r\n"
        );
        // A bulk string whose bytes look like a nil is data, not a nil.
        assert_eq!(
            conv(Shape::Plain, b"$5\r\n$-1\r\n\r\n"),
            b"$5\r\n$-1\r\n\r\n"
        );
        let mut out = b"+OK\r\n$5\r\n$-1\r\n\r\n".to_vec();
        convert_tail(Shape::Plain, &mut out, 5);
        assert_eq!(out, b"+OK\r\n$5\r\n$-1\r\n\r\n");
    }

    #[test]
    fn the_shapes_redis_7_uses() {
        assert_eq!(
            conv(
                Shape::Map,
                b"*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n"
            ),
            b"%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n"
        );
        assert_eq!(conv(Shape::Set, b"*1\r\n$1\r\nx\r\n"), b"~1\r\n$1\r\nx\r\n");
        assert_eq!(conv(Shape::Double, b"$3\r\n1.5\r\n"), b",1.5\r\n");
        assert_eq!(conv(Shape::Double, b"$-1\r\n"), b"_\r\n");
        assert_eq!(
            conv(Shape::Double, b"*2\r\n$1\r\n3\r\n$-1\r\n"),
            b"*2\r\n,3\r\n_\r\n"
        );
        assert_eq!(
            conv(
                Shape::ScorePairs,
                b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\ninf\r\n"
            ),
            b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,inf\r\n"
        );
        assert_eq!(
            conv(Shape::FlatScore, b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
            b"*2\r\n$1\r\na\r\n,1\r\n"
        );
        assert_eq!(conv(Shape::FlatScore, b"*0\r\n"), b"*0\r\n");
        assert_eq!(
            conv(Shape::Verbatim, b"$3\r\nabc\r\n"),
            b"=7\r\ntxt:abc\r\n"
        );
        // Errors pass through whatever the shape.
        for shape in [Shape::Map, Shape::Set, Shape::Double, Shape::ScorePairs] {
            assert_eq!(conv(shape, b"-ERR x\r\n"), b"-ERR x\r\n");
        }
    }

    #[test]
    fn malformed_input_is_copied_not_panicked_on() {
        for bad in [&b"*3\r\n$1\r\na\r\n"[..], b"$10\r\nab\r\n", b"?", b""] {
            assert_eq!(conv(Shape::Map, bad), bad);
            assert_eq!(conv(Shape::Plain, bad), bad);
        }
    }
}
