//! RESP3, byte for byte against a real `redis-server`: the same commands,
//! after `HELLO 3`, on both servers, must get the same reply bytes, under
//! every model. Replies whose content legitimately differs (the version
//! and client id in HELLO, the text of INFO and CLIENT INFO) are compared
//! by their RESP3 type only; set replies use sets of one member, since
//! Redis leaves a set's order unspecified.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::{Raw, ServerProc, for_each_model};
use lab_02::launch::{Launch, Server, Target};

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
    let mut want = Raw::connect(SocketAddr::from(([127, 0, 0, 1], redis.port)));
    want.cmd(&["FLUSHALL"]);
    let expected: Vec<Vec<u8>> = script().iter().map(|(a, _)| want.cmd(a)).collect();
    drop(redis);
    for_each_model(|model| {
        let s = ServerProc::start(model, &["--threads", "3"]);
        let mut got = Raw::connect(SocketAddr::from(([127, 0, 0, 1], s.port())));
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
        let mut c = Raw::connect(SocketAddr::from(([127, 0, 0, 1], s.port())));
        let mut other = Raw::connect(SocketAddr::from(([127, 0, 0, 1], s.port())));
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["WATCH", "k"]);
        other.cmd(&["SET", "k", "1"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["GET", "k"]);
        assert_eq!(c.cmd(&["EXEC"]), b"_\r\n", "[{model}]");
    });
}
