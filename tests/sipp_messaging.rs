//! SIPp sends MESSAGEs through the switch: to a registered SIPp device (each answered 200 by
//! it), and to an offline number (each 202), whose stored messages a SIPp device then
//! receives when it registers.

mod common;

use std::time::Duration;

use common::sipp;
use common::{fresh_ip, Options, Switch, TempDir};

fn switch() -> Switch {
    Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    })
}

/// A SIPp UAC sends `n` MESSAGEs to `to` at 100/s; every one must get its final answer.
fn send_all(work: &TempDir, target: &str, to: &str, ip: std::net::IpAddr, n: u64) {
    let out = sipp::messages(&work.0, target, to, ip, n as u32, 100, "uac.csv");
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "SIPp UAC reported failures:\n{report}"
    );
    assert_eq!(ok, n);
}

#[test]
fn sipp_messages_reach_a_registered_sipp_device_all_200() {
    let sw = switch();
    sw.add_account("sippuas", "sippuas-pw");
    let work = TempDir::new("sipp-msg");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    let mut uas = sipp::uas(
        &work.0,
        "uas_message.xml",
        uas_ip,
        5070,
        "udp",
        &["-m", "200", "-trace_stat", "-stf", "uas.csv"],
    );
    sipp::register(
        &work.0,
        &target,
        "sippuas",
        "sippuas-pw",
        uas_ip,
        5070,
        "udp",
    );
    send_all(&work, &target, "sippuas", uac_ip, 200);
    assert!(
        uas.finish(Duration::from_secs(10)).is_some(),
        "the device got all 200"
    );
    assert!(common::eventually(Duration::from_secs(3), || sw
        .metric("switchboard_messages_queued")
        == 0.0));
    assert_eq!(
        sw.metric("switchboard_messages_total{outcome=\"stored\"}"),
        0.0,
        "delivered, none stored"
    );
}

/// `n` messages are stored for `number`: a SIPp device (UAS at `ip`) registers as it and must
/// receive all of them, and the queue empties.
fn stored_reach_a_device_on_register(
    sw: &Switch,
    work: &TempDir,
    number: &str,
    password: &str,
    ip: std::net::IpAddr,
    n: u32,
) {
    assert_eq!(
        sw.metric("switchboard_messages_total{outcome=\"stored\"}"),
        f64::from(n)
    );
    assert_eq!(sw.metric("switchboard_messages_queued"), f64::from(n));
    let count = n.to_string();
    let mut uas = sipp::uas(&work.0, "uas_message.xml", ip, 5070, "udp", &["-m", &count]);
    let target = sw.sip.to_string();
    sipp::register(&work.0, &target, number, password, ip, 5070, "udp");
    assert!(
        uas.finish(Duration::from_secs(30))
            .is_some_and(|s| s.success()),
        "the SIPp device received the {n} stored messages"
    );
    assert!(common::eventually(Duration::from_secs(5), || sw
        .metric("switchboard_messages_queued")
        == 0.0));
    assert_eq!(
        sw.metric("switchboard_queue_removals_total{outcome=\"delivered\"}"),
        f64::from(n)
    );
}

#[test]
fn sipp_messages_to_an_offline_number_are_stored_then_delivered_to_sipp_on_register() {
    let sw = switch();
    sw.add_account("offline1", "offline1-pw");
    let work = TempDir::new("sipp-msg-off");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    send_all(&work, &target, "offline1", uac_ip, 100);
    stored_reach_a_device_on_register(&sw, &work, "offline1", "offline1-pw", uas_ip, 100);
}

/// `sip.udp_spread = "datagram"`: one SIPp socket's MESSAGEs are read by both workers (each
/// takes a share, by the datagrams' bytes), every one still gets its 202 and is stored once,
/// and all reach the device when it registers.
#[test]
fn one_peers_messages_spread_over_both_workers_and_each_is_stored_once() {
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n[sip]\nudp_spread = \"datagram\"\n".into(),
        ..Default::default()
    });
    sw.add_account("spread1", "spread1-pw");
    let work = TempDir::new("sipp-msg-spread");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    let read = |w: u32| {
        sw.metric(&format!(
            "switchboard_sip_datagrams_read_total{{worker=\"{w}\"}}"
        ))
    };
    let before = (read(0), read(1));
    let out = sipp::messages(&work.0, &target, "spread1", uac_ip, 300, 300, "uac.csv");
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "SIPp UAC reported failures:\n{report}"
    );
    assert_eq!(ok, 300);
    let shares = (read(0) - before.0, read(1) - before.1);
    // 300 MESSAGEs from one port: by the flow hash all would land on one worker
    assert!(
        shares.0 >= 75.0 && shares.1 >= 75.0,
        "each worker read a share: {shares:?}"
    );
    stored_reach_a_device_on_register(&sw, &work, "spread1", "spread1-pw", uas_ip, 300);
}
