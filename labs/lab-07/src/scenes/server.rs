//! lab-02's scenes: one event-loop turn serving several clients, the same
//! requests on tokio's task-per-connection model, and a request hopping
//! between cores under thread-per-core.
//!
//! Each scene starts lab-02's server in this process on `127.0.0.1:0`,
//! connects three clients (lanes `client 1` to `client 3`), plugs a
//! recording into the [relay](crate::relay) so that the `ul::step` events
//! lab-02 emits on its own threads (see `lab_02::steps`) become steps,
//! runs a short script of commands, and stops the server. The clients'
//! own steps are recorded here: a client's `send` emits its local port,
//! which the server's read of it answers; the server's write emits the
//! port tagged as a reply, which the client's read answers. So every
//! arrow between a client and the server is real causality: bytes sent,
//! bytes read.
//!
//! The first two scenes share one script. Client 1 sends `KEYS nomatch*`
//! over a keyspace filled until it takes a few milliseconds ([`fill`]); as soon as the server
//! has read it, clients 2 and 3 each send a SET, an INCR of a counter
//! they share, and a GET. On the event loop, their requests wait
//! in their sockets until KEYS is done, and one turn then serves both; on
//! tasks, another worker serves them while KEYS still runs. The third
//! scene has each client in turn touch one key its core owns and one the
//! other core owns.
//!
//! Real threads, real sockets, real clock: timings vary between
//! recordings, so a scene records again (up to [`ATTEMPTS`] times) until
//! it shows what it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lab_02::client::Client;
use lab_02::config::{Config, Model};
use lab_02::resp::{Frame, encode_command};
use lab_02::steps;

use crate::recorder::{Event, Recorder};
use crate::relay::{Session, Sink, Step};
use crate::trace::{Clock, Kind, LaneKind, Trace};

/// Keys in the keyspace before the first two scenes start, at least;
/// more (doubling, up to [`MAX_FILL`]) until `KEYS nomatch*` takes
/// [`SLOW`], so that clients 2 and 3 send while it runs on any machine
/// and build.
pub const FILL: usize = 100_000;
pub const MAX_FILL: usize = 3_200_000;
/// How long client 1's KEYS should take, at least.
pub const SLOW: Duration = Duration::from_millis(2);
/// How long clients 2 and 3 wait at most for the server to read client
/// 1's KEYS before they send anyway.
pub const PATIENCE: Duration = Duration::from_secs(2);
/// Recordings a scene makes at most before it settles for the last one.
/// Generous: on a machine busy with other work (the test suite runs every
/// crate's tests at once) the clients' threads can be scheduled too late
/// to land inside the KEYS, and four tries once all missed.
pub const ATTEMPTS: usize = 8;

/// The scenes' names and titles.
pub const EVENT_LOOP_TURN: &str = "event-loop-turn";
pub const EVENT_LOOP_TURN_TITLE: &str = "One event-loop turn, several clients";
pub const TASK_PER_CONNECTION: &str = "task-per-connection";
pub const TASK_PER_CONNECTION_TITLE: &str = "The same requests, a task per connection";
pub const PER_CORE_HOP: &str = "per-core-hop";
pub const PER_CORE_HOP_TITLE: &str = "Thread per core: a hop to the key's core and back";

/// The event loop's lane (as lab-02 names it).
pub const EVENT_LOOP: &str = "event loop";

/// Which side panel a scene keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    EventLoop,
    Tasks,
    PerCore,
}

/// The side panel, made from the steps as they come.
struct Panel {
    view: View,
    /// Connection id (lab-02's `CLIENT ID`) to client name.
    conns: BTreeMap<u64, String>,
    /// What each client sent and has not had all replies to yet.
    waiting: BTreeMap<String, String>,
    /// The connections the event loop's latest turn found ready.
    ready: Vec<String>,
    /// Reply bytes a connection has queued and not yet written.
    queued: BTreeMap<u64, u64>,
    /// Task lane to the worker (numbered by first appearance) that
    /// polled it last.
    workers: BTreeMap<String, String>,
    worker_names: Vec<String>,
    /// Core number to the keys commands have run on there.
    keys: BTreeMap<u64, BTreeSet<String>>,
    /// Connections the server has read from (the scripts wait on it).
    read_from: BTreeSet<u64>,
}

