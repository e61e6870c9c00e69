//! Message waiting end to end (RFC 3842 `message-summary`): test phones SUBSCRIBE to their own
//! mailbox (by number or by the voicemail number) and get its summary, then a NOTIFY within a
//! second of each change; phones that did not subscribe get unsolicited NOTIFYs; nobody else
//! may watch a mailbox, and the refusal is the same whether the number has one or not.
//!
//! Most tests here set a mailbox's counts exactly through the debug-build hook `POST
//! /v1/debug/mailboxes/{number}/changed`, which hands the switch the same `MailboxChanged` the
//! store does (release builds have no such route, so those tests are debug-only); the last
//! one changes a real mailbox over HTTP (import, mark heard, delete), in every build.

// release builds run only the last test: the others' helpers go unused there
#![cfg_attr(not(debug_assertions), allow(dead_code, unused_imports))]

mod common;

use std::time::{Duration, Instant};

use common::ua::{sub_state, Proto, Sub, Ua};
use common::voicemail::{import, json, tone_wav, Format};
use common::{basic, http, Options, Switch};
use switchboard_engine::sip::{HeaderName, Message, Method};
use switchboard_engine::voicemail::summary::{self, Counts};
use switchboard_engine::voicemail::{MessageClass, MessageSummary};

const PW: &str = "pw-5678";
const SUMMARY: &str = "application/simple-message-summary";
/// How soon a change must reach a phone.
const WITHIN: Duration = Duration::from_secs(1);

fn switch(extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[presence]\nmin_expires_secs = 1\nnotify_interval_ms = 200\n{extra}"),
        ..Default::default()
    });
    for n in ["1001", "1002"] {
        sw.add_account(n, PW);
    }
    sw
}

async fn phone(sw: &Switch, user: &str) -> Ua {
    Ua::new(sw.sip, user, PW, Proto::Udp).await
}

/// The mailbox of `number` now holds `new` new and `old` old messages (the store's word).
#[cfg(debug_assertions)]
fn mailbox_changed(sw: &Switch, number: &str, new: u32, old: u32) {
    let (code, body) = http(
        sw.http,
        "POST",
        &format!("/v1/debug/mailboxes/{number}/changed"),
        &[],
        Some(&format!(r#"{{"new":{new},"old":{old}}}"#)),
    );
    assert_eq!(code, 202, "{body}");
}

/// The summary a NOTIFY carries, with the headers every message-summary NOTIFY has.
fn summary_of(n: &Message) -> MessageSummary {
    assert_eq!(n.header(HeaderName::Event), Some("message-summary"));
    assert_eq!(n.header(HeaderName::ContentType), Some(SUMMARY));
    summary::parse(n.body())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(n.body())))
}

fn voice(s: &MessageSummary) -> Counts {
    s.counts(MessageClass::Voice).expect("a Voice-Message line")
}

fn counts(new: u32, old: u32) -> Counts {
    Counts {
        new,
        old,
        ..Counts::default()
    }
}

/// The next unsolicited message-summary NOTIFY (no To tag: no dialog) within `wait`, answered
/// 200.
async fn unsolicited(ua: &mut Ua, wait: Duration) -> Option<Message> {
    let n = ua
        .recv_where(wait, |m| {
            m.method() == Some(Method::Notify) && m.to_tag().is_none()
        })
        .await?;
    ua.reply(&n, 200);
    Some(n)
}

