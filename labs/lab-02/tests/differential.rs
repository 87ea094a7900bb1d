//! Differential test: lab-02 (each of its three models) and a real
//! `redis-server` get the same scripts of commands over raw TCP, and every
//! reply must be the same bytes.
//!
//! Redis runs once: its replies are recorded first, then each model replays
//! the scripts (in parallel, one server per model) and is compared with the
//! recording. Both sides get `FLUSHALL` before each script, and the scripts
//! run in the same order everywhere, so CONFIG SET state carries over the
//! same way on both.
//!
//! A line's first character says how its reply is compared:
//!
//! - no prefix: byte for byte;
//! - `~ `: an array whose order Redis does not specify (SMEMBERS, HKEYS
//!   after a delete, SRANDMEMBER with a count): the same elements, in any
//!   order;
//! - `# `: the same kind of reply (first byte) and, for an array, the same
//!   length: for random picks (SRANDMEMBER with a negative count may repeat
//!   members) and times that tick (TTL right after a relative expiry);
//! - `? `: sent, not compared: OBJECT ENCODING names lab-02's own
//!   representations (see `cmd/keys.rs`), not Redis's listpack/quicklist
//!   choices, so only its missing-key and error replies are compared.
//!
//! Not compared on purpose: INCRBYFLOAT/HINCRBYFLOAT results whose last
//! digits depend on float width. Redis adds in C `long double` (80-bit on
//! x86) and prints 17 decimals (`1000 + 0.1` is `1000.09999999999999998`
//! there), lab-02 adds in `f64` and prints the shortest form; the scripts
//! keep to sums both compute exactly. `set-max-listpack-*` are Redis 7.2
//! parameters that redis-server 7.0 does not know: `tests/commands.rs`
//! checks them.
//!
//! `cargo test -p lab-02 --test differential` (needs `redis-server` on the
//! PATH, as `tests/compat.rs` does).

mod common;

use std::io::BufRead;
use std::net::SocketAddr;

use common::{Raw, ServerProc, for_each_model, read_frame};
use lab_02::launch::{Launch, Server, Target};

