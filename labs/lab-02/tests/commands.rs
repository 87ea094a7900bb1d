//! The command layer end to end, without a network: look a command up,
//! check its arity, run it on one shard (or on the connection), parse the
//! RESP reply, and check it against what Redis 7 replies. Also checks the
//! append-only log: what each write logs, and that replaying the log into
//! a fresh store rebuilds the same data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lab_02::cmd::{self, After, Merge, Route, ServerCtx, Session};
use lab_02::db::{self, Db, Hasher, Store};
use lab_02::value::Value;

// ---- a small RESP2 reply parser --------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

fn line(buf: &[u8], at: usize) -> (&[u8], usize) {
    let end = buf[at..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| at + p)
        .expect("CRLF");
    (&buf[at..end], end + 2)
}

fn number(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .parse()
        .expect("a number")
}

/// Parses one reply at `at`; returns it and the offset after it.
fn parse(buf: &[u8], at: usize) -> (Reply, usize) {
    let kind = buf[at];
    let (body, next) = line(buf, at + 1);
    match kind {
        b'+' => (
            Reply::Simple(String::from_utf8(body.to_vec()).expect("UTF-8")),
            next,
        ),
        b'-' => (
            Reply::Error(String::from_utf8(body.to_vec()).expect("UTF-8")),
            next,
        ),
        b':' => (Reply::Int(number(body)), next),
        b'$' => {
            let n = number(body);
            if n < 0 {
                return (Reply::Bulk(None), next);
            }
            let n = n as usize;
            assert_eq!(&buf[next + n..next + n + 2], b"\r\n");
            (
                Reply::Bulk(Some(buf[next..next + n].to_vec())),
                next + n + 2,
            )
        }
        b'*' => {
            let n = number(body);
            if n < 0 {
                return (Reply::Array(None), next);
            }
            let mut items = Vec::new();
            let mut at = next;
            for _ in 0..n {
                let (item, after) = parse(buf, at);
                items.push(item);
                at = after;
            }
            (Reply::Array(Some(items)), at)
        }
        other => panic!("bad reply type {:?}", other as char),
    }
}

/// Parses a buffer that must hold exactly one reply.
fn parse_one(buf: &[u8]) -> Reply {
    let (reply, end) = parse(buf, 0);
    assert_eq!(
        end,
        buf.len(),
        "trailing bytes in {:?}",
        String::from_utf8_lossy(buf)
    );
    reply
}

/// Splits a log into its commands (each a RESP multibulk).
fn parse_log(buf: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut at = 0;
    let mut commands = Vec::new();
    while at < buf.len() {
        let (reply, next) = parse(buf, at);
        let Reply::Array(Some(items)) = reply else {
            panic!("log entry is not an array: {reply:?}");
        };
        commands.push(
            items
                .into_iter()
                .map(|i| match i {
                    Reply::Bulk(Some(b)) => b,
                    other => panic!("log argument is not a bulk string: {other:?}"),
                })
                .collect(),
        );
        at = next;
    }
    commands
}

// ---- reply constructors --------------------------------------------------

fn ok() -> Reply {
    Reply::Simple("OK".into())
}
fn simple(s: &str) -> Reply {
    Reply::Simple(s.into())
}
fn int(n: i64) -> Reply {
    Reply::Int(n)
}
fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}
fn nil() -> Reply {
    Reply::Bulk(None)
}
fn nil_array() -> Reply {
    Reply::Array(None)
}
fn arr(items: Vec<Reply>) -> Reply {
    Reply::Array(Some(items))
}
fn bulks(items: &[&str]) -> Reply {
    arr(items.iter().map(|s| bulk(s)).collect())
}
fn err(s: &str) -> Reply {
    Reply::Error(s.into())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

/// The elements of an array reply as strings, sorted (for unordered
/// replies such as SMEMBERS and KEYS).
fn sorted(r: Reply) -> Vec<String> {
    let Reply::Array(Some(items)) = r else {
        panic!("not an array: {r:?}");
    };
    let mut v: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Reply::Bulk(Some(b)) => String::from_utf8(b).expect("UTF-8"),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    v.sort();
    v
}

// ---- the harness -----------------------------------------------------------

/// A server context for the connection commands.
struct Ctx {
    password: Option<Vec<u8>>,
    tunables: cmd::Tunables,
}

impl ServerCtx for Ctx {
    fn password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }
    fn model(&self) -> &'static str {
        "test"
    }
    fn info_fields(&self) -> Vec<(&'static str, String, String)> {
        vec![
            (
                "keyspace",
                "db0".into(),
                "keys=1,expires=0,avg_ttl=0".into(),
            ),
            ("stats", "total_commands_processed".into(), "7".into()),
            ("server", "tcp_port".into(), "6379".into()),
        ]
    }
    fn config_value(&self, name: &str) -> Option<String> {
        match name {
            "maxmemory" => Some("0".into()),
            "maxmemory-policy" => Some("noeviction".into()),
            "appendonly" => Some("no".into()),
            "port" => Some("6379".into()),
            _ => None,
        }
    }
    fn config_names(&self) -> Vec<&'static str> {
        vec!["appendonly", "maxmemory", "maxmemory-policy", "port"]
    }
    fn client_count(&self) -> usize {
        3
    }
    fn tunables(&self) -> Option<&cmd::Tunables> {
        Some(&self.tunables)
    }
}

/// Splits a command line on spaces; `"…"` quotes (with `""` the empty
/// argument).
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

/// Runs one command the way the server does (lookup, arity, AUTH gate,
/// route) against `store`; returns the raw reply bytes and what the
/// connection should do next. Appends to `log`.
fn run_raw(
    store: &mut Store,
    hasher: &Hasher,
    session: &mut Session,
    ctx: &Ctx,
    log: &mut cmd::Log,
    args: &[&[u8]],
) -> (Vec<u8>, After) {
    let mut out = Vec::new();
    let Some(spec) = cmd::lookup(args[0]) else {
        cmd::unknown_command(&mut out, args);
        return (out, After::Continue);
    };
    if !cmd::arity_ok(spec, args.len()) {
        cmd::wrong_arity(&mut out, spec);
        return (out, After::Continue);
    }
    if !cmd::auth_gate(spec, session, ctx, &mut out) {
        return (out, After::Continue);
    }
    if spec.route == Route::Server {
        let after = cmd::execute_server(spec, session, args, ctx, &mut out);
        return (out, after);
    }
    let mut db = Db::new(store, hasher);
    cmd::execute(&mut db, spec, args, &mut out, log);
    (out, After::Continue)
}

/// The brief's helper: one command line on one store, the reply parsed.
fn run(store: &mut Store, hasher: &Hasher, line: &str) -> Reply {
    let mut session = Session::new(1, "127.0.0.1:1", false);
    let ctx = Ctx {
        password: None,
        tunables: cmd::Tunables::new(),
    };
    let args = split(line);
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let (out, _) = run_raw(
        store,
        hasher,
        &mut session,
        &ctx,
        &mut cmd::Log::new(true),
        &refs,
    );
    parse_one(&out)
}

/// A store plus the state one connection needs; keeps the log.
struct Env {
    store: Store,
    hasher: Hasher,
    session: Session,
    ctx: Ctx,
    log: cmd::Log,
}

impl Env {
    fn new() -> Self {
        Self::with_password(None)
    }

    fn with_password(password: Option<&str>) -> Self {
        let hasher = Hasher::default();
        Env {
            store: db::new_store(&hasher, 1),
            hasher,
            session: Session::new(7, "127.0.0.1:5555", password.is_some()),
            ctx: Ctx {
                password: password.map(|p| p.as_bytes().to_vec()),
                tunables: cmd::Tunables::new(),
            },
            log: cmd::Log::new(true),
        }
    }

    fn args(&mut self, args: &[&[u8]]) -> (Reply, After) {
        let (out, after) = run_raw(
            &mut self.store,
            &self.hasher,
            &mut self.session,
            &self.ctx,
            &mut self.log,
            args,
        );
        if after == After::Shutdown {
            assert!(out.is_empty(), "SHUTDOWN writes no reply");
            return (Reply::Simple(String::new()), after);
        }
        (parse_one(&out), after)
    }

    fn run(&mut self, line: &str) -> Reply {
        let args = split(line);
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        self.args(&refs).0
    }

    /// Runs `line` and returns what it logged (parsed), clearing the log.
    fn logged(&mut self, line: &str) -> (Reply, Vec<Vec<String>>) {
        self.log.clear();
        let r = self.run(line);
        let cmds = parse_log(self.log.bytes())
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|a| String::from_utf8(a).expect("UTF-8"))
                    .collect()
            })
            .collect();
        self.log.clear();
        (r, cmds)
    }

    /// Runs a command split per key as the server does for EachKey and
    /// AllShards routes (one shard here), merging the replies.
    fn run_split(&mut self, line: &str) -> Reply {
        let args = split(line);
        let spec = cmd::lookup(&args[0]).expect("a command");
        let Route::EachKey(merge) = spec.route else {
            return self.run(line);
        };
        let step = spec.step as usize;
        let parts: Vec<Reply> = args[1..]
            .chunks(step)
            .map(|chunk| {
                let mut part: Vec<&[u8]> = vec![&args[0]];
                part.extend(chunk.iter().map(|a| a.as_slice()));
                self.args(&part).0
            })
            .collect();
        match merge {
            Merge::SumInts => int(parts
                .iter()
                .map(|p| match p {
                    Reply::Int(n) => *n,
                    other => panic!("{other:?}"),
                })
                .sum()),
            Merge::ConcatArrays => arr(parts
                .into_iter()
                .flat_map(|p| match p {
                    Reply::Array(Some(items)) => items,
                    other => panic!("{other:?}"),
                })
                .collect()),
            Merge::AllOk => parts.into_iter().find(|p| *p != ok()).unwrap_or_else(ok),
        }
    }

    /// Every live key with its value and whether it has a TTL.
    fn dump(&mut self) -> BTreeMap<Vec<u8>, (Value, bool)> {
        let db = Db::new(&mut self.store, &self.hasher);
        let mut all = BTreeMap::new();
        db.for_each(|k, v| {
            all.insert(k.clone(), (v.clone(), false));
        });
        for (k, entry) in all.iter_mut() {
            entry.1 = matches!(db.ttl(k), lab_01::TtlState::Remaining(_));
        }
        all
    }
}

fn now_ms() -> i64 {
    db::unix_ms() as i64
}

