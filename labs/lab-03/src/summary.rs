//! Turning a run into things to read: the summary table, JSON, an
//! HdrHistogram interval log and an SVG latency plot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use serde::Serialize;

use crate::engine::{Load, Outcome, Plan, ThreadStats};
use crate::record::Percentiles;
use crate::selfcheck::{self, SelfCheck, fmt_us};
use kit::fmt::fmt_int;

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub second: u64,
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub latency_p99_us: f64,
    pub service_p99_us: f64,
}

/// Everything a run reports; `--json` writes exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub target: String,
    pub workload: String,
    /// `open` or `closed`.
    pub model: &'static str,
    pub target_rate: Option<f64>,
    pub connections: usize,
    pub threads: usize,
    pub window_s: f64,
    pub elapsed_s: f64,
    pub scheduled: u64,
    pub sent: u64,
    /// Requests started in all (after the window too): every error but
    /// `unsent` and `dropped` is one of them.
    pub started: u64,
    pub ok: u64,
    pub errors: BTreeMap<&'static str, u64>,
    /// Requests sent in the window per second of the window.
    pub sent_rate: f64,
    /// Good responses per second of the window.
    pub ok_rate: f64,
    /// From the intended start: corrected for coordinated omission.
    pub latency: Percentiles,
    /// From the actual send (k6's `http_req_duration`).
    pub service: Percentiles,
    pub blocked: Percentiles,
    pub connecting: Percentiles,
    pub sending: Percentiles,
    pub waiting: Percentiles,
    pub receiving: Percentiles,
    /// How late the generator sent requests that had a connection ready.
    pub lag: Percentiles,
    /// How long each event-loop turn kept the generator busy.
    pub turn: Percentiles,
    pub generator_threads: Vec<ThreadStats>,
    pub self_check: SelfCheck,
    pub timeline: Vec<Second>,
}

