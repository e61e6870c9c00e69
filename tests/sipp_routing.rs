//! Routing with SIPp on both sides: PSTN calls reach a SIPp gateway with the trunk's number
//! format, a SIPp gateway answering 503 fails over to the next, a SIPp gateway that checks
//! digest credentials gets the trunk's, and plugins reload 20 times while SIPp drives 200
//! calls/s through the switch without one call failing.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::sipp;
use common::{fresh_ip, http, Options, Switch, TempDir};

const CALLER: (&str, &str) = ("sippuac", "sippuac-pw");

fn switch(config: &str, args: &[&str]) -> Switch {
    let sw = Switch::with(Options {
        // SIPp 3.6 answers only the first challenge, so MD5 alone
        config: format!(
            "[auth]\nalgorithms = [\"MD5\"]\n[numbering]\nown_ranges = [\"+8211\"]\n{config}"
        ),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    });
    sw.add_account(CALLER.0, CALLER.1);
    sw
}

fn trunk(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!("[[trunks]]\nname = \"{name}\"\ngroup = \"pstn\"\naddress = \"{addr}\"\n{extra}\n")
}

#[test]
fn pstn_calls_reach_the_sipp_gateway_with_the_converted_number() {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = switch(&trunk("gw", gw, "strip_plus = true\nprefix = \"9\""), &[]);
    let work = TempDir::new("sipp-pstn");
    let _gateway = sipp::uas(
        &work.0,
        "uas_call.xml",
        gw.ip(),
        gw.port(),
        "udp",
        &["-trace_msg", "-message_file", "gw-messages.log"],
    );
    let out = sipp::calls(
        &work.0,
        &sw.sip.to_string(),
        CALLER,
        "+12125551234",
        fresh_ip(),
        "udp",
        20,
        10,
        100,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(out.status.success() && ok == 20, "{report}");
    let log = std::fs::read_to_string(work.0.join("gw-messages.log")).unwrap();
    let invites = log
        .matches(&format!("INVITE sip:912125551234@{gw};user=phone SIP/2.0"))
        .count();
    assert_eq!(invites, 20, "each call reached the gateway as 912125551234");
    assert!(
        !log.contains("Proxy-Authorization"),
        "the caller's credentials stay with us"
    );
}

#[test]
fn a_sipp_gateway_answering_503_fails_over_to_the_second_trunk() {
    let (a, b) = (
        SocketAddr::new(fresh_ip(), 5080),
        SocketAddr::new(fresh_ip(), 5080),
    );
    let sw = switch(
        &format!("{}{}", trunk("gw-a", a, ""), trunk("gw-b", b, "")),
        &[],
    );
    let work = TempDir::new("sipp-failover");
    let _down = sipp::uas(&work.0, "uas_unavailable.xml", a.ip(), a.port(), "udp", &[]);
    let _up = sipp::uas(&work.0, "uas_call.xml", b.ip(), b.port(), "udp", &[]);
    let out = sipp::calls(
        &work.0,
        &sw.sip.to_string(),
        CALLER,
        "+12125551234",
        fresh_ip(),
        "udp",
        20,
        10,
        100,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(out.status.success() && ok == 20, "{report}");
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_trunk_attempts_total{trunk=\"gw-a\",outcome=\"failed\"}") == 20.0
            && sw.metric("switchboard_trunk_attempts_total{trunk=\"gw-b\",outcome=\"answered\"}")
                == 20.0
    }));
}

#[test]
fn a_sipp_gateway_checking_digest_accepts_the_trunk_credentials() {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = switch(
        &trunk(
            "carrier",
            gw,
            "username = \"switchboard\"\npassword = \"trunk-secret\"",
        ),
        &[],
    );
    let work = TempDir::new("sipp-trunk-auth");
    let mut gateway = sipp::uas(
        &work.0,
        "uas_gateway_auth.xml",
        gw.ip(),
        gw.port(),
        "udp",
        &["-m", "10"],
    );
    let out = sipp::calls(
        &work.0,
        &sw.sip.to_string(),
        CALLER,
        "+12125551234",
        fresh_ip(),
        "udp",
        10,
        10,
        100,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(out.status.success() && ok == 10, "{report}");
    let status = gateway
        .finish(Duration::from_secs(10))
        .expect("the gateway took its 10 calls");
    assert!(status.success(), "the gateway verified every digest");
}

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
    let sw = switch("[plugins]\nwatch = false\n", &["--plugins", &dir]);
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
