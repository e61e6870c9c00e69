//! Presence end to end: SUBSCRIBE/NOTIFY (RFC 3856, RFC 6665) with PIDF from registrations,
//! calls and PUBLISH (RFC 3903), authorization by buddy lists, resource lists (RFC 4662),
//! capabilities from Contact feature tags, coalescing, and the presence API.

mod common;

use std::time::Duration;

use common::ua::{sub_state, Proto, Sub, Ua};
use common::{basic, http, Options, Switch};
use switchboard_engine::presence::pidf::{self, Activity, Basic, PresenceDoc};
use switchboard_engine::sip::{HeaderName, Message, Method};

const PW: &str = "pw-1234";

fn switch(extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[presence]\nmin_expires_secs = 1\nnotify_interval_ms = 200\n{extra}"),
        ..Default::default()
    });
    for n in ["1001", "1002", "1003", "1004"] {
        sw.add_account(n, PW);
    }
    sw
}

async fn ua(sw: &Switch, user: &str) -> Ua {
    Ua::new(sw.sip, user, PW, Proto::Udp).await
}

/// `owner` puts `buddy` on its list over HTTP (so `buddy` may watch `owner`).
fn add_buddy(sw: &Switch, owner: &str, buddy: &str) {
    let auth = basic(owner, PW);
    let (code, body) = http(
        sw.http,
        "POST",
        &format!("/v1/accounts/{owner}/buddies"),
        &[("Authorization", &auth)],
        Some(&format!(r#"{{"number":"{buddy}"}}"#)),
    );
    assert!(code == 201 || code == 200, "{code} {body}");
}

fn doc_of(m: &Message) -> PresenceDoc {
    pidf::parse(m.body()).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(m.body())))
}

fn is_open(d: &PresenceDoc) -> bool {
    d.tuples.iter().any(|t| t.basic == Basic::Open)
}

/// NOTIFYs of `sub` until one whose document satisfies `f` (within 5 s).
async fn notify_until(w: &mut Ua, sub: &Sub, f: impl Fn(&PresenceDoc) -> bool) -> PresenceDoc {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let Some(n) = w.notify(sub, Duration::from_secs(5)).await else {
            break;
        };
        if n.body().is_empty() {
            continue;
        }
        let d = doc_of(&n);
        if f(&d) {
            return d;
        }
    }
    panic!("no NOTIFY with the expected state");
}

#[tokio::test]
async fn a_watcher_sees_a_buddy_come_online_go_on_the_phone_and_go_offline() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (ok, sub) = watcher.subscribe("1002", 600).await;
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(HeaderName::Expires).is_some());
    let first = watcher.expect_notify(&sub).await;
    assert!(
        sub_state(&first).starts_with("active"),
        "{}",
        sub_state(&first)
    );
    assert_eq!(
        first.header(HeaderName::ContentType),
        Some("application/pidf+xml")
    );
    let d = doc_of(&first);
    assert!(d.entity.starts_with("sip:1002@"), "{}", d.entity);
    assert!(!is_open(&d), "not registered yet: closed");

    let mut buddy = ua(&sw, "1002").await;
    assert_eq!(buddy.register(300).await.status(), Some(200));
    let d = notify_until(&mut watcher, &sub, is_open).await;
    assert!(d
        .tuples
        .iter()
        .any(|t| t.contact.as_deref() == Some(buddy.contact().as_str())));

    // a call: both ends are on the phone until it ends
    let mut callee = ua(&sw, "1003").await;
    assert_eq!(callee.register(300).await.status(), Some(200));
    let mut out = buddy.invite("1003").await;
    let inv = callee.expect_request(Method::Invite).await;
    let _inbound = callee.accept(&inv).await;
    assert_eq!(buddy.invite_outcome(&mut out).await.status(), Some(200));
    notify_until(&mut watcher, &sub, |d| {
        d.activities.contains(&Activity::OnThePhone)
    })
    .await;
    let (bye, _) = tokio::join!(buddy.request_in_dialog(&mut out, "BYE", None), async {
        let b = callee.expect_request(Method::Bye).await;
        callee.reply(&b, 200);
    });
    assert_eq!(bye.status(), Some(200));
    notify_until(&mut watcher, &sub, |d| {
        !d.activities.contains(&Activity::OnThePhone)
    })
    .await;

    assert_eq!(buddy.register(0).await.status(), Some(200));
    notify_until(&mut watcher, &sub, |d| !is_open(d)).await;
}

