//! The book build fails on what a reader would trip over: a broken internal
//! link, a broken `#anchor`, a missing include. These tests build small
//! fixture books with the real pinned mdBook and mdbook-linkcheck2 (the test
//! suite's setup step installs them into `.tools/`).

use std::path::{Path, PathBuf};

use xtask::{book, project, tools};

fn fixture(name: &str, chapter: &str) -> PathBuf {
    write_fixture(name, chapter).expect("cannot write the fixture book")
}

fn write_fixture(name: &str, chapter: &str) -> std::io::Result<PathBuf> {
    let dir = project::root().join("target/book-fixtures").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("book.toml"),
        "[book]\ntitle = \"fixture\"\n\n[output.html]\n\n[output.linkcheck2]\nfollow-web-links = false\nwarning-policy = \"error\"\n",
    )?;
    std::fs::write(
        dir.join("src/SUMMARY.md"),
        "# Summary\n\n- [One](one.md)\n- [Two](two.md)\n",
    )?;
    std::fs::write(dir.join("src/one.md"), chapter)?;
    std::fs::write(dir.join("src/two.md"), "# Two\n\n## Section\n\nText.\n")?;
    Ok(dir)
}

fn require_tools(root: &Path) {
    for t in tools::PINNED {
        assert!(
            tools::bin(root, t).exists(),
            "{} is not installed; run `cargo xtask setup` first",
            t.krate
        );
    }
}

#[test]
fn a_clean_book_builds() {
    let root = project::root();
    require_tools(&root);
    let dir = fixture("clean", "# One\n\nSee [two](two.md#section).\n");
    let html = book::build(&root, &dir).expect("a clean fixture must build");
    assert!(html.join("one.html").exists());
}

#[test]
fn a_broken_internal_link_fails_the_build() {
    let root = project::root();
    require_tools(&root);
    let dir = fixture("broken-link", "# One\n\nSee [three](three.md).\n");
    let err = book::build(&root, &dir).expect_err("a broken link must fail the build");
    assert!(format!("{err:#}").contains("three.md"), "{err:#}");
}

#[test]
fn a_missing_include_fails_the_build() {
    let root = project::root();
    require_tools(&root);
    let dir = fixture("missing-include", "# One\n\n{{#include ../missing.rs}}\n");
    let err = book::build(&root, &dir).expect_err("a missing include must fail the build");
    assert!(format!("{err:#}").contains("missing.rs"), "{err:#}");
}

#[test]
fn a_broken_anchor_fails_the_build() {
    let root = project::root();
    require_tools(&root);
    let dir = fixture(
        "broken-anchor",
        "# One\n\nSee [two](two.md#no-such-section).\n",
    );
    let err = book::build(&root, &dir).expect_err("a broken anchor must fail the build");
    assert!(format!("{err:#}").contains("no-such-section"), "{err:#}");
}

/// A value reference the results do not hold fails the build and names the
/// keys that exist; a known one is expanded.
#[test]
fn an_unknown_value_key_fails_the_build() {
    let root = project::root();
    require_tools(&root);
    let page =
        "# One\n\nBest: {{#value lab-09/speed:best}}. Worst: {{#value lab-09/speed:worst}}.\n";
    let dir = fixture("value-keys", page);
    let mut toml = std::fs::read_to_string(dir.join("book.toml")).unwrap();
    toml.push_str(&format!(
        "\n[preprocessor.underload]\ncommand = \"cargo run --quiet --manifest-path {} -p xtask -- preprocess\"\nafter = [\"links\"]\n",
        root.join("Cargo.toml").display()
    ));
    std::fs::write(dir.join("book.toml"), toml).unwrap();
    let results = dir.join("src/results/lab-09");
    std::fs::create_dir_all(&results).unwrap();
    let report = serde_json::json!({
        "provenance": {"commit": "abc"},
        "report": {"lab": "lab-09", "quick": false, "artifacts": [
            {"artifact": "table", "name": "speed", "title": "Speed", "columns": ["a"],
             "rows": [], "facts": {"best": "1.23×"}}
        ]}
    });
    std::fs::write(results.join("report.json"), report.to_string()).unwrap();
    let err = book::build(&root, &dir).expect_err("an unknown key must fail the build");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("no fact `worst`") && msg.contains("best"),
        "{msg}"
    );

    let fixed = page.replace(" Worst: {{#value lab-09/speed:worst}}.", "");
    std::fs::write(dir.join("src/one.md"), fixed).unwrap();
    let html = book::build(&root, &dir).expect("known keys build");
    let text = std::fs::read_to_string(html.join("one.html")).unwrap();
    assert!(text.contains("Best: 1.23×."), "the value is expanded");
}
