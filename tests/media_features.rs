//! What a caller hears from the switch itself on an anchored call, with real G.711 (and
//! G.722) RTP between test phones on loopback, checked as a listener would (frequency by
//! Goertzel, and level): the ringback of the callee number's country while the callee rings
//! without early media (and the callee's own early media when it has some), hold and resume
//! by re-INVITE through the relay, and the chime of a feature code the switch answers itself.
//! `media_dtmf_timeout.rs` has DTMF and the media timeout.

mod common;

use std::time::{Duration, Instant};

use common::audio::{Audio, LEVEL_DB};
use common::media::{self, assert_hears, call, Ends, Leg, LISTEN, PATIENCE, PW};
use common::rtp::{answer_codecs, remote_of, RtpPhone, SKIP};
use common::ua::{Call, MediaCall, Ua};
use common::Switch;
use switchboard_engine::media::tone::Level;
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::{Message, Method};

const PCMU: &[Codec] = &[Codec::Pcmu];

/// Frames quieter than this are the silence between a cadenced tone's bursts.
const FLOOR_DBFS: f64 = -45.0;
/// Blocks long enough to tell 425 Hz from 440 Hz (a 2.5 Hz resolution).
const FINE: Duration = Duration::from_millis(400);
/// How much of the ringback the caller listens to before the callee answers.
const RINGING: Duration = Duration::from_millis(2400);

/// A switch anchoring every call, reading numbers dialled without a country code in
/// `country` (ISO 3166), with `media` lines added to its `[media]` section.
fn anchoring(country: &str, media: &str, accounts: &[&str]) -> Switch {
    media::switch(
        &format!(
            "[media]\nanchor = \"always\"\n{media}[numbering]\ndefault_country = \"{country}\"\n"
        ),
        accounts,
    )
}

/// A tone that should be heard: its frequency and level (dBFS) while it sounds.
struct Heard(f32, f64);

/// A level in dBm0 as dBFS, on the engine's scale (the µ-law one).
fn dbm0(db: f32) -> f64 {
    Level::dbm0(db).as_dbfs() as f64
}

/// Asserts a cadenced tone: each of `present` at its level while it sounds, sounding for
/// `on` (give or take a frame or two) of what was heard, and none of `absent`.
fn assert_cadenced(who: &str, heard: &Audio, present: &[Heard], on: Duration, absent: &[f32]) {
    let sounding = heard.sounding(FLOOR_DBFS);
    let freqs: Vec<f32> = present
        .iter()
        .map(|h| h.0)
        .chain(absent.iter().copied())
        .collect();
    let what = format!(
        "heard {}; sounding {}",
        heard.describe(&freqs),
        sounding.describe(&freqs)
    );
    let sounded = sounding.duration();
    assert!(
        sounded.abs_diff(on) <= Duration::from_millis(60),
        "{who} hears the tone for {sounded:?}, not {on:?}: {what}"
    );
    for Heard(hz, dbfs) in present {
        let level = sounding.level_at(*hz);
        assert!(
            sounding.has_over(*hz, FINE) && (level - dbfs).abs() <= LEVEL_DB,
            "{who} hears {hz} Hz at {level:.1} dBFS, not {dbfs:.1}: {what}"
        );
    }
    let loudest = present
        .iter()
        .map(|h| sounding.level_over(h.0, FINE))
        .fold(f64::NEG_INFINITY, f64::max);
    for hz in absent {
        let level = sounding.level_over(*hz, FINE);
        assert!(
            !sounding.has_over(*hz, FINE) && level < loudest - 20.0,
            "{who} hears {hz} Hz at {level:.1} dBFS: {what}"
        );
    }
}

