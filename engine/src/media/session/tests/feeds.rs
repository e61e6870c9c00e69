//! A side fed payloads made elsewhere: a conference participant's session (one side, a sink
//! taking its voice, a feed giving it the mix).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::media::tone::goertzel_power;

/// Payloads queued by the test (the mixer's ring), taken when the session is told of a push.
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
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// One payload whose bytes all say `tag` (which mixer tick made it).
    fn push_tagged(&self, tag: u8) {
        self.0.lock().unwrap().push_back(vec![tag; 160]);
    }

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

impl Rig {
    /// A mixer ticking every 20 ms from `first` to `last` ms: the session's deadlines up to
    /// each tick run, then `before_push` (the mixer's work), then the push.
    fn mixer_ticks(&mut self, first: u64, last: u64, mut before_push: impl FnMut(u64)) {
        let mut t = first;
        while t <= last {
            self.run_until(self.at(t));
            before_push(t);
            self.s.handle_feed(self.at(t));
            self.drain(self.at(t));
            t += 20;
        }
    }
}

fn header(o: &Out) -> (u16, u32, bool) {
    let p = RtpPacket::parse(&o.bytes).unwrap();
    (p.seq().0, p.timestamp().0, p.marker())
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
fn a_fed_side_sends_each_pushed_payload_at_once_in_its_own_stream_starting_with_a_marker() {
    let mut r = participant();
    let feed = Queue::default();
    feed.push_tone(440.0, 10);
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    assert_eq!(r.s.route(Side::Caller), Route::Feed);
    assert_eq!(r.s.poll_timeout(), None, "a feed alone needs no frame tick");
    r.run_until(r.at(100));
    assert!(r.take(Side::Caller).is_empty(), "nothing before a push");
    assert_eq!(feed.len(), 10);
    r.mixer_ticks(107, 500, |_| {});
    let out = r.take(Side::Caller);
    assert_eq!(
        out.len(),
        10,
        "every payload once, none once the feed is dry"
    );
    assert!(out.iter().all(|o| o.to == addr(CALLER) && !o.rtcp));
    assert!(header(&out[0]).2, "the feed starts a talk spurt");
    assert!(out[1..].iter().all(|o| !header(o).2));
    for w in out.windows(2) {
        let ((sa, ta, _), (sb, tb, _)) = (header(&w[0]), header(&w[1]));
        assert_eq!(sa.wrapping_add(1), sb);
        assert_eq!(tb.wrapping_sub(ta), 160);
    }
    let pcm = decode(&out);
    let on = goertzel_power(&pcm, SampleRate::NARROW, 440.0);
    let off = goertzel_power(&pcm, SampleRate::NARROW, 1000.0);
    assert!(on > 100.0 * off, "the feed's tone is what the side hears");
}

#[test]
fn pushes_with_nothing_to_send_leave_a_gap_of_whole_frames_and_no_gap_in_sequence() {
    let mut r = participant();
    let feed = Queue::default();
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    // payloads at the ticks of 0, 20 and 40 ms; none for 60-140 ms; two at 160 ms
    r.mixer_ticks(0, 160, |t| match t {
        0..=40 => feed.push_tagged(t as u8),
        160 => {
            feed.push_tagged(1);
            feed.push_tagged(2);
        }
        _ => {}
    });
    let out = r.take(Side::Caller);
    assert_eq!(out.len(), 5);
    let (s2, t2, _) = header(&out[2]);
    let (s3, t3, _) = header(&out[3]);
    let (_, t4, _) = header(&out[4]);
    assert_eq!(s2.wrapping_add(1), s3, "pushes with nothing send nothing");
    assert_eq!(t3.wrapping_sub(t2), 6 * 160, "the five frames missed");
    assert_eq!(t4.wrapping_sub(t3), 160, "two at once follow each other");
}

/// A participant hearing a mixer that ticks at 10 + 20k ms (each payload tagged with its
/// tick), with the BEEP (200 ms) played to it at 100 ms: what it received.
fn beep_over_the_mix(until: u64) -> (Rig, Queue, Vec<Out>) {
    let mut r = participant();
    let feed = Queue::default();
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    let f = feed.clone();
    r.mixer_ticks(10, 90, |t| f.push_tagged((t / 20) as u8));
    r.s.play(r.at(100), Side::Caller, Source::Tone(Tone::BEEP));
    assert_eq!(r.s.route(Side::Caller), Route::Source);
    let f = feed.clone();
    r.mixer_ticks(110, until, |t| f.push_tagged((t / 20) as u8));
    let out = r.take(Side::Caller);
    (r, feed, out)
}

#[test]
fn after_a_prompt_the_mix_follows_its_last_frame_without_a_missing_frame_or_a_marker() {
    let (r, _, out) = beep_over_the_mix(600);
    assert!(r
        .events
        .contains(&Event::PlayFinished { side: Side::Caller }));
    assert_eq!(r.s.route(Side::Caller), Route::Feed);
    for w in out.windows(2) {
        let ((sa, ta, _), (sb, tb, mb)) = (header(&w[0]), header(&w[1]));
        assert_eq!(sa.wrapping_add(1), sb, "one stream through prompt and mix");
        assert_eq!(
            tb.wrapping_sub(ta),
            160,
            "no frame missing: {:?}",
            header(&w[1])
        );
        assert!(!mb, "one stream: no talk spurt starts");
    }
    // 5 ticks of mix (10-90 ms), the beep's frames from 100 ms, then the mix again
    let kinds: Vec<bool> = out.iter().map(is_mix).collect();
    let beep_end = 5 + kinds[5..].iter().position(|&m| m).unwrap();
    assert!(kinds[..5].iter().all(|&m| m) && kinds[beep_end..].iter().all(|&m| m));
    assert!(beep_end - 5 >= 10, "the whole beep: {kinds:?}");
    let beep = decode(&out[5..15]);
    let (b1k, b440) = (
        goertzel_power(&beep, SampleRate::NARROW, 1000.0),
        goertzel_power(&beep, SampleRate::NARROW, 440.0),
    );
    assert!(b1k > 10.0 * b440, "the beep, not the mix, while it plays");
}

/// Whether a packet carries a tagged payload of the mixer (all its bytes one tag).
fn is_mix(o: &Out) -> bool {
    let payload = &o.bytes[12..];
    // (0xff is G.711 silence: the prompt's last frame)
    payload.len() == 160 && payload[0] != 0xff && payload.iter().all(|&b| b == payload[0])
}

#[test]
fn after_a_prompt_the_side_hears_the_mix_of_the_moment_not_the_mix_pushed_meanwhile() {
    let (_, feed, out) = beep_over_the_mix(600);
    assert_eq!(
        feed.len(),
        0,
        "what came during the prompt was taken and dropped"
    );
    // the packet sent at each mixer tick carries that tick's payload: the beep's last frame
    // went at 300 ms, the first mix after it at 310 ms, made at that tick
    let beep_end = 5 + out[5..].iter().position(is_mix).unwrap();
    let mixed: Vec<u8> = out[beep_end..].iter().map(|o| o.bytes[12]).collect();
    assert_eq!(mixed[0], (310 / 20) as u8, "{mixed:?}");
    assert!(mixed.windows(2).all(|w| w[1] == w[0] + 1), "{mixed:?}");
}

#[test]
fn a_prompt_frame_never_goes_out_late_not_even_when_the_call_leaves() {
    let (mut r, _, out) = beep_over_the_mix(5_000);
    let last = header(out.last().unwrap());
    // the participant leaves: its feed and sink go
    r.s.set_feed(r.at(5_005), Side::Caller, None);
    r.s.set_sink(r.at(5_005), None);
    r.run_until(r.at(5_100));
    let after = r.take(Side::Caller);
    assert!(
        after.is_empty(),
        "nothing more, no old frame: {:?} after {last:?}",
        after.iter().map(header).collect::<Vec<_>>()
    );
    let stamps: Vec<u32> = out.iter().map(|o| header(o).1).collect();
    assert!(stamps.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 160));
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
        r.s.handle_feed(now + ms(17));
        r.drain(now + ms(17));
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

/// Payloads with the number of the tick that made them, and the number of the last taken.
type Ticks = (VecDeque<(u64, Vec<u8>)>, Option<u64>);

/// A mixer's ring whose payloads carry the number of the tick that made them.
#[derive(Clone, Default)]
struct Numbered(Arc<Mutex<Ticks>>);

impl PayloadFeed for Numbered {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut q = self.0.lock().unwrap();
        let (tick, p) = q.0.pop_front()?;
        q.1 = Some(tick);
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }

    fn tick(&self) -> Option<u64> {
        self.0.lock().unwrap().1
    }
}

