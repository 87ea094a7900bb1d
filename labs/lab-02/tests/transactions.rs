//! MULTI/EXEC/DISCARD/WATCH/UNWATCH over TCP, one test per rule of Redis's,
//! each against every model. The servers run with three cores (three
//! shards for task-per-connection), and the transactions use many keys,
//! so their keys land on different cores and shards: the cross-core step
//! and the ordered shard locking are what these tests exercise.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{ServerProc, for_each_model};
use lab_02::client::Client;
use lab_02::resp::Frame;

/// Three cores for thread-per-core, four shards for task-per-connection
/// (the event loop ignores both).
const SPLIT: &[&str] = &["--threads", "3", "--shards", "4"];

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

fn queued() -> Frame {
    Frame::Simple("QUEUED".into())
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Some(s.as_bytes().to_vec()))
}

fn err(s: &str) -> Frame {
    Frame::Error(s.into())
}

fn run(c: &mut Client, line: &str) -> Frame {
    c.cmd_str(line).unwrap()
}

/// Keys `prefix0 … prefix{n-1}`: with 16 of them, every core and shard
/// holds some.
fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn queued_commands_reply_in_order_at_exec() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        assert_eq!(run(&mut c, "MULTI"), ok(), "[{model}]");
        let ks = keys("k", 16);
        for k in &ks {
            assert_eq!(run(&mut c, &format!("SET {k} {k}")), queued(), "[{model}]");
        }
        assert_eq!(run(&mut c, "PING"), queued(), "[{model}]");
        assert_eq!(run(&mut c, &format!("MGET {}", ks.join(" "))), queued());
        let Frame::Array(Some(replies)) = run(&mut c, "EXEC") else {
            panic!("[{model}] EXEC did not answer an array")
        };
        assert_eq!(replies.len(), 18, "[{model}]");
        assert!(
            replies[..16].iter().all(|r| *r == ok()),
            "[{model}] {replies:?}"
        );
        assert_eq!(replies[16], Frame::Simple("PONG".into()), "[{model}]");
        let want = Frame::Array(Some(ks.iter().map(|k| bulk(k)).collect()));
        assert_eq!(replies[17], want, "[{model}]");
        s.assert_healthy();
    });
}

#[test]
fn a_queuing_error_aborts_exec_and_changes_nothing() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        for bad in ["NOSUCHCOMMAND x", "GET", "SHUTDOWN"] {
            assert_eq!(run(&mut c, "MULTI"), ok());
            assert_eq!(run(&mut c, "SET a 1"), queued());
            let reply = run(&mut c, bad);
            assert!(
                matches!(reply, Frame::Error(_)),
                "[{model}] {bad}: {reply:?}"
            );
            assert_eq!(run(&mut c, "SET b 1"), queued(), "[{model}] after {bad}");
            assert_eq!(
                run(&mut c, "EXEC"),
                err("EXECABORT Transaction discarded because of previous errors."),
                "[{model}] {bad}"
            );
            assert_eq!(
                run(&mut c, "EXISTS a b"),
                Frame::Integer(0),
                "[{model}] {bad}"
            );
        }
        assert_eq!(
            run(&mut c, "MULTI"),
            ok(),
            "[{model}] a new transaction after EXECABORT"
        );
        assert_eq!(run(&mut c, "SET a 1"), queued());
        assert_eq!(run(&mut c, "EXEC"), Frame::Array(Some(vec![ok()])));
    });
}

#[test]
fn a_runtime_error_is_one_reply_and_the_rest_still_run() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        run(&mut c, "SET s text");
        run(&mut c, "MULTI");
        run(&mut c, "INCR s");
        run(&mut c, "LPUSH s x");
        run(&mut c, "SET t 2");
        assert_eq!(
            run(&mut c, "EXEC"),
            Frame::Array(Some(vec![
                err("ERR value is not an integer or out of range"),
                err("WRONGTYPE Operation against a key holding the wrong kind of value"),
                ok(),
            ])),
            "[{model}]"
        );
        assert_eq!(run(&mut c, "GET t"), bulk("2"), "[{model}]");
    });
}

