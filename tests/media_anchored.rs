//! Calls whose media the switch anchors, with real RTP between test phones, checked as a
//! listener would (frequency and level): the relay (`media.anchor = "always"`), a phone
//! behind NAT (its SDP names an address nothing listens on: the switch latches on where its
//! packets come from), and transcoding (a G.722-only phone calls a PCMU-only one).
//! `media_direct.rs` has the same checks with media flowing directly.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::media::{
    self, api, assert_hears, call, the_live_call, Ends, Leg, LISTEN, PATIENCE, PW,
};
use common::{basic, eventually, http, Switch};
use switchboard_engine::media::{Codec, SampleRate};

/// A switch that anchors per `anchor`, its RTP on the switch's own address.
fn switch(anchor: &str) -> Switch {
    media::switch(
        &format!("[media]\nanchor = \"{anchor}\"\n"),
        &["1001", "1002"],
    )
}

#[tokio::test]
async fn an_anchored_call_carries_each_tone_through_the_relay() {
    let sw = switch("always");
    let relay = sw.sip.ip();
    let Ends {
        mut ua_a,
        mut ua_b,
        mut a,
        mut b,
        mut call,
    } = call(&sw, Leg::pcmu(440.0), Leg::pcmu(1000.0)).await;
    assert_eq!(
        call.caller_sends.rtp.ip(),
        relay,
        "A is told to send to the relay"
    );
    assert_eq!(
        call.callee_sends.rtp.ip(),
        relay,
        "B is told to send to the relay"
    );
    assert_ne!(call.caller_sends.rtp.port(), call.callee_sends.rtp.port());
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");

    // the API shows the call, why it is anchored, and what the relay measured per leg
    let live = the_live_call(&sw);
    assert_eq!(live["state"], "answered", "{live}");
    assert_eq!(live["media"], "anchored", "{live}");
    assert_eq!(live["reason"], "policy", "{live}");
    assert_eq!(live["transcoding"], false, "{live}");
    for leg in live["legs"].as_array().unwrap() {
        assert_eq!(leg["codec"], "PCMU", "{live}");
    }
    let id = live["id"].as_u64().unwrap();
    let (status, shown) = api(&sw, &format!("/v1/calls/{id}"));
    assert_eq!(status, 200, "{shown}");
    let legs = shown["media_stats"]["legs"]
        .as_array()
        .expect("media figures");
    assert_eq!(legs.len(), 2, "{shown}");
    for leg in legs {
        assert_eq!(leg["hears"], "relay", "{shown}");
        assert!(leg["packets_received"].as_u64().unwrap() > 10, "{shown}");
        assert!(leg["packets_relayed"].as_u64().unwrap() > 10, "{shown}");
        assert_eq!(leg["packets_lost"], 0, "loopback loses nothing: {shown}");
        assert!(leg["jitter_ms"].as_f64().unwrap() < 100.0, "{shown}");
    }
    let caller_latched = legs.iter().find(|l| l["side"] == "caller").unwrap()["latched"].clone();
    assert_eq!(caller_latched, a.local().to_string(), "{shown}");
    // a subscriber sees the calls they take part in, and nobody else's (the same 404)
    let as_1002 = basic("1002", PW);
    let (status, _) = http(
        sw.http,
        "GET",
        &format!("/v1/calls/{id}"),
        &[("Authorization", &as_1002)],
        None,
    );
    assert_eq!(status, 200, "the caller sees their call");
    sw.add_account("1003", PW);
    let as_1003 = basic("1003", PW);
    for path in [format!("/v1/calls/{id}"), "/v1/calls/999999".to_owned()] {
        let (status, body) = http(sw.http, "GET", &path, &[("Authorization", &as_1003)], None);
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (_, body) = http(
        sw.http,
        "GET",
        "/v1/calls",
        &[("Authorization", &as_1003)],
        None,
    );
    assert!(body.contains("\"calls\":[]"), "{body}");

    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    assert_hears("A", &a, 1000.0, 440.0, SampleRate::NARROW);
    assert_hears("B", &b, 440.0, 1000.0, SampleRate::NARROW);
    // the ended call is kept with the reason it ended
    assert!(eventually(Duration::from_secs(5), || api(&sw, "/v1/calls")
        .1["calls"]
        .as_array()
        .is_some_and(|c| c.is_empty())));
    let (_, ended) = api(&sw, &format!("/v1/calls/{id}"));
    assert_eq!(ended["state"], "ended", "{ended}");
    assert_eq!(ended["end_reason"], "hung up by the caller", "{ended}");
    assert!(ended.get("media_stats").is_none(), "{ended}");
    let (_, list) = api(&sw, "/v1/calls?state=ended");
    assert_eq!(list["calls"][0]["id"], id, "{list}");
    assert!(
        a.sources().iter().all(|s| s.ip() == relay),
        "{:?}",
        a.sources()
    );
    assert!(
        b.sources().iter().all(|s| s.ip() == relay),
        "{:?}",
        b.sources()
    );
}

#[tokio::test]
async fn a_phone_behind_nat_is_anchored_and_hears_audio_once_latched() {
    let sw = switch("auto");
    let relay = sw.sip.ip();
    // A's SDP names an address nothing listens on: its media must come back to where it
    // sends from
    let nat: IpAddr = "10.0.0.7".parse().unwrap();
    let Ends {
        mut ua_a,
        mut ua_b,
        mut a,
        mut b,
        mut call,
    } = call(&sw, Leg::pcmu(440.0).naming(nat), Leg::pcmu(1000.0)).await;
    assert_eq!(
        call.callee_sends.rtp.ip(),
        relay,
        "B sends to the relay, not to 10.0.0.7"
    );
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");
    let live = the_live_call(&sw);
    assert_eq!(live["media"], "anchored", "{live}");
    let reason = live["reason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        format!("nat: sdp 10.0.0.7 != source {}", ua_a.local.ip()),
        "{live}"
    );
    let caller = &live["legs"][0];
    assert_eq!(caller["side"], "caller", "{live}");
    assert!(
        caller["sdp_address"]
            .as_str()
            .unwrap()
            .starts_with("10.0.0.7:"),
        "{live}"
    );
    assert_eq!(caller["latched"], a.local().to_string(), "{live}");
    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    assert_hears("A", &a, 1000.0, 440.0, SampleRate::NARROW);
    assert_hears("B", &b, 440.0, 1000.0, SampleRate::NARROW);
}

#[tokio::test]
async fn phones_that_reach_each_other_stay_direct_under_auto() {
    let sw = switch("auto");
    let Ends {
        mut ua_a,
        mut ua_b,
        a,
        b,
        mut call,
    } = call(&sw, Leg::pcmu(440.0), Leg::pcmu(1000.0)).await;
    assert_eq!(call.caller_sends.rtp, b.local(), "direct: A sends to B");
    assert_eq!(call.callee_sends.rtp, a.local(), "direct: B sends to A");
    // the API shows a direct call with the codec and addresses of its offer and answer
    let live = the_live_call(&sw);
    assert_eq!(live["media"], "direct", "{live}");
    assert!(live["reason"].is_null(), "{live}");
    assert_eq!(live["legs"][0]["codec"], "PCMU", "{live}");
    assert_eq!(
        live["legs"][0]["sdp_address"],
        a.local().to_string(),
        "{live}"
    );
    assert_eq!(
        live["legs"][1]["sdp_address"],
        b.local().to_string(),
        "{live}"
    );
    let id = live["id"].as_u64().unwrap();
    let (_, shown) = api(&sw, &format!("/v1/calls/{id}"));
    assert!(
        shown.get("media_stats").is_none(),
        "no relay figures: {shown}"
    );
    call.hang_up(&mut ua_a, &mut ua_b).await;
}

#[tokio::test]
async fn a_g722_phone_and_a_pcmu_phone_are_transcoded_both_ways() {
    let sw = switch("auto");
    let relay = sw.sip.ip();
    let Ends {
        mut ua_a,
        mut ua_b,
        mut a,
        mut b,
        mut call,
    } = call(
        &sw,
        // 6 kHz exists only in wideband: B cannot send it, A hears B's 1 kHz at 16 kHz
        Leg::new(&[Codec::G722], 440.0),
        Leg::pcmu(1000.0),
    )
    .await;
    assert_eq!(call.caller_sends.codec, Codec::G722, "A keeps its G.722");
    assert_eq!(call.callee_sends.codec, Codec::Pcmu, "B keeps its PCMU");
    assert_eq!(call.caller_sends.rtp.ip(), relay);
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");
    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    assert_hears("A", &a, 1000.0, 440.0, SampleRate::WIDE);
    assert_hears("B", &b, 440.0, 1000.0, SampleRate::NARROW);
}

#[tokio::test]
async fn a_recorded_call_starts_with_the_recording_notice_to_both_sides() {
    let sw = media::switch(
        "[media]\nanchor = \"auto\"\nrecord_announcement = true\n",
        &["1001", "1002"],
    );
    let (status, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1002/recording",
        &[("Content-Type", "application/json")],
        Some("{\"enabled\":true}"),
    );
    assert_eq!(status, 200, "{body}");
    let Ends {
        mut ua_a,
        mut ua_b,
        mut a,
        mut b,
        mut call,
    } = call(&sw, Leg::pcmu(440.0), Leg::pcmu(1000.0)).await;
    assert_eq!(the_live_call(&sw)["reason"], "recording");
    assert!(
        a.wait_heard(Duration::from_millis(2500), PATIENCE).await,
        "A hears audio"
    );
    assert!(
        b.wait_heard(Duration::from_millis(2500), PATIENCE).await,
        "B hears audio"
    );
    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    // the notice (two 400 ms bursts of 1400 Hz) first, then the other side
    for (who, phone, other_hz) in [("A", &a, 1000.0), ("B", &b, 440.0)] {
        let audio = phone.audio();
        let notice = audio.take(Duration::from_millis(1000));
        assert!(
            notice.has(1400.0),
            "{who} hears the notice: {}",
            notice.describe(&[1400.0, other_hz])
        );
        let after = audio.skip(Duration::from_millis(1300));
        assert_eq!(
            after
                .dominant_hz()
                .map(|hz| (hz - other_hz).abs() <= other_hz / 100.0),
            Some(true),
            "{who} then hears the other side: {}",
            after.describe(&[1400.0, other_hz])
        );
        assert!(!after.has(1400.0), "{who}: the notice plays once");
    }
}
