//! Recording tokio tasks: spawn, each poll, who woke whom, and the exit.
//!
//! A task to record is wrapped in [`Recorded`] ([`Tasks::spawn`] or
//! [`Tasks::wrap`]). The wrapper records `spawn` when it is made,
//! `poll-start`/`poll-end` around every poll, and `exit` when the future
//! returns (or is dropped unfinished: aborted, or its runtime shut down).
//!
//! Wakes are the interesting part. Each poll hands the future a waker of
//! our own that wraps the runtime's. When anyone calls it, we record a
//! `wake` step on the woken task's lane whose cause is the latest step of
//! whoever is running on this thread at that moment: the task being
//! polled (kept in a thread-local while its poll runs), or, when no
//! recorded task is running, the runtime itself: its I/O driver, its timer
//! or its list of deferred yields
//! (a `ready` step on a lane of their own). Only the first wake between
//! two polls is recorded; the runtime schedules a task once however often
//! it is woken.
//!
//! Under a `current_thread` runtime with a paused clock
//! (`start_paused(true)`) one thread runs everything in an order fixed by
//! the program, and time moves only when every task waits, so a recording
//! is the same every time. Avoid what draws random numbers: `select!`
//! without `biased;` picks its first branch at random.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::recorder::Recorder;
use crate::trace::{Kind, LaneKind};

/// The lane of wakes that come from no task.
pub const DRIVER_LANE: &str = "runtime";

/// What the running task on this thread is, for the wakes it causes.
#[derive(Debug, Clone, Copy)]
struct Current {
    /// Which [`Tasks`] it belongs to: a waker of one recording must not
    /// name a step of another.
    recording: u64,
    task: usize,
    /// The task's latest step: what a wake it causes points at.
    last: usize,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// Sets the thread's running task until dropped, then restores the one
/// before (a recorded future may be awaited inside another).
struct Enter {
    prev: Option<Current>,
}

impl Enter {
    fn new(now: Option<Current>) -> Self {
        Self {
            prev: CURRENT.replace(now),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.set(self.prev);
    }
}

/// Where a task is in its life, for the side panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Spawned, not polled yet (already scheduled).
    Spawned,
    Running,
    /// Returned `Pending` and nobody has woken it since.
    Waiting,
    /// Woken: scheduled, waiting for its next poll.
    Woken,
    Exited,
}

#[derive(Debug)]
struct Entry {
    name: String,
    lane: usize,
    status: Status,
}

#[derive(Debug, Default)]
struct Board {
    tasks: Vec<Entry>,
    /// No more steps: the scene has taken its trace.
    closed: bool,
}

struct Shared {
    id: u64,
    panel: Option<String>,
    board: Mutex<Board>,
}

/// Records tokio tasks into a [`Recorder`]. Cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    rec: Recorder,
    shared: Arc<Shared>,
}

/// Why a spawned task's output never arrived.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the task was dropped before it finished (aborted, panicked, or its runtime shut down)")]
pub struct Gone;

impl Tasks {
    /// Records tasks into `rec`, with no side panel of its own.
    pub fn new(rec: &Recorder) -> Self {
        Self::make(rec, None)
    }

    /// Records tasks into `rec` and keeps side-panel section `section`
    /// listing the live tasks and what each is doing.
    pub fn with_panel(rec: &Recorder, section: &str) -> Self {
        Self::make(rec, Some(section.to_owned()))
    }