impl Panel {
    fn new(view: View, conns: BTreeMap<u64, String>) -> Self {
        Self {
            view,
            conns,
            waiting: BTreeMap::new(),
            ready: Vec::new(),
            queued: BTreeMap::new(),
            workers: BTreeMap::new(),
            worker_names: Vec::new(),
            keys: BTreeMap::new(),
            read_from: BTreeSet::new(),
        }
    }

    /// Updates the panel with a step from the server.
    fn server_step(&mut self, s: &Step) {
        let conn = s.get("conn").and_then(|c| c.parse::<u64>().ok());
        if let (Some(conn), Some(Kind::Recv)) = (conn, s.kind) {
            self.read_from.insert(conn);
        }
        if let Some(ready) = s.get("ready") {
            self.ready = ready.split(", ").map(str::to_owned).collect();
        }
        if let (Some(conn), Some(q)) = (conn, s.get("queued").and_then(|q| q.parse().ok()))
            && q > 0
        {
            self.queued.insert(conn, q);
        }
        if let (Some(conn), Some(Kind::Send)) = (conn, s.kind) {
            self.queued.remove(&conn);
        }
        if let (Some(LaneKind::Task), Some(worker)) = (s.lane_kind, s.get("worker")) {
            let n = match self.worker_names.iter().position(|w| w == worker) {
                Some(i) => i + 1,
                None => {
                    self.worker_names.push(worker.to_owned());
                    self.worker_names.len()
                }
            };
            self.workers.insert(s.lane.clone(), format!("worker {n}"));
        }
        if let (Some(core), Some(key)) = (
            s.get("core").and_then(|c| c.parse::<u64>().ok()),
            s.get("key"),
        ) {
            self.keys.entry(core).or_default().insert(key.to_owned());
        }
    }

    /// Writes every section into the recording's state.
    fn publish(&self, rec: &Recorder) {
        let conns = self
            .conns
            .iter()
            .map(|(id, name)| format!("conn {id} is {name}"))
            .collect();
        rec.set("connections", conns);
        let waiting = self
            .waiting
            .iter()
            .map(|(c, what)| format!("{c}: {what}"))
            .collect();
        rec.set("clients waiting for replies", waiting);
        match self.view {
            View::EventLoop => {
                rec.set("ready this turn", self.ready.clone());
                let queued = self
                    .queued
                    .iter()
                    .map(|(c, b)| format!("conn {c}: {b} bytes"))
                    .collect();
                rec.set("replies queued", queued);
            }
            View::Tasks => {
                let lines = self
                    .workers
                    .iter()
                    .map(|(task, w)| format!("{task} on {w}"))
                    .collect();
                rec.set("tasks and their workers", lines);
            }
            View::PerCore => {
                for (core, keys) in &self.keys {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    rec.set(&format!("keys core {core} owns"), vec![keys.join(", ")]);
                }
            }
        }
    }
}

/// A scene's sink: server steps from the relay, client steps from the
/// scene, one panel; each step is recorded with the panel as it left it.
struct SceneSink {
    rec: Recorder,
    panel: Mutex<Panel>,
}

impl Sink for SceneSink {
    fn step(&self, s: &Step) {
        if s.lane.is_empty() {
            return;
        }
        let mut panel = self.panel.lock().unwrap_or_else(PoisonError::into_inner);
        panel.server_step(s);
        panel.publish(&self.rec);
        self.rec.record(&s.event());
    }
}

impl SceneSink {
    fn new(rec: Recorder, panel: Panel) -> Self {
        Self {
            rec,
            panel: Mutex::new(panel),
        }
    }