// ---- the table and the generic errors -------------------------------------

#[test]
fn run_helper_on_a_bare_store() {
    let hasher = Hasher::default();
    let mut store = db::new_store(&hasher, 1);
    assert_eq!(run(&mut store, &hasher, "SET k v EX 10"), ok());
    assert_eq!(run(&mut store, &hasher, "GET k"), bulk("v"));
    let ttl = run(&mut store, &hasher, "TTL k");
    assert!(matches!(ttl, Reply::Int(9..=10)), "{ttl:?}");
}

#[test]
fn lookup_arity_and_unknown_commands() {
    let mut e = Env::new();
    assert_eq!(
        e.run("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        e.run("get a b"),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        e.run("MSET a 1 b"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        e.run("HSET h f"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        e.run("HSET h f v g"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        e.run("FOO a b"),
        err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        e.run("foo"),
        err("ERR unknown command 'foo', with args beginning with: ")
    );
    assert_eq!(e.run("gEt nothing"), nil());
    assert!(e.log.is_empty());
    // Every command in the table can be found and its arity makes sense.
    for spec in cmd::table() {
        assert!(std::ptr::eq(
            cmd::lookup(spec.name.as_bytes()).unwrap(),
            spec
        ));
        assert!(spec.arity != 0, "{}", spec.name);
        assert!(cmd::arity_ok(spec, spec.arity.unsigned_abs() as usize) || spec.step == 2);
    }
}

#[test]
fn routes_in_the_table() {
    let route = |n: &str| cmd::lookup(n.as_bytes()).unwrap().route;
    assert_eq!(route("get"), Route::Key);
    assert_eq!(route("del"), Route::EachKey(Merge::SumInts));
    assert_eq!(route("unlink"), Route::EachKey(Merge::SumInts));
    assert_eq!(route("exists"), Route::EachKey(Merge::SumInts));
    assert_eq!(route("mget"), Route::EachKey(Merge::ConcatArrays));
    assert_eq!(route("mset"), Route::EachKey(Merge::AllOk));
    assert_eq!(route("keys"), Route::AllShards(Merge::ConcatArrays));
    assert_eq!(route("dbsize"), Route::AllShards(Merge::SumInts));
    assert_eq!(route("flushdb"), Route::AllShards(Merge::AllOk));
    assert_eq!(route("flushall"), Route::AllShards(Merge::AllOk));
    assert_eq!(route("scan"), Route::Scan);
    for name in [
        "ping", "echo", "quit", "auth", "hello", "client", "select", "info", "config", "command",
        "shutdown",
    ] {
        assert_eq!(route(name), Route::Server, "{name}");
    }
    let mset = cmd::lookup(b"mset").unwrap();
    assert_eq!((mset.first_key, mset.last_key, mset.step), (1, -1, 2));
    let noauth = |n: &str| cmd::lookup(n.as_bytes()).unwrap().has(cmd::flags::NOAUTH);
    assert!(noauth("auth") && noauth("hello") && noauth("quit"));
    assert!(!noauth("get") && !noauth("ping"));
}

// ---- strings ---------------------------------------------------------------

#[test]
fn get_set_and_options() {
    let mut e = Env::new();
    assert_eq!(e.run("GET k"), nil());
    assert_eq!(e.run("SET k v"), ok());
    assert_eq!(e.run("GET k"), bulk("v"));
    assert_eq!(e.run("SET k v2 NX"), nil());
    assert_eq!(e.run("SET k v2 XX"), ok());
    assert_eq!(e.run("SET other v XX"), nil());
    assert_eq!(e.run("GET other"), nil());
    assert_eq!(e.run("SET k v3 GET"), bulk("v2"));
    assert_eq!(e.run("SET fresh v GET"), nil());
    assert_eq!(e.run("SET k v4 NX GET"), bulk("v3"), "NX with GET: 7.0");
    assert_eq!(e.run("GET k"), bulk("v3"));
    assert_eq!(e.run("SET k \"\""), ok());
    assert_eq!(e.run("GET k"), bulk(""));
    assert_eq!(e.run("set k v nx xx"), err(SYNTAX));
    assert_eq!(e.run("SET k v EX 10 PX 100"), err(SYNTAX));
    assert_eq!(e.run("SET k v EX"), err(SYNTAX));
    assert_eq!(e.run("SET k v KEEPTTL EX 10"), err(SYNTAX));
    assert_eq!(e.run("SET k v BOGUS"), err(SYNTAX));
    assert_eq!(e.run("SET k v EX abc"), err(NOT_INT));
    assert_eq!(
        e.run("SET k v EX 0"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        e.run("SET k v PX -5"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        e.run("SET k v EX 9223372036854775807"),
        err("ERR invalid expire time in 'set' command")
    );
    // SET … GET on a non-string: WRONGTYPE and no write.
    e.run("LPUSH l a");
    assert_eq!(e.run("SET l v GET"), err(WRONGTYPE));
    assert_eq!(e.run("TYPE l"), simple("list"));
    // Plain SET overwrites any type.
    assert_eq!(e.run("SET l v"), ok());
    assert_eq!(e.run("TYPE l"), simple("string"));
}

#[test]
fn setnx_setex_psetex_getset_getdel_mget_mset() {
    let mut e = Env::new();
    assert_eq!(e.run("SETNX k 1"), int(1));
    assert_eq!(e.run("SETNX k 2"), int(0));
    assert_eq!(e.run("GET k"), bulk("1"));
    assert_eq!(e.run("SETEX s 100 v"), ok());
    assert!(matches!(e.run("TTL s"), Reply::Int(99..=100)));
    assert_eq!(
        e.run("SETEX s 0 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(e.run("SETEX s x v"), err(NOT_INT));
    assert_eq!(e.run("PSETEX p 5000 v"), ok());
    assert!(matches!(e.run("PTTL p"), Reply::Int(4900..=5000)));
    assert_eq!(
        e.run("PSETEX p -1 v"),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(e.run("GETSET k 9"), bulk("1"));
    assert_eq!(e.run("GETSET new 9"), nil());
    assert_eq!(e.run("GET k"), bulk("9"));
    assert_eq!(e.run("GETDEL k"), bulk("9"));
    assert_eq!(e.run("GETDEL k"), nil());
    assert_eq!(e.run("EXISTS k"), int(0));
    assert_eq!(e.run("MSET a 1 b 2 c 3"), ok());
    e.run("RPUSH l x");
    assert_eq!(
        e.run("MGET a b nope c l"),
        arr(vec![bulk("1"), bulk("2"), nil(), bulk("3"), nil()])
    );
    assert_eq!(e.run("GETDEL l"), err(WRONGTYPE));
    assert_eq!(e.run("GETSET l v"), err(WRONGTYPE));
    // As the server runs them: split per key (pair) and merged.
    assert_eq!(e.run_split("MSET x 1 y 2"), ok());
    assert_eq!(
        e.run_split("MGET x nope y"),
        arr(vec![bulk("1"), nil(), bulk("2")])
    );
    assert_eq!(e.run_split("EXISTS x y nope x"), int(3));
    assert_eq!(e.run_split("DEL x y nope"), int(2));
}

#[test]
fn counters() {
    let mut e = Env::new();
    assert_eq!(e.run("INCR n"), int(1));
    assert_eq!(e.run("INCRBY n 10"), int(11));
    assert_eq!(e.run("DECR n"), int(10));
    assert_eq!(e.run("DECRBY n 20"), int(-10));
    assert_eq!(e.run("GET n"), bulk("-10"));
    assert_eq!(e.run("INCRBY n abc"), err(NOT_INT));
    assert_eq!(e.run("INCRBY n 01"), err(NOT_INT));
    e.run("SET s hello");
    assert_eq!(e.run("INCR s"), err(NOT_INT));
    e.run("SET s \" 1\"");
    assert_eq!(e.run("INCR s"), err(NOT_INT));
    e.run("SET big 9223372036854775807");
    assert_eq!(
        e.run("INCR big"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(e.run("GET big"), bulk("9223372036854775807"));
    e.run("SET small -9223372036854775808");
    assert_eq!(
        e.run("DECR small"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        e.run("DECRBY n -9223372036854775808"),
        err("ERR decrement would overflow")
    );
    e.run("LPUSH l a");
    assert_eq!(e.run("INCR l"), err(WRONGTYPE));
    // A TTL survives INCR.
    e.run("SET t 5 EX 100");
    assert_eq!(e.run("INCR t"), int(6));
    assert!(matches!(e.run("TTL t"), Reply::Int(99..=100)));
    // INCRBYFLOAT
    assert_eq!(e.run("INCRBYFLOAT f 10.5"), bulk("10.5"));
    assert_eq!(e.run("INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(e.run("INCRBYFLOAT f -5.6"), bulk("5"));
    assert_eq!(
        e.run("INCRBYFLOAT f abc"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        e.run("INCRBYFLOAT s 1"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        e.run("INCRBYFLOAT f inf"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(e.run("GET f"), bulk("5"));
}

#[test]
fn append_strlen_ranges() {
    let mut e = Env::new();
    assert_eq!(e.run("APPEND k Hello"), int(5));
    assert_eq!(e.run("APPEND k \" World\""), int(11));
    assert_eq!(e.run("GET k"), bulk("Hello World"));
    assert_eq!(e.run("STRLEN k"), int(11));
    assert_eq!(e.run("STRLEN nope"), int(0));
    assert_eq!(e.run("GETRANGE k 0 4"), bulk("Hello"));
    assert_eq!(e.run("GETRANGE k -5 -1"), bulk("World"));
    assert_eq!(e.run("GETRANGE k 5 1"), bulk(""));
    assert_eq!(e.run("GETRANGE k 0 100"), bulk("Hello World"));
    assert_eq!(e.run("GETRANGE k -1 -5"), bulk(""));
    assert_eq!(e.run("GETRANGE nope 0 -1"), bulk(""));
    assert_eq!(e.run("SETRANGE k 6 Redis"), int(11));
    assert_eq!(e.run("GET k"), bulk("Hello Redis"));
    assert_eq!(e.run("SETRANGE pad 3 x"), int(4));
    assert_eq!(e.run("GET pad"), Reply::Bulk(Some(b"\0\0\0x".to_vec())));
    assert_eq!(e.run("SETRANGE none 3 \"\""), int(0));
    assert_eq!(e.run("EXISTS none"), int(0));
    assert_eq!(e.run("SETRANGE k -1 x"), err("ERR offset is out of range"));
    e.run("SADD s a");
    assert_eq!(e.run("APPEND s x"), err(WRONGTYPE));
    assert_eq!(e.run("STRLEN s"), err(WRONGTYPE));
    assert_eq!(e.run("GETRANGE s 0 1"), err(WRONGTYPE));
    assert_eq!(e.run("SETRANGE s 0 x"), err(WRONGTYPE));
}

// ---- keys ------------------------------------------------------------------

#[test]
fn del_exists_type_dbsize_flush() {
    let mut e = Env::new();
    e.run("SET a 1");
    e.run("LPUSH b x");
    e.run("HSET c f v");
    e.run("SADD d m");
    e.run("ZADD z 1 m");
    assert_eq!(e.run("TYPE a"), simple("string"));
    assert_eq!(e.run("TYPE b"), simple("list"));
    assert_eq!(e.run("TYPE c"), simple("hash"));
    assert_eq!(e.run("TYPE d"), simple("set"));
    assert_eq!(e.run("TYPE z"), simple("zset"));
    assert_eq!(e.run("TYPE nope"), simple("none"));
    assert_eq!(e.run("DBSIZE"), int(5));
    assert_eq!(e.run("EXISTS a b nope a"), int(3));
    assert_eq!(e.run("TOUCH a nope"), int(1));
    assert_eq!(e.run("DEL a b nope"), int(2));
    assert_eq!(e.run("UNLINK c nope"), int(1));
    assert_eq!(e.run("DBSIZE"), int(2));
    assert_eq!(e.run("FLUSHDB BOGUS"), err(SYNTAX));
    assert_eq!(e.run("FLUSHDB ASYNC extra"), err(SYNTAX));
    assert_eq!(e.run("FLUSHDB SYNC"), ok());
    assert_eq!(e.run("DBSIZE"), int(0));
    e.run("SET a 1");
    assert_eq!(e.run("FLUSHALL"), ok());
    assert_eq!(e.run("DBSIZE"), int(0));
}

#[test]
fn keys_glob_patterns() {
    let mut e = Env::new();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "user:1", "user:2", "user:10",
        "a[b",
    ] {
        e.run(&format!("SET {k} v"));
    }
    assert_eq!(sorted(e.run("KEYS *")).len(), 10);
    assert_eq!(
        sorted(e.run("KEYS h?llo")),
        ["h*llo", "hallo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted(e.run("KEYS h*llo")),
        ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(sorted(e.run("KEYS h[ae]llo")), ["hallo", "hello"]);
    assert_eq!(sorted(e.run("KEYS h[^e]llo")), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(sorted(e.run("KEYS h[a-b]llo")), ["hallo"]);
    assert_eq!(sorted(e.run("KEYS h\\*llo")), ["h*llo"]);
    assert_eq!(sorted(e.run("KEYS user:?")), ["user:1", "user:2"]);
    assert_eq!(
        sorted(e.run("KEYS user:*")),
        ["user:1", "user:10", "user:2"]
    );
    assert_eq!(sorted(e.run("KEYS a\\[b")), ["a[b"]);
    assert_eq!(sorted(e.run("KEYS nomatch*")), Vec::<String>::new());
}

/// Runs a full SCAN with `options`; returns every key seen and the number
/// of steps.
fn full_scan(e: &mut Env, options: &str) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut steps = 0;
    loop {
        let r = e.run(&format!("SCAN {cursor} {options}"));
        steps += 1;
        let Reply::Array(Some(mut parts)) = r else {
            panic!("{r:?}");
        };
        let keys = parts.pop().expect("keys");
        let Reply::Bulk(Some(c)) = parts.pop().expect("cursor") else {
            panic!("cursor")
        };
        seen.extend(sorted(keys));
        cursor = String::from_utf8(c).expect("UTF-8");
        if cursor == "0" {
            break;
        }
        assert!(steps < 100_000);
    }
    (seen, steps)
}

#[test]
fn scan_is_complete_with_small_counts() {
    let mut e = Env::new();
    for i in 0..1000 {
        e.run(&format!("SET key:{i} v"));
    }
    for i in 0..50 {
        e.run(&format!("LPUSH list:{i} v"));
    }
    let (seen, steps) = full_scan(&mut e, "COUNT 7");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 1050);
    assert_eq!(seen.len(), 1050, "no duplicates without concurrent writes");
    assert!(steps >= 1050 / 7, "{steps}");
    let (lists, _) = full_scan(&mut e, "COUNT 13 TYPE list");
    assert_eq!(lists.len(), 50);
    assert!(lists.iter().all(|k| k.starts_with("list:")));
    let (matched, _) = full_scan(&mut e, "MATCH key:1?? COUNT 5");
    assert_eq!(matched.len(), 100);
    let (none, _) = full_scan(&mut e, "TYPE zset");
    assert!(none.is_empty());
    // Errors.
    assert_eq!(e.run("SCAN x"), err("ERR invalid cursor"));
    assert_eq!(e.run("SCAN 0 COUNT 0"), err(SYNTAX));
    assert_eq!(e.run("SCAN 0 COUNT x"), err(NOT_INT));
    assert_eq!(e.run("SCAN 0 MATCH"), err(SYNTAX));
    assert_eq!(e.run("SCAN 0 BOGUS 1"), err(SYNTAX));
}

#[test]
fn scan_returns_keys_present_throughout_despite_deletes() {
    let mut e = Env::new();
    for i in 0..500 {
        e.run(&format!("SET k{i} v"));
    }
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut step = 0;
    loop {
        let r = e.run(&format!("SCAN {cursor} COUNT 10"));
        let Reply::Array(Some(parts)) = r else {
            panic!()
        };
        let Reply::Bulk(Some(c)) = &parts[0] else {
            panic!()
        };
        seen.extend(sorted(parts[1].clone()));
        cursor = String::from_utf8(c.clone()).unwrap();
        // Meanwhile: delete keys 0..100 (a few per step) and add new ones.
        for j in 0..3 {
            let victim = step * 3 + j;
            if victim < 100 {
                e.run(&format!("DEL k{victim}"));
            }
        }
        e.run(&format!("SET new{step} v"));
        step += 1;
        if cursor == "0" {
            break;
        }
    }
    for i in 100..500 {
        assert!(seen.contains(&format!("k{i}")), "k{i} missed");
    }
}

#[test]
fn ttl_behaviour() {
    let mut e = Env::new();
    assert_eq!(e.run("TTL nope"), int(-2));
    assert_eq!(e.run("PTTL nope"), int(-2));
    e.run("SET k v");
    assert_eq!(e.run("TTL k"), int(-1));
    assert_eq!(e.run("PTTL k"), int(-1));
    assert_eq!(e.run("EXPIRETIME k"), int(-1));
    assert_eq!(e.run("EXPIRE k 100"), int(1));
    assert!(matches!(e.run("TTL k"), Reply::Int(99..=100)));
    assert!(matches!(e.run("PTTL k"), Reply::Int(99_000..=100_000)));
    let Reply::Int(at) = e.run("PEXPIRETIME k") else {
        panic!()
    };
    assert!((at - (now_ms() + 100_000)).abs() < 1000);
    let Reply::Int(at_s) = e.run("EXPIRETIME k") else {
        panic!()
    };
    assert_eq!(at_s, at / 1000);
    // NX / XX / GT / LT
    assert_eq!(e.run("EXPIRE k 200 NX"), int(0));
    assert_eq!(e.run("EXPIRE k 200 XX"), int(1));
    assert_eq!(e.run("EXPIRE k 100 GT"), int(0));
    assert_eq!(e.run("EXPIRE k 300 GT"), int(1));
    assert_eq!(e.run("EXPIRE k 400 LT"), int(0));
    assert_eq!(e.run("EXPIRE k 50 LT"), int(1));
    assert!(matches!(e.run("TTL k"), Reply::Int(49..=50)));
    e.run("SET p v");
    assert_eq!(e.run("EXPIRE p 100 XX"), int(0));
    assert_eq!(
        e.run("EXPIRE p 100 GT"),
        int(0),
        "no TTL counts as infinite"
    );
    assert_eq!(e.run("EXPIRE p 100 LT"), int(1));
    assert_eq!(e.run("PERSIST p"), int(1));
    assert_eq!(e.run("PERSIST p"), int(0));
    assert_eq!(e.run("PERSIST nope"), int(0));
    assert_eq!(e.run("EXPIRE p 100 NX"), int(1));
    assert_eq!(
        e.run("EXPIRE p 100 NX XX"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        e.run("EXPIRE p 100 GT LT"),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(e.run("EXPIRE p 100 FOO"), err("ERR Unsupported option FOO"));
    assert_eq!(e.run("EXPIRE p abc"), err(NOT_INT));
    assert_eq!(
        e.run("EXPIRE p 9223372036854775807"),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(e.run("EXPIRE nope 100"), int(0));
    // A negative TTL or a time in the past deletes the key (and says 1).
    assert_eq!(e.run("EXPIRE p -1"), int(1));
    assert_eq!(e.run("EXISTS p"), int(0));
    e.run("SET q v");
    assert_eq!(e.run("PEXPIREAT q 1000"), int(1));
    assert_eq!(e.run("GET q"), nil());
    e.run("SET q v");
    assert_eq!(e.run("EXPIREAT q 1"), int(1));
    assert_eq!(e.run("GET q"), nil());
    e.run("SET q v");
    let future = now_ms() / 1000 + 1000;
    assert_eq!(e.run(&format!("EXPIREAT q {future}")), int(1));
    assert!(matches!(e.run("TTL q"), Reply::Int(990..=1000)));
    // SET clears the TTL; KEEPTTL keeps it.
    e.run("SET q v2 KEEPTTL");
    assert!(matches!(e.run("TTL q"), Reply::Int(990..=1000)));
    e.run("SET q v3");
    assert_eq!(e.run("TTL q"), int(-1));
    // Expiry really happens.
    e.run("SET short v PX 50");
    e.run("LPUSH shortlist a");
    e.run("PEXPIRE shortlist 50");
    assert!(matches!(e.run("PTTL short"), Reply::Int(1..=50)));
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(e.run("GET short"), nil());
    assert_eq!(e.run("TTL short"), int(-2));
    assert_eq!(e.run("LLEN shortlist"), int(0));
    assert_eq!(e.run("EXISTS short shortlist"), int(0));
    // SET with an absolute time.
    let at = now_ms() + 60_000;
    assert_eq!(e.run(&format!("SET abs v PXAT {at}")), ok());
    let Reply::Int(got) = e.run("PEXPIRETIME abs") else {
        panic!()
    };
    assert!((got - at).abs() <= 2, "{got} vs {at}");
    assert_eq!(e.run("SET past v EXAT 1"), ok());
    assert_eq!(e.run("EXISTS past"), int(0));
}

// ---- lists -----------------------------------------------------------------

#[test]
fn lists() {
    let mut e = Env::new();
    assert_eq!(e.run("LPUSH l a b c"), int(3));
    assert_eq!(e.run("RPUSH l x y"), int(5));
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["c", "b", "a", "x", "y"]));
    assert_eq!(e.run("LRANGE l 1 2"), bulks(&["b", "a"]));
    assert_eq!(e.run("LRANGE l -2 100"), bulks(&["x", "y"]));
    assert_eq!(e.run("LRANGE l 3 1"), bulks(&[]));
    assert_eq!(e.run("LRANGE l 10 20"), bulks(&[]));
    assert_eq!(e.run("LRANGE nope 0 -1"), bulks(&[]));
    assert_eq!(e.run("LRANGE l a 1"), err(NOT_INT));
    assert_eq!(e.run("LLEN l"), int(5));
    assert_eq!(e.run("LLEN nope"), int(0));
    assert_eq!(e.run("LINDEX l 0"), bulk("c"));
    assert_eq!(e.run("LINDEX l -1"), bulk("y"));
    assert_eq!(e.run("LINDEX l 99"), nil());
    assert_eq!(e.run("LINDEX l x"), err(NOT_INT));
    assert_eq!(e.run("LINDEX nope 0"), nil());
    assert_eq!(e.run("LPOP l"), bulk("c"));
    assert_eq!(e.run("RPOP l"), bulk("y"));
    assert_eq!(e.run("LPOP l 2"), bulks(&["b", "a"]));
    assert_eq!(e.run("LPOP l 0"), bulks(&[]));
    assert_eq!(e.run("LPOP nope"), nil());
    assert_eq!(e.run("LPOP nope 2"), nil_array());
    assert_eq!(
        e.run("LPOP l -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        e.run("LPOP l x"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        e.run("LPOP l 1 2"),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(e.run("RPOP l 5"), bulks(&["x"]));
    assert_eq!(e.run("EXISTS l"), int(0), "an emptied list is deleted");
    assert_eq!(e.run("LPUSHX l a"), int(0));
    assert_eq!(e.run("EXISTS l"), int(0));
    e.run("RPUSH l a");
    assert_eq!(e.run("LPUSHX l z"), int(2));
    assert_eq!(e.run("RPUSHX l b"), int(3));
    assert_eq!(e.run("LSET l 1 A"), ok());
    assert_eq!(e.run("LSET l -1 B"), ok());
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["z", "A", "B"]));
    assert_eq!(e.run("LSET l 5 x"), err("ERR index out of range"));
    assert_eq!(e.run("LSET nope 0 x"), err("ERR no such key"));
    assert_eq!(e.run("LSET l x x"), err(NOT_INT));
    e.run("DEL l");
    e.run("RPUSH l a b a c a d a");
    assert_eq!(e.run("LREM l 2 a"), int(2));
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["b", "c", "a", "d", "a"]));
    assert_eq!(e.run("LREM l -1 a"), int(1));
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["b", "c", "a", "d"]));
    assert_eq!(e.run("LREM l 0 a"), int(1));
    assert_eq!(e.run("LREM l 0 zz"), int(0));
    assert_eq!(e.run("LREM l x a"), err(NOT_INT));
    assert_eq!(e.run("LTRIM l 1 -1"), ok());
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["c", "d"]));
    assert_eq!(e.run("LTRIM l 5 10"), ok());
    assert_eq!(e.run("EXISTS l"), int(0), "LTRIM to nothing deletes");
    e.run("RPUSH l a a");
    assert_eq!(e.run("LREM l 0 a"), int(2));
    assert_eq!(e.run("EXISTS l"), int(0), "LREM of everything deletes");
    e.run("SET s v");
    for c in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LLEN s",
        "LINDEX s 0",
        "LRANGE s 0 1",
        "LSET s 0 a",
        "LREM s 0 a",
        "LTRIM s 0 1",
    ] {
        assert_eq!(e.run(c), err(WRONGTYPE), "{c}");
    }
}

// ---- hashes ----------------------------------------------------------------

#[test]
fn hashes() {
    let mut e = Env::new();
    assert_eq!(e.run("HSET h a 1 b 2"), int(2));
    assert_eq!(e.run("HSET h a 10 c 3"), int(1));
    assert_eq!(e.run("HGET h a"), bulk("10"));
    assert_eq!(e.run("HGET h nope"), nil());
    assert_eq!(e.run("HGET nope a"), nil());
    assert_eq!(
        e.run("HMGET h a nope c"),
        arr(vec![bulk("10"), nil(), bulk("3")])
    );
    assert_eq!(e.run("HMGET nope a b"), arr(vec![nil(), nil()]));
    assert_eq!(e.run("HLEN h"), int(3));
    assert_eq!(e.run("HLEN nope"), int(0));
    assert_eq!(e.run("HEXISTS h a"), int(1));
    assert_eq!(e.run("HEXISTS h z"), int(0));
    assert_eq!(e.run("HSTRLEN h a"), int(2));
    assert_eq!(sorted(e.run("HKEYS h")), ["a", "b", "c"]);
    assert_eq!(sorted(e.run("HVALS h")), ["10", "2", "3"]);
    let all = sorted(e.run("HGETALL h"));
    assert_eq!(all, ["10", "2", "3", "a", "b", "c"]);
    let Reply::Array(Some(pairs)) = e.run("HGETALL h") else {
        panic!()
    };
    let map: BTreeMap<String, String> = pairs
        .chunks(2)
        .map(|p| match (&p[0], &p[1]) {
            (Reply::Bulk(Some(k)), Reply::Bulk(Some(v))) => (
                String::from_utf8(k.clone()).unwrap(),
                String::from_utf8(v.clone()).unwrap(),
            ),
            _ => panic!(),
        })
        .collect();
    assert_eq!(map["a"], "10");
    assert_eq!(e.run("HGETALL nope"), bulks(&[]));
    assert_eq!(e.run("HSETNX h a x"), int(0));
    assert_eq!(e.run("HSETNX h d 4"), int(1));
    assert_eq!(e.run("HMSET h e 5 f 6"), ok());
    assert_eq!(e.run("HINCRBY h a 5"), int(15));
    assert_eq!(e.run("HINCRBY h new -3"), int(-3));
    assert_eq!(e.run("HINCRBY h a x"), err(NOT_INT));
    e.run("HSET h s hello");
    assert_eq!(
        e.run("HINCRBY h s 1"),
        err("ERR hash value is not an integer")
    );
    e.run("HSET h max 9223372036854775807");
    assert_eq!(
        e.run("HINCRBY h max 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(e.run("HINCRBYFLOAT h fl 1.5"), bulk("1.5"));
    assert_eq!(e.run("HINCRBYFLOAT h fl 1"), bulk("2.5"));
    assert_eq!(
        e.run("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        e.run("HINCRBYFLOAT h fl x"),
        err("ERR value is not a valid float")
    );
    assert_eq!(e.run("HDEL h a b nope"), int(2));
    assert_eq!(e.run("HDEL nope a"), int(0));
    e.run("DEL h");
    e.run("HSET h f v");
    assert_eq!(e.run("HDEL h f"), int(1));
    assert_eq!(e.run("EXISTS h"), int(0), "an emptied hash is deleted");
    // Redis refuses an infinite increment itself, before the key.
    assert_eq!(
        e.run("HINCRBYFLOAT h f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(e.run("EXISTS h"), int(0), "a failed write creates nothing");
    e.run("SET s v");
    for c in [
        "HSET s f v",
        "HSETNX s f v",
        "HGET s f",
        "HMGET s f",
        "HGETALL s",
        "HDEL s f",
        "HLEN s",
        "HEXISTS s f",
        "HINCRBY s f 1",
        "HKEYS s",
        "HVALS s",
    ] {
        assert_eq!(e.run(c), err(WRONGTYPE), "{c}");
    }
}

// ---- sets ------------------------------------------------------------------

#[test]
fn sets() {
    let mut e = Env::new();
    assert_eq!(e.run("SADD s a b c a"), int(3));
    assert_eq!(e.run("SADD s a d"), int(1));
    assert_eq!(sorted(e.run("SMEMBERS s")), ["a", "b", "c", "d"]);
    assert_eq!(e.run("SMEMBERS nope"), bulks(&[]));
    assert_eq!(e.run("SISMEMBER s a"), int(1));
    assert_eq!(e.run("SISMEMBER s z"), int(0));
    assert_eq!(e.run("SISMEMBER nope z"), int(0));
    assert_eq!(
        e.run("SMISMEMBER s a z d"),
        arr(vec![int(1), int(0), int(1)])
    );
    assert_eq!(e.run("SCARD s"), int(4));
    assert_eq!(e.run("SCARD nope"), int(0));
    assert_eq!(e.run("SREM s a z"), int(1));
    assert_eq!(e.run("SCARD s"), int(3));
    let Reply::Bulk(Some(m)) = e.run("SRANDMEMBER s") else {
        panic!()
    };
    assert!([b"b", b"c", b"d"].contains(&m.as_slice().try_into().unwrap()));
    assert_eq!(sorted(e.run("SRANDMEMBER s 10")), ["b", "c", "d"]);
    assert_eq!(sorted(e.run("SRANDMEMBER s 2")).len(), 2);
    let dupes = sorted(e.run("SRANDMEMBER s -10"));
    assert_eq!(dupes.len(), 10);
    assert!(dupes.iter().all(|m| ["b", "c", "d"].contains(&m.as_str())));
    assert_eq!(e.run("SRANDMEMBER nope"), nil());
    assert_eq!(e.run("SRANDMEMBER nope 3"), bulks(&[]));
    let Reply::Bulk(Some(_)) = e.run("SPOP s") else {
        panic!()
    };
    assert_eq!(e.run("SCARD s"), int(2));
    assert_eq!(e.run("SPOP s 0"), bulks(&[]));
    assert_eq!(sorted(e.run("SPOP s 10")).len(), 2);
    assert_eq!(e.run("EXISTS s"), int(0), "an emptied set is deleted");
    assert_eq!(e.run("SPOP s"), nil());
    assert_eq!(e.run("SPOP s 3"), bulks(&[]));
    assert_eq!(
        e.run("SPOP s -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(e.run("SPOP s 1 2"), err(SYNTAX));
    e.run("SADD s a");
    assert_eq!(e.run("SREM s a"), int(1));
    assert_eq!(e.run("EXISTS s"), int(0));
    e.run("SET str v");
    for c in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
    ] {
        assert_eq!(e.run(c), err(WRONGTYPE), "{c}");
    }
}

// ---- sorted sets -------------------------------------------------------------

#[test]
fn sorted_sets() {
    let mut e = Env::new();
    assert_eq!(e.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(e.run("ZADD z 1.5 a 4 d"), int(1));
    assert_eq!(e.run("ZRANGE z 0 -1"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(e.run("ZSCORE z a"), bulk("1.5"));
    assert_eq!(e.run("ZSCORE z nope"), nil());
    assert_eq!(e.run("ZSCORE nope a"), nil());
    assert_eq!(e.run("ZCARD z"), int(4));
    assert_eq!(e.run("ZCARD nope"), int(0));
    assert_eq!(e.run("ZRANK z c"), int(2));
    assert_eq!(e.run("ZREVRANK z c"), int(1));
    assert_eq!(e.run("ZRANK z nope"), nil());
    assert_eq!(
        e.run("ZRANGE z 0 1 WITHSCORES"),
        bulks(&["a", "1.5", "b", "2"])
    );
    assert_eq!(e.run("ZRANGE z -2 -1"), bulks(&["c", "d"]));
    assert_eq!(e.run("ZRANGE z 0 0 REV"), bulks(&["d"]));
    assert_eq!(e.run("ZREVRANGE z 0 1"), bulks(&["d", "c"]));
    assert_eq!(e.run("ZRANGE z 5 10"), bulks(&[]));
    assert_eq!(e.run("ZRANGE nope 0 -1"), bulks(&[]));
    assert_eq!(e.run("ZRANGE z 2 +inf BYSCORE"), bulks(&["b", "c", "d"]));
    assert_eq!(e.run("ZRANGE z (2 3 BYSCORE"), bulks(&["c"]));
    assert_eq!(
        e.run("ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2"),
        bulks(&["c", "b"])
    );
    assert_eq!(
        e.run("ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 0 1"),
        bulks(&["a", "1.5"])
    );
    assert_eq!(e.run("ZREVRANGEBYSCORE z 3 2"), bulks(&["c", "b"]));
    assert_eq!(e.run("ZCOUNT z 2 3"), int(2));
    assert_eq!(e.run("ZCOUNT z (1.5 +inf"), int(3));
    assert_eq!(e.run("ZCOUNT z x 1"), err("ERR min or max is not a float"));
    assert_eq!(
        e.run("ZRANGE z x 1 BYSCORE"),
        err("ERR min or max is not a float")
    );
    assert_eq!(e.run("ZRANGE z a 1"), err(NOT_INT));
    assert_eq!(
        e.run("ZRANGE z 0 1 LIMIT 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(e.run("ZRANGE z 0 1 BOGUS"), err(SYNTAX));
    assert_eq!(e.run("ZMSCORE z a nope"), arr(vec![bulk("1.5"), nil()]));
    // Lex ranges (equal scores).
    e.run("ZADD lex 0 a 0 b 0 c 0 d");
    assert_eq!(e.run("ZRANGE lex [b (d BYLEX"), bulks(&["b", "c"]));
    assert_eq!(
        e.run("ZRANGE lex + - BYLEX REV LIMIT 0 2"),
        bulks(&["d", "c"])
    );
    assert_eq!(
        e.run("ZRANGE lex x y BYLEX"),
        err("ERR min or max not valid string range item")
    );
    // ZADD options.
    assert_eq!(e.run("ZADD z NX 100 a 5 e"), int(1));
    assert_eq!(e.run("ZSCORE z a"), bulk("1.5"));
    assert_eq!(e.run("ZADD z XX 100 a 6 f"), int(0));
    assert_eq!(e.run("ZSCORE z a"), bulk("100"));
    assert_eq!(e.run("ZSCORE z f"), nil());
    assert_eq!(e.run("ZADD z CH 100 a 7 b"), int(1));
    assert_eq!(e.run("ZADD z GT CH 1 b 8 c"), int(1));
    assert_eq!(e.run("ZSCORE z b"), bulk("7"));
    assert_eq!(e.run("ZADD z LT CH 1 b 9 c"), int(1));
    assert_eq!(e.run("ZSCORE z b"), bulk("1"));
    assert_eq!(e.run("ZADD z INCR 2.5 b"), bulk("3.5"));
    assert_eq!(e.run("ZADD z NX INCR 1 b"), nil());
    assert_eq!(e.run("ZADD z XX INCR 1 nope"), nil());
    assert_eq!(e.run("ZADD z GT INCR -1 b"), nil());
    assert_eq!(e.run("ZINCRBY z 10 b"), bulk("13.5"));
    assert_eq!(e.run("ZINCRBY z 1 new"), bulk("1"));
    assert_eq!(
        e.run("ZINCRBY z x new"),
        err("ERR value is not a valid float")
    );
    assert_eq!(e.run("ZADD z x a"), err("ERR value is not a valid float"));
    assert_eq!(
        e.run("ZADD z 1"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(e.run("ZADD z NX 1"), err(SYNTAX));
    assert_eq!(e.run("ZADD z 1 a 2"), err(SYNTAX));
    assert_eq!(
        e.run("ZADD z NX XX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        e.run("ZADD z GT LT 1 a"),
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        e.run("ZADD z INCR 1 a 2 b"),
        err("ERR INCR option supports a single increment-element pair")
    );
    e.run("ZADD inf +inf m");
    assert_eq!(
        e.run("ZINCRBY inf -inf m"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(e.run("ZSCORE inf m"), bulk("inf"));
    assert_eq!(e.run("ZADD nothere XX 1 a"), int(0));
    assert_eq!(e.run("EXISTS nothere"), int(0));
    // Removal and pops.
    e.run("DEL z");
    e.run("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(e.run("ZREM z a nope"), int(1));
    assert_eq!(e.run("ZPOPMIN z"), bulks(&["b", "2"]));
    assert_eq!(e.run("ZPOPMAX z"), bulks(&["d", "4"]));
    assert_eq!(e.run("ZPOPMIN z 0"), bulks(&[]));
    assert_eq!(e.run("ZPOPMIN z 5"), bulks(&["c", "3"]));
    assert_eq!(e.run("EXISTS z"), int(0), "an emptied zset is deleted");
    assert_eq!(e.run("ZPOPMIN z"), bulks(&[]));
    assert_eq!(
        e.run("ZPOPMIN z -1"),
        err("ERR value is out of range, must be positive")
    );
    e.run("ZADD z 1 a");
    assert_eq!(e.run("ZREM z a"), int(1));
    assert_eq!(e.run("EXISTS z"), int(0));
    e.run("SET s v");
    for c in [
        "ZADD s 1 a",
        "ZINCRBY s 1 a",
        "ZREM s a",
        "ZSCORE s a",
        "ZCARD s",
        "ZRANK s a",
        "ZRANGE s 0 -1",
        "ZRANGE s 0 1 BYSCORE",
        "ZCOUNT s 0 1",
        "ZPOPMIN s",
    ] {
        assert_eq!(e.run(c), err(WRONGTYPE), "{c}");
    }
}

#[test]
fn wrongtype_across_all_types_changes_nothing() {
    let mut e = Env::new();
    e.run("SET str v");
    e.run("RPUSH list a");
    e.run("HSET hash f v");
    e.run("SADD set m");
    e.run("ZADD zset 1 m");
    let by_type: [(&str, &[&str]); 5] = [
        (
            "str",
            &[
                "GET {}",
                "INCR {}",
                "APPEND {} x",
                "STRLEN {}",
                "SET {} v GET",
            ],
        ),
        (
            "list",
            &[
                "LPUSH {} x",
                "LLEN {}",
                "LRANGE {} 0 -1",
                "LPOP {}",
                "LINDEX {} 0",
            ],
        ),
        (
            "hash",
            &[
                "HSET {} f v",
                "HGET {} f",
                "HGETALL {}",
                "HDEL {} f",
                "HINCRBY {} f 1",
            ],
        ),
        (
            "set",
            &[
                "SADD {} m",
                "SMEMBERS {}",
                "SPOP {}",
                "SREM {} m",
                "SCARD {}",
            ],
        ),
        (
            "zset",
            &[
                "ZADD {} 1 m",
                "ZRANGE {} 0 -1",
                "ZSCORE {} m",
                "ZPOPMIN {}",
                "ZREM {} m",
            ],
        ),
    ];
    let before = e.dump();
    for (own, _) in &by_type {
        for (other, commands) in &by_type {
            if own == other {
                continue;
            }
            for c in *commands {
                let line = c.replace("{}", own);
                let (r, logged) = e.logged(&line);
                assert_eq!(r, err(WRONGTYPE), "{line}");
                assert!(logged.is_empty(), "{line} logged {logged:?}");
            }
        }
    }
    assert_eq!(e.dump(), before);
}

// ---- the append-only log -----------------------------------------------------

/// With the append-only file off, writes encode no record at all (Part IV's
/// case study), yet reply exactly as when logging.
#[test]
fn a_log_that_is_off_records_nothing() {
    let hasher = &Hasher::default();
    let store_on: &mut Store = &mut db::new_store(hasher, 1);
    let store_off: &mut Store = &mut db::new_store(hasher, 1);
    let mut session = Session::new(1, "127.0.0.1:1", false);
    let ctx = Ctx {
        password: None,
        tunables: cmd::Tunables::new(),
    };
    let (mut on, mut off) = (cmd::Log::new(true), cmd::Log::new(false));
    for line in [
        "SET k v EX 100",
        "SADD s a b c",
        "SPOP s 2",
        "DEL k s nope",
        "RPUSH l x y",
        "INCR n",
        "ZADD z 1 m",
        "HSET h f v",
    ] {
        let args = split(line);
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let (a, _) = run_raw(store_on, hasher, &mut session, &ctx, &mut on, &refs);
        let (b, _) = run_raw(store_off, hasher, &mut session, &ctx, &mut off, &refs);
        if !line.starts_with("SPOP") {
            assert_eq!(a, b, "{line}: same reply with the log off");
        }
    }
    assert!(!on.is_empty());
    assert!(off.is_empty(), "an off log stays empty");
}

#[test]
fn what_writes_log() {
    let mut e = Env::new();
    let s = |v: &[&str]| -> Vec<Vec<String>> { vec![v.iter().map(|x| x.to_string()).collect()] };
    assert_eq!(e.logged("SET k v"), (ok(), s(&["SET", "k", "v"])));
    let before = now_ms();
    let (r, log) = e.logged("SET k v EX 10");
    let after = now_ms();
    assert_eq!(r, ok());
    assert_eq!(log.len(), 1);
    assert_eq!(log[0][..4], ["SET", "k", "v", "PXAT"]);
    let at: i64 = log[0][4].parse().unwrap();
    assert!((before + 10_000..=after + 10_000).contains(&at), "{at}");
    let (_, log) = e.logged("SET k v PX 500 NX");
    assert!(log.is_empty(), "NX on an existing key writes nothing");
    let (_, log) = e.logged("SET k v2 XX KEEPTTL");
    assert_eq!(log, s(&["SET", "k", "v2", "KEEPTTL"]));
    let (_, log) = e.logged("SET gone v XX");
    assert!(log.is_empty());
    let (_, log) = e.logged("SETNX k x");
    assert!(log.is_empty());
    let (_, log) = e.logged("SETEX k 100 v");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], ["SET", "k", "v"]);
    assert_eq!(log[1][..2], ["PEXPIREAT", "k"]);
    let at: i64 = log[1][2].parse().unwrap();
    assert!((at - (now_ms() + 100_000)).abs() < 1000);
    let (_, log) = e.logged("EXPIRE k 50");
    assert_eq!(log[0][..2], ["PEXPIREAT", "k"]);
    let (_, log) = e.logged("EXPIRE missing 50");
    assert!(log.is_empty());
    let (_, log) = e.logged("EXPIRE k 100 NX");
    assert!(log.is_empty(), "a refused EXPIRE logs nothing");
    let (_, log) = e.logged("PERSIST k");
    assert_eq!(log, s(&["PERSIST", "k"]));
    let (_, log) = e.logged("PERSIST k");
    assert!(log.is_empty());
    let (_, log) = e.logged("GETDEL k");
    assert_eq!(log, s(&["DEL", "k"]));
    let (_, log) = e.logged("DEL k");
    assert!(log.is_empty(), "DEL of a missing key logs nothing");
    e.run("MSET a 1 b 2");
    let (r, log) = e.logged("DEL a nope b");
    assert_eq!(r, int(2));
    assert_eq!(log, s(&["DEL", "a", "b"]), "only the keys that existed");
    e.run("SET t v");
    let (_, log) = e.logged("EXPIRE t -1");
    assert_eq!(log, s(&["DEL", "t"]));
    e.run("SADD s a b c");
    let (r, log) = e.logged("SPOP s");
    let Reply::Bulk(Some(m)) = r else { panic!() };
    assert_eq!(log, s(&["SREM", "s", std::str::from_utf8(&m).unwrap()]));
    let (r, log) = e.logged("SPOP s 5");
    let mut popped = sorted(r);
    let mut logged = log[0][2..].to_vec();
    assert_eq!(log[0][..2], ["SREM", "s"]);
    popped.sort();
    logged.sort();
    assert_eq!(popped, logged);
    let (_, log) = e.logged("SPOP s");
    assert!(log.is_empty());
    let (_, log) = e.logged("INCRBYFLOAT f 1.5");
    assert_eq!(log, s(&["SET", "f", "1.5", "KEEPTTL"]));
    let (_, log) = e.logged("INCR n");
    assert_eq!(log, s(&["INCR", "n"]));
    let (_, log) = e.logged("INCR f");
    assert!(log.is_empty(), "an error logs nothing");
    let (_, log) = e.logged("GET n");
    assert!(log.is_empty(), "a read logs nothing");
    let (_, log) = e.logged("SADD s2 a");
    assert_eq!(log, s(&["SADD", "s2", "a"]));
    let (_, log) = e.logged("SADD s2 a");
    assert!(log.is_empty(), "SADD of an existing member changes nothing");
    let (_, log) = e.logged("ZADD z 1 a");
    assert_eq!(log, s(&["ZADD", "z", "1", "a"]));
    let (_, log) = e.logged("ZADD z 1 a");
    assert!(log.is_empty());
    let (_, log) = e.logged("FLUSHDB");
    assert_eq!(log, s(&["FLUSHDB"]));
    let (_, log) = e.logged("FLUSHDB");
    assert!(log.is_empty(), "FLUSHDB of an empty shard logs nothing");
}

/// ~60 writes covering every write command, some of them no-ops or
/// errors; replaying the log into a fresh store must rebuild the data.
const SCRIPT: &[&str] = &[
    "SET s1 hello",
    "SET s2 world EX 1000",
    "SET s3 v PX 500000 NX",
    "SET s3 v2 XX KEEPTTL",
    "SET s4 v EXAT 99999999999",
    "SET s5 v PXAT 1",
    "SET s1 again GET",
    "SETNX s1 nope",
    "SETNX s6 yes",
    "SETEX s7 1000 v",
    "PSETEX s8 1000000 v",
    "MSET m1 1 m2 2 m3 3",
    "INCR c1",
    "INCRBY c1 41",
    "DECR c2",
    "DECRBY c2 10",
    "INCRBYFLOAT fl 0.1",
    "INCRBYFLOAT fl 0.2",
    "APPEND s1 \" tail\"",
    "SETRANGE s6 1 ES",
    "GETSET m1 one",
    "GETDEL m2",
    "DEL m3 nope",
    "UNLINK nope",
    "EXPIRE s1 1000",
    "PEXPIRE s6 1000000",
    "EXPIREAT s6 99999999999",
    "PEXPIREAT s7 99999999999999",
    "PERSIST s1",
    "EXPIRE c2 -1",
    "LPUSH l1 a b c d e",
    "RPUSH l1 f g",
    "LPUSHX l1 z",
    "RPUSHX nolist z",
    "LPOP l1",
    "RPOP l1 2",
    "LSET l1 0 first",
    "LREM l1 1 c",
    "LTRIM l1 0 2",
    "RPUSH l2 x",
    "LPOP l2",
    "HSET h1 a 1 b 2 c 3",
    "HMSET h1 d 4",
    "HSETNX h1 a nope",
    "HSETNX h1 e 5",
    "HDEL h1 b nope",
    "HINCRBY h1 a 10",
    "HINCRBYFLOAT h1 f 2.5",
    "SADD st a b c d e f",
    "SREM st a",
    "SPOP st",
    "SPOP st 2",
    "SADD st2 only",
    "SPOP st2",
    "ZADD z1 1 a 2 b 3 c 4 d 5 e",
    "ZADD z1 XX CH 10 a 20 nope",
    "ZADD z1 GT 1 b",
    "ZADD z1 INCR 0.5 c",
    "ZINCRBY z1 2 d",
    "ZREM z1 e",
    "ZPOPMIN z1",
    "ZPOPMAX z1",
    "ZADD z2 1 x",
    "ZPOPMIN z2",
    "LPUSH s1 wrongtype",
    "SET tmp v",
    "DEL tmp",
];

fn replay(log: &[u8]) -> Env {
    let mut fresh = Env::new();
    for command in parse_log(log) {
        let refs: Vec<&[u8]> = command.iter().map(|a| a.as_slice()).collect();
        let (r, _) = fresh.args(&refs);
        assert!(
            !matches!(r, Reply::Error(_)),
            "replay of {command:?}: {r:?}"
        );
    }
    fresh
}

#[test]
fn replaying_the_log_rebuilds_the_data() {
    let mut e = Env::new();
    for line in SCRIPT {
        e.run(line);
    }
    let keys: Vec<String> = e
        .dump()
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert_eq!(keys.len(), 14, "{keys:?}");
    let mut copy = replay(e.log.bytes());
    let (a, b) = (e.dump(), copy.dump());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, (va, ta)) in &a {
        let (vb, tb) = &b[k];
        assert_eq!(va, vb, "{}", String::from_utf8_lossy(k));
        assert_eq!(ta, tb, "TTL presence of {}", String::from_utf8_lossy(k));
    }
    // And the TTLs agree to within clock noise.
    for k in a.keys() {
        let key = String::from_utf8(k.clone()).unwrap();
        let (Reply::Int(x), Reply::Int(y)) = (
            e.run(&format!("PEXPIRETIME {key}")),
            copy.run(&format!("PEXPIRETIME {key}")),
        ) else {
            panic!()
        };
        assert!((x - y).abs() <= 5, "{key}: {x} vs {y}");
    }
    // Replaying the replay's own log gives the same data again.
    let again = replay(copy.log.bytes()).dump();
    assert_eq!(again.len(), a.len());
}

#[test]
fn replay_after_flush_and_expiry() {
    let mut e = Env::new();
    e.run("SET a 1");
    e.run("SET b 2 PX 30");
    e.run("FLUSHALL");
    e.run("SET c 3");
    e.run("SET d 4 PX 30");
    std::thread::sleep(Duration::from_millis(60));
    let mut copy = replay(e.log.bytes());
    assert_eq!(copy.run("GET a"), nil());
    assert_eq!(copy.run("GET c"), bulk("3"));
    assert_eq!(copy.run("GET d"), nil(), "absolute expiry: still expired");
}

// ---- connection commands -------------------------------------------------------

#[test]
fn ping_echo_select_time_quit_shutdown() {
    let mut e = Env::new();
    assert_eq!(e.run("PING"), simple("PONG"));
    assert_eq!(e.run("PING hi"), bulk("hi"));
    assert_eq!(
        e.run("PING a b"),
        err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(e.run("ECHO hello"), bulk("hello"));
    assert_eq!(e.run("SELECT 0"), ok());
    assert_eq!(e.run("SELECT 1"), err("ERR DB index is out of range"));
    assert_eq!(e.run("SELECT x"), err(NOT_INT));
    let Reply::Array(Some(t)) = e.run("TIME") else {
        panic!()
    };
    assert_eq!(t.len(), 2);
    assert_eq!(e.args(&[b"QUIT"]), (ok(), After::Close));
    assert_eq!(e.args(&[b"SHUTDOWN"]).1, After::Shutdown);
    assert_eq!(e.args(&[b"SHUTDOWN", b"NOSAVE"]).1, After::Shutdown);
    assert_eq!(e.run("SHUTDOWN BOGUS"), err(SYNTAX));
    assert_eq!(e.run("SHUTDOWN SAVE NOSAVE"), err(SYNTAX));
    assert_eq!(e.run("SHUTDOWN ABORT"), err("ERR No shutdown in progress."));
}

#[test]
fn auth_and_the_gate() {
    let mut e = Env::with_password(Some("secret"));
    assert_eq!(e.run("GET k"), err("NOAUTH Authentication required."));
    assert_eq!(e.run("PING"), err("NOAUTH Authentication required."));
    assert_eq!(
        e.run("AUTH wrong"),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        e.run("AUTH bob secret"),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(e.run("AUTH a b c"), err(SYNTAX));
    assert_eq!(
        e.run("HELLO 2"),
        err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
        )
    );
    assert_eq!(e.run("AUTH secret"), ok());
    assert_eq!(e.run("GET k"), nil());
    let mut e = Env::with_password(Some("secret"));
    assert_eq!(e.run("AUTH default secret"), ok());
    assert_eq!(e.run("PING"), simple("PONG"));
    let mut e = Env::with_password(Some("secret"));
    let Reply::Array(Some(_)) = e.run("HELLO 2 AUTH default secret") else {
        panic!()
    };
    assert!(e.session.authenticated);
    // No password configured.
    let mut e = Env::new();
    assert_eq!(
        e.run("AUTH x"),
        err(
            "ERR AUTH <password> called without any password configured for the default \
             user. Are you sure your configuration is correct?"
        )
    );
    assert_eq!(e.run("AUTH default anything"), ok());
    assert_eq!(e.args(&[b"QUIT"]).1, After::Close);
}

#[test]
fn hello() {
    let mut e = Env::new();
    let expected = arr(vec![
        bulk("server"),
        bulk("redis"),
        bulk("version"),
        bulk("7.0.0"),
        bulk("proto"),
        int(2),
        bulk("id"),
        int(7),
        bulk("mode"),
        bulk("standalone"),
        bulk("role"),
        bulk("master"),
        bulk("modules"),
        arr(vec![]),
    ]);
    assert_eq!(e.run("HELLO"), expected);
    assert_eq!(e.run("HELLO 2"), expected);
    // HELLO 3 switches the session to RESP3; the connection reshapes this
    // reply into a map (tests/resp3.rs checks the bytes on the wire).
    let mut three = expected.clone();
    if let Reply::Array(Some(items)) = &mut three {
        items[5] = int(3);
    }
    assert_eq!(e.run("HELLO 3"), three);
    assert_eq!(e.run("HELLO 2"), expected);
    assert_eq!(
        e.run("HELLO 1"),
        err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        e.run("HELLO x"),
        err("ERR Protocol version is not an integer or out of range")
    );
    assert_eq!(
        e.run("HELLO 2 BOGUS"),
        err("ERR Syntax error in HELLO option 'BOGUS'")
    );
    assert_eq!(e.run("HELLO 2 SETNAME myconn"), expected);
    assert_eq!(e.run("CLIENT GETNAME"), bulk("myconn"));
}

#[test]
fn client_subcommands() {
    let mut e = Env::new();
    assert_eq!(e.run("CLIENT ID"), int(7));
    assert_eq!(e.run("CLIENT GETNAME"), nil());
    assert_eq!(e.run("CLIENT SETNAME app"), ok());
    assert_eq!(e.run("CLIENT GETNAME"), bulk("app"));
    assert_eq!(
        e.run("CLIENT SETNAME \"a b\""),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(e.run("CLIENT SETNAME \"\""), ok());
    assert_eq!(e.run("CLIENT GETNAME"), nil());
    assert_eq!(e.run("CLIENT SETINFO LIB-NAME redis-py"), ok());
    assert_eq!(e.run("client setinfo lib-ver 5.0"), ok());
    assert_eq!(
        e.run("CLIENT SETINFO bogus x"),
        err("ERR Unrecognized option 'bogus'")
    );
    let Reply::Bulk(Some(info)) = e.run("CLIENT INFO") else {
        panic!()
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.starts_with("id=7 addr=127.0.0.1:5555 "), "{info}");
    assert!(info.contains(" lib-name=redis-py lib-ver=5.0"), "{info}");
    assert!(info.ends_with('\n'));
    let Reply::Bulk(Some(list)) = e.run("CLIENT LIST") else {
        panic!()
    };
    assert_eq!(list.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(e.run("CLIENT LIST ID 99"), bulk(""));
    assert_eq!(e.run("CLIENT NO-EVICT on"), ok());
    assert_eq!(e.run("CLIENT NO-TOUCH off"), ok());
    assert_eq!(e.run("CLIENT NO-EVICT maybe"), err(SYNTAX));
    assert_eq!(
        e.run("CLIENT FOO"),
        err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
    assert_eq!(
        e.run("CLIENT SETNAME"),
        err("ERR wrong number of arguments for 'client|setname' command")
    );
    assert_eq!(
        e.run("CLIENT"),
        err("ERR wrong number of arguments for 'client' command")
    );
    let Reply::Array(Some(help)) = e.run("CLIENT HELP") else {
        panic!()
    };
    assert!(help.len() > 5);
}

#[test]
fn info_and_config() {
    let mut e = Env::new();
    let Reply::Bulk(Some(info)) = e.run("INFO") else {
        panic!()
    };
    let info = String::from_utf8(info).unwrap();
    assert!(
        info.starts_with("# Server\r\nredis_version:7.0.0\r\n"),
        "{info}"
    );
    assert!(info.contains("redis_mode:standalone\r\n"));
    assert!(info.contains("tcp_port:6379\r\n"));
    assert!(info.contains("\r\n\r\n# Clients\r\nconnected_clients:3\r\n"));
    assert!(info.contains("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"));
    assert!(info.contains("total_commands_processed:7"));
    let Reply::Bulk(Some(server)) = e.run("INFO server") else {
        panic!()
    };
    let server = String::from_utf8(server).unwrap();
    assert!(server.starts_with("# Server\r\n"));
    assert!(!server.contains("# Clients"));
    let Reply::Bulk(Some(two)) = e.run("INFO CLIENTS keyspace") else {
        panic!()
    };
    let two = String::from_utf8(two).unwrap();
    assert!(two.starts_with("# Clients\r\n") && two.contains("# Keyspace"));
    assert_eq!(e.run("INFO nosuchsection"), bulk(""));

    assert_eq!(e.run("CONFIG GET maxmemory"), bulks(&["maxmemory", "0"]));
    assert_eq!(
        e.run("CONFIG GET MAXMEM*"),
        bulks(&[
            "maxmemory",
            "0",
            "maxmemory-policy",
            "noeviction",
            "maxmemory-samples",
            "5",
            "maxmemory-eviction-tenacity",
            "10"
        ])
    );
    assert_eq!(
        e.run("CONFIG GET port maxmemory port"),
        bulks(&["port", "6379", "maxmemory", "0"])
    );
    assert_eq!(e.run("CONFIG GET nosuch"), bulks(&[]));
    assert_eq!(
        e.run("CONFIG SET nosuch 1"),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(e.run("CONFIG SET appendonly no"), ok());
    assert_eq!(
        e.run("CONFIG SET appendonly yes"),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - can't set immutable config"
        )
    );
    // An odd count passes the arity (-4) and is Redis 7.0's syntax error.
    assert_eq!(e.run("CONFIG SET appendonly no port"), err(SYNTAX));
    assert_eq!(
        e.run("SELECT 99999999999"),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    assert_eq!(e.run("CONFIG RESETSTAT"), ok());
    assert_eq!(
        e.run("CONFIG BOGUS"),
        err("ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.")
    );
    assert_eq!(
        e.run("CONFIG GET"),
        err("ERR wrong number of arguments for 'config|get' command")
    );
}

#[test]
fn command_introspection() {
    let mut e = Env::new();
    assert_eq!(e.run("COMMAND COUNT"), int(cmd::table().len() as i64));
    let Reply::Array(Some(all)) = e.run("COMMAND") else {
        panic!()
    };
    assert_eq!(all.len(), cmd::table().len());
    let Reply::Array(Some(info)) = e.run("COMMAND INFO get mset nosuch") else {
        panic!()
    };
    let Reply::Array(Some(get)) = &info[0] else {
        panic!()
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], int(2));
    assert_eq!(get[2], arr(vec![simple("readonly"), simple("fast")]));
    assert_eq!(get[3..6], [int(1), int(1), int(1)]);
    assert_eq!(
        get[6],
        arr(vec![simple("@read"), simple("@string"), simple("@fast")])
    );
    let Reply::Array(Some(mset)) = &info[1] else {
        panic!()
    };
    assert_eq!(mset[1], int(-3));
    assert_eq!(mset[3..6], [int(1), int(-1), int(2)]);
    assert_eq!(info[2], nil());
    let Reply::Array(Some(client)) = e.run("COMMAND INFO client") else {
        panic!()
    };
    let Reply::Array(Some(client)) = &client[0] else {
        panic!()
    };
    let Reply::Array(Some(subs)) = &client[9] else {
        panic!()
    };
    assert!(subs.len() >= 8);
    let Reply::Array(Some(docs)) = e.run("COMMAND DOCS get") else {
        panic!()
    };
    assert_eq!(docs[0], bulk("get"));
    assert_eq!(
        docs[1],
        arr(vec![
            bulk("summary"),
            bulk("Returns the string value of a key."),
            bulk("since"),
            bulk("1.0.0"),
            bulk("group"),
            bulk("string"),
            bulk("complexity"),
            bulk("O(1)"),
        ])
    );
    let Reply::Array(Some(all_docs)) = e.run("COMMAND DOCS") else {
        panic!()
    };
    assert_eq!(all_docs.len(), cmd::table().len() * 2);
    let Reply::Array(Some(list)) = e.run("COMMAND LIST") else {
        panic!()
    };
    assert!(list.contains(&bulk("client|setname")));
    assert_eq!(e.run("COMMAND GETKEYS MSET a 1 b 2"), bulks(&["a", "b"]));
    assert_eq!(e.run("COMMAND GETKEYS GET k"), bulks(&["k"]));
    assert_eq!(
        e.run("COMMAND GETKEYS PING"),
        err("ERR The command has no key arguments")
    );
    assert_eq!(
        e.run("COMMAND BOGUS"),
        err("ERR unknown subcommand 'BOGUS'. Try COMMAND HELP.")
    );
}

// ---- GETEX, LINSERT, LPOS, ZREMRANGEBY*, OBJECT, CONFIG SET ----------------
//
// Their replies are compared with redis-server's in tests/differential.rs;
// here: what each write logs, and that the log replays to the same data.

#[test]
fn getex_logs_what_it_did_never_itself() {
    let mut e = Env::new();
    let s = |v: &[&str]| -> Vec<Vec<String>> { vec![v.iter().map(|x| x.to_string()).collect()] };
    e.run("SET k v");
    assert_eq!(
        e.logged("GETEX k"),
        (bulk("v"), vec![]),
        "a read logs nothing"
    );
    assert_eq!(e.logged("GETEX nosuch PX 100"), (nil(), vec![]));
    assert_eq!(
        e.logged("GETEX k PERSIST"),
        (bulk("v"), vec![]),
        "no TTL to remove: nothing changed"
    );
    let before = now_ms();
    let (r, log) = e.logged("GETEX k PX 100000");
    let after = now_ms();
    assert_eq!(r, bulk("v"));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0][..2], ["PEXPIREAT", "k"]);
    let at: i64 = log[0][2].parse().unwrap();
    assert!((before + 100_000..=after + 100_000).contains(&at), "{at}");
    let secs = now_ms() / 1000 + 1000;
    let (_, log) = e.logged(&format!("GETEX k EXAT {secs}"));
    assert_eq!(log, s(&["PEXPIREAT", "k", &(secs * 1000).to_string()]));
    assert_eq!(
        e.logged("GETEX k PERSIST"),
        (bulk("v"), s(&["PERSIST", "k"]))
    );
    assert_eq!(e.run("PTTL k"), int(-1));
    assert_eq!(
        e.logged("GETEX k PXAT 1"),
        (bulk("v"), s(&["DEL", "k"])),
        "a time already past deletes the key"
    );
    assert_eq!(e.run("EXISTS k"), int(0));
    e.run("SET k v");
    for (line, want) in [
        ("GETEX k EX", err(SYNTAX)),
        ("GETEX k EX 10 PERSIST", err(SYNTAX)),
        ("GETEX k EX abc", err(NOT_INT)),
        (
            "GETEX k EX 0",
            err("ERR invalid expire time in 'getex' command"),
        ),
        ("GETEX nosuch EX abc", nil()),
    ] {
        assert_eq!(e.logged(line), (want, vec![]), "{line}");
    }
    e.run("RPUSH l a");
    assert_eq!(e.logged("GETEX l EX 10"), (err(WRONGTYPE), vec![]));
}

#[test]
fn linsert_lpos_and_zremrange_log_verbatim_only_when_they_change_something() {
    let mut e = Env::new();
    let s = |v: &[&str]| -> Vec<Vec<String>> { vec![v.iter().map(|x| x.to_string()).collect()] };
    e.run("RPUSH l a b c b");
    assert_eq!(
        e.logged("LINSERT l BEFORE b X"),
        (int(5), s(&["LINSERT", "l", "BEFORE", "b", "X"]))
    );
    assert_eq!(e.logged("LINSERT l AFTER nosuch X"), (int(-1), vec![]));
    assert_eq!(e.logged("LINSERT nosuch AFTER a X"), (int(0), vec![]));
    assert_eq!(e.logged("LINSERT l MIDDLE a X"), (err(SYNTAX), vec![]));
    assert_eq!(e.run("LRANGE l 0 -1"), bulks(&["a", "X", "b", "c", "b"]));
    assert_eq!(e.logged("LPOS l b"), (int(2), vec![]), "LPOS only reads");
    assert_eq!(e.run("LPOS l b RANK -1"), int(4));
    assert_eq!(e.run("LPOS l b COUNT 0"), arr(vec![int(2), int(4)]));
    assert_eq!(e.run("LPOS l b COUNT 0 MAXLEN 3"), arr(vec![int(2)]));
    assert_eq!(e.run("LPOS nosuch b COUNT 1"), arr(vec![]));
    assert_eq!(
        e.run("LPOS l b COUNT -1"),
        err("ERR COUNT can't be negative")
    );

    e.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(
        e.logged("ZREMRANGEBYSCORE z (1 2"),
        (int(1), s(&["ZREMRANGEBYSCORE", "z", "(1", "2"]))
    );
    assert_eq!(e.logged("ZREMRANGEBYSCORE z 10 20"), (int(0), vec![]));
    assert_eq!(
        e.logged("ZREMRANGEBYRANK z -1 -1"),
        (int(1), s(&["ZREMRANGEBYRANK", "z", "-1", "-1"]))
    );
    assert_eq!(e.logged("ZREMRANGEBYRANK z 5 9"), (int(0), vec![]));
    e.run("ZADD y 0 a 0 b 0 c");
    assert_eq!(
        e.logged("ZREMRANGEBYLEX y [a (c"),
        (int(2), s(&["ZREMRANGEBYLEX", "y", "[a", "(c"]))
    );
    assert_eq!(
        e.logged("ZREMRANGEBYLEX y a b"),
        (err("ERR min or max not valid string range item"), vec![])
    );
    assert_eq!(e.run("ZRANGE z 0 -1"), bulks(&["a", "c", "d"]));
    assert_eq!(e.logged("ZREMRANGEBYRANK z 0 -1").0, int(3));
    assert_eq!(
        e.run("EXISTS z"),
        int(0),
        "an emptied sorted set is deleted"
    );

    // A log of these writes replays to the same data.
    let mut f = Env::new();
    for line in [
        "RPUSH l a b c b",
        "LINSERT l BEFORE b X",
        "LINSERT l AFTER b Y",
        "ZADD z 1 a 2 b 3 c 4 d 5 e",
        "ZREMRANGEBYSCORE z (1 2",
        "ZREMRANGEBYRANK z -1 -1",
        "ZADD y 0 a 0 b 0 c",
        "ZREMRANGEBYLEX y [a (c",
        "SET k v",
        "GETEX k PX 100000",
        "SET p v EX 100",
        "GETEX p PERSIST",
        "SET d v",
        "GETEX d EXAT 1",
    ] {
        f.run(line);
    }
    let copy = replay(f.log.bytes()).dump();
    assert_eq!(copy, f.dump());
}

#[test]
fn sorted_set_scores_read_as_redis_7_0_writes_them() {
    let mut e = Env::new();
    assert_eq!(e.run("ZINCRBY z 0.1 a"), bulk("0.10000000000000001"));
    assert_eq!(e.run("ZADD z 1e20 b -0 c"), int(2));
    assert_eq!(
        e.run("ZRANGE z 0 -1 WITHSCORES"),
        bulks(&["c", "0", "a", "0.10000000000000001", "b", "1e+20"])
    );
}

#[test]
fn object_encoding_names_the_real_representation() {
    let mut e = Env::new();
    e.run("SET s 12345");
    e.run("RPUSH l a");
    e.run("HSET h f v");
    e.run("SADD set 1");
    e.run("ZADD z 1 a");
    for (key, name) in [
        ("s", "raw"),
        ("l", "vecdeque"),
        ("h", "hashtable"),
        ("set", "hashtable"),
        ("z", "btree"),
    ] {
        assert_eq!(
            e.run(&format!("OBJECT ENCODING {key}")),
            bulk(name),
            "{key}"
        );
    }
    assert_eq!(e.run("object encoding nosuch"), nil());
    assert_eq!(
        e.run("OBJECT ENCODING"),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        e.run("OBJECT FREQ s"),
        err("ERR unknown subcommand 'FREQ'. Try OBJECT HELP.")
    );
    let Reply::Array(Some(help)) = e.run("OBJECT HELP") else {
        panic!()
    };
    assert_eq!(help.len(), 6);
    assert_eq!(e.run("COMMAND GETKEYS OBJECT ENCODING k"), bulks(&["k"]));
    let object = cmd::lookup(b"object").unwrap();
    assert_eq!(
        object.routing_key(&[b"OBJECT", b"ENCODING", b"k"]),
        b"k",
        "routed by its key, not by the subcommand"
    );
    assert_eq!(object.routing_key(&[b"OBJECT", b"HELP"]), b"HELP");
}

#[test]
fn config_set_stores_redis_tuning_parameters() {
    let mut e = Env::new();
    assert_eq!(
        e.run("CONFIG GET hash-max-listpack-entries"),
        bulks(&["hash-max-listpack-entries", "512"])
    );
    assert_eq!(e.run("CONFIG SET hash-max-ziplist-entries 100"), ok());
    assert_eq!(
        e.run("CONFIG GET HASH-MAX-LISTPACK-ENTRIES"),
        bulks(&["HASH-MAX-LISTPACK-ENTRIES", "100"]),
        "an exact name is answered as written; the alias shares the value"
    );
    assert_eq!(e.run("CONFIG SET maxmemory 100mb"), ok());
    assert_eq!(
        e.run("CONFIG GET maxmemory"),
        bulks(&["maxmemory", "104857600"])
    );
    assert_eq!(
        e.run("CONFIG SET maxmemory 1 maxmemory-policy bogus"),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        )
    );
    assert_eq!(
        e.run("CONFIG GET maxmemory"),
        bulks(&["maxmemory", "104857600"]),
        "a failed CONFIG SET changes nothing"
    );
    // Redis 7.2's set parameters (redis-server 7.0 does not have them).
    assert_eq!(
        e.run("CONFIG GET set-max-listpack-*"),
        bulks(&[
            "set-max-listpack-entries",
            "128",
            "set-max-listpack-value",
            "64"
        ])
    );
    assert_eq!(e.run("CONFIG SET set-max-listpack-value 1kb"), ok());
    assert_eq!(
        e.run("CONFIG GET set-max-listpack-value"),
        bulks(&["set-max-listpack-value", "1024"])
    );
    assert_eq!(
        e.run("CONFIG SET maxmemory 1 MAXMEMORY 2"),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter"
        )
    );
    assert_eq!(
        e.run("CONFIG SET maxmemory x nosuch 1"),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(
        e.run("CONFIG SET lazyfree-lazy-eviction maybe"),
        err(
            "ERR CONFIG SET failed (possibly related to argument 'lazyfree-lazy-eviction') - argument must be 'yes' or 'no'"
        )
    );
}
