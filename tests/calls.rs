//! Calls through the switch between real SIP agents on loopback: answered, busy, cancelled,
//! unknown, unregistered, forked, held, transferred, hung up from either side, over UDP and
//! TCP, with the number dialled in any spelling.

mod common;

use std::time::Duration;

use common::ua::{Call, Proto, Ua, SDP};
use common::Switch;
use switchboard_engine::sip::{HeaderName, Method};

const PW: &str = "test-password";

async fn registered(sw: &Switch, user: &str, proto: Proto) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, proto).await;
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

/// Caller calls callee, callee answers; returns both dialogs after the ACK arrived.
async fn establish(caller: &mut Ua, callee: &mut Ua, dial: &str) -> (Call, Call) {
    let mut out = caller.invite(dial).await;
    let inv = callee.expect_request(Method::Invite).await;
    let inbound = callee.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200));
    callee.expect_request(Method::Ack).await;
    (out, inbound)
}

#[tokio::test]
async fn an_answered_call_passes_signalling_and_leaves_media_to_the_phones() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let mut out = caller.invite("1001").await;

    let inv = callee.expect_request(Method::Invite).await;
    assert_eq!(
        inv.request_uri_str(),
        Some(callee.contact().as_str()),
        "retargeted to the contact"
    );
    assert_eq!(inv.vias().count(), 2, "the switch added its Via");
    assert_eq!(inv.record_routes().count(), 1, "the switch record-routes");
    assert_eq!(
        inv.body(),
        caller.sdp(),
        "SDP passes untouched: media flows phone to phone"
    );
    assert_eq!(inv.max_forwards(), Some(69));

    let tag = callee.token();
    callee.reply_tagged(&inv, 180, &tag, None);
    let ringing = caller
        .response(&out.call_id, 180)
        .await
        .expect("180 relayed");
    assert_eq!(ringing.to_tag(), Some(tag.as_str()));
    let answer = callee.sdp();
    callee.reply_tagged(&inv, 200, &tag, Some(("application/sdp", &answer)));
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.body(), &answer[..]);
    assert_eq!(ok.vias().count(), 1, "only the caller's Via comes back");
    callee.expect_request(Method::Ack).await;
    assert!(common::eventually(Duration::from_secs(2), || sw
        .metric("switchboard_active_calls")
        == 1.0));

    let bye = caller.in_dialog_request(&mut out, "BYE", None, true);
    caller.send(bye);
    let b = callee.expect_request(Method::Bye).await;
    assert_eq!(b.routes().count(), 0, "the switch consumed its Route");
    callee.reply(&b, 200);
    assert_eq!(
        caller.final_response(&out.call_id, "BYE").await.status(),
        Some(200)
    );
    assert!(common::eventually(Duration::from_secs(2), || {
        sw.metric("switchboard_calls_total{outcome=\"answered\"}") == 1.0
            && sw.metric("switchboard_active_calls") == 0.0
    }));
}

#[tokio::test]
async fn the_callee_can_hang_up_too() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let (out, mut inbound) = establish(&mut caller, &mut callee, "1001").await;
    let bye = callee.in_dialog_request(&mut inbound, "BYE", None, true);
    callee.send(bye);
    let b = caller.expect_request(Method::Bye).await;
    assert_eq!(b.call_id(), Some(out.call_id.as_str()));
    caller.reply(&b, 200);
    assert_eq!(
        callee
            .final_response(&inbound.call_id, "BYE")
            .await
            .status(),
        Some(200)
    );
}

#[tokio::test]
async fn a_busy_callee_is_reported_busy_and_the_failure_is_acknowledged_hop_by_hop() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let mut out = caller.invite("1001").await;
    let inv = callee.expect_request(Method::Invite).await;
    callee.reply(&inv, 486);
    let ack = callee.expect_request(Method::Ack).await;
    assert_eq!(
        ack.top_via().unwrap().branch(),
        inv.top_via().unwrap().branch(),
        "the switch's own ACK"
    );
    let r = caller.invite_outcome(&mut out).await;
    assert_eq!(r.status(), Some(486));
    assert!(common::eventually(Duration::from_secs(2), || sw
        .metric("switchboard_calls_total{outcome=\"busy\"}")
        == 1.0));
}

