//! The page checks, and `Tab`, the page they drive (the scene player's
//! check is in `scenes.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

use super::BrowserCheck;
use super::cdp::{Cdp, Event};

/// How long to keep listening after the load event, for errors raised by
/// scripts that run just after it.
const SETTLE: Duration = Duration::from_millis(150);
/// Pause between two polls of a condition in the page.
const POLL: Duration = Duration::from_millis(50);
/// Most problem lines reported by one check.
const MAX_LINES: usize = 40;

/// The five built-in mdBook themes.
const THEMES: [&str; 5] = ["light", "rust", "coal", "navy", "ayu"];

/// Runs before any page script: stubs `fetch` for the Rust playground.
const PLAYGROUND_STUB: &str = "(() => {
    const realFetch = window.fetch;
    window.fetch = function (input, init) {
        const url = typeof input === 'string' ? input : (input && input.url) || '';
        if (url.startsWith('https://play.rust-lang.org/')) {
            return Promise.resolve(new Response('{\"crates\":[]}',
                { status: 200, headers: { 'Content-Type': 'application/json' } }));
        }
        return realFetch.apply(this, arguments);
    };
})();";

/// What the checks share.
pub(crate) struct Context<'a> {
    pub(crate) book_dir: &'a Path,
    /// `http://127.0.0.1:PORT`, for permissions.
    pub(crate) origin: String,
    /// Every HTML page, relative to the book root.
    pub(crate) pages: &'a [String],
}

/// One browser tab, attached with a flat session.
pub(crate) struct Tab {
    cdp: Cdp,
    session: String,
    book_url: String,
    timeout: Duration,
    external: Vec<String>,
}

impl Tab {
    /// Opens a blank tab and enables the domains the checks listen to.
    pub(crate) fn open(mut cdp: Cdp, book_url: String, timeout: Duration) -> anyhow::Result<Self> {
        let target = cdp.call(
            None,
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            timeout,
        )?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.createTarget returned no targetId: {target}"))?;
        let attached = cdp.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
            timeout,
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.attachToTarget returned no sessionId: {attached}"))?
            .to_owned();
        for method in ["Runtime.enable", "Page.enable", "Log.enable"] {
            cdp.call(Some(&session), method, json!({}), timeout)?;
        }
        // There is no network here: answer the Rust playground's crate list
        // (which mdBook's book.js fetches for every runnable Rust block)
        // with an empty list instead of letting the fetch fail.
        cdp.call(
            Some(&session),
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": PLAYGROUND_STUB }),
            timeout,
        )?;
        // Headless tabs are never focused; the Clipboard API wants focus.
        cdp.call(
            Some(&session),
            "Emulation.setFocusEmulationEnabled",
            json!({ "enabled": true }),
            timeout,
        )?;
        Ok(Self {
            cdp,
            session,
            book_url,
            timeout,
            external: Vec::new(),
        })
    }

    /// The error that broke the DevTools connection, if any.
    pub(crate) fn broken(&self) -> Option<anyhow::Error> {
        self.cdp.broken().map(|why| anyhow!("{why}"))
    }

    /// Asks Chromium to exit; errors are ignored (it is killed anyway).
    pub(crate) fn close_browser(&mut self) {
        let _ = self
            .cdp
            .call(None, "Browser.close", json!({}), Duration::from_secs(2));
    }