#[test]
fn a_late_wake_up_is_no_gap_the_timestamps_follow_the_mixer_s_ticks() {
    let mut r = participant();
    let clock = MixerClock {
        epoch: r.at(10),
        lead: ms(5),
    };
    r.s.set_mixer_clock(r.t0, Some(clock));
    let feed = Numbered::default();
    r.s.set_feed(r.t0, Side::Caller, Some(Box::new(feed.clone())));
    for k in 0..20u64 {
        if k == 15 {
            continue; // the mixer missed this tick
        }
        feed.0.lock().unwrap().0.push_back((k, vec![k as u8; 160]));
        // the media thread wakes 1 ms after the tick, or late (15 and 19 ms)
        let late = match k {
            7 => 15,
            12 => 19,
            _ => 1,
        };
        let at = clock.mixer_tick(k) + ms(late);
        r.run_until(at);
        r.s.handle_feed(at);
        r.drain(at);
    }
    let out = r.take(Side::Caller);
    assert_eq!(out.len(), 19);
    let steps: Vec<u32> = out
        .windows(2)
        .map(|w| header(&w[1]).1.wrapping_sub(header(&w[0]).1) / 160)
        .collect();
    let mut want = vec![1u32; 18];
    want[14] = 2; // tick 14, then 16: the one the mixer missed
    assert_eq!(steps, want, "frames, not wake-ups");
}

#[test]
fn after_a_stall_the_frame_tick_comes_back_on_the_mixer_s_grid() {
    struct Nothing;
    impl FrameSink for Nothing {
        fn frame(&mut self, _: Side, _: SampleRate, _: &[i16]) {}
    }
    let mut r = participant();
    let clock = MixerClock {
        epoch: r.at(10),
        lead: ms(5),
    };
    r.s.set_mixer_clock(r.t0, Some(clock));
    r.s.set_sink(r.t0, Some(Box::new(Nothing)));
    assert_eq!(r.s.poll_timeout(), Some(r.at(5)), "5 ms before the mixer's");
    r.run_until(r.at(45));
    assert_eq!(r.s.poll_timeout(), Some(r.at(65)));
    // the thread stalls for 200 ms: the ticks missed are dropped, the next is on the grid
    r.s.handle_timeout(r.at(273));
    assert_eq!(r.s.poll_timeout(), Some(r.at(285)));
}
