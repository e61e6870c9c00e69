//! Routing with SIPp on both sides: PSTN calls reach a SIPp gateway with the trunk's number
//! format, a SIPp gateway answering 503 fails over to the next, and a SIPp gateway that checks
//! digest credentials gets the trunk's. (Reloads under SIPp load: `reload_under_load.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::sipp;
use common::{fresh_ip, Options, Switch, TempDir};

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

/// `n` authenticated SIPp calls to +1 212 555 1234 at 10/s; every one must succeed.
fn pstn_calls(sw: &Switch, work: &TempDir, n: u32) {
    let target = sw.sip.to_string();
    let out = sipp::calls(
        &work.0,
        &target,
        CALLER,
        "+12125551234",
        fresh_ip(),
        "udp",
        n,
        10,
        100,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(out.status.success() && ok == u64::from(n), "{report}");
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
    pstn_calls(&sw, &work, 20);
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
    pstn_calls(&sw, &work, 20);
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
    pstn_calls(&sw, &work, 10);
    let status = gateway
        .finish(Duration::from_secs(10))
        .expect("the gateway took its 10 calls");
    assert!(status.success(), "the gateway verified every digest");
}
