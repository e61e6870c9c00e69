//! The report of a load run: built from the merged [`Recorder`] and what the runner measured
//! around it (its own CPU time, samples of the server's `/proc/PID`), checked against the
//! scenario's thresholds, and written as JSON, as a self-contained HTML page and as a
//! plain-text table for the terminal.
//!
//! Sans-IO: the runner reads the clock and `/proc` and passes the values in; the pure
//! parsers [`parse_proc_stat`] and [`parse_proc_status_rss`] turn `/proc` text into numbers.
//!
//! Thresholds: `success_ratio` and `rtp_anchored_ratio` pass when the actual ratio is at or
//! above their limit, every other threshold when the actual value is at or below it. A
//! latency threshold on a kind with no samples passes vacuously, with the note `no samples`;
//! an RTP loss or late ratio with no packets expected passes with the note `no rtp`; a
//! success ratio with no outcome at all, and an anchored ratio with no RTP leg, fail, with the
//! note `no outcomes` or `no rtp` (a run that did nothing has not shown anything).
//! `passed` is the conjunction of the thresholds; a run stopped early (Ctrl-C) is marked but
//! judged on what it did.
//!
//! The HTML page draws its charts as inline SVG written here by hand (axes, ticks, polylines,
//! bars, legends: about 200 lines in `report/svg.rs`) rather than with a plotting crate:
//! the page must stay self-contained with no scripts or fonts, the charts are simple line and
//! bar charts, and the load generator keeps a small dependency tree and build time.

mod conference;
mod html;
mod rtp;
mod svg;

pub use conference::{ConferenceReport, ConferenceThreshold, DelayReport, RoomReport};
pub use rtp::{RtpOrigins, RtpQuality, RtpReport};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::stats::{Counts, Recorder};
use super::Kind;

/// The report of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name (its file stem).
    pub scenario: String,
    /// Seed of the schedule.
    pub seed: u64,
    /// The server under load (`host:port`).
    pub target: String,
    /// Start of the run, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Length of the run as it happened.
    pub duration_secs: f64,
    /// The run was interrupted (Ctrl-C) before its planned end.
    pub stopped_early: bool,
    /// Per request kind that has samples, in [`Kind::ALL`] order.
    pub kinds: Vec<KindReport>,
    /// One entry per second of the run.
    pub timeline: Vec<SecondReport>,
    /// MESSAGE delivery.
    pub messages: MessageReport,
    /// RTP of the call legs, and where it came from.
    pub rtp: RtpReport,
    /// Conference participants, when the run had some.
    pub conferences: Option<ConferenceReport>,
    /// The server's CPU and memory, when the runner was given its pid.
    pub server: Option<ServerReport>,
    /// The load generator's own CPU use.
    pub runner: RunnerReport,
    /// Every threshold checked.
    pub thresholds: Vec<ThresholdResult>,
    /// All thresholds passed.
    pub passed: bool,
}

/// Counters and latencies of one request kind over the run.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    /// [`Kind::name`].
    pub kind: &'static str,
    pub offered: u64,
    pub ok: u64,
    pub failed: u64,
    pub timeouts: u64,
    /// `ok / (ok + failed + timeouts)`; 1 when nothing has an outcome.
    pub success_ratio: f64,
    /// Latency percentiles of the `Ok` answers, in milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Failures by status code (0: outside 100..=699).
    pub codes: BTreeMap<u16, u64>,
}

/// One second of the run; kinds without activity in it are left out of its maps.
#[derive(Debug, Clone, Serialize)]
pub struct SecondReport {
    /// Seconds since the start.
    pub second: u32,
    /// Requests sent in this second, by kind name.
    pub offered: BTreeMap<&'static str, u64>,
    /// `Ok` answers that arrived in this second.
    pub achieved: BTreeMap<&'static str, u64>,
    /// Failures and timeouts that came in this second.
    pub failed: BTreeMap<&'static str, u64>,
    /// Latency of this second's `Ok` answers (~6 % precision).
    pub p50_ms: BTreeMap<&'static str, f64>,
    pub p99_ms: BTreeMap<&'static str, f64>,
}

/// MESSAGE delivery: acknowledged by the server vs received by a recipient.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MessageReport {
    pub acked: u64,
    pub received: u64,
    /// Acknowledged but never received.
    pub lost: u64,
    pub duplicates: u64,
}

