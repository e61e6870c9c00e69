//! The mixer thread in real time: participants' "media threads" played by the test, pushing
//! tones into their voice rings and taking their mix payloads every 20 ms; what each hears is
//! decoded and checked by frequency.

use std::time::{Duration, Instant};

use switchboard_engine::conference::ParticipantId;
use switchboard_engine::media::codec::Decoder;
use switchboard_engine::media::tone::{goertzel_power, Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed, Side, MAX_PAYLOAD};

use super::*;
use crate::conference::rings::{self, LegEnds};

struct Leg {
    ends: LegEnds,
    codec: Codec,
    voice: ToneGenerator,
    decoder: Decoder,
    heard: Vec<i16>,
}

impl Leg {
    fn new(codec: Codec, freq: f32) -> (Leg, MixerEnds) {
        let (ends, mixer) = rings::pair(codec, None);
        let tone = Tone::continuous(Sound::Single(freq), Level::dbfs(-12.0));
        (
            Leg {
                ends,
                codec,
                voice: ToneGenerator::new(tone, codec.sample_rate()),
                decoder: Decoder::new(codec),
                heard: Vec::new(),
            },
            mixer,
        )
    }

    /// One 20 ms tick of its media thread.
    fn tick(&mut self) {
        let rate = self.codec.sample_rate();
        let mut frame = vec![0i16; rate.frame_samples()];
        self.voice.generate(&mut frame);
        self.ends.voice.frame(Side::Caller, rate, &frame);
        let mut payload = [0u8; MAX_PAYLOAD];
        if let Some(n) = self.ends.mix.next(&mut payload) {
            let mut pcm = vec![0i16; rate.frame_samples()];
            let got = self.decoder.decode(&payload[..n], &mut pcm);
            self.heard.extend_from_slice(&pcm[..got]);
        }
    }

    /// The level of `freq` in the second half of what it heard, dBFS.
    fn hears(&self, freq: f32) -> f64 {
        let tail = &self.heard[self.heard.len() / 2..];
        10.0 * goertzel_power(tail, self.codec.sample_rate(), freq)
            .max(1e-12)
            .log10()
    }
}