/// A call from 1002 to `callee` that rang: both agents and phones, the dialogs, the INVITE
/// as the callee got it, the callee's To tag and the provisional answer the caller got.
struct Rung {
    ua_a: Ua,
    ua_b: Ua,
    a: RtpPhone,
    b: RtpPhone,
    caller: Call,
    invite: Message,
    tag: String,
    /// The callee's SDP (in its 183 with early media, and in its 200).
    b_sdp: Vec<u8>,
    /// The 180 or 183 as the caller got it.
    early: Message,
}

/// 1002 calls `callee`, whose phone rings: a 180 without SDP, or with `early_hz` a 183 with
/// its SDP and its phone sending that tone at once (early media).
async fn ring(sw: &Switch, callee: &str, early_hz: Option<f32>) -> Rung {
    let mut ua_b = Ua::registered(sw.sip, callee, PW).await;
    let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
    let (a, mut b) = (
        RtpPhone::bind(ua_a.local.ip()),
        RtpPhone::bind(ua_b.local.ip()),
    );
    let offer = a.sdp(PCMU, a.local().ip());
    let caller = ua_a.invite_sdp(callee, &offer).await;
    let invite = ua_b.expect_request(Method::Invite).await;
    let tag = ua_b.token();
    let b_sdp = b.sdp(&answer_codecs(invite.body(), PCMU), b.local().ip());
    let code = match early_hz {
        Some(hz) => {
            ua_b.reply_tagged(&invite, 183, &tag, Some(("application/sdp", &b_sdp)));
            let to_relay = remote_of(invite.body(), PCMU).expect("the offer has PCMU");
            b.start_towards(&to_relay, hz);
            183
        }
        None => {
            ua_b.reply_tagged(&invite, 180, &tag, None);
            180
        }
    };
    let early = ua_a
        .response(&caller.call_id, code)
        .await
        .unwrap_or_else(|| panic!("the caller gets the {code}"));
    let relay = remote_of(early.body(), PCMU).unwrap_or_else(|| {
        panic!(
            "the {code} carries the switch's answer: {}",
            String::from_utf8_lossy(early.body())
        )
    });
    assert_eq!(relay.rtp.ip(), sw.sip.ip(), "the caller hears the relay");
    Rung {
        ua_a,
        ua_b,
        a,
        b,
        caller,
        invite,
        tag,
        b_sdp,
        early,
    }
}

impl Rung {
    /// The callee answers (200 with its SDP); both phones send their tones, the caller
    /// `a_hz`, the callee `b_hz` (or on with its early media's).
    async fn answer(self, a_hz: f32, b_hz: f32) -> Ends {
        let Rung {
            mut ua_a,
            mut ua_b,
            mut a,
            mut b,
            mut caller,
            invite,
            tag,
            b_sdp,
            early,
        } = self;
        ua_b.reply_tagged(&invite, 200, &tag, Some(("application/sdp", &b_sdp)));
        let ok = ua_a.invite_outcome(&mut caller).await;
        assert_eq!(ok.status(), Some(200), "the call is answered");
        ua_b.expect_request(Method::Ack).await;
        let caller_sends = remote_of(ok.body(), PCMU).expect("the answer has PCMU");
        let callee_sends = remote_of(invite.body(), PCMU).expect("the offer has PCMU");
        assert_eq!(
            Some(&caller_sends),
            remote_of(early.body(), PCMU).as_ref(),
            "the caller's answer stays the one it got early"
        );
        a.start_towards(&caller_sends, a_hz);
        if b.sent_packets() == 0 {
            b.start_towards(&callee_sends, b_hz);
        }
        let callee = ua_b.uas_call(&invite, &tag);
        Ends {
            ua_a,
            ua_b,
            a,
            b,
            call: MediaCall {
                caller,
                callee,
                offer: invite,
                answer: ok,
                caller_sends,
                callee_sends,
            },
        }
    }
}

