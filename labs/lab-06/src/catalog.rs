//! The leak catalog: every way the chapter shows a task outliving its
//! purpose, each next to its fix. The suite runs every case both ways
//! (`tests/catalog.rs`): the check must fail the leak, naming its spawn
//! site, and pass the fix. `lab-06 catalog` prints the reports.
//!
//! A case's scenario runs inside a fresh multi-threaded runtime, between a
//! [`LeakCheck`]'s start and its verify. It returns what the code under
//! test would still be holding at that moment (a service struct, a
//! channel end): the runner keeps it alive through the check and drops it
//! afterwards, which releases anything a leak left blocked.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::check::{LeakCheck, LeakReport, Schedule};
use crate::resources::{ResourceCheck, ResourceLeaks};
use crate::track::{spawn, spawn_blocking, track};

/// What a scenario still holds when the check runs.
pub type Keep = Box<dyn Any + Send>;
type Scenario = fn() -> Pin<Box<dyn Future<Output = Keep> + Send>>;

/// One leak pattern and its fix.
pub struct Case {
    /// Short name, used on the command line and in the chapter.
    pub name: &'static str,
    /// The Go pattern it translates, or "Rust only".
    pub go: &'static str,
    /// What goes wrong, in a sentence.
    pub what: &'static str,
    /// What the fix uses.
    pub fix: &'static str,
    pub leak: Scenario,
    pub fixed: Scenario,
    /// Leaked tasks the check must find.
    pub tasks: usize,
    /// Sockets the leak leaves in CLOSE_WAIT.
    pub close_wait: usize,
}

/// Every case, in the chapter's order.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "detached-handle",
            go: "a goroutine with a ticker and no stop",
            what: "dropping a JoinHandle detaches the task; it does not cancel it",
            fix: "JoinSet: shutdown() aborts and waits",
            leak: || Box::pin(detached_leak()),
            fixed: || Box::pin(detached_fixed()),
            tasks: 1,
            close_wait: 0,
        },
        Case {
            name: "sender-kept",
            go: "a range over a channel nobody closes",
            what: "a worker waits for the channel to close, but a Sender clone lives on in a struct",
            fix: "CancellationToken and TaskTracker: cancel, close, wait",
            leak: || Box::pin(sender_kept_leak()),
            fixed: || Box::pin(sender_kept_fixed()),
            tasks: 2,
            close_wait: 0,
        },
        Case {
            name: "blocked-send",
            go: "a send on a channel whose reader returned early",
            what: "the reader took the first answer and kept its Receiver; the other producers wait forever to send",
            fix: "drop the Receiver: every pending send returns an error",
            leak: || Box::pin(blocked_send_leak()),
            fixed: || Box::pin(blocked_send_fixed()),
            tasks: 1,
            close_wait: 0,
        },
        Case {
            name: "select-closed-branch",
            go: "a select whose only exit never fires",
            what: "`Some(m) = rx.recv()` stops matching once the channel closes, so select! waits on the shutdown branch alone",
            fix: "handle None: a closed channel ends the loop",
            leak: || Box::pin(select_leak()),
            fixed: || Box::pin(select_fixed()),
            tasks: 1,
            close_wait: 0,
        },
        Case {
            name: "lock-held",
            go: "goroutines queued on a mutex whose holder never unlocks",
            what: "a task holds a lock while it waits for a value that never comes; every task that wants the lock queues behind it",
            fix: "wait first (with a deadline), then hold the lock only to update",
            leak: || Box::pin(lock_held_leak()),
            fixed: || Box::pin(lock_held_fixed()),
            tasks: 3,
            close_wait: 0,
        },
        Case {
            name: "sibling-failed",
            go: "a fan-out that returns on the first error and cancels nothing",
            what: "one of three tasks fails; the caller returns the error at once and drops the other handles, which detaches them",
            fix: "a JoinSet: returning drops it, and dropping aborts what is still running",
            leak: || Box::pin(sibling_leak()),
            fixed: || Box::pin(sibling_fixed()),
            tasks: 2,
            close_wait: 0,
        },
        Case {
            name: "lost-waker",
            go: "Rust only",
            what: "a hand-written future returns Pending without keeping the waker, so nothing ever polls it again",
            fix: "store the waker and wake it when the state changes",
            leak: || Box::pin(lost_waker_leak()),
            fixed: || Box::pin(lost_waker_fixed()),
            tasks: 1,
            close_wait: 0,
        },
        Case {
            name: "abandoned-connection",
            go: "a handler blocked on a backend after its client hung up",
            what: "a connection task awaits a stuck backend without watching its socket; the client leaves, the task and its socket stay",
            fix: "select! on the backend, the client's EOF and a deadline",
            leak: || Box::pin(abandoned_leak()),
            fixed: || Box::pin(abandoned_fixed()),
            tasks: 1,
            close_wait: 1,
        },
        Case {
            name: "blocking-forever",
            go: "a goroutine blocked in a syscall or cgo call",
            what: "a spawn_blocking closure waits on a std channel that never closes; tokio's alive-task count does not include it",
            fix: "poll a CancellationToken between bounded waits",
            leak: || Box::pin(blocking_leak()),
            fixed: || Box::pin(blocking_fixed()),
            tasks: 1,
            close_wait: 0,
        },
    ]
}