#[tokio::test]
async fn cancel_while_ringing_stops_the_ringing_and_the_caller_gets_487() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let out = caller.invite("1001").await;
    let inv = callee.expect_request(Method::Invite).await;
    let tag = callee.token();
    callee.reply_tagged(&inv, 180, &tag, None);
    caller.response(&out.call_id, 180).await.expect("ringing");
    caller.cancel(&out);
    assert_eq!(
        caller.final_response(&out.call_id, "CANCEL").await.status(),
        Some(200)
    );
    let cancel = callee.expect_request(Method::Cancel).await;
    callee.reply(&cancel, 200);
    callee.reply_tagged(&inv, 487, &tag, None);
    callee.expect_request(Method::Ack).await;
    assert_eq!(
        caller.final_response(&out.call_id, "INVITE").await.status(),
        Some(487)
    );
    assert!(common::eventually(Duration::from_secs(2), || sw
        .metric("switchboard_calls_total{outcome=\"canceled\"}")
        == 1.0));
}

#[tokio::test]
async fn unknown_numbers_get_404_and_unregistered_subscribers_480() {
    let sw = switch_with(&["1001", "1002"]);
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let mut a = caller.invite("1999").await;
    assert_eq!(caller.invite_outcome(&mut a).await.status(), Some(404));
    let mut b = caller.invite("1001").await;
    assert_eq!(caller.invite_outcome(&mut b).await.status(), Some(480));
}

#[tokio::test]
async fn both_devices_ring_and_the_first_answer_wins() {
    let sw = switch_with(&["1001", "1002"]);
    let mut desk = registered(&sw, "1001", Proto::Udp).await;
    let mut mobile = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let mut out = caller.invite("1001").await;
    let inv_desk = desk.expect_request(Method::Invite).await;
    let inv_mobile = mobile.expect_request(Method::Invite).await;
    let tag_m = mobile.token();
    mobile.reply_tagged(&inv_mobile, 180, &tag_m, None);
    desk.accept(&inv_desk).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));
    let cancel = mobile.expect_request(Method::Cancel).await;
    mobile.reply(&cancel, 200);
    mobile.reply_tagged(&inv_mobile, 487, &tag_m, None);
    mobile.expect_request(Method::Ack).await;
    desk.expect_request(Method::Ack).await;
    assert_eq!(
        out.remote_target,
        desk.contact(),
        "the dialog is with the device that answered"
    );
}

#[tokio::test]
async fn hold_by_re_invite_and_other_in_dialog_requests_pass_through() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let (mut out, inbound) = establish(&mut caller, &mut callee, "1001").await;

    let hold_offer = caller.sdp_hold();
    let reinvite = caller.in_dialog_request(
        &mut out,
        "INVITE",
        Some(("application/sdp", &hold_offer)),
        true,
    );
    caller.send(reinvite);
    let hold = callee.expect_request(Method::Invite).await;
    assert_eq!(hold.to_tag(), Some(inbound.local_tag.as_str()));
    assert_eq!(
        hold.body(),
        &hold_offer[..],
        "the hold offer between two directly reachable phones arrives untouched"
    );
    let answer = callee.sdp();
    callee.reply_tagged(
        &hold,
        200,
        &inbound.local_tag,
        Some(("application/sdp", &answer)),
    );
    let ok = caller.final_response(&out.call_id, "INVITE").await;
    assert_eq!(ok.status(), Some(200));
    out.invite =
        switchboard_engine::sip::Message::parse(bytes::Bytes::copy_from_slice(hold.as_bytes()))
            .unwrap();
    let ack = caller.in_dialog_request(&mut out, "ACK", None, false);
    caller.send(ack);
    callee.expect_request(Method::Ack).await;

    for method in ["INFO", "UPDATE"] {
        let req = caller.in_dialog_request(
            &mut out,
            method,
            Some(("application/dtmf-relay", b"Signal=5\r\n")),
            true,
        );
        caller.send(req);
        let got = callee
            .expect_request(switchboard_engine::sip::Method::parse(method.as_bytes()))
            .await;
        callee.reply(&got, 200);
        assert_eq!(
            caller.final_response(&out.call_id, method).await.status(),
            Some(200),
            "{method}"
        );
    }
}

