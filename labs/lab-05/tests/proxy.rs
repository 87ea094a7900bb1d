//! The fault-injecting proxy, through real sockets on loopback: lab-02
//! behind it, a real client in front, and what the client observes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use kit::testutil::wait_until;
use lab_02::client::Client;
use lab_02::config::{Config, Model};
use lab_02::resp::{Frame, encode_command};
use lab_02::server::Server;
use lab_05::error::{Class, Op, classify_io};
use lab_05::proxy::{Faults, Proxy, ProxyConfig, ResetAt};

fn upstream() -> Server {
    let mut config = Config::ephemeral(Model::TaskPerConnection);
    config.threads = Some(1);
    lab_02::server::start(config).expect("lab-02 starts")
}

fn proxy_with(server: &Server, faults: Faults) -> Proxy {
    Proxy::spawn(ProxyConfig {
        faults,
        ..ProxyConfig::new(server.addr())
    })
    .expect("the proxy starts")
}

fn client(addr: SocketAddr, timeout: Duration) -> Client {
    let c = Client::connect(addr).expect("connect");
    c.set_timeout(Some(timeout)).expect("timeout");
    c
}

/// Does `key` exist, asked directly (not through the proxy)?
fn exists(server: &Server, key: &str) -> bool {
    let mut c = Client::connect(server.addr()).expect("direct connect");
    c.cmd(&[b"EXISTS", key.as_bytes()]).expect("EXISTS") == Frame::Integer(1)
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(args, &mut out);
    out
}

fn class_of(r: io::Result<Frame>) -> Class {
    match r {
        Ok(f) => panic!("expected an error, got {f:?}"),
        Err(e) => classify_io(Op::Receive, &e),
    }
}

