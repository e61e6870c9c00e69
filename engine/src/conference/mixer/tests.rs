//! The mixer as its participants hear it: each test phone sends a tone and decodes its payloads
//! with its own decoder; what it hears is measured by frequency (Goertzel), so a tone at the
//! wrong rate, an own voice heard back or a wrapped sum shows.

use super::*;
use crate::media::codec::Decoder;
use crate::media::tone::{goertzel_power, Level, Sound, Tone, ToneGenerator};

const NB: SampleRate = SampleRate::NARROW;
const WB: SampleRate = SampleRate::WIDE;
const FB: SampleRate = SampleRate::FULL;

/// Frames measured at the end of a run: 200 ms, a 5 Hz Goertzel resolution.
const MEASURED: usize = 10;

/// A test phone: sends a tone (or nothing), decodes what it hears with its own decoder.
struct Phone {
    id: ParticipantId,
    format: Format,
    voice: Option<ToneGenerator>,
    decoder: Decoder,
    frame: Vec<i16>,
    heard: Vec<i16>,
}

struct Room {
    mixer: Mixer,
    phones: Vec<Phone>,
}

impl Room {
    fn new(config: MixerConfig) -> Room {
        Room {
            mixer: Mixer::new(config),
            phones: Vec::new(),
        }
    }

    /// A phone `id` in `codec` that sends a continuous tone of `freq` Hz at `dbfs`, if given.
    fn join(&mut self, id: u32, codec: Codec, voice: Option<(f32, f32)>) {
        let format = Format::of(codec);
        self.mixer.add(ParticipantId(id), format).unwrap();
        self.phones.push(Phone {
            id: ParticipantId(id),
            format,
            voice: voice.map(|(f, db)| tone(f, db, format.rate)),
            decoder: Decoder::new(codec),
            frame: vec![0; format.rate.frame_samples()],
            heard: Vec::new(),
        });
    }

    fn leave(&mut self, id: u32) {
        self.mixer.remove(ParticipantId(id));
        self.phones.retain(|p| p.id != ParticipantId(id));
    }

    fn phone(&mut self, id: u32) -> &mut Phone {
        self.phones
            .iter_mut()
            .find(|p| p.id == ParticipantId(id))
            .unwrap()
    }

    /// Runs `ticks` ticks: each phone's frame in, a tick, each phone's payload decoded. What
    /// each phone heard during these ticks only is kept.
    fn run(&mut self, ticks: usize) {
        for p in &mut self.phones {
            p.heard.clear();
        }
        for _ in 0..ticks {
            for p in &mut self.phones {
                if let Some(g) = &mut p.voice {
                    g.generate(&mut p.frame);
                    self.mixer.input(p.id, &p.frame);
                }
            }
            self.mixer.tick();
            for p in &mut self.phones {
                let payload = self.mixer.output(p.id);
                assert!(!payload.is_empty(), "{} hears something", p.id);
                let start = p.heard.len();
                p.heard.resize(start + p.format.rate.frame_samples(), 0);
                let n = p.decoder.decode(payload, &mut p.heard[start..]);
                assert_eq!(n, p.format.rate.frame_samples());
            }
        }
    }

    /// The level in dBFS of `freq` in the last frames phone `id` heard.
    fn level(&mut self, id: u32, freq: f32) -> f64 {
        let p = self.phone(id);
        let tail = p.heard.len() - MEASURED * p.format.rate.frame_samples();
        10.0 * goertzel_power(&p.heard[tail..], p.format.rate, freq).log10()
    }

    /// Asserts phone `id` hears each of `present` at about `dbfs` and none of `absent`.
    fn assert_hears(&mut self, id: u32, present: &[f32], absent: &[f32], dbfs: f64) {
        for &f in present {
            let l = self.level(id, f);
            assert!((l - dbfs).abs() < 1.0, "{id} hears {f} Hz at {l:.1} dBFS");
        }
        for &f in absent {
            let l = self.level(id, f);
            assert!(l < dbfs - 40.0, "{id} hears {f} Hz at {l:.1} dBFS");
        }
    }
}

fn tone(freq: f32, dbfs: f32, rate: SampleRate) -> ToneGenerator {
    ToneGenerator::new(
        Tone::continuous(Sound::Single(freq), Level::dbfs(dbfs)),
        rate,
    )
}