#[tokio::test]
async fn a_transfer_by_refer_reaches_the_third_party() {
    let sw = switch_with(&["1001", "1002", "1003"]);
    let mut alice = registered(&sw, "1001", Proto::Udp).await;
    let mut bob = registered(&sw, "1002", Proto::Udp).await;
    let mut carol = registered(&sw, "1003", Proto::Udp).await;
    let (mut a_side, mut b_side) = establish(&mut alice, &mut bob, "1002").await;

    // Bob transfers Alice to Carol
    let target = format!("<sip:1003@{}>", sw.sip);
    let mut refer = bob
        .in_dialog_request(&mut b_side, "REFER", None, true)
        .to_vec();
    let at = refer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
    let extra = format!(
        "Refer-To: {target}\r\nReferred-By: <sip:1002@{}>\r\n",
        sw.sip.ip()
    );
    refer.splice(at..at, extra.bytes());
    bob.send(refer.into());
    let r = alice.expect_request(Method::Refer).await;
    assert_eq!(r.header(HeaderName::ReferTo), Some(target.as_str()));
    alice.reply_tagged(&r, 202, &a_side.local_tag.clone(), None);
    assert_eq!(
        bob.final_response(&b_side.call_id, "REFER").await.status(),
        Some(202)
    );

    // Alice tells Bob how it goes, and calls Carol
    let mut notify = alice
        .in_dialog_request(
            &mut a_side,
            "NOTIFY",
            Some(("message/sipfrag", b"SIP/2.0 100 Trying\r\n")),
            true,
        )
        .to_vec();
    let at = notify.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
    notify.splice(
        at..at,
        b"Event: refer\r\nSubscription-State: active;expires=60\r\n"
            .iter()
            .copied(),
    );
    alice.send(notify.into());
    let n = bob.expect_request(Method::Notify).await;
    assert_eq!(n.body(), b"SIP/2.0 100 Trying\r\n");
    bob.reply(&n, 200);
    alice.final_response(&a_side.call_id, "NOTIFY").await;
    let (_a_to_c, _c_side) = establish(&mut alice, &mut carol, "1003").await;

    // Bob leaves the original call
    let bye = bob.in_dialog_request(&mut b_side, "BYE", None, true);
    bob.send(bye);
    let b = alice.expect_request(Method::Bye).await;
    alice.reply(&b, 200);
    assert_eq!(
        bob.final_response(&b_side.call_id, "BYE").await.status(),
        Some(200)
    );
}

