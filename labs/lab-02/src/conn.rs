//! One client connection's state, and the request loop every model shares:
//! parse what has arrived, check it, run it, buffer the replies.
//!
//! The models differ in how bytes get in and out and where commands run;
//! this module is the part that must behave identically in all three, so
//! it is written once.

use std::net::SocketAddr;
use std::time::Instant;

use crate::cmd::{self, After, Route, Session, Spec};
use crate::reply;
use crate::resp::{Limits, ProtocolError, RequestParser};
use crate::resp3::{self, Shape};
use crate::shared::Shared;
use crate::tx::{Exec, Step, Tx};

/// Stop parsing more requests while this much output waits to be sent: a
/// client that does not read its replies stops being read from, instead of
/// making the server buffer without bound.
pub const OUTPUT_SOFT_LIMIT: usize = 256 << 10;

/// How much to read per system call.
pub const READ_CHUNK: usize = 16 << 10;

/// An idle connection keeps buffers no larger than this: an idle client
/// costs its small buffers, not a read chunk each (Redis frees an idle
/// client's query buffer too).
pub const IDLE_KEEP: usize = 1 << 10;

/// Thread per core: the most replies one batch may leave to other cores
/// before it stops parsing. Their size is unknown until they arrive, so
/// the output limit cannot count them; this bounds them instead.
pub const MAX_DEFERRED: usize = 16;

/// A connection's buffers and session.
pub struct Conn {
    pub session: Session,
    /// Bytes received and not yet parsed start at `input_start`, always at
    /// a request boundary (only whole requests are consumed).
    pub input: Vec<u8>,
    pub input_start: usize,
    /// Replies not yet sent start at `output_start`.
    pub output: Vec<u8>,
    pub output_start: usize,
    pub last_active: Instant,
    /// Set by QUIT or a protocol error: send what is buffered, then close.
    pub closing: bool,
    /// Commands run on this connection, not yet added to the server total.
    pub commands: u64,
    /// How far into the request at `input_start` parsing got: a request
    /// that arrives in many reads is parsed in time linear in its size.
    parser: RequestParser,
    /// MULTI's queue and WATCH's keys.
    pub tx: Tx,
    /// For each reply the last [`process_deferring`] left to come later,
    /// in order: how to reshape it for RESP3 (`None`: leave it).
    pub deferred_shapes: Vec<Option<Shape>>,
}

/// A new client's session: its id, its address as CLIENT LIST shows it,
/// and whether it must AUTH first. Every model starts its connections here.
pub fn new_session(shared: &Shared, addr: SocketAddr) -> Session {
    Session::new(
        shared.next_client_id(),
        addr.to_string(),
        shared.password().is_some(),
    )
}

/// What the request loop wants the model to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the output; keep reading.
    Continue,
    /// Send the output, then close (QUIT, protocol error).
    Close,
    /// Shut the whole server down (SHUTDOWN).
    Shutdown,
}

impl Conn {
    pub fn new(session: Session) -> Self {
        Self {
            session,
            input: Vec::new(),
            input_start: 0,
            output: Vec::new(),
            output_start: 0,
            last_active: Instant::now(),
            closing: false,
            commands: 0,
            parser: RequestParser::new(),
            tx: Tx::default(),
            deferred_shapes: Vec::new(),
        }
    }

    /// Unparsed input.
    pub fn pending_input(&self) -> usize {
        self.input.len() - self.input_start
    }

    /// Unsent output.
    pub fn pending_output(&self) -> usize {
        self.output.len() - self.output_start
    }

    /// Whether the connection should read more now.
    pub fn wants_input(&self) -> bool {
        !self.closing && self.pending_output() < OUTPUT_SOFT_LIMIT
    }

    /// Makes room to read at least `READ_CHUNK` more bytes, and returns
    /// the spare part of the input buffer's length to read into.
    pub fn compact_input(&mut self) {
        if self.input_start > 0 && self.input_start == self.input.len() {
            self.input.clear();
            self.input_start = 0;
        } else if self.input_start > self.input.len() / 2 {
            self.input.drain(..self.input_start);
            self.input_start = 0;
        }
    }

