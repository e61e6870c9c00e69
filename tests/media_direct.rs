//! Real RTP between test phones, checked as a listener would (frequency and level), first
//! phone to phone with no switch (the test phone itself), then through the switch in
//! signalling only: the SDP passes untouched and media flows directly between the phones.
//! These are the baseline the anchored-media tests mirror: the same checks with the switch
//! relaying.

mod common;

use std::time::Duration;

use common::media::{self, assert_hears, LISTEN, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{call_with_media, End, Ua};
use switchboard_engine::media::{Codec, SampleRate};

fn direct_pair(codec: Codec, a_hz: f32, b_hz: f32) -> (RtpPhone, RtpPhone) {
    let (mut a, mut b) = (RtpPhone::new(), RtpPhone::new());
    let pt = codec.static_payload_type().unwrap();
    // each reads what it receives by its own SDP
    a.sdp(&[codec], a.local().ip());
    b.sdp(&[codec], b.local().ip());
    a.start(b.local(), codec, pt, a_hz);
    b.start(a.local(), codec, pt, b_hz);
    (a, b)
}

#[test]
fn two_test_phones_hear_each_others_tone_and_not_their_own() {
    let (mut a, mut b) = direct_pair(Codec::Pcmu, 440.0, 1000.0);
    assert!(a.wait_heard_blocking(LISTEN, PATIENCE), "a hears audio");
    assert!(b.wait_heard_blocking(LISTEN, PATIENCE), "b hears audio");
    a.stop();
    b.stop();
    assert_hears("a", &a, 1000.0, 440.0, SampleRate::NARROW);
    assert_hears("b", &b, 440.0, 1000.0, SampleRate::NARROW);
    assert_eq!(
        a.sources(),
        [b.local()],
        "symmetric: b sends from where it listens"
    );
    assert_eq!(b.sources(), [a.local()]);
    assert_eq!(a.streams().len(), 1, "one SSRC");
    assert!(a.received_packets() > 0 && a.unknown_packets() == 0);
}

#[test]
fn test_phones_on_g722_hear_wideband_audio_at_16_khz() {
    // 6 kHz only exists in wideband: G.722's upper band carries it
    let (mut a, mut b) = direct_pair(Codec::G722, 440.0, 6000.0);
    assert!(a.wait_heard_blocking(LISTEN, PATIENCE), "a hears audio");
    assert!(b.wait_heard_blocking(LISTEN, PATIENCE), "b hears audio");
    a.stop();
    b.stop();
    assert_hears("a", &a, 6000.0, 440.0, SampleRate::WIDE);
    assert_hears("b", &b, 440.0, 6000.0, SampleRate::WIDE);
}

#[test]
fn a_test_phone_reads_rfc_4733_digits_once_each_and_its_tone_resumes_after_them() {
    let (mut a, mut b) = direct_pair(Codec::Pcma, 440.0, 1000.0);
    assert!(b.wait_heard_blocking(Duration::from_millis(200), PATIENCE));
    a.send_digits("19*#");
    assert!(
        common::eventually(PATIENCE, || b.digits() == "19*#"),
        "b got digits {:?}",
        b.digits()
    );
    b.clear_received();
    assert!(b.wait_heard_blocking(LISTEN, PATIENCE), "the tone resumes");
    a.stop();
    b.stop();
    assert_hears("b", &b, 440.0, 1000.0, SampleRate::NARROW);
    assert_eq!(a.digits(), "", "a sent digits, received none");
}

#[test]
fn a_phones_sdp_names_its_codecs_telephone_event_and_the_address_it_is_given() {
    let phone = RtpPhone::new();
    phone.set_telephone_event(110);
    let nat = "10.0.0.7".parse().unwrap();
    let sdp = phone.sdp(&[Codec::G722, Codec::Pcmu, Codec::Pcma], nat);
    let text = String::from_utf8(sdp.clone()).unwrap();
    assert!(text.contains("m=audio "), "{text}");
    assert!(text.contains(" RTP/AVP 9 0 8 110\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:9 G722/8000\r\n"), "{text}");
    assert!(
        text.contains("a=rtpmap:110 telephone-event/8000\r\n"),
        "{text}"
    );
    assert!(text.contains("a=ptime:20\r\n"), "{text}");
    let r = remote_of(&sdp, &[Codec::Pcmu]).expect("usable");
    assert_eq!(r.rtp, std::net::SocketAddr::new(nat, phone.local().port()));
    assert_eq!((r.codec, r.payload_type), (Codec::Pcmu, 0));
    assert_eq!(r.telephone_event, Some(110));
    assert_eq!(remote_of(&sdp, &[Codec::L16(SampleRate::WIDE)]), None);
}

/// A calls B through the switch, both on `codec`, A sending 440 Hz and B `b_hz`; each must
/// hear the other's tone and not its own, phone to phone.
async fn direct_call_carries_both_tones(codec: Codec, b_hz: f32, rate: SampleRate) {
    let sw = media::switch("", &["1001", "1002"]);
    let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
    let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
    // each phone's RTP on the address its signalling comes from: phones that reach each
    // other, which the switch leaves to talk directly
    let (mut a, mut b) = (
        RtpPhone::bind(ua_a.local.ip()),
        RtpPhone::bind(ua_b.local.ip()),
    );
    let mut call = call_with_media(
        End {
            ua: &mut ua_a,
            phone: &mut a,
            // with G.711 besides, as phones offer: an offer without it is anchored for
            // transcoding (media_anchored.rs)
            codecs: &[codec, Codec::Pcma],
            tone_hz: 440.0,
            sdp_ip: None,
        },
        End {
            ua: &mut ua_b,
            phone: &mut b,
            codecs: &[codec, Codec::Pcmu],
            tone_hz: b_hz,
            sdp_ip: None,
        },
        "1001",
    )
    .await;
    assert_eq!(call.caller_sends.rtp, b.local(), "direct: A sends to B");
    assert_eq!(call.callee_sends.rtp, a.local(), "direct: B sends to A");
    assert_eq!(call.caller_sends.codec, codec);
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");
    call.hang_up(&mut ua_a, &mut ua_b).await;
    a.stop();
    b.stop();
    assert_hears("A", &a, b_hz, 440.0, rate);
    assert_hears("B", &b, 440.0, b_hz, rate);
    assert_eq!(a.sources(), [b.local()], "media came from B itself");
    assert_eq!(b.sources(), [a.local()], "media came from A itself");
}

#[tokio::test]
async fn a_pcmu_call_through_the_switch_carries_each_sides_tone_directly_to_the_other() {
    direct_call_carries_both_tones(Codec::Pcmu, 1000.0, SampleRate::NARROW).await;
}

#[tokio::test]
async fn a_g722_call_through_the_switch_carries_wideband_audio_both_ways() {
    direct_call_carries_both_tones(Codec::G722, 1000.0, SampleRate::WIDE).await;
}

#[tokio::test]
async fn rfc_4733_digits_from_the_caller_reach_the_callee() {
    let sw = media::switch("", &["1001", "1002"]);
    let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
    let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
    // each phone's RTP on the address its signalling comes from: phones that reach each
    // other, which the switch leaves to talk directly
    let (mut a, mut b) = (
        RtpPhone::bind(ua_a.local.ip()),
        RtpPhone::bind(ua_b.local.ip()),
    );
    b.set_telephone_event(96);
    let mut call = call_with_media(
        End {
            ua: &mut ua_a,
            phone: &mut a,
            codecs: &[Codec::Pcmu],
            tone_hz: 440.0,
            sdp_ip: None,
        },
        End {
            ua: &mut ua_b,
            phone: &mut b,
            codecs: &[Codec::Pcmu],
            tone_hz: 1000.0,
            sdp_ip: None,
        },
        "1001",
    )
    .await;
    assert_eq!(
        call.caller_sends.telephone_event,
        Some(96),
        "A sends digits on the type B's answer names"
    );
    assert!(b.wait_heard(Duration::from_millis(200), PATIENCE).await);
    a.send_digits("2580#");
    assert!(
        common::eventually_async(PATIENCE, || b.digits() == "2580#").await,
        "B got digits {:?}",
        b.digits()
    );
    call.hang_up(&mut ua_a, &mut ua_b).await;
}
