//! The same trace in two more shapes: Chrome trace-event JSON (for
//! Perfetto and `chrome://tracing`) and a text outline (one line per step,
//! for readers without JavaScript and for the search index).
//!
//! The Chrome form maps the compact trace like this:
//!
//! - one process (`pid` 1); each lane is a thread (`tid` = lane + 1),
//!   named by an `M` `thread_name` event and kept in lane order;
//! - `poll-start`…`poll-end` and `lock-acquire`…`lock-release` on one lane
//!   become `B`/`E` slices. A lane that has both (a task holding a lock
//!   across an `.await`) gets its lock slices on a second track, "LANE ·
//!   locks", because Chrome slices on one thread must nest and a held lock
//!   outlives the poll that took it. A slice still open at the end of the
//!   trace (a task that never returns) is closed at the last step, with
//!   `"unfinished": true` in its arguments;
//! - every step is also a short `X` slice of its own, named by its label
//!   (its *mark*): nested inside an open poll or lock slice, or, for the
//!   step that closes one, just after it;
//! - a cause is a flow: `s` at the causing step's mark, `f` (`bp: "e"`)
//!   at the caused step's mark, both with the caused step's index as
//!   `id`. A flow event binds to the slice around it, and the marks are
//!   there so that every one has a slice to bind to.
//!
//! Timestamps are microseconds, strictly increasing from step to step. On
//! a paused clock a whole poll takes no virtual time, so many steps share
//! one instant; the export spaces such steps 1 µs apart so that slices and
//! arrows stay visible (the recorded time is in every event's
//! `args.t_ns`). A real-clock trace keeps its times, moved by at most a
//! nanosecond where two steps share one.

use serde_json::{Value, json};

use crate::trace::{Clock, Kind, Trace};

/// The gap between steps that share a paused-clock instant, in µs.
const PAUSED_SPACING_US: f64 = 1.0;
/// The least gap between two real-clock steps, in µs (a nanosecond).
const REAL_SPACING_US: f64 = 0.001;

/// What a step does to the slices of its lane.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pair {
    Poll,
    Lock,
}

fn opens(kind: Kind) -> Option<Pair> {
    match kind {
        Kind::PollStart => Some(Pair::Poll),
        Kind::LockAcquire => Some(Pair::Lock),
        _ => None,
    }
}

fn closes(kind: Kind) -> Option<Pair> {
    match kind {
        Kind::PollEnd => Some(Pair::Poll),
        Kind::LockRelease => Some(Pair::Lock),
        _ => None,
    }
}

