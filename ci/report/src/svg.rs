//! Plots to SVG.
//!
//! The output is meant to be included inline in a chapter (so the page's
//! theme CSS can restyle it through the `ul-*` classes) and also to read well
//! when opened on its own (presentation attributes carry light-theme
//! defaults, which CSS overrides). It is one HTML block for Markdown: the
//! first line is the bare `<svg …>` open tag and there is no blank line.

use std::fmt::Write as _;

use crate::model::{Plot, PlotKind};
use crate::provenance::Provenance;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 112.0;
/// Light-theme defaults; the theme's CSS replaces them per theme.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A linear or log axis mapping data values to pixels.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    px_lo: f64,
    px_hi: f64,
}

impl Axis {
    fn new(
        values: impl Iterator<Item = f64>,
        log: bool,
        px_lo: f64,
        px_hi: f64,
        zero: bool,
    ) -> Self {
        let vals: Vec<f64> = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if !lo.is_finite() {
            (lo, hi) = if log { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if log {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil().max(lo.log10() + 1.0));
        } else {
            if zero && lo > 0.0 {
                lo = 0.0;
            }
            if hi <= lo {
                hi = lo + 1.0;
            }
            let step = nice_step((hi - lo) / 5.0);
            lo = (lo / step).floor() * step;
            hi = (hi / step).ceil() * step;
        }
        Self {
            lo,
            hi,
            log,
            px_lo,
            px_hi,
        }
    }

    fn map(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.px_lo + t * (self.px_hi - self.px_lo)
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut e = self.lo.log10().round() as i32;
            while 10f64.powi(e) <= self.hi * 1.0001 {
                t.push(10f64.powi(e));
                e += 1;
            }
            t
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let mut t = Vec::new();
            let mut v = self.lo;
            while v <= self.hi + step * 1e-6 {
                t.push(v);
                v += step;
            }
            t
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Formats a tick label compactly: 1500000 → 1.5M.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if x.fract().abs() < 1e-9 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{suffix}")
}

/// Renders a plot, with the provenance as `<desc>` and as small text at the
/// bottom so the numbers never travel without their header.
pub fn render_plot(p: &Plot, prov: &Provenance, quick: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"ul-plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"ul-plot-{name}-title\" font-family=\"system-ui, sans-serif\" font-size=\"12\">",
        name = esc(&p.name)
    );
    let _ = writeln!(
        s,
        "<title id=\"ul-plot-{}-title\">{}</title>",
        esc(&p.name),
        esc(&p.title)
    );
    let _ = writeln!(s, "<desc>{}</desc>", esc(&prov.lines().join("; ")));
    let _ = writeln!(
        s,
        "<rect class=\"ul-plot-bg\" x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        s,
        "<text class=\"ul-title\" x=\"{LEFT}\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text>",
        esc(&p.title)
    );

    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let all_values = p.series.iter().flat_map(|s| s.values.iter().copied());
    let y = Axis::new(all_values, p.log_y, TOP + plot_h, TOP, true);

    // Y grid and ticks.
    for t in y.ticks() {
        let py = y.map(t);
        let _ = writeln!(
            s,
            "<line class=\"ul-grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/>",
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            "<text class=\"ul-tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
            LEFT - 6.0,
            py + 4.0,
            compact(t)
        );
    }

    match &p.kind {
        PlotKind::Line { x, log_x } => {
            let xa = Axis::new(x.iter().copied(), *log_x, LEFT, LEFT + plot_w, false);
            let xa = if *log_x {
                xa
            } else {
                // Use the data range exactly so the first and last points
                // sit on the plot's edges.
                let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if lo.is_finite() && hi > lo {
                    Axis { lo, hi, ..xa }
                } else {
                    xa
                }
            };
            for &t in x {
                if !t.is_finite() || (*log_x && t <= 0.0) {
                    continue;
                }
                let px = xa.map(t);
                let _ = writeln!(
                    s,
                    "<text class=\"ul-tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
                    TOP + plot_h + 18.0,
                    compact(t)
                );
            }
            for (i, series) in p.series.iter().enumerate() {
                let class = format!("ul-s{}", i % PALETTE.len());
                let color = PALETTE[i % PALETTE.len()];
                let pts: Vec<(f64, f64)> = x
                    .iter()
                    .zip(&series.values)
                    .filter(|(xv, yv)| {
                        xv.is_finite()
                            && yv.is_finite()
                            && (!*log_x || **xv > 0.0)
                            && (!p.log_y || **yv > 0.0)
                    })
                    .map(|(xv, yv)| (xa.map(*xv), y.map(*yv)))
                    .collect();
                let path: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                let _ = writeln!(
                    s,
                    "<polyline class=\"{class}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
                    path.join(" "),
                    esc(&series.name)
                );
                for ((a, b), (xv, yv)) in
                    pts.iter()
                        .zip(x.iter().zip(&series.values).filter(|(xv, yv)| {
                            xv.is_finite()
                                && yv.is_finite()
                                && (!*log_x || **xv > 0.0)
                                && (!p.log_y || **yv > 0.0)
                        }))
                {
                    let _ = writeln!(
                        s,
                        "<circle class=\"{class}\" cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"3.5\" fill=\"{color}\"><title>{}: {} = {}</title></circle>",
                        esc(&series.name),
                        compact(*xv),
                        compact(*yv)
                    );
                }
            }
        }
        PlotKind::Bars { categories } => {
            let n_cat = categories.len().max(1) as f64;
            let n_ser = p.series.len().max(1) as f64;
            let band = plot_w / n_cat;
            let bar_w = (band * 0.8) / n_ser;
            let base = if p.log_y {
                y.map(y.lo)
            } else {
                y.map(0.0f64.max(y.lo))
            };
            for (c, name) in categories.iter().enumerate() {
                let cx = LEFT + band * (c as f64 + 0.5);
                let _ = writeln!(
                    s,
                    "<text class=\"ul-tick\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
                    TOP + plot_h + 18.0,
                    esc(name)
                );
                for (i, series) in p.series.iter().enumerate() {
                    let Some(&v) = series.values.get(c) else {
                        continue;
                    };
                    if !v.is_finite() || (p.log_y && v <= 0.0) {
                        continue;
                    }
                    let top = y.map(v);
                    let x0 = LEFT + band * c as f64 + band * 0.1 + bar_w * i as f64;
                    let _ = writeln!(
                        s,
                        "<rect class=\"ul-s{k}\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}: {} = {}</title></rect>",
                        (base - top).max(0.0),
                        esc(&series.name),
                        esc(name),
                        compact(v),
                        k = i % PALETTE.len(),
                        color = PALETTE[i % PALETTE.len()]
                    );
                }
            }
        }
    }

    // Axes and labels.
    let _ = writeln!(
        s,
        "<path class=\"ul-axis\" d=\"M{LEFT},{TOP} V{:.1} H{:.1}\" fill=\"none\" stroke=\"#444\"/>",
        TOP + plot_h,
        LEFT + plot_w
    );
    let _ = writeln!(
        s,
        "<text class=\"ul-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
        LEFT + plot_w / 2.0,
        TOP + plot_h + 40.0,
        esc(&p.x_label)
    );
    let _ = writeln!(
        s,
        "<text class=\"ul-label\" transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
        TOP + plot_h / 2.0,
        esc(&p.y_label)
    );

    // Legend.
    for (i, series) in p.series.iter().enumerate() {
        let ly = TOP + 8.0 + 20.0 * i as f64;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            s,
            "<rect class=\"ul-s{k}\" x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text class=\"ul-legend\" x=\"{:.1}\" y=\"{ly:.1}\" dy=\"4\" fill=\"#222\">{}</text>",
            ly - 6.0,
            lx + 18.0,
            esc(&series.name),
            k = i % PALETTE.len(),
            color = PALETTE[i % PALETTE.len()]
        );
    }

