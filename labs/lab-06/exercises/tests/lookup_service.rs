use std::time::Duration;

use lab_06::{LeakCheck, Schedule};
use lab_06_exercises::lookup_service::serve;
use lab_06_exercises::support::Backend;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

async fn start(backend: Backend) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (addr, tokio::spawn(serve(listener, backend)))
}

/// A server whose backend never answers, and a leak check started after
/// its accept loop (the test's own task, not a leak).
async fn start_stuck_and_check() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>, LeakCheck) {
    let (addr, server) = start(Backend::Stuck).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let leaks = LeakCheck::start().schedule(Schedule {
        budget: Duration::from_millis(500),
        ..Schedule::default()
    });
    (addr, server, leaks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_each_request_on_a_connection() {
    let (addr, server) = start(Backend::AnswersAfter(Duration::from_millis(5))).await;
    let mut c = BufReader::new(TcpStream::connect(addr).await.expect("connect"));
    for key in ["a", "b"] {
        c.get_mut()
            .write_all(format!("GET {key}\n").as_bytes())
            .await
            .expect("send");
        let mut line = String::new();
        c.read_line(&mut line).await.expect("reply");
        assert_eq!(line, format!("value-of-{key}\n"));
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_while_the_backend_is_stuck_leaves_no_task() {
    let (addr, server, leaks) = start_stuck_and_check().await;
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET stuck\n").await.expect("send");
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(c);
    }
    let outcome = leaks.verify().await;
    server.abort();
    if let Err(report) = outcome {
        panic!("the connection tasks outlived their clients:\n{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_its_next_request_early_still_gets_both_answers() {
    let (addr, server) = start(Backend::AnswersAfter(Duration::from_millis(20))).await;
    let mut c = BufReader::new(TcpStream::connect(addr).await.expect("connect"));
    c.get_mut()
        .write_all(b"GET x\nGET y\n")
        .await
        .expect("send both");
    for key in ["x", "y"] {
        let mut line = String::new();
        c.read_line(&mut line).await.expect("reply");
        assert_eq!(line, format!("value-of-{key}\n"));
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_waits_gets_an_answer_from_a_slow_backend() {
    // Slower than any short deadline: a client still there is served.
    let (addr, server) = start(Backend::AnswersAfter(Duration::from_millis(700))).await;
    let mut c = BufReader::new(TcpStream::connect(addr).await.expect("connect"));
    c.get_mut().write_all(b"GET slow\n").await.expect("send");
    let mut line = String::new();
    c.read_line(&mut line).await.expect("reply");
    assert_eq!(line, "value-of-slow\n");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sent_its_next_request_and_hung_up_leaves_no_task() {
    let (addr, server, leaks) = start_stuck_and_check().await;
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"GET a\n").await.expect("send");
    tokio::time::sleep(Duration::from_millis(10)).await;
    // The next request, early, then gone.
    c.write_all(b"GET b\n").await.expect("send");
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(c);
    let outcome = leaks.verify().await;
    server.abort();
    if let Err(report) = outcome {
        panic!("a client that pipelined and left still holds its task:\n{report}");
    }
}
