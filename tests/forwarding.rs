//! Forwarding kept on the server, end to end: set by feature codes dialed from a phone, by
//! HTTP and by the CLI; followed by calls (unconditional, busy, no answer after the ring time,
//! unreachable) with 181 to the caller and History-Info / Diversion to the final callee;
//! loops refused.

mod common;

use std::time::Duration;

use common::ua::{Call, Proto, Ua};
use common::{basic, cli, http, Switch};
use switchboard_engine::sip::{Message, Method};

const PW: &str = "test-password";

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    let r = ua.register(600).await;
    assert_eq!(r.status(), Some(200), "{user} registers");
    ua
}

fn switch_with(accounts: &[&str]) -> Switch {
    let sw = Switch::start();
    for a in accounts {
        sw.add_account(a, PW);
    }
    sw
}

/// Dials a feature code and goes through the switch's answer: 200, ACK, the switch's BYE.
async fn dial_feature(ua: &mut Ua, code: &str) -> Message {
    let mut call = ua.invite(code).await;
    let ok = ua.invite_outcome(&mut call).await;
    if ok.status() == Some(200) {
        let bye = ua.expect_request(Method::Bye).await;
        assert_eq!(bye.call_id(), Some(call.call_id.as_str()));
        ua.reply(&bye, 200);
    }
    ok
}

fn forwarding_json(sw: &Switch, number: &str) -> serde_json::Value {
    let (code, out, err) = cli(&["forward", "show", number, "--json"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["forwarding"].clone()
}

/// The callee's side answers; the caller sees 200 and the callee the ACK.
async fn answer(callee: &mut Ua, inv: &Message, caller: &mut Ua, out: &mut Call) {
    callee.accept(inv).await;
    let ok = caller.invite_outcome(out).await;
    assert_eq!(ok.status(), Some(200));
    callee.expect_request(Method::Ack).await;
}

#[tokio::test]
async fn a_feature_code_sets_forwarding_and_the_next_call_follows_it() {
    let sw = switch_with(&["1001", "1002", "1003"]);
    let mut alice = registered(&sw, "1001").await;
    let mut bob = registered(&sw, "1002").await;
    let mut carol = registered(&sw, "1003").await;

    let ok = dial_feature(&mut alice, "*721002").await;
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.reason(), Some("Forwarding Set"));
    assert_eq!(forwarding_json(&sw, "1001")["always"], "1002");

    let mut out = carol.invite("1001").await;
    let inv = bob.expect_request(Method::Invite).await;
    let hi = inv.header_by_name("History-Info").expect("History-Info");
    assert!(hi.contains("<sip:1001@") && hi.contains("index=1"), "{hi}");
    assert!(
        hi.contains("<sip:1002@") && hi.contains("cause=302"),
        "{hi}"
    );
    let div = inv.header_by_name("Diversion").expect("Diversion");
    assert!(
        div.contains("sip:1001@") && div.contains("reason=unconditional"),
        "{div}"
    );
    assert!(
        carol.response(&out.call_id, 181).await.is_some(),
        "the caller hears 181 Call Is Being Forwarded"
    );
    answer(&mut bob, &inv, &mut carol, &mut out).await;
    assert!(
        alice
            .maybe_request(Method::Invite, Duration::from_millis(300))
            .await
            .is_none(),
        "the forwarding subscriber's phone does not ring"
    );
    assert!(common::eventually(Duration::from_secs(2), || sw
        .metric("switchboard_forwards_total{kind=\"unconditional\"}")
        == 1.0));

    // *73 clears it: the next call rings alice again
    let ok = dial_feature(&mut alice, "*73").await;
    assert_eq!(ok.reason(), Some("Forwarding Cleared"));
    assert!(forwarding_json(&sw, "1001")["always"].is_null());
    let _out = carol.invite("1001").await;
    let inv = alice.expect_request(Method::Invite).await;
    assert!(inv.header_by_name("History-Info").is_none());
    assert!(common::eventually(Duration::from_secs(2), || sw
        .metric("switchboard_calls_total{outcome=\"feature\"}")
        == 2.0));
}

#[tokio::test]
async fn bad_feature_codes_are_refused_with_a_reason() {
    let sw = switch_with(&["1001"]);
    let mut alice = registered(&sw, "1001").await;
    let r = dial_feature(&mut alice, "*721001").await;
    assert_eq!(r.status(), Some(403));
    assert_eq!(r.reason(), Some("Cannot Forward To Yourself"));
    let r = dial_feature(&mut alice, "*72").await;
    assert_eq!(r.status(), Some(484), "a forward needs a target");
    let r = dial_feature(&mut alice, "*58").await;
    assert_eq!(r.status(), Some(404), "no such feature code");
    // (`*55` alone answers with the hot-desk voice menu: tests/hotdesk_menu.rs)
    let r = dial_feature(&mut alice, "*551001").await;
    assert_eq!(r.status(), Some(484), "hot desk needs a number and a PIN");
    let r = dial_feature(&mut alice, "*97").await;
    assert_eq!(r.status(), Some(480));
    assert!(forwarding_json(&sw, "1001")["always"].is_null());
}

#[tokio::test]
async fn no_answer_forwarding_takes_the_call_after_the_ring_time() {
    let sw = switch_with(&["1001", "1002", "1003"]);
    let mut alice = registered(&sw, "1001").await;
    let mut bob = registered(&sw, "1002").await;
    let mut carol = registered(&sw, "1003").await;
    let auth = basic("1001", PW);
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1001/forwarding",
        &[("Authorization", &auth)],
        Some(r#"{"no_answer": "1002", "ring_secs": 5}"#),
    );
    assert_eq!(code, 200, "{body}");

    let started = std::time::Instant::now();
    let mut out = carol.invite("1001").await;
    let inv = alice.expect_request(Method::Invite).await;
    let tag = alice.token();
    alice.reply_tagged(&inv, 180, &tag, None);
    let cancel = alice
        .recv_where(Duration::from_secs(10), |m| {
            m.method() == Some(Method::Cancel)
        })
        .await
        .expect("the ringing phone is cancelled after the ring time");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500),
        "cancelled after about 5 s, not {waited:?}"
    );
    alice.reply(&cancel, 200);
    alice.reply_tagged(&inv, 487, &tag, None);
    let inv2 = bob.expect_request(Method::Invite).await;
    let hi = inv2.header_by_name("History-Info").unwrap();
    assert!(hi.contains("cause=408"), "{hi}");
    assert!(inv2
        .header_by_name("Diversion")
        .unwrap()
        .contains("reason=no-answer"));
    answer(&mut bob, &inv2, &mut carol, &mut out).await;
}