    /// A command in this tab's session.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.cdp
            .call(Some(&self.session), method, params, self.timeout)
    }

    /// A command to the browser itself (no session).
    fn browser_call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.cdp.call(None, method, params, self.timeout)
    }

    /// Loads `page` (relative to the book root) and waits for its load
    /// event; returns the problems seen while it loaded.
    pub(crate) fn goto(&mut self, page: &str) -> anyhow::Result<Vec<String>> {
        self.cdp.take_events();
        let url = format!("{}{page}", self.book_url);
        let nav = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            bail!("navigation to {url} failed: {err}");
        }
        self.wait_load()
            .with_context(|| format!("loading {page}"))?;
        Ok(self.take_problems())
    }

    /// Reloads the page; returns the problems seen while it loaded.
    pub(crate) fn reload(&mut self) -> anyhow::Result<Vec<String>> {
        self.cdp.take_events();
        self.call("Page.reload", json!({}))?;
        self.wait_load().context("reloading")?;
        Ok(self.take_problems())
    }

    fn wait_load(&mut self) -> anyhow::Result<()> {
        let session = self.session.clone();
        let loaded = self.cdp.wait_event(self.timeout, |e| {
            e.method == "Page.loadEventFired" && e.session.as_deref() == Some(session.as_str())
        })?;
        if loaded.is_none() {
            bail!("no load event within {:?}", self.timeout);
        }
        self.cdp.pump(SETTLE)
    }

    /// JavaScript errors, console errors and failed loads seen since the
    /// last call, one line each. Failed loads of other origins are not
    /// problems (there is no network here); they are remembered as notes.
    pub(crate) fn take_problems(&mut self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for event in self.cdp.take_events() {
            if event.session.as_deref() != Some(self.session.as_str()) {
                continue;
            }
            if let Some(url) = external_load_failure(&event, &self.book_url) {
                if !url.ends_with("/favicon.ico") && !self.external.contains(&url) {
                    self.external.push(url);
                }
                continue;
            }
            if let Some(line) = describe_problem(&event, &self.book_url)
                && !out.contains(&line)
            {
                out.push(line);
            }
        }
        out
    }

    /// External URLs that failed to load so far (not checked: no network).
    pub(crate) fn external_failures(&self) -> &[String] {
        &self.external
    }

    /// Evaluates `expr` (awaiting a promise) and returns its JSON value.
    pub(crate) fn eval(&mut self, expr: &str) -> anyhow::Result<Value> {
        let mut r = self.call(
            "Runtime.evaluate",
            json!({
                "expression": expr,
                "returnByValue": true,
                "awaitPromise": true,
                "userGesture": true,
            }),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            bail!("{}", exception_text(ex));
        }
        Ok(r["result"]
            .get_mut("value")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// Polls `expr` until `done` accepts its value; returns the last value
    /// and whether it was accepted within the timeout.
    pub(crate) fn poll(
        &mut self,
        expr: &str,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<(bool, Value)> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let value = self.eval(expr)?;
            if done(&value) {
                return Ok((true, value));
            }
            if Instant::now() >= deadline {
                return Ok((false, value));
            }
            self.cdp.pump(POLL)?;
        }
    }

    /// Polls until `expr` is truthy; `Err` naming `what` on timeout.
    pub(crate) fn wait_for(&mut self, what: &str, expr: &str) -> anyhow::Result<Value> {
        match self.poll(expr, truthy)? {
            (true, v) => Ok(v),
            (false, v) => bail!(
                "timed out after {:?} waiting for {what} (last: {v})",
                self.timeout
            ),
        }
    }

    /// Clicks the first element matching `selector` with real mouse events
    /// at its centre, after scrolling it into view; fails when it is
    /// missing, has no size, or something else covers it.
    pub(crate) fn click(&mut self, selector: &str) -> anyhow::Result<()> {
        let sel = serde_json::to_string(selector)?;
        let at = self.eval(&format!(
            "(() => {{
                const el = document.querySelector({sel});
                if (!el) return {{ error: 'no element matches' }};
                el.scrollIntoView({{ block: 'center', inline: 'center' }});
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.height === 0)
                    return {{ error: 'element has no size (hidden?)' }};
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                const top = document.elementFromPoint(x, y);
                if (top && top !== el && !el.contains(top)) {{
                    const name = top.tagName.toLowerCase() + (top.id ? '#' + top.id : '')
                        + (top.className && typeof top.className === 'string'
                            ? '.' + top.className.trim().split(/\\s+/).join('.') : '');
                    return {{ error: 'element is covered by ' + name }};
                }}
                return {{ x, y }};
            }})()"
        ))?;
        if let Some(err) = at.get("error").and_then(Value::as_str) {
            bail!("cannot click `{selector}`: {err}");
        }
        let (x, y) = (
            at["x"].as_f64().unwrap_or(0.0),
            at["y"].as_f64().unwrap_or(0.0),
        );
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        )?;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )?;
        }
        Ok(())
    }
}

