//! lab-02 with its tasks tracked: each connection's task is in the
//! registry, at lab-02's spawn line, until the client leaves; the planted
//! leak leaves a watchdog behind and its fix does not; the debug port
//! serves the live profile.

use std::sync::Arc;
use std::time::Duration;

use kit::testutil::wait_until;
use lab_02::client::Client;
use lab_02::config::{Config, Model, TaskHooks};
use lab_06::serve::{Hook, Plant};
use lab_06::track::{TaskInfo, registry};

fn tracked(model: Model, plant: Plant) -> lab_02::server::Server {
    let mut config = Config::ephemeral(model);
    config.threads = Some(2);
    config.task_hook = TaskHooks(Some(Arc::new(Hook { plant })));
    lab_02::server::start(config).expect("lab-02 starts")
}

/// Live tasks spawned in `file` (a suffix) on `server`'s runtimes: the
/// tests run in parallel, each with its own server.
fn live_in(server: &lab_02::server::Server, file: &str) -> Vec<TaskInfo> {
    let runtimes: Vec<tokio::runtime::Id> = server
        .shared()
        .runtimes
        .lock()
        .map(|r| r.iter().map(|(_, h)| h.id()).collect())
        .unwrap_or_default();
    registry()
        .live()
        .into_iter()
        .filter(|t| t.site.file().ends_with(file))
        .filter(|t| t.runtime.is_some_and(|r| runtimes.contains(&r)))
        .collect()
}

fn connection_task_comes_and_goes(model: Model, file: &str) {
    let server = tracked(model, Plant::None);
    let before = live_in(&server, file).len();
    let mut c = Client::connect(server.addr()).expect("connect");
    c.cmd(&[b"PING"]).expect("PONG");
    assert!(
        wait_until(Duration::from_secs(5), || live_in(&server, file).len()
            == before + 1),
        "a connection task at {file} while the client is connected"
    );
    drop(c);
    assert!(
        wait_until(Duration::from_secs(5), || live_in(&server, file).len()
            == before),
        "gone once the client left"
    );
}

#[test]
fn a_task_per_connection_is_tracked_at_lab_02s_spawn_line() {
    connection_task_comes_and_goes(Model::TaskPerConnection, "models/tasks.rs");
}

#[test]
fn a_thread_per_core_connection_is_tracked_too() {
    connection_task_comes_and_goes(Model::ThreadPerCore, "models/per_core.rs");
}

#[test]
fn the_planted_leak_leaves_a_watchdog_per_connection_and_the_fix_does_not() {
    for (plant, left) in [(Plant::Leak, 3), (Plant::Fixed, 0)] {
        let server = tracked(Model::TaskPerConnection, plant);
        let before = live_in(&server, "src/serve.rs").len();
        for _ in 0..3 {
            let mut c = Client::connect(server.addr()).expect("connect");
            c.cmd(&[b"PING"]).expect("PONG");
        }
        assert!(
            wait_until(Duration::from_secs(5), || live_in(&server, "src/serve.rs")
                .len()
                == before + left),
            "{plant:?}: expected {left} watchdogs left, found {}",
            live_in(&server, "src/serve.rs").len() - before
        );
        // The leaked ones end with the server's runtime.
        server.shutdown();
        server.wait().expect("stopped");
    }
}

#[test]
fn the_debug_port_serves_the_live_task_profile() {
    let sources = lab_04::runtime::Sources {
        task_profile: Some(Box::new(lab_06::profile::answer)),
        ..Default::default()
    };
    let port =
        lab_04::debug::start("127.0.0.1:0".parse().expect("addr"), sources).expect("debug port");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let _parked = rt.enter();
    let _task = lab_06::spawn(std::future::pending::<()>());
    let t = Duration::from_secs(5);
    let r = lab_04::debug::get(port.addr(), "/debug/tasks", t).expect("GET");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("tests/lab02.rs:"), "{}", r.text());
    let r = lab_04::debug::get(port.addr(), "/debug/pprof/goroutine?debug=1", t).expect("GET");
    assert_eq!(r.status, 200, "Go's path works too");
    let r = lab_04::debug::get(port.addr(), "/debug/tasks?format=json", t).expect("GET");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert!(v["live"].as_u64().is_some_and(|n| n >= 1));
    let r = lab_04::debug::get(port.addr(), "/debug/tasks?format=xml", t).expect("GET");
    assert_eq!(
        r.status,
        400,
        "a bad query gets a clear error: {}",
        r.text()
    );
}
