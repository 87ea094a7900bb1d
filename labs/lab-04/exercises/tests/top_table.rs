use lab_04_exercises::top_table::{Stack, top};

fn st(frames: &[&str], count: u64) -> Stack {
    Stack {
        thread: "t".into(),
        frames: frames.iter().map(|f| (*f).to_owned()).collect(),
        count,
    }
}

fn row(rows: &[lab_04::stacks::TopRow], name: &str) -> (u64, u64) {
    let r = rows
        .iter()
        .find(|r| r.function == name)
        .unwrap_or_else(|| panic!("{name} is missing from the table"));
    (r.flat, r.cum)
}

#[test]
fn flat_is_the_leaf_and_cum_the_whole_stack() {
    let stacks = [st(&["main", "serve", "get"], 6), st(&["main", "serve"], 4)];
    let rows = top(&stacks, 10);
    assert_eq!(row(&rows, "get"), (6, 6));
    assert_eq!(
        row(&rows, "serve"),
        (4, 10),
        "serve ran itself in 4 samples and was on the stack in 10"
    );
    assert_eq!(row(&rows, "main"), (0, 10), "main never ran itself");
}

#[test]
fn recursion_counts_once_per_stack() {
    let rows = top(&[st(&["main", "walk", "walk", "walk"], 5)], 10);
    assert_eq!(
        row(&rows, "walk"),
        (5, 5),
        "three frames of walk, one stack, five samples"
    );
}

#[test]
fn sorted_by_flat_then_cum_then_name_and_cut_to_n() {
    let stacks = [
        st(&["main", "a"], 3),
        st(&["main", "b"], 3),
        st(&["main", "x", "c"], 7),
        st(&["main", "x"], 3),
    ];
    let rows = top(&stacks, 3);
    let names: Vec<&str> = rows.iter().map(|r| r.function.as_str()).collect();
    assert_eq!(
        names,
        ["c", "x", "a"],
        "c (flat 7), then x (flat 3, cum 10), then a before b by name"
    );
    assert!(top(&stacks, 0).is_empty());
}

#[test]
fn agrees_with_the_lab_on_a_real_profile_shape() {
    let stacks = [
        st(&["main", "poll", "read", "recv"], 40),
        st(&["main", "poll", "dispatch", "get"], 35),
        st(&["main", "poll", "dispatch", "set", "log"], 25),
        st(&["main", "poll"], 5),
    ];
    assert_eq!(top(&stacks, 20), lab_04::stacks::top(&stacks, 20));
}
