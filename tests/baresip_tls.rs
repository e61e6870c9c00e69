//! baresip over TLS: two baresip phones register to the switch's TLS port (`;transport=tls`,
//! trusting the switch's lab certificate through `sip_cafile`), one calls the other, the call
//! is established and hung up, all on TLS connections; and the same with the call anchored
//! (`media.anchor = "always"`): a plain offer reaches the TLS callee as plain RTP, since a
//! phone without SRTP refuses an `RTP/SAVP` offer (488).
//!
//! Skipped, with the reason printed, when baresip is not installed.

mod common;

use std::time::Duration;

use common::baresip::{self, Baresip};
use common::tls::lab_cert;
use common::{Options, Switch};

const PW: &str = "test-password";
const WAIT: Duration = Duration::from_secs(15);

fn phone(sw: &Switch, user: &str, tone_hz: u32) -> Baresip {
    Baresip::start(baresip::Options {
        user: user.into(),
        password: PW.into(),
        switch: sw.sip,
        tone_hz,
        codecs: vec!["PCMU/8000/1".into()],
        mwi: false,
        tls_ca: Some(lab_cert(&sw.data)),
    })
}

/// Two baresips register over TLS and one calls the other with `config`; `anchored`: the
/// switch must relay the call's media.
fn register_and_call_over_tls(config: &str, anchored: bool) {
    if let Some(reason) = baresip::missing() {
        eprintln!("skipped: {reason}");
        return;
    }
    // baresip 1.0 answers MD5 digest challenges only
    let sw = Switch::with(Options {
        config: format!("[auth]\nalgorithms = [\"MD5\"]\n{config}"),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut b = phone(&sw, "1001", 1000);
    let mut a = phone(&sw, "1002", 440);
    assert!(a.wait_registered(WAIT), "1002 registers:\n{}", a.log());
    assert!(b.wait_registered(WAIT), "1001 registers:\n{}", b.log());
    assert!(
        sw.metric("switchboard_tls_handshakes_total") >= 2.0,
        "both registered over TLS"
    );
    let conns_before = sw.metric("switchboard_tcp_connections");

    a.dial("1001");
    b.wait_event("CALL_INCOMING", WAIT)
        .unwrap_or_else(|| panic!("1001 rings:\n{}\n{}", a.log(), b.log()));
    b.accept();
    for (who, p) in [("1002", &mut a), ("1001", &mut b)] {
        if p.wait_event("CALL_ESTABLISHED", WAIT).is_none() {
            panic!("{who} is in the call:\n{}", p.log());
        }
    }
    assert_eq!(sw.metric("switchboard_active_calls"), 1.0);
    if anchored {
        assert_eq!(sw.metric("switchboard_anchored_calls_total"), 1.0);
    }
    a.hang_up();
    b.wait_event("CALL_CLOSED", WAIT)
        .unwrap_or_else(|| panic!("1001 sees the hang-up:\n{}", b.log()));
    assert!(common::eventually(Duration::from_secs(3), || sw
        .metric("switchboard_active_calls")
        == 0.0));
    assert_eq!(
        sw.metric("switchboard_tcp_connections"),
        conns_before,
        "the call reused the phones' connections"
    );
}

#[test]
fn two_baresips_register_and_call_over_tls() {
    register_and_call_over_tls("", false);
}

#[test]
fn two_baresips_without_srtp_call_over_tls_with_anchored_media() {
    register_and_call_over_tls("[media]\nanchor = \"always\"\n", true);
}