async fn tick_forever() {
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        tick.tick().await;
    }
}

// ANCHOR: detached
async fn detached_leak() -> Keep {
    // The handle is dropped at the end of the statement; the task runs on.
    spawn(tick_forever());
    Box::new(())
}

async fn detached_fixed() -> Keep {
    let mut set = JoinSet::new();
    set.spawn(track(tick_forever()));
    // ... the work that needed the ticker ...
    set.shutdown().await;
    Box::new(())
}
// ANCHOR_END: detached

/// A service with a worker that drains a queue.
struct Queue {
    tx: mpsc::Sender<u64>,
}

// ANCHOR: sender-kept
async fn sender_kept_leak() -> Keep {
    let (tx, mut rx) = mpsc::channel::<u64>(16);
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(16);
    spawn(async move {
        while let Some(job) = rx.recv().await {
            let _ = done_tx.send(job * 2).await;
        }
    });
    spawn(async move { while done_rx.recv().await.is_some() {} });
    let queue = Queue { tx };
    queue.tx.send(1).await.expect("worker is running");
    // The caller is done with the queue, but the struct that owns the
    // Sender lives on (here: handed back), so `recv` never returns None.
    Box::new(queue)
}

async fn sender_kept_fixed() -> Keep {
    let (tx, mut rx) = mpsc::channel::<u64>(16);
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(16);
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let s = stop.clone();
    tasks.spawn(track(async move {
        loop {
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => { let _ = done_tx.send(job * 2).await; }
                    None => return,
                },
                _ = s.cancelled() => return,
            }
        }
    }));
    // Ends when the worker (its only sender) ends.
    tasks.spawn(track(
        async move { while done_rx.recv().await.is_some() {} },
    ));
    let queue = Queue { tx };
    queue.tx.send(1).await.expect("worker is running");
    // Shut down explicitly, whoever still holds a Sender.
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    Box::new(queue)
}
// ANCHOR_END: sender-kept

/// Asks three replicas and takes the first answer.
async fn first_of_three(kept: &mut Option<mpsc::Receiver<u64>>) -> u64 {
    let (tx, mut rx) = mpsc::channel::<u64>(1);
    for replica in 0..3u64 {
        let tx = tx.clone();
        spawn(async move {
            tokio::time::sleep(Duration::from_millis(replica)).await;
            let _ = tx.send(replica).await;
        });
    }
    drop(tx);
    let first = rx.recv().await.expect("a replica answers");
    *kept = Some(rx);
    first
}

// ANCHOR: blocked-send
async fn blocked_send_leak() -> Keep {
    let mut kept = None;
    let _first = first_of_three(&mut kept).await;
    // The Receiver is kept (in a struct, a cache, a retry state): the
    // channel has room for one, so one late answer fills it and the last
    // replica waits forever to send.
    Box::new(kept)
}

async fn blocked_send_fixed() -> Keep {
    let mut kept = None;
    let _first = first_of_three(&mut kept).await;
    // Dropping the Receiver wakes every waiting sender with an error: the
    // difference from Go, where a blocked send on an abandoned channel is
    // stuck for good.
    drop(kept.take());
    Box::new(kept)
}
// ANCHOR_END: blocked-send