const AWAY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:1002@example.test">
  <tuple id="pub1"><status><basic>open</basic></status></tuple>
  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>in a meeting</dm:note></dm:person>
</presence>"#;

#[tokio::test]
async fn a_publication_shows_its_note_and_activity_refreshes_with_its_etag_and_expires() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 600).await;
    watcher.expect_notify(&sub).await;

    let mut buddy = ua(&sw, "1002").await;
    let ok = buddy.publish(Some(AWAY), None, 2).await;
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    let etag = ok
        .header_by_name("SIP-ETag")
        .expect("an entity tag")
        .to_owned();
    assert_eq!(ok.header(HeaderName::Expires), Some("2"));
    let d = notify_until(&mut watcher, &sub, |d| {
        d.activities.contains(&Activity::Away)
    })
    .await;
    assert!(d.notes.iter().any(|n| n == "in a meeting"), "{:?}", d.notes);

    // a refresh without a body gets a new tag; the old one no longer matches
    let refreshed = buddy.publish(None, Some(&etag), 2).await;
    assert_eq!(refreshed.status(), Some(200));
    let etag2 = refreshed.header_by_name("SIP-ETag").unwrap().to_owned();
    assert_ne!(etag, etag2);
    assert_eq!(
        buddy.publish(None, Some(&etag), 2).await.status(),
        Some(412)
    );

    // left alone it expires, and the watcher hears so
    let d = notify_until(&mut watcher, &sub, |d| {
        !d.activities.contains(&Activity::Away)
    })
    .await;
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    assert_eq!(
        buddy.publish(None, Some(&etag2), 2).await.status(),
        Some(412),
        "gone"
    );
}

#[tokio::test]
async fn a_bad_publication_is_refused_with_a_reason_and_changes_nothing() {
    let sw = switch("");
    let mut buddy = ua(&sw, "1002").await;
    let bad = buddy.publish(Some("<presence"), None, 60).await;
    assert_eq!(bad.status(), Some(400));
    assert!(!bad.reason().unwrap_or("").is_empty());
    let no_body = buddy.publish(None, None, 60).await;
    assert_eq!(no_body.status(), Some(400));
    // nobody publishes for a number without its password
    let mut forged = Ua::new(sw.sip, "1002", "not-the-password", Proto::Udp).await;
    assert_eq!(
        forged.publish(Some(AWAY), None, 60).await.status(),
        Some(403)
    );
}

#[tokio::test]
async fn an_unauthorized_watcher_waits_pending_until_the_owner_allows_and_ends_when_refused() {
    let sw = switch("");
    let mut watcher = ua(&sw, "1001").await;
    let (ok, sub) = watcher.subscribe("1003", 600).await;
    assert_eq!(ok.status(), Some(200));
    let first = watcher.expect_notify(&sub).await;
    assert!(
        sub_state(&first).starts_with("pending"),
        "{}",
        sub_state(&first)
    );
    assert!(first.body().is_empty(), "a pending watcher learns nothing");

    let owner = basic("1003", PW);
    let (code, body) = http(
        sw.http,
        "GET",
        "/v1/accounts/1003/watchers?state=pending",
        &[("Authorization", &owner)],
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("1001"), "{body}");
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1003/watchers/1001",
        &[("Authorization", &owner)],
        Some(r#"{"allow":true}"#),
    );
    assert!((200..300).contains(&code), "{code} {body}");
    let allowed = watcher.expect_notify(&sub).await;
    assert!(sub_state(&allowed).starts_with("active"));
    assert_eq!(doc_of(&allowed).entity.split('@').next(), Some("sip:1003"));

    // the owner withdraws it: the subscription ends, and a new one is refused
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1003/watchers/1001",
        &[("Authorization", &owner)],
        Some(r#"{"allow":false}"#),
    );
    assert!((200..300).contains(&code), "{code} {body}");
    // (mutual buddies: allowing put 1001 on 1003's list; take it off too)
    let _ = http(
        sw.http,
        "DELETE",
        "/v1/accounts/1003/buddies/1001",
        &[("Authorization", &owner)],
        None,
    );
    let end = watcher.expect_notify(&sub).await;
    assert_eq!(sub_state(&end), "terminated;reason=rejected");
    let (again, _) = watcher.subscribe("1003", 600).await;
    assert_eq!(again.status(), Some(403));
}