fn run(legs: &mut [&mut Leg], ticks: u32) {
    let start = Instant::now();
    for k in 0..ticks {
        for leg in legs.iter_mut() {
            leg.tick();
        }
        let next = start + Duration::from_millis(20) * (k + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

#[test]
fn three_participants_at_two_rates_each_hear_the_others_and_never_themselves() {
    let metrics = Arc::new(Metrics::new());
    let mixer = MixerHandle::spawn(metrics.clone()).unwrap();
    let room = RoomKey(1);
    mixer.open(room, 8);
    let (mut a, ea) = Leg::new(Codec::Pcmu, 440.0);
    let (mut b, eb) = Leg::new(Codec::Pcmu, 1000.0);
    let (mut c, ec) = Leg::new(Codec::G722, 1800.0);
    for (i, (codec, ends)) in [(Codec::Pcmu, ea), (Codec::Pcmu, eb), (Codec::G722, ec)]
        .into_iter()
        .enumerate()
    {
        let joined = mixer.join(room, ParticipantId(i as u32 + 1), codec, ends);
        assert_eq!(joined.blocking_recv().unwrap(), Ok(()));
    }
    run(&mut [&mut a, &mut b, &mut c], 75);
    assert!(
        a.heard.len() > 40 * 160,
        "a's mix came every tick or nearly"
    );
    for (leg, own, others) in [
        (&a, 440.0, [1000.0, 1800.0]),
        (&b, 1000.0, [440.0, 1800.0]),
        (&c, 1800.0, [440.0, 1000.0]),
    ] {
        let mine = leg.hears(own);
        for f in others {
            let theirs = leg.hears(f);
            assert!(
                theirs > -20.0 && theirs > mine + 30.0,
                "{:?} at {own} Hz hears {f} Hz ({theirs:.1} dBFS) far above itself \
                 ({mine:.1} dBFS)",
                leg.codec
            );
        }
    }
    let status = mixer.status(room).blocking_recv().unwrap();
    assert_eq!(status.len(), 3);
    assert!(status.iter().all(|s| s.talking && !s.muted));
    mixer.stop();
}

#[test]
fn a_muted_participant_is_heard_by_nobody_and_a_closed_call_leaves_the_mix() {
    let metrics = Arc::new(Metrics::new());
    let mixer = MixerHandle::spawn(metrics.clone()).unwrap();
    let room = RoomKey(7);
    mixer.open(room, 4);
    let (mut a, ea) = Leg::new(Codec::Pcmu, 440.0);
    let (mut b, eb) = Leg::new(Codec::Pcmu, 1000.0);
    let (c, ec) = Leg::new(Codec::Pcmu, 1800.0);
    for (i, ends) in [ea, eb, ec].into_iter().enumerate() {
        let joined = mixer.join(room, ParticipantId(i as u32 + 1), Codec::Pcmu, ends);
        assert_eq!(joined.blocking_recv().unwrap(), Ok(()));
    }
    mixer.mute(room, ParticipantId(2), true);
    // c's call closes: its ends go, and the mixer takes it out at the next tick
    drop(c);
    run(&mut [&mut a, &mut b], 60);
    let (a_hears_b, b_hears_a) = (a.hears(1000.0), b.hears(440.0));
    assert!(b_hears_a > -20.0, "b still hears a ({b_hears_a:.1} dBFS)");
    assert!(
        a_hears_b < b_hears_a - 30.0,
        "muted b is not heard by a ({a_hears_b:.1} dBFS)"
    );
    assert!(a.hears(1800.0) < -50.0, "nor c, gone");
    let status = mixer.status(room).blocking_recv().unwrap();
    let ids: Vec<_> = status.iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [1, 2], "c left when its call closed");
    assert!(status[1].muted && !status[1].talking);
    mixer.stop();
}

#[test]
fn the_thread_ticks_only_while_someone_is_in_a_conference() {
    let metrics = Arc::new(Metrics::new());
    let mixer = MixerHandle::spawn(metrics.clone()).unwrap();
    let room = RoomKey(3);
    mixer.open(room, 4);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(metrics.conference_ticks.get(), 0, "no participant, no tick");
    let (leg, ends) = Leg::new(Codec::Pcmu, 440.0);
    let joined = mixer.join(room, ParticipantId(1), Codec::Pcmu, ends);
    assert_eq!(joined.blocking_recv().unwrap(), Ok(()));
    std::thread::sleep(Duration::from_millis(300));
    let ticked = metrics.conference_ticks.get();
    assert!(ticked >= 5, "ticks while someone is in ({ticked})");
    let (busy, max) = (
        metrics.conference_tick_busy.get(),
        metrics.conference_tick_max.get(),
    );
    assert!(
        busy > 0.0 && max > 0.0 && max <= busy,
        "tick cost counted: {busy} s, max {max} s"
    );
    mixer.leave(room, ParticipantId(1));
    drop(leg);
    std::thread::sleep(Duration::from_millis(100));
    let after_leave = metrics.conference_ticks.get();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(metrics.conference_ticks.get(), after_leave, "idle again");
    mixer.stop();
}

#[test]
fn after_a_stall_the_mixer_skips_to_the_grid_s_latest_tick_and_numbers_its_mix_so() {
    let epoch = Instant::now();
    let clock = MixerClock { epoch, lead: LEAD };
    let ms = Duration::from_millis;
    // on time, or behind by up to three ticks: the tick keeps its time (the missed ones
    // follow in a burst)
    assert_eq!(
        tick_time(&clock, epoch + ms(40), epoch + ms(41)),
        epoch + ms(40)
    );
    assert_eq!(
        tick_time(&clock, epoch + ms(40), epoch + ms(99)),
        epoch + ms(40)
    );
    // a stall of a second and a half: the tick is the grid's latest, not one 1.5 s old
    let late = tick_time(&clock, epoch + ms(40), epoch + ms(1_553));
    assert_eq!(late, epoch + ms(1_540));
    assert_eq!(clock.tick_number(late), 77);
}
