//! Routing a command to the part of the keyspace that holds its keys, and
//! merging the answers.
//!
//! Two of the three models split the keyspace: task-per-connection into
//! lab-01's lock-protected shards, thread-per-core into one part per core.
//! Both route the same way. A one-key command runs whole where its key
//! lives; a multi-key command (`DEL a b`, `MGET`, `MSET`) becomes one
//! command per key, run where each key lives, with the replies merged; a
//! keyspace-wide one (`KEYS`, `DBSIZE`, `FLUSHDB`) runs on every part;
//! `SCAN` walks the parts in turn with the part number in the cursor's
//! high bits. What differs between the models is only how a piece gets to
//! its part: by taking a lock ([`Shards`]) or by a message to another core.
//!
//! A command that must see several keys at once (RENAME, SMOVE,
//! SUNIONSTORE: [`Route::Keys`]) is not split: it runs once, with the
//! parts of all its keys held together. MSET, DEL and MGET are split,
//! and a split write that spans parts is applied part by part, so another
//! client can observe it half done (Redis Cluster refuses such commands
//! with CROSSSLOT instead); inside MULTI … EXEC they are atomic, as every
//! part the transaction touches is held (see `tx`). The event loop has
//! one part and is atomic.

use crate::cmd::{Merge, Route, Spec};
use crate::reply;

/// Bits of a routed SCAN cursor below the part number.
pub const SCAN_PART_SHIFT: u32 = 40;

/// The parts of a keyspace that commands can run on synchronously.
pub trait Shards {
    /// How many parts.
    fn count(&self) -> usize;
    /// Which part holds `key`.
    fn owner(&self, key: &[u8]) -> usize;
    /// Runs one routed command on part `part`: writes its reply to `out`
    /// and logs what it changed to the append-only file before the part is
    /// released.
    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>);
    /// Runs one command with every part in `parts` (ascending, no
    /// repeats) held at once, as [`run`](Shards::run) does with one. The
    /// default serves a keyspace that cannot hold several parts at once:
    /// one part is run, several are refused with an error reply.
    fn run_span(
        &mut self,
        parts: &[usize],
        spec: &'static Spec,
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        match parts {
            [part] => self.run(*part, spec, args, out),
            _ => reply::error(
                out,
                "ERR this keyspace cannot run a command across its parts",
            ),
        }
    }
}

/// The parts holding the keys of a [`Route::Keys`] command, ascending,
/// no repeats.
pub fn parts_of(spec: &Spec, args: &[&[u8]], owner: impl Fn(&[u8]) -> usize) -> Vec<usize> {
    let mut parts: Vec<usize> = crate::watch::key_args(spec, args)
        .into_iter()
        .map(owner)
        .collect();
    parts.sort_unstable();
    parts.dedup();
    parts
}

/// One piece of a routed command: the part it runs on and its arguments.
pub struct Piece<'a> {
    pub part: usize,
    pub args: Vec<&'a [u8]>,
}

/// How a command splits across `count` parts. Returns `None` when it runs
/// whole on one part (then `single_part` says which).
pub fn split<'a>(
    spec: &'static Spec,
    args: &[&'a [u8]],
    count: usize,
    owner: impl Fn(&[u8]) -> usize,
) -> Vec<Piece<'a>> {
    let name = args[0];
    match spec.route {
        Route::Key => vec![Piece {
            part: owner(spec.routing_key(args)),
            args: args.to_vec(),
        }],
        // Not split: see `parts_of`.
        Route::Keys => Vec::new(),
        Route::EachKey(_) => {
            let step = spec.step.max(1) as usize;
            args[1..]
                .chunks(step)
                .map(|chunk| {
                    let mut a = Vec::with_capacity(1 + chunk.len());
                    a.push(name);
                    a.extend_from_slice(chunk);
                    Piece {
                        part: owner(chunk[0]),
                        args: a,
                    }
                })
                .collect()
        }
        Route::AllShards(_) => (0..count)
            .map(|part| Piece {
                part,
                args: args.to_vec(),
            })
            .collect(),
        // SCAN and server commands are not split here.
        Route::Scan | Route::Server => Vec::new(),
    }
}

/// Merges the pieces' replies into one reply, as the unsplit command would
/// have answered. The first error among the pieces wins.
pub fn merge(merge: Merge, replies: &[Vec<u8>], out: &mut Vec<u8>) {
    if let Some(err) = replies.iter().find(|r| r.first() == Some(&b'-')) {
        out.extend_from_slice(err);
        return;
    }
    match merge {
        Merge::SumInts => {
            let total: i64 = replies.iter().filter_map(|r| parse_int_reply(r)).sum();
            reply::int(out, total);
        }
        Merge::AllOk => reply::ok(out),
        Merge::ConcatArrays => {
            let mut n = 0usize;
            let mut bodies: Vec<&[u8]> = Vec::with_capacity(replies.len());
            for r in replies {
                if let Some((len, body)) = split_array_header(r) {
                    n += len;
                    bodies.push(body);
                }
            }
            reply::array(out, n);
            for b in bodies {
                out.extend_from_slice(b);
            }
        }
    }
}

