//! Transactions: `MULTI` queues a connection's commands, `EXEC` runs them
//! as one step no other client can see half done, `DISCARD` drops them,
//! `WATCH` makes `EXEC` conditional on keys nobody changed.
//!
//! The connection keeps the queue ([`Tx`]); at `EXEC` it runs the queued
//! connection commands (PING, CONFIG …) itself, then hands the keyspace
//! commands ([`Exec`]) to its model, which holds every part of the
//! keyspace they touch for the length of [`Exec::run`]:
//! - the event loop holds everything already (one thread);
//! - task-per-connection locks the shards in ascending order;
//! - thread-per-core borrows the other cores' stores, which stop
//!   meanwhile (a *step across cores*).
//!
//! Redis's rules, all kept: a command that fails to queue (unknown, wrong
//! arity, not allowed inside a transaction) makes `EXEC` answer
//! `EXECABORT`; a command that fails while running (WRONGTYPE) is just an
//! error among the replies, the rest still run; a watched key written by
//! anyone (this client included) since `WATCH` makes `EXEC` answer null.

use std::sync::Arc;

use crate::cmd::{Route, Spec, flags};
use crate::reply;
use crate::resp3::{self, Shape};
use crate::route::{self, Shards};
use crate::watch::{Watched, Watches};

/// One queued command, and its reply once run.
#[derive(Debug)]
pub struct Queued {
    pub spec: &'static Spec,
    pub args: Vec<Vec<u8>>,
    /// How its reply looks in RESP3, decided when it was queued.
    pub shape: Shape,
    pub reply: Option<Vec<u8>>,
}

impl Queued {
    pub fn arg_refs(&self) -> Vec<&[u8]> {
        self.args.iter().map(Vec::as_slice).collect()
    }
}

/// A connection's transaction state.
#[derive(Debug, Default)]
pub struct Tx {
    /// `Some` between MULTI and EXEC/DISCARD.
    queue: Option<Vec<Queued>>,
    /// A command failed to queue: EXEC must refuse.
    failed: bool,
    /// What the queue holds, by [`queued_cost`].
    bytes: usize,
    pub watched: Vec<Watched>,
    /// The server's table, once this connection watched a key: dropping
    /// the connection unwatches its keys.
    table: Option<Arc<Watches>>,
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(t) = &self.table {
            t.unwatch(&mut self.watched);
        }
    }
}

/// What the connection does with a request, given its transaction state.
pub enum Step {
    /// Not a transaction matter: run it.
    Run,
    /// Answered here (queued, or an error, or MULTI/DISCARD/WATCH…).
    Done,
    /// EXEC with a queue to run.
    Exec(Exec),
}

/// The limit on what a queued transaction may hold, counting each
/// command's bookkeeping as well as its bytes: a command past it is
/// refused (and the transaction fails), so a client cannot grow a
/// connection's memory without bound by never sending EXEC.
pub const MAX_QUEUED_BYTES: usize = 512 << 20;

/// What one queued command costs besides its arguments' bytes: its
/// entry, and one buffer per argument.
fn queued_cost(args: &[&[u8]]) -> usize {
    std::mem::size_of::<Queued>()
        + args
            .iter()
            .map(|a| a.len() + std::mem::size_of::<Vec<u8>>())
            .sum::<usize>()
}

impl Tx {
    /// Between MULTI and EXEC.
    pub fn queuing(&self) -> bool {
        self.queue.is_some()
    }

    /// A request that failed its checks (unknown command, arity, AUTH)
    /// while queuing makes the transaction fail.
    pub fn rejected(&mut self) {
        if self.queuing() {
            self.failed = true;
        }
    }