    /// Marks `n` bytes of output as sent.
    pub fn sent(&mut self, n: usize) {
        self.output_start += n;
        if self.output_start == self.output.len() {
            self.output.clear();
            self.output_start = 0;
            // A huge reply (KEYS on a big keyspace) should not pin its
            // buffer for the rest of the connection's life.
            if self.output.capacity() > 4 * OUTPUT_SOFT_LIMIT {
                self.output = Vec::new();
            }
        }
    }

    /// Before waiting for the client: with nothing pending either way,
    /// give back buffers larger than [`IDLE_KEEP`].
    pub fn release_idle(&mut self) {
        if self.pending_input() == 0 {
            self.input_start = 0;
            self.input.clear();
            if self.input.capacity() > IDLE_KEEP {
                self.input = Vec::new();
            }
        }
        if self.pending_output() == 0 {
            self.output_start = 0;
            self.output.clear();
            if self.output.capacity() > IDLE_KEEP {
                self.output = Vec::new();
            }
        }
    }

    /// Drops the input buffer's capacity back if a big request inflated it.
    pub fn shrink_input(&mut self) {
        if self.pending_input() == 0 && self.input.capacity() > 4 * OUTPUT_SOFT_LIMIT {
            self.input = Vec::new();
            self.input_start = 0;
        }
    }
}

/// One parsed request, ready to run.
pub struct Request<'a> {
    pub spec: &'static Spec,
    pub args: Vec<&'a [u8]>,
}

/// The checks every request passes before it runs, in Redis's order:
/// known command, arity, authentication. Writes the error reply and
/// returns `None` when the request must not run.
pub fn check<'a>(
    args: Vec<&'a [u8]>,
    session: &Session,
    shared: &Shared,
    out: &mut Vec<u8>,
) -> Option<Request<'a>> {
    let Some(spec) = cmd::lookup(args[0]) else {
        if !session.authenticated && shared.password().is_some() {
            reply::error(out, "NOAUTH Authentication required.");
        } else {
            cmd::unknown_command(out, &args);
        }
        return None;
    };
    if !cmd::auth_gate(spec, session, shared, out) {
        return None;
    }
    if !cmd::arity_ok(spec, args.len()) {
        cmd::wrong_arity(out, spec);
        return None;
    }
    Some(Request { spec, args })
}

