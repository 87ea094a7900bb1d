//! 7. Scenes: lab-07's recorded runs, replayed by the book's player
//!    (`theme/player.js`, markup contract in `theme/README.md`).
//!
//! On every page with a `figure.ul-scene` (not `print.html`, which repeats
//! the chapters), every scene is stepped through the way a reader does:
//! arrow keys, the buttons (real mouse clicks), Home and End, the scrubber,
//! Space to play and pause. After each move the figure's `data-step` must
//! be the step the move leads to, and the panel must show exactly that
//! step's `state` from the trace. The expectation is read from the trace
//! itself (the page's inline JSON, or the file), never from the player:
//! the player's code is what is under test.
//!
//! Then, on the first scene found, a trace "the reader recorded" is put
//! into the player's file input (`DOM.setFileInputFiles`); the player must
//! show it, and two wrong files (a Chrome trace-event file, which the page
//! offers for download, and a file that is not JSON) must be refused with a
//! visible error while the shown trace stays.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use super::checks::{Context, Tab, fail_on, listed};
use super::{BrowserCheck, OwnTrace, TempDir};

/// How many single steps forward the check takes in each scene.
const FORWARD: usize = 5;

/// Most problems listed for one scene.
const PER_SCENE: usize = 6;

/// The `format` of a compact trace (lab-07's `trace::FORMAT`).
const FORMAT: &str = "under-load-trace/1";

/// A Chrome trace-event file, as the page's download link offers: a JSON
/// file the player must refuse.
const CHROME_TRACE: &str = r#"{"traceEvents":[{"name":"poll","ph":"X","ts":1,"dur":2,"pid":1,"tid":1}],"displayTimeUnit":"ns"}"#;

/// The side panel: each section's name and lines, in order.
type Panel = Vec<(String, Vec<String>)>;

/// A trace as the check reads it: only what it compares.
#[derive(Debug, Clone, PartialEq)]
struct Expect {
    scene: String,
    lanes: Vec<String>,
    steps: Vec<ExpectStep>,
}

#[derive(Debug, Clone, PartialEq)]
struct ExpectStep {
    label: String,
    cause: Option<usize>,
    state: Panel,
}