/// 1002 calls `callee` on a switch reading numbers in `country`; the callee rings without
/// early media. The caller must hear `present` sounding for `on` of the first
/// [`RINGING`] (after the first 200 ms), none of `absent`; once answered, the callee's
/// 1000 Hz and no ringback.
async fn ringback_is_heard_until_the_answer(
    country: &str,
    callee: &str,
    present: &[Heard],
    on: Duration,
    absent: &[f32],
) {
    let sw = anchoring(country, "", &[callee, "1002"]);
    let call = ring(&sw, callee, None).await;
    assert!(
        call.a.wait_heard(RINGING, PATIENCE).await,
        "the caller hears ringing"
    );
    let ringing = call.a.audio().take(RINGING);
    assert_cadenced("the ringing caller", &ringing, present, on, absent);

    let mut call = call.answer(700.0, 1000.0).await;
    call.a.clear_received();
    assert!(call.a.wait_heard(LISTEN, PATIENCE).await, "A hears B");
    assert!(call.b.wait_heard(LISTEN, PATIENCE).await, "B hears A");
    call.hang_up().await;
    call.a.stop();
    call.b.stop();
    assert_hears("A", &call.a, 1000.0, present[0].0, SampleRate::NARROW);
    for h in &present[1..] {
        assert!(
            !call.a.has(h.0),
            "the ringback stopped: {}",
            call.a.audio().describe(&[h.0])
        );
    }
    assert_hears("B", &call.b, 700.0, 1000.0, SampleRate::NARROW);
}

#[tokio::test]
async fn a_caller_hears_the_ringback_of_the_callee_numbers_country_until_the_answer() {
    // a German number on a Korean plan: Germany's 425 Hz, 1 s on 4 s off (E.180), not
    // Korea's 440+480 Hz
    ringback_is_heard_until_the_answer(
        "KR",
        "+493012345678",
        &[Heard(425.0, dbm0(-10.0))],
        Duration::from_millis(1000) - SKIP,
        &[440.0, 480.0],
    )
    .await;
}

#[tokio::test]
async fn an_extension_rings_back_with_the_tone_of_the_plans_country() {
    // an extension has no country of its own: the plan's, here NANP's 440+480 Hz at
    // -19 dBm0 each, 2 s on 4 s off
    ringback_is_heard_until_the_answer(
        "US",
        "1001",
        &[Heard(440.0, dbm0(-19.0)), Heard(480.0, dbm0(-19.0))],
        Duration::from_millis(2000) - SKIP,
        &[425.0, 400.0],
    )
    .await;
}

#[tokio::test]
async fn a_callee_with_early_media_is_heard_instead_of_ringback() {
    let sw = anchoring("KR", "", &["+493012345678", "1002"]);
    let call = ring(&sw, "+493012345678", Some(1000.0)).await;
    assert!(
        call.a.wait_heard(LISTEN, PATIENCE).await,
        "the caller hears the early media"
    );
    // the 425 Hz ringback a 180 would have brought is not there
    assert_hears(
        "A before the answer",
        &call.a,
        1000.0,
        425.0,
        SampleRate::NARROW,
    );

    let mut call = call.answer(700.0, 1000.0).await;
    call.a.clear_received();
    assert!(call.a.wait_heard(LISTEN, PATIENCE).await, "A hears B");
    assert!(call.b.wait_heard(LISTEN, PATIENCE).await, "B hears A");
    call.hang_up().await;
    call.a.stop();
    call.b.stop();
    assert_hears("A", &call.a, 1000.0, 425.0, SampleRate::NARROW);
    assert_hears("B", &call.b, 700.0, 1000.0, SampleRate::NARROW);
}