fn quick_vad(hangover_ms: u64) -> MixerConfig {
    MixerConfig {
        vad: VadConfig {
            hangover: std::time::Duration::from_millis(hangover_ms),
            ..VadConfig::default()
        },
        ..MixerConfig::new(16)
    }
}

#[test]
fn three_participants_each_hear_the_other_two_tones_and_not_their_own() {
    let mut room = Room::new(MixerConfig::new(8));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::Pcmu, Some((1000.0, -20.0)));
    room.join(3, Codec::Pcmu, Some((1800.0, -20.0)));
    room.run(25);
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0], -20.0);
    room.assert_hears(2, &[440.0, 1800.0], &[1000.0], -20.0);
    room.assert_hears(3, &[440.0, 1000.0], &[1800.0], -20.0);
    for id in 1..=3 {
        assert!(room.mixer.talking(ParticipantId(id)));
        assert!(room.mixer.in_mix(ParticipantId(id)));
        let level = room.mixer.level_dbfs(ParticipantId(id));
        assert!((level + 20.0).abs() < 0.5, "{id}: {level}");
    }
}

#[test]
fn a_g722_participant_and_pcmu_participants_hear_each_other_at_their_own_rates() {
    let mut room = Room::new(MixerConfig::new(8));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::Pcmu, Some((1000.0, -20.0)));
    room.join(3, Codec::G722, Some((1800.0, -20.0)));
    room.run(25);
    // a frame put in at the wrong rate would come out at twice or half its frequency
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0, 900.0, 3600.0], -20.0);
    room.assert_hears(2, &[440.0, 1800.0], &[1000.0, 900.0, 3600.0], -20.0);
    room.assert_hears(3, &[440.0, 1000.0], &[1800.0, 880.0, 2000.0, 500.0], -20.0);
    let stats = room.mixer.stats();
    // each tick: the two PCMU talkers together up to 16 kHz, the G.722 talker down to 8 kHz
    assert_eq!(stats.resampled_frames, 2 * 25);
    assert_eq!(stats.private_encodes, 3 * 25);
    assert_eq!(stats.shared_encodes, 0, "everyone talks");
}

#[test]
fn a_fullband_l16_participant_joins_narrowband_and_wideband_ones() {
    let mut room = Room::new(MixerConfig::new(8));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, Some((1000.0, -20.0)));
    room.join(3, Codec::L16(FB), Some((1800.0, -20.0)));
    room.join(4, Codec::L16(FB), None);
    room.run(25);
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0], -20.0);
    room.assert_hears(2, &[440.0, 1800.0], &[1000.0], -20.0);
    room.assert_hears(3, &[440.0, 1000.0], &[1800.0, 880.0, 3600.0], -20.0);
    room.assert_hears(4, &[440.0, 1000.0, 1800.0], &[], -20.0);
    // 8 -> 16 -> 48 kHz and 48 -> 16 -> 8 kHz: four resamplings a tick, not six
    assert_eq!(room.mixer.stats().resampled_frames, 4 * 25);
}

#[test]
fn narrowband_talk_reaches_fullband_through_the_wideband_bus_and_silent_rates_cost_nothing() {
    let mut room = Room::new(quick_vad(100));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, None);
    room.join(3, Codec::L16(FB), None);
    room.run(25);
    room.assert_hears(2, &[440.0], &[880.0, 7560.0], -20.0);
    room.assert_hears(3, &[440.0], &[880.0, 7560.0, 15_560.0], -20.0);
    // up 8 -> 16 -> 48 kHz; nobody above 8 kHz talks, so nothing comes down
    assert_eq!(room.mixer.stats().resampled_frames, 2 * 25);
    // once the talker stops, each filter lets its tail out and the chain rests
    room.phone(1).voice = None;
    room.run(20);
    assert!(!room.mixer.in_mix(ParticipantId(1)));
    let before = room.mixer.stats().resampled_frames;
    room.run(10);
    assert_eq!(room.mixer.stats().resampled_frames, before);
    room.assert_hears(3, &[], &[440.0], -20.0);
}

