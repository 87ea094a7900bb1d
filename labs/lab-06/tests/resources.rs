//! The resource check finds what a test left behind: a descriptor, a
//! thread, a socket in CLOSE_WAIT; and forgives what is released during
//! its retries. The look is process-wide, and libtest starts a thread per
//! test, so the cases run one after another inside a single test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use lab_06::Schedule;
use lab_06::resources::ResourceCheck;

fn check() -> ResourceCheck {
    ResourceCheck::start()
        .expect("snapshot")
        .schedule(Schedule {
            budget: Duration::from_millis(300),
            ..Schedule::default()
        })
}

fn a_file_left_open_is_named_by_its_path() {
    let check = check();
    let file = std::fs::File::open("Cargo.toml").expect("open");
    let leaks = check
        .verify()
        .expect("look")
        .expect_err("a descriptor is left");
    assert_eq!(leaks.fds.len(), 1, "{leaks}");
    assert!(
        leaks.fds[0].1.ends_with("labs/lab-06/Cargo.toml"),
        "{leaks}"
    );
    drop(file);
    check.verify().expect("look").expect("closed now");
}

fn a_thread_still_running_is_named() {
    let check = check();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::Builder::new()
        .name("stuck-worker".into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .expect("thread");
    let leaks = check.verify().expect("look").expect_err("a thread is left");
    assert!(
        leaks.threads.iter().any(|(_, name)| name == "stuck-worker"),
        "{leaks}"
    );
    drop(tx);
    t.join().expect("ended");
    check.verify().expect("look").expect("the thread has ended");
}

fn a_socket_whose_peer_closed_is_in_close_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let check = check();
    let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (mut server_side, _) = listener.accept().expect("accept");
    client.write_all(b"bye").expect("send");
    drop(client);
    let mut buf = Vec::new();
    server_side.read_to_end(&mut buf).expect("read to EOF");
    let leaks = check.verify().expect("look").expect_err("not closed");
    assert_eq!(leaks.close_wait.len(), 1, "{leaks}");
    drop(server_side);
    check.verify().expect("look").expect("closed now");
}

fn something_released_during_the_retries_is_forgiven() {
    let check = check();
    let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(40)));
    check
        .verify()
        .expect("look")
        .expect("the thread ends within the budget");
    t.join().expect("joined");
}

#[test]
fn the_resource_check_finds_what_is_left_and_forgives_what_is_released() {
    a_file_left_open_is_named_by_its_path();
    a_thread_still_running_is_named();
    a_socket_whose_peer_closed_is_in_close_wait();
    something_released_during_the_retries_is_forgiven();
}
