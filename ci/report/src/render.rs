//! One report to the files a chapter includes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::markdown::{render_table, render_transcript};
use crate::model::{Artifact, Report};
use crate::provenance::Provenance;
use crate::svg::render_plot;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("artifact name {0:?} is not kebab-case ([a-z0-9-]+)")]
    BadName(String),
    #[error("artifact name {0:?} is used twice in one report")]
    Duplicate(String),
    #[error("table {table:?}: row {row} has {got} cells but there are {want} columns")]
    RowWidth {
        table: String,
        row: usize,
        got: usize,
        want: usize,
    },
    #[error("plot {plot:?}: series {series:?} has {got} values for {want} x positions")]
    SeriesLength {
        plot: String,
        series: String,
        got: usize,
        want: usize,
    },
    #[error("table {table:?}: fact key {key:?} is not [a-z0-9_]+")]
    BadFactKey { table: String, key: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode report.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Checks a report for the mistakes that would make a broken page.
pub fn validate(report: &Report) -> Result<(), RenderError> {
    let mut seen = BTreeSet::new();
    for a in &report.artifacts {
        let name = a.name();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(RenderError::BadName(name.to_owned()));
        }
        if !seen.insert(name.to_owned()) {
            return Err(RenderError::Duplicate(name.to_owned()));
        }
        match a {
            Artifact::Table(t) => {
                if let Some(key) = t.facts.keys().find(|k| {
                    k.is_empty()
                        || !k
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                }) {
                    return Err(RenderError::BadFactKey {
                        table: t.name.clone(),
                        key: key.clone(),
                    });
                }
                for (i, r) in t.rows.iter().enumerate() {
                    if r.len() != t.columns.len() {
                        return Err(RenderError::RowWidth {
                            table: t.name.clone(),
                            row: i,
                            got: r.len(),
                            want: t.columns.len(),
                        });
                    }
                }
            }
            Artifact::Plot(p) => {
                let want = match &p.kind {
                    crate::model::PlotKind::Line { x, .. } => x.len(),
                    crate::model::PlotKind::Bars { categories } => categories.len(),
                };
                for s in &p.series {
                    if s.values.len() != want {
                        return Err(RenderError::SeriesLength {
                            plot: p.name.clone(),
                            series: s.name.clone(),
                            got: s.values.len(),
                            want,
                        });
                    }
                }
            }
            Artifact::Transcript(_) => {}
        }
    }
    Ok(())
}

/// Renders every artifact of `report` into `dir` and returns the paths
/// written. `report.json` holds the report and its provenance together.
pub fn render_report(
    report: &Report,
    prov: &Provenance,
    dir: &Path,
) -> Result<Vec<PathBuf>, RenderError> {
    validate(report)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RenderError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for a in &report.artifacts {
        let (file, text) = match a {
            Artifact::Table(t) => (
                format!("{}.md", t.name),
                render_table(t, prov, report.quick),
            ),
            Artifact::Plot(p) => (
                format!("{}.svg", p.name),
                render_plot(p, prov, report.quick),
            ),
            Artifact::Transcript(t) => (
                format!("{}.md", t.name),
                render_transcript(t, prov, report.quick),
            ),
        };
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    let json = serde_json::json!({ "provenance": prov, "report": report });
    let path = dir.join("report.json");
    let mut text = serde_json::to_string_pretty(&json)?;
    text.push('\n');
    std::fs::write(&path, text).map_err(io(&path))?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Plot, PlotKind, Series, Table};

    fn prov() -> Provenance {
        Provenance::collect("test")
    }

    #[test]
    fn renders_every_artifact_and_json() {
        let dir = std::env::temp_dir().join(format!("ul-report-{}", std::process::id()));
        let mut r = Report::new("lab-00", true);
        let mut t = Table::new("tbl", "T", &["a"]);
        t.row(vec!["1".into()]);
        r.table(t);
        r.plot(Plot {
            name: "plt".into(),
            title: "P".into(),
            kind: PlotKind::Bars {
                categories: vec!["x".into()],
            },
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: false,
            series: vec![Series {
                name: "s".into(),
                values: vec![1.0],
            }],
        });
        let files = render_report(&r, &prov(), &dir).unwrap();
        let names: Vec<_> = files
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(names, r.file_names());
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(json["report"]["lab"], "lab-00");
        assert!(
            json["provenance"]["rustc"]
                .as_str()
                .unwrap()
                .starts_with("rustc")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rejects_bad_reports() {
        let mut r = Report::new("lab-00", true);
        r.table(Table::new("Bad Name", "T", &["a"]));
        assert!(matches!(validate(&r), Err(RenderError::BadName(_))));

        let mut r = Report::new("lab-00", true);
        let mut t = Table::new("t", "T", &["a", "b"]);
        t.row(vec!["1".into()]);
        r.table(t);
        assert!(matches!(validate(&r), Err(RenderError::RowWidth { .. })));

        let mut r = Report::new("lab-00", true);
        r.table(Table::new("t", "T", &["a"]));
        r.table(Table::new("t", "T", &["a"]));
        assert!(matches!(validate(&r), Err(RenderError::Duplicate(_))));
    }
}
