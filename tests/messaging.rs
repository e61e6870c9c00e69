//! Instant messages end to end: online delivery to every device, offline store-and-forward
//! in order on REGISTER, retries, limits, expiry.

mod common;

use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{http, Options, Switch};
use switchboard_engine::sip::{HeaderName, Message, Method};

const PW: &str = "pw-1234";

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    assert_eq!(ua.register(300).await.status(), Some(200));
    ua
}

/// A switch with quick retries (so tests need not wait) and more `[messaging]` keys.
fn switch(messaging: &str) -> Switch {
    Switch::with(Options {
        config: format!(
            "[messaging]\nretry_initial_ms = 200\nretry_max_secs = 1\n{messaging}\n[notify]\ncoalesce_ms = 300\n"
        ),
        ..Default::default()
    })
}

fn text_of(m: &Message) -> String {
    String::from_utf8_lossy(m.body()).into_owned()
}

#[tokio::test]
async fn a_message_to_an_online_number_reaches_both_of_its_devices() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut phone = registered(&sw, "1001").await;
    let mut desk = registered(&sw, "1001").await;
    let mut sender = registered(&sw, "1002").await;
    let (out, _) = tokio::join!(sender.text("1001", "lunch?"), async {
        let a = phone.expect_request(Method::Message).await;
        let b = desk.expect_request(Method::Message).await;
        assert_eq!(text_of(&a), "lunch?");
        assert_eq!(text_of(&b), "lunch?");
        desk.reply(&b, 200);
        phone.reply(&a, 200);
    });
    assert_eq!(out.status(), Some(200));
    assert_eq!(sw.metric("switchboard_messages_queued"), 0.0);
}

#[tokio::test]
async fn offline_messages_are_stored_and_delivered_in_order_when_a_device_registers() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut sender = registered(&sw, "1002").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = sender.text("1001", &format!("message {i}")).await;
        assert_eq!(r.status(), Some(202), "stored for later");
        ids.push(
            r.header_by_name("Message-ID")
                .expect("id in the 202")
                .to_owned(),
        );
    }
    assert_eq!(sw.metric("switchboard_messages_queued"), 5.0);
    let mut phone = registered(&sw, "1001").await;
    for (i, id) in ids.iter().enumerate() {
        let m = phone.expect_request(Method::Message).await;
        assert_eq!(text_of(&m), format!("message {i}"), "in the order accepted");
        assert_eq!(m.header_by_name("Message-ID"), Some(id.as_str()));
        assert!(m.header_by_name("Date").is_some_and(|d| d.ends_with("GMT")));
        assert!(m
            .header(HeaderName::From)
            .is_some_and(|f| f.contains("1002")));
        phone.reply(&m, 200);
    }
    assert!(common::eventually(Duration::from_secs(5), || sw
        .metric("switchboard_messages_queued")
        == 0.0));
    // delivered means removed: registering again brings nothing
    let mut again = registered(&sw, "1001").await;
    assert!(again
        .maybe_request(Method::Message, Duration::from_millis(800))
        .await
        .is_none());
    let extra = phone
        .maybe_request(Method::Message, Duration::from_millis(10))
        .await;
    assert!(
        extra.is_none(),
        "{:?}",
        extra.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
    );
}

#[tokio::test]
async fn a_device_that_refuses_for_now_gets_the_message_again_and_order_holds() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut sender = registered(&sw, "1002").await;
    assert_eq!(sender.text("1001", "first").await.status(), Some(202));
    assert_eq!(sender.text("1001", "second").await.status(), Some(202));
    let mut phone = registered(&sw, "1001").await;
    let m = phone.expect_request(Method::Message).await;
    assert_eq!(text_of(&m), "first");
    phone.reply(&m, 480);
    // retried (after retry_initial_ms) before anything behind it
    let m2 = phone.expect_request(Method::Message).await;
    assert_eq!(text_of(&m2), "first");
    assert_eq!(
        m2.header_by_name("Message-ID"),
        m.header_by_name("Message-ID")
    );
    phone.reply(&m2, 200);
    let m3 = phone.expect_request(Method::Message).await;
    assert_eq!(text_of(&m3), "second");
    phone.reply(&m3, 200);
}