impl Summary {
    pub fn new(
        plan: &Plan,
        target: String,
        workload: String,
        target_rate: Option<f64>,
        out: &Outcome,
    ) -> Self {
        let r = &out.rec;
        let window = out.window.as_secs_f64().max(1e-9);
        Summary {
            target,
            workload,
            model: match plan.load {
                Load::Open => "open",
                Load::Closed { .. } => "closed",
            },
            target_rate,
            connections: plan.connections,
            threads: plan.threads,
            window_s: out.window.as_secs_f64(),
            elapsed_s: out.elapsed.as_secs_f64(),
            scheduled: out.scheduled,
            sent: r.sent_in_window,
            started: r.started,
            ok: r.ok,
            errors: r.errors.iter().map(|(k, v)| (k.name(), *v)).collect(),
            sent_rate: r.sent_in_window as f64 / window,
            ok_rate: r.ok as f64 / window,
            latency: Percentiles::of(&r.latency),
            service: Percentiles::of(&r.service),
            blocked: Percentiles::of(&r.blocked),
            connecting: Percentiles::of(&r.connecting),
            sending: Percentiles::of(&r.sending),
            waiting: Percentiles::of(&r.waiting),
            receiving: Percentiles::of(&r.receiving),
            lag: Percentiles::of(&r.lag),
            turn: Percentiles::of(&r.turn),
            generator_threads: out.threads.clone(),
            self_check: selfcheck::check(plan, out),
            timeline: out
                .timeline
                .iter()
                .map(|iv| Second {
                    second: iv.second,
                    sent: iv.sent,
                    ok: iv.ok,
                    errors: iv.errors,
                    latency_p99_us: iv.latency.value_at_quantile(0.99) as f64 / 1e3,
                    service_p99_us: iv.service.value_at_quantile(0.99) as f64 / 1e3,
                })
                .collect(),
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Errors of requests that were never started (due in the open model,
    /// but no connection was free): the rest are at most `started`.
    pub fn never_started(&self) -> u64 {
        ["unsent", "dropped"]
            .iter()
            .filter_map(|k| self.errors.get(k))
            .sum()
    }

    /// When no request got a good reply: the one line to say so, naming
    /// the errors (a table of zeros would read like a measurement).
    pub fn nothing_succeeded(&self) -> Option<String> {
        if self.ok > 0 {
            return None;
        }
        let kinds = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = if self.errors.contains_key("connect-refused") {
            let start = if self.target.starts_with("redis://") {
                "lab-02 listens on 6380: `cargo run -p lab-02 --release`"
            } else {
                "lab-03's own target: `cargo run -p lab-03 --release -- target --port 8080`"
            };
            format!("; is a server listening at {}? ({start})", self.target)
        } else {
            String::new()
        };
        Some(format!(
            "no request succeeded against {}: {} started, {} failed ({}){hint}",
            self.target,
            self.started,
            self.error_count(),
            if kinds.is_empty() {
                "none answered".to_string()
            } else {
                kinds
            },
        ))
    }

    /// The table printed at the end of a run.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "target     {}", self.target);
        let _ = writeln!(s, "workload   {}", self.workload);
        let model = match self.target_rate {
            Some(r) => format!("open, {} req/s scheduled", fmt_int(r)),
            None => "closed".to_string(),
        };
        let _ = writeln!(
            s,
            "load       {model}, {} connections, {} thread(s), {:.2} s window",
            self.connections, self.threads, self.window_s
        );
        let _ = writeln!(
            s,
            "requests   {} sent ({} req/s){}, {} ok ({} req/s), {} errors{}",
            self.sent,
            fmt_int(self.sent_rate),
            if self.started > self.sent {
                format!(" and {} more after the window", self.started - self.sent)
            } else {
                String::new()
            },
            self.ok,
            fmt_int(self.ok_rate),
            self.error_count(),
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    self.errors
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
        );
        let rows: [(&str, &Percentiles); 9] = [
            ("latency (from intended start)", &self.latency),
            ("service time = k6 duration", &self.service),
            ("  blocked", &self.blocked),
            ("  connecting", &self.connecting),
            ("  sending", &self.sending),
            ("  waiting (time to 1st byte)", &self.waiting),
            ("  receiving", &self.receiving),
            ("generator: lag", &self.lag),
            ("generator: loop turn", &self.turn),
        ];
        for (name, p) in rows {
            let _ = writeln!(
                s,
                "{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                name,
                fmt_us(p.p50_us),
                fmt_us(p.p90_us),
                fmt_us(p.p99_us),
                fmt_us(p.p999_us),
                fmt_us(p.p9999_us),
                fmt_us(p.max_us),
                fmt_us(p.mean_us),
            );
        }
        let _ = writeln!(s);
        s.push_str(&self.self_check.render());
        s
    }
}

/// Writes the per-second histograms as an HdrHistogram interval log (the
/// format of HdrHistogram's `HistogramLogProcessor` and plotters):
/// tag `latency` (from intended start) and tag `service`.
pub fn write_hdr_log(
    out: &Outcome,
    started: SystemTime,
    w: &mut impl io::Write,
) -> anyhow::Result<()> {
    let mut ser = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("lab-03 load generator; values in nanoseconds")
        .with_start_time(started)
        .with_base_time(started)
        .with_max_value_divisor(1e6)
        .begin_log_with(w, &mut ser)?;
    let one = Duration::from_secs(1);
    for iv in &out.timeline {
        let at = Duration::from_secs(iv.second);
        for (tag, h) in [("latency", &iv.latency), ("service", &iv.service)] {
            log.write_histogram(h, at, one, Tag::new(tag))
                .map_err(|e| anyhow::anyhow!("writing the HdrHistogram log: {e:?}"))?;
        }
    }
    Ok(())
}

/// The percentile spectrum of both latencies, as the book's SVG plot.
pub fn latency_plot(out: &Outcome, title: &str) -> report::Plot {
    // x = 1 / (1 - q): 10 is p90, 100 is p99, 10,000 is p99.99.
    let qs = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999];
    let x: Vec<f64> = qs.iter().map(|q| 1.0 / (1.0 - q)).collect();
    let ms = |h: &hdrhistogram::Histogram<u64>| -> Vec<f64> {
        qs.iter()
            .map(|&q| h.value_at_quantile(q) as f64 / 1e6)
            .collect()
    };
    report::Plot {
        name: "latency".into(),
        title: title.into(),
        kind: report::PlotKind::Line { x, log_x: true },
        x_label: "1 / (1 − percentile): 10 = p90, 100 = p99, 10k = p99.99".into(),
        y_label: "ms".into(),
        log_y: true,
        series: vec![
            report::Series {
                name: "from intended start".into(),
                values: ms(&out.rec.latency),
            },
            report::Series {
                name: "service time".into(),
                values: ms(&out.rec.service),
            },
        ],
    }
}