    fn make(rec: &Recorder, panel: Option<String>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            rec: rec.clone(),
            shared: Arc::new(Shared {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                panel,
                board: Mutex::new(Board::default()),
            }),
        }
    }

    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // Recording appends; a panic halfway leaves nothing inconsistent
        // that a later step relies on.
        self.shared.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running recorded task of this recording on this thread.
    fn current(&self) -> Option<Current> {
        CURRENT.get().filter(|c| c.recording == self.shared.id)
    }

    /// Records a step on task `task`'s lane after setting its status (the
    /// panel is written first, so the step carries it). `None` once the
    /// recording is closed.
    fn record(
        &self,
        board: &mut Board,
        task: usize,
        status: Status,
        kind: Kind,
        label: String,
        cause: Option<usize>,
    ) -> Option<usize> {
        if board.closed {
            return None;
        }
        let entry = board.tasks.get_mut(task)?;
        entry.status = status;
        let lane = entry.lane;
        self.write_panel(board);
        Some(match cause {
            Some(c) => self.rec.caused(lane, kind, label, c),
            None => self.rec.step(lane, kind, label),
        })
    }

    fn write_panel(&self, board: &Board) {
        let Some(section) = &self.shared.panel else {
            return;
        };
        let mut lines: Vec<String> = board
            .tasks
            .iter()
            .filter(|t| t.status != Status::Exited)
            .map(|t| {
                let what = match t.status {
                    Status::Spawned => "spawned, not polled yet",
                    Status::Running => "running (being polled)",
                    Status::Waiting => "waiting to be woken",
                    Status::Woken => "woken, waiting for its turn",
                    Status::Exited => "exited",
                };
                format!("{}: {what}", t.name)
            })
            .collect();
        if lines.is_empty() {
            lines.push("none".to_owned());
        }
        self.rec.set(section, lines);
    }

    /// Wraps `fut` as task `name` (a lane of its own) and records its
    /// spawn, caused by the running recorded task if there is one. Use it
    /// for spawners other than [`Tasks::spawn`] (`block_on`, a `JoinSet`,
    /// a `TaskTracker`). Two tasks with one name get `name (2)`.
    pub fn wrap<F: Future>(&self, name: &str, fut: F) -> Recorded<F> {
        let parent = self.current();
        let mut board = self.board();
        let taken = |n: &str| board.tasks.iter().any(|t| t.name == n);
        let mut unique = name.to_owned();
        let mut k = 2;
        while taken(&unique) {
            unique = format!("{name} ({k})");
            k += 1;
        }
        let lane = self.rec.lane(&unique, LaneKind::Task);
        let task = board.tasks.len();
        board.tasks.push(Entry {
            name: unique,
            lane,
            status: Status::Spawned,
        });
        let label = match parent.and_then(|p| board.tasks.get(p.task)) {
            Some(p) => format!("spawned by {}", p.name),
            None => "spawned".to_owned(),
        };
        self.record(
            &mut board,
            task,
            Status::Spawned,
            Kind::Spawn,
            label,
            parent.map(|p| p.last),
        );
        Recorded {
            fut: Some(Box::pin(fut)),
            task,
            exit: None,
            tasks: self.clone(),
        }
    }

    /// `tokio::spawn`, recorded as task `name`. The output is handed over
    /// inside the task's last poll, so whoever awaits the [`Join`] is woken
    /// by the task's `exit` step (tokio's own `JoinHandle` is woken after
    /// the poll, where the wake would look like the runtime's).
    pub fn spawn<F>(&self, name: &str, fut: F) -> Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(Deliver {
            inner: self.wrap(name, fut),
            tx: Some(tx),
        });
        Join { rx, handle }
    }

    /// Records a step on the running task's lane (a send, a receive, a
    /// note) and makes it the step later wakes from this poll point at.
    /// `None` outside a recorded task, or once the recording is closed.
    pub fn step(&self, kind: Kind, label: impl Into<String>) -> Option<usize> {
        self.step_caused(kind, label, None)
    }

    /// [`Tasks::step`] with a cause.
    pub fn step_caused(
        &self,
        kind: Kind,
        label: impl Into<String>,
        cause: Option<usize>,
    ) -> Option<usize> {
        let mut cur = self.current()?;
        let mut board = self.board();
        let i = self.record(
            &mut board,
            cur.task,
            Status::Running,
            kind,
            label.into(),
            cause,
        )?;
        cur.last = i;
        CURRENT.set(Some(cur));
        Some(i)
    }

    /// Ends the recording: nothing after this is recorded (a leaked task
    /// dropped when the runtime shuts down must not look as if it ended).
    pub fn close(&self) {
        self.board().closed = true;
    }

    /// The names of the tasks that have not exited, in spawn order.
    pub fn live(&self) -> Vec<String> {
        self.board()
            .tasks
            .iter()
            .filter(|t| t.status != Status::Exited)
            .map(|t| t.name.clone())
            .collect()
    }

    /// Records that `task` was woken, by the running task or the driver.
    fn woken(&self, task: usize) {
        let cur = self.current();
        let mut board = self.board();
        if board.closed {
            return;
        }
        let Some(entry) = board.tasks.get(task) else {
            return;
        };
        // Already scheduled (or gone): the runtime ignores this wake too.
        if matches!(
            entry.status,
            Status::Spawned | Status::Woken | Status::Exited
        ) {
            return;
        }
        let (cause, label) = match cur.and_then(|c| Some((c, board.tasks.get(c.task)?))) {
            Some((c, _)) if c.task == task => (c.last, "wakes itself".to_owned()),
            Some((c, by)) => (c.last, format!("woken by {}", by.name)),
            None => {
                let lane = self.rec.lane(DRIVER_LANE, LaneKind::Driver);
                let ready = self.rec.step(
                    lane,
                    Kind::Ready,
                    format!(
                        "wakes {} from outside any task: a timer, a socket, or a deferred yield",
                        entry.name
                    ),
                );
                (ready, "woken by the runtime".to_owned())
            }
        };
        self.record(
            &mut board,
            task,
            Status::Woken,
            Kind::Wake,
            label,
            Some(cause),
        );
    }
}