impl Tab {
    /// Presses and releases one key, as a keyboard does: the page sees
    /// `keydown` on the focused element (and the browser's default action,
    /// e.g. a range input moving). `key` is a DOM key name.
    pub(crate) fn press(&mut self, key: &str) -> anyhow::Result<()> {
        let (code, vk, text) = match key {
            "ArrowRight" => ("ArrowRight", 39, ""),
            "ArrowLeft" => ("ArrowLeft", 37, ""),
            "Home" => ("Home", 36, ""),
            "End" => ("End", 35, ""),
            " " => ("Space", 32, " "),
            other => bail!("no key code known for {other:?}"),
        };
        let down = if text.is_empty() {
            "rawKeyDown"
        } else {
            "keyDown"
        };
        let mut event = json!({ "type": down, "key": key, "code": code,
            "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk });
        if !text.is_empty() {
            event["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", event)?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk }),
        )?;
        Ok(())
    }

    /// Puts `files` into the file input matching `selector`, as if the
    /// reader had picked them (the page gets its `change` event).
    pub(crate) fn set_files(&mut self, selector: &str, files: &[&Path]) -> anyhow::Result<()> {
        let sel = serde_json::to_string(selector)?;
        let found = self.call(
            "Runtime.evaluate",
            json!({ "expression": format!("document.querySelector({sel})"), "returnByValue": false }),
        )?;
        let Some(object) = found.pointer("/result/objectId").and_then(Value::as_str) else {
            bail!("no element matches `{selector}`");
        };
        let object = object.to_owned();
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({ "files": files, "objectId": object }),
        )?;
        Ok(())
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `url:line:col` with the book's URL prefix cut off, 1-based.
fn location(url: &str, line: Option<i64>, col: Option<i64>, book_url: &str) -> String {
    let url = url.strip_prefix(book_url).unwrap_or(url);
    match (url.is_empty(), line) {
        (true, _) => String::new(),
        (false, Some(l)) => format!(" ({url}:{}:{})", l + 1, col.unwrap_or(0) + 1),
        (false, None) => format!(" ({url})"),
    }
}

fn exception_text(ex: &Value) -> String {
    ex.pointer("/exception/description")
        .and_then(Value::as_str)
        .and_then(|d| d.lines().next())
        .or_else(|| ex.get("text").and_then(Value::as_str))
        .unwrap_or("exception")
        .to_owned()
}

/// The URL of a failed load that is not the book's own (another origin),
/// or the browser's automatic `/favicon.ico` probe (pages without an icon
/// link, like mdBook's `toc.html`, get it).
pub(crate) fn external_load_failure(event: &Event, book_url: &str) -> Option<String> {
    let entry = &event.params["entry"];
    if event.method != "Log.entryAdded" || entry["level"] != "error" || entry["source"] != "network"
    {
        return None;
    }
    let url = entry["url"].as_str()?;
    let origin_end = book_url
        .match_indices('/')
        .nth(2)
        .map_or(book_url.len(), |(i, _)| i);
    let origin = &book_url[..origin_end];
    let own = url
        .strip_prefix(origin)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    let favicon = url.strip_prefix(origin) == Some("/favicon.ico");
    (!own || favicon).then(|| url.to_owned())
}

/// One line for an event that signals a problem, `None` otherwise.
pub(crate) fn describe_problem(event: &Event, book_url: &str) -> Option<String> {
    let p = &event.params;
    match event.method.as_str() {
        "Runtime.exceptionThrown" => {
            let ex = &p["exceptionDetails"];
            let frame = ex.pointer("/stackTrace/callFrames/0");
            let url = ex["url"]
                .as_str()
                .or_else(|| frame.and_then(|f| f["url"].as_str()))
                .unwrap_or_default();
            Some(format!(
                "JavaScript exception: {}{}",
                exception_text(ex),
                location(
                    url,
                    ex["lineNumber"].as_i64(),
                    ex["columnNumber"].as_i64(),
                    book_url
                )
            ))
        }
        "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
            let text = p["args"]
                .as_array()
                .map(|args| {
                    args.iter()
                        .map(|a| match &a["value"] {
                            Value::String(s) => s.clone(),
                            Value::Null => a["description"].as_str().unwrap_or("?").to_owned(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let frame = &p["stackTrace"]["callFrames"][0];
            Some(format!(
                "console.{}: {text}{}",
                p["type"].as_str().unwrap_or("error"),
                location(
                    frame["url"].as_str().unwrap_or_default(),
                    frame["lineNumber"].as_i64(),
                    frame["columnNumber"].as_i64(),
                    book_url
                )
            ))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let e = &p["entry"];
            Some(format!(
                "{} error: {}{}",
                e["source"].as_str().unwrap_or("log"),
                e["text"].as_str().unwrap_or_default(),
                location(
                    e["url"].as_str().unwrap_or_default(),
                    e["lineNumber"].as_i64(),
                    None,
                    book_url
                )
            ))
        }
        _ => None,
    }
}

/// Fails with the lines (capped) when there are any.
pub(crate) fn fail_on(lines: Vec<String>, what: &str) -> anyhow::Result<()> {
    if lines.is_empty() {
        Ok(())
    } else {
        Err(listed(what, &lines))
    }
}

/// An error made of a heading and the lines, capped at `MAX_LINES`.
pub(crate) fn listed(what: &str, lines: &[String]) -> anyhow::Error {
    let mut text = format!("{what}:");
    for line in lines.iter().take(MAX_LINES) {
        text.push('\n');
        text.push_str(line);
    }
    if lines.len() > MAX_LINES {
        text.push_str(&format!("\n… and {} more", lines.len() - MAX_LINES));
    }
    anyhow!(text)
}

/// The first page whose HTML contains every needle: chapters first, then
/// `print.html`.
fn page_with(ctx: &Context<'_>, needles: &[&str]) -> Option<String> {
    let special = |p: &str| matches!(p, "print.html" | "404.html" | "toc.html");
    let chapters = ctx.pages.iter().filter(|p| !special(p));
    let print = ctx.pages.iter().filter(|p| *p == "print.html");
    chapters.chain(print).find_map(|page| {
        let html = std::fs::read_to_string(ctx.book_dir.join(page)).ok()?;
        needles
            .iter()
            .all(|n| html.contains(n))
            .then(|| page.clone())
    })
}

// ---------------------------------------------------------------- checks

/// 1. Every page loads with no JavaScript error, console error or failed
///    resource.
pub(crate) fn pages_load(
    tab: &mut Tab,
    ctx: &Context<'_>,
    _check: &BrowserCheck,
) -> anyhow::Result<String> {
    let mut failures = Vec::new();
    for page in ctx.pages {
        match tab.goto(page) {
            Ok(problems) => failures.extend(problems.into_iter().map(|p| format!("{page}: {p}"))),
            Err(e) => failures.push(format!("{page}: {e:#}")),
        }
        if tab.broken().is_some() {
            break;
        }
    }
    let pages = ctx.pages.len();
    fail_on(failures, &format!("problems while loading {pages} pages"))?;
    let mut detail = format!("{pages} pages loaded, no errors");
    let external = tab.external_failures();
    if !external.is_empty() {
        detail.push_str(&format!(
            "\nnot checked (no network here): {}",
            external.join(", ")
        ));
    }
    Ok(detail)
}

/// 2. Search: each probe's query lists its expected page.
pub(crate) fn search(
    tab: &mut Tab,
    _ctx: &Context<'_>,
    check: &BrowserCheck,
) -> anyhow::Result<String> {
    if check.search.is_empty() {
        bail!("no search probes configured");
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for probe in &check.search {
        match search_one(tab, &probe.query, &probe.expect_path) {
            Ok(n) => lines.push(format!(
                "ok: `{}` → {} ({n} results)",
                probe.query, probe.expect_path
            )),
            Err(e) => {
                failed += 1;
                lines.push(format!("FAILED: `{}`: {e:#}", probe.query));
            }
        }
    }
    if failed > 0 {
        let total = check.search.len();
        return Err(listed(
            &format!("{failed} of {total} searches failed"),
            &lines,
        ));
    }
    Ok(lines.join("\n"))
}

fn search_one(tab: &mut Tab, query: &str, expect: &str) -> anyhow::Result<usize> {
    fail_on(tab.goto("index.html")?, "index.html")?;
    tab.click("#mdbook-search-toggle")?;
    tab.wait_for(
        "the search bar to show",
        "(() => { const b = document.getElementById('mdbook-searchbar');
                  return !!b && b.offsetParent !== null; })()",
    )?;
    let q = serde_json::to_string(query)?;
    tab.eval(&format!(
        "(() => {{
            const bar = document.getElementById('mdbook-searchbar');
            bar.focus();
            bar.value = {q};
            bar.dispatchEvent(new Event('input', {{ bubbles: true }}));
            bar.dispatchEvent(new KeyboardEvent('keyup', {{ bubbles: true, key: 'Enter' }}));
        }})()"
    ))?;
    let want = serde_json::to_string(expect)?;
    let (ok, last) = tab.poll(
        &format!(
            "(() => {{
                const want = new URL({want}, new URL(path_to_root, location.href)).pathname;
                const hrefs = Array.from(document.querySelectorAll('#mdbook-searchresults a'))
                    .map(a => new URL(a.getAttribute('href'), location.href).pathname);
                const header = document.getElementById('mdbook-searchresults-header');
                return {{ ok: hrefs.includes(want), count: hrefs.length,
                          hrefs: hrefs.slice(0, 8), header: header ? header.textContent : '' }};
            }})()"
        ),
        |v| v["ok"] == true,
    )?;
    fail_on(tab.take_problems(), "errors while searching")?;
    if !ok {
        bail!(
            "no result links to {expect}; results: {} {}",
            last["header"].as_str().unwrap_or_default(),
            last["hrefs"]
        );
    }
    Ok(usize::try_from(last["count"].as_u64().unwrap_or(0)).unwrap_or(0))
}