    /// Handles `args` if it is a transaction command or must be queued;
    /// writes the reply to `out` unless it returns [`Step::Run`] or
    /// [`Step::Exec`].
    pub fn step(
        &mut self,
        spec: &'static Spec,
        args: &[&[u8]],
        resp3: bool,
        watches: &Arc<Watches>,
        out: &mut Vec<u8>,
    ) -> Step {
        // The common case, first and cheap: no transaction open, and not a
        // transaction command.
        if self.queue.is_none() && !spec.has(flags::TRANSACTION) {
            return Step::Run;
        }
        match (spec.name, self.queue.is_some()) {
            ("multi", false) => {
                self.queue = Some(Vec::new());
                self.failed = false;
                self.bytes = 0;
                reply::ok(out);
            }
            ("multi", true) => reply::error(out, "ERR MULTI calls can not be nested"),
            ("exec", false) => reply::error(out, "ERR EXEC without MULTI"),
            ("discard", false) => reply::error(out, "ERR DISCARD without MULTI"),
            ("discard", true) => {
                self.queue = None;
                watches.unwatch(&mut self.watched);
                reply::ok(out);
            }
            ("exec", true) => {
                let queued = self.queue.take().unwrap_or_default();
                let failed = std::mem::take(&mut self.failed);
                let watched = std::mem::take(&mut self.watched);
                if failed {
                    let mut watched = watched;
                    watches.unwatch(&mut watched);
                    reply::error(
                        out,
                        "EXECABORT Transaction discarded because of previous errors.",
                    );
                    return Step::Done;
                }
                return Step::Exec(Exec {
                    queued,
                    watched,
                    resp3,
                    table: self.table.clone(),
                });
            }
            ("watch", true) => reply::error(out, "ERR WATCH inside MULTI is not allowed"),
            ("watch", false) => {
                self.table.get_or_insert_with(|| watches.clone());
                for key in &args[1..] {
                    if !self.watched.iter().any(|w| w.key == *key) {
                        self.watched.push(watches.watch(key));
                    }
                }
                reply::ok(out);
            }
            ("unwatch", _) if !self.queuing() => {
                watches.unwatch(&mut self.watched);
                reply::ok(out);
            }
            ("quit", _) => return Step::Run,
            (_, false) => return Step::Run,
            (_, true) if spec.has(flags::NO_MULTI) => {
                self.failed = true;
                reply::error(out, "ERR Command not allowed inside a transaction");
            }
            (_, true) => {
                self.bytes += queued_cost(args);
                if self.bytes > MAX_QUEUED_BYTES {
                    self.failed = true;
                    reply::error(out, "ERR transaction too large");
                    return Step::Done;
                }
                self.queue.get_or_insert_with(Vec::new).push(Queued {
                    spec,
                    args: args.iter().map(|a| a.to_vec()).collect(),
                    shape: resp3::shape(spec, args),
                    reply: None,
                });
                reply::simple(out, "QUEUED");
            }
        }
        Step::Done
    }
}

/// A transaction to run: its commands (connection commands already
/// answered), and the keys it is conditional on.
#[derive(Debug)]
pub struct Exec {
    pub queued: Vec<Queued>,
    pub watched: Vec<Watched>,
    /// Reply in RESP3.
    pub resp3: bool,
    /// Where the watched keys are registered: unwatched when the
    /// transaction finishes, or if it is dropped unfinished (a core that
    /// shut down before running it).
    table: Option<Arc<Watches>>,
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Some(t) = &self.table {
            t.unwatch(&mut self.watched);
        }
    }
}

impl Exec {
    /// The parts of a keyspace split `count` ways that the transaction
    /// needs held: its keys' and its watched keys', or all of them when a
    /// command spans the keyspace (KEYS, FLUSHALL, SCAN…). Ascending, no
    /// repeats.
    pub fn parts(&self, count: usize, owner: impl Fn(&[u8]) -> usize) -> Vec<usize> {
        let mut parts: Vec<usize> = self.watched.iter().map(|w| owner(&w.key)).collect();
        for q in self.queued.iter().filter(|q| q.reply.is_none()) {
            match q.spec.route {
                Route::AllShards(_) | Route::Scan => return (0..count).collect(),
                Route::Server => {}
                Route::Key => parts.push(owner(q.spec.routing_key(&q.arg_refs()))),
                _ => {
                    let args = q.arg_refs();
                    parts.extend(
                        crate::watch::key_args(q.spec, &args)
                            .into_iter()
                            .map(&owner),
                    );
                }
            }
        }
        parts.sort_unstable();
        parts.dedup();
        parts
    }

    /// Runs the keyspace commands on `shards`, which hold every part
    /// [`Exec::parts`] named, unless a watched key changed. Returns
    /// whether it ran.
    pub fn run(&mut self, shards: &mut dyn Shards) -> bool {
        if let Some(w) = &self.table
            && !w.unchanged(&self.watched)
        {
            return false;
        }
        for q in self.queued.iter_mut().filter(|q| q.reply.is_none()) {
            let args: Vec<&[u8]> = q.args.iter().map(Vec::as_slice).collect();
            let mut out = Vec::new();
            route::dispatch(shards, q.spec, &args, &mut out);
            q.reply = Some(out);
        }
        true
    }

    /// EXEC's reply: each command's reply in order, or null when a
    /// watched key changed (`ran` false). Releases the watched keys.
    pub fn finish(mut self, ran: bool, out: &mut Vec<u8>) {
        if let Some(t) = &self.table {
            t.unwatch(&mut self.watched);
        }
        if !ran {
            if self.resp3 {
                out.extend_from_slice(b"_\r\n");
            } else {
                reply::null_array(out);
            }
            return;
        }
        reply::array(out, self.queued.len());
        for q in &self.queued {
            let r = q.reply.as_deref().unwrap_or(b"-ERR internal: not run\r\n");
            if self.resp3 {
                resp3::convert(q.shape, r, out);
            } else {
                out.extend_from_slice(r);
            }
        }
    }
}