    // Provenance footer.
    let mut lines = prov.lines();
    if quick {
        lines.insert(0, "QUICK RUN: numbers are not meaningful".to_owned());
    }
    let first = H - 14.0 * lines.len() as f64 - 4.0;
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text class=\"ul-provenance-text\" x=\"8\" y=\"{:.1}\" font-size=\"10\" fill=\"#666\">{}</text>",
            first + 14.0 * i as f64 + 10.0,
            esc(line)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Series;

    fn prov() -> Provenance {
        Provenance {
            command: "cmd".into(),
            cpu: "cpu".into(),
            cores: 2,
            memory: "1 GiB".into(),
            os: "os".into(),
            rustc: "rustc".into(),
            commit: "c".into(),
            date: "d".into(),
            sources: Default::default(),
        }
    }

    #[test]
    fn compact_labels() {
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(compact(2000.0), "2k");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(12.5), "12.5");
    }

    #[test]
    fn line_plot_is_one_markdown_html_block() {
        let p = Plot {
            name: "scaling".into(),
            title: "Scaling <test>".into(),
            kind: PlotKind::Line {
                x: vec![1.0, 2.0, 4.0],
                log_x: false,
            },
            x_label: "threads".into(),
            y_label: "Mops/s".into(),
            log_y: false,
            series: vec![
                Series {
                    name: "a".into(),
                    values: vec![1.0, 1.8, f64::NAN],
                },
                Series {
                    name: "b".into(),
                    values: vec![0.5, 0.6, 0.7],
                },
            ],
        };
        let svg = render_plot(&p, &prov(), false);
        let first = svg.lines().next().unwrap_or_default();
        assert!(first.starts_with("<svg ") && first.ends_with('>'));
        assert!(
            !svg.contains("\n\n"),
            "a blank line would end the HTML block"
        );
        assert!(svg.contains("Scaling &lt;test&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The NaN point is skipped, not drawn at a bogus position.
        assert_eq!(svg.matches("<circle").count(), 5);
        assert!(!svg.contains("NaN"));
        assert!(svg.contains("command: cmd"));
    }

    #[test]
    fn bar_plot_with_log_axis() {
        let p = Plot {
            name: "wait".into(),
            title: "Wait".into(),
            kind: PlotKind::Bars {
                categories: vec!["mutex".into(), "rwlock".into()],
            },
            x_label: "design".into(),
            y_label: "µs".into(),
            log_y: true,
            series: vec![Series {
                name: "p99".into(),
                values: vec![3.0, 3000.0],
            }],
        };
        let svg = render_plot(&p, &prov(), true);
        assert_eq!(svg.matches("<rect class=\"ul-s0\"").count(), 3); // 2 bars + legend
        assert!(svg.contains("QUICK RUN"));
        assert!(svg.contains(">1k<"), "decade ticks expected: {svg}");
    }
}