#[tokio::test]
async fn a_number_without_an_account_gets_the_same_pending_answer_as_one_with() {
    let sw = switch("");
    let mut watcher = ua(&sw, "1001").await;
    let (known, s1) = watcher.subscribe("1004", 600).await;
    let (unknown, s2) = watcher.subscribe("1999", 600).await;
    assert_eq!(known.status(), unknown.status());
    let (a, b) = (
        watcher.expect_notify(&s1).await,
        watcher.expect_notify(&s2).await,
    );
    assert_eq!(sub_state(&a), sub_state(&b));
    assert_eq!(a.body(), b.body());
}

#[tokio::test]
async fn refresh_unsubscribe_and_unknown_dialogs_follow_rfc_6665() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, mut sub) = watcher.subscribe("1002", 600).await;
    watcher.expect_notify(&sub).await;

    let r = watcher.resubscribe(&mut sub, 300).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header(HeaderName::Expires), Some("300"));
    let n = watcher.expect_notify(&sub).await;
    assert!(
        sub_state(&n).starts_with("active;expires="),
        "{}",
        sub_state(&n)
    );

    let r = watcher.resubscribe(&mut sub, 0).await;
    assert_eq!(r.status(), Some(200));
    let n = watcher.expect_notify(&sub).await;
    assert!(sub_state(&n).starts_with("terminated"), "{}", sub_state(&n));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(watcher.resubscribe(&mut sub, 300).await.status(), Some(481));

    let mut stray = sub.clone();
    stray.call_id = "no-such-dialog".into();
    assert_eq!(
        watcher.resubscribe(&mut stray, 300).await.status(),
        Some(481)
    );
}

#[tokio::test]
async fn an_expired_subscription_ends_with_reason_timeout() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 1).await;
    watcher.expect_notify(&sub).await;
    let end = watcher.expect_notify(&sub).await;
    assert_eq!(sub_state(&end), "terminated;reason=timeout");
}

#[tokio::test]
async fn a_bad_event_or_too_brief_interval_is_refused() {
    let sw = switch("");
    let mut watcher = ua(&sw, "1001").await;
    let (bad, _) = watcher.subscribe_event("1002", "dialog", 600).await;
    assert_eq!(bad.status(), Some(489));
    assert_eq!(
        bad.header(HeaderName::AllowEvents),
        Some("presence, message-summary")
    );
    let sw2 = Switch::with(Options {
        config: "[presence]\nmin_expires_secs = 120\n".into(),
        ..Default::default()
    });
    sw2.add_account("1001", PW);
    let mut w2 = ua(&sw2, "1001").await;
    let (brief, _) = w2.subscribe("1002", 30).await;
    assert_eq!(brief.status(), Some(423));
    assert_eq!(brief.header(HeaderName::MinExpires), Some("120"));
}

#[tokio::test]
async fn capabilities_come_from_the_contact_feature_tags() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    add_buddy(&sw, "1001", "1002");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 600).await;
    watcher.expect_notify(&sub).await;
    let mut buddy = ua(&sw, "1002").await;
    let contact = format!(
        "<{}>;audio;video;methods=\"INVITE,BYE,MESSAGE\"",
        buddy.contact()
    );
    assert_eq!(
        buddy.register_contact(&contact, Some(300)).await.status(),
        Some(200)
    );
    let d = notify_until(&mut watcher, &sub, is_open).await;
    let caps = d
        .tuples
        .iter()
        .find_map(|t| t.caps)
        .expect("caps in the tuple");
    let names: Vec<&str> = caps.names().collect();
    assert_eq!(names, ["audio", "video", "message"]);

    // the presence API merges them for web clients
    let (code, body) = http(
        sw.http,
        "GET",
        "/v1/accounts/1001/presence",
        &[("Authorization", &basic("1001", PW))],
        None,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let b = &v["buddies"][0];
    assert_eq!(b["number"], "1002", "{body}");
    assert_eq!(b["status"], "open", "{body}");
    assert_eq!(
        b["capabilities"],
        serde_json::json!(["audio", "video", "message"])
    );
}

#[tokio::test]
async fn a_burst_of_changes_is_coalesced_and_the_last_state_arrives() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 600).await;
    watcher.expect_notify(&sub).await;
    let mut buddy = ua(&sw, "1002").await;
    let mut etag: Option<String> = None;
    for i in 0..10 {
        let body = AWAY.replace("in a meeting", &format!("note {i}"));
        let r = buddy.publish(Some(&body), etag.as_deref(), 60).await;
        assert_eq!(r.status(), Some(200));
        etag = r.header_by_name("SIP-ETag").map(str::to_owned);
    }
    let mut seen = Vec::new();
    while let Some(n) = watcher.notify(&sub, Duration::from_millis(800)).await {
        seen.push(doc_of(&n));
    }
    assert!(!seen.is_empty());
    assert!(seen.len() < 10, "{} NOTIFYs for 10 changes", seen.len());
    assert_eq!(seen.last().unwrap().notes, ["note 9"]);
    let versions: Vec<u64> = seen.iter().filter_map(|d| d.version).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

