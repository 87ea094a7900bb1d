//! `coordinated-omission`: intended and actual send times when the target
//! stalls, for a closed-loop sender and an open-model one.
//!
//! Both clients follow lab-03's open-model schedule
//! ([`lab_03::schedule::Constant`], one request every 10 ms) against one
//! target that answers after 1 ms but stalls from 40 ms to 80 ms, the way
//! lab-03's stalling target does (`--stall-every 80ms --stall-for 40ms`:
//! stalls are the windows `[k·every − for, k·every)`, and anything due in
//! one waits for its end).
//!
//! - The **closed-loop** client has one request in flight: it sends at the
//!   intended time or, if it is still waiting for a reply then, as soon as
//!   the reply comes. During the stall it sends nothing, so it records
//!   one slow reply, then sends the overdue requests late, each answered
//!   in 1 ms. Measured from when it sent, it saw one slow request.
//! - The **open-model** client sends every request at its intended time,
//!   whatever happened to the others. Every request sent into the stall
//!   waits for its end, and latency measured from the intended time says
//!   so.
//!
//! lab-03's real engine and target run on sockets and the real clock, so
//! they cannot be replayed step by step; the scene runs the same schedule
//! and the same stall rule on tokio's paused clock instead, with the
//! target as a task behind a channel.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use lab_03::schedule::{Constant, Schedule};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::recorder::Recorder;
use crate::trace::{Clock, Kind, LaneKind, Trace};

pub const NAME: &str = "coordinated-omission";
pub const TITLE: &str = "A stall, seen by a closed-loop and an open-model client";

/// Requests per second, for both clients: one every 10 ms.
const RATE: f64 = 100.0;
/// Requests each client means to send.
const REQUESTS: usize = 12;
/// How long the healthy target takes to answer.
const DELAY_NS: u64 = 1_000_000;
/// Stall every this often…
const STALL_EVERY_NS: u64 = 80_000_000;
/// …for this long: the first stall is [40 ms, 80 ms).
const STALL_FOR_NS: u64 = 40_000_000;
/// A reply slower than this counts as slow.
const SLOW_NS: u64 = 5_000_000;

/// When a response due at `t` goes out: at once, or at the end of the
/// stall `t` falls in.
fn after_stall(t: u64) -> u64 {
    let into = t % STALL_EVERY_NS;
    if into >= STALL_EVERY_NS - STALL_FOR_NS {
        t - into + STALL_EVERY_NS
    } else {
        t
    }
}

fn ms(ns: u64) -> String {
    kit::fmt::fmt_ns(ns as f64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Closed,
    Open,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Closed => "closed",
            Model::Open => "open",
        }
    }
}

/// One request on its way to the target.
struct Request {
    model: Model,
    n: usize,
    sent_ns: u64,
    /// The client's send step, which the answer points back at.
    sent_step: usize,
    /// Gets the target's answer step.
    reply: oneshot::Sender<usize>,
}

/// One client's numbers, for the side panel.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// The last request sent: number, intended and actual send time.
    last: Option<(usize, u64, u64)>,
    answered: usize,
    slow_from_send: usize,
    slow_from_intended: usize,
}

#[derive(Debug, Default)]
struct Board {
    closed: Tally,
    open: Tally,
    target: String,
}

/// The scene's shared state: the recorder, its lanes and the panel.
#[derive(Clone)]
struct Scene {
    rec: Recorder,
    start: Instant,
    closed: usize,
    open: usize,
    target: usize,
    board: Arc<Mutex<Board>>,
}

impl Scene {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lane(&self, model: Model) -> usize {
        match model {
            Model::Closed => self.closed,
            Model::Open => self.open,
        }
    }

    /// Writes the panel from `board`; the next step carries it.
    fn show(&self, board: &Board) {
        for (section, t, what) in [
            ("closed loop", &board.closed, "one request in flight"),
            ("open model", &board.open, "sends on schedule"),
        ] {
            let mut lines = vec![what.to_owned()];
            if let Some((n, intended, sent)) = t.last {
                lines.push(format!(
                    "last sent: #{n}, intended {}, sent {}, lag {}",
                    ms(intended),
                    ms(sent),
                    ms(sent.saturating_sub(intended))
                ));
            }
            lines.push(format!(
                "slow replies (> {}): {} from send, {} from intended, of {} answered",
                ms(SLOW_NS),
                t.slow_from_send,
                t.slow_from_intended,
                t.answered
            ));
            self.rec.set(section, lines);
        }
        self.rec.set("target", vec![board.target.clone()]);
    }

