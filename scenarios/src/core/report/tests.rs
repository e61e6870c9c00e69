use super::*;

mod conference;
use crate::core::stats::{LegCounts, Origin};
use crate::core::Outcome;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn meta(scenario: &str) -> Meta {
    Meta {
        scenario: scenario.into(),
        seed: 7,
        target: "127.0.0.1:5060".into(),
        started_unix: 1_700_000_000,
        duration: Duration::from_secs(3),
        stopped_early: false,
        runner_cpu_secs: 0.5,
        server: None,
    }
}

/// 3 s: 100 calls (90 ok at 1..90 ms, 6 busy-here failures, 4 timeouts), 50 registers ok at
/// 5 ms, 10 messages acked and 9 received, two RTP legs (one relayed, one direct).
fn recorder() -> Recorder {
    let mut r = Recorder::new(10);
    for i in 0..100u64 {
        let at = ms(i * 25);
        r.offered(Kind::Call, at);
        let outcome = match i {
            0..=89 => Outcome::Ok(200),
            90..=95 => Outcome::Failed(503),
            _ => Outcome::Timeout,
        };
        r.outcome(Kind::Call, at + ms(i + 1), ms(i + 1), outcome);
    }
    for i in 0..50u64 {
        r.offered(Kind::Register, ms(i * 50));
        r.outcome(Kind::Register, ms(i * 50 + 5), ms(5), Outcome::Ok(200));
    }
    for id in 0..10 {
        r.message_acked(id);
        if id != 4 {
            r.message_received(id);
        }
    }
    r.rtp(&leg(1000, 990, 20, Origin::Relayed));
    r.rtp(&leg(1000, 1000, 0, Origin::Direct));
    r
}

/// A leg that sent 1000 packets.
fn leg(expected: u64, received: u64, late: u64, origin: Origin) -> LegCounts {
    LegCounts {
        sent: 1000,
        expected,
        received,
        late,
        origin,
    }
}

fn one(r: &Recorder, t: Threshold) -> ThresholdResult {
    build(r, meta("t"), &[t]).thresholds.remove(0)
}

