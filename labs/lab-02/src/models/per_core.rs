//! Model 3: thread per core, shared nothing.
//!
//! Each core runs a single-threaded tokio runtime and owns one part of the
//! keyspace outright (no locks, no shared cache lines). Connections are
//! accepted on core 0 and handed round-robin to the cores. A command whose
//! key another core owns is sent there as a message and its reply comes
//! back the same way: a *hop*, counted in INFO as `lab02_cross_core_hops`.
//! Within a pipeline, all hops are sent before any is awaited, and the
//! replies are put back in request order.
//!
//! A command that needs keys on several cores at once (RENAME across
//! cores, a transaction) takes a *step across cores*: its core borrows
//! the other cores' stores (each stops, blocked, until it gets its store
//! back), runs the command on all of them, and returns them. One step
//! runs at a time, so two steps cannot wait for each other.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use super::keyspace::{HeldParts, Keyspace, owned_pick, part_of, run_logged};
use super::tokio_conn::{self, Batch};
use crate::cmd::{Log, Merge, Route, Spec};
use crate::conn::{self, Conn, Deferral, MAX_DEFERRED, Next, Work};
use crate::db::{self, Db, Hasher, Store};
use crate::route::{self, ScanStep, Shards};
use crate::shared::Shared;
use crate::steps;
use crate::tx::Exec;

const EXPIRE_BUDGET: usize = 200;

/// The reply to work another core can no longer take.
const SHUTTING_DOWN: &[u8] = b"-ERR server is shutting down\r\n";

/// What one core asks of another.
enum Job {
    /// Run a command (or one key's piece of one) on your data.
    Run {
        spec: &'static Spec,
        args: Vec<Vec<u8>>,
        reply: oneshot::Sender<Reply>,
        /// Which hop this is, and from which core: for a recording only
        /// (see `steps`).
        hop: u64,
        from: usize,
    },
    /// Run a transaction whose keys are all yours. Boxed: the common
    /// message, `Run`, stays small.
    Exec {
        exec: Box<Exec>,
        reply: oneshot::Sender<Reply>,
    },
    /// Put your store in `slot` for a step across cores, say so on
    /// `ready`, and stop until `back` says the step is over (or is gone).
    Lend {
        slot: LoanSlot,
        ready: oneshot::Sender<()>,
        back: std::sync::mpsc::Receiver<()>,
    },
}

/// A reply, and where its log record ends in the append-only file.
type Reply = (Vec<u8>, u64);

/// Where a lent store waits: the lender puts it in, the step takes it out
/// only for as long as it runs (and puts it back even if it panics), and
/// the lender takes it back when the step ends or goes away. The store is
/// never anywhere it could be dropped with the channel that carried it.
type LoanSlot = Arc<std::sync::Mutex<Option<Store>>>;

/// Takes a lent store out of its slot.
fn take(slot: &LoanSlot) -> Option<Store> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// Puts a store back into its slot.
fn put(slot: &LoanSlot, store: Store) {
    *slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(store);
}

/// The stores a step holds, each with its slot and the signal that frees
/// its lender: dropped (the step done, failed, panicked or cancelled), it
/// puts every store back and lets every lender go.
struct Loans {
    taken: Vec<(usize, Store, LoanSlot)>,
    /// Dropping these wakes the lenders.
    backs: Vec<std::sync::mpsc::Sender<()>>,
}

impl Drop for Loans {
    fn drop(&mut self) {
        for (_, store, slot) in self.taken.drain(..) {
            put(&slot, store);
        }
        for back in self.backs.drain(..) {
            let _ = back.send(());
        }
    }
}

/// One core's state; lives on that core's thread only.
struct Core {
    id: usize,
    cores: usize,
    store: RefCell<Store>,
    /// Log records of the command running now; reused, so a write does
    /// not allocate a buffer for its record every time.
    log: RefCell<Log>,
    hasher: Hasher,
    mailboxes: Vec<mpsc::UnboundedSender<Job>>,
    shared: Arc<Shared>,
    /// Held for the length of a step across cores: one at a time.
    steps: Arc<tokio::sync::Mutex<()>>,
}

