use lab_04_exercises::folded_writer::{RawSample, to_folded};

fn sample(thread: &str, frames: &[&[&str]], count: u64) -> RawSample {
    RawSample {
        thread: thread.into(),
        frames: frames
            .iter()
            .map(|f| f.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
        count,
    }
}

#[test]
fn one_sample_is_root_first() {
    let s = sample("w-0", &[&["get"], &["serve"], &["main"]], 3);
    assert_eq!(
        to_folded(&[s]),
        "w-0;main;serve;get 3\n",
        "frames come leaf first; the folded line starts at the root"
    );
}

#[test]
fn inlined_functions_go_outermost_first() {
    // `lookup` was inlined into `get`: both share one address, innermost first.
    let s = sample("w-0", &[&["lookup", "get"], &["main"]], 1);
    assert_eq!(
        to_folded(&[s]),
        "w-0;main;get;lookup 1\n",
        "within a frame the function the others were inlined into comes first"
    );
}

#[test]
fn identical_stacks_merge_and_lines_are_sorted() {
    let out = to_folded(&[
        sample("w-1", &[&["b"], &["main"]], 2),
        sample("w-0", &[&["a"], &["main"]], 1),
        sample("w-1", &[&["b"], &["main"]], 5),
    ]);
    assert_eq!(
        out, "w-0;main;a 1\nw-1;main;b 7\n",
        "one line per stack, counts added, sorted"
    );
}

#[test]
fn zero_counts_are_dropped_and_semicolons_escaped() {
    let out = to_folded(&[
        sample("w", &[&["idle"]], 0),
        sample("w", &[&["<T as a;b>::f"]], 4),
    ]);
    assert_eq!(
        out, "w;<T as a:b>::f 4\n",
        "a `;` inside a name would split the frame"
    );
}

#[test]
fn inferno_draws_what_you_wrote() {
    let out = to_folded(&[
        sample("w-0", &[&["get"], &["serve"], &["main"]], 30),
        sample("w-0", &[&["set", "encode"], &["serve"], &["main"]], 10),
        sample("w-1", &[&["epoll_wait"], &["main"]], 60),
    ]);
    let stacks = lab_04::stacks::parse_folded(&out).expect("valid folded text");
    assert_eq!(
        lab_04::stacks::total(&stacks),
        100,
        "every sample counted once"
    );
    let svg = lab_04::flame::svg(&out, "test", None).expect("inferno reads it");
    assert!(svg.contains("encode") && svg.contains("epoll_wait"));
}
