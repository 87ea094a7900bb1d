//! What a lab's `measure` command produces.

use serde::{Deserialize, Serialize};

/// One lab's measured results: a list of named artifacts plus the raw data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The lab's package name, e.g. `lab-01`.
    pub lab: String,
    /// `true` when produced by a quick run (the pipeline check in the test
    /// suite); such numbers are never committed.
    pub quick: bool,
    /// Free-form facts about the run that a reader needs to interpret it
    /// (durations, pinning, thread counts). Rendered under each artifact.
    #[serde(default)]
    pub notes: Vec<String>,
    pub artifacts: Vec<Artifact>,
    /// The raw measurements, kept in `report.json` for anyone who wants to
    /// compute something the tables do not show.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Report {
    pub fn new(lab: impl Into<String>, quick: bool) -> Self {
        Self {
            lab: lab.into(),
            quick,
            notes: Vec::new(),
            artifacts: Vec::new(),
            data: serde_json::Value::Null,
        }
    }

    pub fn table(&mut self, table: Table) -> &mut Self {
        self.artifacts.push(Artifact::Table(table));
        self
    }

    pub fn plot(&mut self, plot: Plot) -> &mut Self {
        self.artifacts.push(Artifact::Plot(plot));
        self
    }

    pub fn figure(&mut self, figure: Figure) -> &mut Self {
        self.artifacts.push(Artifact::Figure(figure));
        self
    }

    pub fn transcript(&mut self, transcript: Transcript) -> &mut Self {
        self.artifacts.push(Artifact::Transcript(transcript));
        self
    }

    pub fn scene(&mut self, scene: Scene) -> &mut Self {
        self.artifacts.push(Artifact::Scene(scene));
        self
    }

    /// Names of every file the renderer will write for this report.
    pub fn file_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .artifacts
            .iter()
            .map(|a| match a {
                Artifact::Table(t) => format!("{}.md", t.name),
                Artifact::Plot(p) => format!("{}.svg", p.name),
                Artifact::Figure(f) => format!("{}.svg", f.name),
                Artifact::Transcript(t) => format!("{}.md", t.name),
                Artifact::Scene(s) => format!("{}.md", s.name),
            })
            .chain(self.artifacts.iter().filter_map(|a| match a {
                Artifact::Scene(s) => Some(format!("{}.trace.json", s.name)),
                _ => None,
            }))
            .collect();
        names.push("report.json".to_owned());
        names
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "artifact", rename_all = "snake_case")]
pub enum Artifact {
    Table(Table),
    Plot(Plot),
    Figure(Figure),
    Transcript(Transcript),
    Scene(Scene),
}

/// A recorded run the book's player replays (lab-07): the page's markup
/// with the trace inline (`NAME.md`) and the same run as Chrome
/// trace-event JSON for Perfetto (`NAME.trace.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scene {
    /// File stem: `[a-z0-9-]+`.
    pub name: String,
    pub title: String,
    /// The compact trace the player reads (lab-07's `trace` module).
    pub trace: serde_json::Value,
    /// The Chrome trace-event JSON.
    pub chrome: serde_json::Value,
    /// One line of text per step, for readers without JavaScript and for
    /// the search index.
    pub outline: Vec<String>,
}

/// An SVG drawn by a tool rather than by this crate (a flame graph from
/// inferno), written as it is, with the provenance in a comment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    /// File stem: `[a-z0-9-]+`.
    pub name: String,
    pub title: String,
    pub svg: String,
}

impl Artifact {
    pub fn name(&self) -> &str {
        match self {
            Artifact::Table(t) => &t.name,
            Artifact::Plot(p) => &p.name,
            Artifact::Figure(f) => &f.name,
            Artifact::Transcript(t) => &t.name,
            Artifact::Scene(s) => &s.name,
        }
    }
}

/// A command and what it printed, normalised so that reruns differ only
/// where the program's behaviour differs (timings, paths and PIDs replaced
/// by placeholders), like the listings of *The Rust Programming Language*.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transcript {
    /// File stem: `[a-z0-9-]+`.
    pub name: String,
    pub title: String,
    /// The command as the reader would type it.
    pub command: String,
    /// What it printed (stdout and stderr interleaved as captured).
    pub output: String,
    /// The exit status, shown when it is not zero.
    #[serde(default)]
    pub status: i32,
}

/// A table of already formatted cells. Formatting is the lab's job because
/// only the lab knows which precision is meaningful.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// File stem: `[a-z0-9-]+`.
    pub name: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Column indexes to right-align (numbers).
    #[serde(default)]
    pub numeric: Vec<usize>,
    /// Sentences printed under the table (what was run, the verdict).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Named values and verdicts a chapter's prose quotes by reference
    /// (`{{#value LAB/TABLE:KEY}}`), formatted as the table formats them.
    /// Not rendered in the table itself.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub facts: std::collections::BTreeMap<String, String>,
}

impl Table {
    pub fn new(name: &str, title: &str, columns: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            title: title.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
            numeric: Vec::new(),
            notes: Vec::new(),
            facts: Default::default(),
        }
    }

    pub fn numeric(mut self, cols: &[usize]) -> Self {
        self.numeric = cols.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        self.notes.push(note.into());
        self
    }

    /// Names a value or a verdict for prose to quote: `key` is
    /// `[a-z0-9_]+`, `text` what the page shows (`1.23×`, `event-loop`).
    pub fn fact(&mut self, key: &str, text: impl Into<String>) -> &mut Self {
        self.facts.insert(key.to_owned(), text.into());
        self
    }
}

/// How the x axis of a plot is laid out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlotKind {
    /// Numeric x values shared by every series, drawn as lines with markers.
    Line { x: Vec<f64>, log_x: bool },
    /// Named categories; each series is one bar per category.
    Bars { categories: Vec<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub name: String,
    /// One value per x value or category. `NaN` means "not measured".
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plot {
    /// File stem: `[a-z0-9-]+`.
    pub name: String,
    pub title: String,
    pub kind: PlotKind,
    pub x_label: String,
    pub y_label: String,
    /// Draw the y axis on a log scale (for latencies spanning decades).
    #[serde(default)]
    pub log_y: bool,
    pub series: Vec<Series>,
}