/// The server's resource use, from samples of `/proc/PID/stat` and `/proc/PID/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub pid: u32,
    /// CPU time (user + system) between the first and the last sample.
    pub cpu_secs: f64,
    /// `cpu_secs` per request with an outcome, in microseconds.
    pub cpu_us_per_op: f64,
    pub rss_max_kib: u64,
    pub rss_mean_kib: u64,
    /// Number of samples.
    pub samples: usize,
    /// CPU and memory between consecutive samples, for the chart.
    pub series: Vec<ServerPoint>,
}

/// The server between two samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerPoint {
    /// Seconds since the start (of the later sample).
    pub second: f64,
    /// CPU in cores (1.5 = one and a half cores busy).
    pub cpu_cores: f64,
    pub rss_kib: u64,
}

/// The load generator's own resource use.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RunnerReport {
    pub cpu_secs: f64,
    /// Per request with an outcome, in microseconds.
    pub cpu_us_per_op: f64,
}

/// One threshold, checked.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    /// `success_ratio`, `<kind>.p<percentile>_ms` (`call.p99_ms`), `lost_messages`,
    /// `rtp_loss_ratio`, `rtp_late_ratio`, `rtp_anchored_ratio`.
    pub name: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
    /// Why a threshold passed or failed without data (`no samples`, `no outcomes`, `no rtp`).
    pub note: Option<String>,
}

/// One sample of the server process, taken by the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSample {
    /// When it was taken, from the run's start.
    pub at: Duration,
    /// utime + stime from `/proc/PID/stat` ([`parse_proc_stat`]), in clock ticks.
    pub cpu_ticks: u64,
    /// VmRSS from `/proc/PID/status` ([`parse_proc_status_rss`]).
    pub rss_kib: u64,
}

/// What the report needs besides the recorder.
#[derive(Debug, Clone)]
pub struct Meta {
    pub scenario: String,
    pub seed: u64,
    pub target: String,
    pub started_unix: u64,
    /// Length of the run as it happened.
    pub duration: Duration,
    /// Interrupted before its planned end.
    pub stopped_early: bool,
    /// The runner's CPU time (user + system) over the run.
    pub runner_cpu_secs: f64,
    /// From `--server-pid`: the pid, its samples in time order, and the clock tick rate
    /// (`sysconf(_SC_CLK_TCK)`).
    pub server: Option<(u32, Vec<ServerSample>, u64)>,
}

/// A threshold to check (the runner converts the scenario's thresholds into these).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Overall success ratio at least this.
    SuccessRatio(f64),
    /// The `percentile` (50, 95, 99, ...) latency of `kind` at most `max`.
    Latency {
        kind: Kind,
        percentile: f64,
        max: Duration,
    },
    /// At most this many acknowledged messages never received.
    LostMessages(u64),
    /// RTP loss ratio at most this.
    RtpLossRatio(f64),
    /// RTP late ratio at most this.
    RtpLateRatio(f64),
    /// Share of RTP legs whose packets all came from the switch's relay at least this.
    RtpAnchoredRatio(f64),
    /// A limit on what conference participants counted.
    Conference(ConferenceThreshold),
}

impl ThresholdResult {
    /// Whether the limit is a minimum (`>=`) rather than a maximum.
    pub fn is_minimum(&self) -> bool {
        matches!(
            self.name.as_str(),
            "success_ratio"
                | "rtp_anchored_ratio"
                | "conference_join_ratio"
                | "conference_heard_ratio"
        )
    }
}