const THEME_STATE: &str = "(() => ({
    cls: document.documentElement.className,
    saved: localStorage.getItem('mdbook-theme'),
    bg: getComputedStyle(document.documentElement).backgroundColor,
}))()";

fn theme_of(state: &Value) -> Option<&'static str> {
    let cls = state["cls"].as_str().unwrap_or_default();
    THEMES
        .into_iter()
        .find(|t| cls.split_whitespace().any(|c| c == *t))
}

fn pick_theme(tab: &mut Tab, theme_id: &str) -> anyhow::Result<()> {
    tab.click("#mdbook-theme-toggle")?;
    tab.wait_for(
        "the theme menu to open",
        "(() => { const l = document.getElementById('mdbook-theme-list');
                  return !!l && getComputedStyle(l).display !== 'none'; })()",
    )?;
    tab.click(&format!("#mdbook-theme-{theme_id}"))
}

fn has_class(theme: &str) -> String {
    format!("document.documentElement.classList.contains('{theme}')")
}

/// 3. Theme switch: a dark theme is applied, survives a reload, and the
///    original theme can be restored.
pub(crate) fn theme_switch(
    tab: &mut Tab,
    ctx: &Context<'_>,
    _check: &BrowserCheck,
) -> anyhow::Result<String> {
    let page = page_with(ctx, &["mdbook-theme-list"]).unwrap_or_else(|| "index.html".into());
    fail_on(tab.goto(&page)?, &page)?;
    let before = tab.eval(THEME_STATE)?;
    let original =
        theme_of(&before).ok_or_else(|| anyhow!("<html> has no theme class: {}", before["cls"]))?;
    let dark = if original == "navy" { "coal" } else { "navy" };

    pick_theme(tab, dark)?;
    tab.wait_for(
        &format!("<html> to get class `{dark}`"),
        &format!("{} && !{}", has_class(dark), has_class(original)),
    )?;
    let after = tab.eval(THEME_STATE)?;
    if after["bg"] == before["bg"] {
        bail!(
            "class changed to `{dark}` but the page background stayed {}",
            after["bg"]
        );
    }
    if after["saved"] != dark {
        bail!(
            "localStorage `mdbook-theme` is {} instead of \"{dark}\"",
            after["saved"]
        );
    }
    fail_on(tab.reload()?, "after reload")?;
    let reloaded = tab.eval(THEME_STATE)?;
    if theme_of(&reloaded) != Some(dark) {
        bail!(
            "after reload <html> class is `{}`, expected the theme `{dark}` to persist",
            reloaded["cls"].as_str().unwrap_or_default()
        );
    }

    // Back to how it was: the same saved theme, or "Auto" when none was.
    let back = before["saved"]
        .as_str()
        .unwrap_or("default_theme")
        .to_owned();
    pick_theme(tab, &back)?;
    tab.wait_for(
        &format!("<html> to get class `{original}` back"),
        &format!("{} && !{}", has_class(original), has_class(dark)),
    )?;
    let restored = tab.eval(THEME_STATE)?;
    if restored["saved"] != before["saved"] {
        bail!(
            "switching back left localStorage `mdbook-theme` = {} (was {})",
            restored["saved"],
            before["saved"]
        );
    }
    fail_on(tab.take_problems(), "errors while switching themes")?;
    Ok(format!(
        "{page}: {original} → {dark} (background {} → {}), kept after reload, back to {original}",
        before["bg"].as_str().unwrap_or_default(),
        after["bg"].as_str().unwrap_or_default()
    ))
}

