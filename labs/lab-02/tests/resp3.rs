//! RESP3, byte for byte against a real `redis-server`: the same commands,
//! after `HELLO 3`, on both servers, must get the same reply bytes, under
//! every model. Replies whose content legitimately differs (the version
//! and client id in HELLO, the text of INFO and CLIENT INFO) are compared
//! by their RESP3 type only; set replies use sets of one member, since
//! Redis leaves a set's order unspecified.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{ServerProc, for_each_model};
use lab_02::launch::{Launch, Server, Target};

/// A raw connection that returns each reply's bytes, whatever its type.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend(format!("${}\r\n{a}\r\n", a.len()).bytes());
        }
        self.writer.write_all(&req).unwrap();
    }

    /// The rest of a line (after its type byte), appended to `into`.
    fn line(&mut self, into: &mut Vec<u8>) -> String {
        let start = into.len();
        self.reader.read_until(b'\n', into).unwrap();
        assert!(
            into.ends_with(b"\r\n"),
            "a reply line without CRLF: {into:?}"
        );
        String::from_utf8_lossy(&into[start..into.len() - 2]).into_owned()
    }

    /// One complete RESP2 or RESP3 frame, as raw bytes.
    fn frame(&mut self, into: &mut Vec<u8>) {
        let mut kind = [0u8];
        self.reader.read_exact(&mut kind).unwrap();
        into.push(kind[0]);
        let head = self.line(into);
        match kind[0] {
            b'+' | b'-' | b':' | b'_' | b',' | b'(' | b'#' => {}
            b'$' | b'=' | b'!' => {
                let n: i64 = head.parse().unwrap();
                if n >= 0 {
                    let mut body = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut body).unwrap();
                    into.extend(body);
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().unwrap();
                let per = if matches!(kind[0], b'%' | b'|') { 2 } else { 1 };
                for _ in 0..n.max(0) * per {
                    self.frame(into);
                }
                if kind[0] == b'|' {
                    // An attribute precedes the reply it describes.
                    self.frame(into);
                }
            }
            other => panic!("unknown RESP type byte {:?}", other as char),
        }
    }

    fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        let mut reply = Vec::new();
        self.frame(&mut reply);
        reply
    }
}

/// What to compare of a reply.
#[derive(Clone, Copy)]
enum Compare {
    Bytes,
    /// Only the first byte (the RESP3 type) and, for aggregates, the
    /// header line.
    Header,
}

