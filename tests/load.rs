//! The load generator (`switchboard load`) end to end: `scenarios/smoke.toml` against a
//! switch started here (authentication on), an impossible threshold, a bad file, and the
//! server's CPU sampled from its pid.

mod common;

use std::path::{Path, PathBuf};

use common::{cli, Switch, TempDir};

/// The switch with the smoke population's accounts (users 100000..100019, `pw-<n>`).
fn switch() -> Switch {
    let sw = Switch::start();
    for i in 0..20 {
        let n = 100_000 + i;
        sw.add_account(&n.to_string(), &format!("pw-{n}"));
    }
    sw
}

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml")
}

fn run(scenario: &Path, sw: &Switch, extra: &[&str], report: &Path) -> (i32, String, String) {
    let target = sw.sip.to_string();
    let mut args = vec![
        "load",
        scenario.to_str().unwrap(),
        "--target",
        &target,
        "--report",
        report.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    cli(&args, None)
}

fn kind<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

#[test]
fn the_smoke_scenario_holds_every_threshold_and_reports_sane_numbers() {
    let sw = switch();
    let dir = TempDir::new("load-smoke");
    let report = dir.0.join("smoke.json");
    let (code, out, err) = run(&smoke(), &sw, &[], &report);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for field in [
        "scenario",
        "seed",
        "target",
        "duration_secs",
        "kinds",
        "timeline",
        "messages",
        "rtp",
        "runner",
        "thresholds",
        "passed",
    ] {
        assert!(!r[field].is_null(), "{field} missing");
    }
    assert_eq!(r["scenario"], "smoke");
    assert_eq!(r["passed"], true);
    let secs = r["duration_secs"].as_f64().unwrap();
    assert!((4.0..6.0).contains(&secs), "{secs}");
    // every behaviour ran and got its answers
    for name in [
        "register",
        "call",
        "message",
        "subscribe",
        "publish",
        "room_post",
    ] {
        let k = kind(&r, name);
        assert!(k["ok"].as_u64().unwrap() >= 1, "{name}: {k}");
        assert!(k["p99_ms"].as_f64().unwrap() < 1000.0, "{name}: {k}");
    }
    // nothing acknowledged was lost, and a call carried audio both ways
    let m = &r["messages"];
    assert!(m["acked"].as_u64().unwrap() >= 1);
    assert_eq!(m["acked"], m["received"], "{m}");
    assert_eq!(m["lost"], 0);
    let rtp = &r["rtp"];
    assert!(rtp["legs"].as_u64().unwrap() >= 2, "{rtp}");
    assert!(rtp["expected"].as_u64().unwrap() >= 80, "{rtp}");
    assert!(rtp["lost_ratio"].as_f64().unwrap() <= 0.01, "{rtp}");
    assert!(r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["passed"] == true));
    assert!(r["timeline"].as_array().unwrap().len() >= 4);
    let html = std::fs::read_to_string(report.with_extension("html")).unwrap();
    assert!(html.contains("<svg") && html.contains("smoke"));
}

#[test]
fn an_impossible_threshold_fails_the_run_with_exit_code_one() {
    let sw = switch();
    let dir = TempDir::new("load-impossible");
    let text = std::fs::read_to_string(smoke()).unwrap().replace(
        "register = { p99_ms = 1000 }",
        "register = { p99_ms = 0.001 }",
    );
    let file = dir.0.join("impossible.toml");
    std::fs::write(&file, text).unwrap();
    let report = dir.0.join("r.json");
    let (code, out, err) = run(&file, &sw, &[], &report);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL register.p99_ms"), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["passed"], false);
}

#[test]
fn a_bad_scenario_is_refused_before_anything_is_sent_with_its_line_and_field() {
    let sw = switch();
    let dir = TempDir::new("load-bad");
    let text = std::fs::read_to_string(smoke())
        .unwrap()
        .replace("answer = 0.5", "answer = 0.5\nanswr = 1");
    let file = dir.0.join("bad.toml");
    std::fs::write(&file, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("answr")).unwrap() + 1;
    let (code, _, err) = run(&file, &sw, &[], &dir.0.join("r.json"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(err.contains("answr"), "{err}");
    assert!(
        !dir.0.join("r.json").exists(),
        "no report for a run that never started"
    );
    assert_eq!(
        sw.metric("switchboard_sip_requests_received_total{method=\"REGISTER\"}"),
        0.0,
        "nothing was sent"
    );
}

#[test]
fn the_servers_cpu_and_memory_are_sampled_from_its_pid() {
    let sw = switch();
    let dir = TempDir::new("load-pid");
    let report = dir.0.join("r.json");
    let pid = sw.child.as_ref().unwrap().id().to_string();
    let (code, out, err) = run(&smoke(), &sw, &["--server-pid", &pid], &report);
    assert_eq!(code, 0, "{out}\n{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let s = &r["server"];
    assert_eq!(s["pid"].as_u64().unwrap().to_string(), pid);
    assert!(s["samples"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["rss_max_kib"].as_u64().unwrap() > 1000, "{s}");
    assert!(s["cpu_us_per_op"].as_f64().unwrap() > 0.0, "{s}");
    assert!(r["runner"]["cpu_us_per_op"].as_f64().unwrap() > 0.0);
}