/// The scripts: a name, then one command per line (`"…"` quotes an
/// argument, `""` is the empty one).
const SCRIPTS: &[(&str, &str)] = &[
    (
        "transactions",
        r#"
        EXEC
        DISCARD
        UNWATCH
        MULTI
        MULTI
        WATCH k
        SET k 1
        INCR k
        GET k
        EXEC
        MULTI
        SET a 1
        NOSUCH x
        GET
        EXEC
        GET a
        MULTI
        SET s text
        INCR s
        LPUSH s x
        EXEC
        MULTI
        PING
        ECHO hi
        DISCARD
        WATCH k
        SET k mine
        MULTI
        GET k
        EXEC
        WATCH k
        MULTI
        GET k
        EXEC
        WATCH k missing
        UNWATCH
        SET k x
        MULTI
        GET k
        EXEC
        MULTI
        SHUTDOWN
        EXEC
        WATCH
        MULTI
        WATCH k
        UNWATCH
        EXEC
        "#,
    ),
    (
        "multikey",
        r#"
        SET a 1
        EXPIRE a 100
        RENAME a b
        # TTL b
        GET b
        EXISTS a
        RENAME missing x
        RENAME b b
        RENAMENX b b
        SET c 2
        RENAMENX b c
        RENAMENX b d
        GET d
        RENAME
        RENAME d
        RENAMENX missing x
        COPY d e
        COPY d e
        COPY d e REPLACE
        COPY d d
        COPY missing x
        COPY d f DB 0
        COPY d h BOGUS
        COPY d h DB x
        COPY d
        SADD s1 a b c
        SADD s2 b c d
        SADD s3 c
        ~ SINTER s1 s2
        SINTER s1 missing
        ~ SUNION s1 s2 missing
        ~ SDIFF s1 s2
        SDIFF missing s1
        SINTERSTORE dst s1 s2 s3
        ~ SMEMBERS dst
        SUNIONSTORE dst missing
        EXISTS dst
        SDIFFSTORE dst s1 s2
        SMEMBERS dst
        SMOVE s1 s2 a
        SMOVE s1 s2 zz
        SMOVE missing s2 a
        SMOVE s1 s1 b
        SMOVE s1 s1 zz
        SET str x
        SMOVE s1 str b
        SMOVE str s1 b
        SMOVE missing str b
        SINTER s1 str
        SINTER missing str
        SUNIONSTORE dst2 s1 str
        SINTER
        SMOVE s1 s2
        RENAME str s1
        TYPE s1
        "#,
    ),
    (
        "getset",
        r#"
        GETSET k v1
        GETSET k v2
        GET k
        GETSET k ""
        STRLEN k
        SET n 10
        EXPIRE n 100
        GETSET n 11
        TTL n
        RPUSH l a
        GETSET l x
        GETSET k
        GETSET k a b
        GETSET
        "#,
    ),
    (
        "setrange",
        r#"
        SETRANGE k 0 hello
        SETRANGE k 6 world
        GET k
        SETRANGE k 1 EL
        GET k
        SETRANGE k 0 ""
        SETRANGE missing 0 ""
        EXISTS missing
        SETRANGE missing 3 ""
        EXISTS missing
        SETRANGE k -1 a
        SETRANGE k x a
        SETRANGE k 1.5 a
        SETRANGE k 536870912 a
        SETRANGE k 536870911 ""
        SETRANGE missing -1 ""
        RPUSH l a
        SETRANGE l 0 a
        SETRANGE l -1 a
        SETRANGE l 0 ""
        SETRANGE k 0
        SETRANGE k
        "#,
    ),
    (
        "getrange",
        r#"
        SET k "Hello World"
        GETRANGE k 0 4
        GETRANGE k -5 -1
        GETRANGE k 0 -1
        GETRANGE k 0 1000
        GETRANGE k -100 2
        GETRANGE k -100 -50
        GETRANGE k 5 2
        GETRANGE k -1 -2
        GETRANGE k 3 -100
        GETRANGE k 10 10
        GETRANGE k 11 20
        GETRANGE k 0 9223372036854775807
        GETRANGE k -9223372036854775808 -1
        GETRANGE k -9223372036854775808 9223372036854775807
        SET e ""
        GETRANGE e 0 -1
        GETRANGE e -1 0
        GETRANGE missing 0 -1
        GETRANGE k x 1
        GETRANGE k 0 1.0
        GETRANGE missing x 1
        SET n 12345
        GETRANGE n 1 2
        RPUSH l a
        GETRANGE l 0 1
        GETRANGE k 0
        "#,
    ),
    (
        "incrbyfloat",
        r#"
        INCRBYFLOAT f 10.5
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f -0.6
        INCRBYFLOAT f 5.0e3
        INCRBYFLOAT f -10010
        GET f
        SET g 3
        INCRBYFLOAT g 1.5
        INCRBYFLOAT g -4.5
        INCRBYFLOAT g 0
        INCRBYFLOAT missing 3.0
        INCRBYFLOAT missing -0
        SET s abc
        INCRBYFLOAT s 1
        INCRBYFLOAT g abc
        INCRBYFLOAT g ""
        INCRBYFLOAT g " 1"
        INCRBYFLOAT g nan
        INCRBYFLOAT g inf
        RPUSH l a
        INCRBYFLOAT l 1
        INCRBYFLOAT g
        "#,
    ),
    (
        "hsetnx",
        r#"
        HSETNX h f v
        HSETNX h f w
        HGET h f
        HSETNX h g ""
        HGETALL h
        SET s v
        HSETNX s f v
        HSETNX h f
        HSETNX h f v extra
        "#,
    ),
    (
        "hincrbyfloat",
        r#"
        HINCRBYFLOAT h f 10.5
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h f -0.6
        HINCRBYFLOAT h g 5.0e3
        HINCRBYFLOAT h g 2.0e2
        HSET h s abc
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h f abc
        HINCRBYFLOAT h f nan
        HINCRBYFLOAT h f inf
        HGETALL h
        SET s v
        HINCRBYFLOAT s f 1
        HINCRBYFLOAT h f
        "#,
    ),
    (
        "hkeys-hvals-hstrlen",
        r#"
        HKEYS missing
        HVALS missing
        HSET h a 1 b 22 c 333
        HKEYS h
        HVALS h
        HSTRLEN h a
        HSTRLEN h c
        HSTRLEN h nosuch
        HSTRLEN missing a
        HSET h empty ""
        HSTRLEN h empty
        HDEL h a
        ~ HKEYS h
        ~ HVALS h
        SET s v
        HKEYS s
        HVALS s
        HSTRLEN s a
        HKEYS
        HVALS h extra
        HSTRLEN h
        "#,
    ),
    (
        "lset",
        r#"
        RPUSH l a b c
        LSET l 0 x
        LSET l -1 z
        LSET l 1 ""
        LRANGE l 0 -1
        LSET l 3 q
        LSET l -4 q
        LSET l x q
        LSET missing 0 q
        LSET missing x q
        SET s v
        LSET s 0 q
        LSET s x q
        LSET l 0
        "#,
    ),
    (
        "lrem",
        r#"
        RPUSH l a b a c a b a
        LREM l 2 a
        LRANGE l 0 -1
        LREM l -1 b
        LRANGE l 0 -1
        LREM l 0 a
        LRANGE l 0 -1
        LREM l 0 nosuch
        LREM l 5 c
        EXISTS l
        LREM missing 1 a
        LREM l x a
        LREM missing x a
        LREM l 1.5 a
        SET s v
        LREM s 1 a
        LREM s x a
        RPUSH m a a a
        LREM m -9223372036854775808 a
        LREM m 1
        "#,
    ),
    (
        "ltrim",
        r#"
        RPUSH l a b c d e
        LTRIM l 1 -2
        LRANGE l 0 -1
        LTRIM l 0 100
        LRANGE l 0 -1
        LTRIM l -100 -2
        LRANGE l 0 -1
        LTRIM l 5 10
        EXISTS l
        RPUSH l a b c
        LTRIM l 2 1
        EXISTS l
        LTRIM missing 0 1
        RPUSH l a b c
        LTRIM l x 1
        LTRIM l 0 1.5
        LTRIM l -9223372036854775808 9223372036854775807
        LRANGE l 0 -1
        SET s v
        LTRIM s 0 1
        LTRIM s x 1
        LTRIM l 0
        "#,
    ),
    (
        "srandmember",
        r#"
        SRANDMEMBER missing
        SRANDMEMBER missing 3
        SRANDMEMBER missing -3
        SRANDMEMBER missing 0
        SADD one only
        SRANDMEMBER one
        SRANDMEMBER one 1
        SRANDMEMBER one 5
        SRANDMEMBER one -3
        SRANDMEMBER one 0
        SADD s a b c d
        ~ SRANDMEMBER s 4
        ~ SRANDMEMBER s 100
        # SRANDMEMBER s 2
        # SRANDMEMBER s -7
        SRANDMEMBER s x
        SRANDMEMBER s 1.5
        SRANDMEMBER missing x
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER s 1 2
        SET str v
        SRANDMEMBER str
        SRANDMEMBER str 2
        SRANDMEMBER str x
        SRANDMEMBER
        "#,
    ),
    (
        "zincrby",
        r#"
        ZINCRBY z 1 a
        ZINCRBY z 0.5 a
        ZINCRBY z 0.1 b
        ZINCRBY z 0.2 b
        ZINCRBY z -1e20 c
        ZINCRBY z 1e-5 d
        ZINCRBY z 123456789012345678 e
        ZINCRBY z inf f
        ZINCRBY z -inf f
        ZINCRBY z 1 f
        ZRANGE z 0 -1 WITHSCORES
        ZSCORE z b
        ZMSCORE z a b nosuch
        ZINCRBY z x a
        ZINCRBY z nan a
        ZINCRBY z "" a
        ZINCRBY missing x a
        SET s v
        ZINCRBY s 1 a
        ZINCRBY s x a
        ZINCRBY z 1
        "#,
    ),
    (
        "zrangebyscore",
        r#"
        ZADD z 1 a 2 b 2 bb 3 c 4.5 d 5 e
        ZRANGEBYSCORE z -inf +inf
        ZRANGEBYSCORE z 2 3
        ZRANGEBYSCORE z (2 3
        ZRANGEBYSCORE z 2 (3
        ZRANGEBYSCORE z (2 (2
        ZRANGEBYSCORE z 3 2
        ZRANGEBYSCORE z 2 4.5 WITHSCORES
        ZRANGEBYSCORE z -inf +inf LIMIT 1 2
        ZRANGEBYSCORE z -inf +inf LIMIT 1 -1
        ZRANGEBYSCORE z -inf +inf LIMIT -1 2
        ZRANGEBYSCORE z -inf +inf LIMIT 10 2
        ZRANGEBYSCORE z -inf +inf LIMIT 0 0
        ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 2 2
        ZRANGEBYSCORE z -inf +inf LIMIT 2 2 WITHSCORES
        ZRANGEBYSCORE z -inf +inf LIMIT 1
        ZRANGEBYSCORE z -inf +inf LIMIT x 1
        ZRANGEBYSCORE z -inf +inf foo
        ZRANGEBYSCORE z x 1
        ZRANGEBYSCORE z 1 (x
        ZRANGEBYSCORE z nan 1
        ZRANGEBYSCORE z "" 2
        ZRANGEBYSCORE missing -inf +inf
        ZRANGEBYSCORE missing x 1
        SET s v
        ZRANGEBYSCORE s 0 1
        ZRANGEBYSCORE s x 1
        ZRANGEBYSCORE z 0
        "#,
    ),
    (
        "zrevrange",
        r#"
        ZADD z 1 a 2 b 3 c 4 d
        ZREVRANGE z 0 -1
        ZREVRANGE z 0 0
        ZREVRANGE z -2 -1
        ZREVRANGE z 1 2 WITHSCORES
        ZREVRANGE z 2 1
        ZREVRANGE z 4 10
        ZREVRANGE z -100 100
        ZREVRANGE z 0 -1 withscores
        ZREVRANGE z 0 -1 WITHSCORES extra
        ZREVRANGE z 0 -1 LIMIT 0 1
        ZREVRANGE z x 1
        ZREVRANGE z 0 1.5
        ZREVRANGE missing 0 -1
        SET s v
        ZREVRANGE s 0 -1
        ZREVRANGE z 0
        "#,
    ),
    (
        "zcount",
        r#"
        ZADD z 1 a 2 b 3 c 4 d
        ZCOUNT z -inf +inf
        ZCOUNT z 2 3
        ZCOUNT z (2 3
        ZCOUNT z (2 (3
        ZCOUNT z 3 2
        ZCOUNT z (1 (1
        ZCOUNT z 10 20
        ZCOUNT missing 0 1
        ZCOUNT z x 1
        ZCOUNT z 1 x
        ZCOUNT missing x 1
        SET s v
        ZCOUNT s 0 1
        ZCOUNT s x 1
        ZCOUNT z 0
        "#,
    ),
    (
        "zrevrank",
        r#"
        ZADD z 1 a 2 b 3 c
        ZREVRANK z a
        ZREVRANK z c
        ZREVRANK z nosuch
        ZREVRANK missing a
        SET s v
        ZREVRANK s a
        ZREVRANK z
        ZREVRANK z a b c
        "#,
    ),
    (
        "getex",
        r#"
        SET k hello
        GETEX k
        GETEX missing
        GETEX missing EX 10
        GETEX missing EX abc
        GETEX k EX 100
        # TTL k
        GETEX k PERSIST
        TTL k
        PTTL k
        GETEX k PX 100000
        GETEX k PERSIST PERSIST
        PTTL k
        GETEX k EX 10 EX 20
        GETEX k persist
        GETEX k EXAT 1
        EXISTS k
        SET k v
        GETEX k PXAT 1
        EXISTS k
        SET k v
        GETEX k EX
        GETEX k FOO
        GETEX missing FOO
        GETEX k EX 10 PX 10
        GETEX k PERSIST EX 10
        GETEX k EX 10 PERSIST
        GETEX k EX abc
        GETEX k PX 1.5
        GETEX k EX 0
        GETEX k EX -1
        GETEX k PXAT 0
        GETEX k EX 9223372036854775807
        GETEX k PX 9223372036854775807
        PTTL k
        RPUSH l a
        GETEX l
        GETEX l EX 10
        GETEX l EX abc
        GETEX l FOO
        GETEX
        "#,
    ),
    (
        "linsert",
        r#"
        RPUSH l a b c b
        LINSERT l BEFORE b X
        LINSERT l after b Y
        LRANGE l 0 -1
        LINSERT l BEFORE nosuch Z
        LINSERT l AFTER c ""
        LRANGE l 0 -1
        LINSERT missing BEFORE a b
        EXISTS missing
        LINSERT l MIDDLE a b
        LINSERT missing MIDDLE a b
        SET s v
        LINSERT s BEFORE a b
        LINSERT s MIDDLE a b
        LINSERT l BEFORE a
        LINSERT l BEFORE a b c
        "#,
    ),
    (
        "lpos",
        r#"
        RPUSH l a b c b a b
        LPOS l b
        LPOS l nosuch
        LPOS l b RANK 2
        LPOS l b RANK -1
        LPOS l b RANK -2
        LPOS l b RANK 4
        LPOS l b RANK -9223372036854775808
        LPOS l b COUNT 0
        LPOS l b COUNT 2
        LPOS l b COUNT 10
        LPOS l nosuch COUNT 0
        LPOS l b COUNT 0 RANK -1
        LPOS l b RANK 2 COUNT 0
        LPOS l b RANK -2 COUNT 1
        LPOS l b MAXLEN 1
        LPOS l b MAXLEN 2
        LPOS l b MAXLEN 4 COUNT 0
        LPOS l b MAXLEN 3 RANK -1
        LPOS l b MAXLEN 0 COUNT 0
        LPOS l b rank 1 rank 2
        LPOS l b RANK 0
        LPOS l b RANK x
        LPOS l b COUNT -1
        LPOS l b COUNT x
        LPOS l b MAXLEN -1
        LPOS l b MAXLEN x
        LPOS l b FOO
        LPOS l b RANK
        LPOS missing b
        LPOS missing b COUNT 2
        LPOS missing b RANK 0
        SET s v
        LPOS s b
        LPOS s b COUNT 1
        LPOS s b RANK 0
        LPOS s b COUNT -1
        LPOS l
        "#,
    ),
    (
        "zremrangebyscore",
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZREMRANGEBYSCORE z 2 3
        ZRANGE z 0 -1 WITHSCORES
        ZREMRANGEBYSCORE z (1 (4
        ZREMRANGEBYSCORE z 10 1
        ZREMRANGEBYSCORE z (1 1
        ZREMRANGEBYSCORE z -inf (4
        ZRANGE z 0 -1
        ZREMRANGEBYSCORE z -inf +inf
        EXISTS z
        ZREMRANGEBYSCORE missing 1 2
        ZADD z 1 a
        ZREMRANGEBYSCORE z x 1
        ZREMRANGEBYSCORE z 1 x
        ZREMRANGEBYSCORE missing x 2
        SET s v
        ZREMRANGEBYSCORE s 1 2
        ZREMRANGEBYSCORE s x 2
        ZREMRANGEBYSCORE z 1
        "#,
    ),
    (
        "zremrangebyrank",
        r#"
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYRANK z -1 -1
        ZRANGE z 0 -1
        ZREMRANGEBYRANK z 5 10
        ZREMRANGEBYRANK z 2 1
        ZREMRANGEBYRANK z 1 2
        ZRANGE z 0 -1
        ZREMRANGEBYRANK z -100 100
        EXISTS z
        ZREMRANGEBYRANK missing 0 1
        ZADD z 1 a
        ZREMRANGEBYRANK z x 1
        ZREMRANGEBYRANK z 1 1.5
        ZREMRANGEBYRANK missing x 1
        SET s v
        ZREMRANGEBYRANK s 0 1
        ZREMRANGEBYRANK s x 1
        ZREMRANGEBYRANK z 0
        "#,
    ),
    (
        "zremrangebylex",
        r#"
        ZADD z 0 a 0 b 0 c 0 d 0 e
        ZREMRANGEBYLEX z [b (d
        ZRANGE z 0 -1
        ZREMRANGEBYLEX z + -
        ZREMRANGEBYLEX z [e [a
        ZREMRANGEBYLEX z (a (a
        ZREMRANGEBYLEX z - [a
        ZREMRANGEBYLEX z - +
        EXISTS z
        ZREMRANGEBYLEX missing - +
        ZADD z 0 a
        ZREMRANGEBYLEX z a b
        ZREMRANGEBYLEX z - b
        ZREMRANGEBYLEX missing a b
        SET s v
        ZREMRANGEBYLEX s - +
        ZREMRANGEBYLEX s a b
        ZREMRANGEBYLEX z -
        ZADD y 0 a 0 b 0 c 0 d
        ZLEXCOUNT y - +
        ZLEXCOUNT y [b [c
        ZLEXCOUNT y (b +
        ZLEXCOUNT y a b
        ZLEXCOUNT missing - +
        ZLEXCOUNT s - +
        ZRANGEBYLEX y - +
        ZRANGEBYLEX y [b + LIMIT 1 2
        ZRANGEBYLEX y + -
        ZRANGEBYLEX y - + LIMIT 1
        ZRANGEBYLEX y - + LIMIT x 1
        ZRANGEBYLEX y - + WITHSCORES
        ZRANGEBYLEX y a +
        ZRANGEBYLEX missing - +
        ZRANGEBYLEX s - +
        "#,
    ),
    (
        "object",
        r#"
        OBJECT ENCODING missing
        OBJECT encoding missing
        SET k v
        ? OBJECT ENCODING k
        OBJECT
        OBJECT ENCODING
        OBJECT ENCODING a b
        OBJECT FOO
        OBJECT FOO bar
        OBJECT HELP x
        "#,
    ),
    (
        "config-encoding",
        r#"
        CONFIG GET hash-max-listpack-entries
        CONFIG GET hash-max-listpack-value
        CONFIG GET hash-max-ziplist-entries
        CONFIG GET hash-max-ziplist-value
        CONFIG GET list-max-listpack-size
        CONFIG GET list-max-ziplist-size
        CONFIG GET list-compress-depth
        CONFIG GET set-max-intset-entries
        CONFIG GET zset-max-listpack-entries
        CONFIG GET zset-max-listpack-value
        CONFIG GET zset-max-ziplist-entries
        CONFIG GET zset-max-ziplist-value
        CONFIG GET stream-node-max-bytes
        CONFIG GET stream-node-max-entries
        CONFIG GET HASH-MAX-ZIPLIST-ENTRIES
        CONFIG SET hash-max-ziplist-entries 100
        CONFIG GET hash-max-listpack-entries
        CONFIG SET hash-max-listpack-entries abc
        CONFIG SET hash-max-listpack-entries -1
        CONFIG SET hash-max-listpack-entries 1.5
        CONFIG SET hash-max-listpack-entries ""
        CONFIG SET hash-max-listpack-entries " 5"
        CONFIG SET hash-max-listpack-entries +5
        CONFIG SET hash-max-listpack-entries 05
        CONFIG SET hash-max-listpack-entries 1kb
        CONFIG SET hash-max-listpack-entries 9223372036854775808
        CONFIG SET hash-max-listpack-entries 9223372036854775807
        CONFIG GET hash-max-ziplist-entries
        CONFIG SET HASH-MAX-ZIPLIST-ENTRIES x
        CONFIG SET hash-max-listpack-value 1gb
        CONFIG GET hash-max-listpack-value
        CONFIG SET hash-max-listpack-value 05
        CONFIG GET hash-max-ziplist-value
        CONFIG SET hash-max-listpack-value -5
        CONFIG SET hash-max-listpack-value 99999999999999999999
        CONFIG SET hash-max-listpack-value 9223372036854775808
        CONFIG SET zset-max-ziplist-value -1
        CONFIG SET list-max-listpack-size -5
        CONFIG GET list-max-ziplist-size
        CONFIG SET list-max-listpack-size 2147483648
        CONFIG SET list-max-listpack-size -2147483649
        CONFIG SET list-max-listpack-size -2147483648
        CONFIG GET list-max-listpack-size
        CONFIG SET list-max-ziplist-size x
        CONFIG SET list-max-listpack-size 10k
        CONFIG SET list-compress-depth -1
        CONFIG SET list-compress-depth 2147483648
        CONFIG SET list-compress-depth 3
        CONFIG GET list-compress-depth
        CONFIG SET set-max-intset-entries 0
        CONFIG SET set-max-intset-entries -1
        CONFIG SET set-max-intset-entries 1gb
        CONFIG GET set-max-intset-entries
        CONFIG SET zset-max-listpack-entries 7 zset-max-ziplist-value 9
        CONFIG GET zset-max-ziplist-entries
        CONFIG GET zset-max-listpack-value
        CONFIG SET stream-node-max-bytes 1mb
        CONFIG GET stream-node-max-bytes
        CONFIG SET stream-node-max-bytes -1
        CONFIG SET stream-node-max-bytes 9223372036854775808
        CONFIG SET stream-node-max-entries 0
        CONFIG SET stream-node-max-entries -1
        CONFIG SET stream-node-max-entries 9223372036854775808
        CONFIG GET stream-node-max-entries
        CONFIG SET hash-max-listpack-entries 512 hash-max-listpack-value 64 list-max-listpack-size -2 list-compress-depth 0
        CONFIG SET set-max-intset-entries 512 zset-max-listpack-entries 128 zset-max-listpack-value 64
        CONFIG SET stream-node-max-bytes 4096 stream-node-max-entries 100
        CONFIG GET hash-max-listpack-entries
        "#,
    ),
    (
        "config-memory",
        r#"
        CONFIG GET maxmemory
        CONFIG GET maxmemory-policy
        CONFIG GET maxmemory-samples
        CONFIG GET maxmemory-eviction-tenacity
        CONFIG GET lazyfree-lazy-eviction
        CONFIG GET lazyfree-lazy-expire
        CONFIG GET lazyfree-lazy-server-del
        CONFIG GET lazyfree-lazy-user-del
        CONFIG GET lazyfree-lazy-user-flush
        CONFIG SET maxmemory 100mb
        CONFIG GET maxmemory
        CONFIG SET maxmemory 1GB
        CONFIG GET maxmemory
        CONFIG SET maxmemory 5k
        CONFIG GET maxmemory
        CONFIG SET maxmemory 3g
        CONFIG GET maxmemory
        CONFIG SET maxmemory 7B
        CONFIG GET maxmemory
        CONFIG SET maxmemory ""
        CONFIG GET maxmemory
        CONFIG SET maxmemory kb
        CONFIG GET maxmemory
        CONFIG SET maxmemory -1
        CONFIG SET maxmemory 1.5mb
        CONFIG SET maxmemory 10xb
        CONFIG SET maxmemory " 5"
        CONFIG SET maxmemory +5
        CONFIG SET maxmemory 99999999999999999999
        CONFIG GET maxmemory
        CONFIG SET maxmemory 18446744073709551615kb
        CONFIG GET maxmemory
        CONFIG SET maxmemory 05
        CONFIG GET maxmemory
        CONFIG SET MAXMEMORY -1
        CONFIG SET maxmemory 1 MAXMEMORY 2
        CONFIG SET maxmemory 1 maxmemory 2 nosuch 3
        CONFIG SET maxmemory -1 nosuch 2
        CONFIG SET maxmemory 7 maxmemory-samples 0
        CONFIG GET maxmemory
        CONFIG SET maxmemory 0
        CONFIG SET maxmemory-policy allkeys-lru
        CONFIG GET maxmemory-policy
        CONFIG SET maxmemory-policy ALLKEYS-LFU
        CONFIG GET maxmemory-policy
        CONFIG SET maxmemory-policy volatile-ttl
        CONFIG GET maxmemory-policy
        CONFIG SET maxmemory-policy bogus
        CONFIG SET maxmemory-policy ""
        CONFIG SET maxmemory-policy "allkeys-lru volatile-lru"
        CONFIG SET maxmemory-policy noeviction
        CONFIG SET maxmemory-samples 0
        CONFIG SET maxmemory-samples 64
        CONFIG GET maxmemory-samples
        CONFIG SET maxmemory-samples x
        CONFIG SET maxmemory-samples 2147483648
        CONFIG SET maxmemory-samples 5
        CONFIG SET maxmemory-eviction-tenacity 101
        CONFIG SET maxmemory-eviction-tenacity 100
        CONFIG GET maxmemory-eviction-tenacity
        CONFIG SET maxmemory-eviction-tenacity 10
        CONFIG SET lazyfree-lazy-eviction yes
        CONFIG GET lazyfree-lazy-eviction
        CONFIG SET lazyfree-lazy-eviction NO
        CONFIG GET lazyfree-lazy-eviction
        CONFIG SET lazyfree-lazy-eviction 1
        CONFIG SET lazyfree-lazy-eviction ""
        CONFIG SET lazyfree-lazy-expire yes lazyfree-lazy-server-del yes
        CONFIG GET lazyfree-lazy-server-del
        CONFIG SET lazyfree-lazy-user-del yes lazyfree-lazy-user-flush maybe
        CONFIG GET lazyfree-lazy-user-del
        CONFIG SET lazyfree-lazy-expire no lazyfree-lazy-server-del no
        CONFIG GET maxmemory-?olicy
        CONFIG GET nosuch
        CONFIG SET nosuch 1
        CONFIG SET maxmemory
        CONFIG SET maxmemory 1 2
        CONFIG GET
        "#,
    ),
];

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Check {
    Exact,
    Unordered,
    Shape,
    Skip,
}

/// One command of a script.
struct Line {
    check: Check,
    args: Vec<Vec<u8>>,
    text: String,
}

fn parse_script(script: &str) -> Vec<Line> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (check, rest) = match l.split_at(2) {
                ("~ ", rest) => (Check::Unordered, rest),
                ("# ", rest) => (Check::Shape, rest),
                ("? ", rest) => (Check::Skip, rest),
                _ => (Check::Exact, l),
            };
            Line {
                check,
                args: split(rest),
                text: l.to_string(),
            }
        })
        .collect()
}

/// Splits on spaces; `"…"` quotes an argument.
fn split(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg.into_bytes());
    }
    args
}

/// The elements of an array frame, each as its raw bytes, sorted.
fn sorted_elements(frame: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut r = frame;
    let mut header = Vec::new();
    r.read_until(b'\n', &mut header).ok()?;
    let n: i64 = std::str::from_utf8(header.strip_prefix(b"*")?.strip_suffix(b"\r\n")?)
        .ok()?
        .parse()
        .ok()?;
    let mut items = Vec::new();
    for _ in 0..n.max(0) {
        let mut item = Vec::new();
        read_frame(&mut r, &mut item).ok()?;
        items.push(item);
    }
    items.sort();
    Some(items)
}

/// The first byte and, for an array, its header line.
fn shape(frame: &[u8]) -> Vec<u8> {
    if frame.first() == Some(&b'*') {
        frame.split(|&b| b == b'\n').next().unwrap_or(b"").to_vec()
    } else {
        frame.iter().take(1).copied().collect()
    }
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn same(check: Check, redis: &[u8], lab: &[u8]) -> bool {
    match check {
        Check::Exact => redis == lab,
        Check::Unordered => {
            sorted_elements(redis).is_some() && sorted_elements(redis) == sorted_elements(lab)
        }
        Check::Shape => shape(redis) == shape(lab),
        Check::Skip => true,
    }
}

/// Runs every script on `c`; the replies, per script, per line.
fn run_all(c: &mut Raw, who: &str) -> Vec<Vec<Vec<u8>>> {
    SCRIPTS
        .iter()
        .map(|(name, script)| {
            let flushed = c.call(&[b"FLUSHALL".to_vec()]);
            assert_eq!(
                flushed.as_deref(),
                Ok(&b"+OK\r\n"[..]),
                "{who}: FLUSHALL before {name}"
            );
            parse_script(script)
                .iter()
                .map(|line| {
                    c.call(&line.args)
                        .unwrap_or_else(|e| panic!("{who}: script {name}: `{}`: {e}", line.text))
                })
                .collect()
        })
        .collect()
}

#[test]
fn replies_match_redis_server_byte_for_byte() {
    let redis = Server::start(&Launch::new(Target::Redis, 1))
        .unwrap_or_else(|e| panic!("cannot start redis-server: {e:#}"));
    let expected = {
        let mut c = Raw::connect(SocketAddr::from(([127, 0, 0, 1], redis.port)));
        run_all(&mut c, "redis-server")
    };
    drop(redis);

    for_each_model(|model| {
        let server = ServerProc::start(model, &[]);
        let mut c = Raw::connect(server.addr());
        let got = run_all(&mut c, model);
        let mut mismatches = Vec::new();
        for (((name, script), want), got) in SCRIPTS.iter().zip(&expected).zip(&got) {
            for ((line, want), got) in parse_script(script).iter().zip(want).zip(got) {
                if !same(line.check, want, got) {
                    mismatches.push(format!(
                        "script {name}, `{}` ({:?}):\n  redis-server: {}\n  lab-02:       {}",
                        line.text,
                        line.check,
                        escape(want),
                        escape(got)
                    ));
                }
            }
        }
        server.assert_no_panic();
        assert!(
            mismatches.is_empty(),
            "[{model}] {} replies differ from redis-server's:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    });
}

#[test]
fn scripts_cover_every_command_asked_for() {
    let all: String = SCRIPTS
        .iter()
        .map(|(_, s)| s.to_ascii_uppercase())
        .collect();
    for command in [
        "MULTI",
        "EXEC",
        "DISCARD",
        "WATCH",
        "UNWATCH",
        "RENAME",
        "RENAMENX",
        "COPY",
        "SMOVE",
        "SINTERSTORE",
        "SUNIONSTORE",
        "SDIFFSTORE",
        "GETSET",
        "SETRANGE",
        "GETRANGE",
        "INCRBYFLOAT",
        "HSETNX",
        "HINCRBYFLOAT",
        "HKEYS",
        "HVALS",
        "HSTRLEN",
        "LSET",
        "LREM",
        "LTRIM",
        "SRANDMEMBER",
        "ZINCRBY",
        "ZRANGEBYSCORE",
        "ZREVRANGE",
        "ZCOUNT",
        "ZREVRANK",
        "GETEX",
        "LINSERT",
        "LPOS",
        "ZREMRANGEBYSCORE",
        "ZREMRANGEBYRANK",
        "ZREMRANGEBYLEX",
        "OBJECT ENCODING",
        "CONFIG SET",
        "CONFIG GET",
    ] {
        assert!(all.contains(command), "no script uses {command}");
    }
}
