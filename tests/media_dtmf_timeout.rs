//! Digits and dead media on anchored calls, with real G.711 and G.722 RTP between test phones
//! on loopback: RFC 4733 telephone-events cross the relay both ways (forwarded when both
//! sides share a codec, sent again by the switch when it transcodes); a SIP INFO digit
//! (`application/dtmf-relay`) reaches a phone that offered telephone-event as RFC 4733 and is
//! answered by the switch, while a phone that did not gets the INFO itself; and a call whose
//! phones fall silent is ended by the switch (`media.timeout_secs`) with a BYE to each side
//! saying why, the calls API keeping the reason it ended, while one that keeps talking is
//! not. `media_features.rs` has ringback, hold and the feature-code chime.

mod common;

use std::time::{Duration, Instant};

use common::media::{
    self, api, assert_hears, call, call_between, the_live_call, Ends, Leg, LISTEN, PATIENCE,
};
use common::rtp::{RtpPhone, SKIP};
use common::ua::{Call, Ua};
use common::Switch;
use switchboard_engine::media::dtmf::{
    format_dtmf_relay, Digit, DEFAULT_DURATION, DTMF_RELAY_CONTENT_TYPE,
};
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::Method;

/// A switch anchoring every call, with `media` lines added to its `[media]` section.
fn anchoring(media: &str, accounts: &[&str]) -> Switch {
    media::switch(&format!("[media]\nanchor = \"always\"\n{media}"), accounts)
}

/// Waits until `phone` received exactly `digits` as RFC 4733 events.
async fn assert_digits(who: &str, phone: &RtpPhone, digits: &str) {
    let got = common::eventually_async(PATIENCE, || phone.digits().len() >= digits.len()).await;
    assert!(
        got && phone.digits() == digits,
        "{who} got digits {:?}, not {digits:?}",
        phone.digits()
    );
}

/// Digits from each phone reach the other one as RFC 4733 events, once each, in order, and
/// the tones go on after them.
async fn digits_cross_both_ways(a_leg: Leg, b_leg: Leg, rates: [SampleRate; 2]) {
    let sw = anchoring("", &["1001", "1002"]);
    let (a_hz, b_hz) = (a_leg.hz, b_leg.hz);
    let mut ends = call(&sw, a_leg, b_leg).await;
    assert!(ends.a.wait_heard(SKIP, PATIENCE).await, "A hears B");
    assert!(ends.b.wait_heard(SKIP, PATIENCE).await, "B hears A");
    ends.a.send_digits("159#");
    assert_digits("B", &ends.b, "159#").await;
    ends.b.send_digits("*07D");
    assert_digits("A", &ends.a, "*07D").await;
    // digits are heard once: none echoed back to the phone that sent them
    assert_eq!(ends.a.digits(), "*07D");
    assert_eq!(ends.b.digits(), "159#");

    ends.a.clear_received();
    ends.b.clear_received();
    assert!(ends.a.wait_heard(LISTEN, PATIENCE).await, "A hears B again");
    assert!(ends.b.wait_heard(LISTEN, PATIENCE).await, "B hears A again");
    ends.hang_up().await;
    ends.a.stop();
    ends.b.stop();
    assert_hears("A", &ends.a, b_hz, a_hz, rates[0]);
    assert_hears("B", &ends.b, a_hz, b_hz, rates[1]);
}

#[tokio::test]
async fn rfc_4733_digits_are_relayed_both_ways_on_an_anchored_call() {
    digits_cross_both_ways(Leg::pcmu(440.0), Leg::pcmu(1000.0), [SampleRate::NARROW; 2]).await;
}

#[tokio::test]
async fn relayed_digits_take_the_telephone_event_type_each_phone_named() {
    // B answers with its own number for telephone-event rather than the offer's (RFC 3264
    // §6.1 only says it SHOULD keep it): each phone reads events on its own type
    digits_cross_both_ways(
        Leg::pcmu(440.0).telephone_event(110),
        Leg::pcmu(1000.0).telephone_event(96),
        [SampleRate::NARROW; 2],
    )
    .await;
}

#[tokio::test]
async fn rfc_4733_digits_cross_a_transcoded_call_both_ways() {
    digits_cross_both_ways(
        Leg::new(&[Codec::G722], 440.0),
        Leg::pcmu(1000.0),
        [SampleRate::WIDE, SampleRate::NARROW],
    )
    .await;
}