/// A re-INVITE from the caller offering `direction` goes through the relay: the callee gets
/// it pointed at the relay as before and answers `answer_direction`; the caller gets the
/// switch's answer (returned), also on the relay as before, and acknowledges it.
async fn reoffer(ends: &mut Ends, direction: &str, answer_direction: &str) -> String {
    let Ends {
        ua_a,
        ua_b,
        a,
        b,
        call,
    } = ends;
    let sdp = a.sdp_full(PCMU, a.local(), direction);
    ua_a.reinvite(&mut call.caller, &sdp);
    let offer = ua_b.expect_request(Method::Invite).await;
    let text = String::from_utf8_lossy(offer.body()).into_owned();
    assert_eq!(
        remote_of(offer.body(), PCMU).map(|r| r.rtp),
        Some(call.callee_sends.rtp),
        "the callee is offered the relay's port as before: {text}"
    );
    assert!(text.contains(&format!("a={direction}\r\n")), "{text}");
    let answer = b.sdp_full(PCMU, b.local(), answer_direction);
    ua_b.reply_tagged(
        &offer,
        200,
        &call.callee.local_tag,
        Some(("application/sdp", &answer)),
    );
    let ok = ua_a.reinvite_outcome(&mut call.caller).await;
    assert_eq!(ok.status(), Some(200), "the re-INVITE is answered");
    ua_b.expect_request(Method::Ack).await;
    assert_eq!(
        remote_of(ok.body(), PCMU).map(|r| r.rtp),
        Some(call.caller_sends.rtp),
        "the caller keeps sending to the relay: {}",
        String::from_utf8_lossy(ok.body())
    );
    String::from_utf8_lossy(ok.body()).into_owned()
}

/// Lets a change of the call's media reach the media thread, then forgets what both phones
/// heard so far.
async fn settle(ends: &Ends) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    ends.a.clear_received();
    ends.b.clear_received();
}

#[tokio::test]
async fn hold_stops_the_held_sides_audio_and_resume_brings_both_ways_back() {
    let sw = anchoring("KR", "", &["1001", "1002"]);
    let mut ends = call(&sw, Leg::pcmu(440.0), Leg::pcmu(1000.0)).await;
    assert!(ends.a.wait_heard(SKIP, PATIENCE).await, "A hears B");
    assert!(ends.b.wait_heard(SKIP, PATIENCE).await, "B hears A");

    // A holds (sendonly: its music goes on, it hears nothing); B answers recvonly but its
    // phone keeps sending, as a careless one would: the switch must not pass that on
    let answer = reoffer(&mut ends, "sendonly", "recvonly").await;
    assert!(answer.contains("a=recvonly\r\n"), "{answer}");
    let dropped = "switchboard_media_dropped_packets_total{reason=\"inactive\"}";
    let dropped_before = sw.metric(dropped);
    settle(&ends).await;
    assert!(
        ends.b.wait_heard(LISTEN, PATIENCE).await,
        "B hears A's music"
    );
    assert_eq!(
        ends.a.received_packets(),
        0,
        "A on hold gets nothing: {}",
        ends.a.audio().describe(&[1000.0])
    );
    assert_hears("B, held", &ends.b, 440.0, 1000.0, SampleRate::NARROW);
    assert!(
        common::eventually_async(PATIENCE, || sw.metric(dropped) > dropped_before).await,
        "the switch counts B's packets dropped"
    );

    let answer = reoffer(&mut ends, "sendrecv", "sendrecv").await;
    assert!(answer.contains("a=sendrecv\r\n"), "{answer}");
    settle(&ends).await;
    assert!(ends.a.wait_heard(LISTEN, PATIENCE).await, "A hears B again");
    assert!(ends.b.wait_heard(LISTEN, PATIENCE).await, "B hears A");
    ends.hang_up().await;
    ends.a.stop();
    ends.b.stop();
    assert_hears("A, resumed", &ends.a, 1000.0, 440.0, SampleRate::NARROW);
    assert_hears("B, resumed", &ends.b, 440.0, 1000.0, SampleRate::NARROW);
}

/// The chime's steps (the engine's `Tone::CHIME`): 660 Hz for 120 ms, then 880 Hz for
/// 180 ms, at -10 dBm0.
const CHIME: [(f32, Duration); 2] = [
    (660.0, Duration::from_millis(120)),
    (880.0, Duration::from_millis(180)),
];