/// The script: commands and how to compare each.
fn script() -> Vec<(Vec<&'static str>, Compare)> {
    use Compare::{Bytes, Header};
    let lines: &[(&str, Compare)] = &[
        ("HELLO 3", Header),
        ("PING", Bytes),
        ("SET s hello", Bytes),
        ("GET s", Bytes),
        ("GET missing", Bytes),
        ("MGET s missing", Bytes),
        ("INCR n", Bytes),
        ("INCRBYFLOAT f 1.5", Bytes),
        ("TTL s", Bytes),
        ("EXISTS s missing", Bytes),
        ("TYPE s", Bytes),
        ("HSET h f v", Bytes),
        ("HGETALL h", Bytes),
        ("HGETALL missing", Bytes),
        ("HGET h nope", Bytes),
        ("HMGET h f nope", Bytes),
        ("HINCRBYFLOAT h g 2.25", Bytes),
        ("SADD set one", Bytes),
        ("SMEMBERS set", Bytes),
        ("SMEMBERS missing", Bytes),
        ("SISMEMBER set one", Bytes),
        ("SINTER set", Bytes),
        ("SUNION set missing", Bytes),
        ("SDIFF set missing", Bytes),
        ("SDIFF missing set", Bytes),
        ("SRANDMEMBER set 2", Bytes),
        ("SADD popme x", Bytes),
        ("SPOP popme 1", Bytes),
        ("SPOP missing", Bytes),
        ("ZADD z 1.5 a 2 b", Bytes),
        ("ZADD z +inf top -inf bottom", Bytes),
        ("ZSCORE z a", Bytes),
        ("ZSCORE z missing", Bytes),
        ("ZSCORE z top", Bytes),
        ("ZMSCORE z a nope b", Bytes),
        ("ZINCRBY z 1 b", Bytes),
        ("ZADD z INCR 0.25 a", Bytes),
        ("ZADD z NX INCR 1 a", Bytes),
        ("ZRANGE z 0 -1", Bytes),
        ("ZRANGE z 0 -1 WITHSCORES", Bytes),
        ("ZRANGEBYSCORE z -inf +inf WITHSCORES", Bytes),
        ("ZREVRANGE z 0 1 WITHSCORES", Bytes),
        ("ZRANK z a", Bytes),
        ("ZRANK z nope", Bytes),
        ("ZPOPMIN z", Bytes),
        ("ZPOPMAX z 2", Bytes),
        ("ZPOPMIN missing", Bytes),
        ("ZPOPMIN missing 2", Bytes),
        ("RPUSH l a b", Bytes),
        ("LPOP missing", Bytes),
        ("LPOP missing 2", Bytes),
        ("LRANGE l 0 -1", Bytes),
        ("LINDEX l 9", Bytes),
        ("GETDEL missing", Bytes),
        ("INCR s", Bytes),
        ("LPUSH s x", Bytes),
        ("NOSUCH", Bytes),
        ("MULTI", Bytes),
        ("GET missing", Bytes),
        ("HGETALL h", Bytes),
        ("ZSCORE z b", Bytes),
        ("SMEMBERS set", Bytes),
        ("INCR s", Bytes),
        ("EXEC", Bytes),
        ("EXEC", Bytes),
        ("CONFIG GET maxmemory", Bytes),
        ("CONFIG GET hash-max-listpack-entries", Bytes),
        ("INFO server", Header),
        ("CLIENT INFO", Header),
        ("HELLO 2", Header),
        ("GET missing", Bytes),
        ("MGET s missing", Bytes),
        ("HGETALL h", Bytes),
        ("ZSCORE z b", Bytes),
        ("HELLO 4", Bytes),
        ("HELLO 3 SETNAME x", Header),
        ("SMEMBERS set", Bytes),
    ];
    lines
        .iter()
        .map(|(l, c)| (l.split(' ').collect(), *c))
        .collect()
}

fn header(reply: &[u8]) -> &[u8] {
    let end = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(reply.len());
    match reply.first() {
        // Text replies: the type only (the text differs).
        Some(b'=' | b'$') => &reply[..1],
        _ => &reply[..end],
    }
}

#[test]
fn resp3_replies_match_redis_byte_for_byte() {
    let redis = Server::start(&Launch::new(Target::Redis, 1)).unwrap();
    let mut want = Raw::connect(redis.port);
    want.cmd(&["FLUSHALL"]);
    let expected: Vec<Vec<u8>> = script().iter().map(|(a, _)| want.cmd(a)).collect();
    drop(redis);
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--threads", "3"]);
        let mut got = Raw::connect(s.port());
        let mut differ = Vec::new();
        for ((args, compare), want) in script().iter().zip(&expected) {
            let reply = got.cmd(args);
            let (a, b) = match compare {
                Compare::Bytes => (&reply[..], &want[..]),
                Compare::Header => (header(&reply), header(want)),
            };
            if a != b {
                differ.push(format!(
                    "{args:?}\n  lab-02: {:?}\n  redis:  {:?}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ));
            }
        }
        assert!(differ.is_empty(), "[{model}] {}", differ.join("\n"));
        s.assert_healthy();
    });
}

#[test]
fn an_aborted_exec_is_null_in_resp3() {
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--threads", "3"]);
        let mut c = Raw::connect(s.port());
        let mut other = Raw::connect(s.port());
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["WATCH", "k"]);
        other.cmd(&["SET", "k", "1"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["GET", "k"]);
        assert_eq!(c.cmd(&["EXEC"]), b"_\r\n", "[{model}]");
    });
}