/// An `application/dtmf-relay` body for `digit`, as phones send it.
fn dtmf_relay(digit: char) -> String {
    let mut body = String::new();
    let digit = Digit::from_char(digit).expect("a DTMF digit");
    format_dtmf_relay(&mut body, digit, DEFAULT_DURATION);
    body
}

/// Sends `digit` as a SIP INFO (`application/dtmf-relay`) in `call`; its final status.
async fn info_digit(ua: &mut Ua, call: &mut Call, digit: char) -> Option<u16> {
    let body = dtmf_relay(digit);
    let body = Some((DTMF_RELAY_CONTENT_TYPE, body.as_bytes()));
    ua.request_in_dialog(call, "INFO", body).await.status()
}

/// How long an INFO the switch turned into RTP is given to show up as an INFO anyway.
const NO_INFO: Duration = Duration::from_millis(500);

#[tokio::test]
async fn info_digits_reach_a_phone_that_offered_telephone_events_as_rfc_4733() {
    let sw = anchoring("", &["1001", "1002"]);
    let mut ends = call(&sw, Leg::pcmu(440.0), Leg::pcmu(1000.0)).await;
    assert!(ends.b.wait_heard(SKIP, PATIENCE).await, "B hears A");
    let Ends {
        ua_a,
        ua_b,
        a,
        b,
        call,
    } = &mut ends;
    for d in ['5', '#', '0'] {
        assert_eq!(
            info_digit(ua_a, &mut call.caller, d).await,
            Some(200),
            "the switch takes A's INFO {d}"
        );
    }
    assert_digits("B", b, "5#0").await;
    assert!(
        ua_b.maybe_request(Method::Info, NO_INFO).await.is_none(),
        "B's phone got the digits in RTP, not in INFO"
    );
    // and from the callee's side to the caller
    assert_eq!(info_digit(ua_b, &mut call.callee, '8').await, Some(200));
    assert_digits("A", a, "8").await;
    assert!(ua_a.maybe_request(Method::Info, NO_INFO).await.is_none());
    ends.hang_up().await;
}

#[tokio::test]
async fn an_info_digit_to_a_phone_without_telephone_events_is_relayed_as_info() {
    let sw = anchoring("", &["1001", "1002"]);
    // B knows no RFC 4733: its answer leaves telephone-event out
    let mut ends = call(
        &sw,
        Leg::pcmu(440.0),
        Leg::pcmu(1000.0).without_telephone_event(),
    )
    .await;
    assert!(ends.b.wait_heard(SKIP, PATIENCE).await, "B hears A");
    let Ends {
        ua_a,
        ua_b,
        a,
        b,
        call,
    } = &mut ends;
    let body = dtmf_relay('5');
    let info = ua_a.in_dialog_request(
        &mut call.caller,
        "INFO",
        Some((DTMF_RELAY_CONTENT_TYPE, body.as_bytes())),
        true,
    );
    ua_a.send(info);
    let got = ua_b.expect_request(Method::Info).await;
    assert_eq!(
        (got.header_by_name("Content-Type"), got.body()),
        (Some(DTMF_RELAY_CONTENT_TYPE), body.as_bytes()),
        "B gets A's INFO as it was"
    );
    ua_b.reply(&got, 200);
    assert_eq!(
        ua_a.final_response(&call.caller.call_id, "INFO")
            .await
            .status(),
        Some(200),
        "B's answer reaches A"
    );
    // A offered telephone-event: B's INFO reaches it in RTP
    assert_eq!(info_digit(ua_b, &mut call.callee, '3').await, Some(200));
    assert_digits("A", a, "3").await;
    assert!(ua_a.maybe_request(Method::Info, NO_INFO).await.is_none());
    assert_eq!(b.digits(), "", "B got no RFC 4733 digit");
    ends.hang_up().await;
}