/// 4. The lab card's copy button copies the command and shows feedback.
pub(crate) fn lab_card_copy(
    tab: &mut Tab,
    ctx: &Context<'_>,
    _check: &BrowserCheck,
) -> anyhow::Result<String> {
    let page = page_with(ctx, &["ul-lab-card", "ul-run"])
        .ok_or_else(|| anyhow!("no page has a `.ul-lab-card` with a `.ul-run` command"))?;
    let origin = ctx.origin.clone();
    tab.browser_call(
        "Browser.grantPermissions",
        json!({
            "origin": origin,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        }),
    )?;
    fail_on(tab.goto(&page)?, &page)?;
    let button = ".ul-lab-card .ul-run .ul-copy";
    tab.wait_for(
        "under-load.js to add the copy button",
        &format!("!!document.querySelector('{button}')"),
    )?;
    let expected =
        tab.eval("document.querySelector('.ul-lab-card .ul-run code').textContent.trim()")?;
    let expected = expected.as_str().unwrap_or_default().to_owned();
    tab.click(button)?;
    let state = tab.wait_for(
        "the copy feedback (data-copied)",
        &format!(
            "(() => {{ const b = document.querySelector('{button}');
                       const c = b.getAttribute('data-copied');
                       return c === null ? null : {{ copied: c, text: b.textContent }}; }})()"
        ),
    )?;
    if state["copied"] != "true" {
        bail!(
            "{page}: the button reports a failed copy (data-copied={}, text {})",
            state["copied"],
            state["text"]
        );
    }
    fail_on(tab.take_problems(), "errors while copying")?;
    let feedback = state["text"].as_str().unwrap_or_default().to_owned();
    match tab.eval("navigator.clipboard.readText()") {
        Ok(Value::String(text)) if text == expected => Ok(format!(
            "{page}: button shows \"{feedback}\"; clipboard holds `{expected}`"
        )),
        Ok(other) => bail!("{page}: clipboard holds {other}, expected `{expected}`"),
        Err(e) => Ok(format!(
            "{page}: button shows \"{feedback}\"; clipboard not readable here ({e:#})"
        )),
    }
}