impl Expect {
    /// Reads a compact trace (lab-07's `trace` module). Sections come in
    /// the trace's order, which lab-07 writes sorted by name (its `State`
    /// is a `BTreeMap`), as `serde_json` reads them.
    fn from_json(v: &Value) -> anyhow::Result<Self> {
        if v["format"] != FORMAT {
            bail!("its format is {}, expected \"{FORMAT}\"", v["format"]);
        }
        let scene = v["scene"]
            .as_str()
            .ok_or_else(|| anyhow!("it has no scene name"))?
            .to_owned();
        let lanes = v["lanes"]
            .as_array()
            .ok_or_else(|| anyhow!("it has no lanes"))?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l["name"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("lane {i} has no name"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let steps = v["steps"]
            .as_array()
            .ok_or_else(|| anyhow!("it has no steps"))?
            .iter()
            .enumerate()
            .map(|(i, s)| step_of(i, s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if lanes.is_empty() || steps.is_empty() {
            bail!("it has no lanes or no steps");
        }
        Ok(Self {
            scene,
            lanes,
            steps,
        })
    }

    /// Every (cause, step) pair: the arrows the player must draw.
    fn arrows(&self) -> Vec<(usize, usize)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.cause.map(|c| (c, i)))
            .collect()
    }
}

fn step_of(i: usize, s: &Value) -> anyhow::Result<ExpectStep> {
    let label = s["label"]
        .as_str()
        .ok_or_else(|| anyhow!("step {i} has no label"))?
        .to_owned();
    let cause = match &s["cause"] {
        Value::Null => None,
        c => Some(
            c.as_u64()
                .and_then(|c| usize::try_from(c).ok())
                .ok_or_else(|| anyhow!("step {i} has cause {c}, not a step index"))?,
        ),
    };
    let state = s["state"]
        .as_object()
        .ok_or_else(|| anyhow!("step {i} has no state"))?
        .iter()
        .map(|(name, lines)| Ok((name.clone(), strings(lines, i, name)?)))
        .collect::<anyhow::Result<Panel>>()?;
    Ok(ExpectStep {
        label,
        cause,
        state,
    })
}

fn strings(v: &Value, step: usize, section: &str) -> anyhow::Result<Vec<String>> {
    v.as_array()
        .and_then(|a| {
            a.iter()
                .map(|l| l.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| anyhow!("step {step}: section {section:?} is not a list of lines"))
}

/// What one figure shows now, read from the DOM alone.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shown {
    step: Option<usize>,
    steps: Option<usize>,
    scene: String,
    source: String,
    playing: bool,
    panel: Panel,
    /// The `aria-live` step line.
    live: String,
    /// Steps whose cause arrow is highlighted.
    hot: Vec<usize>,
    /// The load error, when one is visible.
    error: Option<String>,
}

/// Reads a figure's player; the argument is the figure's id.
const SHOWN: &str = "(id) => {
    const f = document.getElementById(id);
    if (!f) return null;
    const text = (el) => el ? el.textContent : '';
    const err = f.querySelector('.ul-player-load .ul-player-error');
    return {
        step: f.getAttribute('data-step'),
        steps: f.getAttribute('data-steps'),
        scene: f.getAttribute('data-trace-scene') || '',
        source: f.getAttribute('data-source') || '',
        playing: f.getAttribute('data-playing') === 'true',
        panel: [...f.querySelectorAll('.ul-player-state .ul-player-section')].map(s => [
            text(s.querySelector('.ul-player-section-name')),
            [...s.querySelectorAll('.ul-player-lines > li')].map(li => li.textContent)]),
        live: text(f.querySelector('[aria-live=\"polite\"]')),
        hot: [...f.querySelectorAll('.ul-player-arrow-hot')].map(a => Number(a.getAttribute('data-to'))),
        error: err && !err.hidden && err.offsetParent !== null && err.textContent ? err.textContent : null,
    };
}";

/// Reads the lanes and arrows a figure's player drew.
const DRAWN: &str = "(id) => {
    const f = document.getElementById(id);
    return {
        lanes: [...f.querySelectorAll('.ul-player-name')].map(n => n.textContent),
        arrows: [...f.querySelectorAll('.ul-player-arrow')].map(a =>
            [Number(a.getAttribute('data-from')), Number(a.getAttribute('data-to'))]),
    };
}";

fn parse_shown(v: &Value) -> anyhow::Result<Shown> {
    if v.is_null() {
        bail!("the figure is gone (did the page navigate away?)");
    }
    let index = |k: &str| v[k].as_str().and_then(|s| s.parse().ok());
    let panel = v["panel"]
        .as_array()
        .map(|sections| {
            sections
                .iter()
                .map(|s| {
                    let lines = s[1]
                        .as_array()
                        .map(|ls| {
                            ls.iter()
                                .map(|l| l.as_str().unwrap_or_default().to_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    (s[0].as_str().unwrap_or_default().to_owned(), lines)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Shown {
        step: index("step"),
        steps: index("steps"),
        scene: v["scene"].as_str().unwrap_or_default().to_owned(),
        source: v["source"].as_str().unwrap_or_default().to_owned(),
        playing: v["playing"] == true,
        panel,
        live: v["live"].as_str().unwrap_or_default().to_owned(),
        hot: v["hot"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_u64().and_then(|n| usize::try_from(n).ok()))
                    .collect()
            })
            .unwrap_or_default(),
        error: v["error"].as_str().map(str::to_owned),
    })
}

fn shown(tab: &mut Tab, id: &str) -> anyhow::Result<Shown> {
    let id = serde_json::to_string(id)?;
    parse_shown(&tab.eval(&format!("({SHOWN})({id})"))?)
}

/// What is wrong with `shown` when the player should be at step `want`
/// of `exp`; empty when nothing is.
fn mismatches(exp: &Expect, want: usize, shown: &Shown) -> Vec<String> {
    let mut out = Vec::new();
    let n = exp.steps.len();
    let Some(step) = exp.steps.get(want) else {
        return vec![format!("step {want} is not in a trace of {n} steps")];
    };
    if shown.step != Some(want) {
        out.push(format!(
            "data-step is {}, expected {want}",
            shown.step.map_or("missing".to_owned(), |s| s.to_string())
        ));
        // Everything else would only repeat that it is the wrong step.
        return out;
    }
    if shown.panel != step.state {
        out.push(format!(
            "the panel shows {}, but step {want}'s state is {}",
            panel_text(&shown.panel),
            panel_text(&step.state)
        ));
    }
    let counted = format!("Step {} of {n}", want + 1);
    if !shown.live.contains(&counted) || !shown.live.contains(&step.label) {
        out.push(format!(
            "the step line (aria-live) reads {:?}; expected it to say {counted:?} and the label {:?}",
            shown.live, step.label
        ));
    }
    let hot: Vec<usize> = step.cause.map(|_| want).into_iter().collect();
    if shown.hot != hot {
        out.push(match step.cause {
            Some(c) => format!(
                "the arrow from its cause (step {c}) is not the highlighted one (highlighted: {:?})",
                shown.hot
            ),
            None => format!(
                "step {want} has no cause, but arrows to {:?} are highlighted",
                shown.hot
            ),
        });
    }
    out
}

fn panel_text(p: &Panel) -> String {
    let sections: Vec<String> = p
        .iter()
        .map(|(name, lines)| format!("{name}: {lines:?}"))
        .collect();
    format!("{{{}}}", sections.join("; "))
}

/// Compares the lanes and arrows drawn with the trace.
fn check_drawn(tab: &mut Tab, id: &str, exp: &Expect) -> anyhow::Result<Vec<String>> {
    let id_json = serde_json::to_string(id)?;
    let drawn = tab.eval(&format!("({DRAWN})({id_json})"))?;
    let mut out = Vec::new();
    let lanes: Vec<String> = drawn["lanes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    if lanes != exp.lanes {
        out.push(format!(
            "the lanes are named {lanes:?}, the trace's are {:?}",
            exp.lanes
        ));
    }
    let mut arrows: Vec<(usize, usize)> = drawn["arrows"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let from = usize::try_from(p[0].as_u64()?).ok()?;
                    let to = usize::try_from(p[1].as_u64()?).ok()?;
                    Some((from, to))
                })
                .collect()
        })
        .unwrap_or_default();
    arrows.sort_unstable();
    let mut want = exp.arrows();
    want.sort_unstable();
    if arrows != want {
        out.push(format!(
            "{} arrows drawn for {} causes in the trace (first differences: drawn {:?}, trace {:?})",
            arrows.len(),
            want.len(),
            arrows.iter().filter(|a| !want.contains(a)).take(3).collect::<Vec<_>>(),
            want.iter().filter(|a| !arrows.contains(a)).take(3).collect::<Vec<_>>()
        ));
    }
    Ok(out)
}

/// Steps through one scene, collecting what went wrong.
struct Walk<'a> {
    tab: &'a mut Tab,
    id: String,
    exp: Expect,
    problems: Vec<String>,
    moves: usize,
}

impl Walk<'_> {
    fn sel(&self, inner: &str) -> String {
        format!("#{} {inner}", self.id)
    }

