//! Connection commands, run by the connection rather than the keyspace:
//! PING, ECHO, QUIT, AUTH, HELLO, CLIENT, SELECT, TIME, SHUTDOWN, plus the
//! AUTH gate. The introspection commands (COMMAND, INFO, CONFIG) are in
//! `introspect`.
//!
//! What these need from the server (its password, its configuration, its
//! counters) comes through the [`ServerCtx`] trait, so the command code
//! knows nothing of how the server is built.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::parse::{SYNTAX, is, parse_i64};
use super::{Spec, arity_ok, error_bytes, wrong_arity};
use crate::reply;

/// One connection's state as the commands see it.
#[derive(Debug, Clone)]
pub struct Session {
    /// `CLIENT ID`: unique per connection, increasing.
    pub id: u64,
    /// False until AUTH succeeds when the server has a password.
    pub authenticated: bool,
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<Vec<u8>>,
    /// The peer's address, `ip:port`.
    pub addr: String,
    pub created: Instant,
    /// Replies in RESP3 (after `HELLO 3`).
    pub resp3: bool,
}

impl Session {
    /// A new connection's session; `needs_auth` when the server has a
    /// password (the session starts unauthenticated).
    pub fn new(id: u64, addr: impl Into<String>, needs_auth: bool) -> Self {
        Session {
            id,
            authenticated: !needs_auth,
            name: None,
            lib_name: None,
            lib_ver: None,
            addr: addr.into(),
            created: Instant::now(),
            resp3: false,
        }
    }
}

/// What the connection commands need to know about the server.
pub trait ServerCtx {
    /// The default user's password (`requirepass`), if any.
    fn password(&self) -> Option<&[u8]>;
    /// The concurrency model's name (shown by INFO).
    fn model(&self) -> &'static str {
        ""
    }
    /// Extra INFO fields: (section, key, value). Sections are matched
    /// case-insensitively (`"server"`, `"Stats"`, `"keyspace"` …); a key
    /// that the command code also fills in is replaced by this value.
    fn info_fields(&self) -> Vec<(&'static str, String, String)> {
        Vec::new()
    }
    /// The value of configuration parameter `name` (lowercase).
    fn config_value(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
    /// Every configuration parameter's name, for `CONFIG GET pattern`.
    fn config_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// Connected clients (INFO's `connected_clients`).
    fn client_count(&self) -> usize {
        1
    }
    /// The server's Redis tuning parameters, which CONFIG SET changes
    /// (none: CONFIG knows only [`config_names`](Self::config_names)).
    fn tunables(&self) -> Option<&super::Tunables> {
        None
    }
}

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep serving the connection.
    Continue,
    /// QUIT: the `+OK` is written; flush it, then close.
    Close,
    /// SHUTDOWN: stop the server gracefully. No reply is written (Redis
    /// closes the connection).
    Shutdown,
}

/// The version the server reports (HELLO, INFO).
pub(crate) const VERSION: &str = "7.0.0";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Runs before every command: if the session must authenticate first and
/// `spec` is not allowed before AUTH, writes `-NOAUTH Authentication
/// required.` and returns false.
pub fn auth_gate(spec: &Spec, session: &Session, ctx: &dyn ServerCtx, out: &mut Vec<u8>) -> bool {
    if session.authenticated || spec.has(super::flags::NOAUTH) || ctx.password().is_none() {
        return true;
    }
    reply::error(out, "NOAUTH Authentication required.");
    false
}

/// Runs one connection command (route [`Server`](super::Route::Server)).
/// Writes exactly one reply, except for SHUTDOWN, which writes none.
pub fn execute_server(
    spec: &'static Spec,
    session: &mut Session,
    args: &[&[u8]],
    ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    if !arity_ok(spec, args.len()) {
        wrong_arity(out, spec);
        return After::Continue;
    }
    match spec.run {
        super::Run::Server(f) => f(session, args, ctx, out),
        _ => {
            reply::error(out, "ERR this command is not a connection command");
            After::Continue
        }
    }
}