// ANCHOR: waker
/// The waker a recorded task's future sees: it records the wake, then
/// wakes the task the way the runtime's own waker would.
struct TaskWaker {
    inner: Waker,
    task: usize,
    tasks: Tasks,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.tasks.woken(self.task);
        match Arc::try_unwrap(self) {
            Ok(this) => this.inner.wake(),
            Err(shared) => shared.inner.wake_by_ref(),
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.tasks.woken(self.task);
        self.inner.wake_by_ref();
    }
}

/// A future recorded as a task (see the module docs).
pub struct Recorded<F: Future> {
    /// Boxed so the wrapper is `Unpin` without any `unsafe` pinning;
    /// `None` once it has returned.
    fut: Option<Pin<Box<F>>>,
    task: usize,
    /// The `exit` step, once recorded.
    exit: Option<usize>,
    tasks: Tasks,
}

impl<F: Future> Future for Recorded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            // Polled again after returning: it never resolves twice.
            return Poll::Pending;
        };
        let tasks = &this.tasks;
        let start = {
            let mut board = tasks.board();
            tasks.record(
                &mut board,
                this.task,
                Status::Running,
                Kind::PollStart,
                "polled".into(),
                None,
            )
        };
        let running = start.map(|last| Current {
            recording: tasks.shared.id,
            task: this.task,
            last,
        });
        let enter = Enter::new(running);
        let waker = Waker::from(Arc::new(TaskWaker {
            inner: cx.waker().clone(),
            task: this.task,
            tasks: tasks.clone(),
        }));
        let out = fut.as_mut().poll(&mut Context::from_waker(&waker));
        if out.is_ready() {
            // Dropped while this task is still the running one, so what
            // its drop wakes (a channel's other end, a TaskTracker) is
            // put down to this task, not to the runtime.
            this.fut = None;
        }
        drop(enter);
        let mut board = tasks.board();
        match out {
            Poll::Ready(v) => {
                tasks.record(
                    &mut board,
                    this.task,
                    Status::Running,
                    Kind::PollEnd,
                    "returns Ready".into(),
                    None,
                );
                this.exit = tasks.record(
                    &mut board,
                    this.task,
                    Status::Exited,
                    Kind::Exit,
                    "finished".into(),
                    None,
                );
                Poll::Ready(v)
            }
            Poll::Pending => {
                // Woken during its own poll (a yield): it stays scheduled.
                let woken = board
                    .tasks
                    .get(this.task)
                    .is_some_and(|t| t.status == Status::Woken);
                let status = if woken {
                    Status::Woken
                } else {
                    Status::Waiting
                };
                tasks.record(
                    &mut board,
                    this.task,
                    status,
                    Kind::PollEnd,
                    "returns Pending".into(),
                    None,
                );
                Poll::Pending
            }
        }
    }
}
// ANCHOR_END: waker

impl<F: Future> Drop for Recorded<F> {
    fn drop(&mut self) {
        let Some(fut) = self.fut.take() else {
            return;
        };
        let exit = {
            let mut board = self.tasks.board();
            self.tasks.record(
                &mut board,
                self.task,
                Status::Exited,
                Kind::Exit,
                "dropped before it finished (aborted, or its runtime shut down)".into(),
                None,
            )
        };
        let _enter = Enter::new(exit.map(|last| Current {
            recording: self.tasks.shared.id,
            task: self.task,
            last,
        }));
        drop(fut);
    }
}