#[test]
fn json_has_the_documented_fields() {
    let report = build(&recorder(), meta("basic"), &[Threshold::SuccessRatio(0.5)]);
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for key in [
        "scenario",
        "seed",
        "target",
        "started_unix",
        "duration_secs",
        "stopped_early",
        "kinds",
        "timeline",
        "messages",
        "rtp",
        "server",
        "runner",
        "thresholds",
        "passed",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let call = &v["kinds"][1];
    assert_eq!(call["kind"], "call");
    for key in [
        "offered",
        "ok",
        "failed",
        "timeouts",
        "success_ratio",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "mean_ms",
    ] {
        assert!(call[key].is_number(), "kinds[].{key}");
    }
    assert_eq!(call["codes"]["503"], 6);
    let second = &v["timeline"][0];
    assert_eq!(second["second"], 0);
    assert_eq!(second["offered"]["call"], 40);
    assert!(second["achieved"]["register"].is_number());
    assert!(second["p99_ms"]["call"].is_number());
    for key in ["acked", "received", "lost", "duplicates"] {
        assert!(v["messages"][key].is_number(), "messages.{key}");
    }
    let quality = [
        "legs",
        "sent",
        "expected",
        "received",
        "lost_ratio",
        "late_ratio",
        "worst_leg_lost_ratio",
        "worst_leg_late_ratio",
    ];
    for key in quality {
        assert!(v["rtp"][key].is_number(), "rtp.{key}");
        for origin in ["relayed", "direct", "other", "silent"] {
            let o = &v["rtp"]["by_origin"][origin];
            assert!(o[key].is_number(), "rtp.by_origin.{origin}.{key}");
        }
    }
    assert_eq!(v["rtp"]["anchored_ratio"], 0.5);
    assert_eq!(v["rtp"]["by_origin"]["relayed"]["legs"], 1);
    for key in ["cpu_secs", "cpu_us_per_op"] {
        assert!(v["runner"][key].is_number(), "runner.{key}");
    }
    let t = &v["thresholds"][0];
    assert_eq!(t["name"], "success_ratio");
    assert!(t["limit"].is_number() && t["actual"].is_number() && t["passed"].is_boolean());
    assert!(v["server"].is_null());
}

#[test]
fn kinds_count_outcomes_and_latency_of_ok_answers() {
    let report = build(&recorder(), meta("k"), &[]);
    let names: Vec<_> = report.kinds.iter().map(|k| k.kind).collect();
    assert_eq!(names, ["register", "call"]);
    let call = &report.kinds[1];
    assert_eq!(
        (call.offered, call.ok, call.failed, call.timeouts),
        (100, 90, 6, 4)
    );
    assert!((call.success_ratio - 0.9).abs() < 1e-9);
    assert!(
        (call.max_ms - 90.0).abs() < 1e-9,
        "timeouts and failures are not latencies"
    );
    assert!((call.p50_ms - 45.0).abs() < 45.0 * 0.02);
    assert_eq!(report.messages.lost, 1);
    assert!((report.rtp.all.lost_ratio - 0.005).abs() < 1e-9);
    assert!((report.rtp.all.late_ratio - 20.0 / 1990.0).abs() < 1e-9);
    assert_eq!(report.rtp.all.sent, 2000);
    assert!((report.rtp.all.worst_leg_lost_ratio - 0.01).abs() < 1e-9);
    assert!((report.runner.cpu_us_per_op - 0.5e6 / 150.0).abs() < 1e-6);
    assert!(report.passed, "no thresholds: nothing failed");
}

#[test]
fn the_timeline_covers_the_run_not_the_planned_slots() {
    let report = build(&recorder(), meta("t"), &[]);
    assert_eq!(report.timeline.len(), 3, "10 planned, 3 s run");
    let offered: u64 = report.timeline.iter().map(|s| s.offered["call"]).sum();
    assert_eq!(offered, 100);
    let mut late = recorder();
    late.outcome(Kind::Call, ms(4_200), ms(1), Outcome::Timeout);
    assert_eq!(build(&late, meta("t"), &[]).timeline.len(), 5);
}

#[test]
fn success_ratio_passes_at_or_above_its_limit_and_fails_below() {
    let r = recorder(); // 140 of 150
    let pass = one(&r, Threshold::SuccessRatio(0.93));
    assert!(pass.passed && (pass.actual - 140.0 / 150.0).abs() < 1e-9);
    assert!(!one(&r, Threshold::SuccessRatio(0.95)).passed);
    let none = one(&Recorder::new(1), Threshold::SuccessRatio(0.5));
    assert!(!none.passed);
    assert_eq!(none.note.as_deref(), Some("no outcomes"));
}

#[test]
fn latency_passes_at_or_below_its_limit_and_fails_above() {
    let r = recorder();
    let t = |max| Threshold::Latency {
        kind: Kind::Call,
        percentile: 99.0,
        max,
    };
    let pass = one(&r, t(ms(100)));
    assert_eq!(pass.name, "call.p99_ms");
    assert!(pass.passed && pass.limit == 100.0 && pass.actual > 85.0);
    assert!(!one(&r, t(ms(50))).passed);
    let p95 = one(
        &r,
        Threshold::Latency {
            kind: Kind::Register,
            percentile: 99.9,
            max: ms(4),
        },
    );
    assert_eq!(p95.name, "register.p99.9_ms");
    assert!(!p95.passed);
}

#[test]
fn a_latency_threshold_on_a_kind_without_samples_passes_with_a_note() {
    let t = one(
        &recorder(),
        Threshold::Latency {
            kind: Kind::Publish,
            percentile: 50.0,
            max: ms(1),
        },
    );
    assert!(t.passed);
    assert_eq!(t.name, "publish.p50_ms");
    assert_eq!(t.note.as_deref(), Some("no samples"));
}

#[test]
fn lost_messages_pass_at_or_below_their_limit() {
    let r = recorder(); // one lost
    assert!(one(&r, Threshold::LostMessages(1)).passed);
    let fail = one(&r, Threshold::LostMessages(0));
    assert!(!fail.passed && fail.actual == 1.0 && fail.name == "lost_messages");
}

#[test]
fn rtp_loss_and_late_ratios_pass_at_or_below_their_limits() {
    let r = recorder(); // 0.5 % lost, ~1 % late
    assert!(one(&r, Threshold::RtpLossRatio(0.005)).passed);
    assert!(!one(&r, Threshold::RtpLossRatio(0.004)).passed);
    assert!(one(&r, Threshold::RtpLateRatio(0.02)).passed);
    let late = one(&r, Threshold::RtpLateRatio(0.01));
    assert!(!late.passed && late.name == "rtp_late_ratio");
    let none = one(&Recorder::new(1), Threshold::RtpLossRatio(0.0));
    assert!(none.passed && none.note.as_deref() == Some("no rtp"));
}

#[test]
fn the_relayed_legs_have_their_own_quality_and_make_the_anchored_ratio() {
    let mut r = Recorder::new(1);
    r.rtp(&leg(1000, 998, 1, Origin::Relayed));
    r.rtp(&leg(1000, 996, 0, Origin::Relayed));
    r.rtp(&leg(1000, 1000, 0, Origin::Direct));
    r.rtp(&leg(1000, 0, 0, Origin::Silent));
    let rtp = build(&r, meta("t"), &[]).rtp;
    assert!((rtp.anchored_ratio - 0.5).abs() < 1e-12);
    let relayed = rtp.by_origin.relayed;
    assert_eq!(
        (relayed.legs, relayed.expected, relayed.received),
        (2, 2000, 1994)
    );
    assert!((relayed.lost_ratio - 0.003).abs() < 1e-12);
    assert!((relayed.worst_leg_lost_ratio - 0.004).abs() < 1e-12);
    assert_eq!(rtp.by_origin.silent.lost_ratio, 1.0);
    assert_eq!(rtp.all.legs, 4);
}

#[test]
fn the_anchored_ratio_is_a_minimum_and_fails_without_rtp() {
    let r = recorder(); // one leg relayed of two
    let half = one(&r, Threshold::RtpAnchoredRatio(0.5));
    assert!(half.passed && half.is_minimum() && half.name == "rtp_anchored_ratio");
    assert!(!one(&r, Threshold::RtpAnchoredRatio(1.0)).passed);
    let none = one(&Recorder::new(1), Threshold::RtpAnchoredRatio(0.0));
    assert!(!none.passed && none.note.as_deref() == Some("no rtp"));
}

#[test]
fn one_failed_threshold_fails_the_run() {
    let report = build(
        &recorder(),
        meta("t"),
        &[Threshold::SuccessRatio(0.5), Threshold::LostMessages(0)],
    );
    assert!(!report.passed);
    assert!(report.thresholds[0].passed);
}

#[test]
fn html_is_one_self_contained_page_with_svg_charts_and_escaped_names() {
    let mut m = meta("<calls & \"friends\">");
    m.server = Some((
        4242,
        vec![
            ServerSample {
                at: ms(0),
                cpu_ticks: 100,
                rss_kib: 50_000,
            },
            ServerSample {
                at: ms(1000),
                cpu_ticks: 150,
                rss_kib: 60_000,
            },
        ],
        100,
    ));
    let report = build(&recorder(), m, &[Threshold::LostMessages(0)]);
    let html = report.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<html").count(), 1);
    assert!(
        html.matches("<svg").count() >= 3,
        "rate, latency, failure codes"
    );
    assert!(html.contains("<polyline"));
    assert!(html.contains("&lt;calls &amp; &quot;friends&quot;&gt;"));
    assert!(!html.contains("<calls"));
    let lower = html.to_lowercase();
    for banned in [
        "<script", "http:", "https:", "<img", "<link", "@import", "url(",
    ] {
        assert!(!lower.contains(banned), "contains {banned}");
    }
    assert!(
        html.contains("class=\"fail\""),
        "the failed threshold is coloured"
    );
    assert!(html.contains("call 503") && html.contains("call timeout"));
    assert!(html.contains("<h2>Media</h2>") && html.contains("<td>relayed</td><td>1</td>"));
    assert!(html.contains("media anchored on 50.0 % of legs"));
}

#[test]
fn summary_table_lists_every_kind_with_samples_and_each_threshold() {
    let mut r = recorder();
    r.outcome(Kind::Notify, ms(10), ms(3), Outcome::Ok(200)); // received, never offered
    let report = build(
        &r,
        meta("t"),
        &[
            Threshold::SuccessRatio(0.99),
            Threshold::LostMessages(5),
            Threshold::RtpAnchoredRatio(1.0),
        ],
    );
    let table = report.summary_table();
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("kind"));
    for kind in ["register", "call", "notify"] {
        assert!(
            rows.iter().any(|l| l.starts_with(kind)),
            "{kind} missing:\n{table}"
        );
    }
    assert!(
        !table.contains("publish"),
        "kinds without samples are left out"
    );
    assert!(table.contains("FAIL success_ratio"));
    assert!(table.contains("PASS lost_messages 1 <= 5"));
    assert!(
        table.contains("FAIL rtp_anchored_ratio 0.5 >= 1"),
        "{table}"
    );
    assert!(
        table.contains("media anchored: 50.0 % of legs (1 relayed, 1 direct, 0 other, 0 silent)"),
        "{table}"
    );
    assert!(table.contains("rtp: 2 legs, 2000 packets sent"), "{table}");
    assert!(table.trim_end().ends_with("FAILED"));
}

