//! The report as one self-contained HTML page: inline style, inline SVG charts, no scripts,
//! fonts, images or links.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::{bar_chart, line_chart, Series};
use super::{num, Report, SecondReport};
use crate::core::Kind;

/// One colour per kind, in [`Kind::ALL`] order.
const PALETTE: [&str; 9] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#bcbd22",
];

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222}\
table{border-collapse:collapse;margin:8px 0 20px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}\
th{background:#f2f2f2}.pass{background:#d7f5d7}.fail{background:#f8d0d0}\
.verdict{font-weight:bold;padding:2px 8px}svg{display:block;margin:8px 0 20px}";

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub fn page(r: &Report) -> String {
    let mut s = String::new();
    let scenario = escape(&r.scenario);
    let (class, verdict) = if r.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Switchboard load: {scenario}</title><style>{STYLE}</style></head><body>\
         <h1>Load run: {scenario} <span class=\"verdict {class}\">{verdict}</span></h1>\
         <p>target {} · seed {} · started {} (Unix) · {:.1} s{}</p>",
        escape(&r.target),
        r.seed,
        r.started_unix,
        r.duration_secs,
        if r.stopped_early {
            " · <b>stopped early</b>"
        } else {
            ""
        }
    );
    summary(&mut s, r);
    thresholds(&mut s, r);
    charts(&mut s, r);
    s.push_str("</body></html>\n");
    s
}

fn summary(s: &mut String, r: &Report) {
    s.push_str(
        "<h2>Requests</h2><table><tr><th>kind</th><th>offered</th><th>ok</th><th>failed</th>\
         <th>timeouts</th><th>success %</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>\
         <th>max ms</th><th>mean ms</th></tr>",
    );
    for k in &r.kinds {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
             <td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            k.kind,
            k.offered,
            k.ok,
            k.failed,
            k.timeouts,
            k.success_ratio * 100.0,
            k.p50_ms,
            k.p95_ms,
            k.p99_ms,
            k.max_ms,
            k.mean_ms
        );
    }
    s.push_str("</table><h2>Delivery and resources</h2><table>");
    let m = &r.messages;
    let _ = write!(
        s,
        "<tr><td>messages</td><td>{} acked, {} received, {} lost, {} duplicates</td></tr>",
        m.acked, m.received, m.lost, m.duplicates
    );
    let p = &r.rtp.all;
    let _ = write!(
        s,
        "<tr><td>rtp</td><td>{} legs, {} packets sent, {} expected, {} received, {:.3} % lost, \
         {:.3} % late; media anchored on {:.1} % of legs</td></tr>",
        p.legs,
        p.sent,
        p.expected,
        p.received,
        p.lost_ratio * 100.0,
        p.late_ratio * 100.0,
        r.rtp.anchored_ratio * 100.0
    );
    let _ = write!(
        s,
        "<tr><td>runner</td><td>{:.2} s CPU, {:.1} µs per request</td></tr>",
        r.runner.cpu_secs, r.runner.cpu_us_per_op
    );
    if let Some(v) = &r.server {
        let _ = write!(
            s,
            "<tr><td>server (pid {})</td><td>{:.2} s CPU, {:.1} µs per request, RSS max {} KiB, \
             mean {} KiB ({} samples)</td></tr>",
            v.pid, v.cpu_secs, v.cpu_us_per_op, v.rss_max_kib, v.rss_mean_kib, v.samples
        );
    }
    s.push_str("</table>");
    media(s, r);
    if let Some(c) = &r.conferences {
        c.write_html(s);
    }
}

/// RTP by where it came from: the switch's relay, the other phone, elsewhere, nowhere.
fn media(s: &mut String, r: &Report) {
    if r.rtp.all.legs == 0 {
        return;
    }
    s.push_str(
        "<h2>Media</h2><table><tr><th>origin</th><th>legs</th><th>sent</th><th>expected</th>\
         <th>received</th><th>lost %</th><th>late %</th><th>worst leg lost %</th>\
         <th>worst leg late %</th></tr>",
    );
    for (name, q) in r.rtp.rows() {
        let _ = write!(
            s,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            q.legs,
            q.sent,
            q.expected,
            q.received,
            q.lost_ratio * 100.0,
            q.late_ratio * 100.0,
            q.worst_leg_lost_ratio * 100.0,
            q.worst_leg_late_ratio * 100.0
        );
    }
    s.push_str("</table>");
}

