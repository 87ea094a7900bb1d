//! The process-wide path from the labs' `ul::step` events to whichever
//! recording is on now.
//!
//! Why not a thread-default subscriber
//! ([`tracing::subscriber::with_default`])? It covers
//! the thread that set it, and lab-02's server runs on threads it spawns
//! itself (an event-loop thread, tokio workers, one thread per core).
//! Only the global default reaches those, and it can be set once per
//! process. So the global subscriber holds one [`layer`] for good, and a
//! recording plugs a [`Sink`] into it for as long as it runs
//! ([`Session`]); several recordings in one process (the `measure`
//! command, the tests) take turns.
//!
//! While nothing is plugged in, the relay tells `tracing` that it wants
//! nothing (its filter's interest is "never" and its level hint is OFF),
//! and [`Session`] rebuilds `tracing`'s interest cache on every change.
//! So between recordings a lab's `ul::step` call site costs what it costs
//! with no subscriber at all: the level check fails at one atomic load.
//!
//! A binary must build its global subscriber with the relay in it:
//! [`init_tracing`] is `kit::cli::init_tracing` plus the relay. Without
//! one, [`Session::begin`] installs a subscriber that holds only the relay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use anyhow::{Result, bail};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::recorder::{Event, Recorder, TARGET};
use crate::trace::{Kind, LaneKind};

/// One `ul::step` event, as the relay hands it to a [`Sink`].
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub lane: String,
    pub lane_kind: Option<LaneKind>,
    pub kind: Option<Kind>,
    pub label: String,
    pub emits: Option<u64>,
    pub answers: Option<u64>,
    /// Every other field, as text (`conn`, `key`, `worker`…): what a
    /// scene's side panel is made from.
    pub extra: BTreeMap<String, String>,
}

impl Step {
    /// The step as the recorder takes it.
    pub fn event(&self) -> Event<'_> {
        Event {
            lane: &self.lane,
            lane_kind: self.lane_kind,
            kind: self.kind,
            label: &self.label,
            emits: self.emits,
            answers: self.answers,
            cause: None,
        }
    }

    /// An extra field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.extra.get(name).map(String::as_str)
    }
}

/// Where a recording's steps go.
pub trait Sink: Send + Sync {
    fn step(&self, step: &Step);
}

/// The plain sink: every step into the recording, no side panel.
impl Sink for Recorder {
    fn step(&self, step: &Step) {
        if !step.lane.is_empty() {
            self.record(&step.event());
        }
    }
}

static SINK: RwLock<Option<Arc<dyn Sink>>> = RwLock::new(None);
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The global subscriber has the relay in it.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Serialises installing, and then recordings.
static INSTALL: Mutex<()> = Mutex::new(());
static TURN: Mutex<()> = Mutex::new(());

fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The relay's layer, filtered per layer so that its "never" does not
/// silence the other layers of the subscriber it is part of.
pub fn layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    Relay.with_filter(OnlyWhileRecording)
}

/// `kit::cli::init_tracing` with the relay: log lines to stderr at
/// `default_level` (`RUST_LOG` overrides it), and `ul::step` events to the
/// recording that is on. For binaries that record lab-02's scenes.
pub fn init_tracing(default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _one = INSTALL.lock().unwrap_or_else(PoisonError::into_inner);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    if tracing_subscriber::registry()
        .with(fmt)
        .with(layer())
        .try_init()
        .is_ok()
    {
        INSTALLED.store(true, Ordering::SeqCst);
    }
}

/// Makes sure the global subscriber has the relay: installs one that
/// holds only the relay if there is none yet.
fn install() -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _one = INSTALL.lock().unwrap_or_else(PoisonError::into_inner);
    if INSTALLED.load(Ordering::SeqCst) {
        return Ok(());
    }
    if tracing_subscriber::registry()
        .with(layer())
        .try_init()
        .is_err()
    {
        bail!(
            "cannot record lab-02's steps: this process already has a global tracing subscriber \
             without lab-07's relay (build it with lab_07::relay::init_tracing)"
        );
    }
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(())
}

/// A turn at the relay: while it lives, no other recording in this
/// process can plug in. Dropping it unplugs the sink.
pub struct Session {
    _turn: MutexGuard<'static, ()>,
}

impl Session {
    /// Waits for the relay to be free (another recording may hold it).
    pub fn begin() -> Result<Self> {
        install()?;
        let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Self { _turn: turn })
    }

    /// Sends every `ul::step` event to `sink` from now on.
    pub fn attach(&self, sink: Arc<dyn Sink>) {
        *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(sink);
        ACTIVE.store(true, Ordering::SeqCst);
        tracing::callsite::rebuild_interest_cache();
    }

    /// Stops sending events anywhere; the call sites go quiet again.
    pub fn detach(&self) {
        ACTIVE.store(false, Ordering::SeqCst);
        tracing::callsite::rebuild_interest_cache();
        *SINK.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.detach();
    }
}

struct Relay;

struct OnlyWhileRecording;

impl<S> Filter<S> for OnlyWhileRecording {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        active() && meta.target() == TARGET
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if active() && meta.target() == TARGET {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(if active() {
            LevelFilter::TRACE
        } else {
            LevelFilter::OFF
        })
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for Relay {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: Context<'_, S>) {
        let sink = SINK.read().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(sink) = sink else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        sink.step(&fields.0);
    }
}

#[derive(Default)]
struct Fields(Step);

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let s = &mut self.0;
        match field.name() {
            "lane" => s.lane = value.to_owned(),
            "lane_kind" => s.lane_kind = parse(value),
            "kind" => s.kind = parse(value),
            // `label` wins over a format-string message.
            "label" => s.label = value.to_owned(),
            "message" if s.label.is_empty() => s.label = value.to_owned(),
            name => {
                s.extra.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "emits" => self.0.emits = Some(value),
            "answers" => self.0.answers = Some(value),
            name => {
                self.0.extra.insert(name.to_owned(), value.to_string());
            }
        }
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => {
                self.0
                    .extra
                    .insert(field.name().to_owned(), value.to_string());
            }
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Clock;

    #[test]
    fn events_reach_the_sink_only_while_attached() -> Result<()> {
        let session = Session::begin()?;
        let rec = Recorder::new("t", "t", Clock::Real);
        tracing::trace!(target: "ul::step", lane = "A", kind = "note", label = "before");
        session.attach(Arc::new(rec.clone()));
        // From another thread, as lab-02's server threads do.
        std::thread::spawn(|| {
            tracing::trace!(target: "ul::step", lane = "B", lane_kind = "task", kind = "send", label = "sent", emits = 3u64, conn = 7u64);
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread panicked"))?;
        tracing::trace!(target: "ul::step", lane = "A", kind = "recv", label = "got", answers = 3u64);
        tracing::trace!(target: "elsewhere", lane = "A", kind = "recv", label = "ignored");
        session.detach();
        tracing::trace!(target: "ul::step", lane = "A", kind = "note", label = "after");
        let t = rec.trace();
        let labels: Vec<&str> = t.steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["sent", "got"]);
        assert_eq!(t.lanes[0].kind, LaneKind::Task);
        assert_eq!(t.steps[1].cause, Some(0));
        Ok(())
    }
}