    fn tally(board: &mut Board, model: Model) -> &mut Tally {
        match model {
            Model::Closed => &mut board.closed,
            Model::Open => &mut board.open,
        }
    }

    /// Records that `model` sends request `n`, intended at `intended`.
    fn sent(&self, model: Model, n: usize, intended: u64) -> (u64, usize) {
        let sent = self.now_ns();
        let mut board = self.board();
        Self::tally(&mut board, model).last = Some((n, intended, sent));
        self.show(&board);
        let lag = sent.saturating_sub(intended);
        let label = if lag == 0 {
            format!("sends #{n} on time ({})", ms(intended))
        } else {
            format!(
                "sends #{n} {} late: intended {}, sent {}",
                ms(lag),
                ms(intended),
                ms(sent)
            )
        };
        (sent, self.rec.step(self.lane(model), Kind::Send, label))
    }

    /// Records the reply to request `n` (answered by step `answer`).
    fn replied(&self, model: Model, n: usize, intended: u64, sent: u64, answer: usize) {
        let now = self.now_ns();
        let mut board = self.board();
        let t = Self::tally(&mut board, model);
        t.answered += 1;
        t.slow_from_send += usize::from(now.saturating_sub(sent) > SLOW_NS);
        t.slow_from_intended += usize::from(now.saturating_sub(intended) > SLOW_NS);
        self.show(&board);
        let label = if sent == intended {
            format!("#{n} answered after {}", ms(now.saturating_sub(sent)))
        } else {
            format!(
                "#{n} answered {} after it was sent, {} after it was due",
                ms(now.saturating_sub(sent)),
                ms(now.saturating_sub(intended))
            )
        };
        self.rec.caused(self.lane(model), Kind::Recv, label, answer);
    }

    fn target_says(&self, what: &str, kind: Kind, label: String) -> usize {
        let mut board = self.board();
        board.target = what.to_owned();
        self.show(&board);
        self.rec.step(self.target, kind, label)
    }
}

/// The target: answers each request `DELAY` after it arrived, or when the
/// stall it falls into ends. Requests arrive in order and the answer time
/// never decreases with the arrival time, so one loop answers them all in
/// order and on time.
async fn target(scene: Scene, mut rx: mpsc::Receiver<Request>) {
    while let Some(req) = rx.recv().await {
        let due = req.sent_ns + DELAY_NS;
        let out = after_stall(due);
        tokio::time::sleep_until(scene.start + Duration::from_nanos(out)).await;
        let held = if out > due {
            " (held by the stall)"
        } else {
            ""
        };
        let step = {
            let board = scene.board();
            scene.show(&board);
            scene.rec.caused(
                scene.target,
                Kind::Send,
                format!("answers {} #{}{held}", req.model.name(), req.n),
                req.sent_step,
            )
        };
        // A client that stopped listening is fine.
        let _ = req.reply.send(step);
    }
}

/// The stall's start and end, as notes on the target's lane.
async fn stall_notes(scene: Scene) {
    let start = STALL_EVERY_NS - STALL_FOR_NS;
    tokio::time::sleep_until(scene.start + Duration::from_nanos(start)).await;
    scene.target_says(
        &format!("stalled until {}: nothing is answered", ms(STALL_EVERY_NS)),
        Kind::Note,
        format!(
            "the stall begins: nothing is answered until {}",
            ms(STALL_EVERY_NS)
        ),
    );
    tokio::time::sleep_until(scene.start + Duration::from_nanos(STALL_EVERY_NS)).await;
    scene.target_says(
        &format!("serving: answers after {}", ms(DELAY_NS)),
        Kind::Note,
        "the stall ends: everything held is answered now".to_owned(),
    );
}

// ANCHOR: closed-vs-open
/// One request at a time: it cannot send the next before the reply.
async fn closed_loop(scene: Scene, tx: mpsc::Sender<Request>) {
    let mut schedule = Constant::new(RATE, Duration::ZERO);
    for n in 0..REQUESTS {
        let intended = schedule.next_ns();
        // Already past when the previous reply came late: sends at once.
        tokio::time::sleep_until(scene.start + Duration::from_nanos(intended)).await;
        let (sent, sent_step) = scene.sent(Model::Closed, n, intended);
        let (reply, answer) = oneshot::channel();
        let req = Request {
            model: Model::Closed,
            n,
            sent_ns: sent,
            sent_step,
            reply,
        };
        if tx.send(req).await.is_err() {
            return;
        }
        // The whole client waits here: this is the coordination.
        let Ok(step) = answer.await else { return };
        scene.replied(Model::Closed, n, intended, sent, step);
    }
}

