//! Interoperability with SIPp, a SIP tool nobody here wrote: a SIPp UAS registers as a
//! subscriber (digest, MD5), a SIPp UAC places 500 authenticated calls through the switch at
//! 100 calls/s, over UDP and over TCP. Every call must succeed.

mod common;

use std::time::Duration;

use common::sipp;
use common::{fresh_ip, Options, Switch, TempDir};

fn run_calls(transport: &str) {
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("sippuas", "sippuas-pw");
    sw.add_account("sippuac", "sippuac-pw");
    let work = TempDir::new("sipp");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();

    // the callee: a SIPp UAS on uas_ip:5070, registered as subscriber "sippuas"
    let uas = sipp::uas(&work.0, "uas_call.xml", uas_ip, 5070, transport, &[]);
    sipp::register(
        &work.0,
        &target,
        "sippuas",
        "sippuas-pw",
        uas_ip,
        5070,
        transport,
    );

    // the caller: 500 calls at 100 calls/s, each challenged and answered with credentials
    let out = sipp::calls(
        &work.0,
        &target,
        ("sippuac", "sippuac-pw"),
        "sippuas",
        uac_ip,
        transport,
        500,
        100,
        500,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "SIPp UAC reported failed calls ({transport}):\n{report}"
    );
    assert_eq!(ok, 500, "500 successful calls");
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_calls_total{outcome=\"answered\"}") == 500.0
    }));
    drop(uas);
}

#[test]
fn sipp_places_500_calls_at_100_per_second_over_udp_with_no_failure() {
    run_calls("udp");
}

#[test]
fn sipp_places_500_calls_at_100_per_second_over_tcp_with_no_failure() {
    run_calls("tcp");
}