#[tokio::test]
async fn a_buddy_list_subscription_carries_every_buddy_in_one_notify() {
    let sw = switch("");
    add_buddy(&sw, "1001", "1002");
    add_buddy(&sw, "1001", "1003");
    // both allow 1001 to watch them
    add_buddy(&sw, "1002", "1001");
    add_buddy(&sw, "1003", "1001");
    let mut owner = ua(&sw, "1001").await;
    let (ok, sub) = owner.subscribe("buddies-1001", 600).await;
    assert_eq!(ok.status(), Some(200), "{:?}", ok.reason());
    assert_eq!(ok.header(HeaderName::Require), Some("eventlist"));
    let n = owner.expect_notify(&sub).await;
    let ct = n.header(HeaderName::ContentType).unwrap_or("");
    assert!(ct.starts_with("multipart/related"), "{ct}");
    let body = String::from_utf8_lossy(n.body()).into_owned();
    assert!(body.contains("fullState=\"true\""), "{body}");
    assert!(
        body.contains("sip:1002@") && body.contains("sip:1003@"),
        "{body}"
    );
    assert_eq!(body.matches("application/pidf+xml").count(), 2, "{body}");

    let mut b = ua(&sw, "1002").await;
    assert_eq!(b.register(300).await.status(), Some(200));
    let n = owner.expect_notify(&sub).await;
    let body = String::from_utf8_lossy(n.body()).into_owned();
    assert!(body.contains("fullState=\"false\""), "{body}");
    assert!(
        body.contains("sip:1002@") && !body.contains("sip:1003@"),
        "{body}"
    );
    assert!(
        body.contains("<basic>open</basic>") || body.contains(":basic>open<"),
        "{body}"
    );

    // someone else's list is not theirs to watch
    let mut other = ua(&sw, "1002").await;
    let (no, _) = other.subscribe("buddies-1001", 600).await;
    assert_eq!(no.status(), Some(403));
}

