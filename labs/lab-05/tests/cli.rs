//! The command line: `provoke` prints every row as classified, `scenario`
//! runs a client through the proxy and prints its table, and a bad name
//! is one clear line.

use std::process::Command;

fn lab05(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lab-05"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("lab-05 runs")
}

#[test]
fn provoke_prints_each_row_with_its_class() {
    let out = lab05(&["provoke", "refused", "reset", "too-many-files"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for (row, class) in [
        ("refused", "refused"),
        ("reset", "reset"),
        ("too-many-files", "resource-exhausted"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(row) && l.split_whitespace().nth(1) == Some(class)),
            "no `{row} {class}` line in:\n{text}"
        );
    }
}

#[test]
fn a_scenario_prints_progress_and_its_table() {
    let out = lab05(&[
        "scenario",
        "resets-5",
        "--client",
        "budget",
        "--rate",
        "200",
        "--duration",
        "500ms",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("budget client:"),
        "no progress line in:\n{stderr}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("server saw per request") && table.contains("resets-5"),
        "no table in:\n{table}"
    );
    assert_eq!(
        table.lines().filter(|l| l.contains("resets-5")).count(),
        1,
        "one row for one client:\n{table}"
    );
}

#[test]
fn an_unknown_scenario_or_row_is_one_clear_error() {
    for args in [
        &["scenario", "earthquake"][..],
        &["provoke", "gremlins"][..],
    ] {
        let out = lab05(args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: no "), "{stderr}");
    }
}