/// A recorded task that hands its output to a [`Join`] inside its last
/// poll.
struct Deliver<F: Future> {
    inner: Recorded<F>,
    tx: Option<oneshot::Sender<F::Output>>,
}

impl<F: Future> Deliver<F> {
    /// Runs `f` as the task, at its exit step (for the wakes `f` causes).
    fn as_task(&mut self, f: impl FnOnce(&mut Self)) {
        let running = self.inner.exit.map(|last| Current {
            recording: self.inner.tasks.shared.id,
            task: self.inner.task,
            last,
        });
        let _enter = Enter::new(running);
        f(self);
    }
}

impl<F: Future> Future for Deliver<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(v) => {
                this.as_task(|d| {
                    if let Some(tx) = d.tx.take() {
                        // Nobody waiting for the output is fine.
                        let _ = tx.send(v);
                    }
                });
                Poll::Ready(())
            }
        }
    }
}

impl<F: Future> Drop for Deliver<F> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // Unfinished: record the exit first, then let the joiner know
            // as this task.
            if let Some(fut) = self.inner.fut.take() {
                let exit = {
                    let mut board = self.inner.tasks.board();
                    self.inner.tasks.record(
                        &mut board,
                        self.inner.task,
                        Status::Exited,
                        Kind::Exit,
                        "dropped before it finished (aborted, or its runtime shut down)".into(),
                        None,
                    )
                };
                self.inner.exit = exit;
                self.as_task(|d| {
                    drop(fut);
                    d.tx.take();
                });
            }
        }
    }
}

/// The handle [`Tasks::spawn`] returns: await it for the task's output.
pub struct Join<T> {
    rx: oneshot::Receiver<T>,
    handle: JoinHandle<()>,
}

impl<T> Join<T> {
    /// Cancels the task (its `exit` step says it was dropped).
    pub fn abort(&self) {
        self.handle.abort();
    }
}

impl<T> Future for Join<T> {
    type Output = Result<T, Gone>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().rx)
            .poll(cx)
            .map(|r| r.map_err(|_| Gone))
    }
}