    /// Waits until the server has read from connection `conn` (at most
    /// `patience`). Polls rather than waits on a condition variable: the
    /// server's thread would be the one to notify it, and Linux tends to
    /// wake the waiter on the notifier's CPU, where it waits for the busy
    /// server thread's time slice to end (milliseconds).
    fn wait_for_read(&self, conn: u64, patience: Duration) {
        let deadline = std::time::Instant::now() + patience;
        while std::time::Instant::now() < deadline {
            let panel = self.panel.lock().unwrap_or_else(PoisonError::into_inner);
            if panel.read_from.contains(&conn) {
                return;
            }
            drop(panel);
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// A client step: a send (what it sent) or the read of its replies.
    fn client(&self, c: &Peer, kind: Kind, label: String, what: Option<&str>) {
        let mut panel = self.panel.lock().unwrap_or_else(PoisonError::into_inner);
        match what {
            Some(w) => {
                panel.waiting.insert(c.name.clone(), w.to_owned());
            }
            None => {
                panel.waiting.remove(&c.name);
            }
        }
        panel.publish(&self.rec);
        let send = kind == Kind::Send;
        self.rec.record(&Event {
            lane: &c.name,
            lane_kind: Some(LaneKind::Client),
            kind: Some(kind),
            label: &label,
            emits: send.then(|| steps::request(c.port)),
            answers: (!send).then(|| steps::reply(c.port)),
            cause: None,
        });
    }
}

/// A connected client.
struct Peer {
    name: String,
    client: Client,
    port: u64,
    /// lab-02's id for the connection (`CLIENT ID`).
    id: u64,
}

impl Peer {
    fn connect(n: usize, addr: std::net::SocketAddr) -> Result<Self> {
        let mut client =
            Client::connect(addr).with_context(|| format!("client {n} connecting to {addr}"))?;
        let port = u64::from(client.stream().local_addr()?.port());
        let id = match client.cmd(&[b"CLIENT", b"ID"])? {
            Frame::Integer(id) => u64::try_from(id).context("a negative client id")?,
            other => bail!("CLIENT ID answered {other:?}"),
        };
        Ok(Self {
            name: format!("client {n}"),
            client,
            port,
            id,
        })
    }

    /// Sends `commands` in one write (recorded first, so the server's
    /// read of them always comes later), then reads one reply each and
    /// records that.
    fn exchange(&mut self, sink: &SceneSink, commands: &[Vec<String>]) -> Result<Vec<Frame>> {
        let what: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
        let what = what.join(", ");
        let mut bytes = Vec::new();
        for c in commands {
            let args: Vec<&[u8]> = c.iter().map(String::as_bytes).collect();
            encode_command(&args, &mut bytes);
        }
        sink.client(
            self,
            Kind::Send,
            format!("{} sends {what}", self.name),
            Some(&what),
        );
        self.client.send_raw(&bytes)?;
        let replies = commands
            .iter()
            .map(|_| self.client.read_frame())
            .collect::<std::io::Result<Vec<Frame>>>()
            .with_context(|| format!("{} reading its replies", self.name))?;
        let n = replies.len();
        let label = match n {
            1 => format!("{} reads its reply", self.name),
            _ => format!("{} reads its {n} replies", self.name),
        };
        sink.client(self, Kind::Recv, label, None);
        Ok(replies)
    }
}

fn cmd(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// A running lab-02 server and its connected clients.
struct Stage {
    server: lab_02::server::Server,
    peers: Vec<Peer>,
}

impl Stage {
    fn start(model: Model) -> Result<Self> {
        let mut config = Config::ephemeral(model);
        // Two workers or cores whatever the machine: the scenes are about
        // two of them.
        config.threads = Some(2);
        let server = lab_02::server::start(config).context("starting lab-02's server")?;
        let peers = (1..=3)
            .map(|n| Peer::connect(n, server.addr()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { server, peers })
    }

    /// Records `play` (the clients' script) with the recording plugged
    /// into the relay, then stops the server and returns the trace.
    fn record(
        mut self,
        session: &Session,
        (scene, title, view): (&str, &str, View),
        play: impl FnOnce(&mut [Peer], &SceneSink) -> Result<()>,
    ) -> Result<Trace> {
        let rec = Recorder::new(scene, title, Clock::Real);
        for p in &self.peers {
            rec.lane(&p.name, LaneKind::Client);
        }
        if view == View::EventLoop {
            rec.lane(EVENT_LOOP, LaneKind::Thread);
        }
        let conns = self.peers.iter().map(|p| (p.id, p.name.clone())).collect();
        let panel = Panel::new(view, conns);
        panel.publish(&rec);
        let sink = Arc::new(SceneSink::new(rec, panel));
        session.attach(sink.clone());
        let played = play(&mut self.peers, &sink);
        session.detach();
        self.server.shutdown();
        let stopped = self.server.wait();
        played?;
        stopped.context("lab-02's server stopped with an error")?;
        let trace = sink.rec.trace();
        trace.validate()?;
        Ok(trace)
    }
}

/// Fills the keyspace through client 1 (before recording) until KEYS
/// takes [`SLOW`].
fn fill(peer: &mut Peer) -> Result<()> {
    let mut filled = 0;
    let mut more = FILL;
    while filled < MAX_FILL {
        fill_keys(peer, filled, filled + more)?;
        filled += more;
        more = filled;
        let began = std::time::Instant::now();
        peer.client.cmd(&[b"KEYS", b"nomatch*"])?;
        if began.elapsed() >= SLOW {
            break;
        }
    }
    Ok(())
}

/// SETs keys `fill:FROM` to `fill:TO` (exclusive), pipelined MSETs.
fn fill_keys(peer: &mut Peer, from: usize, to: usize) -> Result<()> {
    let per_command = 1_000;
    let commands: Vec<Vec<Vec<u8>>> = (from..to)
        .step_by(per_command)
        .map(|first| {
            let mut c = vec![b"MSET".to_vec()];
            for i in first..(first + per_command).min(to) {
                c.push(format!("fill:{i}").into_bytes());
                c.push(b"x".to_vec());
            }
            c
        })
        .collect();
    for batch in commands.chunks(10) {
        for reply in peer.client.pipeline(batch)? {
            if let Frame::Error(e) = reply {
                bail!("filling the keyspace: {e}");
            }
        }
    }
    Ok(())
}

/// The first two scenes' script: client 1's slow KEYS; once the server
/// has read it, clients 2 and 3's SET, INCR of a shared counter, and GET.
fn slow_and_quick(peers: &mut [Peer], sink: &SceneSink) -> Result<()> {
    let slow = peers.first().map(|p| p.id).context("no clients")?;
    std::thread::scope(|s| -> Result<()> {
        let mut threads = Vec::new();
        for (i, peer) in peers.iter_mut().enumerate() {
            let commands = match i {
                0 => vec![cmd(&["KEYS", "nomatch*"])],
                _ => {
                    let key = format!("k{}", i + 1);
                    vec![
                        cmd(&["SET", &key, "v"]),
                        cmd(&["INCR", "hits"]),
                        cmd(&["GET", &key]),
                    ]
                }
            };
            threads.push(s.spawn(move || -> Result<()> {
                if i > 0 {
                    sink.wait_for_read(slow, PATIENCE);
                }
                peer.exchange(sink, &commands)?;
                Ok(())
            }));
        }
        for t in threads {
            t.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
        }
        Ok(())
    })
}

/// The largest number of connections one `ready` step lists.
pub fn most_ready(t: &Trace) -> usize {
    t.steps
        .iter()
        .filter(|s| s.kind == Kind::Ready)
        .map(|s| s.label.matches("conn ").count())
        .max()
        .unwrap_or(0)
}

/// The step index of `client`'s read of its replies.
pub fn reply_read(t: &Trace, client: &str) -> Option<usize> {
    let lane = t.lanes.iter().position(|l| l.name == client)?;
    t.steps
        .iter()
        .position(|s| s.lane == lane && s.kind == Kind::Recv)
}

/// `event-loop-turn`: lab-02's event loop serving three clients.
pub fn event_loop_turn() -> Result<Trace> {
    super::until_shown(event_loop_turn_once, shows_shared_turn, ATTEMPTS)
}

/// One recording of the slow-KEYS-and-two-quick-clients script on
/// `model`, kept or not: the body of both lab-02 scenes that use it.
fn slow_and_quick_once(model: Model, scene: (&str, &str, View)) -> Result<Trace> {
    let session = Session::begin()?;
    let mut stage = Stage::start(model)?;
    fill(&mut stage.peers[0])?;
    stage.record(&session, scene, slow_and_quick)
}

/// One recording of `event-loop-turn`, kept or not.
pub fn event_loop_turn_once() -> Result<Trace> {
    slow_and_quick_once(
        Model::EventLoop,
        (EVENT_LOOP_TURN, EVENT_LOOP_TURN_TITLE, View::EventLoop),
    )
}

fn shows_shared_turn(t: &Trace) -> bool {
    most_ready(t) >= 2
}

/// What `event-loop-turn` is about.
pub const EVENT_LOOP_TURN_CASE: super::Case = super::Case {
    once: event_loop_turn_once,
    shows: shows_shared_turn,
    what: "one turn finds two clients ready at once",
};

/// `task-per-connection`: the same requests on lab-02's tokio model.
///
/// What it shows is not what one might expect. Worker 2 is idle, yet
/// clients 2 and 3 are served only after client 1's KEYS is done,
/// as on the event loop. Why: tokio's workers take turns polling the I/O
/// driver (epoll) when they park. The worker parked on it woke for client
/// 1's request, put that one task in its own LIFO slot and ran it; with a
/// single task ready, it woke no other worker (tokio wakes a parked
/// worker only when more than one task waits). So while KEYS runs, worker
/// 2 sleeps on a condition variable, nobody polls epoll, and the other
/// requests wait in their sockets. Under load (lab-02's head-of-line
/// experiment) other workers are awake and polling, and the quick clients
/// do get through. How often one recording shows this: the results
/// pipeline counts it (`cargo xtask results --only lab-07`).
pub fn task_per_connection() -> Result<Trace> {
    super::until_shown(task_per_connection_once, quick_clients_waited, ATTEMPTS)
}

/// One recording of `task-per-connection`, kept or not.
pub fn task_per_connection_once() -> Result<Trace> {
    slow_and_quick_once(
        Model::TaskPerConnection,
        (TASK_PER_CONNECTION, TASK_PER_CONNECTION_TITLE, View::Tasks),
    )
}

/// Whether clients 2 and 3 read their replies only after client 1 read
/// the reply to its KEYS.
pub fn quick_clients_waited(t: &Trace) -> bool {
    match (
        reply_read(t, "client 1"),
        reply_read(t, "client 2"),
        reply_read(t, "client 3"),
    ) {
        (Some(slow), Some(two), Some(three)) => two > slow && three > slow,
        _ => false,
    }
}

/// What `task-per-connection` is about.
pub const TASK_PER_CONNECTION_CASE: super::Case = super::Case {
    once: task_per_connection_once,
    shows: quick_clients_waited,
    what: "clients 2 and 3 get their replies only after client 1's KEYS",
};

/// Two keys: one on client 1's core, one on the other core. Found by
/// asking, before recording: a GET that hops counts in the server's hop
/// counter (lab-02's hasher is seeded afresh in every process).
fn local_and_remote(stage: &mut Stage) -> Result<(String, String)> {
    let hops = || {
        stage
            .server
            .shared()
            .hops
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let (mut local, mut remote) = (None, None);
    for key in [
        "apple", "pear", "plum", "fig", "kiwi", "lime", "date", "melon", "grape", "peach", "mango",
        "lemon", "cherry", "guava", "olive", "quince",
    ] {
        let before = hops();
        stage.peers[0].client.cmd(&[b"GET", key.as_bytes()])?;
        let slot = if hops() > before {
            &mut remote
        } else {
            &mut local
        };
        slot.get_or_insert_with(|| key.to_owned());
        if let (Some(l), Some(r)) = (&local, &remote) {
            return Ok((l.clone(), r.clone()));
        }
    }
    bail!("no two keys on different cores among 16 (is the server running two cores?)")
}

/// `per-core-hop`: lab-02's thread-per-core model; commands for the other
/// core's keys hop there and back.
pub fn per_core_hop() -> Result<Trace> {
    let session = Session::begin()?;
    let mut stage = Stage::start(Model::ThreadPerCore)?;
    let (here, there) = local_and_remote(&mut stage)?;
    stage.record(
        &session,
        (PER_CORE_HOP, PER_CORE_HOP_TITLE, View::PerCore),
        move |peers, sink| {
            let scripts = [
                vec![cmd(&["SET", &here, "1"]), cmd(&["SET", &there, "2"])],
                vec![cmd(&["GET", &here]), cmd(&["GET", &there])],
                vec![cmd(&["GET", &there])],
            ];
            for (peer, script) in peers.iter_mut().zip(&scripts) {
                peer.exchange(sink, script)?;
            }
            Ok(())
        },
    )
}