impl Core {
    fn owner(&self, key: &[u8]) -> usize {
        part_of(&self.hasher, key, self.cores)
    }

    /// Runs a command on this core's data. Returns where its log ends.
    fn run_local(&self, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) -> u64 {
        let mut log = self.log.borrow_mut();
        let mut store = self.store.borrow_mut();
        let mut db = if self.cores == 1 {
            Db::new(&mut store, &self.hasher)
        } else {
            Db::part(&mut store, &self.hasher)
        };
        let aof = self.shared.aof.as_deref();
        let upto = run_logged(
            &mut db,
            spec,
            args,
            out,
            &mut log,
            aof,
            Some(&self.shared.watches),
        )
        .unwrap_or(0);
        tracing::trace!(
            target: steps::TARGET,
            lane = %format_args!("core {}", self.id),
            kind = steps::command_kind(spec),
            label = %format_args!("core {} runs {}", self.id, steps::Command(args)),
            core = self.id as u64,
            key = %String::from_utf8_lossy(args.get(1).copied().unwrap_or_default()),
        );
        upto
    }

    /// Runs `f` on this core's store and the `lent` ones.
    fn with_held<R>(
        &self,
        lent: &mut [(usize, Store, LoanSlot)],
        f: impl FnOnce(&mut HeldParts<'_>) -> R,
    ) -> (R, u64) {
        let mut own = self.store.borrow_mut();
        let mut held: Vec<(usize, &mut Store)> = vec![(self.id, &mut *own)];
        held.extend(lent.iter_mut().map(|(p, s, _)| (*p, s)));
        held.sort_by_key(|(p, _)| *p);
        let mut h = HeldParts::new(held, self.cores, owned_pick, &self.hasher);
        h.aof = self.shared.aof.as_deref();
        h.watches = Some(&self.shared.watches);
        h.log = std::mem::take(&mut *self.log.borrow_mut());
        let r = f(&mut h);
        *self.log.borrow_mut() = std::mem::take(&mut h.log);
        (r, h.logged_upto)
    }

    // ANCHOR: step
    /// A step across cores: borrows the stores of `parts` other than this
    /// core's, runs `f` on them all, gives them back. The lenders stop
    /// meanwhile; commands they had been sent before run first, since
    /// their mailbox is in order.
    async fn step<R>(
        &self,
        parts: &[usize],
        f: impl FnOnce(&mut HeldParts<'_>) -> R,
    ) -> Option<(R, u64)> {
        let _one_at_a_time = self.steps.lock().await;
        let others: Vec<usize> = parts.iter().copied().filter(|&p| p != self.id).collect();
        let mut loans = Loans {
            taken: Vec::new(),
            backs: Vec::new(),
        };
        let mut asked = Vec::new();
        for &p in &others {
            let slot: LoanSlot = Arc::default();
            let (ready_tx, ready) = oneshot::channel();
            let (back, back_rx) = std::sync::mpsc::channel();
            self.shared.hops.fetch_add(1, Relaxed);
            let job = Job::Lend {
                slot: slot.clone(),
                ready: ready_tx,
                back: back_rx,
            };
            if self.mailboxes[p].send(job).is_ok() {
                loans.backs.push(back);
                asked.push((p, slot, ready));
            }
        }
        let mut complete = asked.len() == others.len();
        for (p, slot, ready) in asked {
            match (ready.await, take(&slot)) {
                (Ok(()), Some(store)) => loans.taken.push((p, store, slot)),
                _ => complete = false,
            }
        }
        // Dropping `loans` (here, or on a panic in `f`) gives every store
        // back.
        complete.then(|| self.with_held(&mut loans.taken, f))
    }
    // ANCHOR_END: step

    /// Lends this core's store to a step on another core, and blocks this
    /// core's thread until the step is over: nothing else may touch the
    /// data meanwhile, and nothing else here could run without it.
    fn lend(
        &self,
        slot: &LoanSlot,
        ready: oneshot::Sender<()>,
        back: std::sync::mpsc::Receiver<()>,
    ) {
        let empty = db::new_store(&self.hasher, 0);
        put(
            slot,
            std::mem::replace(&mut *self.store.borrow_mut(), empty),
        );
        if ready.send(()).is_ok() {
            // Ok: the step is over; Err: it went away. Either way the store
            // is back in the slot (see `Loans`).
            let _ = back.recv();
        }
        match take(slot) {
            Some(store) => *self.store.borrow_mut() = store,
            None => {
                tracing::error!(
                    "core {}: a step across cores did not return this core's data; shutting down",
                    self.id
                );
                self.shared.shutdown.trigger();
            }
        }
    }

    /// Runs a transaction whose keys are all on this core, at once.
    fn exec_here(&self, mut exec: Exec, out: &mut Vec<u8>) -> u64 {
        let (ran, upto) = self.with_held(&mut [], |held| exec.run(held));
        exec.finish(ran, out);
        upto
    }

    /// Runs a command whose keys live on several cores, in a step.
    async fn step_command(&self, parts: &[usize], spec: &'static Spec, args: &[Vec<u8>]) -> Reply {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        match self
            .step(parts, |held| held.run_span(parts, spec, &refs, &mut out))
            .await
        {
            Some(((), upto)) => (out, upto),
            None => (SHUTTING_DOWN.to_vec(), 0),
        }
    }

    /// Runs a transaction: at once if every key it touches is on this
    /// core, else in a step across cores.
    async fn exec(&self, mut exec: Exec, parts: Vec<usize>) -> Reply {
        match self.step(&parts, |held| exec.run(held)).await {
            Some((ran, upto)) => {
                let mut out = Vec::new();
                exec.finish(ran, &mut out);
                (out, upto)
            }
            // Dropping `exec` unwatches its keys.
            None => (SHUTTING_DOWN.to_vec(), 0),
        }
    }

    /// Runs `args` on `part`: here, or by a message to its core.
    fn submit(&self, part: usize, spec: &'static Spec, args: &[&[u8]]) -> Sub {
        if part == self.id {
            let mut out = Vec::new();
            let upto = self.run_local(spec, args, &mut out);
            return Sub::Done((out, upto));
        }
        self.send(part, spec, args)
    }

    /// Sends `args` to core `part` (not this one) and returns the reply to
    /// wait for.
    fn send(&self, part: usize, spec: &'static Spec, args: &[&[u8]]) -> Sub {
        let (tx, rx) = oneshot::channel();
        let hop = self.shared.hops.fetch_add(1, Relaxed);
        let job = Job::Run {
            spec,
            args: args.iter().map(|a| a.to_vec()).collect(),
            reply: tx,
            hop,
            from: self.id,
        };
        // ANCHOR: step-hop
        tracing::trace!(
            target: steps::TARGET,
            lane = %format_args!("core {}", self.id),
            kind = "send",
            label = %format_args!(
                "core {} sends {} to core {part}, which owns the key",
                self.id,
                steps::Command(args)
            ),
            emits = steps::hop(hop),
        );
        // ANCHOR_END: step-hop
        if self.mailboxes[part].send(job).is_err() {
            return Sub::Done((SHUTTING_DOWN.to_vec(), 0));
        }
        Sub::Hop {
            rx,
            hop,
            here: self.id,
            there: part,
        }
    }
}

enum Sub {
    Done(Reply),
    Wait(oneshot::Receiver<Reply>),
    /// A command sent to core `there` by [`Core::send`] (the same as
    /// `Wait`, plus what a recording shows).
    Hop {
        rx: oneshot::Receiver<Reply>,
        hop: u64,
        here: usize,
        there: usize,
    },
}

impl Sub {
    async fn get(self) -> Reply {
        match self {
            Sub::Done(r) => r,
            Sub::Wait(rx) => rx.await.unwrap_or_else(|_| (SHUTTING_DOWN.to_vec(), 0)),
            Sub::Hop {
                rx,
                hop,
                here,
                there,
            } => {
                let reply = rx.await.unwrap_or_else(|_| (SHUTTING_DOWN.to_vec(), 0));
                tracing::trace!(
                    target: steps::TARGET,
                    lane = %format_args!("core {here}"),
                    kind = "recv",
                    label = %format_args!("core {here} gets the reply from core {there}"),
                    answers = steps::hop_back(hop),
                );
                reply
            }
        }
    }
}

/// A reply waiting for another core, and how to turn it into the reply.
enum Slot {
    One(Sub),
    Many(Merge, Vec<Sub>),
    Scan(ScanStep, Sub),
    /// A command that needs a step across cores, taken when the batch's
    /// other work has been sent.
    Step(Vec<usize>, &'static Spec, Vec<Vec<u8>>),
    /// A transaction that needs a step across cores.
    Exec(Exec, Vec<usize>),
}

pub fn run(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    keyspace: Keyspace,
    ready: Sender<Result<()>>,
) -> Result<()> {
    let Keyspace::Owned { stores, hasher } = keyspace else {
        bail!("thread-per-core needs owned stores");
    };
    let cores = stores.len();
    let mut job_rxs = Vec::new();
    let mut mailboxes = Vec::new();
    let mut conn_txs = Vec::new();
    let mut conn_rxs = Vec::new();
    for _ in 0..cores {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        mailboxes.push(tx);
        job_rxs.push(rx);
        let (tx, rx) = mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr)>();
        conn_txs.push(tx);
        conn_rxs.push(rx);
    }
    let key_counts: Arc<Vec<AtomicU64>> = Arc::new((0..cores).map(|_| AtomicU64::new(0)).collect());
    let mut listener = Some(listener);
    let mut threads = Vec::new();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<()>>();
    let steps = Arc::new(tokio::sync::Mutex::new(()));
    for (id, ((store, jobs), conns)) in stores.into_iter().zip(job_rxs).zip(conn_rxs).enumerate() {
        let core = Core {
            id,
            cores,
            store: RefCell::new(store),
            log: RefCell::new(shared.log()),
            hasher: hasher.clone(),
            mailboxes: mailboxes.clone(),
            shared: shared.clone(),
            steps: steps.clone(),
        };
        let acceptor = if id == 0 {
            listener.take().map(|l| (l, conn_txs.clone()))
        } else {
            None
        };
        let started = started_tx.clone();
        let key_counts = key_counts.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("lab-02-core-{id}"))
                .spawn(move || -> Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let local = tokio::task::LocalSet::new();
                    local.block_on(
                        &rt,
                        core_main(core, jobs, conns, acceptor, started, key_counts),
                    )
                })?,
        );
    }
    drop(started_tx);
    drop(conn_txs);
    drop(mailboxes);
    let mut failure = None;
    for _ in 0..cores {
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some(anyhow::anyhow!("a core thread stopped while starting")),
        }
    }
    match failure {
        Some(e) => {
            shared.shutdown.trigger();
            let _ = ready.send(Err(e));
        }
        None => {
            let _ = ready.send(Ok(()));
        }
    }
    let mut result = Ok(());
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(anyhow::anyhow!("a core thread panicked")),
        }
    }
    result
}

