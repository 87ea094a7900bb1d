//! End-to-end: build small fixture books with the real mdBook and theme,
//! run every check in real Chromium, and prove a broken page is caught.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`) and mdBook (`$MDBOOK`, else
//! the project's `.tools/bin/mdbook`). Set `UL_BROWSER_SCREENSHOTS=<dir>`
//! to also save the fixture chapter in the light and navy themes as PNGs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mdbook() -> PathBuf {
    std::env::var_os("MDBOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/bin/mdbook"))
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

const BOOK_TOML: &str = r#"[book]
title = "Under Load fixture"
language = "en"

[output.html]
additional-css = ["theme/under-load.css", "theme/player.css"]
additional-js = ["theme/under-load.js", "theme/player.js"]
"#;

/// The theme files a fixture book copies from `theme/`.
const THEME_FILES: [&str; 4] = ["under-load.css", "under-load.js", "player.css", "player.js"];

const LOCKS_MD: &str = r##"# Locks, sharding, contention

<div class="ul-lab-card" data-lab="lab-01">
<div class="ul-lab-card-title">Run it: lab-01, the concurrent cache</div>
<div class="ul-run"><code>cargo run -p lab-01 --release -- bench</code></div>
<div class="ul-lab-links"><a href="https://github.com/under-load/under-load/tree/main/labs/lab-01">labs/lab-01</a> · exercises: <code>cargo xtask exercise list lab-01</code></div>
</div>

Sharding splits one map into independent shards, each behind its own plain
mutex, so writers on different shards never wait for each other.

<div class="ul-exercise" id="exercise-shard-index">
<div class="ul-exercise-title">Exercise: Pick a shard</div>

Write `shard_index(hash, shards)` so that keys spread evenly over a
power-of-two number of shards. Check it:
`cargo xtask exercise check lab-01 shard-index`

<details class="ul-hint"><summary>Hint 1</summary>

With a power of two, a **mask** does what `%` does, and is cheaper.

</details>
<details class="ul-solution"><summary>Solution</summary>

```rust
pub fn shard_index(hash: u64, shards: usize) -> usize {
    debug_assert!(shards.is_power_of_two());
    (hash as usize) & (shards - 1)
}
```

</details>
</div>

## Results

<div class="ul-results">
<div class="ul-provenance"><code>cargo run -p lab-01 --release -- measure --quick</code> · 2 cores, 24 GiB, Linux · rustc 1.95.0 · 3f2c9ab · 2026-05-01</div>

| threads | `Mutex` (Mops/s) | `RwLock` (Mops/s) | sharded (Mops/s) | sharded / `RwLock` |
|--------:|-----------------:|------------------:|-----------------:|-------------------:|
| 1 | 41.2 | 35.0 | 39.8 | 1.14 |
| 2 | 12.9 | 9.7 | 71.5 | 7.37 |
| 4 | 11.8 | 8.1 | 70.2 | 8.67 |

</div>

