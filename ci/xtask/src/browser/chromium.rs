//! Launching headless Chromium and finding its DevTools websocket.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::TempDir;

/// A running Chromium. Dropping it kills the process and removes its
/// profile directory, also when a check failed half-way.
pub(crate) struct Chromium {
    child: Child,
    ws_url: String,
    // Dropped after `child` is killed (see Drop), so the profile is unused.
    _profile: TempDir,
}

impl Chromium {
    pub(crate) fn launch(binary: &Path, timeout: Duration) -> anyhow::Result<Self> {
        if !binary.exists() {
            bail!(
                "Chromium not found at {} (on Debian: `apt-get install -y chromium`)",
                binary.display()
            );
        }
        let profile = TempDir::new("ul-chromium-profile")?;
        let mut child = Command::new(binary)
            .args(flags(profile.path()))
            // Keep Chromium's crash database and caches out of $HOME.
            .env("XDG_CONFIG_HOME", profile.path().join("config"))
            .env("XDG_CACHE_HOME", profile.path().join("cache"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("Chromium's stderr was not captured");
        };
        // Chromium must never block on a full stderr pipe, so one thread
        // keeps reading it for the whole run and hands the lines over.
        let (tx, rx) = mpsc::channel::<String>();
        let _ = std::thread::Builder::new()
            .name("chromium-stderr".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            });
        let mut browser = Self {
            child,
            ws_url: String::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "Chromium printed no DevTools URL within {timeout:?}; its stderr:\n{}",
                    seen.join("\n")
                );
            }
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some(url) = parse_ws_url(&line) {
                        browser.ws_url = url;
                        return Ok(browser);
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = browser.child.try_wait().ok().flatten();
                    bail!(
                        "Chromium exited ({status:?}) before printing its DevTools URL; \
                         its stderr:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
    }

    pub(crate) fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// Gives Chromium up to `grace` to exit by itself (after
    /// `Browser.close`), so its helper processes shut down cleanly.
    pub(crate) fn wait_exit(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags this machine needs: no sandbox (root, containers), and nothing
/// that reaches for the network (there is none, and Chromium hangs on it).
pub(crate) fn flags(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-crash-reporter",
        "--disable-breakpad",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "--hide-scrollbars",
        "--window-size=1280,900",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// Finds the websocket URL in a stderr line such as
/// `DevTools listening on ws://127.0.0.1:39123/devtools/browser/5c1e…`.
pub(crate) fn parse_ws_url(line: &str) -> Option<String> {
    let rest = line.split("DevTools listening on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("ws://").then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_devtools_url() {
        assert_eq!(
            parse_ws_url("DevTools listening on ws://127.0.0.1:4567/devtools/browser/ab-12"),
            Some("ws://127.0.0.1:4567/devtools/browser/ab-12".to_owned())
        );
        assert_eq!(
            parse_ws_url("\r\nDevTools listening on ws://127.0.0.1:1/devtools/browser/x \r"),
            Some("ws://127.0.0.1:1/devtools/browser/x".to_owned())
        );
        assert_eq!(parse_ws_url("[123:ERROR:gpu_init.cc(1)] nothing"), None);
        assert_eq!(parse_ws_url("DevTools listening on "), None);
        assert_eq!(parse_ws_url("DevTools listening on http://x"), None);
    }

    #[test]
    fn flags_keep_chromium_off_the_network() {
        let f = flags(Path::new("/tmp/p"));
        for needed in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            "--user-data-dir=/tmp/p",
        ] {
            assert!(f.iter().any(|x| x == needed), "missing {needed}");
        }
    }
}