type Acceptor = (
    std::net::TcpListener,
    Vec<mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>>,
);

async fn core_main(
    core: Core,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut conns: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    acceptor: Option<Acceptor>,
    started: std::sync::mpsc::Sender<Result<()>>,
    key_counts: Arc<Vec<AtomicU64>>,
) -> Result<()> {
    let core = Rc::new(core);
    let shared = core.shared.clone();
    shared.publish_runtime(format!("core-{}", core.id));
    let mut stop = tokio_conn::stop_signal(&shared);
    // Mailbox: run other cores' pieces on this core's data.
    let mailbox = {
        let core = core.clone();
        tokio::task::spawn_local(async move {
            while let Some(job) = jobs.recv().await {
                match job {
                    Job::Run {
                        spec,
                        args,
                        reply,
                        hop,
                        from,
                    } => {
                        let args: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                        tracing::trace!(
                            target: steps::TARGET,
                            lane = %format_args!("core {}", core.id),
                            kind = "recv",
                            label = %format_args!(
                                "core {} takes {} from core {from}",
                                core.id,
                                steps::Command(&args)
                            ),
                            answers = steps::hop(hop),
                        );
                        let mut out = Vec::new();
                        let upto = core.run_local(spec, &args, &mut out);
                        tracing::trace!(
                            target: steps::TARGET,
                            lane = %format_args!("core {}", core.id),
                            kind = "send",
                            label = %format_args!("core {} sends the reply back to core {from}", core.id),
                            emits = steps::hop_back(hop),
                        );
                        let _ = reply.send((out, upto));
                    }
                    Job::Exec { exec, reply } => {
                        let mut out = Vec::new();
                        let upto = core.exec_here(*exec, &mut out);
                        let _ = reply.send((out, upto));
                    }
                    Job::Lend { slot, ready, back } => core.lend(&slot, ready, back),
                }
            }
        })
    };
    // Housekeeping.
    {
        let (core, mut stop) = (core.clone(), stop.clone());
        let token = shared.config.task_hook.token();
        tokio::task::spawn_local(async move {
            let _token = token;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let len = {
                    let mut s = core.store.borrow_mut();
                    s.expire_step(EXPIRE_BUDGET);
                    s.len()
                };
                key_counts[core.id].store(len as u64, Relaxed);
                if core.id == 0 {
                    let total = key_counts.iter().map(|k| k.load(Relaxed)).sum();
                    core.shared.keys.store(total, Relaxed);
                }
            }
        });
    }
    let acceptor = match acceptor {
        Some((l, txs)) => match tokio::net::TcpListener::from_std(l) {
            Ok(l) => Some((l, txs)),
            Err(e) => {
                let _ = started.send(Err(e.into()));
                return Ok(());
            }
        },
        None => None,
    };
    let _ = started.send(Ok(()));
    drop(started);
    if let Some((listener, txs)) = acceptor {
        let (shared, mut stop) = (shared.clone(), stop.clone());
        tokio::task::spawn_local(async move {
            let mut next = 0usize;
            while let Some((stream, addr)) =
                tokio_conn::accept_admitted(&listener, &shared, &mut stop).await
            {
                let target = next % txs.len();
                next += 1;
                match stream.into_std() {
                    Ok(s) => {
                        if txs[target].send((s, addr)).is_err() {
                            shared.release(0);
                        }
                    }
                    Err(_) => shared.release(0),
                }
            }
        });
    }
    loop {
        let received = tokio::select! {
            r = conns.recv() => r,
            _ = stop.changed() => break,
        };
        let Some((std_stream, addr)) = received else {
            break;
        };
        let core = core.clone();
        let stop = stop.clone();
        let token = shared.config.task_hook.token();
        let task = async move {
            let _token = token;
            let shared = core.shared.clone();
            let mut conn = Conn::new(conn::new_session(&shared, addr));
            if let Ok(mut stream) = TcpStream::from_std(std_stream) {
                serve_conn(&mut stream, &mut conn, &core, stop).await;
            }
            shared.release(conn.commands);
        };
        match &shared.task_monitor {
            Some(m) => drop(tokio::task::spawn_local(m.instrument(task))),
            None => drop(tokio::task::spawn_local(task)),
        }
    }
    // Keep serving other cores' pieces until every connection is done.
    tokio_conn::drain(&shared).await;
    mailbox.abort();
    Ok(())
}