// ANCHOR: select-closed
async fn select_leak() -> Keep {
    let (tx, mut rx) = mpsc::channel::<u64>(4);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    spawn(async move {
        loop {
            tokio::select! {
                // Once the channel closes this pattern never matches, and
                // select! disables the branch instead of ending the loop.
                Some(_msg) = rx.recv() => {}
                _ = stop_rx.changed() => break,
            }
        }
    });
    tx.send(1).await.expect("running");
    drop(tx);
    // Shutdown would be signalled on stop_tx, by a caller that never does.
    Box::new(stop_tx)
}

async fn select_fixed() -> Keep {
    let (tx, mut rx) = mpsc::channel::<u64>(4);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    spawn(async move {
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(_msg) => {}
                    None => break,
                },
                _ = stop_rx.changed() => break,
            }
        }
    });
    tx.send(1).await.expect("running");
    drop(tx);
    Box::new(stop_tx)
}
// ANCHOR_END: select-closed

// ANCHOR: lock-held
async fn lock_held_leak() -> Keep {
    let total = Arc::new(tokio::sync::Mutex::new(0u64));
    let (value_tx, value) = oneshot::channel::<u64>();
    // Taken before the others are spawned, so they really queue behind it.
    let mut guard = total.clone().lock_owned().await;
    spawn(async move {
        // Holds the lock across a wait that never ends.
        if let Ok(v) = value.await {
            *guard += v;
        }
    });
    for _ in 0..2 {
        let total = total.clone();
        spawn(async move { *total.lock().await += 1 });
    }
    // Whoever should send the value keeps its Sender and never does.
    Box::new(value_tx)
}

async fn lock_held_fixed() -> Keep {
    let total = Arc::new(tokio::sync::Mutex::new(0u64));
    let (value_tx, value) = oneshot::channel::<u64>();
    let t = total.clone();
    spawn(async move {
        // The wait first, bounded; the lock only for the update.
        if let Ok(Ok(v)) = tokio::time::timeout(Duration::from_millis(50), value).await {
            *t.lock().await += v;
        }
    });
    for _ in 0..2 {
        let total = total.clone();
        spawn(async move { *total.lock().await += 1 });
    }
    Box::new(value_tx)
}
// ANCHOR_END: lock-held

/// One part of a fan-out: part 0 fails at once, the others take an hour.
async fn fetch_part(part: u64) -> Result<u64, String> {
    if part == 0 {
        return Err("part 0: backend refused".into());
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(part)
}

// ANCHOR: sibling-failed
async fn sibling_leak() -> Keep {
    let handles: Vec<_> = (0..3).map(|p| spawn(fetch_part(p))).collect();
    for h in handles {
        if let Ok(Err(e)) = h.await {
            // Returns with the error; the other handles are dropped,
            // which detaches their tasks.
            return Box::new(e);
        }
    }
    Box::new(())
}

async fn sibling_fixed() -> Keep {
    let mut set = JoinSet::new();
    for p in 0..3 {
        set.spawn(track(fetch_part(p)));
    }
    while let Some(done) = set.join_next().await {
        if let Ok(Err(e)) = done {
            // Returning drops the set, which aborts the other two.
            return Box::new(e);
        }
    }
    Box::new(())
}
// ANCHOR_END: sibling-failed

/// A flag a task can wait for.
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// Polled once: the scenario raises the flag only after, so the
    /// first poll cannot already see it set on a slow machine.
    polled: AtomicBool,
}

// ANCHOR: lost-waker
/// Waits for the flag, forgetting to keep the waker.
struct Forgetful(Arc<Flag>);

impl Future for Forgetful {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0.polled.store(true, Ordering::Release);
        if self.0.set.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            // Pending, and no one was told how to wake this task.
            Poll::Pending
        }
    }
}

/// Waits for the flag, keeping the waker for whoever sets it.
struct Waiting(Arc<Flag>);

impl Future for Waiting {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Store first, then check: a set() between the two still wakes us.
        *self.0.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        self.0.polled.store(true, Ordering::Release);
        if self.0.set.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Flag {
    fn raise(&self) {
        self.set.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            w.wake();
        }
    }
}
// ANCHOR_END: lost-waker