impl Trace {
    /// The trace as Chrome trace-event JSON (see the module docs).
    pub fn to_chrome(&self) -> Value {
        let ts = self.chrome_times();
        let lanes = self.lanes.len();
        // Lanes whose lock slices need a track of their own.
        let mut has = vec![(false, false); lanes];
        for s in &self.steps {
            if let Some(h) = has.get_mut(s.lane) {
                match opens(s.kind).or(closes(s.kind)) {
                    Some(Pair::Poll) => h.0 = true,
                    Some(Pair::Lock) => h.1 = true,
                    None => {}
                }
            }
        }
        let lock_track = |lane: usize| has.get(lane).is_some_and(|&(p, l)| p && l);
        let tid = |lane: usize, kind: Kind| -> usize {
            let pair = opens(kind).or(closes(kind));
            if pair == Some(Pair::Lock) && lock_track(lane) {
                lanes + lane + 1
            } else {
                lane + 1
            }
        };

        let mut events = vec![json!({
            "ph": "M", "name": "process_name", "pid": 1, "tid": 0,
            "args": { "name": format!("lab-07 · {}", self.scene) },
        })];
        for (i, lane) in self.lanes.iter().enumerate() {
            events.push(json!({
                "ph": "M", "name": "thread_name", "pid": 1, "tid": i + 1,
                "args": { "name": lane.name },
            }));
            events.push(json!({
                "ph": "M", "name": "thread_sort_index", "pid": 1, "tid": i + 1,
                "args": { "sort_index": 2 * i },
            }));
            if lock_track(i) {
                events.push(json!({
                    "ph": "M", "name": "thread_name", "pid": 1, "tid": lanes + i + 1,
                    "args": { "name": format!("{} · locks", lane.name) },
                }));
                events.push(json!({
                    "ph": "M", "name": "thread_sort_index", "pid": 1, "tid": lanes + i + 1,
                    "args": { "sort_index": 2 * i + 1 },
                }));
            }
        }

        // Each step's mark: a quarter of the gap to the next step, so it
        // ends before anything after it starts; after a closing step's end,
        // so it never straddles the slice it closes.
        let marks: Vec<(f64, f64)> = (0..self.steps.len())
            .map(|i| {
                let gap = ts.get(i + 1).map_or(PAUSED_SPACING_US, |n| n - ts[i]);
                let q = gap / 4.0;
                if closes(self.steps[i].kind).is_some() {
                    (ts[i] + q, q)
                } else {
                    (ts[i], q)
                }
            })
            .collect();
        // Open slices per (track, pair): the steps that opened them.
        let mut open: Vec<(usize, Pair, usize)> = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let t = tid(s.lane, s.kind);
            let args = json!({ "step": i, "kind": s.kind.as_str(), "t_ns": s.t_ns });
            if let Some(pair) = opens(s.kind) {
                open.push((t, pair, i));
                events.push(json!({
                    "ph": "B", "name": s.label, "cat": s.kind.as_str(),
                    "pid": 1, "tid": t, "ts": ts[i], "args": args,
                }));
            } else if let Some(pair) = closes(s.kind)
                && let Some(at) = open.iter().rposition(|&(ot, op, _)| ot == t && op == pair)
            {
                // Chrome closes the innermost slice of a thread, so only a
                // properly nested end may close; anything else would end
                // the wrong slice.
                let innermost = open.iter().rposition(|&(ot, _, _)| ot == t) == Some(at);
                if innermost {
                    open.remove(at);
                    events.push(json!({
                        "ph": "E", "pid": 1, "tid": t, "ts": ts[i],
                        "args": { "end": s.label, "end_step": i, "end_t_ns": s.t_ns },
                    }));
                }
            }
            let (start, dur) = marks[i];
            events.push(json!({
                "ph": "X", "name": s.label, "cat": s.kind.as_str(),
                "pid": 1, "tid": t, "ts": start, "dur": dur, "args": args,
            }));
            if let Some(c) = s.cause
                && let Some(cs) = self.steps.get(c)
            {
                events.push(json!({
                    "ph": "s", "id": i, "name": "cause", "cat": "cause",
                    "pid": 1, "tid": tid(cs.lane, cs.kind), "ts": marks[c].0,
                }));
                events.push(json!({
                    "ph": "f", "bp": "e", "id": i, "name": "cause", "cat": "cause",
                    "pid": 1, "tid": t, "ts": start,
                }));
            }
        }
        let end = ts.last().copied().unwrap_or(0.0);
        while let Some((t, _, started)) = open.pop() {
            events.push(json!({
                "ph": "E", "pid": 1, "tid": t, "ts": end,
                "args": { "unfinished": true, "opened_at_step": started },
            }));
        }