<div class="ul-results">
<svg class="ul-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 300" width="640" height="300" role="img" aria-label="Throughput by thread count" font-family="sans-serif" font-size="12">
<rect class="ul-plot-bg" x="0" y="0" width="640" height="300" fill="#ffffff"/>
<text class="ul-title" x="320" y="22" text-anchor="middle" font-size="14" fill="#000">Throughput by thread count (Mops/s)</text>
<g class="ul-grid" stroke="#ddd"><line x1="60" y1="250" x2="460" y2="250"/><line x1="60" y1="190" x2="460" y2="190"/><line x1="60" y1="130" x2="460" y2="130"/><line x1="60" y1="70" x2="460" y2="70"/></g>
<g class="ul-axis" stroke="#000"><line x1="60" y1="250" x2="460" y2="250"/><line x1="60" y1="250" x2="60" y2="50"/></g>
<g class="ul-tick" fill="#000"><text x="55" y="254" text-anchor="end">0</text><text x="55" y="194" text-anchor="end">25</text><text x="55" y="134" text-anchor="end">50</text><text x="55" y="74" text-anchor="end">75</text><text x="100" y="268" text-anchor="middle">1</text><text x="260" y="268" text-anchor="middle">2</text><text x="420" y="268" text-anchor="middle">4</text></g>
<text class="ul-label" x="260" y="290" text-anchor="middle" fill="#000">threads</text>
<polyline class="ul-s0" fill="none" stroke="#1f77b4" stroke-width="2" points="100,151 260,219 420,222"/>
<polyline class="ul-s1" fill="none" stroke="#ff7f0e" stroke-width="2" points="100,166 260,227 420,231"/>
<polyline class="ul-s2" fill="none" stroke="#2ca02c" stroke-width="2" points="100,154 260,78 420,81"/>
<g class="ul-s0" fill="#1f77b4"><circle cx="100" cy="151" r="3.5"/><circle cx="260" cy="219" r="3.5"/><circle cx="420" cy="222" r="3.5"/></g>
<g class="ul-s1" fill="#ff7f0e"><circle cx="100" cy="166" r="3.5"/><circle cx="260" cy="227" r="3.5"/><circle cx="420" cy="231" r="3.5"/></g>
<g class="ul-s2" fill="#2ca02c"><circle cx="100" cy="154" r="3.5"/><circle cx="260" cy="78" r="3.5"/><circle cx="420" cy="81" r="3.5"/></g>
<g class="ul-legend" fill="#000"><rect class="ul-s0" x="480" y="60" width="12" height="12" fill="#1f77b4"/><text x="498" y="70">Mutex</text><rect class="ul-s1" x="480" y="80" width="12" height="12" fill="#ff7f0e"/><text x="498" y="90">RwLock</text><rect class="ul-s2" x="480" y="100" width="12" height="12" fill="#2ca02c"/><text x="498" y="110">sharded</text><rect class="ul-s3" x="480" y="120" width="12" height="12" fill="#d62728"/><text x="498" y="130">s3</text><rect class="ul-s4" x="480" y="140" width="12" height="12" fill="#9467bd"/><text x="498" y="150">s4</text><rect class="ul-s5" x="480" y="160" width="12" height="12" fill="#17becf"/><text x="498" y="170">s5</text><rect class="ul-s6" x="480" y="180" width="12" height="12" fill="#8c564b"/><text x="498" y="190">s6</text><rect class="ul-s7" x="480" y="200" width="12" height="12" fill="#7f7f7f"/><text x="498" y="210">s7</text></g>
</svg>
</div>
"##;

/// The scene fixture: three lanes, thirty steps, causes and panels.
fn scene_fixture() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scene-trace.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A made-up trace of `n` steps on five lanes, for a player under size.
fn long_trace(n: usize) -> serde_json::Value {
    const KINDS: [&str; 6] = ["poll-start", "wake", "send", "recv", "lock-wait", "note"];
    let lanes: Vec<_> = (0..5)
        .map(|l| json!({ "name": format!("task {l}"), "kind": "task" }))
        .collect();
    let steps: Vec<_> = (0..n)
        .map(|i| {
            let lane = (i * 7 + i / 3) % 5;
            let cause = (i % 3 == 0 && i > 0).then(|| i - 1 - (i % 5).min(i - 1));
            let queue: Vec<String> = (0..i % 4).map(|k| format!("item {}", i + k)).collect();
            json!({
                "t_ns": i * 250, "lane": lane, "kind": KINDS[i % KINDS.len()],
                "label": format!("task {lane} does thing {}", i % 11), "cause": cause,
                "state": { "clock": [format!("{} µs", i / 4)], "queue": queue,
                           "runnable": [format!("task {}", (i + 1) % 5)] }
            })
        })
        .collect();
    json!({
        "format": "under-load-trace/1", "scene": "long-run", "title": "A long run",
        "clock": "real", "lanes": lanes, "steps": steps
    })
}

/// A scene as the results pipeline writes it (`report`'s `render_scene`).
fn scene_markup(trace: &serde_json::Value) -> String {
    let name = trace["scene"].as_str().unwrap().to_owned();
    let outline = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    let scene = report::model::Scene {
        name,
        title: trace["title"].as_str().unwrap().to_owned(),
        trace: trace.clone(),
        chrome: json!({ "traceEvents": [] }),
        outline,
    };
    let prov = report::Provenance {
        command: "cargo xtask results --only lab-07".into(),
        cpu: "fixture CPU".into(),
        cores: 2,
        memory: "1 GiB".into(),
        os: "Linux".into(),
        rustc: "rustc 1.95.0".into(),
        commit: "abc123def456".into(),
        date: "2026-05-01 00:00 UTC".into(),
        sources: Default::default(),
    };
    report::markdown::render_scene(&scene, "lab-07", &prov, false).unwrap()
}

