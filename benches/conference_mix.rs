//! The conference mixer's 20 ms tick, as the mixer thread runs it: every participant's
//! decoded frame in (`input`), `tick` (talk detection, talker selection, mixes, resampling,
//! shared and private encodes), and every participant's payload read out (`output`).
//!
//! - `conference_mix_10_rooms_x10_pcmu_3_talkers_tick`: ten rooms of ten PCMU participants,
//!   three talking in each; one iteration ticks all ten rooms (100 participants).
//! - `conference_mix_1_room_x100_pcmu_3_talkers_tick`: one room of 100 PCMU participants,
//!   three talking.
//! - `conference_mix_mixed_rate_12_3_talkers_tick`: one room of four PCMU (8 kHz), four G.722
//!   (16 kHz) and four L16 48 kHz participants, one talker at each rate: every talker reaches
//!   the two other rates (four resamplings along 8 -> 16 -> 48 kHz and back).
//! - `conference_mix_mixed_rate_20_pcmu_g722_3_talkers_tick`: one room of ten PCMU and ten
//!   G.722 participants, two PCMU talkers and one G.722 talker: the mixed room of today's
//!   phones (narrowband and wideband).
//!
//! Talkers send speech-like audio (a 120 Hz buzz with harmonics under a syllable envelope,
//! plus noise); the others send faint noise under the talk threshold, as a jitter buffer
//! gives frames for everyone. CPU per participant-second = time per tick × 50 / participants.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::conference::{Format, Mixer, MixerConfig, ParticipantId};
use switchboard_engine::media::{Codec, SampleRate};

/// 2 s of speech-like audio at `rate`, or of faint noise.
fn signal(rate: SampleRate, speech: bool, seed: u32) -> Vec<i16> {
    let hz = rate.hz() as f64;
    let mut seed = 0x2545_f491_u32 ^ seed;
    (0..2 * rate.hz() as usize)
        .map(|n| {
            let t = n as f64 / hz;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((seed >> 16) as f64 / 65536.0 - 0.5) * 100.0;
            if !speech {
                return noise as i16;
            }
            let envelope = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * 4.0 * t).cos());
            let buzz: f64 = (1..20)
                .map(|k| (2.0 * std::f64::consts::PI * 120.0 * k as f64 * t).sin() / k as f64)
                .sum();
            (envelope * 5000.0 * buzz + noise * 20.0).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// A participant's frames, cycled.
struct Source {
    id: ParticipantId,
    signal: Vec<i16>,
    len: usize,
    at: usize,
}

impl Source {
    fn next(&mut self) -> &[i16] {
        if self.at + self.len > self.signal.len() {
            self.at = 0;
        }
        self.at += self.len;
        &self.signal[self.at - self.len..self.at]
    }
}

/// A room of participants of these codecs, each talking or not.
struct Room {
    mixer: Mixer,
    sources: Vec<Source>,
}

impl Room {
    fn new(participants: &[(Codec, bool)]) -> Room {
        let mut mixer = Mixer::new(MixerConfig::new(participants.len()));
        let mut sources = Vec::new();
        for (i, &(codec, talks)) in participants.iter().enumerate() {
            let id = ParticipantId(i as u32);
            let format = Format::of(codec);
            mixer.add(id, format).unwrap();
            sources.push(Source {
                id,
                // talkers start at different points of the signal
                signal: signal(format.rate, talks, i as u32),
                len: format.rate.frame_samples(),
                at: (i * 7 * format.rate.frame_samples()) % (format.rate.hz() as usize),
            });
        }
        let mut room = Room { mixer, sources };
        // past the start-up of talk detection and the resamplers
        for _ in 0..50 {
            room.tick();
        }
        room
    }

    fn tick(&mut self) -> usize {
        for s in &mut self.sources {
            let id = s.id;
            self.mixer.input(id, s.next());
        }
        self.mixer.tick();
        self.sources
            .iter()
            .map(|s| self.mixer.output(s.id).len())
            .sum()
    }
}

fn pcmu_room(n: usize, talkers: usize) -> Room {
    let participants: Vec<(Codec, bool)> = (0..n).map(|i| (Codec::Pcmu, i < talkers)).collect();
    Room::new(&participants)
}

fn conference(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference_mix");

    let mut rooms: Vec<Room> = (0..10).map(|_| pcmu_room(10, 3)).collect();
    g.throughput(Throughput::Elements(100));
    g.bench_function("conference_mix_10_rooms_x10_pcmu_3_talkers_tick", |b| {
        b.iter(|| rooms.iter_mut().map(|r| black_box(r.tick())).sum::<usize>())
    });

    let mut room = pcmu_room(100, 3);
    g.throughput(Throughput::Elements(100));
    g.bench_function("conference_mix_1_room_x100_pcmu_3_talkers_tick", |b| {
        b.iter(|| black_box(room.tick()))
    });

    let fb = Codec::L16(SampleRate::FULL);
    let mut participants = Vec::new();
    for codec in [Codec::Pcmu, Codec::G722, fb] {
        for i in 0..4 {
            participants.push((codec, i == 0));
        }
    }
    let mut room = Room::new(&participants);
    let s = room.mixer.stats();
    assert_eq!(
        s.private_encodes / s.ticks,
        3,
        "three talkers in the mix: {s:?}"
    );
    assert_eq!(
        s.resampled_frames / s.ticks,
        4,
        "8 -> 16 -> 48 kHz and back down: {s:?}"
    );
    g.throughput(Throughput::Elements(12));
    g.bench_function("conference_mix_mixed_rate_12_3_talkers_tick", |b| {
        b.iter(|| black_box(room.tick()))
    });

    let participants: Vec<(Codec, bool)> = (0..20)
        .map(|i| match i {
            0..10 => (Codec::Pcmu, i < 2),
            _ => (Codec::G722, i == 10),
        })
        .collect();
    let mut room = Room::new(&participants);
    let s = room.mixer.stats();
    assert_eq!(
        s.resampled_frames / s.ticks,
        2,
        "the PCMU talkers up together, the G.722 talker down: {s:?}"
    );
    g.throughput(Throughput::Elements(20));
    g.bench_function(
        "conference_mix_mixed_rate_20_pcmu_g722_3_talkers_tick",
        |b| b.iter(|| black_box(room.tick())),
    );
    g.finish();
}

criterion_group!(benches, conference);
criterion_main!(benches);