/// Builds the report of a run and checks `thresholds`.
pub fn build(recorder: &Recorder, meta: Meta, thresholds: &[Threshold]) -> Report {
    let total = recorder.total();
    let ops = total.outcomes().max(1) as f64;
    let kinds = Kind::ALL
        .into_iter()
        .filter(|&k| {
            let c = recorder.counts(k);
            c.offered + c.outcomes() > 0
        })
        .map(|k| kind_report(recorder, k))
        .collect();
    let messages = recorder.messages();
    let thresholds: Vec<_> = thresholds
        .iter()
        .map(|t| check(recorder, &total, t))
        .collect();
    let server = meta
        .server
        .map(|(pid, samples, tps)| server_report(pid, samples, tps, ops));
    Report {
        scenario: meta.scenario,
        seed: meta.seed,
        target: meta.target,
        started_unix: meta.started_unix,
        duration_secs: meta.duration.as_secs_f64(),
        stopped_early: meta.stopped_early,
        kinds,
        timeline: timeline(recorder, meta.duration),
        messages: MessageReport {
            acked: messages.acked,
            received: messages.received,
            lost: messages.lost,
            duplicates: messages.duplicates,
        },
        rtp: RtpReport::new(recorder),
        conferences: ConferenceReport::new(recorder, server.as_ref().map(|s| s.cpu_secs)),
        server,
        runner: RunnerReport {
            cpu_secs: meta.runner_cpu_secs,
            cpu_us_per_op: meta.runner_cpu_secs * 1e6 / ops,
        },
        passed: thresholds.iter().all(|t| t.passed),
        thresholds,
    }
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // holds: every map key is a string or an integer, and non-finite floats become null
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// A self-contained HTML page: summary, thresholds (pass/fail coloured), charts of offered
    /// vs achieved rate, latency p50/p99 over time, failure codes, and the server's CPU and
    /// memory when sampled. No scripts, fonts, images or links to anywhere.
    pub fn to_html(&self) -> String {
        html::page(self)
    }

    /// A plain-text table for the terminal: one row per kind with samples, then messages,
    /// RTP (with the share of legs anchored), and each threshold with PASS/FAIL.
    pub fn summary_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "kind", "offered", "ok", "failed", "timeout", "success%", "p50 ms", "p95 ms", "p99 ms"
        );
        for k in &self.kinds {
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>9} {:>7} {:>8} {:>9.2} {:>9.1} {:>9.1} {:>9.1}",
                k.kind,
                k.offered,
                k.ok,
                k.failed,
                k.timeouts,
                k.success_ratio * 100.0,
                k.p50_ms,
                k.p95_ms,
                k.p99_ms
            );
        }
        let m = &self.messages;
        if m.acked + m.received > 0 {
            let _ = writeln!(
                out,
                "messages: {} acked, {} received, {} lost, {} duplicates",
                m.acked, m.received, m.lost, m.duplicates
            );
        }
        self.rtp.write_summary(&mut out);
        if let Some(c) = &self.conferences {
            c.write_summary(&mut out);
        }
        for t in &self.thresholds {
            let verdict = if t.passed { "PASS" } else { "FAIL" };
            let op = if t.is_minimum() { ">=" } else { "<=" };
            let note = t
                .note
                .as_deref()
                .map_or(String::new(), |n| format!(" ({n})"));
            let _ = writeln!(
                out,
                "{verdict} {} {} {op} {}{note}",
                t.name,
                num(t.actual),
                num(t.limit)
            );
        }
        let _ = writeln!(out, "{}", if self.passed { "PASSED" } else { "FAILED" });
        out
    }
}

/// utime + stime (fields 14 and 15, in clock ticks) from the text of `/proc/PID/stat`. The
/// command name (field 2) is in parentheses and may itself hold spaces and parentheses, so
/// the fields are counted from the last `)`.
pub fn parse_proc_stat(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    // `after` starts with field 3 (state): utime is the 12th field from there, stime the 13th
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS in KiB from the text of `/proc/PID/status` (absent for a zombie or kernel thread).
pub fn parse_proc_status_rss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kib = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(kib),
        Some(_) => None,
    }
}

fn kind_report(recorder: &Recorder, k: Kind) -> KindReport {
    let c = recorder.counts(k);
    let h = recorder.latency(k);
    KindReport {
        kind: k.name(),
        offered: c.offered,
        ok: c.ok,
        failed: c.failed,
        timeouts: c.timeouts,
        success_ratio: c.success_ratio(),
        p50_ms: ms(h.percentile(50.0)),
        p95_ms: ms(h.percentile(95.0)),
        p99_ms: ms(h.percentile(99.0)),
        max_ms: ms(h.max()),
        mean_ms: ms(h.mean()),
        codes: recorder.failure_codes(k).collect(),
    }
}