/// A `current_thread` runtime with the clock paused: the runtime every
/// task scene records under.
pub fn paused_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::{Clock, LaneKind, Trace};

    /// Runs `body` as task "main" on a paused runtime and returns the trace.
    fn record<Fut>(body: impl FnOnce(Tasks) -> Fut) -> Trace
    where
        Fut: Future<Output = ()>,
    {
        let rt = paused_runtime().unwrap();
        let trace = rt.block_on(async {
            let rec = Recorder::new("t", "t", Clock::Paused);
            let tasks = Tasks::with_panel(&rec, "live tasks");
            tasks.wrap("main", body(tasks.clone())).await;
            tasks.close();
            rec.trace()
        });
        trace.validate().unwrap();
        trace
    }

    fn lane(t: &Trace, name: &str) -> usize {
        t.lanes.iter().position(|l| l.name == name).unwrap()
    }

    fn steps_on(t: &Trace, lane: usize, kind: Kind) -> Vec<usize> {
        (0..t.steps.len())
            .filter(|&i| t.steps[i].lane == lane && t.steps[i].kind == kind)
            .collect()
    }

    async fn channel_scene(tasks: Tasks) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
        let t = tasks.clone();
        let receiver = tasks.spawn("receiver", async move {
            let got = rx.recv().await;
            t.step(Kind::Recv, "gets the message");
            got
        });
        let t = tasks.clone();
        let sender = tasks.spawn("sender", async move {
            t.step(Kind::Send, "sends 7");
            let _ = tx.send(7).await;
        });
        assert_eq!(receiver.await, Ok(Some(7)));
        assert_eq!(sender.await, Ok(()));
    }

    #[test]
    fn a_send_wakes_the_receiver_and_the_wake_points_at_the_send() {
        let t = record(channel_scene);
        let (rx, tx) = (lane(&t, "receiver"), lane(&t, "sender"));
        let send = steps_on(&t, tx, Kind::Send);
        assert_eq!(send.len(), 1);
        let wakes = steps_on(&t, rx, Kind::Wake);
        assert_eq!(wakes.len(), 1, "{:#?}", t.outline());
        assert_eq!(t.steps[wakes[0]].cause, Some(send[0]));
        assert_eq!(t.steps[wakes[0]].label, "woken by sender");
        // Both ran to the end, and the receiver's poll after the wake got it.
        for l in [rx, tx] {
            assert_eq!(steps_on(&t, l, Kind::Exit).len(), 1);
            assert_eq!(
                steps_on(&t, l, Kind::PollStart).len(),
                steps_on(&t, l, Kind::PollEnd).len()
            );
        }
        let recv = steps_on(&t, rx, Kind::Recv);
        assert!(recv[0] > wakes[0]);
        // main is woken by the receiver's exit, not by the runtime.
        let main = lane(&t, "main");
        let first_wake = steps_on(&t, main, Kind::Wake)[0];
        let exit = steps_on(&t, rx, Kind::Exit)[0];
        assert_eq!(t.steps[first_wake].cause, Some(exit));
        // The spawns point at main's poll.
        let spawn = steps_on(&t, rx, Kind::Spawn)[0];
        assert_eq!(t.steps[t.steps[spawn].cause.unwrap()].lane, main);
    }

    #[test]
    fn a_sleep_is_woken_from_the_driver_lane_at_its_deadline() {
        let t = record(|tasks| async move {
            let j = tasks.spawn("sleeper", async {
                tokio::time::sleep(Duration::from_millis(5)).await;
            });
            let _ = j.await;
        });
        let sleeper = lane(&t, "sleeper");
        let wakes = steps_on(&t, sleeper, Kind::Wake);
        assert_eq!(wakes.len(), 1);
        let w = &t.steps[wakes[0]];
        assert_eq!(w.t_ns, 5_000_000);
        let cause = &t.steps[w.cause.unwrap()];
        assert_eq!(t.lanes[cause.lane].kind, LaneKind::Driver);
        assert_eq!(t.lanes[cause.lane].name, DRIVER_LANE);
        assert_eq!(cause.kind, Kind::Ready);
    }

    #[test]
    fn an_aborted_task_exits_as_dropped_and_its_joiner_hears_so() {
        let t = record(|tasks| async move {
            let j = tasks.spawn("forever", std::future::pending::<()>());
            tokio::time::sleep(Duration::from_millis(1)).await;
            j.abort();
            assert_eq!(j.await, Err(Gone));
        });
        let f = lane(&t, "forever");
        let exits = steps_on(&t, f, Kind::Exit);
        assert_eq!(exits.len(), 1);
        assert!(t.steps[exits[0]].label.contains("dropped"));
        assert_eq!(
            t.steps[exits[0]].state["live tasks"],
            ["main: waiting to be woken"]
        );
        // The joiner learns it from the task's exit.
        let main = lane(&t, "main");
        let woken = steps_on(&t, main, Kind::Wake);
        assert_eq!(t.steps[*woken.last().unwrap()].cause, Some(exits[0]));
    }

    #[test]
    fn the_panel_lists_live_tasks_and_closing_stops_recording() {
        let rt = paused_runtime().unwrap();
        let (rec, live) = rt.block_on(async {
            let rec = Recorder::new("t", "t", Clock::Paused);
            let tasks = Tasks::with_panel(&rec, "live tasks");
            let _leaked = tasks.spawn("stuck", std::future::pending::<()>());
            tokio::time::sleep(Duration::from_millis(1)).await;
            tasks.close();
            (rec, tasks.live())
        });
        let before = rec.len();
        // Shutting the runtime down drops the stuck task: not recorded.
        drop(rt);
        assert_eq!(rec.len(), before);
        assert_eq!(live, ["stuck"]);
        let trace = rec.trace();
        let last = trace.steps.last().unwrap();
        assert_eq!(last.state["live tasks"], ["stuck: waiting to be woken"]);
        assert!(trace.steps.iter().all(|s| s.kind != Kind::Exit));
    }

    #[test]
    fn a_recording_is_the_same_every_time() {
        assert_eq!(record(channel_scene), record(channel_scene));
    }
}
