//! Reload under load: while SIPp drives 200 calls/s through the switch, the routing plugin is
//! reloaded 20 times (two valid versions alternating with a broken one). No call may fail,
//! and every call must have been routed by one of the versions the reloads accepted. In a test
//! binary of its own, so nothing else competes for the two cores while it runs.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::sipp;
use common::{fresh_ip, http, Options, Switch, TempDir};

const CALLER: (&str, &str) = ("sippuac", "sippuac-pw");

fn version(tag: &str) -> String {
    format!(
        "-- version {tag}\nfunction route(req)\n  if req.dest.number == \"1099\" then return reject(480, \"Version {tag}\") end\nend\n\
         tests = {{ {{ dialed = \"1099\", expect = reject(480, \"Version {tag}\") }}, {{ dialed = \"sippuas\", expect = pass() }} }}\n"
    )
}

const BROKEN: &str = "function route(req) return deliver( end\n";

#[test]
fn plugins_reload_20_times_under_200_calls_per_second_without_a_failed_call() {
    let plugins = TempDir::new("sipp-reload-plugins");
    let file = plugins.0.join("route.lua");
    std::fs::write(&file, version("A")).unwrap();
    let dir = plugins.0.display().to_string();
    let sw = Switch::with(Options {
        // SIPp 3.6 answers only the first challenge, so MD5 alone
        config: "[auth]\nalgorithms = [\"MD5\"]\n[plugins]\nwatch = false\n".into(),
        args: vec!["--plugins".into(), dir],
        ..Default::default()
    });
    sw.add_account(CALLER.0, CALLER.1);
    sw.add_account("sippuas", "sippuas-pw");
    let work = TempDir::new("sipp-reload");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    let _uas = sipp::uas(&work.0, "uas_call.xml", uas_ip, 5070, "udp", &[]);
    sipp::register(
        &work.0,
        &target,
        "sippuas",
        "sippuas-pw",
        uas_ip,
        5070,
        "udp",
    );

    let (calls, rate) = (2400, 200);
    let caller = {
        let work = work.0.clone();
        std::thread::spawn(move || {
            sipp::calls(
                &work, &target, CALLER, "sippuas", uac_ip, "udp", calls, rate, 200,
            )
        })
    };
    // 20 reloads over the ~12 s of traffic: A, B, broken, A, B, broken, ...
    std::thread::sleep(Duration::from_millis(1000));
    let mut accepted = BTreeSet::from([1u64]);
    let mut rejected = 0;
    for i in 0..20 {
        let text = match i % 3 {
            0 => version("B"),
            1 => version("A"),
            _ => BROKEN.to_owned(),
        };
        std::fs::write(&file, text).unwrap();
        let (code, body) = http(sw.http, "POST", "/admin/plugins/reload", &[], Some(""));
        match code {
            200 => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                accepted.insert(v["version"].as_u64().unwrap());
            }
            422 => rejected += 1,
            other => panic!("reload answered {other}: {body}"),
        }
        std::thread::sleep(Duration::from_millis(450));
    }
    let out = caller.join().unwrap();
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "failed calls during reloads:\n{report}"
    );
    assert_eq!(ok, u64::from(calls), "{report}");
    assert_eq!(
        (accepted.len(), rejected),
        (15, 6),
        "the first version, 14 valid reloads and 6 refused"
    );

    // every call recorded the version that routed it, and only valid versions routed
    let m = sw.metrics();
    let mut routed = 0.0;
    for line in m
        .lines()
        .filter(|l| l.starts_with("switchboard_plugin_routed_total{"))
    {
        let v: u64 = line
            .split('"')
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            accepted.contains(&v),
            "version {v} routed calls but was never accepted"
        );
        routed += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    }
    assert_eq!(
        routed,
        f64::from(calls),
        "one routing decision per call:\n{m}"
    );
    assert_eq!(
        common::metric_value(&m, "switchboard_call_failures_total"),
        0.0
    );
}
