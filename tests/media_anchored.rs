//! Calls whose media the switch anchors, with real RTP between test phones, checked as a
//! listener would (frequency and level): the relay (`media.anchor = "always"`), a phone
//! behind NAT (its SDP names an address nothing listens on: the switch latches on where its
//! packets come from), and transcoding (a G.722-only phone calls a PCMU-only one).
//! `media_direct.rs` has the same checks with media flowing directly.

mod common;

use std::net::IpAddr;

use common::media::{self, assert_hears, call, Ends, Leg, LISTEN, PATIENCE};
use common::Switch;
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
    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    assert_hears("A", &a, 1000.0, 440.0, SampleRate::NARROW);
    assert_hears("B", &b, 440.0, 1000.0, SampleRate::NARROW);
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
