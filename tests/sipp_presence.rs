//! SIPp watches presence through the switch: each SIPp call is one subscription (SUBSCRIBE
//! with digest authentication, 200, the first NOTIFY with the registered presentity's PIDF
//! `open`, unsubscribe, the final NOTIFY `terminated`). The same with message-summary: SIPp
//! subscribers watch their own (empty) mailbox through the voicemail number.

mod common;

use std::time::Duration;

use common::sipp;
use common::{basic, fresh_ip, http, Options, Switch, TempDir};

#[test]
fn sipp_watchers_subscribe_get_open_presence_and_unsubscribe() {
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("2001", "pres-pw");
    sw.add_account("2002", "watch-pw");
    // the presentity lets the watcher see it
    let (code, body) = http(
        sw.http,
        "POST",
        "/v1/accounts/2001/buddies",
        &[("Authorization", &basic("2001", "pres-pw"))],
        Some(r#"{"number":"2002"}"#),
    );
    assert!(code == 201 || code == 200, "{code} {body}");
    let work = TempDir::new("sipp-pres");
    let (reg_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    // a registered presentity (a SIPp UAS that answers nothing is enough: it is open)
    let _uas = sipp::uas(&work.0, "uas_message.xml", reg_ip, 5070, "udp", &[]);
    sipp::register(&work.0, &target, "2001", "pres-pw", reg_ip, 5070, "udp");

    let n = 50;
    let out = sipp::subscriptions(
        &work.0,
        &target,
        ("2002", "watch-pw"),
        "2001",
        uac_ip,
        n,
        25,
        200,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "SIPp watcher reported failures:\n{report}"
    );
    assert_eq!(ok, u64::from(n), "{report}");
    assert!(
        sw.metric("switchboard_notifies_total") >= f64::from(2 * n),
        "a NOTIFY at the start and one at the end of each"
    );
    assert!(common::eventually(Duration::from_secs(5), || sw
        .metric("switchboard_subscriptions")
        == 0.0));
}

#[test]
fn sipp_subscribers_watch_their_own_empty_mailbox_through_the_voicemail_number() {
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("2003", "mwi-pw");
    let work = TempDir::new("sipp-mwi");
    let n = 20;
    let out = sipp::mwi_subscriptions(
        &work.0,
        &sw.sip.to_string(),
        ("2003", "mwi-pw"),
        "*98",
        fresh_ip(),
        n,
        20,
        100,
    );
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(
        out.status.success(),
        "SIPp subscriber reported failures:\n{report}"
    );
    assert_eq!(ok, u64::from(n), "{report}");
    assert!(common::eventually(Duration::from_secs(5), || sw
        .metric("switchboard_subscriptions")
        == 0.0));
}