/// 5. Clicking an exercise's "Solution" opens it and shows its code.
pub(crate) fn exercise_reveal(
    tab: &mut Tab,
    ctx: &Context<'_>,
    _check: &BrowserCheck,
) -> anyhow::Result<String> {
    let page = page_with(ctx, &["ul-exercise", "ul-solution"])
        .ok_or_else(|| anyhow!("no page has a `.ul-exercise` with a `.ul-solution`"))?;
    fail_on(tab.goto(&page)?, &page)?;
    const STATE: &str = "(() => {
        const d = document.querySelector('.ul-exercise details.ul-solution');
        if (!d) return null;
        let height = 0;
        for (const child of d.children) {
            if (child.tagName !== 'SUMMARY') height += child.getBoundingClientRect().height;
        }
        const code = d.querySelector('pre code, code');
        return { open: d.open, height, code: code ? code.innerText.trim().slice(0, 60) : null };
    })()";
    let before = tab.eval(STATE)?;
    if before.is_null() {
        bail!("{page}: no `details.ul-solution` inside `.ul-exercise`");
    }
    if before["open"] == true {
        bail!("{page}: the solution is open before anyone clicked it");
    }
    tab.click(".ul-exercise details.ul-solution > summary")?;
    let after = tab.wait_for(
        "the solution to open",
        &format!("(() => {{ const s = {STATE}; return s && s.open ? s : null; }})()"),
    )?;
    let height = after["height"].as_f64().unwrap_or(0.0);
    if height <= 0.0 {
        bail!("{page}: the solution opened but its content has no height");
    }
    let Some(code) = after["code"].as_str() else {
        bail!("{page}: the opened solution contains no code");
    };
    fail_on(tab.take_problems(), "errors while opening the solution")?;
    Ok(format!(
        "{page}: solution opened, {height:.0}px of content, code `{}…`",
        code.lines().next().unwrap_or_default()
    ))
}