/// Every request at its intended time, whatever the others are doing.
async fn open_model(scene: Scene, tx: mpsc::Sender<Request>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut schedule = Constant::new(RATE, Duration::ZERO);
    let mut waiting = Vec::new();
    for n in 0..REQUESTS {
        let intended = schedule.next_ns();
        tokio::time::sleep_until(scene.start + Duration::from_nanos(intended)).await;
        let (sent, sent_step) = scene.sent(Model::Open, n, intended);
        let (reply, answer) = oneshot::channel();
        let req = Request {
            model: Model::Open,
            n,
            sent_ns: sent,
            sent_step,
            reply,
        };
        if tx.send(req).await.is_err() {
            break;
        }
        // The reply is awaited on the side; the schedule goes on.
        let s = scene.clone();
        waiting.push(tokio::spawn(async move {
            if let Ok(step) = answer.await {
                s.replied(Model::Open, n, intended, sent, step);
            }
        }));
    }
    waiting
}
// ANCHOR_END: closed-vs-open

pub fn record() -> Result<Trace> {
    let rt = crate::tasks::paused_runtime()?;
    rt.block_on(async {
        let rec = Recorder::new(NAME, TITLE, Clock::Paused);
        let scene = Scene {
            closed: rec.lane("closed-loop client", LaneKind::Client),
            open: rec.lane("open-model client", LaneKind::Client),
            target: rec.lane("target", LaneKind::Task),
            rec,
            start: Instant::now(),
            board: Arc::new(Mutex::new(Board {
                target: format!("serving: answers after {}", ms(DELAY_NS)),
                ..Board::default()
            })),
        };
        let (tx, rx) = mpsc::channel(REQUESTS * 2);
        let server = tokio::spawn(target(scene.clone(), rx));
        let notes = tokio::spawn(stall_notes(scene.clone()));
        let closed = tokio::spawn(closed_loop(scene.clone(), tx.clone()));
        let open = tokio::spawn(open_model(scene.clone(), tx));
        closed.await?;
        for reply in open.await? {
            reply.await?;
        }
        notes.await?;
        // Both clients have dropped their Senders: the target's loop ends.
        server.await?;

        let board = scene.board();
        scene.show(&board);
        for (model, t) in [(Model::Closed, &board.closed), (Model::Open, &board.open)] {
            scene.rec.step(
                scene.lane(model),
                Kind::Note,
                format!(
                    "{} of {} replies slow measured from the send, {} measured from the intended time",
                    t.slow_from_send, t.answered, t.slow_from_intended
                ),
            );
        }
        Ok(scene.rec.trace())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stall_rule_matches_lab_03s_windows() {
        assert_eq!(after_stall(39_999_999), 39_999_999);
        assert_eq!(after_stall(40_000_000), 80_000_000);
        assert_eq!(after_stall(79_999_999), 80_000_000);
        assert_eq!(after_stall(80_000_000), 80_000_000);
        assert_eq!(after_stall(121_000_000), 160_000_000);
    }

    fn note(t: &Trace, lane: &str) -> String {
        let l = t.lanes.iter().position(|x| x.name == lane).unwrap();
        t.steps
            .iter()
            .rev()
            .find(|s| s.lane == l && s.kind == Kind::Note)
            .unwrap()
            .label
            .clone()
    }

    #[test]
    fn the_closed_loop_hides_the_stall_and_the_open_model_shows_it() {
        let t = record().unwrap();
        t.validate().unwrap();
        assert!((20..=150).contains(&t.steps.len()), "{}", t.steps.len());
        // Measured from the send, the closed loop saw one slow reply; from
        // the intended times, it is as bad as the open model's.
        assert_eq!(
            note(&t, "closed-loop client"),
            "1 of 12 replies slow measured from the send, 4 measured from the intended time"
        );
        assert_eq!(
            note(&t, "open-model client"),
            "4 of 12 replies slow measured from the send, 4 measured from the intended time"
        );
        let text = t.outline().join("\n");
        assert!(text.contains("the stall begins"), "{text}");
        assert!(text.contains("the stall ends"), "{text}");
        assert!(text.contains("late: intended"), "{text}");
        // Every answer points at its request, every reply at its answer.
        for s in &t.steps {
            if s.kind == Kind::Recv {
                let a = &t.steps[s.cause.unwrap()];
                assert_eq!(a.kind, Kind::Send);
                assert_eq!(t.lanes[a.lane].name, "target");
            }
        }
    }

    #[test]
    fn records_the_same_trace_twice() {
        assert_eq!(record().unwrap(), record().unwrap());
    }
}
