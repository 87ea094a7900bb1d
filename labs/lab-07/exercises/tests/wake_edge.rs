use lab_07::trace::{Kind, LaneKind, Trace};
use lab_07_exercises::wake_edge::{VALUES, record_pipeline};

fn lane(t: &Trace, name: &str) -> usize {
    t.lanes
        .iter()
        .position(|l| l.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no lane called {name:?}; the trace has {:?}: spawn the tasks through the recorder, with that name",
                t.lanes.iter().map(|l| &l.name).collect::<Vec<_>>()
            )
        })
}

fn on(t: &Trace, lane: usize, kind: Kind) -> Vec<usize> {
    (0..t.steps.len())
        .filter(|&i| t.steps[i].lane == lane && t.steps[i].kind == kind)
        .collect()
}

fn recorded() -> Trace {
    let (t, sum) = record_pipeline().expect("a runtime");
    assert_eq!(sum, VALUES.iter().sum::<u64>(), "the pipeline's sum");
    t.validate().expect("a valid trace");
    t
}

#[test]
fn the_producer_and_the_consumer_are_recorded_tasks() {
    let t = recorded();
    for name in ["producer", "consumer"] {
        let l = lane(&t, name);
        assert_eq!(t.lanes[l].kind, LaneKind::Task, "{name} is a task lane");
        assert_eq!(on(&t, l, Kind::Exit).len(), 1, "{name} ran to its end");
    }
}

#[test]
fn the_consumer_is_woken_by_the_producer_and_the_producer_by_the_consumer() {
    let t = recorded();
    let (p, c) = (lane(&t, "producer"), lane(&t, "consumer"));
    let woken_by = |woken: usize, by: usize| {
        on(&t, woken, Kind::Wake)
            .iter()
            .any(|&w| t.steps[w].cause.is_some_and(|c| t.steps[c].lane == by))
    };
    assert!(
        woken_by(c, p),
        "a wake on the consumer's lane caused by the producer (a value arrived); the trace:\n{}",
        t.outline().join("\n")
    );
    // The channel holds one value: the producer waits for room, and the
    // consumer's receive makes it.
    assert!(
        woken_by(p, c),
        "a wake on the producer's lane caused by the consumer (room in the channel); the trace:\n{}",
        t.outline().join("\n")
    );
}

#[test]
fn every_receive_points_at_the_send_of_its_value() {
    let t = recorded();
    let (p, c) = (lane(&t, "producer"), lane(&t, "consumer"));
    let sends = on(&t, p, Kind::Send);
    let recvs = on(&t, c, Kind::Recv);
    assert_eq!(sends.len(), VALUES.len(), "one send step per value");
    assert_eq!(recvs.len(), VALUES.len(), "one receive step per value");
    for (k, (&s, &r)) in sends.iter().zip(&recvs).enumerate() {
        assert_eq!(
            t.steps[r].cause,
            Some(s),
            "receive number {k} names the send of the same value as its cause"
        );
    }
}
