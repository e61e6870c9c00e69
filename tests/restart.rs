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
    // bindings are written behind and flushed every 200 ms by default; the flush's fsync can
    // take a second or more when other processes fill the disk's journal, so wait for many
    tokio::time::sleep(Duration::from_millis(3000)).await;
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

/// The store's expiry of every registered number (seconds since the Unix epoch), from the
/// operator's list, which reads the store.
fn stored_expiries(sw: &Switch) -> std::collections::HashMap<String, u64> {
    let body = common::http_get(sw.http, "/v1/registrations");
    let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
    let now = unix_now();
    v["registrations"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            let n = r["number"].as_str().unwrap().to_owned();
            (n, now + r["expires_in"].as_u64().unwrap())
        })
        .collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A refresh that only moves the expiry is held back from the store (at most
/// `registrar.refresh_write_secs`, 30 s by default): a crash then keeps every binding, with
/// the expiry last written, less than 30 s older than the one the phone was given.
#[tokio::test]
async fn refreshes_held_back_from_the_store_lose_no_binding_in_a_crash() {
    let mut sw = Switch::with(Options {
        auth_off: true,
        ..Default::default()
    });
    let mut uas = Vec::new();
    for i in 0..20 {
        let mut ua = Ua::new(sw.sip, &format!("held{i:02}"), "", Proto::Udp).await;
        assert_eq!(ua.register(600).await.status(), Some(200));
        uas.push(ua);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refreshed_from = unix_now();
    for ua in uas.iter_mut() {
        assert_eq!(ua.register(620).await.status(), Some(200));
    }
    let refreshed_until = unix_now();
    let given = refreshed_from + 620;
    let stored = stored_expiries(&sw);
    assert_eq!(stored.len(), 20);
    for (n, at) in &stored {
        assert!(
            *at < given,
            "{n}: the refresh to {given} was held back, store has {at}"
        );
    }
    // long past the flush interval: whatever sled was given is on disk
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sw.kill();
    sw.spawn();
    assert_eq!(
        sw.metric("switchboard_registrations"),
        20.0,
        "every binding survived SIGKILL"
    );
    let after = stored_expiries(&sw);
    assert_eq!(after.len(), 20);
    for (n, at) in &after {
        // the phone was given at most refreshed_until + 620; the store is less than 30 s
        // behind it (one second of rounding each way)
        assert!(
            *at + 30 + 1 > refreshed_until + 620 - 1 && *at <= given,
            "{n}: stored {at}, given {given}..{}",
            refreshed_until + 620
        );
    }
    let mut caller = Ua::new(sw.sip, "caller", "", Proto::Udp).await;
    for (i, ua) in uas.iter_mut().enumerate().step_by(7) {
        let mut call = caller.invite(&format!("held{i:02}")).await;
        let inv = ua.expect_request(Method::Invite).await;
        ua.reply(&inv, 486);
        assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    }
}

/// A held-back refresh reaches the store at a graceful stop, and by its deadline.
#[tokio::test]
async fn a_held_back_refresh_is_written_at_shutdown_and_by_its_deadline() {
    let mut sw = Switch::with(Options {
        auth_off: true,
        config: "[registrar]\nrefresh_write_secs = 10\n".into(),
        ..Default::default()
    });
    // registered for 600 s, then at once refreshed for 608: 8 s more than the store has,
    // within the 10 s, so held back
    async fn register_then_refresh(sw: &Switch, n: &str) -> (Ua, u64) {
        let mut ua = Ua::new(sw.sip, n, "", Proto::Udp).await;
        assert_eq!(ua.register(600).await.status(), Some(200));
        let first = stored_expiries(sw)[n];
        let t = unix_now();
        assert_eq!(ua.register(608).await.status(), Some(200));
        let stored = stored_expiries(sw)[n];
        assert!(
            stored <= first + 1,
            "{n}: held back, {stored} against {first}"
        );
        (ua, t + 608)
    }
    let (_ua, given) = register_then_refresh(&sw, "shutdown").await;
    assert_eq!(sw.stop(), Some(0));
    sw.spawn();
    let kept = stored_expiries(&sw)["shutdown"];
    assert!(
        kept + 1 >= given,
        "written at shutdown: {kept}, given {given}"
    );

    let (_ua, given) = register_then_refresh(&sw, "deadline").await;
    tokio::time::sleep(Duration::from_millis(11_000)).await;
    let written = stored_expiries(&sw)["deadline"];
    assert!(
        written + 1 >= given,
        "written by the deadline: {written}, given {given}"
    );
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