/// One batch on this core: local pieces run at once, others travel.
struct CoreBatch<'a> {
    core: &'a Core,
    limits: crate::resp::Limits,
}

impl Batch for CoreBatch<'_> {
    async fn run(&mut self, conn: &mut Conn) -> (Next, u64) {
        process(conn, self.core, &self.limits).await
    }
}

impl tokio_conn::Lane for CoreBatch<'_> {
    fn lane(&self, _conn: &Conn) -> (String, &'static str) {
        (format!("core {}", self.core.id), "thread")
    }
}

async fn serve_conn(
    stream: &mut TcpStream,
    conn: &mut Conn,
    core: &Core,
    stop: watch::Receiver<bool>,
) {
    let mut batch = CoreBatch {
        core,
        limits: core.shared.config.limits(),
    };
    tokio_conn::serve_async(stream, conn, &core.shared, &mut batch, stop).await;
}

// ANCHOR: thread-per-core
/// Runs every complete request in the input with the request loop every
/// model shares. A command whose keys are all on this core runs at once
/// and its reply goes straight to the output, with no copy of its
/// arguments; a piece for another core is sent off, and the place its
/// reply belongs in the output is remembered. Once the batch is parsed,
/// the remote replies are awaited and put into their places in one pass:
/// the client sees its replies in request order. A batch leaves at most
/// `MAX_DEFERRED` replies to other cores, so a client that pipelines
/// large remote reads and never reads the replies holds that many, not a
/// whole read buffer's worth. Returns what to do next and where the log
/// ends.
async fn process(conn: &mut Conn, core: &Core, limits: &crate::resp::Limits) -> (Next, u64) {
    let mut waiting: Vec<(usize, Slot)> = Vec::new();
    let mut logged = 0u64;
    let next = conn::process_deferring(conn, limits, &core.shared, MAX_DEFERRED, |work, out| {
        let at = out.len();
        let before = waiting.len();
        let (spec, args) = match work {
            Work::Command(spec, args) => (spec, args),
            Work::Exec(exec) => {
                let parts = exec.parts(core.cores, |k| core.owner(k));
                core.shared.watches.exec_needed(parts.len());
                match parts.as_slice() {
                    [] => {
                        logged = logged.max(core.exec_here(exec, out));
                        return Deferral::No;
                    }
                    [p] if *p == core.id => {
                        logged = logged.max(core.exec_here(exec, out));
                        return Deferral::No;
                    }
                    // All on one other core: it runs there, as a hop.
                    [p] => {
                        let (reply, rx) = oneshot::channel();
                        core.shared.hops.fetch_add(1, Relaxed);
                        let sub = match core.mailboxes[*p].send(Job::Exec {
                            exec: Box::new(exec),
                            reply,
                        }) {
                            Ok(()) => Sub::Wait(rx),
                            Err(_) => Sub::Done((SHUTTING_DOWN.to_vec(), 0)),
                        };
                        waiting.push((at, Slot::One(sub)));
                        return Deferral::Yes;
                    }
                    _ => {
                        waiting.push((at, Slot::Exec(exec, parts)));
                        return Deferral::Barrier;
                    }
                }
            }
        };
        match spec.route {
            Route::Keys => match route::parts_of(spec, args, |k| core.owner(k)).as_slice() {
                [p] if *p == core.id => logged = logged.max(core.run_local(spec, args, out)),
                [p] => waiting.push((at, Slot::One(core.send(*p, spec, args)))),
                parts => {
                    let args = args.iter().map(|a| a.to_vec()).collect();
                    waiting.push((at, Slot::Step(parts.to_vec(), spec, args)));
                    return Deferral::Barrier;
                }
            },
            Route::Key => {
                let part = core.owner(spec.routing_key(args));
                if part == core.id {
                    logged = logged.max(core.run_local(spec, args, out));
                } else {
                    waiting.push((at, Slot::One(core.send(part, spec, args))));
                }
            }
            Route::EachKey(m) | Route::AllShards(m) => {
                let pieces = route::split(spec, args, core.cores, |k| core.owner(k));
                let subs = pieces
                    .iter()
                    .map(|p| core.submit(p.part, spec, &p.args))
                    .collect();
                waiting.push((at, Slot::Many(m, subs)));
            }
            Route::Scan => match ScanStep::parse(args, core.cores) {
                Err(e) => crate::reply::error(out, e),
                Ok(step) if step.is_done() => step.finish(&[], out),
                Ok(step) => {
                    let inner = step.inner_args(args);
                    let refs: Vec<&[u8]> = inner.iter().map(Vec::as_slice).collect();
                    let sub = core.submit(step.part, spec, &refs);
                    waiting.push((at, Slot::Scan(step, sub)));
                }
            },
            Route::Server => {
                crate::reply::error(out, "ERR internal: server command routed to the keyspace")
            }
        }
        if waiting.len() > before {
            Deferral::Yes
        } else {
            Deferral::No
        }
    });
    if waiting.is_empty() {
        return (next, logged);
    }
    // Awaited last first: by the time the last reply is in, the earlier
    // ones usually are too, so the task wakes once, not once per reply.
    let mut replies = Vec::with_capacity(waiting.len());
    for (at, slot) in waiting.into_iter().rev() {
        let mut reply = Vec::new();
        match slot {
            Slot::One(sub) => {
                let (b, upto) = sub.get().await;
                logged = logged.max(upto);
                reply = b;
            }
            Slot::Many(m, subs) => {
                let mut replies = Vec::with_capacity(subs.len());
                for s in subs {
                    let (b, upto) = s.get().await;
                    logged = logged.max(upto);
                    replies.push(b);
                }
                route::merge(m, &replies, &mut reply);
            }
            Slot::Scan(step, sub) => {
                let (b, _) = sub.get().await;
                step.finish(&b, &mut reply);
            }
            Slot::Step(parts, spec, args) => {
                let (b, upto) = core.step_command(&parts, spec, &args).await;
                logged = logged.max(upto);
                reply = b;
            }
            Slot::Exec(exec, parts) => {
                let (b, upto) = core.exec(exec, parts).await;
                logged = logged.max(upto);
                reply = b;
            }
        }
        replies.push((at, reply));
    }
    replies.reverse();
    // RESP3: each deferred reply reshaped as its request decided.
    for ((_, reply), shape) in replies.iter_mut().zip(&conn.deferred_shapes) {
        if let Some(shape) = shape {
            let mut converted = Vec::with_capacity(reply.len());
            crate::resp3::convert(*shape, reply, &mut converted);
            *reply = converted;
        }
    }
    // One pass, in order: local replies between the places, remote ones
    // in them. (Splicing each into place would move the tail every time,
    // quadratic in the number of replies.) Built in this thread's spare
    // buffer, which then trades places with the output, so a batch
    // allocates nothing once both have grown.
    let extra: usize = replies.iter().map(|(_, r)| r.len()).sum();
    SPARE.with_borrow_mut(|output| {
        output.clear();
        output.reserve(conn.output.len() + extra);
        let mut from = 0;
        for (at, reply) in &replies {
            output.extend_from_slice(&conn.output[from..*at]);
            output.extend_from_slice(reply);
            from = *at;
        }
        output.extend_from_slice(&conn.output[from..]);
        std::mem::swap(output, &mut conn.output);
        // A huge batch should not pin its buffer in the spare.
        if output.capacity() > 4 * conn::OUTPUT_SOFT_LIMIT {
            *output = Vec::new();
        }
    });
    (next, logged)
}

std::thread_local! {
    /// Each core's spare output buffer, for building a batch's output.
    static SPARE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}
// ANCHOR_END: thread-per-core

#[cfg(test)]
mod tests {
    use super::*;

    /// However a step ends (here: dropped without running), every store
    /// it took goes back to its slot, and its lender is let go.
    #[test]
    fn a_dropped_step_gives_every_store_back() {
        let hasher = Hasher::default();
        let mut store = db::new_store(&hasher, 1);
        let mut d = Db::new(&mut store, &hasher);
        d.set(
            b"k",
            crate::value::Value::Str(b"v".to_vec()),
            Default::default(),
            false,
        );
        let slot: LoanSlot = Arc::default();
        let (back, freed) = std::sync::mpsc::channel();
        drop(Loans {
            taken: vec![(1, store, slot.clone())],
            backs: vec![back],
        });
        assert_eq!(freed.recv(), Ok(()), "the lender is let go");
        let mut returned = take(&slot).expect("the store is back in its slot");
        let d = Db::new(&mut returned, &hasher);
        assert!(d.contains(b"k"), "with its data");
    }
}