        json!({
            "traceEvents": events,
            "displayTimeUnit": "ns",
            "otherData": {
                "format": self.format,
                "scene": self.scene,
                "title": self.title,
                "clock": match self.clock { Clock::Paused => "paused", Clock::Real => "real" },
                "note": match self.clock {
                    Clock::Paused => "paused clock: steps at one virtual instant are spaced 1 µs apart; args.t_ns is the recorded time",
                    Clock::Real => "real clock: times as recorded",
                },
            },
        })
    }

    /// Each step's Chrome timestamp, in µs (see the module docs).
    fn chrome_times(&self) -> Vec<f64> {
        let mut out: Vec<f64> = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let t = s.t_ns as f64 / 1e3;
            let t = match (self.clock, out.last()) {
                (Clock::Paused, Some(&prev)) => t.max(prev + PAUSED_SPACING_US),
                (Clock::Real, Some(&prev)) => t.max(prev + REAL_SPACING_US),
                (_, None) => t,
            };
            out.push(t);
        }
        out
    }

    /// One readable line per step: `12 · 40.00 ms · target · label ← step 9`.
    pub fn outline(&self) -> Vec<String> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let lane = self.lanes.get(s.lane).map_or("?", |l| l.name.as_str());
                let mut line = format!(
                    "{i} · {} · {lane} · {}",
                    kit::fmt::fmt_ns(s.t_ns as f64),
                    s.label
                );
                if let Some(c) = s.cause {
                    line.push_str(&format!(" ← step {c}"));
                }
                line
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::recorder::Recorder;
    use crate::trace::LaneKind;

    /// A task polled twice, holding a lock across its first `.await` and
    /// never finishing its second poll; woken by a sender.
    fn sample(clock: Clock) -> Trace {
        let rec = Recorder::new("sample", "Sample", clock);
        let a = rec.lane("task A", LaneKind::Task);
        let b = rec.lane("thread B", LaneKind::Thread);
        rec.step(a, Kind::Spawn, "spawned");
        let p = rec.step(a, Kind::PollStart, "polled");
        rec.step(a, Kind::LockAcquire, "takes the lock");
        rec.step(a, Kind::PollEnd, "Pending");
        let send = rec.step(b, Kind::Send, "sends");
        rec.caused(a, Kind::Wake, "woken by B", send);
        rec.step(a, Kind::PollStart, "polled");
        rec.step(a, Kind::LockRelease, "lets go");
        rec.caused(b, Kind::Recv, "gets the reply", p);
        rec.trace()
    }

    /// Equal, except that numbers may differ in their last bits.
    fn close(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0)
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| close(a, b)))
            }
            _ => a == b,
        }
    }

    fn events(v: &Value) -> &Vec<Value> {
        v["traceEvents"]
            .as_array()
            .expect("traceEvents is an array")
    }

    #[test]
    fn chrome_json_has_the_documented_shape() {
        let v = sample(Clock::Real).to_chrome();
        assert_eq!(v["displayTimeUnit"], "ns");
        assert_eq!(v["otherData"]["scene"], "sample");
        // It round-trips through text, as a file would (floats to within
        // a rounding error: serde_json's default parser may miss the last
        // bit).
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert!(close(&back, &v), "{back}\n{v}");
        let names: Vec<&str> = events(&v)
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .filter_map(|e| e["args"]["name"].as_str())
            .collect();
        assert_eq!(names, ["task A", "task A · locks", "thread B"]);
        for e in events(&v) {
            assert_eq!(e["pid"], 1);
            if e["ph"] != "M" {
                assert!(e["ts"].is_f64(), "ts must be µs as a float: {e}");
            }
            if e["ph"] == "X" {
                assert!(e["dur"].as_f64().unwrap() > 0.0, "{e}");
                assert!(e["name"].is_string());
            }
        }
    }

    #[test]
    fn every_begin_has_an_end_on_its_thread_and_slices_nest() {
        for clock in [Clock::Real, Clock::Paused] {
            let v = sample(clock).to_chrome();
            let mut stacks: HashMap<u64, Vec<f64>> = HashMap::new();
            let (mut begins, mut ends) = (0, 0);
            for e in events(&v) {
                let tid = e["tid"].as_u64().unwrap();
                match e["ph"].as_str().unwrap() {
                    "B" => {
                        begins += 1;
                        stacks
                            .entry(tid)
                            .or_default()
                            .push(e["ts"].as_f64().unwrap());
                    }
                    "E" => {
                        ends += 1;
                        let start = stacks.get_mut(&tid).and_then(Vec::pop);
                        let start = start.unwrap_or_else(|| panic!("E without B on {tid}"));
                        assert!(e["ts"].as_f64().unwrap() >= start);
                    }
                    _ => {}
                }
            }
            assert!(stacks.values().all(Vec::is_empty), "{stacks:?}");
            // Two polls and one lock hold; the second poll never ended.
            assert_eq!((begins, ends), (3, 3));
            let unfinished = events(&v)
                .iter()
                .filter(|e| e["args"]["unfinished"] == true)
                .count();
            assert_eq!(unfinished, 1);
        }
    }

    #[test]
    fn causes_become_paired_flows() {
        let t = sample(Clock::Real);
        let v = t.to_chrome();
        let mut starts = HashMap::new();
        let mut finishes = HashMap::new();
        for e in events(&v) {
            match e["ph"].as_str() {
                Some("s") => {
                    assert!(
                        starts
                            .insert(e["id"].as_u64().unwrap(), e.clone())
                            .is_none()
                    );
                }
                Some("f") => {
                    assert_eq!(e["bp"], "e");
                    assert!(
                        finishes
                            .insert(e["id"].as_u64().unwrap(), e.clone())
                            .is_none()
                    );
                }
                _ => {}
            }
        }
        let caused: Vec<u64> = t
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.cause.is_some())
            .map(|(i, _)| i as u64)
            .collect();
        let mut ids: Vec<u64> = starts.keys().copied().collect();
        ids.sort_unstable();
        assert_eq!(ids, caused);
        for (id, s) in &starts {
            let f = &finishes[id];
            assert!(f["ts"].as_f64() >= s["ts"].as_f64());
        }
        // The wake's arrow leaves B's thread and lands on A's.
        assert_eq!(starts[&5]["tid"], 2);
        assert_eq!(finishes[&5]["tid"], 1);
    }

    #[test]
    fn every_flow_event_lies_inside_a_slice_on_its_thread() {
        for clock in [Clock::Real, Clock::Paused] {
            let v = sample(clock).to_chrome();
            // Every slice as (tid, start, end), B/E paired per thread.
            let mut slices = Vec::new();
            let mut stacks: HashMap<u64, Vec<f64>> = HashMap::new();
            for e in events(&v) {
                let tid = e["tid"].as_u64().unwrap();
                let ts = e["ts"].as_f64().unwrap_or(0.0);
                match e["ph"].as_str().unwrap() {
                    "B" => stacks.entry(tid).or_default().push(ts),
                    "E" => {
                        let b = stacks.get_mut(&tid).and_then(Vec::pop).unwrap();
                        slices.push((tid, b, ts));
                    }
                    "X" => slices.push((tid, ts, ts + e["dur"].as_f64().unwrap())),
                    _ => {}
                }
            }
            let flows: Vec<&Value> = events(&v)
                .iter()
                .filter(|e| e["ph"] == "s" || e["ph"] == "f")
                .collect();
            assert!(!flows.is_empty());
            for f in flows {
                let (tid, ts) = (f["tid"].as_u64().unwrap(), f["ts"].as_f64().unwrap());
                assert!(
                    slices
                        .iter()
                        .any(|&(t, a, b)| t == tid && a <= ts && ts < b),
                    "{f} has no slice around it on its thread ({clock:?})"
                );
            }
            // And the marks nest: none straddles the end of a B/E slice.
            for &(t, a, b) in &slices {
                for &(t2, a2, b2) in &slices {
                    if t == t2 && a < a2 && a2 < b {
                        assert!(b2 <= b, "slices overlap on {t}: {a}..{b} and {a2}..{b2}");
                    }
                }
            }
        }
    }

    #[test]
    fn paused_steps_at_one_instant_are_spaced_apart() {
        let t = sample(Clock::Paused);
        let ts = t.chrome_times();
        assert!(ts.windows(2).all(|w| w[1] >= w[0] + PAUSED_SPACING_US));
    }

    #[test]
    fn outline_names_lane_label_and_cause() {
        let t = sample(Clock::Real);
        let lines = t.outline();
        assert_eq!(lines.len(), t.steps.len());
        assert!(lines[0].starts_with("0 · "), "{}", lines[0]);
        assert!(
            lines[5].contains("task A · woken by B ← step 4"),
            "{}",
            lines[5]
        );
        assert!(!lines[4].contains('←'));
    }
}
