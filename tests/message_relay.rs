//! The workers' MESSAGE relay (`actors/src/worker/pager`) end to end: a retransmission gets
//! the same answer and no second delivery; the relay sees registrations as they change (the
//! locations table each Extension writes); an unknown number that signs up is found; a
//! routing decision the relay does not carry out (a forward) still reaches its target.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::ua::{Proto, Ua};
use common::{Options, Switch, TempDir};
use switchboard_engine::sip::{Message, Method, RequestBuilder};

const PW: &str = "pw-1234";

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    assert_eq!(ua.register(300).await.status(), Some(200));
    ua
}

/// A MESSAGE from `ua` (lab mode: no credentials) to `to` with a fixed branch and Call-ID.
fn message_bytes(ua: &Ua, to: &str, branch: &str, call_id: &str, text: &str) -> Bytes {
    let uri = format!("sip:{to}@{}", ua.server);
    RequestBuilder::new("MESSAGE", &uri)
        .header(
            "Via",
            &format!("SIP/2.0/UDP {};branch=z9hG4bK{branch};rport", ua.local),
        )
        .header("Max-Forwards", "70")
        .header("From", &format!("<{}>;tag=t{branch}", ua.aor()))
        .header("To", &format!("<{uri}>"))
        .header("Call-ID", call_id)
        .header("CSeq", "1 MESSAGE")
        .build(Some(("text/plain", text.as_bytes())))
}

fn lab() -> Switch {
    Switch::with(Options {
        auth_off: true,
        config: "[messaging]\nretry_initial_ms = 200\nretry_max_secs = 1\n".into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_retransmitted_message_gets_the_same_answer_and_is_delivered_once() {
    let sw = lab();
    let mut phone = registered(&sw, "1001").await;
    let mut sender = registered(&sw, "1002").await;
    let req = message_bytes(&sender, "1001", "retrans1", "relay-retrans", "once");
    sender.send(req.clone());
    let delivered = phone.expect_request(Method::Message).await;
    // the sender sends again before the phone answered: absorbed, nothing goes twice
    sender.send(req.clone());
    phone.reply(&delivered, 200);
    let first = sender.final_response("relay-retrans", "MESSAGE").await;
    assert_eq!(first.status(), Some(200));
    // and again after the answer: the same answer, from the server transaction
    sender.send(req);
    let again = sender.final_response("relay-retrans", "MESSAGE").await;
    assert_eq!(again.status(), Some(200));
    assert_eq!(again.to_tag(), first.to_tag(), "the answer the phone gave");
    let second = phone
        .maybe_request(Method::Message, Duration::from_millis(700))
        .await;
    assert!(second.is_none(), "delivered once: {second:?}");
}

#[tokio::test]
async fn the_relay_sees_a_device_come_and_go() {
    let sw = lab();
    let mut sender = registered(&sw, "1002").await;
    // nobody registered: kept for later
    assert_eq!(sender.text("1001", "one").await.status(), Some(202));
    let mut phone = registered(&sw, "1001").await;
    let queued = phone.expect_request(Method::Message).await;
    assert_eq!(queued.body(), b"one");
    phone.reply(&queued, 200);
    // the queue is empty again once the delivery is confirmed; the next text goes straight
    // to the phone that registered
    let mut direct = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if sw.metric("switchboard_messages_queued") == 0.0 {
            let (out, m) = tokio::join!(sender.text("1001", "two"), async {
                let m = phone.expect_request(Method::Message).await;
                phone.reply(&m, 200);
                m
            });
            direct = Some((out, m));
            break;
        }
    }
    let (out, m) = direct.expect("the queue emptied");
    assert_eq!(
        out.status(),
        Some(200),
        "delivered by the phone, not stored"
    );
    assert_eq!(m.body(), b"two");
    // the phone leaves: the next text is kept again
    assert_eq!(phone.register(0).await.status(), Some(200));
    assert_eq!(sender.text("1001", "three").await.status(), Some(202));
}

#[tokio::test]
async fn an_unknown_number_that_signs_up_is_found() {
    let sw = Switch::start();
    sw.add_account("1002", PW);
    let mut sender = registered(&sw, "1002").await;
    // nobody has 1001: with authentication on and no dynamic accounts, not found
    let first = sender.text("1001", "anyone?").await;
    assert_eq!(first.status(), Some(404));
    sw.add_account("1001", PW);
    let mut phone = registered(&sw, "1001").await;
    let (out, m) = tokio::join!(sender.text("1001", "hello"), async {
        let m: Message = phone.expect_request(Method::Message).await;
        phone.reply(&m, 200);
        m
    });
    assert_eq!(out.status(), Some(200));
    assert_eq!(m.body(), b"hello");
}

#[tokio::test]
async fn a_message_a_plugin_forwards_reaches_the_new_number() {
    let dir = TempDir::new("relay-plugins");
    std::fs::write(
        dir.0.join("route.lua"),
        r#"function route(req)
  if req.method == "MESSAGE" and req.dest.number == "1001" then
    return forward("1003", "unconditional")
  end
end
"#,
    )
    .unwrap();
    let sw = Switch::with(Options {
        config: "[plugins]\nwatch = false\n".into(),
        args: vec!["--plugins".into(), dir.0.display().to_string()],
        ..Default::default()
    });
    for n in ["1001", "1002", "1003"] {
        sw.add_account(n, PW);
    }
    let mut first = registered(&sw, "1001").await;
    let mut other = registered(&sw, "1003").await;
    let mut sender = registered(&sw, "1002").await;
    let (out, m) = tokio::join!(sender.text("1001", "to 1003"), async {
        let m = other.expect_request(Method::Message).await;
        other.reply(&m, 200);
        m
    });
    assert_eq!(out.status(), Some(200));
    assert_eq!(m.body(), b"to 1003");
    let stray = first
        .maybe_request(Method::Message, Duration::from_millis(300))
        .await;
    assert!(stray.is_none(), "1001 is forwarded: {stray:?}");
}
