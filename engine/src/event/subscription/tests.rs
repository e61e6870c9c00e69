//! The notifier machine of a subscription, on injected time.

use super::*;
use crate::sip::Message;
use bytes::Bytes;

const SUBSCRIBE: &str = "SUBSCRIBE sip:+15551230001@sb.test SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKs1\r\n\
    Max-Forwards: 70\r\n\
    From: \"Ann\" <sip:+15551230002@sb.test>;tag=w1\r\n\
    To: <sip:+15551230001@sb.test>\r\n\
    Call-ID: c1@watcher\r\n\
    CSeq: 1 SUBSCRIBE\r\n\
    Record-Route: <sip:edge1.test;lr>, <sip:edge2.test;lr>\r\n\
    Contact: <sip:ann@127.0.0.1:5070;transport=udp>;expires=600\r\n\
    Event: presence;id=7\r\n\
    Expires: 600\r\n\
    Content-Length: 0\r\n\r\n";

fn dialog() -> Dialog {
    let m = Message::parse(Bytes::from_static(SUBSCRIBE.as_bytes())).unwrap();
    Dialog::from_subscribe(&m, "srv1").unwrap()
}

fn sub(t: Instant, state: State) -> Subscription {
    Subscription::new(
        dialog(),
        t,
        Duration::from_secs(600),
        Duration::from_millis(500),
        state,
    )
}

#[test]
fn the_dialog_is_taken_from_the_subscribe() {
    let d = dialog();
    assert_eq!(d.call_id, "c1@watcher");
    assert_eq!(d.remote_tag, "w1");
    assert_eq!(d.local_tag, "srv1");
    assert_eq!(d.remote_uri, "\"Ann\" <sip:+15551230002@sb.test>");
    assert_eq!(d.local_uri, "<sip:+15551230001@sb.test>");
    assert_eq!(d.remote_target, "sip:ann@127.0.0.1:5070;transport=udp");
    assert_eq!(d.route_set, ["<sip:edge1.test;lr>", "<sip:edge2.test;lr>"]);
    assert_eq!(d.event, "presence");
    assert_eq!(d.event_id.as_deref(), Some("7"));
    assert_eq!(event_package("Presence ;id=7"), "presence");
}

#[test]
fn a_subscribe_without_contact_or_from_tag_makes_no_dialog() {
    let no_contact = SUBSCRIBE.replace(
        "Contact: <sip:ann@127.0.0.1:5070;transport=udp>;expires=600\r\n",
        "",
    );
    let m = Message::parse(Bytes::from(no_contact)).unwrap();
    assert_eq!(Dialog::from_subscribe(&m, "x"), Err(DialogError::NoContact));
    let no_tag = SUBSCRIBE.replace(";tag=w1", "");
    let m = Message::parse(Bytes::from(no_tag)).unwrap();
    assert_eq!(Dialog::from_subscribe(&m, "x"), Err(DialogError::NoFromTag));
    for bad in ["<sip:ann@127.0.0.1:5070?Subject=x>", "<tel:+15551230002>"] {
        let c = SUBSCRIBE.replace("<sip:ann@127.0.0.1:5070;transport=udp>", bad);
        let m = Message::parse(Bytes::from(c)).unwrap();
        assert_eq!(
            Dialog::from_subscribe(&m, "x"),
            Err(DialogError::BadContact),
            "{bad}"
        );
    }
}

#[test]
fn the_first_notify_goes_at_once_with_the_state() {
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    let n = s.poll_notify(t).unwrap();
    assert_eq!(
        (n.cseq, n.state, n.with_state, n.version, n.full),
        (1, State::Active, true, 0, true)
    );
    assert_eq!(n.expires_in, 600);
    assert!(s.poll_notify(t).is_none(), "nothing changed");
}

#[test]
fn a_burst_of_changes_makes_one_notify_per_interval_and_never_two_in_flight() {
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    s.poll_notify(t).unwrap();
    s.changed();
    assert!(
        s.poll_notify(t + Duration::from_millis(600)).is_none(),
        "first still in flight"
    );
    s.on_response(200);
    for _ in 0..100 {
        s.changed();
    }
    let t1 = t + Duration::from_millis(100);
    assert!(s.poll_notify(t1).is_none(), "within the interval");
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_millis(500)));
    let n = s.poll_notify(t + Duration::from_millis(500)).unwrap();
    assert_eq!((n.cseq, n.version, n.full), (2, 1, false));
    s.on_response(200);
    assert!(
        s.poll_notify(t + Duration::from_secs(5)).is_none(),
        "the burst made one NOTIFY"
    );
}