#[test]
fn without_faults_a_pipeline_round_trips_byte_for_byte() {
    let server = upstream();
    let proxy = proxy_with(&server, Faults::default());
    let mut sent = Vec::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        let key = format!("key:{i}");
        let value = format!("value-{i}-{}", "x".repeat(i));
        sent.extend(command(&[b"SET", key.as_bytes(), value.as_bytes()]));
        sent.extend(command(&[b"GET", key.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend(Frame::bulk(value.into_bytes()).to_bytes());
    }
    let mut s = TcpStream::connect(proxy.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(&sent).expect("send the pipeline");
    let mut got = vec![0; expected.len()];
    s.read_exact(&mut got).expect("every reply");
    assert_eq!(got, expected);
    // The counters are bumped just after the writes the client saw.
    let counted = || {
        let s = proxy.stats();
        (
            s.requests,
            s.replies,
            s.bytes_up,
            s.bytes_down,
            s.passthrough,
        )
    };
    let want = (200, 200, sent.len() as u64, expected.len() as u64, 0);
    assert!(
        wait_until(Duration::from_secs(2), || counted() == want),
        "{:?}",
        proxy.stats()
    );
}

#[test]
fn latency_delays_each_direction() {
    let server = upstream();
    let latency = Duration::from_millis(60);
    let proxy = proxy_with(
        &server,
        Faults {
            latency,
            ..Faults::default()
        },
    );
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    let started = Instant::now();
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    let took = started.elapsed();
    assert!(took >= 2 * latency, "a round trip took {took:?}");
}

#[test]
fn a_stalled_reply_holds_up_what_follows_it_on_its_connection() {
    let server = upstream();
    let hold = Duration::from_millis(300);
    let proxy = proxy_with(
        &server,
        Faults {
            stall: 1.0,
            stall_for: hold,
            ..Faults::default()
        },
    );
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    let started = Instant::now();
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    let took = started.elapsed();
    assert!(took >= hold, "a stalled reply came after {took:?}");
    assert_eq!(proxy.stats().stalled, 1);
    // Off again: the next reply is not held.
    proxy.set_faults(Faults::default());
    let started = Instant::now();
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    assert!(started.elapsed() < hold, "took {:?}", started.elapsed());
    assert_eq!(proxy.stats().stalled, 1);
}

#[test]
fn bandwidth_paces_the_bytes() {
    let server = upstream();
    let rate = 64 * 1024;
    let proxy = proxy_with(
        &server,
        Faults {
            bandwidth: Some(rate),
            ..Faults::default()
        },
    );
    let value = vec![b'v'; 40 * 1024];
    let request = command(&[b"SET", b"big", &value]);
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    let started = Instant::now();
    c.send_raw(&request).expect("send");
    assert_eq!(c.read_frame().expect("OK"), Frame::simple("OK"));
    let took = started.elapsed();
    let floor = Duration::from_secs_f64(request.len() as f64 / rate as f64);
    assert!(took >= floor, "{} bytes took {took:?}", request.len());
    assert!(took < floor * 4, "{} bytes took {took:?}", request.len());
}

#[test]
fn reset_at_reply_loses_the_answer_of_an_executed_request() {
    let server = upstream();
    let proxy = proxy_with(
        &server,
        Faults {
            reset: 1.0,
            reset_at: ResetAt::Reply,
            ..Faults::default()
        },
    );
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(class_of(c.cmd(&[b"SET", b"done", b"1"])), Class::Reset);
    assert!(exists(&server, "done"), "the server executed the SET");
    assert_eq!(proxy.stats().resets, 1);
}

#[test]
fn reset_at_request_never_reaches_the_server() {
    let server = upstream();
    let proxy = proxy_with(
        &server,
        Faults {
            reset: 1.0,
            reset_at: ResetAt::Request,
            ..Faults::default()
        },
    );
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(class_of(c.cmd(&[b"SET", b"never", b"1"])), Class::Reset);
    assert!(!exists(&server, "never"), "the server never saw the SET");
    let stats = proxy.stats();
    assert_eq!((stats.resets, stats.bytes_up), (1, 0), "{stats:?}");
}

#[test]
fn truncate_sends_half_a_reply_then_ends_the_stream() {
    let server = upstream();
    let value = vec![b'a'; 100];
    Client::connect(server.addr())
        .expect("direct")
        .cmd(&[b"SET", b"k", &value])
        .expect("SET");
    let proxy = proxy_with(
        &server,
        Faults {
            truncate: 1.0,
            ..Faults::default()
        },
    );
    let mut s = TcpStream::connect(proxy.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(&command(&[b"GET", b"k"])).expect("send");
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("a clean end of stream, not a reset");
    let full = Frame::bulk(value).to_bytes();
    assert_eq!(got, full[..full.len() / 2], "the first half, then EOF");
    // Through the RESP client it is an end of stream inside a reply.
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(class_of(c.cmd(&[b"GET", b"k"])), Class::UnexpectedEof);
    assert_eq!(proxy.stats().truncated, 2);
}

#[test]
fn blackhole_swallows_requests_and_the_client_times_out() {
    let server = upstream();
    let proxy = proxy_with(
        &server,
        Faults {
            blackhole: true,
            ..Faults::default()
        },
    );
    let mut c = client(proxy.addr(), Duration::from_millis(200));
    assert_eq!(class_of(c.cmd(&[b"SET", b"lost", b"1"])), Class::Timeout);
    assert!(!exists(&server, "lost"), "the server never saw the SET");
    let stats = proxy.stats();
    assert_eq!((stats.swallowed, stats.bytes_up, stats.active), (1, 0, 1));
}

#[test]
fn refuse_closes_the_port_and_reopens_it() {
    let server = upstream();
    let proxy = proxy_with(&server, Faults::default());
    let addr = proxy.addr();
    // A connection made before stays usable throughout.
    let mut before = client(addr, Duration::from_secs(5));
    assert_eq!(before.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    proxy.set_faults(Faults {
        refuse: true,
        ..Faults::default()
    });
    // The listener closes a moment later (a connect racing with the close
    // may be reset instead); then every connect is refused.
    let refused = || {
        TcpStream::connect(addr)
            .err()
            .map(|e| classify_io(Op::Connect, &e))
            == Some(Class::Refused)
    };
    assert!(wait_until(Duration::from_secs(2), refused), "refused");
    assert!(refused(), "and refused again");
    assert_eq!(before.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    proxy.set_faults(Faults::default());
    assert!(
        wait_until(Duration::from_secs(2), || TcpStream::connect(addr).is_ok()),
        "connects work again on the same port"
    );
    let mut after = client(addr, Duration::from_secs(5));
    assert_eq!(after.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_accept_queues_then_times_out_connects_and_recovers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = upstream();
    let proxy = lab_05::proxy::start(ProxyConfig::new(server.addr()))
        .await
        .expect("start");
    let addr = proxy.addr();
    proxy.set_faults(Faults {
        stall_accept: true,
        ..Faults::default()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Connects complete while the backlog has room, then time out.
    let mut queued = Vec::new();
    let mut timed_out = false;
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(300), connect).await {
            Ok(s) => queued.push(s.expect("connect")),
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    assert!(
        timed_out,
        "{} connects completed, none timed out",
        queued.len()
    );
    assert!(!queued.is_empty(), "the backlog holds some connections");
    assert_eq!(proxy.stats().connections, 0, "none was accepted");
    for s in &mut queued {
        s.write_all(&command(&[b"PING"])).await.expect("send");
    }
    proxy.set_faults(Faults::default());
    for s in &mut queued {
        let mut reply = [0; 7];
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut reply))
            .await
            .expect("served once accepting again")
            .expect("read");
        assert_eq!(&reply, b"+PONG\r\n");
    }
    proxy.shutdown().await;
}

/// For each of 8 connections in turn, the index of the first of up to 12
/// requests that was reset, if any.
fn reset_indexes(server: &Server, seed: u64) -> Vec<Option<usize>> {
    let proxy = Proxy::spawn(ProxyConfig {
        seed,
        faults: Faults {
            reset: 0.3,
            reset_at: ResetAt::Request,
            ..Faults::default()
        },
        ..ProxyConfig::new(server.addr())
    })
    .expect("start");
    (0..8)
        .map(|_| {
            let mut c = client(proxy.addr(), Duration::from_secs(5));
            (0..12).find(|_| c.cmd(&[b"PING"]).is_err())
        })
        .collect()
}

#[test]
fn the_same_seed_resets_the_same_requests() {
    let server = upstream();
    let a = reset_indexes(&server, 42);
    let b = reset_indexes(&server, 42);
    let c = reset_indexes(&server, 43);
    assert_eq!(a, b, "same seed, same traffic");
    assert_ne!(a, c, "another seed");
    assert!(a.iter().any(Option::is_some), "{a:?}");
}

#[test]
fn faults_changed_at_run_time_apply_to_the_next_request() {
    let server = upstream();
    let proxy = proxy_with(&server, Faults::default());
    let mut c = client(proxy.addr(), Duration::from_secs(2));
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    proxy.set_faults(Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    });
    assert_eq!(proxy.faults().latency, Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    assert!(started.elapsed() >= Duration::from_millis(200));
    proxy.set_faults(Faults {
        blackhole: true,
        ..Faults::default()
    });
    c.set_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert_eq!(
        class_of(c.cmd(&[b"SET", b"swallowed", b"1"])),
        Class::Timeout
    );
    proxy.set_faults(Faults::default());
    // The connection lost a request in the middle of its stream: it stays
    // a black hole (were it to carry on, its next reply would be taken for
    // the lost one's). A new connection works.
    assert_eq!(class_of(c.cmd(&[b"PING"])), Class::Timeout);
    let mut fresh = client(proxy.addr(), Duration::from_secs(2));
    assert_eq!(fresh.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    assert!(!exists(&server, "swallowed"));
}

#[test]
fn the_control_interface_gets_sets_and_survives_garbage() {
    let server = upstream();
    let proxy = Proxy::spawn(ProxyConfig {
        control: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ProxyConfig::new(server.addr())
    })
    .expect("start");
    let control = TcpStream::connect(proxy.control_addr().expect("a control port")).expect("c");
    control
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut w = control.try_clone().expect("clone");
    let mut r = BufReader::new(control);
    let mut ask = |line: &str| {
        w.write_all(format!("{line}\n").as_bytes()).expect("send");
        let mut reply = String::new();
        r.read_line(&mut reply).expect("reply");
        reply.trim_end().to_owned()
    };
    let got: serde_json::Value = serde_json::from_str(&ask("get")).expect("JSON");
    assert_eq!(got["latency"], "0s");
    assert_eq!(
        ask("set latency=20ms reset=0.5 blackhole=on reset-at=request"),
        "OK"
    );
    assert_eq!(proxy.faults().latency, Duration::from_millis(20));
    assert_eq!(proxy.faults().reset_at, ResetAt::Request);
    assert!(proxy.faults().blackhole);
    let got: serde_json::Value = serde_json::from_str(&ask("get")).expect("JSON");
    assert_eq!(
        (got["latency"].as_str(), got["reset"].as_f64()),
        (Some("20ms"), Some(0.5))
    );
    for garbage in [
        "bogus",
        "set reset=2",
        "set",
        "set latency=soon",
        "set colour=red",
        "",
        "\u{1}\u{2}",
    ] {
        let reply = ask(garbage);
        assert!(reply.starts_with("ERR "), "{garbage:?} got {reply:?}");
    }
    assert_eq!(proxy.faults().reset, 0.5, "a refused set changes nothing");
    assert_eq!(ask("set latency=0s reset=0 blackhole=off"), "OK");
    let stats: serde_json::Value = serde_json::from_str(&ask("stats")).expect("JSON");
    assert_eq!(stats["connections"], 0);
    // An over-long line is refused and the connection closed.
    let reply = ask(&"a".repeat(5000));
    assert!(reply.starts_with("ERR "), "{reply}");
    let mut rest = String::new();
    assert_eq!(r.read_line(&mut rest).expect("EOF"), 0, "closed after it");
    // The proxy still serves, and so does the control port.
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    let mut again =
        BufReader::new(TcpStream::connect(proxy.control_addr().expect("c")).expect("c"));
    again.get_mut().write_all(b"stats\n").expect("send");
    let mut line = String::new();
    again.read_line(&mut line).expect("stats");
    assert!(line.contains("\"connections\":1"), "{line}");
}

#[test]
fn connections_over_the_limit_are_closed_and_counted() {
    let server = upstream();
    let proxy = Proxy::spawn(ProxyConfig {
        max_connections: 2,
        ..ProxyConfig::new(server.addr())
    })
    .expect("start");
    let mut a = client(proxy.addr(), Duration::from_secs(5));
    let mut b = client(proxy.addr(), Duration::from_secs(5));
    for c in [&mut a, &mut b] {
        assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    }
    let mut extra = client(proxy.addr(), Duration::from_secs(5));
    let class = class_of(extra.cmd(&[b"PING"]));
    assert!(
        matches!(class, Class::Closed | Class::UnexpectedEof | Class::Reset),
        "{class}"
    );
    assert_eq!(proxy.stats().refused_over_limit, 1);
    assert_eq!(a.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
    drop(b);
    assert!(wait_until(Duration::from_secs(2), || proxy.stats().active == 1));
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
}

#[test]
fn a_frame_over_the_bound_passes_through_unparsed() {
    let server = upstream();
    let proxy = proxy_with(&server, Faults::default());
    let value = vec![b'z'; 10 << 20];
    let mut c = client(proxy.addr(), Duration::from_secs(10));
    assert_eq!(
        c.cmd(&[b"SET", b"huge", &value]).expect("OK"),
        Frame::simple("OK")
    );
    assert_eq!(
        proxy.stats().passthrough,
        1,
        "the request was too big to parse"
    );
    let got = c.cmd(&[b"GET", b"huge"]).expect("the value");
    assert!(got.as_bulk() == Some(&value[..]), "10 MiB back intact");
    let stats = proxy.stats();
    assert_eq!(stats.passthrough, 1, "{stats:?}");
}

#[test]
fn a_stream_that_is_not_resp_passes_through_without_harm() {
    let server = upstream();
    let proxy = proxy_with(&server, Faults::default());
    // An inline command is not RESP: it passes through, and so does its
    // reply.
    let mut s = TcpStream::connect(proxy.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    s.write_all(b"PING\r\n").expect("send");
    let mut reply = [0; 7];
    s.read_exact(&mut reply).expect("PONG");
    assert_eq!(&reply, b"+PONG\r\n");
    assert_eq!(proxy.stats().passthrough, 1);
    // 10 MiB of bytes that are no protocol at all.
    let mut s = TcpStream::connect(proxy.addr()).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("t");
    let garbage: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8 | 0x80).collect();
    // The server gives up on it part-way; the write may fail then.
    let _ = s.write_all(&garbage);
    drop(s);
    assert!(wait_until(Duration::from_secs(5), || proxy
        .stats()
        .passthrough
        == 2));
    let mut c = client(proxy.addr(), Duration::from_secs(5));
    assert_eq!(c.cmd(&[b"PING"]).expect("PONG"), Frame::simple("PONG"));
}

#[test]
fn start_refuses_addresses_off_loopback() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = rt
        .block_on(lab_05::proxy::start(ProxyConfig::new(
            "10.1.2.3:6379".parse().expect("addr"),
        )))
        .expect_err("not loopback");
    assert!(err.to_string().contains("not loopback"), "{err}");
}

#[test]
fn a_bad_flag_is_one_line_and_status_2() {
    for args in [
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--reset",
            "2",
        ][..],
        &[
            "proxy",
            "--listen",
            "10.0.0.1:7000",
            "--upstream",
            "127.0.0.1:1",
        ],
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--latency",
            "soon",
        ],
        &["proxy", "--bogus"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lab-05"))
            .args(args)
            .output()
            .expect("run lab-05");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}