/// Adds a line the trace does not have to every section of every panel
/// the player draws: a player that lies about its state.
const TAMPER: &str = "<script>
document.addEventListener('DOMContentLoaded', function () {
  new MutationObserver(function () {
    document.querySelectorAll('.ul-player-state .ul-player-lines:first-of-type').forEach(function (ul) {
      if (!ul.querySelector('.x-tamper')) {
        const li = document.createElement('li');
        li.className = 'x-tamper';
        li.textContent = 'not in the trace';
        ul.appendChild(li);
      }
    });
  }).observe(document.body, { childList: true, subtree: true });
});
</script>
";

/// Writes and builds a fixture book; `broken` adds pages that must fail.
fn build_fixture(dir: &Path, broken: bool) -> PathBuf {
    let theme_src = repo_root().join("theme");
    std::fs::create_dir_all(dir.join("src/part-1")).unwrap();
    std::fs::create_dir_all(dir.join("theme")).unwrap();
    for file in THEME_FILES {
        std::fs::copy(theme_src.join(file), dir.join("theme").join(file))
            .unwrap_or_else(|e| panic!("copying theme/{file}: {e}"));
    }
    std::fs::write(dir.join("book.toml"), BOOK_TOML).unwrap();
    let mut summary = String::from(
        "# Summary\n\n[Introduction](index.md)\n\n# Part I\n\n\
         - [Locks, sharding, contention](part-1/locks.md)\n\
         - [Measuring](part-1/measuring.md)\n\
         - [Scenes](part-1/scenes.md)\n",
    );
    let fixture = scene_fixture();
    std::fs::write(
        dir.join("src/part-1/scenes.md"),
        format!(
            "# Scenes\n\nTwo threads share a lock and a queue.\n\n{}\nA long run.\n\n{}",
            scene_markup(&fixture),
            scene_markup(&long_trace(500))
        ),
    )
    .unwrap();
    // The reader's own recording: another scene, shorter.
    let mut own = fixture.clone();
    own["scene"] = json!("my-own-run");
    own["title"] = json!("My own run");
    own["steps"].as_array_mut().unwrap().truncate(20);
    std::fs::write(dir.join("own-trace.json"), own.to_string()).unwrap();
    if broken {
        summary.push_str(
            "- [Broken script](part-1/throws.md)\n- [Missing asset](part-1/missing.md)\n\
             - [Tampered panel](part-1/tampered.md)\n",
        );
        // A scene the results hold that no page shows.
        std::fs::create_dir_all(dir.join("src/results/lab-07")).unwrap();
        std::fs::write(
            dir.join("src/results/lab-07/orphan.trace.json"),
            "{\"traceEvents\": []}\n",
        )
        .unwrap();
        // A player whose panel shows a line its trace does not have.
        std::fs::write(
            dir.join("src/part-1/tampered.md"),
            format!("# Tampered panel\n\n{TAMPER}\n{}", scene_markup(&fixture)),
        )
        .unwrap();
        std::fs::write(
            dir.join("src/part-1/throws.md"),
            "# Broken script\n\n<script>\nthrow new Error(\"fixture boom\");\n</script>\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/part-1/missing.md"),
            "# Missing asset\n\n<script src=\"../no-such-script.js\"></script>\n",
        )
        .unwrap();
    }
    std::fs::write(dir.join("src/SUMMARY.md"), summary).unwrap();
    std::fs::write(
        dir.join("src/index.md"),
        "# Introduction\n\nA fixture book for the browser check.\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/part-1/locks.md"), LOCKS_MD).unwrap();
    std::fs::write(
        dir.join("src/part-1/measuring.md"),
        "# Measuring\n\nRatios in one run, alternating A B A B.\n",
    )
    .unwrap();
    let out = Command::new(mdbook())
        .arg("build")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", mdbook().display()));
    assert!(
        out.status.success(),
        "mdbook build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("book")
}