#[test]
fn without_a_wideband_listener_8_and_48_khz_are_resampled_directly() {
    let mut room = Room::new(MixerConfig::new(4));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, None);
    room.join(3, Codec::L16(FB), Some((1800.0, -20.0)));
    room.run(5);
    room.leave(2);
    let before = room.mixer.stats().resampled_frames;
    room.run(25);
    assert_eq!(room.mixer.stats().resampled_frames - before, 2 * 25);
    room.assert_hears(1, &[1800.0], &[440.0], -20.0);
    room.assert_hears(3, &[440.0], &[1800.0, 7560.0], -20.0);
    // the wideband listener comes back: the chain goes through 16 kHz again
    room.join(4, Codec::G722, None);
    room.run(25);
    room.assert_hears(4, &[440.0, 1800.0], &[], -20.0);
    room.assert_hears(3, &[440.0], &[1800.0], -20.0);
    room.assert_hears(1, &[1800.0], &[440.0], -20.0);
}

#[test]
fn loud_talkers_clip_at_the_16_bit_limits_instead_of_wrapping() {
    // L16 is lossless: the samples heard are the samples mixed
    let l16 = Codec::L16(NB);
    for (level, limit) in [(30_000i16, i16::MAX), (-30_000, i16::MIN)] {
        let mut m = Mixer::new(MixerConfig::new(4));
        for id in 1..=3 {
            m.add(ParticipantId(id), Format::of(l16)).unwrap();
        }
        let loud = [level; 160];
        for _ in 0..3 {
            m.input(ParticipantId(1), &loud);
            m.input(ParticipantId(2), &loud);
            m.tick();
        }
        let mut pcm = [0i16; 160];
        let mut dec = Decoder::new(l16);
        // the listener hears 60 000 clipped, not wrapped round to -5 536
        dec.decode(m.output(ParticipantId(3)), &mut pcm);
        assert!(pcm.iter().all(|&s| s == limit), "{:?}", &pcm[..4]);
        assert_eq!(m.mix(NB).unwrap(), [limit; 160]);
        // each talker hears the other exactly: subtracted before clipping
        dec.decode(m.output(ParticipantId(1)), &mut pcm);
        assert!(pcm.iter().all(|&s| s == level), "{:?}", &pcm[..4]);
    }
}

#[test]
fn silent_listeners_of_one_format_share_one_payload_encoded_once_per_tick() {
    let mut room = Room::new(MixerConfig::new(32));
    room.join(1, Codec::Pcmu, Some((500.0, -20.0)));
    room.join(2, Codec::Pcma, Some((1200.0, -20.0)));
    for id in 10..13 {
        room.join(id, Codec::Pcmu, None);
    }
    for id in 20..22 {
        room.join(id, Codec::Pcma, None);
    }
    room.join(30, Codec::G722, None);
    room.run(5);
    let before = room.mixer.stats();
    room.run(10);
    let after = room.mixer.stats();
    // three formats among the listeners, two talkers: 3 + 2 encodes a tick
    assert_eq!(after.shared_encodes - before.shared_encodes, 3 * 10);
    assert_eq!(after.private_encodes - before.private_encodes, 2 * 10);

    let m = &room.mixer;
    let out = |id| m.output(ParticipantId(id));
    for id in [11, 12] {
        assert_eq!(out(id), out(10), "byte-identical");
        assert!(std::ptr::eq(out(id), out(10)), "the same buffer");
    }
    assert!(std::ptr::eq(out(21), out(20)));
    assert_ne!(out(10), out(20), "PCMU and PCMA differ");
    assert_eq!(out(30).len(), 160);
    // the talkers hear their own N-1 mix
    assert!(!std::ptr::eq(out(1), out(10)));
    assert_ne!(out(1), out(10));
    assert!(m.in_mix(ParticipantId(1)) && !m.in_mix(ParticipantId(10)));
    room.assert_hears(10, &[500.0, 1200.0], &[], -20.0);
    room.assert_hears(30, &[500.0, 1200.0], &[], -20.0);
    room.assert_hears(1, &[1200.0], &[500.0], -20.0);

    // twenty more listeners cost no encode more
    for id in 40..60 {
        room.join(id, Codec::Pcmu, None);
    }
    let before = room.mixer.stats();
    room.run(10);
    let after = room.mixer.stats();
    assert_eq!(after.shared_encodes - before.shared_encodes, 3 * 10);
    assert_eq!(after.private_encodes - before.private_encodes, 2 * 10);
}

