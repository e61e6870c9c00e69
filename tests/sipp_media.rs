//! SIPp with real RTP through the switch. A SIPp UAC places authenticated calls that stream a
//! 1 kHz PCMU tone (`rtp_stream` of a raw u-law file the test writes with the engine's
//! encoder) to the address in the callee's answer, and every call must succeed:
//!
//! - to a test phone the SIPp UAS's SDP names, media direct: each call's stream (one SSRC per
//!   call) is heard as 1 kHz at the level sent, straight from the UAC;
//! - the same through a switch that anchors every call (`media.anchor = "always"`): the UAC
//!   streams to the relay port in the answer it got, and the phone hears each call's stream
//!   from the relay's address, never from SIPp's;
//! - to the SIPp UAS itself, which echoes every packet back to the UAC (`-rtp_echo`) and
//!   reports how many it echoed.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::rtp::{RtpPhone, TONE_DBFS};
use common::sipp;
use common::{fresh_ip, Options, Switch, TempDir};
use switchboard_engine::media::Codec;

const CALLS: u32 = 10;
const RATE: u32 = 5;
const HOLD_MS: u32 = 2000;

/// A switch (with `extra` config) whose digest SIPp answers.
fn switch(extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[auth]\nalgorithms = [\"MD5\"]\n{extra}"),
        ..Default::default()
    });
    sw.add_account("sippuas", "sippuas-pw");
    sw.add_account("sippuac", "sippuac-pw");
    sw
}

fn assert_all_answered(sw: &Switch, out: &std::process::Output, work: &TempDir) {
    let (ok, report) = sipp::successful(out, &work.0);
    assert!(
        out.status.success(),
        "SIPp UAC reported failed calls:\n{report}"
    );
    assert_eq!(ok, u64::from(CALLS), "every call succeeded:\n{report}");
    assert!(common::eventually(Duration::from_secs(5), || {
        sw.metric("switchboard_calls_total{outcome=\"answered\"}") == f64::from(CALLS)
    }));
}

/// SIPp calls streaming 1 kHz to a test phone the SIPp UAS's answer names, through `sw`;
/// every call must succeed, and the phone must hear each call's stream (one SSRC per call),
/// from `from` when given, else from the UAC's address.
fn sipp_calls_to_a_listening_phone(sw: &Switch, from: Option<IpAddr>) {
    let work = TempDir::new("sipp-rtp");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    sipp::write_pcmu_tone(&work.0, 1000.0);

    // the callee's answer sends the media to a test phone that listens
    let mut sink = RtpPhone::new();
    sink.sdp(&[Codec::Pcmu], sink.local().ip());
    let (rtp_ip, rtp_port) = (
        sink.local().ip().to_string(),
        sink.local().port().to_string(),
    );
    let uas = sipp::uas(
        &work.0,
        "uas_call_rtp.xml",
        uas_ip,
        5070,
        "udp",
        &["-key", "rtp_ip", &rtp_ip, "-key", "rtp_port", &rtp_port],
    );
    sipp::register(
        &work.0,
        &target,
        "sippuas",
        "sippuas-pw",
        uas_ip,
        5070,
        "udp",
    );
    let out = sipp::calls_with_rtp(
        &work.0,
        &target,
        ("sippuac", "sippuac-pw"),
        "sippuas",
        uac_ip,
        6000,
        CALLS,
        RATE,
        HOLD_MS,
    );
    drop(uas);
    sink.stop();
    assert_all_answered(sw, &out, &work);

    let streams = sink.streams();
    assert_eq!(
        streams.len(),
        CALLS as usize,
        "one stream (SSRC) per call reached the phone"
    );
    let from = from.unwrap_or(uac_ip);
    for s in &streams {
        assert_eq!(s.from.ip(), from, "SSRC {:x} from {}", s.ssrc, s.from);
        // each call streams for its hold time; look at a second of it
        let heard = s.audio.skip(Duration::from_millis(200));
        let what = heard.describe(&[1000.0]);
        assert!(
            heard.duration() >= Duration::from_secs(1),
            "SSRC {:x}: {what}",
            s.ssrc
        );
        assert_eq!(
            heard.dominant_hz(),
            Some(1000.0),
            "SSRC {:x}: {what}",
            s.ssrc
        );
        let level = heard.level_at(1000.0);
        assert!(
            (level - TONE_DBFS as f64).abs() < 3.0,
            "SSRC {:x} at {level:.1} dBFS: {what}",
            s.ssrc
        );
    }
}

#[test]
fn sipp_calls_stream_a_tone_that_the_phone_named_in_the_answer_hears_in_every_call() {
    let sw = switch("");
    sipp_calls_to_a_listening_phone(&sw, None);
    assert_eq!(sw.metric("switchboard_anchored_calls_total"), 0.0);
}

#[test]
fn sipp_calls_through_an_anchoring_switch_stream_a_tone_the_phone_hears_from_the_relay() {
    let sw = switch("[media]\nanchor = \"always\"\n");
    // the relay sends from the switch's address (its media plane is on it); SIPp's UAC is
    // on another
    sipp_calls_to_a_listening_phone(&sw, Some(sw.sip.ip()));
    assert_eq!(
        sw.metric("switchboard_anchored_calls_total"),
        f64::from(CALLS)
    );
}

#[test]
fn sipp_calls_stream_rtp_to_a_sipp_callee_that_echoes_it_back() {
    let sw = switch("");
    let work = TempDir::new("sipp-echo");
    let (uas_ip, uac_ip) = (fresh_ip(), fresh_ip());
    let target = sw.sip.to_string();
    sipp::write_pcmu_tone(&work.0, 1000.0);

    // the callee answers with its own media port and echoes what arrives there
    let ip = uas_ip.to_string();
    let uas = sipp::uas(
        &work.0,
        "uas_call_rtp.xml",
        uas_ip,
        5070,
        "udp",
        &[
            "-mi",
            &ip,
            "-mp",
            "6000",
            "-rtp_echo",
            "-key",
            "rtp_ip",
            &ip,
            "-key",
            "rtp_port",
            "6000",
        ],
    );
    sipp::register(
        &work.0,
        &target,
        "sippuas",
        "sippuas-pw",
        uas_ip,
        5070,
        "udp",
    );
    let out = sipp::calls_with_rtp(
        &work.0,
        &target,
        ("sippuac", "sippuac-pw"),
        "sippuas",
        uac_ip,
        6000,
        CALLS,
        RATE,
        HOLD_MS,
    );
    assert_all_answered(&sw, &out, &work);
    let echoed = uas
        .stop_and_count_echoed(&work.0)
        .expect("the SIPp UAS reports the RTP it echoed");
    // 50 packets a second for about HOLD_MS per call; at least half of that must have made
    // the trip (no exact counts: pacing on a loaded machine varies)
    let expected = u64::from(CALLS * HOLD_MS / 20);
    assert!(
        echoed >= expected / 2,
        "the UAS echoed {echoed} RTP packets, expected about {expected}"
    );
}