#[tokio::test]
async fn a_busy_subscriber_forwards_to_the_busy_target_set_by_the_cli() {
    let sw = switch_with(&["1001", "1002", "1003"]);
    let (code, _, err) = cli(&["forward", "set", "1001", "busy", "1002"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let mut alice = registered(&sw, "1001").await;
    let mut bob = registered(&sw, "1002").await;
    let mut carol = registered(&sw, "1003").await;
    let mut out = carol.invite("1001").await;
    let inv = alice.expect_request(Method::Invite).await;
    alice.reply(&inv, 486);
    let inv2 = bob.expect_request(Method::Invite).await;
    assert!(inv2
        .header_by_name("Diversion")
        .unwrap()
        .contains("reason=user-busy"));
    assert!(inv2
        .header_by_name("History-Info")
        .unwrap()
        .contains("cause=486"));
    answer(&mut bob, &inv2, &mut carol, &mut out).await;
    // and without a busy forward the caller hears busy
    let (code, _, _) = cli(&["forward", "clear", "1001", "busy"], Some(&sw.data));
    assert_eq!(code, 0);
    let mut out = carol.invite("1001").await;
    let inv = alice.expect_request(Method::Invite).await;
    alice.reply(&inv, 486);
    assert_eq!(carol.invite_outcome(&mut out).await.status(), Some(486));
}

#[tokio::test]
async fn an_unregistered_subscriber_forwards_when_unreachable() {
    let sw = switch_with(&["1001", "1002", "1003"]);
    let (code, _, err) = cli(
        &["forward", "set", "1001", "unreachable", "1002"],
        Some(&sw.data),
    );
    assert_eq!(code, 0, "{err}");
    let mut bob = registered(&sw, "1002").await;
    let mut carol = registered(&sw, "1003").await;
    let mut out = carol.invite("1001").await;
    let inv = bob.expect_request(Method::Invite).await;
    assert!(inv
        .header_by_name("Diversion")
        .unwrap()
        .contains("reason=unavailable"));
    assert!(carol.response(&out.call_id, 181).await.is_some());
    answer(&mut bob, &inv, &mut carol, &mut out).await;
}

#[tokio::test]
async fn forwarding_loops_are_refused_and_chains_end_at_the_last_hop() {
    let sw = switch_with(&["1001", "1002", "1003", "1004"]);
    for (from, to) in [("1001", "1002"), ("1002", "1001")] {
        let (code, _, err) = cli(&["forward", "set", from, "always", to], Some(&sw.data));
        assert_eq!(code, 0, "{err}");
    }
    let mut carol = registered(&sw, "1003").await;
    let mut out = carol.invite("1001").await;
    let r = carol.invite_outcome(&mut out).await;
    assert_eq!(r.status(), Some(482), "{:?}", r.reason());

    // 1004 -> 1001 -> 1002 -> (1001 again): still a loop
    let (code, _, _) = cli(
        &["forward", "set", "1004", "always", "1001"],
        Some(&sw.data),
    );
    assert_eq!(code, 0);
    let mut out = carol.invite("1004").await;
    assert_eq!(carol.invite_outcome(&mut out).await.status(), Some(482));

    // break the loop: 1002 rings, having come through 1004 and 1001
    let (code, _, _) = cli(&["forward", "clear", "1002", "all"], Some(&sw.data));
    assert_eq!(code, 0);
    let mut bob = registered(&sw, "1002").await;
    let mut out = carol.invite("1004").await;
    let inv = bob.expect_request(Method::Invite).await;
    let hi = inv.header_by_name("History-Info").unwrap();
    assert!(hi.contains("index=1.1.1"), "three entries: {hi}");
    answer(&mut bob, &inv, &mut carol, &mut out).await;
}
