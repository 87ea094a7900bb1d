//! Flame graphs, drawn by inferno 0.12 from folded stacks: one profile, or
//! the difference between two (red grew, blue shrank, width from the
//! second profile). inferno's SVG carries its own script, so a page that
//! embeds it as a document (`<object>`, or opened directly) keeps zoom and
//! search.

use anyhow::{Context, Result};
use inferno::flamegraph::{self, Options};

fn options(title: &str, subtitle: Option<&str>) -> Options<'static> {
    let mut o = Options::default();
    o.title = title.to_owned();
    o.subtitle = subtitle.map(str::to_owned);
    o.count_name = "samples".to_owned();
    o.min_width = 0.1;
    // The same colours for the same names, run after run.
    o.hash = true;
    o.deterministic = true;
    o
}

// ANCHOR: svg
/// An interactive flame graph of folded stacks.
pub fn svg(folded: &str, title: &str, subtitle: Option<&str>) -> Result<String> {
    let mut out = Vec::new();
    let mut o = options(title, subtitle);
    if folded.trim().is_empty() {
        // inferno refuses empty input; an empty profile is an honest result.
        flamegraph::from_lines(&mut o, ["(no samples) 1"], &mut out)
    } else {
        flamegraph::from_lines(&mut o, folded.lines(), &mut out)
    }
    .context("inferno could not draw the flame graph")?;
    String::from_utf8(out).context("inferno wrote invalid UTF-8")
}

/// A differential flame graph: the shape of `after`, each frame coloured
/// by how its share changed since `before`.
pub fn diff_svg(before: &str, after: &str, title: &str, subtitle: Option<&str>) -> Result<String> {
    let mut diff = Vec::new();
    let o = inferno::differential::Options {
        normalize: true,
        ..Default::default()
    };
    inferno::differential::from_readers(o, before.as_bytes(), after.as_bytes(), &mut diff)
        .context("inferno could not diff the profiles")?;
    let diff = String::from_utf8(diff).context("inferno wrote invalid UTF-8")?;
    svg(&diff, title, subtitle)
}
// ANCHOR_END: svg

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_graph_with_its_script_and_frames() {
        let s = svg("t;main;work 9\nt;main;idle 1\n", "demo", None).unwrap();
        assert!(s.starts_with("<?xml"));
        assert!(s.contains("<script"), "interactive");
        assert!(s.contains("work") && s.contains("idle"));
        let empty = svg("", "empty", None).unwrap();
        assert!(empty.contains("no samples"));
    }

    #[test]
    fn a_diff_names_the_frame_that_grew() {
        let before = "t;main;a 8\nt;main;b 2\n";
        let after = "t;main;a 2\nt;main;b 8\n";
        let s = diff_svg(before, after, "diff", None).unwrap();
        assert!(s.contains("main"));
        assert!(s.contains("rgb(255"), "grown frames are drawn red");
    }
}