    fn js(&self, body: &str) -> String {
        format!(
            "(() => {{ const f = document.getElementById({}); {body} }})()",
            serde_json::to_string(&self.id).unwrap_or_default()
        )
    }

    /// After a move: waits for `data-step` to reach `want`, then compares.
    fn expect(&mut self, what: &str, want: usize) -> anyhow::Result<()> {
        self.moves += 1;
        let poll = self.js("return f ? f.getAttribute('data-step') : null;");
        let want_text = want.to_string();
        self.tab
            .poll(&poll, |v| v.as_str() == Some(want_text.as_str()))?;
        let now = shown(self.tab, &self.id)?;
        for m in mismatches(&self.exp, want, &now) {
            self.problems.push(format!("after {what}: {m}"));
        }
        Ok(())
    }

    fn focus(&mut self, inner: &str) -> anyhow::Result<()> {
        let sel = serde_json::to_string(&self.sel(inner))?;
        let ok = self.tab.eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); if (!el) return false;
                       el.focus(); return document.activeElement === el; }})()"
        ))?;
        if ok != true {
            bail!("`{}` cannot take the keyboard focus", self.sel(inner));
        }
        Ok(())
    }

    fn key(&mut self, key: &str, times: usize, want: usize) -> anyhow::Result<()> {
        for _ in 0..times {
            self.tab.press(key)?;
        }
        let name = if key == " " { "Space" } else { key };
        let what = if times == 1 {
            format!("the key {name}")
        } else {
            format!("the key {name} ×{times}")
        };
        self.expect(&what, want)
    }

    fn button(&mut self, action: &str, want: usize) -> anyhow::Result<()> {
        let sel = self.sel(&format!("button[data-action={action}]"));
        self.tab.click(&sel)?;
        self.expect(&format!("a click on `{sel}`"), want)
    }

    /// The whole walk: keys, buttons, scrubber, play and pause.
    fn run(&mut self) -> anyhow::Result<()> {
        let n = self.exp.steps.len();
        let last = n - 1;
        let f = FORWARD.min(last);
        let path = self.tab.eval("location.pathname")?;
        self.expect("loading the page", 0)?;

        self.focus(".ul-player")?;
        for k in 1..=f {
            self.key("ArrowRight", 1, k)?;
        }
        self.button("back", f.saturating_sub(1))?;
        self.key("End", 1, last)?;
        self.key("ArrowRight", 1, last)?;
        self.key("Home", 1, 0)?;
        self.key("ArrowLeft", 1, 0)?;
        self.button("next", 1.min(last))?;
        self.button("end", last)?;
        self.button("start", 0)?;

        // The scrubber: dragged (its value set, as a drag does, with its
        // `input` event), then moved with its own arrow key.
        let mid = n / 2;
        self.tab.eval(&self.js(&format!(
            "const r = f.querySelector('input.ul-player-scrubber');
             r.value = '{mid}'; r.dispatchEvent(new Event('input', {{ bubbles: true }}));"
        )))?;
        self.expect("dragging the scrubber", mid)?;
        self.focus("input.ul-player-scrubber")?;
        self.key("ArrowRight", 1, (mid + 1).min(last))?;

        // Space plays, Space pauses; the panel then matches where it
        // stopped, whatever that is.
        self.focus(".ul-player")?;
        self.tab.press(" ")?;
        let from = (mid + 1).min(last);
        let moved = self.js(&format!(
            "const playing = f.getAttribute('data-playing') === 'true';
             const at = Number(f.getAttribute('data-step'));
             return playing && at > {from} || !playing && at === {last};"
        ));
        let (played, _) = self.tab.poll(&moved, |v| *v == true)?;
        if !played {
            self.problems
                .push(format!("Space did not play on from step {from}"));
        }
        // Look and press in one script: played out in between, a Space
        // would start it again.
        let pause = self.js(
            "if (f.getAttribute('data-playing') !== 'true') return false;
             const root = f.querySelector('.ul-player');
             root.dispatchEvent(new KeyboardEvent('keydown', { key: ' ', bubbles: true, cancelable: true }));
             return true;",
        );
        self.tab.eval(&pause)?;
        let now = shown(self.tab, &self.id)?;
        if now.playing {
            self.problems
                .push("the second Space did not pause".to_owned());
        }
        if let Some(at) = now.step {
            self.expect("Space, then Space", at)?;
        }

        let after = self.tab.eval("location.pathname")?;
        if after != path {
            self.problems.push(format!(
                "the keys left the page: {path} became {after} (mdBook's own arrow keys?)"
            ));
        }
        Ok(())
    }
}