#[test]
fn one_talker_alone_is_heard_by_everyone_and_hears_silence() {
    let mut room = Room::new(MixerConfig::new(4));
    room.join(1, Codec::Pcmu, Some((1000.0, -20.0)));
    room.join(2, Codec::Pcmu, None);
    room.join(3, Codec::G722, None);
    room.run(20);
    room.assert_hears(2, &[1000.0], &[], -20.0);
    room.assert_hears(3, &[1000.0], &[], -20.0);
    assert!(room.phone(1).heard.iter().all(|&s| s == 0));
    assert!(!room.mixer.talking(ParticipantId(2)));
}

#[test]
fn a_participant_added_between_ticks_is_heard_from_the_next_tick_and_a_removed_one_no_more() {
    let mut room = Room::new(MixerConfig::new(8));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::Pcmu, Some((1000.0, -20.0)));
    room.run(20);
    room.assert_hears(1, &[1000.0], &[440.0, 1800.0], -20.0);

    // a wideband participant arrives: a new rate, its bus and resamplers made now
    room.join(3, Codec::G722, Some((1800.0, -20.0)));
    assert!(
        room.mixer.output(ParticipantId(3)).is_empty(),
        "not before a tick"
    );
    assert_eq!(room.mixer.len(), 3);
    room.run(20);
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0], -20.0);
    room.assert_hears(3, &[440.0, 1000.0], &[1800.0], -20.0);

    room.leave(2);
    assert!(room.mixer.output(ParticipantId(2)).is_empty());
    assert!(!room.mixer.talking(ParticipantId(2)));
    room.run(MEASURED);
    // gone from the very first tick after (narrowband: no resampler holds its audio)
    room.assert_hears(1, &[1800.0], &[440.0, 1000.0], -20.0);
    room.run(20);
    room.assert_hears(3, &[440.0], &[1000.0, 1800.0], -20.0);

    // its place is taken again by a newcomer, who hears from the next tick
    room.join(2, Codec::Pcma, Some((2600.0, -20.0)));
    room.run(20);
    room.assert_hears(1, &[1800.0, 2600.0], &[440.0, 1000.0], -20.0);
    room.assert_hears(2, &[440.0, 1800.0], &[2600.0], -20.0);
}

#[test]
fn an_announcement_plays_over_the_conversation_to_everyone_at_every_rate_then_ends() {
    let mut room = Room::new(MixerConfig::new(4));
    room.join(1, Codec::Pcmu, Some((440.0, -12.0)));
    room.join(2, Codec::G722, Some((1000.0, -12.0)));
    room.join(3, Codec::Pcmu, None);
    room.run(20);
    // 523 Hz for 100 ms, then 784 Hz for 150 ms: the last 10 frames of 12 hold 7 of 784 Hz
    room.mixer.announce(Tone::JOINED);
    assert!(room.mixer.announcing());
    room.run(12);
    for (id, hears) in [(1, 1000.0), (2, 440.0), (3, 440.0)] {
        let tone = room.level(id, 784.0);
        assert!(tone > -30.0, "{id} hears the announcement ({tone:.1} dBFS)");
        let voice = room.level(id, hears);
        assert!((voice + 12.0).abs() < 1.0, "{id} hears the others under it");
    }
    room.run(20);
    assert!(!room.mixer.announcing(), "it ends by itself");
    room.assert_hears(3, &[440.0, 1000.0], &[784.0], -12.0);
    let mut empty = Mixer::new(MixerConfig::new(2));
    empty.announce(Tone::JOINED);
    assert!(!empty.announcing(), "nobody to hear it");
}

#[test]
fn muting_removes_a_participants_tone_from_the_others_output() {
    let mut room = Room::new(MixerConfig::new(8));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, Some((1000.0, -20.0)));
    room.join(3, Codec::Pcmu, Some((1800.0, -20.0)));
    room.run(20);
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0], -20.0);

    room.mixer.set_muted(ParticipantId(2), true);
    assert!(room.mixer.is_muted(ParticipantId(2)));
    room.run(20);
    room.assert_hears(1, &[1800.0], &[440.0, 1000.0], -20.0);
    room.assert_hears(3, &[440.0], &[1000.0, 1800.0], -20.0);
    // the muted participant still hears everyone, and counts as silent
    room.assert_hears(2, &[440.0, 1800.0], &[1000.0], -20.0);
    assert!(!room.mixer.talking(ParticipantId(2)));
    assert!(!room.mixer.in_mix(ParticipantId(2)));
    assert!(
        room.mixer.level_dbfs(ParticipantId(2)) > -21.0,
        "its level still shows"
    );

    room.mixer.set_muted(ParticipantId(2), false);
    room.run(20);
    room.assert_hears(1, &[1000.0, 1800.0], &[440.0], -20.0);
}

