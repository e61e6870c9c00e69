use std::sync::{Arc, Mutex};

use super::*;
use crate::media::tone::{goertzel_power, ToneDetector};

fn dbfs(pcm: &[i16], rate: SampleRate, freq: f32) -> f64 {
    10.0 * goertzel_power(pcm, rate, freq).log10()
}

/// Sends `frames` 20 ms packets of `pcm` from `phone` on `side`, losing those `lose` picks,
/// running the session's clock along.
fn talk(r: &mut Rig, side: Side, phone: &mut Phone, pcm: &[i16], lose: impl Fn(usize) -> bool) {
    let n = phone.codec.sample_rate().frame_samples();
    for (k, frame) in pcm.chunks(n).enumerate() {
        let now = r.at(20 * k as u64 + 3);
        if lose(k) {
            phone.lose();
        } else {
            let p = phone.packet(frame);
            let from = phone.from;
            r.recv(now, side, from, &p);
        }
        r.run_until(now + ms(17));
    }
}

fn assert_consecutive(out: &[Out], codec: Codec, pt: u8) {
    for w in out.windows(2) {
        let (a, b) = (
            RtpPacket::parse(&w[0].bytes).unwrap(),
            RtpPacket::parse(&w[1].bytes).unwrap(),
        );
        assert_eq!(a.seq().next(), b.seq());
        assert_eq!(
            b.timestamp().0.wrapping_sub(a.timestamp().0),
            codec.frame_timestamp_units()
        );
        assert_eq!(a.ssrc(), b.ssrc());
        assert_eq!(b.payload_type().value(), pt);
        assert_eq!(b.payload().len(), codec.frame_payload_bytes());
    }
}