fn require_tools() {
    let mut missing = Vec::new();
    if !chromium().exists() {
        missing.push(format!(
            "Chromium at {} (install: `apt-get install -y chromium`, or set CHROMIUM)",
            chromium().display()
        ));
    }
    if !mdbook().exists() {
        missing.push(format!(
            "mdBook at {} (install the project's tools: `cargo install --locked --version 0.5.4 \
             mdbook --root .tools`, or set MDBOOK)",
            mdbook().display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser check test needs:\n  {}",
        missing.join("\n  ")
    );
}

fn check_for(book_dir: PathBuf) -> BrowserCheck {
    let own = book_dir
        .parent()
        .map(|d| d.join("own-trace.json"))
        .unwrap_or_default();
    BrowserCheck {
        own_trace: OwnTrace::File(own),
        book_dir,
        chromium: chromium(),
        search: vec![SearchProbe {
            query: "sharding".into(),
            expect_path: "part-1/locks.html".into(),
        }],
        timeout: Duration::from_secs(20),
    }
}

#[test]
fn full_check_passes_on_a_good_book_and_catches_a_broken_one() {
    require_tools();
    let tmp = TempDir::new("ul-browser-fixture").unwrap();

    let good = build_fixture(&tmp.path().join("good"), false);
    let report = run(&check_for(good.clone())).unwrap();
    println!("{report}");
    assert!(report.passed(), "the good fixture must pass:\n{report}");
    assert_eq!(report.checks.len(), 7);
    assert!(report.pages >= 5, "{report}");
    let scenes = &report.checks[6];
    assert!(
        scenes
            .detail
            .contains("#scene-two-threads-one-lock: 30 steps")
            && scenes.detail.contains("#scene-long-run: 500 steps")
            && scenes.detail.contains(
                "loaded own-trace.json (scene two-threads-one-lock → my-own-run, 30 → 20 steps)"
            ),
        "both scenes stepped through, the own trace loaded:\n{report}"
    );

    let bad = build_fixture(&tmp.path().join("bad"), true);
    let report = run(&check_for(bad)).unwrap();
    println!("{report}");
    let pages = &report.checks[0];
    assert!(
        !pages.passed,
        "a throwing page must fail the check:\n{report}"
    );
    assert!(
        pages
            .detail
            .contains("part-1/throws.html: JavaScript exception")
            && pages.detail.contains("fixture boom"),
        "the exception must be named with its page:\n{report}"
    );
    assert!(
        pages.detail.contains("part-1/missing.html") && pages.detail.contains("404"),
        "the missing script must be reported:\n{report}"
    );
    assert!(
        !pages.detail.contains("locks.html"),
        "good pages must not be blamed:\n{report}"
    );
    assert!(
        report.checks[1..6].iter().all(|c| c.passed),
        "the other checks still pass:\n{report}"
    );
    let scenes = &report.checks[6];
    assert!(
        !scenes.passed
            && scenes.detail.contains("part-1/tampered.html#scene-two-threads-one-lock: after loading the page: the panel shows")
            && scenes.detail.contains("not in the trace"),
        "a panel that differs from its trace must fail the scene check:\n{report}"
    );
    assert!(
        scenes
            .detail
            .contains("scene orphan is in the results but no page shows it"),
        "a recorded scene no page shows must fail the scene check:\n{report}"
    );
    assert!(
        !scenes.detail.contains("scenes.html#"),
        "faithful scenes must not be blamed:\n{report}"
    );

    if let Some(dir) = std::env::var_os("UL_BROWSER_SCREENSHOTS") {
        screenshots(&good, Path::new(&dir));
    }
}

#[test]
fn missing_chromium_is_an_infrastructure_error() {
    let tmp = TempDir::new("ul-browser-nochrome").unwrap();
    std::fs::write(tmp.path().join("index.html"), "<p>hi</p>").unwrap();
    let err = run(&BrowserCheck {
        book_dir: tmp.path().to_path_buf(),
        chromium: tmp.path().join("no-chromium"),
        search: vec![],
        timeout: Duration::from_secs(5),
        own_trace: OwnTrace::File(tmp.path().join("none.json")),
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("apt-get install"), "{err:#}");
    let err = run(&BrowserCheck {
        book_dir: tmp.path().join("nope"),
        chromium: chromium(),
        search: vec![],
        timeout: Duration::from_secs(5),
        own_trace: OwnTrace::File(tmp.path().join("none.json")),
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("no index.html"), "{err:#}");
}

#[test]
fn lists_pages_and_reads_the_site_prefix() {
    let tmp = TempDir::new("ul-browser-pages").unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("b/c")).unwrap();
    for f in ["index.html", "b/c/x.html", "b/a.html", "style.css"] {
        std::fs::write(root.join(f), "").unwrap();
    }
    assert_eq!(
        html_pages(root).unwrap(),
        ["b/a.html", "b/c/x.html", "index.html"]
    );
    assert_eq!(site_prefix(root), "/");
    std::fs::write(
        root.join("404.html"),
        "<head><base href=\"/under-load/\"></head>",
    )
    .unwrap();
    assert_eq!(site_prefix(root), "/under-load/");
}

/// Saves the fixture chapter in the light and navy themes.
fn screenshots(book: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let server = server::StaticServer::start(book, "/").unwrap();
    let mut browser = chromium::Chromium::launch(&chromium(), Duration::from_secs(20)).unwrap();
    let cdp = cdp::Cdp::connect(browser.ws_url(), Duration::from_secs(20)).unwrap();
    let mut tab = checks::Tab::open(cdp, server.book_url(), Duration::from_secs(20)).unwrap();
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1100, "height": 1700, "deviceScaleFactor": 1, "mobile": false}),
    )
    .unwrap();
    for theme in ["light", "navy", "rust", "coal", "ayu"] {
        tab.goto("index.html").unwrap();
        tab.eval(&format!("localStorage.setItem('mdbook-theme', '{theme}')"))
            .unwrap();
        tab.goto("part-1/locks.html").unwrap();
        tab.eval(
            "document.querySelector('.ul-solution').open = true; \
             document.querySelector('.ul-hint').open = true;",
        )
        .unwrap();
        save_png(&mut tab, &out.join(format!("fixture-{theme}.png")));
    }
    // The scene player at its eighth step, in each theme.
    for theme in ["light", "navy", "rust", "coal", "ayu"] {
        tab.goto("index.html").unwrap();
        tab.eval(&format!("localStorage.setItem('mdbook-theme', '{theme}')"))
            .unwrap();
        tab.goto("part-1/scenes.html").unwrap();
        tab.eval("document.querySelector('.ul-player').focus()")
            .unwrap();
        for _ in 0..8 {
            tab.press("ArrowRight").unwrap();
        }
        save_clip(
            &mut tab,
            "#scene-two-threads-one-lock",
            &out.join(format!("scene-{theme}.png")),
        );
    }
    // A phone-sized view, with the copy button in its "Copied" state.
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 380, "height": 1400, "deviceScaleFactor": 1, "mobile": true}),
    )
    .unwrap();
    tab.goto("part-1/locks.html").unwrap();
    tab.click(".ul-copy").unwrap();
    tab.eval("new Promise(r => setTimeout(r, 200))").unwrap();
    save_png(&mut tab, &out.join("fixture-narrow-ayu.png"));
    tab.close_browser();
    browser.wait_exit(Duration::from_secs(3));
}

