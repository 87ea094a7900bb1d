//! The debug port: Go's `net/http/pprof`, for any server in this process.
//!
//! A plain HTTP/1.1 listener on its own threads (never the server's
//! runtime threads, so a busy runtime cannot stall a profile and a profile's
//! symbolisation cannot stall the runtime), bound to loopback only:
//!
//! | path | answers |
//! |---|---|
//! | `/debug/pprof/profile?seconds=N&frequency=H&format=pprof\|svg\|folded` | a CPU profile ([`crate::sampling`]) |
//! | `/debug/runtime?seconds=N` | tokio's runtime and task metrics over N seconds, as JSON ([`crate::runtime`]) |
//! | `/debug/pprof/` | an index of the above |
//!
//! Bad input gets a clear 4xx and costs nothing: 400 for a bad parameter,
//! 404, 405 for a method other than GET, 409 while another profile runs,
//! 431 for a request head over 8 KiB, 503 beyond [`MAX_CONNECTIONS`], and a
//! client that sends nothing is dropped after [`READ_TIMEOUT`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::request::{Format, ProfileRequest};
use crate::runtime::Sources;
use crate::sampling::{self, ProfileError};
use crate::stacks;

/// Requests served at once; more get 503 (a profile holds its connection
/// for its whole duration).
pub const MAX_CONNECTIONS: usize = 8;
/// Longest request head.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A running debug port.
pub struct DebugServer {
    addr: SocketAddr,
    warm: Duration,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DebugServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How long loading the symbols took when the port started.
    pub fn warm_up(&self) -> Duration {
        self.warm
    }
}

// ANCHOR: warm
/// Loads this binary's debug information into the symboliser's cache
/// (pprof-rs resolves names through the `backtrace` crate, whose cache this
/// fills) by resolving one backtrace. The first resolution parses the
/// binary's DWARF, which costs far more CPU than any later profile's; done
/// here, when the port starts, it is not paid on the server's cores in the
/// middle of the first profile under load.
fn warm_symboliser() -> Duration {
    let started = std::time::Instant::now();
    drop(std::hint::black_box(backtrace::Backtrace::new()));
    started.elapsed()
}
// ANCHOR_END: warm

impl Drop for DebugServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `addr` (loopback only: a profile shows code and data layout, and
/// costs CPU, so it is never offered to the network) and serves.
pub fn start(addr: SocketAddr, sources: Sources) -> Result<DebugServer> {
    if !addr.ip().is_loopback() {
        bail!(
            "the debug port serves loopback only (127.0.0.1 or ::1), not {}",
            addr.ip()
        );
    }
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot bind the debug port {addr}"))?;
    let addr = listener.local_addr()?;
    let warm = warm_symboliser();
    let stop = Arc::new(AtomicBool::new(false));
    let sources = Arc::new(sources);
    let active = Arc::new(AtomicUsize::new(0));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("debug-accept".into())
            .spawn(move || accept_loop(listener, &stop, &sources, &active))?
    };
    Ok(DebugServer {
        addr,
        warm,
        stop,
        thread: Some(thread),
    })
}

fn accept_loop(
    listener: TcpListener,
    stop: &AtomicBool,
    sources: &Arc<Sources>,
    active: &Arc<AtomicUsize>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut stream) = stream else {
            // EMFILE and friends: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = respond(
                &mut stream,
                503,
                "text/plain",
                b"too many debug requests at once\n",
            );
            continue;
        }
        let (sources, mine) = (sources.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("debug-conn".into())
            .spawn(move || {
                let _ = serve_one(&mut stream, &sources);
                mine.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    method: String,
    path: String,
    query: String,
}

/// Reads the request head (line and headers, up to the blank line).
fn read_head(stream: &mut TcpStream) -> Result<Head, (u16, String)> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| (500, e.to_string()))?;
    let mut reader = BufReader::new(stream.take(MAX_HEAD as u64 + 1));
    let mut first = String::new();
    let mut read = 0;
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| (400, format!("could not read the request: {e}")))?;
        read += n;
        if read > MAX_HEAD {
            return Err((431, format!("request head over {MAX_HEAD} bytes")));
        }
        if n == 0 {
            return Err((400, "the request ended before its blank line".into()));
        }
        if first.is_empty() {
            first = line;
            continue;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    parse_request_line(&first).map_err(|m| (400, m))
}