#[tokio::test]
async fn removing_an_account_ends_the_subscriptions_its_buddy_list_allowed() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 600).await;
    assert!(sub_state(&watcher.expect_notify(&sub).await).starts_with("active"));
    let (code, _, err) = common::cli(&["account", "remove", "1002"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let end = watcher.expect_notify(&sub).await;
    assert_eq!(sub_state(&end), "terminated;reason=rejected");
}

#[tokio::test]
async fn one_watcher_holds_at_most_its_share_of_subscriptions() {
    let sw = switch("max_subscriptions_per_watcher = 2\n");
    let mut watcher = ua(&sw, "1001").await;
    let (a, s1) = watcher.subscribe("1002", 600).await;
    let (b, _) = watcher.subscribe("1003", 600).await;
    assert_eq!((a.status(), b.status()), (Some(200), Some(200)));
    let (c, _) = watcher.subscribe("1004", 600).await;
    assert_eq!(c.status(), Some(503));
    assert!(c.header_by_name("Retry-After").is_some());
    // ending one gives its slot back
    watcher.expect_notify(&s1).await;
    let mut s1 = s1;
    assert_eq!(watcher.resubscribe(&mut s1, 0).await.status(), Some(200));
    watcher.expect_notify(&s1).await;
    let mut again = None;
    for _ in 0..20 {
        let (d, _) = watcher.subscribe("1004", 600).await;
        if d.status() == Some(200) {
            again = d.status();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, Some(200));
}

#[tokio::test]
async fn a_refresh_that_moves_to_a_contact_that_cannot_be_reached_is_refused() {
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, mut sub) = watcher.subscribe("1002", 600).await;
    watcher.expect_notify(&sub).await;
    let r = watcher
        .resubscribe_with_contact(&mut sub, 600, "<tel:+15551230002>")
        .await;
    assert_eq!(r.status(), Some(400));
    // the subscription goes on where it was
    let r = watcher.resubscribe(&mut sub, 600).await;
    assert_eq!(r.status(), Some(200));
    watcher.expect_notify(&sub).await;
}

// the fault is injected by a hook that release builds compile out
#[cfg(debug_assertions)]
#[tokio::test]
async fn a_failing_presentity_ends_its_subscriptions_deactivated_and_a_new_one_sees_newer_versions()
{
    let sw = switch("");
    add_buddy(&sw, "1002", "1001");
    let mut watcher = ua(&sw, "1001").await;
    let (_, sub) = watcher.subscribe("1002", 600).await;
    let before = doc_of(&watcher.expect_notify(&sub).await).version.unwrap();
    let mut buddy = ua(&sw, "1002").await;
    let r = buddy
        .publish_with(Some(AWAY), None, 60, &[("X-Switchboard-Fault", "panic")])
        .await;
    assert_eq!(r.status(), Some(500));
    let end = watcher.expect_notify(&sub).await;
    assert_eq!(sub_state(&end), "terminated;reason=deactivated");
    // the phone subscribes again: a fresh Extension, with versions above the old ones
    let (ok, sub) = watcher.subscribe("1002", 600).await;
    assert_eq!(ok.status(), Some(200));
    let after = doc_of(&watcher.expect_notify(&sub).await).version.unwrap();
    assert!(after > before, "{after} > {before}");
}

#[tokio::test]
async fn in_lab_mode_without_authentication_anyone_may_watch() {
    let sw = Switch::with(Options {
        auth_off: true,
        config: "[presence]\nmin_expires_secs = 1\nnotify_interval_ms = 200\n".into(),
        ..Default::default()
    });
    let mut watcher = Ua::new(sw.sip, "2001", "", Proto::Udp).await;
    let (ok, sub) = watcher.subscribe("2002", 600).await;
    assert_eq!(ok.status(), Some(200));
    let first = watcher.expect_notify(&sub).await;
    assert!(
        sub_state(&first).starts_with("active"),
        "{}",
        sub_state(&first)
    );
    assert!(!first.body().is_empty());
}

#[tokio::test]
async fn a_caller_nobody_watched_shows_its_call_to_a_watcher_who_comes_during_it() {
    // lab mode: the caller is who From says and runs no Extension (no registration, no
    // digest); the call's presence waits in its directory until something starts one
    let sw = Switch::with(Options {
        auth_off: true,
        config: "[presence]\nmin_expires_secs = 1\nnotify_interval_ms = 200\n".into(),
        ..Default::default()
    });
    let mut callee = Ua::new(sw.sip, "2003", "", Proto::Udp).await;
    assert_eq!(callee.register(300).await.status(), Some(200));
    let mut caller = Ua::new(sw.sip, "2001", "", Proto::Udp).await;
    let mut out = caller.invite("2003").await;
    let inv = callee.expect_request(Method::Invite).await;
    let _inbound = callee.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));

    let mut watcher = Ua::new(sw.sip, "2004", "", Proto::Udp).await;
    let (ok, sub) = watcher.subscribe("2001", 600).await;
    assert_eq!(ok.status(), Some(200));
    notify_until(&mut watcher, &sub, |d| {
        d.activities.contains(&Activity::OnThePhone)
    })
    .await;
    let (bye, _) = tokio::join!(caller.request_in_dialog(&mut out, "BYE", None), async {
        let b = callee.expect_request(Method::Bye).await;
        callee.reply(&b, 200);
    });
    assert_eq!(bye.status(), Some(200));
    notify_until(&mut watcher, &sub, |d| {
        !d.activities.contains(&Activity::OnThePhone)
    })
    .await;

    // a call that ended before anyone looked leaves nothing behind
    let mut other = Ua::new(sw.sip, "2006", "", Proto::Udp).await;
    let mut out = other.invite("2003").await;
    let inv = callee.expect_request(Method::Invite).await;
    let _inbound = callee.accept(&inv).await;
    assert_eq!(other.invite_outcome(&mut out).await.status(), Some(200));
    let (bye, _) = tokio::join!(other.request_in_dialog(&mut out, "BYE", None), async {
        let b = callee.expect_request(Method::Bye).await;
        callee.reply(&b, 200);
    });
    assert_eq!(bye.status(), Some(200));
    let mut late = Ua::new(sw.sip, "2005", "", Proto::Udp).await;
    let (ok, sub) = late.subscribe("2006", 600).await;
    assert_eq!(ok.status(), Some(200));
    let first = late.expect_notify(&sub).await;
    assert!(!doc_of(&first).activities.contains(&Activity::OnThePhone));
}