fn timeline(recorder: &Recorder, duration: Duration) -> Vec<SecondReport> {
    let busy = |s: usize| {
        Kind::ALL
            .into_iter()
            .any(|k| recorder.second(s, k) != Counts::default())
    };
    let last_busy = (0..recorder.seconds()).rev().find(|&s| busy(s));
    let len = (duration.as_secs_f64().ceil() as usize).max(last_busy.map_or(0, |s| s + 1));
    (0..len)
        .map(|s| {
            let mut second = SecondReport {
                second: s as u32,
                offered: BTreeMap::new(),
                achieved: BTreeMap::new(),
                failed: BTreeMap::new(),
                p50_ms: BTreeMap::new(),
                p99_ms: BTreeMap::new(),
            };
            for k in Kind::ALL {
                let c = recorder.second(s, k);
                let name = k.name();
                for (map, n) in [
                    (&mut second.offered, c.offered),
                    (&mut second.achieved, c.ok),
                    (&mut second.failed, c.failed + c.timeouts),
                ] {
                    if n > 0 {
                        map.insert(name, n);
                    }
                }
                if let Some(h) = recorder.second_latency(s, k) {
                    second.p50_ms.insert(name, ms(h.percentile(50.0)));
                    second.p99_ms.insert(name, ms(h.percentile(99.0)));
                }
            }
            second
        })
        .collect()
}

fn check(recorder: &Recorder, total: &Counts, t: &Threshold) -> ThresholdResult {
    let result =
        |name: String, limit: f64, actual: f64, passed: bool, note: Option<&str>| ThresholdResult {
            name,
            limit,
            actual,
            passed,
            note: note.map(str::to_owned),
        };
    let rtp = recorder.rtp_totals();
    match *t {
        Threshold::SuccessRatio(limit) => {
            let none = total.outcomes() == 0;
            let actual = if none { 0.0 } else { total.success_ratio() };
            let note = none.then_some("no outcomes");
            result(
                "success_ratio".into(),
                limit,
                actual,
                !none && actual >= limit,
                note,
            )
        }
        Threshold::Latency {
            kind,
            percentile,
            max,
        } => {
            let h = recorder.latency(kind);
            let name = format!("{}.p{}_ms", kind.name(), num(percentile));
            let actual = ms(h.percentile(percentile));
            let empty = h.count() == 0;
            let passed = empty || actual <= ms(max);
            result(name, ms(max), actual, passed, empty.then_some("no samples"))
        }
        Threshold::LostMessages(limit) => {
            let lost = recorder.messages().lost;
            result(
                "lost_messages".into(),
                limit as f64,
                lost as f64,
                lost <= limit,
                None,
            )
        }
        Threshold::RtpLossRatio(limit) => {
            let actual = ratio(rtp.lost(), rtp.expected);
            let note = (rtp.expected == 0).then_some("no rtp");
            result(
                "rtp_loss_ratio".into(),
                limit,
                actual,
                actual <= limit,
                note,
            )
        }
        Threshold::RtpLateRatio(limit) => {
            let actual = ratio(rtp.late, rtp.received);
            let note = (rtp.received == 0).then_some("no rtp");
            result(
                "rtp_late_ratio".into(),
                limit,
                actual,
                actual <= limit,
                note,
            )
        }
        Threshold::Conference(c) => conference::check(recorder, &c),
        Threshold::RtpAnchoredRatio(limit) => {
            let none = rtp.legs == 0;
            let actual = rtp::anchored_ratio(recorder);
            result(
                "rtp_anchored_ratio".into(),
                limit,
                actual,
                !none && actual >= limit,
                none.then_some("no rtp"),
            )
        }
    }
}

fn server_report(pid: u32, mut samples: Vec<ServerSample>, tps: u64, ops: f64) -> ServerReport {
    samples.sort_by_key(|s| s.at);
    let tps = tps.max(1) as f64;
    let ticks = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.cpu_ticks.saturating_sub(a.cpu_ticks),
        _ => 0,
    };
    let cpu_secs = ticks as f64 / tps;
    let series = samples
        .windows(2)
        .filter(|w| w[1].at > w[0].at)
        .map(|w| ServerPoint {
            second: w[1].at.as_secs_f64(),
            cpu_cores: w[1].cpu_ticks.saturating_sub(w[0].cpu_ticks) as f64
                / tps
                / (w[1].at - w[0].at).as_secs_f64(),
            rss_kib: w[1].rss_kib,
        })
        .collect();
    let rss_sum: u64 = samples.iter().map(|s| s.rss_kib).sum();
    ServerReport {
        pid,
        cpu_secs,
        cpu_us_per_op: cpu_secs * 1e6 / ops,
        rss_max_kib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        rss_mean_kib: rss_sum / (samples.len().max(1) as u64),
        samples: samples.len(),
        series,
    }
}

/// Milliseconds, as reported.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A number without needless decimals: `99`, `99.9`, `0.001`.
fn num(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests;