/// What the request loop asks a model to run.
pub enum Work<'r, 'a> {
    /// One keyspace command.
    Command(&'static Spec, &'r [&'a [u8]]),
    /// A transaction's keyspace commands (its connection commands have
    /// run): the model runs them atomically and writes EXEC's reply with
    /// [`Exec::finish`].
    Exec(Exec),
}

/// Whether a model ran a request's work now or left its reply to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// The reply is in the output.
    No,
    /// The reply comes later (another core computes it).
    Yes,
    /// The reply comes later, and no later request may run before it
    /// does (a step across cores): parsing stops after this one.
    Barrier,
}

/// Parses and runs every complete request in the connection's input,
/// synchronously, appending replies to its output. `run` executes the
/// keyspace work (the model routes it); server commands run here.
/// Stops early when output backs up (see [`OUTPUT_SOFT_LIMIT`]).
pub fn process(
    conn: &mut Conn,
    limits: &Limits,
    shared: &Shared,
    mut run: impl FnMut(Work<'_, '_>, &mut Vec<u8>),
) -> Next {
    process_deferring(conn, limits, shared, usize::MAX, |work, out| {
        run(work, out);
        Deferral::No
    })
}

/// [`process`] for a model whose replies may be computed elsewhere: `run`
/// returns true when it left a request's reply to come later (thread per
/// core), and parsing stops after `max_deferred` of them, as it stops at
/// the output limit. [`Conn::deferred_shapes`] then says how to reshape
/// each for RESP3.
pub fn process_deferring(
    conn: &mut Conn,
    limits: &Limits,
    shared: &Shared,
    max_deferred: usize,
    mut run: impl FnMut(Work<'_, '_>, &mut Vec<u8>) -> Deferral,
) -> Next {
    let mut next = Next::Continue;
    let mut deferred = 0;
    conn.deferred_shapes.clear();
    while conn.pending_output() < OUTPUT_SOFT_LIMIT && deferred < max_deferred {
        let buf = &conn.input[conn.input_start..];
        if buf.is_empty() {
            break;
        }
        match conn.parser.parse(buf, limits) {
            Ok(None) => break,
            Ok(Some(n)) => {
                // Taken: the next parse starts at the next request. The
                // arguments stay readable until then.
                conn.parser.reset();
                let args: Vec<&[u8]> = conn.parser.arg_slices(buf).collect();
                // WATCH reads versions now, so the writes this client sent
                // before it must have run: with replies still to come from
                // other cores, leave it (unconsumed) for the next batch.
                if deferred > 0
                    && args
                        .first()
                        .is_some_and(|a| a.eq_ignore_ascii_case(b"watch"))
                {
                    break;
                }
                conn.input_start += n;
                if args.is_empty() {
                    continue;
                }
                conn.commands += 1;
                let Some(req) = check(args, &conn.session, shared, &mut conn.output) else {
                    conn.tx.rejected();
                    continue;
                };
                let resp3 = conn.session.resp3;
                let start = conn.output.len();
                match conn.tx.step(
                    req.spec,
                    &req.args,
                    resp3,
                    &shared.watches,
                    &mut conn.output,
                ) {
                    Step::Done => continue,
                    Step::Exec(mut exec) => {
                        run_server_commands(&mut exec, &mut conn.session, shared);
                        let ran = run(Work::Exec(exec), &mut conn.output);
                        if ran != Deferral::No {
                            deferred += 1;
                            conn.deferred_shapes.push(None);
                        }
                        if ran == Deferral::Barrier {
                            break;
                        }
                        continue;
                    }
                    Step::Run => {}
                }
                if req.spec.route == Route::Server {
                    let after = cmd::execute_server(
                        req.spec,
                        &mut conn.session,
                        &req.args,
                        shared,
                        &mut conn.output,
                    );
                    // HELLO answers in the protocol it chose.
                    if conn.session.resp3 {
                        resp3::convert_tail(
                            resp3::shape(req.spec, &req.args),
                            &mut conn.output,
                            start,
                        );
                    }
                    match after {
                        After::Continue => {}
                        After::Close => {
                            next = Next::Close;
                            break;
                        }
                        After::Shutdown => {
                            next = Next::Shutdown;
                            break;
                        }
                    }
                } else {
                    let ran = run(Work::Command(req.spec, &req.args), &mut conn.output);
                    if ran == Deferral::No {
                        if resp3 {
                            let shape = resp3::shape(req.spec, &req.args);
                            resp3::convert_tail(shape, &mut conn.output, start);
                        }
                    } else {
                        deferred += 1;
                        conn.deferred_shapes
                            .push(resp3.then(|| resp3::shape(req.spec, &req.args)));
                        if ran == Deferral::Barrier {
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                protocol_error(&mut conn.output, &e);
                next = Next::Close;
                break;
            }
        }
    }
    if next != Next::Continue {
        conn.closing = true;
    }
    next
}

/// A transaction's connection commands (PING, CONFIG SET …) run when EXEC
/// arrives, in order, before its keyspace commands: they touch no key, so
/// their replies are the same as in place, except that an INFO inside a
/// transaction reports the counters from before it.
fn run_server_commands(exec: &mut Exec, session: &mut Session, shared: &Shared) {
    for q in exec
        .queued
        .iter_mut()
        .filter(|q| q.spec.route == Route::Server)
    {
        let args = q.arg_refs();
        let mut out = Vec::new();
        // QUIT is not queued and SHUTDOWN is refused inside MULTI, so
        // nothing here closes the connection.
        let _ = cmd::execute_server(q.spec, session, &args, shared, &mut out);
        q.reply = Some(out);
    }
}

/// The reply to a protocol error, sent just before the connection closes.
pub fn protocol_error(out: &mut Vec<u8>, e: &ProtocolError) {
    reply::error(out, &format!("ERR {e}"));
}

/// Whether the unparsed input has outgrown the query buffer limit.
pub fn input_over_limit(conn: &Conn, limit: usize) -> bool {
    conn.pending_input() > limit
}

/// Whether the unparsed input holds at least one complete request (or a
/// protocol error, which also needs handling now). A peek: the parser keeps
/// what it found, so the next [`process`] takes the
/// request without parsing it again.
pub fn has_complete_request(conn: &mut Conn, limits: &Limits) -> bool {
    let buf = &conn.input[conn.input_start..];
    !matches!(conn.parser.parse(buf, limits), Ok(None))
}