/// Finds the subcommand `args[1]` of container `spec` and checks its
/// arity, replying Redis's error if either fails.
pub(crate) fn subcommand(
    spec: &'static Spec,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<&'static Spec> {
    let name = args.get(1).copied().unwrap_or(b"");
    let found = spec.subcommands.iter().find(|sub| {
        sub.name
            .split_once('|')
            .is_some_and(|(_, s)| s.as_bytes().eq_ignore_ascii_case(name))
    });
    match found {
        None => {
            let mut text = b"ERR unknown subcommand '".to_vec();
            text.extend_from_slice(&name[..name.len().min(128)]);
            text.extend_from_slice(b"'. Try ");
            text.extend_from_slice(spec.name.to_ascii_uppercase().as_bytes());
            text.extend_from_slice(b" HELP.");
            error_bytes(out, &text);
            None
        }
        Some(sub) if !arity_ok(sub, args.len()) => {
            wrong_arity(out, sub);
            None
        }
        Some(sub) => Some(sub),
    }
}

/// The reply to `<CONTAINER> HELP`: one line per subcommand.
pub(crate) fn help(out: &mut Vec<u8>, spec: &Spec) {
    let upper = spec.name.to_ascii_uppercase();
    reply::array(out, 1 + spec.subcommands.len() * 2);
    reply::simple(
        out,
        &format!("{upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
    );
    for sub in spec.subcommands {
        let name = sub.name.split_once('|').map_or(sub.name, |(_, s)| s);
        reply::simple(out, &name.to_ascii_uppercase());
        reply::simple(out, &format!("    {}", sub.summary));
    }
}

/// `PING [message]`
pub(crate) fn ping(_: &mut Session, args: &[&[u8]], _: &dyn ServerCtx, out: &mut Vec<u8>) -> After {
    match args.len() {
        1 => reply::simple(out, "PONG"),
        2 => reply::bulk(out, args[1]),
        _ => super::arity_error(out, "ping"),
    }
    After::Continue
}

/// `ECHO message`
pub(crate) fn echo(_: &mut Session, args: &[&[u8]], _: &dyn ServerCtx, out: &mut Vec<u8>) -> After {
    reply::bulk(out, args[1]);
    After::Continue
}

/// `QUIT`: `+OK`, then the connection closes.
pub(crate) fn quit(_: &mut Session, _: &[&[u8]], _: &dyn ServerCtx, out: &mut Vec<u8>) -> After {
    reply::ok(out);
    After::Close
}

/// Checks `user`/`pass` against the default user, as Redis's ACL does
/// with only the default user defined.
fn credentials_ok(ctx: &dyn ServerCtx, user: &[u8], pass: &[u8]) -> bool {
    user == b"default" && ctx.password().is_none_or(|p| p == pass)
}

/// `AUTH [username] password`
pub(crate) fn auth(
    session: &mut Session,
    args: &[&[u8]],
    ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    if args.len() > 3 {
        reply::error(out, SYNTAX);
        return After::Continue;
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if ctx.password().is_none() {
            reply::error(
                out,
                "ERR AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            );
            return After::Continue;
        }
        (b"default", args[1])
    } else {
        (args[1], args[2])
    };
    if credentials_ok(ctx, user, pass) {
        session.authenticated = true;
        reply::ok(out);
    } else {
        reply::error(out, WRONGPASS);
    }
    After::Continue
}

/// Redis's rule for client names and library names: printable ASCII
/// without spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
/// Only RESP2 is spoken: protocol 3 gets `-NOPROTO`.
pub(crate) fn hello(
    session: &mut Session,
    args: &[&[u8]],
    ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let mut next = 1;
    let mut resp3 = session.resp3;
    if let Some(ver) = args.get(1) {
        let Some(ver) = parse_i64(ver) else {
            reply::error(
                out,
                "ERR Protocol version is not an integer or out of range",
            );
            return After::Continue;
        };
        if ver != 2 && ver != 3 {
            reply::error(out, "NOPROTO unsupported protocol version");
            return After::Continue;
        }
        resp3 = ver == 3;
        next = 2;
    }
    let mut credentials: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "auth") && more >= 2 {
            credentials = Some((args[j + 1], args[j + 2]));
            j += 3;
        } else if is(args[j], "setname") && more >= 1 {
            if !valid_name(args[j + 1]) {
                reply::error(out, BAD_NAME);
                return After::Continue;
            }
            name = Some(args[j + 1]);
            j += 2;
        } else {
            let mut text = b"ERR Syntax error in HELLO option '".to_vec();
            text.extend_from_slice(args[j]);
            text.push(b'\'');
            error_bytes(out, &text);
            return After::Continue;
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(ctx, user, pass) {
            reply::error(out, WRONGPASS);
            return After::Continue;
        }
        session.authenticated = true;
    }
    if !session.authenticated && ctx.password().is_some() {
        reply::error(
            out,
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
        return After::Continue;
    }
    if let Some(name) = name {
        session.name = (!name.is_empty()).then(|| name.to_vec());
    }
    // The protocol switches now: the connection writes this reply (a map
    // in RESP3) and every later one in it.
    session.resp3 = resp3;
    reply::array(out, 14);
    reply::bulk(out, b"server");
    reply::bulk(out, b"redis");
    reply::bulk(out, b"version");
    reply::bulk(out, VERSION.as_bytes());
    reply::bulk(out, b"proto");
    reply::int(out, if resp3 { 3 } else { 2 });
    reply::bulk(out, b"id");
    reply::int(out, session.id as i64);
    reply::bulk(out, b"mode");
    reply::bulk(out, b"standalone");
    reply::bulk(out, b"role");
    reply::bulk(out, b"master");
    reply::bulk(out, b"modules");
    reply::array(out, 0);
    After::Continue
}

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH: the connection answers them
/// (see `crate::tx`) before they get here. Only UNWATCH queued inside a
/// transaction runs here, at EXEC, where it has nothing left to do (EXEC
/// unwatches everything), as in Redis.
pub(crate) fn transaction(
    _session: &mut Session,
    args: &[&[u8]],
    _ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    if is(args[0], "unwatch") {
        reply::ok(out);
    } else {
        reply::error(
            out,
            "ERR this transaction command is answered by the connection",
        );
    }
    After::Continue
}

/// One `CLIENT LIST`/`CLIENT INFO` line for `session` (ends with `\n`).
fn client_line(session: &Session, cmd: &str) -> Vec<u8> {
    let text = |v: &Option<Vec<u8>>| v.as_deref().unwrap_or(b"").to_vec();
    let mut line =
        format!("id={} addr={} laddr= fd=-1 name=", session.id, session.addr).into_bytes();
    line.extend(text(&session.name));
    line.extend(
        format!(
            " age={} idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 \
             argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={cmd} \
             user=default redir=-1 resp={} lib-name=",
            session.created.elapsed().as_secs(),
            if session.resp3 { 3 } else { 2 }
        )
        .into_bytes(),
    );
    line.extend(text(&session.lib_name));
    line.extend(b" lib-ver=");
    line.extend(text(&session.lib_ver));
    line.push(b'\n');
    line
}

fn on_off(arg: &[u8], out: &mut Vec<u8>) {
    if is(arg, "on") || is(arg, "off") {
        reply::ok(out);
    } else {
        reply::error(out, SYNTAX);
    }
}

/// `CLIENT ID|GETNAME|SETNAME|SETINFO|INFO|LIST|NO-EVICT|NO-TOUCH|HELP`
pub(crate) fn client(
    session: &mut Session,
    args: &[&[u8]],
    _ctx: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let Some(spec) = super::lookup(b"client") else {
        return After::Continue;
    };
    let Some(sub) = subcommand(spec, args, out) else {
        return After::Continue;
    };
    match sub.name {
        "client|id" => reply::int(out, session.id as i64),
        "client|getname" => match &session.name {
            Some(name) => reply::bulk(out, name),
            None => reply::null(out),
        },
        "client|setname" => {
            let name = args[2];
            if valid_name(name) {
                session.name = (!name.is_empty()).then(|| name.to_vec());
                reply::ok(out);
            } else {
                reply::error(out, BAD_NAME);
            }
        }
        "client|setinfo" => {
            let (attr, value) = (args[2], args[3]);
            let slot = if is(attr, "lib-name") {
                &mut session.lib_name
            } else if is(attr, "lib-ver") {
                &mut session.lib_ver
            } else {
                let mut text = b"ERR Unrecognized option '".to_vec();
                text.extend_from_slice(attr);
                text.push(b'\'');
                error_bytes(out, &text);
                return After::Continue;
            };
            if valid_name(value) {
                *slot = (!value.is_empty()).then(|| value.to_vec());
                reply::ok(out);
            } else {
                let attr = String::from_utf8_lossy(attr).to_ascii_lowercase();
                reply::error(
                    out,
                    &format!("ERR {attr} cannot contain spaces, newlines or special characters."),
                );
            }
        }
        "client|info" => reply::bulk(out, &client_line(session, "client|info")),
        "client|list" => {
            // Only this session is known here: `CLIENT LIST` shows it,
            // honouring the TYPE and ID filters.
            let mut show = true;
            let mut j = 2;
            while j < args.len() {
                if is(args[j], "type") && j + 1 < args.len() {
                    let t = args[j + 1];
                    if is(t, "normal") {
                    } else if is(t, "master")
                        || is(t, "replica")
                        || is(t, "slave")
                        || is(t, "pubsub")
                    {
                        show = false;
                    } else {
                        let mut text = b"ERR Unknown client type '".to_vec();
                        text.extend_from_slice(t);
                        text.push(b'\'');
                        error_bytes(out, &text);
                        return After::Continue;
                    }
                    j += 2;
                } else if is(args[j], "id") && j + 1 < args.len() {
                    let mut ids = Vec::new();
                    for id in &args[j + 1..] {
                        match parse_i64(id) {
                            Some(n) if n > 0 => ids.push(n as u64),
                            _ => {
                                reply::error(out, "ERR Invalid client ID");
                                return After::Continue;
                            }
                        }
                    }
                    show &= ids.contains(&session.id);
                    j = args.len();
                } else {
                    reply::error(out, SYNTAX);
                    return After::Continue;
                }
            }
            if show {
                reply::bulk(out, &client_line(session, "client|list"));
            } else {
                reply::bulk(out, b"");
            }
        }
        "client|no-evict" | "client|no-touch" => on_off(args[2], out),
        _ => help(out, spec),
    }
    After::Continue
}

/// `SELECT index`: only database 0 exists.
pub(crate) fn select(
    _: &mut Session,
    args: &[&[u8]],
    _: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    match parse_i64(args[1]) {
        None => reply::error(out, super::parse::NOT_INT),
        Some(n) if i32::try_from(n).is_err() => reply::error(
            out,
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ),
        Some(0) => reply::ok(out),
        Some(_) => reply::error(out, "ERR DB index is out of range"),
    }
    After::Continue
}

/// `TIME`: Unix seconds and microseconds, as bulk strings.
pub(crate) fn time(_: &mut Session, _: &[&[u8]], _: &dyn ServerCtx, out: &mut Vec<u8>) -> After {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    reply::array(out, 2);
    reply::bulk_int(out, now.as_secs() as i64);
    reply::bulk_int(out, i64::from(now.subsec_micros()));
    After::Continue
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`
pub(crate) fn shutdown(
    _: &mut Session,
    args: &[&[u8]],
    _: &dyn ServerCtx,
    out: &mut Vec<u8>,
) -> After {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for arg in &args[1..] {
        if is(arg, "nosave") {
            nosave = true;
        } else if is(arg, "save") {
            save = true;
        } else if is(arg, "now") || is(arg, "force") {
            other = true;
        } else if is(arg, "abort") {
            abort = true;
        } else {
            reply::error(out, SYNTAX);
            return After::Continue;
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        reply::error(out, SYNTAX);
        return After::Continue;
    }
    if abort {
        reply::error(out, "ERR No shutdown in progress.");
        return After::Continue;
    }
    After::Shutdown
}