fn parse_request_line(line: &str) -> Result<Head, String> {
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line".into());
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported protocol `{version}`"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

const INDEX: &str = "\
Under Load debug port (lab-04)

/debug/pprof/profile?seconds=30&frequency=99&format=pprof
    CPU profile. seconds 1-60, frequency 1-1000 Hz, format pprof|svg|folded,
    blocklist unwinder|libc (where samples are dropped, not unwound).
    go tool pprof -top http://HOST/debug/pprof/profile?seconds=10
/debug/runtime?seconds=1
    tokio runtime and task metrics over the window, as JSON.
/debug/tasks?format=text|json   (also /debug/pprof/goroutine)
    live tasks by spawn site, with counts and ages, when a task tracker
    is installed (lab-06 serve).
";

// ANCHOR: route
fn serve_one(stream: &mut TcpStream, sources: &Sources) -> std::io::Result<()> {
    let head = match read_head(stream) {
        Ok(h) => h,
        Err((status, msg)) => return respond(stream, status, "text/plain", msg.as_bytes()),
    };
    if head.method != "GET" {
        return respond(stream, 405, "text/plain", b"only GET is served here\n");
    }
    match head.path.as_str() {
        "/" | "/debug" | "/debug/" | "/debug/pprof" | "/debug/pprof/" => {
            respond(stream, 200, "text/plain", INDEX.as_bytes())
        }
        "/debug/pprof/profile" => {
            let req = match ProfileRequest::from_query(&head.query) {
                Ok(r) => r,
                Err(e) => return respond(stream, 400, "text/plain", format!("{e}\n").as_bytes()),
            };
            // Refuse at once rather than after the client waited N seconds.
            if sampling::busy() {
                return respond(stream, 409, "text/plain", busy_text().as_bytes());
            }
            match sampling::record_with(req.duration(), req.frequency, req.blocklist) {
                Ok(p) => match render(&p, req.format) {
                    Ok(body) => respond(stream, 200, req.format.content_type(), &body),
                    Err(e) => respond(stream, 500, "text/plain", format!("{e:#}\n").as_bytes()),
                },
                Err(ProfileError::Busy) => {
                    respond(stream, 409, "text/plain", busy_text().as_bytes())
                }
                Err(e) => respond(stream, 500, "text/plain", format!("{e}\n").as_bytes()),
            }
        }
        "/debug/runtime" => match crate::runtime::window_from_query(&head.query) {
            Ok(window) => {
                let json = sources.snapshot(window);
                respond(stream, 200, "application/json", json.as_bytes())
            }
            Err(e) => respond(stream, 400, "text/plain", format!("{e}\n").as_bytes()),
        },
        "/debug/tasks" | "/debug/pprof/goroutine" => match &sources.task_profile {
            Some(profile) => match profile(&head.query) {
                Ok((content_type, body)) => respond(stream, 200, content_type, body.as_bytes()),
                Err(e) => respond(stream, 400, "text/plain", format!("{e}\n").as_bytes()),
            },
            None => respond(
                stream,
                404,
                "text/plain",
                b"no task tracker in this server (lab-06 serve has one)\n",
            ),
        },
        _ => respond(
            stream,
            404,
            "text/plain",
            b"not found; see /debug/pprof/ for what is served\n",
        ),
    }
}
// ANCHOR_END: route

fn busy_text() -> String {
    ProfileError::Busy.to_string() + "\n"
}

fn render(p: &sampling::Profile, format: Format) -> Result<Vec<u8>> {
    Ok(match format {
        Format::Pprof => p.pprof.clone(),
        Format::Folded => stacks::to_folded(&p.stacks).into_bytes(),
        Format::Svg => {
            let sub = format!(
                "{} samples at {} Hz over {:.1} s",
                p.samples(),
                p.frequency,
                p.duration.as_secs_f64()
            );
            crate::flame::svg(&stacks::to_folded(&p.stacks), "CPU profile", Some(&sub))?
                .into_bytes()
        }
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn respond(stream: &mut TcpStream, status: u16, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Fetches a profile from a debug port: the body of a 200, or an error
/// carrying the port's own message (a 400's reason, a 409).
pub fn profile(addr: SocketAddr, req: &ProfileRequest) -> Result<Vec<u8>> {
    let path = format!("/debug/pprof/profile?{}", req.to_query());
    let r = get(addr, &path, req.duration() + Duration::from_secs(60))?;
    if r.status != 200 {
        bail!("the debug port answered {}: {}", r.status, r.text().trim());
    }
    Ok(r.body)
}

/// A response from [`get`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` from a debug port (or any HTTP/1.1 server that closes after
/// the response), waiting at most `timeout` for the whole answer.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("cannot connect to the debug port {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("no complete answer from {addr}{path} within {timeout:?}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the answer has no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("the answer has no status")?;
    Ok(Response {
        status,
        body: raw[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let h = parse_request_line("GET /debug/pprof/profile?seconds=1 HTTP/1.1\r\n").unwrap();
        assert_eq!(h.path, "/debug/pprof/profile");
        assert_eq!(h.query, "seconds=1");
        assert!(parse_request_line("GET /\r\n").is_err());
        assert!(parse_request_line("GET / SPDY/3\r\n").is_err());
        assert!(parse_request_line("GET / HTTP/1.1 extra\r\n").is_err());
    }

    #[test]
    fn refuses_to_bind_beyond_loopback() {
        let err = start("0.0.0.0:0".parse().unwrap(), Sources::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("loopback only"));
    }

    fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn bad_requests_get_clear_errors_and_the_port_keeps_serving() {
        let _one = sampling::TEST_PROFILE
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let server = start("127.0.0.1:0".parse().unwrap(), Sources::default()).unwrap();
        let a = server.addr();
        let t = Duration::from_secs(10);
        let r = get(a, "/debug/pprof/profile?seconds=0", t).unwrap();
        assert_eq!(r.status, 400);
        assert!(r.text().contains("between 1 and 60"));
        let r = get(a, "/debug/pprof/profile?frequency=100000", t).unwrap();
        assert_eq!((r.status, r.text().contains("frequency")), (400, true));
        assert_eq!(get(a, "/nope", t).unwrap().status, 404);
        assert!(raw(a, b"POST /debug/pprof/ HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(raw(a, b"garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
        assert!(raw(a, huge.as_bytes()).starts_with("HTTP/1.1 431"));
        // A client that connects and sends half a head, then leaves.
        drop(TcpStream::connect(a).unwrap().write_all(b"GET / HT"));
        let r = get(a, "/debug/pprof/", t).unwrap();
        assert_eq!(r.status, 200);
        assert!(r.text().contains("/debug/pprof/profile"));
        let r = get(a, "/debug/runtime?seconds=99", t).unwrap();
        assert_eq!(r.status, 400);
    }

    #[test]
    fn a_profile_in_every_format_and_409_for_a_second_one() {
        let _one = sampling::TEST_PROFILE
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let server = start("127.0.0.1:0".parse().unwrap(), Sources::default()).unwrap();
        let a = server.addr();
        let t = Duration::from_secs(20);
        let first = std::thread::spawn(move || {
            get(
                a,
                "/debug/pprof/profile?seconds=2&frequency=199&format=folded",
                t,
            )
            .unwrap()
        });
        let mut second = None;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            if sampling::busy() {
                second = Some(get(a, "/debug/pprof/profile?seconds=1", t).unwrap());
                break;
            }
        }
        let first = first.join().unwrap();
        assert_eq!(first.status, 200);
        stacks::parse_folded(&first.text()).unwrap();
        let second = second.expect("the first profile was seen running");
        assert_eq!(second.status, 409, "{}", second.text());
        let svg = get(a, "/debug/pprof/profile?seconds=1&format=svg", t).unwrap();
        assert_eq!(svg.status, 200);
        assert!(svg.text().contains("<svg"));
        let pb = get(a, "/debug/pprof/profile?seconds=1&format=pprof", t).unwrap();
        assert_eq!(pb.status, 200);
        stacks::from_pprof(&pb.body).unwrap();
    }
}