#[test]
fn max_talkers_mixes_the_loudest_and_lets_a_much_louder_one_in() {
    let mut room = Room::new(MixerConfig {
        max_talkers: 2,
        ..MixerConfig::new(8)
    });
    room.join(1, Codec::Pcmu, Some((520.0, -10.0)));
    room.join(2, Codec::Pcmu, Some((910.0, -16.0)));
    room.join(3, Codec::Pcmu, Some((1330.0, -22.0)));
    room.join(4, Codec::Pcmu, Some((1770.0, -28.0)));
    room.join(9, Codec::Pcmu, None);
    room.run(20);
    let levels = |room: &mut Room, f: [f32; 4]| f.map(|f| room.level(9, f) as f32);
    let [l1, l2, l3, l4] = levels(&mut room, [520.0, 910.0, 1330.0, 1770.0]);
    assert!(
        (l1 + 10.0).abs() < 1.5 && (l2 + 16.0).abs() < 1.5,
        "{l1} {l2}"
    );
    assert!(l3 < -60.0 && l4 < -60.0, "{l3} {l4}");
    let mixed: Vec<u32> = (1..=4)
        .filter(|&id| room.mixer.in_mix(ParticipantId(id)))
        .collect();
    assert_eq!(mixed, [1, 2]);
    // everyone talks: the two left out hear the full mix like the listener
    assert!((1..=4).all(|id| room.mixer.talking(ParticipantId(id))));
    assert_eq!(
        room.mixer.output(ParticipantId(3)),
        room.mixer.output(ParticipantId(9))
    );

    // 3 gets louder than 2, by 4 dB: not enough to take its place
    room.phone(3).voice = Some(tone(1330.0, -12.0, NB));
    room.run(20);
    assert!(room.mixer.in_mix(ParticipantId(2)) && !room.mixer.in_mix(ParticipantId(3)));
    // by 10 dB: it does
    room.phone(3).voice = Some(tone(1330.0, -6.0, NB));
    room.run(20);
    assert!(room.mixer.in_mix(ParticipantId(3)) && !room.mixer.in_mix(ParticipantId(2)));
    let [l1, l2, l3, _] = levels(&mut room, [520.0, 910.0, 1330.0, 1770.0]);
    assert!(
        (l1 + 10.0).abs() < 1.5 && (l3 + 6.0).abs() < 1.5,
        "{l1} {l3}"
    );
    assert!(l2 < -60.0, "{l2}");
}

#[test]
fn a_talker_who_stops_sending_is_silence_and_leaves_the_mix_after_the_hangover() {
    let mut room = Room::new(quick_vad(200));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, None);
    room.run(20);
    room.assert_hears(2, &[440.0], &[], -20.0);
    room.phone(1).voice = None;
    room.run(MEASURED + 1);
    room.assert_hears(2, &[], &[440.0], -20.0);
    assert!(!room.mixer.in_mix(ParticipantId(1)));
    assert!(!room.mixer.talking(ParticipantId(1)));
}

#[test]
fn talkers_taking_turns_at_one_rate_share_its_resampler() {
    let mut room = Room::new(MixerConfig {
        max_talkers: 1,
        ..quick_vad(100)
    });
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::Pcmu, None);
    room.join(3, Codec::G722, None);
    room.run(20);
    room.assert_hears(3, &[440.0], &[1000.0], -20.0);
    room.phone(1).voice = None;
    room.phone(2).voice = Some(tone(1000.0, -20.0, NB));
    room.run(20);
    room.assert_hears(3, &[1000.0], &[440.0], -20.0);
    assert!(room.mixer.in_mix(ParticipantId(2)));
    // one 8 -> 16 kHz resampling a tick, all along
    assert_eq!(room.mixer.stats().resampled_frames, 40);
}

