//! The HTTP target over raw loopback sockets: framing (keep-alive,
//! pipelining, bodies, closing), refusal of bad input without harm to other
//! connections, the timing knobs (lower bounds only, with generous margins
//! for upper ones) and the statistics endpoint.

// Helpers outside #[test] functions unwrap too (clippy.toml only covers
// the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use lab_03::schedule::Rng;
use lab_03::target::{Target, TargetConfig, TargetError, TargetStats, start};

const TIMEOUT: Duration = Duration::from_secs(5);

fn target(cfg: TargetConfig) -> Target {
    start(cfg).expect("the target starts")
}

fn plain() -> Target {
    target(TargetConfig::default())
}

struct Client {
    r: BufReader<TcpStream>,
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    fn new(t: &Target) -> Self {
        let s = TcpStream::connect(t.addr()).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Self {
            r: BufReader::new(s),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).unwrap();
    }

    /// Reads one response; `head_only` for the answer to a HEAD request
    /// (a Content-Length but no body).
    fn read(&mut self, head_only: bool) -> Response {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "status line {line:?}");
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
        let status: u16 = parts.next().unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            assert!(line.ends_with("\r\n"), "header line {line:?}");
            let l = line.trim_end_matches("\r\n");
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_only {
            let len: usize = r.header("content-length").unwrap().parse().unwrap();
            r.body = vec![0; len];
            self.r.read_exact(&mut r.body).unwrap();
        }
        r
    }

    fn get(&mut self) -> Response {
        self.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        self.read(false)
    }

    /// True if the server closed the connection (EOF, or a reset).
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.r.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        }
    }
}

fn stats_over_http(t: &Target) -> TargetStats {
    let mut c = Client::new(t);
    c.send(b"GET /__stats HTTP/1.1\r\nConnection: close\r\n\r\n");
    let r = c.read(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap()
}

/// The server counts a response just after writing it, so a client may
/// hold its answer a moment before the count includes it.
fn stats_after(t: &Target, requests: u64) -> TargetStats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = t.stats();
        if s.requests >= requests || Instant::now() > deadline {
            return s;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The target still answers a fresh connection.
fn assert_alive(t: &Target) {
    let r = Client::new(t).get();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"Hello, world!"[..]));
}

#[test]
fn plain_get_is_answered_with_the_body_size() {
    let t = plain();
    let r = Client::new(&t).get();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, world!");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("connection"), None);

    let big = target(TargetConfig {
        body_size: 100_000,
        ..TargetConfig::default()
    });
    let r = Client::new(&big).get();
    assert_eq!(r.body.len(), 100_000);
    assert!(r.body.starts_with(b"Hello, world!Hello"));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let t = plain();
    let mut c = Client::new(&t);
    for _ in 0..3 {
        assert_eq!(c.get().status, 200);
    }
    // Any method and path.
    c.send(b"DELETE /x/y?z HTTP/1.1\r\n\r\n");
    assert_eq!(c.read(false).status, 200);
    drop(c);
    assert_eq!(stats_over_http(&t).connections, 2);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let t = plain();
    let mut c = Client::new(&t);
    // Three different shapes, so the order is visible in the answers.
    c.send(b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\nGET /__stats HTTP/1.1\r\n\r\n");
    let first = c.read(false);
    assert_eq!(first.body, b"Hello, world!");
    let second = c.read(true);
    assert_eq!(
        (second.status, second.header("content-length")),
        (200, Some("13"))
    );
    let third = c.read(false);
    let stats: TargetStats = serde_json::from_slice(&third.body).unwrap();
    // The two earlier responses were written before the snapshot.
    assert_eq!(stats.requests, 2);
    // Still open, and a long pipeline in one write works too.
    let many = b"GET / HTTP/1.1\r\n\r\n".repeat(500);
    c.send(&many);
    for _ in 0..500 {
        assert_eq!(c.read(false).status, 200);
    }
    drop(c);
    assert_eq!(stats_after(&t, 502).requests, 502);
}

#[test]
fn connection_close_closes() {
    let t = plain();
    let mut c = Client::new(&t);
    c.send(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    let r = c.read(false);
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert!(c.closed());
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let t = plain();
    let mut c = Client::new(&t);
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.read(false).header("connection"), Some("close"));
    assert!(c.closed());

    let mut c = Client::new(&t);
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(c.read(false).header("connection"), Some("keep-alive"));
    }
}

