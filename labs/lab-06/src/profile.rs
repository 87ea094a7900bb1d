//! A live task profile: the tracked tasks alive now, grouped by spawn
//! site with counts and ages. Go's `/debug/pprof/goroutine?debug=1` for a
//! tokio server; [`crate::serve`] mounts it on lab-04's debug port as
//! `/debug/tasks`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use crate::track::{self, Kind, TaskInfo};

/// Live tasks from one spawn site.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `file:line:column`.
    pub site: String,
    pub kind: Kind,
    pub count: usize,
    pub oldest_seconds: f64,
    pub median_seconds: f64,
}

/// The live tracked tasks at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub live: usize,
    /// Most tasks first.
    pub groups: Vec<Group>,
}

impl Profile {
    /// Every live tracked task in the process.
    pub fn take() -> Self {
        Self::of(&track::registry().live())
    }

    pub fn of(tasks: &[TaskInfo]) -> Self {
        let now = Instant::now();
        let mut by_site: BTreeMap<String, (Kind, Vec<f64>)> = BTreeMap::new();
        for t in tasks {
            let key = format!("{}:{}:{}", t.site.file(), t.site.line(), t.site.column());
            let age = now.saturating_duration_since(t.spawned).as_secs_f64();
            by_site
                .entry(key)
                .or_insert((t.kind, Vec::new()))
                .1
                .push(age);
        }
        let mut groups: Vec<Group> = by_site
            .into_iter()
            .map(|(site, (kind, ages))| Group {
                site,
                kind,
                count: ages.len(),
                oldest_seconds: ages.iter().copied().fold(0.0, f64::max),
                median_seconds: kit::stats::median(&ages),
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.site.cmp(&b.site)));
        Self {
            live: tasks.len(),
            groups,
        }
    }

    /// The text form: one line per site, as `goroutine?debug=1` prints.
    pub fn text(&self) -> String {
        let mut s = format!("tasks: {} live (tracked by lab-06)\n", self.live);
        for g in &self.groups {
            let _ = writeln!(
                s,
                "{:>7} @ {}{}  oldest {}, median age {}",
                g.count,
                g.site,
                if g.kind == Kind::Blocking {
                    " (blocking)"
                } else {
                    ""
                },
                kit::fmt::fmt_duration(std::time::Duration::from_secs_f64(g.oldest_seconds)),
                kit::fmt::fmt_duration(std::time::Duration::from_secs_f64(g.median_seconds)),
            );
        }
        s
    }
}

/// Answers `/debug/tasks?format=text|json` (text by default).
pub fn answer(query: &str) -> Result<(&'static str, String), String> {
    let mut format = "text";
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("format", f @ ("text" | "json"))) => format = f,
            Some(("format", f)) => return Err(format!("unknown format `{f}`: text or json")),
            // Go's tools add debug=1 or debug=2; both get the text form.
            Some(("debug", _)) => {}
            _ => return Err(format!("unknown parameter `{pair}`: format=text|json")),
        }
    }
    let p = Profile::take();
    Ok(match format {
        "json" => (
            "application/json",
            serde_json::to_string_pretty(&p).map_err(|e| e.to_string())?,
        ),
        _ => ("text/plain", p.text()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn groups_live_tasks_by_site_most_first() {
        let rt = tokio::runtime::Handle::current().id();
        let mut joins = Vec::new();
        for _ in 0..3 {
            joins.push(crate::spawn(std::future::pending::<()>()));
        }
        joins.push(crate::spawn(std::future::pending::<()>()));
        let p = Profile::of(&track::registry().live_on(rt));
        assert_eq!(p.live, 4);
        assert_eq!(p.groups.len(), 2);
        assert_eq!(p.groups[0].count, 3);
        assert!(p.text().contains("      3 @ "), "{}", p.text());
        for j in joins {
            j.abort();
        }
    }

    #[test]
    fn refuses_unknown_parameters_with_a_message() {
        assert!(
            answer("format=xml")
                .expect_err("refused")
                .contains("text or json")
        );
        assert!(
            answer("seconds=3")
                .expect_err("refused")
                .contains("unknown parameter")
        );
        assert!(answer("debug=1").is_ok());
    }
}