/// Every scene figure on the page that loaded: (id, player state).
fn figures(tab: &mut Tab) -> anyhow::Result<Vec<(String, String)>> {
    let v = tab.wait_for(
        "every scene's player to start",
        "(() => {
            const fs = [...document.querySelectorAll('figure.ul-scene')];
            if (fs.some(f => !f.hasAttribute('data-player'))) return null;
            return fs.map(f => [f.id, f.getAttribute('data-player')]);
        })()",
    )?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap_or_default().to_owned(),
                        p[1].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The page's own trace of figure `id`, from its inline JSON.
fn page_trace(tab: &mut Tab, id: &str) -> anyhow::Result<Expect> {
    let id_json = serde_json::to_string(id)?;
    let v = tab.eval(&format!(
        "JSON.parse(document.getElementById({id_json}).querySelector('script.ul-scene-data').textContent)"
    ))?;
    Expect::from_json(&v).with_context(|| format!("the trace inline in #{id}"))
}

pub(crate) fn scenes(
    tab: &mut Tab,
    ctx: &Context<'_>,
    check: &BrowserCheck,
) -> anyhow::Result<String> {
    let pages: Vec<&String> = ctx
        .pages
        .iter()
        .filter(|p| !matches!(p.as_str(), "print.html" | "404.html" | "toc.html"))
        .filter(|p| {
            std::fs::read_to_string(ctx.book_dir.join(p))
                .is_ok_and(|html| html.contains("class=\"ul-scene\""))
        })
        .collect();
    // Every scene the results hold must be on some page: a scene that
    // vanished from every page must not pass as "nothing to check".
    let recorded = recorded_scenes(ctx.book_dir);
    if pages.is_empty() {
        if recorded.is_empty() {
            return Ok("no page shows a scene".to_owned());
        }
        bail!(
            "no page shows a scene, but the results hold {}",
            recorded.join(", ")
        );
    }
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut first: Option<(String, String, Expect)> = None;
    let mut seen = std::collections::BTreeSet::new();
    for page in pages {
        fail_on(tab.goto(page)?, page)?;
        for (id, player) in figures(tab)? {
            if id.is_empty() {
                problems.push(format!("{page}: a scene figure has no id"));
                continue;
            }
            if player != "ready" {
                problems.push(format!("{page}#{id}: the player did not start ({player})"));
                continue;
            }
            let exp = page_trace(tab, &id).with_context(|| page.clone())?;
            seen.insert(id.strip_prefix("scene-").unwrap_or(&id).to_owned());
            let n = exp.steps.len();
            let arrows = exp.arrows().len();
            let mut found = check_drawn(tab, &id, &exp)?;
            let mut walk = Walk {
                tab: &mut *tab,
                id: id.clone(),
                exp: exp.clone(),
                problems: Vec::new(),
                moves: 0,
            };
            walk.run().with_context(|| format!("{page}#{id}"))?;
            let moves = walk.moves;
            found.append(&mut walk.problems);
            found.extend(tab.take_problems());
            if found.is_empty() {
                lines.push(format!(
                    "{page}#{id}: {n} steps, {} lanes, {arrows} arrows; {moves} moves, each panel as in the trace",
                    exp.lanes.len()
                ));
            }
            // One broken player would otherwise fill the report alone.
            let more = found.len().saturating_sub(PER_SCENE);
            found.truncate(PER_SCENE);
            if more > 0 {
                found.push(format!("… and {more} more"));
            }
            problems.extend(found.into_iter().map(|p| format!("{page}#{id}: {p}")));
            if first.is_none() {
                first = Some((page.clone(), id, exp));
            }
        }
    }
    for name in &recorded {
        if !seen.contains(name) {
            problems.push(format!(
                "scene {name} is in the results but no page shows it (include its .md where it explains something)"
            ));
        }
    }
    if let Some((page, id, exp)) = first {
        match load_files(tab, check, &page, &id, &exp) {
            Ok(line) => lines.push(line),
            Err(e) => problems.push(format!("{page}#{id}: loading a trace file: {e:#}")),
        }
    }
    if !problems.is_empty() {
        return Err(listed("problems with the scene players", &problems));
    }
    Ok(lines.join("\n"))
}