#[test]
fn server_figures_come_from_the_first_and_last_samples() {
    let mut m = meta("t");
    let sample = |s, cpu_ticks, rss_kib| ServerSample {
        at: Duration::from_secs(s),
        cpu_ticks,
        rss_kib,
    };
    m.server = Some((
        9,
        vec![
            sample(0, 1000, 100),
            sample(1, 1100, 300),
            sample(2, 1300, 200),
        ],
        100,
    ));
    let server = build(&recorder(), m, &[]).server.unwrap();
    assert_eq!(server.pid, 9);
    assert!((server.cpu_secs - 3.0).abs() < 1e-9);
    assert!((server.cpu_us_per_op - 3e6 / 150.0).abs() < 1e-6);
    assert_eq!(
        (server.rss_max_kib, server.rss_mean_kib, server.samples),
        (300, 200, 3)
    );
    let cores: Vec<f64> = server.series.iter().map(|p| p.cpu_cores).collect();
    assert_eq!(cores, [1.0, 2.0]);
}

#[test]
fn proc_stat_fields_are_counted_after_the_last_parenthesis() {
    let text = "4242 ((switch board) (x)) S 1 4242 4242 0 -1 4194560 1523 0 0 0 \
                731 269 0 0 20 0 9 0 123456 987654321 2500 18446744073709551615 1 1 0 0 0 0 \
                0 4096 17475 0 0 0 17 1 0 0 0 0 0\n";
    assert_eq!(parse_proc_stat(text), Some(1000));
    let plain = "17 (switchboard) R 1 17 17 0 -1 4194304 10 0 0 0 5 7 0 0 20 0 1 0 99 1 1";
    assert_eq!(parse_proc_stat(plain), Some(12));
    assert_eq!(parse_proc_stat("17 (switchboard) R 1 2"), None);
    assert_eq!(parse_proc_stat(""), None);
}

#[test]
fn proc_status_gives_vmrss_in_kib() {
    let text = "Name:\tswitchboard\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  812344 kB\n\
                VmSize:\t  812340 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   58212 kB\nThreads:\t9\n";
    assert_eq!(parse_proc_status_rss(text), Some(58_212));
    assert_eq!(
        parse_proc_status_rss("Name:\tkworker/0:1\nState:\tI (idle)\n"),
        None
    );
}
