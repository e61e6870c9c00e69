//! Calls whose media the switch anchors, with real RTP between test phones, checked as a
//! listener would (frequency and level): the relay (`media.anchor = "always"`), a phone
//! behind NAT (its SDP names an address nothing listens on: the switch latches on where its
//! packets come from), and transcoding (a G.722-only phone calls a PCMU-only one).
//! `media_direct.rs` has the same checks with media flowing directly.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::audio::assert_tone;
use common::rtp::RtpPhone;
use common::ua::{call_with_media, End, MediaCall, Ua};
use common::{Options, Switch};
use switchboard_engine::media::{Codec, SampleRate};

const PW: &str = "test-password";
const LISTEN: Duration = Duration::from_millis(1200);
const PATIENCE: Duration = Duration::from_secs(15);

/// Asserts `phone` heard `hz` (dominant, at about the level sent) and not `not_hz`.
fn assert_hears(who: &str, phone: &RtpPhone, hz: f32, not_hz: f32, rate: SampleRate) {
    assert_tone(who, &phone.audio(), hz, not_hz, rate);
}

/// A switch that anchors per `anchor`, its RTP on the switch's own address.
fn switch(anchor: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[media]\nanchor = \"{anchor}\"\n"),
        ..Options::default()
    });
    for a in ["1001", "1002"] {
        sw.add_account(a, PW);
    }
    sw
}

struct Leg {
    codecs: &'static [Codec],
    hz: f32,
    sdp_ip: Option<IpAddr>,
}

/// A (1002) calls B (1001) through `sw`; both phones send their tones once the call is up.
async fn call(sw: &Switch, a_leg: Leg, b_leg: Leg) -> (Ua, Ua, RtpPhone, RtpPhone, MediaCall) {
    let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
    let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
    // each phone's RTP on the address its signalling comes from (a phone behind NAT names
    // another in its SDP)
    let (mut a, mut b) = (
        RtpPhone::bind(ua_a.local.ip()),
        RtpPhone::bind(ua_b.local.ip()),
    );
    let call = call_with_media(
        End {
            ua: &mut ua_a,
            phone: &mut a,
            codecs: a_leg.codecs,
            tone_hz: a_leg.hz,
            sdp_ip: a_leg.sdp_ip,
        },
        End {
            ua: &mut ua_b,
            phone: &mut b,
            codecs: b_leg.codecs,
            tone_hz: b_leg.hz,
            sdp_ip: b_leg.sdp_ip,
        },
        "1001",
    )
    .await;
    (ua_a, ua_b, a, b, call)
}

#[tokio::test]
async fn an_anchored_call_carries_each_tone_through_the_relay() {
    let sw = switch("always");
    let relay = sw.sip.ip();
    let pcmu: &[Codec] = &[Codec::Pcmu];
    let (mut ua_a, mut ua_b, mut a, mut b, mut call) = call(
        &sw,
        Leg {
            codecs: pcmu,
            hz: 440.0,
            sdp_ip: None,
        },
        Leg {
            codecs: pcmu,
            hz: 1000.0,
            sdp_ip: None,
        },
    )
    .await;
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
    let pcmu: &[Codec] = &[Codec::Pcmu];
    // A's SDP names an address nothing listens on: its media must come back to where it
    // sends from
    let nat: IpAddr = "10.0.0.7".parse().unwrap();
    let (mut ua_a, mut ua_b, mut a, mut b, mut call) = call(
        &sw,
        Leg {
            codecs: pcmu,
            hz: 440.0,
            sdp_ip: Some(nat),
        },
        Leg {
            codecs: pcmu,
            hz: 1000.0,
            sdp_ip: None,
        },
    )
    .await;
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
    let pcmu: &[Codec] = &[Codec::Pcmu];
    let (mut ua_a, mut ua_b, a, b, mut call) = call(
        &sw,
        Leg {
            codecs: pcmu,
            hz: 440.0,
            sdp_ip: None,
        },
        Leg {
            codecs: pcmu,
            hz: 1000.0,
            sdp_ip: None,
        },
    )
    .await;
    assert_eq!(call.caller_sends.rtp, b.local(), "direct: A sends to B");
    assert_eq!(call.callee_sends.rtp, a.local(), "direct: B sends to A");
    call.hang_up(&mut ua_a, &mut ua_b).await;
}

#[tokio::test]
async fn a_g722_phone_and_a_pcmu_phone_are_transcoded_both_ways() {
    let sw = switch("auto");
    let relay = sw.sip.ip();
    let (mut ua_a, mut ua_b, mut a, mut b, mut call) = call(
        &sw,
        // 6 kHz exists only in wideband: B cannot send it, A hears B's 1 kHz at 16 kHz
        Leg {
            codecs: &[Codec::G722],
            hz: 440.0,
            sdp_ip: None,
        },
        Leg {
            codecs: &[Codec::Pcmu],
            hz: 1000.0,
            sdp_ip: None,
        },
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