#[test]
fn request_bodies_are_consumed() {
    let t = plain();
    let mut c = Client::new(&t);
    // A body that looks like a request must not be parsed as one.
    c.send(b"POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert_eq!(c.read(false).status, 200);
    assert_eq!(c.read(false).status, 200);
    // A body in pieces, the last piece with the next request.
    c.send(b"PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    thread::sleep(Duration::from_millis(20));
    c.send(b"defg");
    thread::sleep(Duration::from_millis(20));
    c.send(b"hij\r\nHEAD / HTTP/1.1\r\n\r\n");
    assert_eq!(c.read(false).status, 200);
    assert_eq!(c.read(true).status, 200);
    drop(c);
    assert_eq!(stats_after(&t, 4).requests, 4);

    // Expect: 100-continue gets its interim answer before the body is sent.
    let mut c = Client::new(&t);
    c.send(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    let mut interim = [0u8; 25];
    c.r.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"hello");
    assert_eq!(c.read(false).status, 200);
}

#[test]
fn garbage_gets_400_and_the_server_goes_on() {
    let t = plain();
    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let mut c = Client::new(&t);
        c.send(bad);
        let r = c.read(false);
        assert_eq!(
            (r.status, r.header("connection")),
            (400, Some("close")),
            "{bad:?}"
        );
        assert!(c.closed());
        assert_alive(&t);
    }
    // Good requests before the bad one are still answered, in order.
    let mut c = Client::new(&t);
    c.send(b"GET / HTTP/1.1\r\n\r\nBAD\r\n\r\n");
    assert_eq!(c.read(false).status, 200);
    assert_eq!(c.read(false).status, 400);
    assert!(c.closed());

    let mut c = Client::new(&t);
    c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(c.read(false).status, 501);
    assert!(c.closed());

    let mut c = Client::new(&t);
    c.send(b"GET / HTTP/2.0\r\n\r\n");
    assert_eq!(c.read(false).status, 505);

    let s = stats_after(&t, 5);
    assert_eq!(s.bad_requests, 7);
    assert_eq!(s.requests, 5);
}

#[test]
fn oversized_headers_get_431() {
    let t = plain();
    let mut c = Client::new(&t);
    let mut req = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 20 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    c.send(&req);
    let r = c.read(false);
    assert_eq!((r.status, r.header("connection")), (431, Some("close")));
    assert!(c.closed());

    // Just under the limit is fine.
    let mut c = Client::new(&t);
    let mut req = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    let filler = 16 * 1024 - req.len() - 4;
    req.extend(std::iter::repeat_n(b'a', filler));
    req.extend_from_slice(b"\r\n\r\n");
    assert_eq!(req.len(), 16 * 1024);
    c.send(&req);
    assert_eq!(c.read(false).status, 200);
}

#[test]
fn a_megabyte_of_noise_does_not_hurt() {
    let t = plain();
    let mut rng = Rng::new(42);
    let noise: Vec<u8> = (0..1 << 20).map(|_| rng.next_u64() as u8).collect();
    let mut c = Client::new(&t);
    // The server answers and closes early; the rest of the write may fail.
    let _ = c.r.get_mut().write_all(&noise);
    let mut sink = Vec::new();
    let _ = c.r.read_to_end(&mut sink);
    // Noise split into many small writes, on several connections at once.
    let writers: Vec<_> = (0..4)
        .map(|k| {
            let addr = t.addr();
            let chunk = noise[k * 1000..(k + 1) * 1000 + 20_000].to_vec();
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(TIMEOUT)).unwrap();
                for piece in chunk.chunks(97) {
                    if s.write_all(piece).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    assert_alive(&t);
    for w in writers {
        w.join().unwrap();
    }
    assert_alive(&t);
}

#[test]
fn a_reset_or_half_closed_peer_does_not_affect_others() {
    let t = plain();
    let mut other = Client::new(&t);
    other.send(b"GET / HTTP/1.1\r\n");
    // A client that leaves its answer unread and closes: its kernel sends
    // a reset instead of a FIN.
    {
        let mut c = Client::new(&t);
        c.send(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        thread::sleep(Duration::from_millis(50));
    }
    // One that disappears halfway through a request.
    {
        let mut c = Client::new(&t);
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
    }
    // One that sends a request and half-closes: it still gets its answer.
    let mut c = Client::new(&t);
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    c.r.get_ref().shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.read(false).status, 200);
    assert!(c.closed());
    // The connection that was there all along finishes its request.
    other.send(b"\r\n");
    assert_eq!(other.read(false).status, 200);
    assert_eq!(other.get().status, 200);
}

#[test]
fn a_delay_delays_every_response() {
    let t = target(TargetConfig {
        delay: Duration::from_millis(50),
        ..TargetConfig::default()
    });
    let mut c = Client::new(&t);
    let sent = Instant::now();
    assert_eq!(c.get().status, 200);
    assert!(sent.elapsed() >= Duration::from_millis(50));
    // Pipelined requests wait together, not one after the other: this is
    // latency, not capacity.
    let sent = Instant::now();
    c.send(&b"GET / HTTP/1.1\r\n\r\n".repeat(3));
    for _ in 0..3 {
        assert_eq!(c.read(false).status, 200);
    }
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    drop(c);
    stats_after(&t, 4);
    let s = stats_over_http(&t);
    assert_eq!(s.requests, 4);
    assert!(s.p50_us >= 50_000 && s.max_us >= 50_000, "{s:?}");
}

#[test]
fn a_stall_holds_requests_until_it_ends() {
    let before_start = Instant::now();
    let t = target(TargetConfig {
        stall_every: Some(Duration::from_millis(600)),
        stall_for: Duration::from_millis(300),
        ..TargetConfig::default()
    });
    let started = Instant::now();
    // The first stall is [300 ms, 600 ms) after the server started, which
    // was between `before_start` and `started`.
    let mut c = Client::new(&t);
    thread::sleep(Duration::from_millis(100).saturating_sub(started.elapsed()));
    let sent = Instant::now();
    assert_eq!(c.get().status, 200);
    let fast = sent.elapsed();
    assert!(
        fast < Duration::from_millis(150),
        "outside a stall: {fast:?}"
    );

    thread::sleep(Duration::from_millis(350).saturating_sub(started.elapsed()));
    // /__stats is never stalled.
    let sent = Instant::now();
    let s = stats_over_http(&t);
    assert!(sent.elapsed() < Duration::from_millis(150));
    assert_eq!(s.requests, 1);
    let r = c.get();
    assert_eq!(r.status, 200);
    let answered = before_start.elapsed();
    assert!(
        answered >= Duration::from_millis(600),
        "inside a stall: answered at {answered:?}"
    );
}

#[test]
fn a_service_time_serializes_requests_from_all_connections() {
    let t = target(TargetConfig {
        service_time: Some(Duration::from_millis(20)),
        ..TargetConfig::default()
    });
    let mut clients: Vec<Client> = (0..5).map(|_| Client::new(&t)).collect();
    let sent = Instant::now();
    for c in &mut clients {
        c.send(b"GET / HTTP/1.1\r\n\r\n");
    }
    let mut times: Vec<Duration> = clients
        .iter_mut()
        .map(|c| {
            assert_eq!(c.read(false).status, 200);
            sent.elapsed()
        })
        .collect();
    times.sort();
    let last = times[4];
    assert!(last >= Duration::from_millis(100), "{times:?}");
    assert!(times[0] >= Duration::from_millis(20), "{times:?}");
}

#[test]
fn stats_count_requests_but_not_themselves() {
    let t = target(TargetConfig {
        threads: 2,
        ..TargetConfig::default()
    });
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut c = Client::new(&t);
            thread::spawn(move || {
                for _ in 0..25 {
                    assert_eq!(c.get().status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    stats_after(&t, 100);
    let a = stats_over_http(&t);
    let b = stats_over_http(&t);
    assert_eq!((a.requests, b.requests), (100, 100));
    assert_eq!(b.connections, 6);
    assert_eq!(b.bad_requests, 0);
    assert!(a.p50_us <= a.p99_us && a.p99_us <= a.max_us, "{a:?}");
    assert!(b.cpu_ms.is_some());
    let c = t.stats();
    assert_eq!(c.requests, 100);
    assert!(c.uptime_ms >= a.uptime_ms);
}

#[test]
fn start_reports_clear_errors() {
    let t = plain();
    let clash = start(TargetConfig {
        port: t.addr().port(),
        ..TargetConfig::default()
    });
    let Err(e @ TargetError::Bind { .. }) = clash else {
        panic!("binding a used port should fail");
    };
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("cannot listen on {}", t.addr())),
        "{msg}"
    );
    assert!(msg.contains("another server"), "{msg}");

    let bad = start(TargetConfig {
        stall_every: Some(Duration::from_secs(1)),
        stall_for: Duration::from_secs(2),
        ..TargetConfig::default()
    });
    let Err(e @ TargetError::Config(_)) = bad else {
        panic!("a stall longer than its period should be refused");
    };
    assert!(e.to_string().contains("--stall-for"), "{e}");

    // Stopping closes the port.
    let addr = t.addr();
    t.stop();
    assert!(TcpStream::connect(addr).is_err());
}