#[test]
fn a_1_khz_g722_tone_from_the_caller_reaches_the_callee_as_pcmu_at_its_frequency_and_level() {
    let mut r = Rig::call(
        stream(CALLER, Codec::G722, 9, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    assert_eq!(r.s.route(Side::Callee), Route::Transcode);
    let mut phone = Phone::new(CALLER, Codec::G722, 9, 1);
    let tone = sine(1000.0, -10.0, SampleRate::WIDE, 50);
    talk(&mut r, Side::Caller, &mut phone, &tone, |_| false);
    let out = r.take(Side::Callee);
    assert!(
        out.len() >= 45,
        "one packet per tick once playing: {}",
        out.len()
    );
    assert!(out.iter().all(|o| o.to == addr(CALLEE)));
    assert_consecutive(&out, Codec::Pcmu, 0);
    let pcm = decode_all(&out, Codec::Pcmu);
    let tail = &pcm[pcm.len() / 3..];
    let level = dbfs(tail, SampleRate::NARROW, 1000.0);
    assert!((level + 10.0).abs() < 1.5, "{level:.2} dBFS");
    let det = ToneDetector::new(SampleRate::NARROW, &[440.0, 1000.0, 2000.0]);
    assert!(det.analyze(tail).is(&[1000.0]));
    assert!(r.take(Side::Caller).is_empty(), "the callee said nothing");
}

#[test]
fn a_440_hz_pcmu_tone_from_the_callee_reaches_the_caller_as_16_khz_g722() {
    let mut r = Rig::call(
        stream(CALLER, Codec::G722, 9, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let mut phone = Phone::new(CALLEE, Codec::Pcmu, 0, 2);
    let tone = sine(440.0, -12.0, SampleRate::NARROW, 50);
    talk(&mut r, Side::Callee, &mut phone, &tone, |_| false);
    let out = r.take(Side::Caller);
    assert!(out.len() >= 45);
    assert_consecutive(&out, Codec::G722, 9);
    let pcm = decode_all(&out, Codec::G722);
    assert_eq!(pcm.len(), out.len() * 320, "20 ms at 16 kHz per packet");
    let tail = &pcm[pcm.len() / 3..];
    let det = ToneDetector::new(SampleRate::WIDE, &[440.0, 880.0, 1000.0, 4440.0]);
    assert!(
        det.analyze(tail).is(&[440.0]),
        "{:?}",
        det.analyze(tail).dominant().collect::<Vec<_>>()
    );
    let level = dbfs(tail, SampleRate::WIDE, 440.0);
    assert!((level + 12.0).abs() < 1.5, "{level:.2} dBFS");
}

#[test]
fn lost_packets_are_concealed_and_the_stream_out_has_no_gap() {
    let mut r = Rig::call(
        stream(CALLER, Codec::G722, 9, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let mut phone = Phone::new(CALLER, Codec::G722, 9, 1);
    let tone = sine(1000.0, -10.0, SampleRate::WIDE, 100);
    let lost = |k: usize| k > 10 && k < 90 && k.is_multiple_of(7);
    talk(&mut r, Side::Caller, &mut phone, &tone, lost);
    let out = r.take(Side::Callee);
    assert!(out.len() >= 95, "{}", out.len());
    assert_consecutive(&out, Codec::Pcmu, 0);
    let concealed = r.s.stats().side(Side::Caller).unwrap().concealed;
    let losses = (0..100).filter(|&k| lost(k)).count() as u64;
    assert_eq!(concealed, losses);
    // one missing frame in seven repeats the last one: the tone stays, barely quieter
    let pcm = decode_all(&out, Codec::Pcmu);
    let level = dbfs(&pcm[pcm.len() / 3..], SampleRate::NARROW, 1000.0);
    assert!((level + 10.0).abs() < 2.0, "{level:.2} dBFS");
    let st = r.s.stats();
    assert_eq!(st.side(Side::Caller).unwrap().lost, losses as i64);
}

/// Keeps what a sink was given.
#[derive(Clone, Default)]
struct Tap(Arc<Mutex<Vec<Heard>>>);

type Heard = (Side, SampleRate, Vec<i16>);

impl FrameSink for Tap {
    fn frame(&mut self, side: Side, rate: SampleRate, pcm: &[i16]) {
        self.0.lock().unwrap().push((side, rate, pcm.to_vec()));
    }
}

#[test]
fn a_sink_gets_both_sides_frames_at_their_rates_every_tick() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::G722, 9, None),
    );
    let tap = Tap::default();
    r.s.set_sink(r.t0, Some(Box::new(tap.clone())));
    assert_eq!(r.s.route(Side::Callee), Route::Transcode);
    let mut caller = Phone::new(CALLER, Codec::Pcmu, 0, 1);
    let mut callee = Phone::new(CALLEE, Codec::G722, 9, 2);
    let a = sine(1000.0, -10.0, SampleRate::NARROW, 40);
    let b = sine(440.0, -10.0, SampleRate::WIDE, 40);
    for k in 0..40 {
        let now = r.at(20 * k as u64 + 3);
        let p = caller.packet(&a[k * 160..(k + 1) * 160]);
        r.recv(now, Side::Caller, caller.from, &p);
        let q = callee.packet(&b[k * 320..(k + 1) * 320]);
        r.recv(now, Side::Callee, callee.from, &q);
        r.run_until(now + ms(17));
    }
    let frames = tap.0.lock().unwrap().clone();
    let of = |side: Side| -> Vec<(SampleRate, Vec<i16>)> {
        frames
            .iter()
            .filter(|f| f.0 == side)
            .map(|f| (f.1, f.2.clone()))
            .collect()
    };
    let (fa, fb) = (of(Side::Caller), of(Side::Callee));
    assert_eq!(fa.len(), fb.len(), "one frame per side per tick");
    assert!(fa.len() >= 40);
    assert!(fa
        .iter()
        .all(|(r, f)| *r == SampleRate::NARROW && f.len() == 160));
    assert!(fb
        .iter()
        .all(|(r, f)| *r == SampleRate::WIDE && f.len() == 320));
    let heard = |f: &[(SampleRate, Vec<i16>)]| {
        f[f.len() / 2..]
            .iter()
            .flat_map(|x| x.1.clone())
            .collect::<Vec<_>>()
    };
    assert!(ToneDetector::new(SampleRate::NARROW, &[440.0, 1000.0])
        .analyze(&heard(&fa))
        .is(&[1000.0]));
    assert!(ToneDetector::new(SampleRate::WIDE, &[440.0, 1000.0])
        .analyze(&heard(&fb))
        .is(&[440.0]));
    // both directions transcode while the sink is there, and relay again without it
    assert!(r.take(Side::Callee).len() >= 35);
    r.s.set_sink(r.at(900), None);
    assert_eq!(
        r.s.route(Side::Callee),
        Route::Transcode,
        "the codecs still differ"
    );
    let mut r2 = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    r2.s.set_sink(r2.t0, Some(Box::new(Tap::default())));
    assert_eq!(r2.s.route(Side::Callee), Route::Transcode);
    r2.s.set_sink(r2.t0, None);
    assert_eq!(r2.s.route(Side::Callee), Route::Relay);
    assert_eq!(
        r2.s.poll_timeout(),
        None,
        "no frame clock for a relayed call"
    );
}