#[tokio::test]
async fn any_common_spelling_of_the_number_reaches_the_subscriber() {
    let sw = switch_with(&["+82 11 123 4567", "1002"]);
    let mut callee = registered(&sw, "0111234567", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    for dial in [
        "011-123-4567",
        "0111234567",
        "+82111234567",
        "+82%2011%20123%204567",
    ] {
        let mut out = caller.invite(dial).await;
        let inv = callee.expect_request(Method::Invite).await;
        callee.reply(&inv, 486);
        callee.expect_request(Method::Ack).await;
        assert_eq!(
            caller.invite_outcome(&mut out).await.status(),
            Some(486),
            "{dial}"
        );
    }
}

#[tokio::test]
async fn a_call_from_tcp_to_udp_is_double_record_routed_and_works_both_ways() {
    let sw = switch_with(&["1001", "1002"]);
    let mut callee = registered(&sw, "1001", Proto::Udp).await;
    let mut caller = registered(&sw, "1002", Proto::Tcp).await;
    let mut out = caller.invite("1001").await;
    let inv = callee.expect_request(Method::Invite).await;
    assert_eq!(
        inv.record_routes().count(),
        2,
        "one Record-Route per transport (RFC 5658)"
    );
    let mut inbound = callee.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));
    callee.expect_request(Method::Ack).await;
    // callee hangs up over UDP; the BYE reaches the caller on its TCP connection
    let bye = callee.in_dialog_request(&mut inbound, "BYE", None, true);
    callee.send(bye);
    let b = caller.expect_request(Method::Bye).await;
    caller.reply(&b, 200);
    assert_eq!(
        callee
            .final_response(&inbound.call_id, "BYE")
            .await
            .status(),
        Some(200)
    );
}

#[tokio::test]
async fn callers_of_this_switch_must_authenticate() {
    let sw = switch_with(&["1001", "1002"]);
    let _callee = registered(&sw, "1001", Proto::Udp).await;
    let mut anon = Ua::new(sw.sip, "1002", PW, Proto::Udp).await;
    let mut c = anon.invite_with("1001", SDP, false).await;
    let r = caller_final(&mut anon, &mut c).await;
    assert_eq!(r.status(), Some(407));
    assert_eq!(r.header_lines(HeaderName::ProxyAuthenticate).count(), 2);
    let mut liar = Ua::new(sw.sip, "1002", "not-the-password", Proto::Udp).await;
    let mut c = liar.invite("1001").await;
    assert_eq!(liar.invite_outcome(&mut c).await.status(), Some(403));
}

async fn caller_final(ua: &mut Ua, c: &mut Call) -> switchboard_engine::sip::Message {
    ua.invite_outcome(c).await
}

#[tokio::test]
async fn a_request_looping_back_to_the_switch_is_stopped() {
    let sw = switch_with(&["1001", "1002"]);
    let mut trap = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    // a contact that points back at the switch itself
    let contact = format!("<sip:1001@{}>", sw.sip);
    assert_eq!(
        trap.register_contact(&contact, Some(600)).await.status(),
        Some(200)
    );
    let mut caller = registered(&sw, "1002", Proto::Udp).await;
    let mut out = caller.invite("1001").await;
    let r = caller.invite_outcome(&mut out).await;
    assert!(
        matches!(r.status(), Some(482) | Some(483)),
        "got {:?}",
        r.status()
    );
}

#[tokio::test]
async fn options_is_answered_and_unsupported_methods_are_refused() {
    let sw = switch_with(&[]);
    assert_eq!(
        common::options_ping(sw.sip, Duration::from_secs(2)),
        Some(200)
    );
    let mut ua = Ua::new(sw.sip, "x", PW, Proto::Udp).await;
    for (method, code) in [
        ("SUBSCRIBE", 489),
        ("NOTIFY", 405),
        ("FOOBAR", 501),
        ("BYE", 481),
    ] {
        let raw = format!(
            "{method} sip:1001@{s} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{m};rport\r\nMax-Forwards: 70\r\n\
From: <sip:x@{ip}>;tag=1\r\nTo: <sip:1001@{ip}>\r\nCall-ID: m-{m}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n",
            s = sw.sip,
            l = ua.local,
            m = method,
            ip = sw.sip.ip()
        );
        ua.send(raw.into());
        let r = ua.final_response(&format!("m-{method}"), method).await;
        assert_eq!(r.status(), Some(code), "{method}");
        if code == 405 {
            assert!(r.header(HeaderName::Allow).is_some());
        }
        if code == 489 {
            // a SUBSCRIBE without an Event header is for a package we do not serve
            assert_eq!(
                r.header(HeaderName::AllowEvents),
                Some("presence, message-summary")
            );
        }
    }
}