/// 1001 dials `*72 1002` offering `codecs`: the switch answers with its own SDP in `codec`,
/// plays the chime once acknowledged (heard at `codec`'s rate) and hangs up.
async fn a_feature_code_is_confirmed_with_a_chime(codecs: &[Codec], codec: Codec) {
    let sw = media::switch("", &["1001", "1002"]);
    let mut ua = Ua::registered(sw.sip, "1001", PW).await;
    let mut phone = RtpPhone::bind(ua.local.ip());
    let offer = phone.sdp(codecs, phone.local().ip());
    let mut call = ua.invite_sdp("*721002", &offer).await;
    let ok = ua.invite_outcome(&mut call).await;
    let acked = Instant::now();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.reason(), Some("Forwarding Set"));
    let switch_media = remote_of(ok.body(), codecs).unwrap_or_else(|| {
        panic!(
            "the switch answers with its own SDP: {}",
            String::from_utf8_lossy(ok.body())
        )
    });
    assert_eq!(
        (switch_media.rtp.ip(), switch_media.codec),
        (sw.sip.ip(), codec),
        "on the switch's media address, in {codec}"
    );
    // the phone talks too: the switch must not send it back
    phone.start_towards(&switch_media, 1000.0);

    let bye = ua
        .maybe_request(Method::Bye, PATIENCE)
        .await
        .expect("the switch hangs up");
    let after = acked.elapsed();
    ua.reply(&bye, 200);
    assert_eq!(bye.call_id(), Some(call.call_id.as_str()));
    let chime: Duration = CHIME.iter().map(|s| s.1).sum();
    assert!(
        after >= chime - Duration::from_millis(40) && after < Duration::from_millis(2500),
        "the BYE comes once the chime played ({chime:?}), {after:?} after the ACK"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    phone.stop();

    // everything the phone got, its start included: the chime is shorter than what
    // `audio()` leaves out
    let streams = phone.streams();
    let heard = streams
        .iter()
        .max_by_key(|s| s.audio.samples.len())
        .map(|s| s.audio.clone())
        .unwrap_or_default();
    let sounding = heard.sounding(FLOOR_DBFS);
    let what = format!(
        "{} streams; heard {}; sounding {}",
        streams.len(),
        heard.describe(&[660.0, 880.0, 1000.0]),
        sounding.describe(&[660.0, 880.0, 1000.0])
    );
    assert!(
        sounding.duration().abs_diff(chime) <= Duration::from_millis(40),
        "the chime sounds for {chime:?}: {what}"
    );
    // the first step, then the second, each alone at its level (a frame's margin at the
    // step's edges)
    let margin = Duration::from_millis(20);
    let first = sounding.take(CHIME[0].1 - margin);
    let second = sounding.skip(CHIME[0].1 + margin);
    for (part, (hz, _), other) in [(&first, CHIME[0], 880.0), (&second, CHIME[1], 660.0)] {
        let part_what = part.describe(&[hz, other]);
        let level = part.level_at(hz);
        assert!(
            part.has(hz) && (level - dbm0(-10.0)).abs() <= LEVEL_DB,
            "{hz} Hz at {level:.1} dBFS: {part_what}; {what}"
        );
        assert!(!part.has(other), "{other} Hz: {part_what}; {what}");
    }
    assert_eq!(heard.sample_rate(), codec.sample_rate(), "{what}");
    assert!(
        !heard.has(1000.0),
        "the phone's own voice came back: {what}"
    );
}

#[tokio::test]
async fn a_feature_code_dialled_with_an_offer_is_answered_with_a_chime_then_a_bye() {
    a_feature_code_is_confirmed_with_a_chime(PCMU, Codec::Pcmu).await;
}

#[tokio::test]
async fn a_wideband_phone_hears_the_feature_codes_chime_in_g722() {
    a_feature_code_is_confirmed_with_a_chime(&[Codec::G722, Codec::Pcmu], Codec::G722).await;
}