#[tokio::test]
async fn a_message_no_online_device_takes_is_kept_for_later() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut phone = registered(&sw, "1001").await;
    let mut sender = registered(&sw, "1002").await;
    let (out, _) = tokio::join!(sender.text("1001", "are you there"), async {
        let m = phone.expect_request(Method::Message).await;
        assert!(m.header_by_name("Message-ID").is_none(), "not stored yet");
        phone.reply(&m, 480);
    });
    assert_eq!(out.status(), Some(202), "stored instead of failed");
    // the queue's delivery offers it to the device again, and this time it takes it
    let m = phone.expect_request(Method::Message).await;
    assert_eq!(text_of(&m), "are you there");
    assert_eq!(
        m.header_by_name("Message-ID"),
        out.header_by_name("Message-ID")
    );
    phone.reply(&m, 200);
    assert!(common::eventually(Duration::from_secs(5), || sw
        .metric("switchboard_messages_queued")
        == 0.0));
    // the number is online: no SMS was sent for it
    assert_eq!(
        sw.metric("switchboard_notifications_total{outcome=\"no_phone\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_full_queue_answers_486_a_queue_out_of_room_507_and_a_big_body_413() {
    let sw = switch("max_queued = 3\nmax_queued_bytes = 40\nmax_body_bytes = 30");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    sw.add_account("1003", PW);
    let mut sender = registered(&sw, "1002").await;
    for _ in 0..3 {
        assert_eq!(sender.text("1001", "short").await.status(), Some(202));
    }
    let full = sender.text("1001", "one more").await;
    assert_eq!(full.status(), Some(486));
    assert_eq!(full.reason(), Some("Mailbox Full"));
    assert_eq!(
        sender.text("1003", &"x".repeat(25)).await.status(),
        Some(202)
    );
    let room = sender.text("1003", &"y".repeat(25)).await;
    assert_eq!(room.status(), Some(507));
    let big = sender.text("1003", &"z".repeat(31)).await;
    assert_eq!(big.status(), Some(413));
    assert_eq!(big.reason(), Some("Message Body Too Large"));
    // nothing refused was stored
    assert_eq!(sw.metric("switchboard_messages_queued"), 4.0);
}

#[tokio::test]
async fn messages_past_their_ttl_are_dropped_and_never_delivered() {
    let sw = switch("ttl_secs = 3600");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut sender = registered(&sw, "1002").await;
    assert_eq!(sender.text("1001", "stale soon").await.status(), Some(202));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // an hour from now, as the sweep sees it
    let (code, body) = http(
        sw.http,
        "POST",
        "/admin/messaging/sweep",
        &[],
        Some(&format!("{{\"now\": {}}}", now + 3601)),
    );
    assert_eq!(code, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["expired_messages"], 1);
    let mut phone = registered(&sw, "1001").await;
    assert!(phone
        .maybe_request(Method::Message, Duration::from_millis(800))
        .await
        .is_none());
    assert_eq!(
        sw.metric("switchboard_queue_removals_total{outcome=\"expired\"}"),
        1.0
    );
}

#[tokio::test]
async fn bad_bodies_are_refused_with_a_reason() {
    let sw = switch("");
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut sender = registered(&sw, "1002").await;
    let r = sender
        .message("1001", None, "text/plain;charset=UTF-8", b"\xff\xfe\xfd")
        .await;
    assert_eq!(r.status(), Some(415));
    let r = sender.message("1001", None, "text/plain", b"").await;
    assert_eq!(r.status(), Some(400));
    // other types pass through untouched
    let r = sender
        .message("1001", None, "application/octet-stream", b"\x00\x01binary")
        .await;
    assert_eq!(r.status(), Some(202));
    let mut phone = registered(&sw, "1001").await;
    let m = phone.expect_request(Method::Message).await;
    assert_eq!(m.body(), b"\x00\x01binary");
    assert_eq!(
        m.header(HeaderName::ContentType),
        Some("application/octet-stream")
    );
    phone.reply(&m, 200);
}