/// Saves the part of the page that `selector` covers.
fn save_clip(tab: &mut checks::Tab, selector: &str, path: &Path) {
    let r = tab
        .eval(&format!(
            "(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();
                       return {{ x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height }}; }})()"
        ))
        .unwrap();
    let shot = tab
        .call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": r["x"], "y": r["y"], "width": r["width"], "height": r["height"], "scale": 1}}),
        )
        .unwrap();
    std::fs::write(path, base64_decode(shot["data"].as_str().unwrap())).unwrap();
}

fn save_png(tab: &mut checks::Tab, path: &Path) {
    let shot = tab
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .unwrap();
    std::fs::write(path, base64_decode(shot["data"].as_str().unwrap())).unwrap();
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn base64_round_trip() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

/// A result whose sources changed since it was measured shows a visible
/// notice under its header, and a fresh one none: the book's preprocessor
/// (run by the real mdBook through `book.toml`) in a real browser.
#[test]
fn a_stale_result_shows_its_notice_in_the_page() {
    require_tools();
    let tmp = TempDir::new("ul-browser-stale").unwrap();
    let dir = tmp.path().join("book");
    let root = repo_root();
    std::fs::create_dir_all(dir.join("src/results/lab-01")).unwrap();
    std::fs::create_dir_all(dir.join("theme")).unwrap();
    for file in THEME_FILES {
        std::fs::copy(root.join("theme").join(file), dir.join("theme").join(file)).unwrap();
    }
    // The fixture lives outside the workspace, so the preprocessor is run
    // through the workspace's manifest rather than the `cargo xtask` alias.
    let toml = format!(
        "{BOOK_TOML}\n[preprocessor.underload]\ncommand = \"cargo run --quiet --manifest-path {} -p xtask -- preprocess\"\nafter = [\"links\"]\n",
        root.join("Cargo.toml").display()
    );
    std::fs::write(dir.join("book.toml"), toml).unwrap();
    std::fs::write(
        dir.join("src/SUMMARY.md"),
        "# Summary\n\n- [Fresh](fresh.md)\n- [Stale](stale.md)\n",
    )
    .unwrap();
    let header = |name: &str| {
        format!(
            "<!-- generated by the results pipeline: cargo xtask results -\u{2060}-only {name}; do not edit -->\n\
             <div class=\"ul-provenance\">command: cargo xtask results --only {name}<br>commit: abc123def456</div>\n\n\
             **Speed**\n\n| design | ops |\n|---|---:|\n| sharded | 9 |\n"
        )
    };
    // Two producers: one whose recorded digest matches lab-01's sources
    // today, one that recorded a digest no tree has.
    let digest = crate::freshness::digest(&root, "labs/lab-01").unwrap();
    for (name, recorded) in [("fresh", digest.as_str()), ("stale", "0000000000000000")] {
        let d = dir.join("src/results").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("speed.md"), header(name)).unwrap();
        let report = json!({
            "provenance": {"commit": "abc123def456", "sources": {"labs/lab-01": recorded}},
            "report": {"lab": name, "quick": false, "artifacts": []}
        });
        std::fs::write(d.join("report.json"), report.to_string()).unwrap();
        std::fs::write(
            dir.join(format!("src/{name}.md")),
            format!(
                "# {name}\n\n<div class=\"ul-results\">\n\n{{{{#include results/{name}/speed.md}}}}\n\n</div>\n"
            ),
        )
        .unwrap();
    }
    let out = Command::new(mdbook())
        .arg("build")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mdbook build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let book = dir.join("book");
    let server = server::StaticServer::start(&book, "/").unwrap();
    let mut browser = chromium::Chromium::launch(&chromium(), Duration::from_secs(20)).unwrap();
    let cdp = cdp::Cdp::connect(browser.ws_url(), Duration::from_secs(20)).unwrap();
    let mut tab = checks::Tab::open(cdp, server.book_url(), Duration::from_secs(20)).unwrap();
    let notice = "(() => { const n = document.querySelector('.ul-stale'); \
                  return n ? {text: n.innerText, height: n.offsetHeight, \
                  after: !!n.previousElementSibling && n.previousElementSibling.classList.contains('ul-provenance')} : null; })()";
    tab.goto("stale.html").unwrap();
    let stale = tab.eval(notice).unwrap();
    tab.goto("fresh.html").unwrap();
    let fresh = tab.eval(notice).unwrap();
    tab.close_browser();
    browser.wait_exit(Duration::from_secs(3));
    assert!(
        stale["text"]
            .as_str()
            .is_some_and(|t| t.contains("Stale result") && t.contains("labs/lab-01")),
        "{stale}"
    );
    assert!(
        stale["height"].as_f64().unwrap_or(0.0) > 0.0,
        "visible: {stale}"
    );
    assert_eq!(
        stale["after"],
        json!(true),
        "right under the header: {stale}"
    );
    assert!(fresh.is_null(), "a fresh result has no notice: {fresh}");
}
