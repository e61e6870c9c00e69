//! Conference bridges end to end: test phones (real SIP, real RTP with G.711 and G.722) dial
//! `conf-<name>`, the switch answers each with its own media, and every phone's tone is
//! mixed for the others. What each phone hears is checked as a listener would: by frequency
//! and level (Goertzel), its own tone never among them.

mod common;

use std::time::{Duration, Instant};

use common::audio::{Audio, TONE_DBFS};
use common::conference::{assert_mix, Member};
use common::media::{self, PATIENCE, PW};
use common::ua::Ua;
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::Method;

const LISTEN: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_phones_at_two_rates_each_hear_the_other_two_and_never_themselves() {
    let sw = media::switch("", &["1001", "1002", "1003"]);
    let mut a = Member::dial(&sw, "1001", "team", &[Codec::Pcmu], 440.0).await;
    let mut b = Member::dial(&sw, "1002", "team", &[Codec::Pcmu], 1000.0).await;
    let mut c = Member::dial(&sw, "1003", "team", &[Codec::G722, Codec::Pcmu], 1800.0).await;
    // the join tones are over
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (ha, hb, hc) = (a.listen(LISTEN), b.listen(LISTEN), c.listen(LISTEN));
    assert_mix("1001", &ha, SampleRate::NARROW, &[1000.0, 1800.0], &[440.0]);
    assert_mix("1002", &hb, SampleRate::NARROW, &[440.0, 1800.0], &[1000.0]);
    assert_mix(
        "1003 (G.722)",
        &hc,
        SampleRate::WIDE,
        &[440.0, 1000.0],
        &[1800.0],
    );
    for m in [&mut a, &mut b, &mut c] {
        m.hang_up().await;
    }
}

/// The join tone (523 Hz then 784 Hz) and the leave tone (the same, falling).
const JOIN: [f32; 2] = [523.0, 784.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_others_hear_a_tone_when_someone_joins_and_when_someone_leaves() {
    let sw = media::switch("", &["1001", "1002"]);
    let a = Member::dial(&sw, "1001", "tones", &[Codec::Pcmu], 440.0).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.phone.clear_received();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut b = Member::dial(&sw, "1002", "tones", &[Codec::Pcmu], 1000.0).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let joined = a.phone.audio();
    assert!(
        sounds_in_order(&joined, JOIN),
        "1001 hears the join tone: {}",
        joined.describe(&JOIN)
    );
    a.phone.clear_received();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.hang_up().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let left = a.phone.audio();
    assert!(
        sounds_in_order(&left, [JOIN[1], JOIN[0]]),
        "1001 hears the leave tone: {}",
        left.describe(&JOIN)
    );
    let quiet = a.listen(Duration::from_millis(800));
    assert!(
        quiet.level_at(1000.0) < TONE_DBFS as f64 - 30.0,
        "1002 is gone from the mix: {}",
        quiet.describe(&[1000.0])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_is_heard_with_the_join_tone_not_after_it() {
    let sw = media::switch("", &["1001", "1002"]);
    let mut a = Member::dial(&sw, "1001", "newcomer", &[Codec::Pcmu], 440.0).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    a.phone.clear_received();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // 1002 talks from its first packet on
    let mut b = Member::dial(&sw, "1002", "newcomer", &[Codec::Pcmu], 1000.0).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let heard = a.phone.audio();
    let tone = onset(&heard, JOIN[0]).expect("1001 hears the join tone");
    let voice = onset(&heard, 1000.0).expect("1001 hears 1002");
    // the mixer plays the tone over the room from the tick after the join, and 1002's voice
    // from its first decoded frame: not after the tone's 250 ms
    assert!(
        voice < tone + Duration::from_millis(100),
        "1002 heard {voice:?} into 1001's audio, the join tone {tone:?}: {}",
        heard.describe(&[JOIN[0], JOIN[1], 1000.0])
    );
    for m in [&mut a, &mut b] {
        m.hang_up().await;
    }
}

/// Where `hz` first sounds in `audio` (a 40 ms window above -30 dBFS, in 10 ms steps).
fn onset(audio: &Audio, hz: f32) -> Option<Duration> {
    let (step, window) = (Duration::from_millis(10), Duration::from_millis(40));
    let mut at = Duration::ZERO;
    while at + window <= audio.duration() {
        if audio.skip(at).take(window).level_at(hz) > -30.0 {
            return Some(at);
        }
        at += step;
    }
    None
}

/// Whether `audio` has a 50 ms stretch of `first`, then later one of `then`, each loud
/// (above -30 dBFS) and the stronger of the two there.
fn sounds_in_order(audio: &Audio, [first, then]: [f32; 2]) -> bool {
    let step = Duration::from_millis(50);
    let mut at = Duration::ZERO;
    let mut seen_first = false;
    while at + step <= audio.duration() {
        let w = audio.skip(at).take(step);
        let (f, t) = (w.level_at(first), w.level_at(then));
        if !seen_first && f > -30.0 && f > t {
            seen_first = true;
        } else if seen_first && t > -30.0 && t > f {
            return true;
        }
        at += step;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn star_six_mutes_and_unmutes_oneself() {
    let sw = media::switch("", &["1001", "1002"]);
    let mut a = Member::dial(&sw, "1001", "mute", &[Codec::Pcmu], 440.0).await;
    let mut b = Member::dial(&sw, "1002", "mute", &[Codec::Pcmu], 1000.0).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_mix(
        "1001",
        &a.listen(LISTEN),
        SampleRate::NARROW,
        &[1000.0],
        &[440.0],
    );
    b.phone.clear_received();
    b.phone.send_digits("*6");
    // the muted tone (330 Hz) tells 1002
    let deadline = Instant::now() + PATIENCE;
    while !b.phone.audio().has(330.0) {
        assert!(Instant::now() < deadline, "1002 hears the muted tone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let muted = a.listen(LISTEN);
    assert!(
        muted.level_at(1000.0) < TONE_DBFS as f64 - 30.0,
        "1001 no longer hears 1002: {}",
        muted.describe(&[1000.0])
    );
    assert_mix(
        "1002 (muted)",
        &b.listen(LISTEN),
        SampleRate::NARROW,
        &[440.0],
        &[1000.0],
    );
    b.phone.send_digits("*6");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_mix(
        "1001",
        &a.listen(LISTEN),
        SampleRate::NARROW,
        &[1000.0],
        &[440.0],
    );
    for m in [&mut a, &mut b] {
        m.hang_up().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conference_address_answers_only_an_invite_with_an_offer() {
    let sw = media::switch("", &["1001"]);
    let mut ua = Ua::registered(sw.sip, "1001", PW).await;
    let mut call = ua.invite_with("conf-x", b"", true).await;
    let r = ua.invite_outcome(&mut call).await;
    assert_eq!(r.status(), Some(488), "{r:?}");
    assert!(ua
        .maybe_request(Method::Bye, Duration::from_millis(300))
        .await
        .is_none());
}
