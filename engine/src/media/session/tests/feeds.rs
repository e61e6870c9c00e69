//! A side fed payloads made elsewhere: a conference participant's session (one side, a sink
//! taking its voice, a feed giving it the mix).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::media::tone::goertzel_power;

/// Payloads queued by the test, taken one per tick.
#[derive(Clone, Default)]
struct Queue(Arc<Mutex<VecDeque<Vec<u8>>>>);

impl PayloadFeed for Queue {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let p = self.0.lock().unwrap().pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
}

impl Queue {
    fn push_tone(&self, freq: f32, frames: usize) {
        let pcm = sine(freq, -12.0, SampleRate::NARROW, frames);
        let mut enc = Encoder::new(Codec::Pcmu);
        let mut q = self.0.lock().unwrap();
        for f in pcm.chunks(160) {
            let mut p = vec![0u8; 160];
            let n = enc.encode(f, &mut p);
            p.truncate(n);
            q.push_back(p);
        }
    }
}

/// A participant alone on the caller side, PCMU on payload type 0.
fn participant() -> Rig {
    let mut r = Rig::new();
    r.s.configure(r.t0, Side::Caller, stream(CALLER, Codec::Pcmu, 0, None));
    r
}

fn decode(out: &[Out]) -> Vec<i16> {
    let mut dec = Decoder::new(Codec::Pcmu);
    let mut pcm = Vec::new();
    for o in out {
        let p = RtpPacket::parse(&o.bytes).unwrap();
        let mut f = [0i16; 160];
        let n = dec.decode(p.payload(), &mut f);
        pcm.extend_from_slice(&f[..n]);
    }
    pcm
}

#[test]
fn a_fed_side_gets_each_payload_once_in_its_own_stream_starting_with_a_marker() {
    let mut r = participant();
    let feed = Queue::default();
    feed.push_tone(440.0, 10);
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    assert_eq!(r.s.route(Side::Caller), Route::Feed);
    r.run_until(r.at(400));
    let out = r.take(Side::Caller);
    assert_eq!(
        out.len(),
        10,
        "one packet per payload, none once the feed is dry"
    );
    assert!(out.iter().all(|o| o.to == addr(CALLER) && !o.rtcp));
    let first = RtpPacket::parse(&out[0].bytes).unwrap();
    assert!(first.marker(), "the feed starts a talk spurt");
    assert!(out[1..]
        .iter()
        .all(|o| !RtpPacket::parse(&o.bytes).unwrap().marker()));
    for w in out.windows(2) {
        let (a, b) = (
            RtpPacket::parse(&w[0].bytes).unwrap(),
            RtpPacket::parse(&w[1].bytes).unwrap(),
        );
        assert_eq!(a.seq().next(), b.seq());
        assert_eq!(b.timestamp().0.wrapping_sub(a.timestamp().0), 160);
        assert_eq!(a.ssrc(), b.ssrc());
        assert_eq!(b.payload_type().value(), 0);
    }
    let pcm = decode(&out);
    let on = goertzel_power(&pcm, SampleRate::NARROW, 440.0);
    let off = goertzel_power(&pcm, SampleRate::NARROW, 1000.0);
    assert!(on > 100.0 * off, "the feed's tone is what the side hears");
}

#[test]
fn a_dry_feed_sends_nothing_and_the_stream_goes_on_without_a_gap_in_sequence() {
    let mut r = participant();
    let feed = Queue::default();
    feed.push_tone(440.0, 3);
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    r.run_until(r.at(150));
    let early = r.take(Side::Caller);
    assert_eq!(early.len(), 3);
    feed.push_tone(440.0, 2);
    r.run_until(r.at(200));
    let late = r.take(Side::Caller);
    assert_eq!(late.len(), 2);
    let a = RtpPacket::parse(&early[2].bytes).unwrap();
    let b = RtpPacket::parse(&late[0].bytes).unwrap();
    assert_eq!(a.seq().next(), b.seq(), "skipped ticks send nothing");
    assert!(
        b.timestamp().0.wrapping_sub(a.timestamp().0) > 160,
        "the timestamp tells the time that passed"
    );
}

#[test]
fn a_prompt_plays_over_the_feed_and_the_feed_resumes_with_a_marker() {
    let mut r = participant();
    let feed = Queue::default();
    feed.push_tone(440.0, 100);
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    r.run_until(r.at(100));
    r.take(Side::Caller);
    r.s.play(r.at(100), Side::Caller, Source::Tone(Tone::BEEP));
    assert_eq!(r.s.route(Side::Caller), Route::Source);
    r.run_until(r.at(1000));
    let out = r.take(Side::Caller);
    assert!(r
        .events
        .contains(&Event::PlayFinished { side: Side::Caller }));
    assert_eq!(r.s.route(Side::Caller), Route::Feed);
    let resumed = out
        .iter()
        .skip(1)
        .position(|o| RtpPacket::parse(&o.bytes).unwrap().marker())
        .expect("a marker where the feed resumes")
        + 1;
    let beep = decode(&out[..resumed]);
    let mix = decode(&out[resumed..]);
    assert!(!mix.is_empty());
    let (b1k, b440) = (
        goertzel_power(&beep, SampleRate::NARROW, 1000.0),
        goertzel_power(&beep, SampleRate::NARROW, 440.0),
    );
    assert!(b1k > 10.0 * b440, "the beep, not the feed, while it plays");
    let (m1k, m440) = (
        goertzel_power(&mix, SampleRate::NARROW, 1000.0),
        goertzel_power(&mix, SampleRate::NARROW, 440.0),
    );
    assert!(m440 > 100.0 * m1k, "the feed after it");
    for w in out.windows(2) {
        let (a, b) = (
            RtpPacket::parse(&w[0].bytes).unwrap(),
            RtpPacket::parse(&w[1].bytes).unwrap(),
        );
        assert_eq!(a.seq().next(), b.seq(), "one stream through prompt and mix");
        assert_eq!(a.ssrc(), b.ssrc());
    }
}

#[test]
fn the_participant_s_voice_reaches_the_sink_while_the_feed_plays() {
    let mut r = participant();
    let heard: Arc<Mutex<Vec<i16>>> = Arc::default();
    struct Voice(Arc<Mutex<Vec<i16>>>);
    impl FrameSink for Voice {
        fn frame(&mut self, side: Side, rate: SampleRate, pcm: &[i16]) {
            assert_eq!((side, rate), (Side::Caller, SampleRate::NARROW));
            self.0.lock().unwrap().extend_from_slice(pcm);
        }
    }
    r.s.set_sink(r.t0, Some(Box::new(Voice(heard.clone()))));
    let feed = Queue::default();
    feed.push_tone(440.0, 30);
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed)));
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 5);
    let voice = sine(1000.0, -10.0, SampleRate::NARROW, 30);
    for (k, f) in voice.chunks(160).enumerate() {
        let now = r.at(20 * k as u64 + 3);
        let p = phone.packet(f);
        r.recv(now, Side::Caller, phone.from, &p);
        r.run_until(now + ms(17));
    }
    let pcm = heard.lock().unwrap().clone();
    assert!(pcm.len() >= 25 * 160);
    let tail = &pcm[pcm.len() / 2..];
    let v = goertzel_power(tail, SampleRate::NARROW, 1000.0);
    let f = goertzel_power(tail, SampleRate::NARROW, 440.0);
    assert!(v > 100.0 * f, "the sink hears the participant, not the mix");
    assert_eq!(
        r.take(Side::Caller).len(),
        30,
        "and the feed went out meanwhile"
    );
}