/// The scenes the results pipeline wrote: every `results/*/NAME.trace.json`
/// the built book holds.
fn recorded_scenes(book_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(labs) = std::fs::read_dir(book_dir.join("results")) else {
        return out;
    };
    for lab in labs.flatten() {
        let Ok(files) = std::fs::read_dir(lab.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".trace.json") {
                out.push(stem.to_owned());
            }
        }
    }
    out.sort();
    out
}

/// Records the trace the check loads, as a reader would. This is the one
/// place the command runs: `cargo run --quiet -p lab-07 -- record SCENE
/// --out FILE`.
fn record_own_trace(workspace: &Path, scene: &str, out: &Path) -> anyhow::Result<()> {
    let mut cmd = crate::sh::cargo(workspace);
    cmd.args([
        "run", "--quiet", "-p", "lab-07", "--", "record", scene, "--out",
    ])
    .arg(out);
    let done = crate::sh::capture(&mut cmd)?;
    if !done.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            crate::sh::display(&cmd),
            done.status,
            String::from_utf8_lossy(&done.stderr)
        );
    }
    Ok(())
}

/// The file the check loads: recorded now, or the fixture as it is.
fn own_trace(source: &OwnTrace, scene: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    match source {
        OwnTrace::Record { workspace } => {
            let out = dir.join("own-trace.json");
            record_own_trace(workspace, scene, &out)?;
            Ok(out)
        }
        OwnTrace::File(path) => Ok(path.clone()),
    }
}