impl Flag {
    /// Waits (up to 5 s) until the waiting task has been polled once.
    async fn until_polled(&self) {
        let until = Instant::now() + Duration::from_secs(5);
        while !self.polled.load(Ordering::Acquire) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn lost_waker_leak() -> Keep {
    let flag = Arc::new(Flag::default());
    spawn(Forgetful(flag.clone()));
    flag.until_polled().await;
    flag.raise();
    Box::new(flag)
}

async fn lost_waker_fixed() -> Keep {
    let flag = Arc::new(Flag::default());
    spawn(Waiting(flag.clone()));
    flag.until_polled().await;
    flag.raise();
    Box::new(flag)
}

/// Connects a client, sends one request, and hangs up.
async fn client_hangs_up(addr: std::net::SocketAddr) {
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"GET key\n").await.expect("send");
    drop(c);
}

// ANCHOR: abandoned
async fn abandoned_leak() -> Keep {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (backend, answer) = oneshot::channel::<Vec<u8>>();
    spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut req = [0u8; 64];
        let _ = sock.read(&mut req).await;
        // Waits for the backend, not watching the client.
        if let Ok(reply) = answer.await {
            let _ = sock.write_all(&reply).await;
        }
    });
    client_hangs_up(addr).await;
    Box::new(backend)
}

async fn abandoned_fixed() -> Keep {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (backend, answer) = oneshot::channel::<Vec<u8>>();
    spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut req = [0u8; 64];
        let _ = sock.read(&mut req).await;
        let (mut rd, mut wr) = sock.split();
        let mut probe = [0u8; 1];
        tokio::select! {
            reply = answer => if let Ok(reply) = reply {
                let _ = wr.write_all(&reply).await;
            },
            // Read returns 0 (or an error) when the client is gone.
            _ = rd.read(&mut probe) => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    });
    client_hangs_up(addr).await;
    Box::new(backend)
}
// ANCHOR_END: abandoned

// ANCHOR: blocking
async fn blocking_leak() -> Keep {
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    spawn_blocking(move || while rx.recv().is_ok() {});
    Box::new(Mutex::new(tx))
}

async fn blocking_fixed() -> Keep {
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let stop = CancellationToken::new();
    let s = stop.clone();
    let worker = spawn_blocking(move || {
        while !s.is_cancelled() {
            // Bounded waits, so cancellation is seen within 10 ms.
            let _ = rx.recv_timeout(Duration::from_millis(10));
        }
    });
    stop.cancel();
    let _ = worker.await;
    Box::new(Mutex::new(tx))
}
// ANCHOR_END: blocking

/// Which side of a case to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Leak,
    Fixed,
}

/// What a run of one side found.
#[derive(Debug)]
pub struct Outcome {
    pub tasks: Result<(), LeakReport>,
    pub resources: ResourceLeaks,
    /// How long the check took (start of verify to its answer).
    pub check_time: Duration,
}

/// Runs one side of a case in a fresh runtime. The resource look is
/// process-wide: run one case at a time.
pub fn run(case: &Case, side: Side, schedule: Schedule) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Threads are the runtime's own and leave with it.
    let resources = ResourceCheck::start()?.without_threads();
    let scenario = match side {
        Side::Leak => case.leak,
        Side::Fixed => case.fixed,
    };
    let (tasks, check_time, keep) = rt.block_on(async {
        let check = LeakCheck::start().schedule(schedule);
        let keep = scenario().await;
        let started = Instant::now();
        let tasks = check.verify().await;
        (tasks, started.elapsed(), keep)
    });
    // Sockets, before the runtime's shutdown closes them.
    let mut held = resources.look()?;
    held.fds.retain(|(_, t)| !t.starts_with("anon_inode:"));
    drop(keep);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(Outcome {
        tasks,
        resources: held,
        check_time,
    })
}

/// What `lab-06 catalog NAME` prints for one case: the leak's report, and
/// whether the fix passes.
pub fn describe(case: &Case, leak: &Outcome, fixed: &Outcome) -> String {
    let mut s = format!("{}: {}\n\nleak: ", case.name, case.what);
    match &leak.tasks {
        Ok(()) => s.push_str("the check found nothing (the catalog expects a leak)\n"),
        Err(report) => s.push_str(&report.to_string()),
    }
    if !leak.resources.close_wait.is_empty() {
        s.push_str(&leak.resources.to_string());
    }
    s.push_str(&format!("\nfixed ({}): ", case.fix));
    match &fixed.tasks {
        Ok(()) if fixed.resources.is_empty() => {
            s.push_str("no leaked tasks, no sockets left behind\n")
        }
        Ok(()) => s.push_str(&fixed.resources.to_string()),
        Err(report) => s.push_str(&report.to_string()),
    }
    s
}