async fn subscribed(ua: &mut Ua, to: &str) -> Sub {
    let (ok, sub) = ua.subscribe_event(to, "message-summary", 600).await;
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    sub
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn a_subscribed_phone_sees_its_empty_mailbox_then_each_change_within_a_second() {
    let sw = switch("");
    let mut p = phone(&sw, "1002").await;
    assert_eq!(p.register(300).await.status(), Some(200));
    let (ok, mut sub) = p.subscribe_event("1002", "message-summary", 600).await;
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    assert_eq!(ok.header(HeaderName::Expires), Some("600"));
    let first = p.expect_notify(&sub).await;
    assert!(
        sub_state(&first).starts_with("active;expires="),
        "{}",
        sub_state(&first)
    );
    let s = summary_of(&first);
    assert!(!s.waiting, "no messages: the lamp is off");
    assert_eq!(voice(&s), counts(0, 0));
    let account = s.account.expect("the mailbox's account");
    assert!(account.starts_with("sip:1002@"), "{account}");

    let t = Instant::now();
    mailbox_changed(&sw, "1002", 1, 0);
    let n = p
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    let s = summary_of(&n);
    assert!(s.waiting);
    assert_eq!(voice(&s), counts(1, 0));
    assert!(
        String::from_utf8_lossy(n.body()).contains("Voice-Message: 1/0"),
        "{}",
        String::from_utf8_lossy(n.body())
    );
    assert!(t.elapsed() < WITHIN, "{:?}", t.elapsed());
    // the subscribed phone hears through its subscription, not unsolicited as well
    assert!(unsolicited(&mut p, Duration::from_millis(600))
        .await
        .is_none());

    // the same summary again tells nothing new; heard, the lamp goes off
    mailbox_changed(&sw, "1002", 1, 0);
    mailbox_changed(&sw, "1002", 0, 1);
    let n = p
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    let s = summary_of(&n);
    assert!(!s.waiting);
    assert_eq!(voice(&s), counts(0, 1));

    // a refresh gets the state again; unsubscribing ends it with a final NOTIFY
    assert_eq!(p.resubscribe(&mut sub, 600).await.status(), Some(200));
    assert_eq!(
        voice(&summary_of(&p.expect_notify(&sub).await)),
        counts(0, 1)
    );
    assert_eq!(p.resubscribe(&mut sub, 0).await.status(), Some(200));
    let end = p.expect_notify(&sub).await;
    assert!(
        sub_state(&end).starts_with("terminated"),
        "{}",
        sub_state(&end)
    );
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn the_voicemail_number_watches_ones_own_mailbox_and_nobody_elses() {
    let sw = switch("");
    let mut owner = phone(&sw, "1002").await;
    let sub = subscribed(&mut owner, "*98").await;
    let s = summary_of(&owner.expect_notify(&sub).await);
    assert!(s.account.is_some_and(|a| a.starts_with("sip:1002@")));
    mailbox_changed(&sw, "1002", 3, 2);
    let n = owner
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    assert_eq!(voice(&summary_of(&n)), counts(3, 2));

    // someone else's mailbox, one with an account and one without: the same 403
    let mut other = phone(&sw, "1001").await;
    let (known, _) = other.subscribe_event("1002", "message-summary", 600).await;
    let (unknown, _) = other.subscribe_event("1999", "message-summary", 600).await;
    for r in [&known, &unknown] {
        assert_eq!(r.status(), Some(403));
        assert_eq!(r.reason(), Some("Forbidden"));
    }
    // a wrong password is refused before anything is looked up
    let mut intruder = Ua::new(sw.sip, "1001", "wrong", Proto::Udp).await;
    let (r, _) = intruder
        .subscribe_event("1002", "message-summary", 600)
        .await;
    assert_eq!(r.status(), Some(403));
    // the body type is the package's: a phone that takes only PIDF is told what it would get
    let mut pidf_only = phone(&sw, "1001").await;
    let call_id = format!("acc-{}", pidf_only.token());
    let raw = accept_pidf_subscribe(&mut pidf_only, &call_id);
    pidf_only.send(raw.into());
    let r = pidf_only.final_response(&call_id, "SUBSCRIBE").await;
    assert_eq!(r.status(), Some(406));
    assert_eq!(r.header(HeaderName::Accept), Some(SUMMARY));
    // the owner's subscription went on
    mailbox_changed(&sw, "1002", 0, 5);
    let n = owner
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    assert_eq!(voice(&summary_of(&n)), counts(0, 5));
}

/// A SUBSCRIBE to the phone's own message-summary that accepts only PIDF.
fn accept_pidf_subscribe(ua: &mut Ua, call_id: &str) -> String {
    let (branch, tag) = (ua.token(), ua.token());
    let uri = format!("sip:{}@{}", ua.user, ua.server.ip());
    format!(
        "SUBSCRIBE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <{uri}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 SUBSCRIBE\r\nContact: <{contact}>\r\nEvent: message-summary\r\n\
         Accept: application/pidf+xml\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
        l = ua.local,
        contact = ua.contact(),
    )
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn phones_that_did_not_subscribe_get_unsolicited_notifies() {
    let sw = switch("");
    let mut desk = phone(&sw, "1002").await;
    assert_eq!(desk.register(300).await.status(), Some(200));
    // no messages: registering brings no NOTIFY
    assert!(unsolicited(&mut desk, Duration::from_millis(500))
        .await
        .is_none());

    let t = Instant::now();
    mailbox_changed(&sw, "1002", 2, 0);
    let n = unsolicited(&mut desk, WITHIN)
        .await
        .expect("an unsolicited NOTIFY within a second");
    assert!(t.elapsed() < WITHIN, "{:?}", t.elapsed());
    assert_eq!(n.request_uri_str(), Some(desk.contact().as_str()));
    assert_eq!(sub_state(&n), "active");
    assert!(n
        .header(HeaderName::AllowEvents)
        .is_some_and(|a| a.contains("message-summary")));
    assert!(n
        .to()
        .is_some_and(|t| t.uri().as_str().starts_with("sip:1002@")));
    let s = summary_of(&n);
    assert!(s.waiting);
    assert_eq!(voice(&s), counts(2, 0));

    // a second phone of the number registers while messages wait: it is told at once
    let mut mobile = phone(&sw, "1002").await;
    assert_eq!(mobile.register(300).await.status(), Some(200));
    let n = unsolicited(&mut mobile, WITHIN)
        .await
        .expect("an unsolicited NOTIFY on registering");
    assert_eq!(voice(&summary_of(&n)), counts(2, 0));
    // a refresh of a registration is not a new phone
    assert_eq!(mobile.register(300).await.status(), Some(200));
    assert!(unsolicited(&mut mobile, Duration::from_millis(500))
        .await
        .is_none());

    // once the desk phone subscribes, it hears through its subscription only
    let sub = subscribed(&mut desk, "1002").await;
    assert_eq!(
        voice(&summary_of(&desk.expect_notify(&sub).await)),
        counts(2, 0)
    );
    mailbox_changed(&sw, "1002", 0, 2);
    let n = desk
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    assert_eq!(voice(&summary_of(&n)), counts(0, 2));
    let n = unsolicited(&mut mobile, WITHIN)
        .await
        .expect("the other phone still told unsolicited");
    assert!(!summary_of(&n).waiting);
    assert!(unsolicited(&mut desk, Duration::from_millis(500))
        .await
        .is_none());
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn no_unsolicited_notify_goes_when_the_switch_is_told_not_to() {
    let sw = switch("[voicemail]\nunsolicited_mwi = false\n");
    let mut desk = phone(&sw, "1002").await;
    assert_eq!(desk.register(300).await.status(), Some(200));
    mailbox_changed(&sw, "1002", 1, 0);
    assert!(unsolicited(&mut desk, Duration::from_millis(1500))
        .await
        .is_none());
    // a subscription still works
    let sub = subscribed(&mut desk, "1002").await;
    assert_eq!(
        voice(&summary_of(&desk.expect_notify(&sub).await)),
        counts(1, 0)
    );
}

#[tokio::test]
async fn a_real_mailbox_lights_the_lamp_when_a_message_comes_and_puts_it_out_when_heard() {
    let sw = switch("[voicemail]\nenabled = true\n");
    let mut p = phone(&sw, "1002").await;
    assert_eq!(p.register(300).await.status(), Some(200));
    let sub = subscribed(&mut p, "1002").await;
    assert_eq!(
        voice(&summary_of(&p.expect_notify(&sub).await)),
        counts(0, 0)
    );

    // the operator imports a message: stored, then the lamp within a second
    let wav = tone_wav(Format::int(8_000, 1, 16), 1.5, 440.0, -20.0);
    let t = Instant::now();
    let a = import(sw.http, "1002", "1001", &wav);
    assert_eq!(a.status, 201, "{}", a.text());
    let n = p
        .notify(&sub, WITHIN)
        .await
        .expect("a NOTIFY within a second");
    assert!(t.elapsed() < WITHIN + WITHIN, "{:?}", t.elapsed());
    let s = summary_of(&n);
    assert!(s.waiting);
    assert_eq!(voice(&s), counts(1, 0));

    // heard: kept as saved, the lamp goes off; deleted: nothing left
    let path = format!("/v1/accounts/1002/voicemail/{}", a.json()["id"]);
    let owner = basic("1002", PW);
    let r = json(sw.http, "PATCH", &path, &owner, Some(r#"{"heard": true}"#));
    assert_eq!(r.status, 200, "{}", r.text());
    let s = summary_of(&p.notify(&sub, WITHIN).await.expect("a NOTIFY"));
    assert!(!s.waiting);
    assert_eq!(voice(&s), counts(0, 1));
    let r = json(sw.http, "DELETE", &path, &owner, None);
    assert!(r.status == 204 || r.status == 200, "{}", r.text());
    let s = summary_of(&p.notify(&sub, WITHIN).await.expect("a NOTIFY"));
    assert_eq!(voice(&s), counts(0, 0));
}
