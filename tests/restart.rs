//! Durability: accounts and registrations survive a graceful restart and a crash.

mod common;

use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{Options, Switch};
use switchboard_engine::sip::Method;

const PW: &str = "test-password";

#[tokio::test]
async fn accounts_and_bindings_survive_a_graceful_restart() {
    let mut sw = Switch::start();
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut callee = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    assert_eq!(callee.register(600).await.status(), Some(200));
    assert_eq!(sw.stop(), Some(0), "SIGTERM shuts down cleanly");

    sw.spawn();
    assert_eq!(
        sw.metric("switchboard_registrations"),
        1.0,
        "the binding was reloaded"
    );
    let mut caller = Ua::new(sw.sip, "1002", PW, Proto::Udp).await;
    assert_eq!(
        caller.register(600).await.status(),
        Some(200),
        "the account is still there"
    );
    let mut call = caller.invite("1001").await;
    let inv = callee.expect_request(Method::Invite).await;
    callee.reply(&inv, 486);
    assert_eq!(
        caller.invite_outcome(&mut call).await.status(),
        Some(486),
        "the callee rang without registering again"
    );
}

#[tokio::test]
async fn registrations_survive_a_crash_once_flushed() {
    let mut sw = Switch::with(Options {
        auth_off: true,
        ..Default::default()
    });
    let mut uas = Vec::new();
    for i in 0..20 {
        let mut ua = Ua::new(sw.sip, &format!("crash{i:02}"), "", Proto::Udp).await;
        assert_eq!(ua.register(600).await.status(), Some(200));
        uas.push(ua);
    }
    // bindings are written behind and flushed every 200 ms by default
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sw.kill();
    sw.spawn();
    assert_eq!(
        sw.metric("switchboard_registrations"),
        20.0,
        "all 20 bindings survived SIGKILL"
    );
    let mut caller = Ua::new(sw.sip, "caller", "", Proto::Udp).await;
    for (i, ua) in uas.iter_mut().enumerate().step_by(7) {
        let mut call = caller.invite(&format!("crash{i:02}")).await;
        let inv = ua.expect_request(Method::Invite).await;
        ua.reply(&inv, 486);
        assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    }
}

#[tokio::test]
async fn an_account_added_to_a_running_switch_survives_a_crash() {
    let mut sw = Switch::start();
    sw.add_account("2001", PW);
    sw.kill();
    sw.spawn();
    let mut ua = Ua::new(sw.sip, "2001", PW, Proto::Udp).await;
    assert_eq!(ua.register(600).await.status(), Some(200));
}

/// Forwarding set from a phone is on disk before the phone hears the confirmation: a crash
/// right after the 200 keeps it, for 20 subscribers set at once, and so does a change made
/// over HTTP.
#[tokio::test]
async fn forwarding_confirmed_to_a_phone_survives_a_crash() {
    let mut sw = Switch::start();
    sw.add_account("3000", PW);
    let mut phones = Vec::new();
    for i in 0..20 {
        let n = format!("30{:02}", i + 1);
        sw.add_account(&n, PW);
        let mut ua = Ua::new(sw.sip, &n, PW, Proto::Udp).await;
        assert_eq!(ua.register(600).await.status(), Some(200));
        phones.push(ua);
    }
    for ua in phones.iter_mut() {
        let mut call = ua.invite("*723000").await;
        let ok = ua.invite_outcome(&mut call).await;
        assert_eq!(ok.status(), Some(200));
    }
    let auth = common::basic("3000", PW);
    let (code, body) = common::http(
        sw.http,
        "PUT",
        "/v1/accounts/3000/forwarding",
        &[("Authorization", &auth)],
        Some(r#"{"busy": "3001"}"#),
    );
    assert_eq!(code, 200, "{body}");
    // no waiting for a flush interval: SIGKILL at once
    sw.kill();
    let mut kept = 0;
    for i in 0..20 {
        let n = format!("30{:02}", i + 1);
        let (code, out, err) = common::cli(&["forward", "show", &n, "--json"], Some(&sw.data));
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if v["forwarding"]["always"] == "3000" {
            kept += 1;
        }
    }
    assert_eq!(kept, 20, "every confirmed forward survived SIGKILL");
    let (_, out, _) = common::cli(&["forward", "show", "3000", "--json"], Some(&sw.data));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["forwarding"]["busy"], "3001");

    // and calls follow them after the restart
    sw.spawn();
    let mut target = Ua::new(sw.sip, "3000", PW, Proto::Udp).await;
    assert_eq!(target.register(600).await.status(), Some(200));
    let caller = &mut phones[5];
    let _call = caller.invite("3010").await;
    let inv = target.expect_request(Method::Invite).await;
    assert!(inv.header_by_name("Diversion").is_some());
}