#[test]
fn discard_and_the_misplaced_commands() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        assert_eq!(run(&mut c, "EXEC"), err("ERR EXEC without MULTI"));
        assert_eq!(run(&mut c, "DISCARD"), err("ERR DISCARD without MULTI"));
        assert_eq!(run(&mut c, "MULTI"), ok());
        assert_eq!(
            run(&mut c, "MULTI"),
            err("ERR MULTI calls can not be nested")
        );
        assert_eq!(
            run(&mut c, "WATCH a"),
            err("ERR WATCH inside MULTI is not allowed")
        );
        assert_eq!(run(&mut c, "SET a 1"), queued());
        assert_eq!(run(&mut c, "DISCARD"), ok(), "[{model}]");
        assert_eq!(
            run(&mut c, "GET a"),
            Frame::Bulk(None),
            "[{model}] discarded"
        );
        assert_eq!(run(&mut c, "EXEC"), err("ERR EXEC without MULTI"));
        // Neither nesting nor WATCH inside MULTI fails the transaction.
        run(&mut c, "MULTI");
        run(&mut c, "MULTI");
        run(&mut c, "SET a 1");
        assert_eq!(run(&mut c, "EXEC"), Frame::Array(Some(vec![ok()])));
    });
}

#[test]
fn a_watched_key_written_by_another_client_aborts_exec() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let (mut c, mut other) = (s.client(), s.client());
        // Watch sixteen keys (every core and shard has some), then another
        // client writes each in turn: every EXEC must abort.
        let ks = keys("w", 16);
        for k in &ks {
            assert_eq!(run(&mut c, &format!("WATCH {}", ks.join(" "))), ok());
            assert_eq!(run(&mut other, &format!("SET {k} changed")), ok());
            run(&mut c, "MULTI");
            run(&mut c, "SET result mine");
            assert_eq!(
                run(&mut c, "EXEC"),
                Frame::Array(None),
                "[{model}] {k} changed by another client"
            );
        }
        assert_eq!(run(&mut c, "GET result"), Frame::Bulk(None), "[{model}]");
        // Unchanged: it runs.
        run(&mut c, &format!("WATCH {}", ks.join(" ")));
        run(&mut c, "MULTI");
        run(&mut c, "SET result mine");
        assert_eq!(run(&mut c, "EXEC"), Frame::Array(Some(vec![ok()])));
        s.assert_healthy();
    });
}

#[test]
fn every_kind_of_write_counts_and_reads_do_not() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let (mut c, mut other) = (s.client(), s.client());
        let writes = [
            "SET k 2",
            "DEL k",
            "EXPIRE k 100",
            "RENAME k elsewhere",
            "FLUSHALL",
            "MSET a 1 k 3",
        ];
        for write in writes {
            run(&mut other, "SET k 1");
            run(&mut c, "WATCH k");
            run(&mut other, write);
            run(&mut c, "MULTI");
            run(&mut c, "PING");
            assert_eq!(run(&mut c, "EXEC"), Frame::Array(None), "[{model}] {write}");
        }
        // A write that changes nothing, and reads, leave EXEC alone.
        for harmless in ["GET k", "EXISTS k", "DEL nothing", "TTL k", "SREM k x"] {
            run(&mut other, "SET k 1");
            run(&mut c, "WATCH k");
            let _ = run(&mut other, harmless);
            run(&mut c, "MULTI");
            run(&mut c, "PING");
            assert_eq!(
                run(&mut c, "EXEC"),
                Frame::Array(Some(vec![Frame::Simple("PONG".into())])),
                "[{model}] {harmless}"
            );
        }
        // The client's own write counts too; UNWATCH forgets.
        run(&mut c, "WATCH k");
        run(&mut c, "SET k mine");
        run(&mut c, "MULTI");
        run(&mut c, "PING");
        assert_eq!(
            run(&mut c, "EXEC"),
            Frame::Array(None),
            "[{model}] own write"
        );
        run(&mut c, "WATCH k");
        run(&mut other, "SET k theirs");
        assert_eq!(run(&mut c, "UNWATCH"), ok());
        run(&mut c, "MULTI");
        run(&mut c, "PING");
        assert!(
            matches!(run(&mut c, "EXEC"), Frame::Array(Some(_))),
            "[{model}] after UNWATCH"
        );
        // EXEC (and DISCARD) unwatch: a later transaction is not affected.
        run(&mut c, "WATCH k");
        run(&mut c, "MULTI");
        run(&mut c, "DISCARD");
        run(&mut other, "SET k again");
        run(&mut c, "MULTI");
        run(&mut c, "PING");
        assert!(
            matches!(run(&mut c, "EXEC"), Frame::Array(Some(_))),
            "[{model}]"
        );
    });
}