fn thresholds(s: &mut String, r: &Report) {
    s.push_str("<h2>Thresholds</h2>");
    if r.thresholds.is_empty() {
        s.push_str("<p>none</p>");
        return;
    }
    s.push_str("<table><tr><th>threshold</th><th>limit</th><th>actual</th><th>result</th></tr>");
    for t in &r.thresholds {
        let (class, verdict) = if t.passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let note = t
            .note
            .as_deref()
            .map_or(String::new(), |n| format!(" ({})", escape(n)));
        let op = if t.is_minimum() { "≥" } else { "≤" };
        let _ = write!(
            s,
            "<tr class=\"{class}\"><td>{}</td><td>{op} {}</td><td>{}</td><td>{verdict}{note}</td></tr>",
            escape(&t.name),
            num(t.limit),
            num(t.actual)
        );
    }
    s.push_str("</table>");
}

fn color(kind: &str) -> &'static str {
    Kind::from_name(kind).map_or("#555", |k| PALETTE[k as usize % PALETTE.len()])
}

fn charts(s: &mut String, r: &Report) {
    s.push_str("<h2>Charts</h2>");
    let mut rate = Vec::new();
    let mut latency = Vec::new();
    for k in &r.kinds {
        let name = k.kind;
        let count = |pick: fn(&SecondReport) -> &BTreeMap<&'static str, u64>| {
            r.timeline
                .iter()
                .map(|sec| {
                    let n = pick(sec).get(name).copied().unwrap_or(0);
                    (f64::from(sec.second), n as f64)
                })
                .collect::<Vec<_>>()
        };
        let offered = count(|sec| &sec.offered);
        let achieved = count(|sec| &sec.achieved);
        rate.push(series(format!("{name} offered"), name, true, offered));
        rate.push(series(format!("{name} achieved"), name, false, achieved));
        // seconds without answers of this kind have no latency: the line bridges them
        let pick = |m: fn(&SecondReport) -> &BTreeMap<&'static str, f64>| {
            r.timeline
                .iter()
                .filter_map(|sec| m(sec).get(name).map(|&v| (f64::from(sec.second), v)))
                .collect::<Vec<_>>()
        };
        latency.push(series(
            format!("{name} p50"),
            name,
            true,
            pick(|s| &s.p50_ms),
        ));
        latency.push(series(
            format!("{name} p99"),
            name,
            false,
            pick(|s| &s.p99_ms),
        ));
    }
    s.push_str(&line_chart(
        "Offered (dashed) vs achieved (solid) rate",
        "seconds",
        "requests/s",
        &rate,
    ));
    s.push_str(&line_chart(
        "Latency p50 (dashed) and p99 (solid)",
        "seconds",
        "ms",
        &latency,
    ));
    let mut bars = Vec::new();
    for k in &r.kinds {
        for (code, n) in &k.codes {
            bars.push((format!("{} {code}", k.kind), *n, color(k.kind)));
        }
        if k.timeouts > 0 {
            bars.push((format!("{} timeout", k.kind), k.timeouts, color(k.kind)));
        }
    }
    s.push_str(&bar_chart("Failures by status code", &bars));
    if let Some(v) = r.server.as_ref().filter(|v| !v.series.is_empty()) {
        let cpu = v.series.iter().map(|p| (p.second, p.cpu_cores)).collect();
        let rss = v
            .series
            .iter()
            .map(|p| (p.second, p.rss_kib as f64 / 1024.0))
            .collect();
        s.push_str(&line_chart(
            "Server CPU",
            "seconds",
            "cores",
            &[series("cpu".into(), "", false, cpu)],
        ));
        s.push_str(&line_chart(
            "Server resident memory",
            "seconds",
            "MiB",
            &[series("rss".into(), "", false, rss)],
        ));
    }
}

fn series(label: String, kind: &str, dashed: bool, points: Vec<(f64, f64)>) -> Series {
    Series {
        label,
        color: color(kind),
        dashed,
        points,
    }
}