#[test]
fn the_full_mix_of_a_rate_is_there_for_a_recording_even_with_no_listener_at_it() {
    let mut room = Room::new(MixerConfig::new(4));
    room.join(1, Codec::Pcmu, Some((440.0, -20.0)));
    room.join(2, Codec::G722, Some((1800.0, -20.0)));
    room.run(5);
    assert!(room.mixer.mix(FB).is_none());
    room.mixer.hold_mix(FB, true);
    let mut recorded = Vec::new();
    for _ in 0..25 {
        room.run(1);
        recorded.extend_from_slice(room.mixer.mix(FB).unwrap());
    }
    let tail = &recorded[recorded.len() - MEASURED * FB.frame_samples()..];
    for f in [440.0, 1800.0] {
        let l = 10.0 * goertzel_power(tail, FB, f).log10();
        assert!((l + 20.0).abs() < 1.0, "{f} Hz at {l:.1} dBFS");
    }
    let narrow = room.mixer.mix(NB).unwrap();
    assert_eq!(narrow.len(), 160);
    room.mixer.hold_mix(FB, false);
    room.run(1);
    assert!(room.mixer.mix(FB).is_none());
    assert!(room.mixer.mix(WB).is_some());
}

#[test]
fn an_empty_mixer_does_nothing_on_a_tick() {
    let mut m = Mixer::new(MixerConfig::new(2));
    m.tick();
    assert_eq!(m.stats(), MixerStats::default());
    m.add(ParticipantId(1), Format::of(Codec::Pcmu)).unwrap();
    m.tick();
    assert_eq!(m.stats().ticks, 1);
    m.remove(ParticipantId(1));
    assert!(m.is_empty());
    m.tick();
    assert_eq!(m.stats().ticks, 1);
    assert!(m.output(ParticipantId(1)).is_empty());
}

#[test]
fn a_full_mixer_a_known_id_and_a_rate_not_the_codecs_are_refused() {
    let mut m = Mixer::new(MixerConfig::new(2));
    let pcmu = Format::of(Codec::Pcmu);
    m.add(ParticipantId(1), pcmu).unwrap();
    assert_eq!(
        m.add(ParticipantId(1), pcmu),
        Err(MixerError::Duplicate {
            id: ParticipantId(1)
        })
    );
    let wrong = Format {
        rate: WB,
        codec: Codec::Pcmu,
    };
    let err = m.add(ParticipantId(2), wrong).unwrap_err();
    assert_eq!(err.to_string(), "rate 16000 Hz is not the rate of PCMU");
    m.add(ParticipantId(2), Format::of(Codec::G722)).unwrap();
    let err = m.add(ParticipantId(3), pcmu).unwrap_err();
    assert_eq!(err, MixerError::Full { capacity: 2 });
    assert_eq!(err.to_string(), "mixer is full (2 participants)");
    assert_eq!(m.format(ParticipantId(2)), Some(Format::of(Codec::G722)));
    // calls about unknown participants do nothing
    m.input(ParticipantId(7), &[1; 160]);
    m.set_muted(ParticipantId(7), true);
    m.remove(ParticipantId(7));
    assert_eq!(m.len(), 2);
    assert_eq!(m.level_dbfs(ParticipantId(7)), MIN_LEVEL_DBFS);
}

#[test]
fn a_short_frame_is_padded_with_silence_and_a_long_one_cut() {
    let l16 = Codec::L16(NB);
    let mut m = Mixer::new(MixerConfig::new(2));
    m.add(ParticipantId(1), Format::of(l16)).unwrap();
    m.add(ParticipantId(2), Format::of(l16)).unwrap();
    m.input(ParticipantId(1), &[1000; 100]);
    m.tick();
    let mut pcm = [0i16; 160];
    Decoder::new(l16).decode(m.output(ParticipantId(2)), &mut pcm);
    assert!(pcm[..100].iter().all(|&s| s == 1000) && pcm[100..].iter().all(|&s| s == 0));
    m.input(ParticipantId(1), &[-500; 400]);
    m.tick();
    Decoder::new(l16).decode(m.output(ParticipantId(2)), &mut pcm);
    assert!(pcm.iter().all(|&s| s == -500));
}

#[test]
fn the_same_frames_make_the_same_payloads() {
    let run = || {
        let mut room = Room::new(MixerConfig::new(8));
        room.join(1, Codec::G722, Some((440.0, -20.0)));
        room.join(2, Codec::Pcmu, Some((1000.0, -30.0)));
        room.join(3, Codec::L16(FB), None);
        room.run(30);
        (1..=3)
            .map(|id| room.mixer.output(ParticipantId(id)).to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