/// 6. Every flame graph on the page (an `<object class="ul-flame">`, so
///    its own script runs) loads, has frames, and its search highlights
///    matches: the graph stayed interactive.
pub(crate) fn flame_graphs(
    tab: &mut Tab,
    ctx: &Context<'_>,
    _check: &BrowserCheck,
) -> anyhow::Result<String> {
    let Some(page) = page_with(ctx, &["ul-flame"]) else {
        return Ok("no page embeds a flame graph".to_owned());
    };
    fail_on(tab.goto(&page)?, &page)?;
    let loaded = tab.wait_for(
        "every flame graph to load",
        "(() => {
            const os = [...document.querySelectorAll('object.ul-flame')];
            if (!os.length) return null;
            const frames = os.map(o => o.contentDocument
                ? o.contentDocument.querySelectorAll('#frames > g').length : 0);
            return frames.every(n => n > 0) ? frames : null;
        })()",
    )?;
    let searched = tab.eval(
        "(() => [...document.querySelectorAll('object.ul-flame')].map(o => {
            const w = o.contentWindow;
            if (!w || typeof w.search !== 'function') return 'no search function';
            w.search('.');
            const m = o.contentDocument.getElementById('matched');
            return m && m.textContent.startsWith('Matched:') ? 'ok' : 'search matched nothing';
        }))()",
    )?;
    let bad: Vec<String> = searched
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .filter(|(_, v)| v.as_str() != Some("ok"))
                .map(|(i, v)| format!("flame graph {}: {v}", i + 1))
                .collect()
        })
        .unwrap_or_else(|| vec!["no answer from the page".to_owned()]);
    fail_on(bad, &format!("{page}: flame graphs not interactive"))?;
    fail_on(
        tab.take_problems(),
        "errors while searching the flame graphs",
    )?;
    let n = loaded.as_array().map_or(0, Vec::len);
    Ok(format!(
        "{page}: {n} flame graphs loaded, search works in each"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(method: &str, params: Value) -> Event {
        Event {
            method: method.to_owned(),
            params,
            session: Some("S".into()),
        }
    }

    const BOOK: &str = "http://127.0.0.1:9/";

    #[test]
    fn describes_exceptions_with_location() {
        let e = event(
            "Runtime.exceptionThrown",
            json!({"exceptionDetails": {
                "text": "Uncaught", "lineNumber": 11, "columnNumber": 4,
                "url": "http://127.0.0.1:9/part-1/bad.html",
                "exception": {"description": "Error: boom\n    at x (bad.html:12:5)"}
            }}),
        );
        assert_eq!(
            describe_problem(&e, BOOK).unwrap(),
            "JavaScript exception: Error: boom (part-1/bad.html:12:5)"
        );
    }

    #[test]
    fn describes_console_errors_and_failed_loads() {
        let e = event(
            "Runtime.consoleAPICalled",
            json!({"type": "error", "args": [{"type": "string", "value": "bad"}, {"type": "number", "value": 3}],
                   "stackTrace": {"callFrames": [{"url": "http://127.0.0.1:9/x.js", "lineNumber": 0, "columnNumber": 0}]}}),
        );
        assert_eq!(
            describe_problem(&e, BOOK).unwrap(),
            "console.error: bad 3 (x.js:1:1)"
        );
        let e = event(
            "Runtime.consoleAPICalled",
            json!({"type": "log", "args": [{"type": "string", "value": "fine"}]}),
        );
        assert_eq!(describe_problem(&e, BOOK), None);
        let e = event(
            "Log.entryAdded",
            json!({"entry": {"source": "network", "level": "error",
                   "text": "Failed to load resource: the server responded with a status of 404 (Not Found)",
                   "url": "http://127.0.0.1:9/missing.js"}}),
        );
        assert_eq!(
            describe_problem(&e, BOOK).unwrap(),
            "network error: Failed to load resource: the server responded with a status of 404 (Not Found) (missing.js)"
        );
        let e = event(
            "Log.entryAdded",
            json!({"entry": {"level": "warning", "text": "meh"}}),
        );
        assert_eq!(describe_problem(&e, BOOK), None);
    }

    #[test]
    fn tells_external_and_favicon_failures_apart() {
        let failed = |url: &str| {
            event(
                "Log.entryAdded",
                json!({"entry": {"source": "network", "level": "error", "text": "x", "url": url}}),
            )
        };
        let book = "http://127.0.0.1:9/under-load/";
        assert_eq!(
            external_load_failure(&failed("https://cdn.example/x.js"), book).as_deref(),
            Some("https://cdn.example/x.js")
        );
        assert_eq!(
            external_load_failure(&failed("http://127.0.0.1:9/favicon.ico"), book).as_deref(),
            Some("http://127.0.0.1:9/favicon.ico")
        );
        assert_eq!(
            external_load_failure(&failed("http://127.0.0.1:99/x.js"), book).as_deref(),
            Some("http://127.0.0.1:99/x.js")
        );
        assert_eq!(
            external_load_failure(&failed("http://127.0.0.1:9/under-load/x.js"), book),
            None
        );
        assert_eq!(
            external_load_failure(&failed("http://127.0.0.1:9/x.js"), book),
            None
        );
    }

    #[test]
    fn truthiness_and_caps() {
        assert!(!truthy(&Value::Null));
        assert!(!truthy(&json!(false)));
        assert!(!truthy(&json!(0)));
        assert!(!truthy(&json!("")));
        assert!(truthy(&json!({})));
        assert!(fail_on(vec![], "x").is_ok());
        let many: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
        let msg = format!("{:#}", fail_on(many, "what").unwrap_err());
        assert!(msg.starts_with("what:\nline 0\n"));
        assert!(msg.ends_with("… and 10 more"));
        assert_eq!(
            theme_of(&json!({"cls": "navy sidebar-visible js"})),
            Some("navy")
        );
        assert_eq!(theme_of(&json!({"cls": "js"})), None);
    }
}