// ANCHOR: dispatch
/// Runs any keyspace command (not a server command) on synchronous parts.
pub fn dispatch(shards: &mut dyn Shards, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
    let count = shards.count();
    if count == 1 && spec.route != Route::Scan {
        shards.run(0, spec, args, out);
        return;
    }
    match spec.route {
        Route::Key => {
            let part = shards.owner(spec.routing_key(args));
            shards.run(part, spec, args, out);
        }
        Route::Keys => match parts_of(spec, args, |k| shards.owner(k)).as_slice() {
            [one] => shards.run(*one, spec, args, out),
            parts => shards.run_span(parts, spec, args, out),
        },
        Route::EachKey(m) | Route::AllShards(m) => {
            let pieces = split(spec, args, count, |k| shards.owner(k));
            if let [one] = pieces.as_slice() {
                shards.run(one.part, spec, &one.args, out);
                return;
            }
            let mut replies = Vec::with_capacity(pieces.len());
            for p in &pieces {
                let mut r = Vec::new();
                shards.run(p.part, spec, &p.args, &mut r);
                replies.push(r);
            }
            merge(m, &replies, out);
        }
        Route::Scan => match ScanStep::parse(args, count) {
            Err(e) => reply::error(out, e),
            Ok(step) => {
                let inner = step.inner_args(args);
                let inner_refs: Vec<&[u8]> = inner.iter().map(|a| a.as_slice()).collect();
                let mut r = Vec::new();
                shards.run(step.part, spec, &inner_refs, &mut r);
                step.finish(&r, out);
            }
        },
        Route::Server => reply::error(out, "ERR internal: server command routed to the keyspace"),
    }
}
// ANCHOR_END: dispatch

/// One call of a routed SCAN: which part, and the part's own cursor.
pub struct ScanStep {
    pub part: usize,
    count: usize,
    inner: u64,
}

impl ScanStep {
    pub fn parse(args: &[&[u8]], count: usize) -> Result<Self, &'static str> {
        let cursor: u64 = std::str::from_utf8(args[1])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("ERR invalid cursor")?;
        let part = (cursor >> SCAN_PART_SHIFT) as usize;
        if part >= count {
            // A cursor from another server (or made up): start over, as an
            // out-of-range cursor in Redis just ends the scan.
            return Ok(Self {
                part: count,
                count,
                inner: 0,
            });
        }
        Ok(Self {
            part,
            count,
            inner: cursor & ((1 << SCAN_PART_SHIFT) - 1),
        })
    }

    /// Whether the cursor was out of range (reply: an empty, finished scan).
    pub fn is_done(&self) -> bool {
        self.part >= self.count
    }

    /// The arguments with the part's own cursor in place of the routed one.
    pub fn inner_args(&self, args: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut a: Vec<Vec<u8>> = args.iter().map(|s| s.to_vec()).collect();
        a[1] = self.inner.to_string().into_bytes();
        a
    }

    /// Rewrites the part's reply (`*2 $cursor *keys`) with the routed cursor.
    pub fn finish(&self, part_reply: &[u8], out: &mut Vec<u8>) {
        if self.is_done() {
            out.extend_from_slice(b"*2\r\n$1\r\n0\r\n*0\r\n");
            return;
        }
        let Some((inner_next, keys)) = parse_scan_reply(part_reply) else {
            out.extend_from_slice(part_reply);
            return;
        };
        let next = if inner_next != 0 {
            ((self.part as u64) << SCAN_PART_SHIFT) | inner_next
        } else if self.part + 1 < self.count {
            ((self.part + 1) as u64) << SCAN_PART_SHIFT
        } else {
            0
        };
        reply::array(out, 2);
        reply::bulk(out, next.to_string().as_bytes());
        out.extend_from_slice(keys);
    }
}

fn line(r: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = r.windows(2).position(|w| w == b"\r\n")?;
    Some((&r[..end], &r[end + 2..]))
}

fn parse_int_reply(r: &[u8]) -> Option<i64> {
    let (l, _) = line(r)?;
    std::str::from_utf8(l.strip_prefix(b":")?)
        .ok()?
        .parse()
        .ok()
}

fn split_array_header(r: &[u8]) -> Option<(usize, &[u8])> {
    let (l, rest) = line(r)?;
    let n: usize = std::str::from_utf8(l.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    Some((n, rest))
}

/// `*2\r\n$N\r\n<cursor>\r\n<keys array>` → (cursor, keys array bytes).
fn parse_scan_reply(r: &[u8]) -> Option<(u64, &[u8])> {
    let (n, rest) = split_array_header(r)?;
    if n != 2 {
        return None;
    }
    let (_len, rest) = line(rest)?;
    let (cursor, keys) = line(rest)?;
    let cursor = std::str::from_utf8(cursor).ok()?.parse().ok()?;
    Some((cursor, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_integer_and_array_replies() {
        let mut out = Vec::new();
        merge(
            Merge::SumInts,
            &[b":1\r\n".to_vec(), b":0\r\n".to_vec()],
            &mut out,
        );
        assert_eq!(out, b":1\r\n");
        out.clear();
        merge(
            Merge::ConcatArrays,
            &[b"*1\r\n$1\r\na\r\n".to_vec(), b"*1\r\n$-1\r\n".to_vec()],
            &mut out,
        );
        assert_eq!(out, b"*2\r\n$1\r\na\r\n$-1\r\n");
        out.clear();
        merge(
            Merge::AllOk,
            &[b"+OK\r\n".to_vec(), b"-ERR x\r\n".to_vec()],
            &mut out,
        );
        assert_eq!(out, b"-ERR x\r\n");
    }

    #[test]
    fn scan_cursor_carries_the_part() {
        let args: [&[u8]; 2] = [b"SCAN", b"0"];
        let step = ScanStep::parse(&args, 4).expect("cursor");
        let mut out = Vec::new();
        step.finish(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", &mut out);
        let next = (1u64 << SCAN_PART_SHIFT).to_string();
        let want = format!("*2\r\n${}\r\n{}\r\n*1\r\n$1\r\nk\r\n", next.len(), next);
        assert_eq!(out, want.as_bytes());
    }
}