const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_call_whose_phones_fall_silent_is_ended_with_a_bye_to_both_and_a_talking_one_is_not() {
    let sw = anchoring(
        &format!(
            "timeout_secs = {t}\nhold_timeout_secs = {t}\n",
            t = TIMEOUT.as_secs()
        ),
        &["1001", "1002", "1003", "1004"],
    );
    let timeouts = "switchboard_media_timeouts_total";
    let sessions = "switchboard_media_sessions";
    let mut silent =
        call_between(&sw, ("1002", Leg::pcmu(440.0)), ("1001", Leg::pcmu(1000.0))).await;
    let mut talking =
        call_between(&sw, ("1004", Leg::pcmu(700.0)), ("1003", Leg::pcmu(1300.0))).await;
    for (who, phone) in [
        ("A", &silent.a),
        ("B", &silent.b),
        ("C", &talking.a),
        ("D", &talking.b),
    ] {
        assert!(phone.wait_heard(SKIP, PATIENCE).await, "{who} hears audio");
    }
    assert_eq!(sw.metric(timeouts), 0.0);
    assert!(
        common::eventually_async(PATIENCE, || sw.metric(sessions) == 2.0).await,
        "two media sessions"
    );

    silent.a.stop_sending();
    silent.b.stop_sending();
    let quiet = Instant::now();
    let bye_b = silent
        .ua_b
        .maybe_request(Method::Bye, PATIENCE)
        .await
        .expect("the switch hangs up on B");
    let after = quiet.elapsed();
    let bye_a = silent
        .ua_a
        .maybe_request(Method::Bye, PATIENCE)
        .await
        .expect("the switch hangs up on A");
    silent.ua_b.reply(&bye_b, 200);
    silent.ua_a.reply(&bye_a, 200);
    assert!(
        after >= TIMEOUT - Duration::from_millis(100),
        "the BYE came {after:?} after the phones fell silent, before the {TIMEOUT:?} timeout"
    );
    for (who, bye, dialog) in [
        ("A", &bye_a, &silent.call.caller),
        ("B", &bye_b, &silent.call.callee),
    ] {
        assert_eq!(bye.call_id(), Some(dialog.call_id.as_str()), "{who}");
        assert_eq!(
            bye.from_tag(),
            dialog.remote_tag.as_deref(),
            "{who}'s BYE speaks for the other side"
        );
        let reason = bye.header_by_name("Reason").unwrap_or_default();
        assert!(
            reason.contains("cause=408") && reason.contains("Media Timeout"),
            "{who}'s BYE says why: {reason:?}"
        );
    }
    assert!(
        common::eventually_async(PATIENCE, || sw.metric(timeouts) == 1.0).await,
        "{timeouts} counts the call"
    );
    assert!(
        common::eventually_async(PATIENCE, || sw.metric(sessions) == 1.0).await,
        "the silent call's media session is closed"
    );
    // the calls API keeps the silent call with the reason it ended; the other is live
    let (status, ended) = api(&sw, "/v1/calls?state=ended");
    assert_eq!(status, 200, "{ended}");
    let ended = ended["calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(ended.len(), 1, "one ended call: {ended:?}");
    assert_eq!(ended[0]["call_id"], silent.call.caller.call_id.as_str());
    let id = ended[0]["id"].as_u64().expect("an id");
    let (status, shown) = api(&sw, &format!("/v1/calls/{id}"));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["state"], "ended", "{shown}");
    assert_eq!(shown["end_reason"], "media timeout", "{shown}");
    assert_eq!(
        the_live_call(&sw)["call_id"],
        talking.call.caller.call_id.as_str()
    );

    // the other call kept talking: twice the timeout later it is still up, its audio flowing
    assert!(
        talking
            .ua_a
            .maybe_request(Method::Bye, 2 * TIMEOUT)
            .await
            .is_none(),
        "C is not hung up on"
    );
    assert!(talking
        .ua_b
        .maybe_request(Method::Bye, Duration::from_millis(100))
        .await
        .is_none());
    talking.a.clear_received();
    talking.b.clear_received();
    assert!(talking.a.wait_heard(LISTEN, PATIENCE).await, "C hears D");
    assert!(talking.b.wait_heard(LISTEN, PATIENCE).await, "D hears C");
    assert_eq!(sw.metric(timeouts), 1.0, "one call timed out");
    talking.hang_up().await;
    talking.a.stop();
    talking.b.stop();
    assert_hears("C", &talking.a, 1300.0, 700.0, SampleRate::NARROW);
    assert_hears("D", &talking.b, 700.0, 1300.0, SampleRate::NARROW);
}