/// Writers move a counter up in 64 keys spread over every core and
/// shard, in one transaction each; readers read all of them in one
/// transaction and must never see them differ. Without atomicity across
/// parts a reader catches a transaction half applied (checked: locking
/// each command's shard on its own, instead of all of them for the
/// transaction, fails this test in a few seconds; with eight keys it did
/// not, the window was too short).
#[test]
fn transactions_across_cores_and_shards_are_atomic() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let ks = keys("n", 64);
        let incr_all: Vec<String> = ks.iter().map(|k| format!("INCR {k}")).collect();
        let get_all = format!("MGET {}", ks.join(" "));
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let mut c = s.client();
                    let incr_all = &incr_all;
                    scope.spawn(move || {
                        for _ in 0..300 {
                            run(&mut c, "MULTI");
                            for line in incr_all {
                                assert_eq!(run(&mut c, line), queued());
                            }
                            let Frame::Array(Some(r)) = run(&mut c, "EXEC") else {
                                panic!("[{model}] EXEC failed")
                            };
                            assert_eq!(r.len(), 64);
                        }
                    })
                })
                .collect();
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let mut c = s.client();
                    let (get_all, done) = (&get_all, &done);
                    scope.spawn(move || {
                        let mut reads = 0;
                        while !done.load(Ordering::Relaxed) || reads < 50 {
                            run(&mut c, "MULTI");
                            run(&mut c, get_all);
                            let Frame::Array(Some(r)) = run(&mut c, "EXEC") else {
                                panic!("[{model}] EXEC failed")
                            };
                            let Frame::Array(Some(values)) = &r[0] else {
                                panic!("[{model}] MGET inside EXEC: {r:?}")
                            };
                            if !values.windows(2).all(|w| w[0] == w[1]) {
                                let seen: Vec<String> = values
                                    .iter()
                                    .map(|v| match v {
                                        Frame::Bulk(Some(b)) => {
                                            String::from_utf8_lossy(b).into_owned()
                                        }
                                        other => format!("{other:?}"),
                                    })
                                    .collect();
                                panic!("[{model}] a transaction seen half done: {seen:?}");
                            }
                            reads += 1;
                        }
                        reads
                    })
                })
                .collect();
            // The writers end on their own; then the readers stop.
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            for r in readers {
                assert!(r.join().unwrap() >= 50);
            }
        });
        let mut c = s.client();
        assert_eq!(
            run(&mut c, &get_all),
            Frame::Array(Some(vec![bulk("600"); 64])),
            "[{model}] every increment applied once"
        );
        s.assert_healthy();
    });
}

#[test]
fn multi_key_commands_across_parts() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        // Sixteen renames, from and to keys all over the keyspace.
        for (i, k) in keys("src", 16).iter().enumerate() {
            run(&mut c, &format!("SET {k} v{i}"));
            run(&mut c, &format!("EXPIRE {k} 1000"));
            assert_eq!(
                run(&mut c, &format!("RENAME {k} dst{i}")),
                ok(),
                "[{model}]"
            );
            assert_eq!(run(&mut c, &format!("GET dst{i}")), bulk(&format!("v{i}")));
            let Frame::Integer(ttl) = run(&mut c, &format!("TTL dst{i}")) else {
                panic!("TTL")
            };
            assert!((990..=1000).contains(&ttl), "[{model}] TTL moved: {ttl}");
            assert_eq!(run(&mut c, &format!("EXISTS {k}")), Frame::Integer(0));
        }
        assert_eq!(run(&mut c, "RENAME nothing x"), err("ERR no such key"));
        for i in 0..16 {
            run(&mut c, &format!("SADD set{i} m{i} common"));
        }
        let all: Vec<String> = (0..16).map(|i| format!("set{i}")).collect();
        assert_eq!(
            run(&mut c, &format!("SUNIONSTORE union {}", all.join(" "))),
            Frame::Integer(17),
            "[{model}]"
        );
        assert_eq!(
            run(&mut c, &format!("SINTER {}", all.join(" "))),
            Frame::Array(Some(vec![bulk("common")])),
            "[{model}]"
        );
        assert_eq!(run(&mut c, "SMOVE set0 set9 m0"), Frame::Integer(1));
        assert_eq!(run(&mut c, "SISMEMBER set9 m0"), Frame::Integer(1));
        assert_eq!(run(&mut c, "COPY set9 copy9"), Frame::Integer(1));
        assert_eq!(run(&mut c, "SCARD copy9"), Frame::Integer(3));
        s.assert_healthy();
    });
}

