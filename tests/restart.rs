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
