//! lab-02's scenes: the server's own `ul::step` events, recorded through
//! the relay from the threads lab-02 spawns, and the clients' steps.

use lab_07::scenes::server::{self, EVENT_LOOP, most_ready, reply_read};
use lab_07::trace::{Kind, LaneKind, Trace};

fn server_lanes(t: &Trace) -> Vec<usize> {
    (0..t.lanes.len())
        .filter(|&l| t.lanes[l].kind != LaneKind::Client)
        .collect()
}

fn common(t: &Trace) {
    t.validate().unwrap_or_else(|e| panic!("{}: {e}", t.scene));
    // Small enough to read step by step.
    assert!(
        (15..=150).contains(&t.steps.len()),
        "{}: {} steps",
        t.scene,
        t.steps.len()
    );
    let clients: Vec<&str> = t
        .lanes
        .iter()
        .filter(|l| l.kind == LaneKind::Client)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(clients, ["client 1", "client 2", "client 3"]);
    // Every server read answers a client's send, and every client's read
    // answers a server write.
    for s in &t.steps {
        let client = t.lanes[s.lane].kind == LaneKind::Client;
        if s.kind == Kind::Recv && (client || s.label.contains("bytes from conn")) {
            let c = s
                .cause
                .unwrap_or_else(|| panic!("{}: {:?} has no cause", t.scene, s.label));
            let cause = &t.steps[c];
            assert_eq!(cause.kind, Kind::Send, "{} <- {}", s.label, cause.label);
            assert_ne!(
                t.lanes[cause.lane].kind == LaneKind::Client,
                client,
                "{} <- {}",
                s.label,
                cause.label
            );
        }
    }
}

#[test]
fn the_event_loop_serves_everyone_on_one_thread() -> anyhow::Result<()> {
    let t = server::event_loop_turn()?;
    common(&t);
    let lanes = server_lanes(&t);
    assert_eq!(lanes.len(), 1, "{:?}", t.lanes);
    assert_eq!(t.lanes[lanes[0]].name, EVENT_LOOP);
    assert!(
        most_ready(&t) >= 2,
        "no turn found two connections ready: {:#?}",
        t.steps.iter().map(|s| &s.label).collect::<Vec<_>>()
    );
    // The panel names the ready connections at that turn.
    let turn = t
        .steps
        .iter()
        .find(|s| s.kind == Kind::Ready && s.label.matches("conn ").count() >= 2)
        .map(|s| &s.state["ready this turn"]);
    assert!(turn.is_some_and(|r| r.len() >= 2), "{turn:?}");
    Ok(())
}

#[test]
fn tasks_run_each_connection_on_its_own_lane() -> anyhow::Result<()> {
    let t = server::task_per_connection()?;
    common(&t);
    let lanes = server_lanes(&t);
    assert!(lanes.len() >= 2, "{:?}", t.lanes);
    assert!(lanes.iter().all(|&l| t.lanes[l].kind == LaneKind::Task));
    for c in ["client 1", "client 2", "client 3"] {
        assert!(reply_read(&t, c).is_some(), "{c} never read its replies");
    }
    // Every task's steps name its own connection.
    for s in &t.steps {
        let lane = &t.lanes[s.lane];
        if lane.kind == LaneKind::Task {
            let conn = lane.name.replace("task ", "conn ");
            assert!(s.label.contains(&conn), "{}: {}", lane.name, s.label);
        }
    }
    // The panel says which worker each task ran on.
    let last = t.steps.last().map(|s| &s.state);
    assert!(
        last.and_then(|s| s.get("tasks and their workers"))
            .is_some_and(|l| l.len() >= 2),
        "{last:?}"
    );
    Ok(())
}

#[test]
fn a_hop_goes_to_the_other_core_and_back() -> anyhow::Result<()> {
    let t = server::per_core_hop()?;
    common(&t);
    let cores: Vec<usize> = server_lanes(&t);
    assert_eq!(cores.len(), 2, "{:?}", t.lanes);
    // A send on one core answered by a receive on the other, and the
    // reply back answered on the first.
    let hops: Vec<(usize, usize)> = t
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.cause?)))
        .filter(|&(i, c)| {
            cores.contains(&t.steps[i].lane)
                && cores.contains(&t.steps[c].lane)
                && t.steps[i].lane != t.steps[c].lane
        })
        .collect();
    assert!(hops.len() >= 2, "{hops:?}");
    for &(i, c) in &hops {
        assert_eq!(t.steps[i].kind, Kind::Recv);
        assert_eq!(t.steps[c].kind, Kind::Send);
    }
    let panel = t.steps.last().map(|s| s.state.clone()).unwrap_or_default();
    assert!(
        panel.contains_key("keys core 0 owns") && panel.contains_key("keys core 1 owns"),
        "{panel:?}"
    );
    Ok(())
}