/// Loads the reader's trace into the player of `id`, then two wrong files.
fn load_files(
    tab: &mut Tab,
    check: &BrowserCheck,
    page: &str,
    id: &str,
    book: &Expect,
) -> anyhow::Result<String> {
    let dir = TempDir::new("ul-browser-trace")?;
    let path = own_trace(&check.own_trace, &book.scene, dir.path())?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let exp = Expect::from_json(&json)
        .with_context(|| format!("{} is not a trace the player can show", path.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let input = format!("#{id} input.ul-player-file");
    let id_json = serde_json::to_string(id)?;
    fail_on(tab.goto(page)?, page)?;
    figures(tab)?;
    let before = shown(tab, id)?;

    tab.set_files(&input, &[&path])?;
    let (_, v) = tab.poll(&format!("({SHOWN})({id_json})"), |v| {
        v["source"] == "file" || !v["error"].is_null()
    })?;
    let loaded = parse_shown(&v)?;
    if let Some(err) = &loaded.error {
        bail!("the player refused {file_name}: {err}");
    }
    let mut problems = Vec::new();
    if loaded.source != "file" {
        problems.push(format!(
            "data-source is {:?} after loading {file_name}, expected \"file\"",
            loaded.source
        ));
    }
    if loaded.scene != exp.scene || loaded.steps != Some(exp.steps.len()) {
        problems.push(format!(
            "the player shows scene {:?} with {:?} steps; {file_name} has {:?} with {}",
            loaded.scene,
            loaded.steps,
            exp.scene,
            exp.steps.len()
        ));
    }
    problems.extend(
        mismatches(&exp, 0, &loaded)
            .into_iter()
            .map(|m| format!("{file_name}, first step: {m}")),
    );
    problems.extend(check_drawn(tab, id, &exp)?);
    let mut walk = Walk {
        tab: &mut *tab,
        id: id.to_owned(),
        exp: exp.clone(),
        problems: Vec::new(),
        moves: 0,
    };
    walk.focus(".ul-player")?;
    walk.key("End", 1, exp.steps.len() - 1)?;
    problems.extend(walk.problems.drain(..).map(|m| format!("{file_name}: {m}")));
    let shown_file = shown(tab, id)?;

    // Wrong files: an error the reader can see, and nothing else changes.
    let wrong = [
        ("chrome.trace.json", CHROME_TRACE),
        ("notes.json", "thread A holds the lock\n"),
    ];
    for (name, contents) in wrong {
        let bad = dir.join(name);
        std::fs::write(&bad, contents)?;
        tab.set_files(&input, &[&bad])?;
        let (seen, v) = tab.poll(&format!("({SHOWN})({id_json})"), |v| {
            v["error"].as_str().is_some_and(|e| e.contains(name))
        })?;
        let after = parse_shown(&v)?;
        if !seen {
            problems.push(format!(
                "loading {name} showed no visible error naming it (error: {:?})",
                after.error
            ));
            continue;
        }
        let kept = Shown {
            error: None,
            ..after.clone()
        };
        if kept != shown_file {
            problems.push(format!(
                "loading {name} changed what is shown: step {:?} → {:?}, scene {:?} → {:?}, steps {:?} → {:?}",
                shown_file.step, after.step, shown_file.scene, after.scene, shown_file.steps, after.steps
            ));
        }
    }

    // And back to the book's own trace.
    tab.click(&format!("#{id} button.ul-player-reset"))?;
    let (_, v) = tab.poll(&format!("({SHOWN})({id_json})"), |v| v["source"] == "page")?;
    let back = parse_shown(&v)?;
    if back.source != "page" || back.scene != book.scene || back.error.is_some() {
        problems.push(format!(
            "\"Back to the book's trace\" left source {:?}, scene {:?}, error {:?}",
            back.source, back.scene, back.error
        ));
    }
    problems.extend(tab.take_problems());
    if !problems.is_empty() {
        return Err(listed(&format!("after loading {file_name}"), &problems));
    }
    let changed = if exp.scene == book.scene && exp.steps.len() == book.steps.len() {
        format!(
            "{} steps of scene {}, like the page's",
            exp.steps.len(),
            exp.scene
        )
    } else {
        format!(
            "scene {} → {}, {} → {} steps",
            before.scene,
            exp.scene,
            before.steps.unwrap_or_default(),
            exp.steps.len()
        )
    };
    Ok(format!(
        "{page}#{id}: loaded {file_name} ({changed}), panel as in the file at its first and last step; \
         a Chrome trace file and a non-JSON file refused with a visible error, the trace kept"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn trace() -> Value {
        json!({
            "format": FORMAT, "scene": "s", "title": "S", "clock": "paused",
            "lanes": [{"name": "A", "kind": "thread"}, {"name": "B", "kind": "thread"}],
            "steps": [
                {"t_ns": 0, "lane": 0, "kind": "spawn", "label": "A starts", "cause": null,
                 "state": {"b": ["x"], "a": []}},
                {"t_ns": 5, "lane": 1, "kind": "wake", "label": "B wakes", "cause": 0,
                 "state": {"a": ["1", "2"], "b": []}}
            ]
        })
    }

    fn shown_at(step: usize, exp: &Expect) -> Shown {
        let s = &exp.steps[step];
        Shown {
            step: Some(step),
            steps: Some(exp.steps.len()),
            scene: exp.scene.clone(),
            source: "page".into(),
            playing: false,
            panel: s.state.clone(),
            live: format!(
                "Step {} of {} · 5 ns · B · wake {}",
                step + 1,
                exp.steps.len(),
                s.label
            ),
            hot: s.cause.map(|_| step).into_iter().collect(),
            error: None,
        }
    }

    #[test]
    fn reads_a_trace_in_its_section_order() {
        let exp = Expect::from_json(&trace()).unwrap();
        assert_eq!(exp.lanes, ["A", "B"]);
        assert_eq!(exp.arrows(), [(0, 1)]);
        assert_eq!(
            exp.steps[0].state,
            vec![
                ("a".to_owned(), vec![]),
                ("b".to_owned(), vec!["x".to_owned()])
            ]
        );
        let mut wrong = trace();
        wrong["format"] = json!("under-load-trace/0");
        let err = Expect::from_json(&wrong).unwrap_err().to_string();
        assert!(err.contains("under-load-trace/0"), "{err}");
        let mut wrong = trace();
        wrong["steps"][1]["state"]["a"] = json!([1]);
        assert!(Expect::from_json(&wrong).is_err());
        let mut wrong = trace();
        wrong["steps"][1]["cause"] = json!(-1);
        assert!(Expect::from_json(&wrong).is_err());
    }

    #[test]
    fn a_faithful_player_has_no_mismatches() {
        let exp = Expect::from_json(&trace()).unwrap();
        for i in 0..2 {
            assert_eq!(
                mismatches(&exp, i, &shown_at(i, &exp)),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn names_each_kind_of_mismatch() {
        let exp = Expect::from_json(&trace()).unwrap();
        let wrong_step = Shown {
            step: Some(0),
            ..shown_at(1, &exp)
        };
        let m = mismatches(&exp, 1, &wrong_step);
        assert_eq!(m, ["data-step is 0, expected 1"]);

        let mut extra_line = shown_at(1, &exp);
        extra_line.panel[1].1.push("not in the trace".into());
        let m = mismatches(&exp, 1, &extra_line);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("not in the trace") && m[0].contains("step 1's state"),
            "{m:?}"
        );

        let mut no_label = shown_at(1, &exp);
        no_label.live = "Step 2 of 2".into();
        assert!(mismatches(&exp, 1, &no_label)[0].contains("B wakes"));

        let mut cold = shown_at(1, &exp);
        cold.hot.clear();
        assert!(mismatches(&exp, 1, &cold)[0].contains("cause (step 0)"));
        let mut hot = shown_at(0, &exp);
        hot.hot = vec![1];
        assert!(mismatches(&exp, 0, &hot)[0].contains("no cause"));
    }

    #[test]
    fn reads_what_the_page_returns() {
        let v = json!({
            "step": "3", "steps": "30", "scene": "s", "source": "file", "playing": false,
            "panel": [["lock", ["held by A"]], ["queue", []]],
            "live": "Step 4 of 30", "hot": [3], "error": null
        });
        let s = parse_shown(&v).unwrap();
        assert_eq!(s.step, Some(3));
        assert_eq!(s.steps, Some(30));
        assert_eq!(
            s.panel,
            vec![
                ("lock".to_owned(), vec!["held by A".to_owned()]),
                ("queue".to_owned(), vec![])
            ]
        );
        assert_eq!(s.hot, [3]);
        assert!(parse_shown(&Value::Null).is_err());
        let v = json!({ "step": null, "error": "Could not load x.json" });
        let s = parse_shown(&v).unwrap();
        assert_eq!(s.step, None);
        assert_eq!(s.error.as_deref(), Some("Could not load x.json"));
    }

    #[test]
    fn a_fixture_is_used_as_it_is() {
        let dir = TempDir::new("ul-own-trace").unwrap();
        let file = dir.join("mine.json");
        let got = own_trace(&OwnTrace::File(file.clone()), "s", dir.path()).unwrap();
        assert_eq!(got, file);
    }
}