/// A client that disconnects while watching leaves nothing behind, and
/// one that never sends EXEC can be dropped without harm.
#[test]
fn disconnecting_mid_transaction_is_harmless() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        {
            let mut c = s.client();
            run(&mut c, "WATCH a b c");
            run(&mut c, "MULTI");
            run(&mut c, "SET a 1");
        }
        let mut c = s.client();
        assert_eq!(run(&mut c, "GET a"), Frame::Bulk(None), "[{model}]");
        run(&mut c, "WATCH a");
        run(&mut c, "MULTI");
        run(&mut c, "SET a 2");
        assert_eq!(run(&mut c, "EXEC"), Frame::Array(Some(vec![ok()])));
        s.assert_healthy();
    });
}

/// Keys with the same hash tag (`{user:7}:…`, Redis Cluster's rule) live
/// in one part, so a transaction over them locks one shard or stops no
/// other core; keys without one spread, and INFO counts the transactions
/// that spanned parts.
#[test]
fn hash_tags_keep_a_transaction_in_one_part() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        let spanning = |s: &ServerProc| s.info_int("lab02_spanning_execs");
        run(&mut c, "MULTI");
        for i in 0..16 {
            run(&mut c, &format!("INCR {{user:7}}:counter{i}"));
        }
        assert!(matches!(run(&mut c, "EXEC"), Frame::Array(Some(_))));
        assert_eq!(spanning(&s), 0, "[{model}] tagged keys spanned parts");
        run(&mut c, "MULTI");
        for i in 0..16 {
            run(&mut c, &format!("INCR counter{i}"));
        }
        assert!(matches!(run(&mut c, "EXEC"), Frame::Array(Some(_))));
        let want = if model == "event-loop" { 0 } else { 1 };
        assert_eq!(spanning(&s), want, "[{model}] untagged keys");
        // RENAME between two tagged keys stays in their part too.
        run(&mut c, "SET {u}:a 1");
        assert_eq!(run(&mut c, "RENAME {u}:a {u}:b"), ok());
        assert_eq!(run(&mut c, "GET {u}:b"), bulk("1"));
    });
}

/// A WATCH pipelined behind the same client's own writes sees them done:
/// under thread per core those writes may still be on their way to other
/// cores when WATCH is parsed, and must not count as changes made after
/// it.
#[test]
fn watch_after_pipelined_writes_sees_them_done() {
    for_each_model(|model| {
        let s = ServerProc::start(model, SPLIT);
        let mut c = s.client();
        for round in 0..20 {
            let mut pipeline: Vec<Vec<Vec<u8>>> = keys("p", 16)
                .iter()
                .map(|k| vec![b"SET".to_vec(), k.clone().into_bytes(), b"1".to_vec()])
                .collect();
            let mut watch = vec![b"WATCH".to_vec()];
            watch.extend(keys("p", 16).into_iter().map(String::into_bytes));
            pipeline.push(watch);
            pipeline.push(vec![b"MULTI".to_vec()]);
            pipeline.push(vec![b"INCR".to_vec(), b"done".to_vec()]);
            pipeline.push(vec![b"EXEC".to_vec()]);
            let replies = c.pipeline(&pipeline).unwrap();
            assert_eq!(
                replies.last(),
                Some(&Frame::Array(Some(vec![Frame::Integer(round + 1)]))),
                "[{model}] round {round}: EXEC after the client's own earlier writes"
            );
        }
    });
}