#[test]
fn a_refresh_gets_a_full_notify_at_once_and_moves_the_expiry() {
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    s.poll_notify(t).unwrap();
    s.on_response(200);
    let t1 = t + Duration::from_millis(10);
    s.refresh(t1, Duration::from_secs(300));
    let n = s.poll_notify(t1).unwrap();
    assert!(n.full);
    assert_eq!(n.expires_in, 300);
    assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(300)));
}

#[test]
fn unsubscribing_sends_a_final_notify_and_ends_when_it_is_answered() {
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    s.poll_notify(t).unwrap();
    s.on_response(200);
    s.refresh(t, Duration::ZERO);
    let n = s.poll_notify(t).unwrap();
    assert_eq!(n.state, State::Terminated("timeout"));
    assert!(!n.with_state);
    assert!(!s.is_done());
    s.on_response(200);
    assert!(s.is_done());
    assert!(s.poll_notify(t).is_none());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn an_expired_subscription_ends_with_reason_timeout() {
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    s.poll_notify(t).unwrap();
    s.on_response(200);
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(600)));
    let end = t + Duration::from_secs(600);
    s.handle_timeout(end);
    assert_eq!(
        s.poll_notify(end).unwrap().state,
        State::Terminated("timeout")
    );
}

#[test]
fn a_subscriber_that_forgot_the_dialog_or_went_silent_ends_it_without_a_final_notify() {
    for code in [481, 408, 0, 489, 404, 480, 501] {
        let t = Instant::now();
        let mut s = sub(t, State::Active);
        s.poll_notify(t).unwrap();
        s.on_response(code);
        assert!(s.is_done(), "{code}");
    }
    let t = Instant::now();
    let mut s = sub(t, State::Active);
    s.poll_notify(t).unwrap();
    s.on_response(500);
    assert!(!s.is_done(), "other failures keep the subscription");
}

#[test]
fn a_pending_subscriber_learns_nothing_until_allowed_and_ends_when_rejected() {
    let t = Instant::now();
    let mut s = sub(t, State::Pending);
    let n = s.poll_notify(t).unwrap();
    assert_eq!((n.state, n.with_state), (State::Pending, false));
    s.on_response(200);
    s.changed();
    assert!(
        s.poll_notify(t + Duration::from_secs(1)).is_none(),
        "changes are not told"
    );
    s.set_state(State::Active);
    let n = s.poll_notify(t + Duration::from_secs(1)).unwrap();
    assert_eq!((n.state, n.with_state, n.full), (State::Active, true, true));
    s.on_response(200);
    s.terminate("rejected");
    let n = s.poll_notify(t + Duration::from_millis(1100)).unwrap();
    assert_eq!(n.state, State::Terminated("rejected"));
}

#[test]
fn a_fetch_by_a_pending_watcher_gets_one_notify_without_state() {
    let t = Instant::now();
    let mut s = Subscription::new(
        dialog(),
        t,
        Duration::ZERO,
        Duration::from_millis(500),
        State::Pending,
    );
    let n = s.poll_notify(t).unwrap();
    assert_eq!(
        (n.state, n.with_state),
        (State::Terminated("timeout"), false)
    );
    s.on_response(200);
    assert!(s.is_done());
    assert!(
        s.poll_notify(t + Duration::from_secs(1)).is_none(),
        "one NOTIFY only"
    );
}

#[test]
fn a_refresh_with_a_contact_that_cannot_be_a_target_is_refused() {
    let mut d = dialog();
    let c = SUBSCRIBE.replace(
        "<sip:ann@127.0.0.1:5070;transport=udp>",
        "<tel:+15551230002>",
    );
    let m = Message::parse(Bytes::from(c)).unwrap();
    assert_eq!(d.retarget(&m), Err(DialogError::BadContact));
    assert_eq!(
        d.remote_target, "sip:ann@127.0.0.1:5070;transport=udp",
        "unchanged"
    );
    let c = SUBSCRIBE.replace(
        "<sip:ann@127.0.0.1:5070;transport=udp>",
        "<sip:ann@10.0.0.9>",
    );
    let m = Message::parse(Bytes::from(c)).unwrap();
    assert_eq!(d.retarget(&m), Ok(()));
    assert_eq!(d.remote_target, "sip:ann@10.0.0.9");
}

#[test]
fn a_fetch_gets_one_notify_with_the_state_that_ends_it() {
    let t = Instant::now();
    let mut s = Subscription::new(
        dialog(),
        t,
        Duration::ZERO,
        Duration::from_millis(500),
        State::Active,
    );
    let n = s.poll_notify(t).unwrap();
    assert_eq!(
        (n.state, n.with_state),
        (State::Terminated("timeout"), true)
    );
    s.on_response(200);
    assert!(s.is_done());
}
