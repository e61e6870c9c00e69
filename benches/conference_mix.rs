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
//! - `conference_mix_mixed_rate_100_pcmu_g722_3_talkers_tick`: one room of 50 PCMU and 50
//!   G.722 participants, two PCMU talkers and one G.722 talker: the 100-participant room of
//!   the CPU target, at two rates.
//!
//! Talkers send speech-like audio (a 120 Hz buzz with harmonics under a syllable envelope,
//! plus noise); the others send faint noise under the talk threshold, as a jitter buffer
//! gives frames for everyone. CPU per participant-second = time per tick × 50 / participants.

use criterion::{black_box, criterion_group, Criterion, Throughput};
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

/// `n` participants, half PCMU and half G.722, two PCMU talkers and one G.722 talker.
fn mixed_room(n: usize) -> Room {
    let half = n / 2;
    let participants: Vec<(Codec, bool)> = (0..n)
        .map(|i| {
            if i < half {
                (Codec::Pcmu, i < 2)
            } else {
                (Codec::G722, i == half)
            }
        })
        .collect();
    let room = Room::new(&participants);
    let s = room.mixer.stats();
    assert_eq!(
        s.resampled_frames / s.ticks,
        2,
        "the PCMU talkers up together, the G.722 talker down: {s:?}"
    );
    room
}

/// Four each of PCMU, G.722 and L16 48 kHz, one talker at each rate.
fn three_rate_room() -> Room {
    let fb = Codec::L16(SampleRate::FULL);
    let mut participants = Vec::new();
    for codec in [Codec::Pcmu, Codec::G722, fb] {
        for i in 0..4 {
            participants.push((codec, i == 0));
        }
    }
    let room = Room::new(&participants);
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
    room
}

/// Each bench: its name, its participants per iteration, and its rooms (one iteration ticks
/// every room once).
const BENCHES: [(&str, u64); 5] = [
    ("conference_mix_10_rooms_x10_pcmu_3_talkers_tick", 100),
    ("conference_mix_1_room_x100_pcmu_3_talkers_tick", 100),
    ("conference_mix_mixed_rate_12_3_talkers_tick", 12),
    ("conference_mix_mixed_rate_20_pcmu_g722_3_talkers_tick", 20),
    (
        "conference_mix_mixed_rate_100_pcmu_g722_3_talkers_tick",
        100,
    ),
];

fn rooms_of(bench: &str) -> Vec<Room> {
    match bench {
        "conference_mix_10_rooms_x10_pcmu_3_talkers_tick" => {
            (0..10).map(|_| pcmu_room(10, 3)).collect()
        }
        "conference_mix_1_room_x100_pcmu_3_talkers_tick" => vec![pcmu_room(100, 3)],
        "conference_mix_mixed_rate_12_3_talkers_tick" => vec![three_rate_room()],
        "conference_mix_mixed_rate_20_pcmu_g722_3_talkers_tick" => vec![mixed_room(20)],
        "conference_mix_mixed_rate_100_pcmu_g722_3_talkers_tick" => vec![mixed_room(100)],
        _ => panic!("no bench {bench}"),
    }
}

fn tick_all(rooms: &mut [Room]) -> usize {
    rooms.iter_mut().map(|r| black_box(r.tick())).sum()
}

fn conference(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference_mix");
    for (name, participants) in BENCHES {
        let mut rooms = rooms_of(name);
        g.throughput(Throughput::Elements(participants));
        g.bench_function(name, |b| b.iter(|| tick_all(&mut rooms)));
    }
    g.finish();
}

criterion_group!(benches, conference);

/// `CONFERENCE_MIX_TICKS=N conference_mix NAME`: sets up bench NAME's rooms and ticks them N
/// times, without criterion: for counting instructions per tick under callgrind (the
/// difference of two values of N cancels the set-up).
fn main() {
    if let Ok(ticks) = std::env::var("CONFERENCE_MIX_TICKS") {
        let ticks: usize = ticks
            .parse()
            .expect("CONFERENCE_MIX_TICKS: a number of ticks");
        let name = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .expect("the bench's name");
        let mut rooms = rooms_of(&name);
        let bytes: usize = (0..ticks).map(|_| tick_all(&mut rooms)).sum();
        println!("{name}: {ticks} ticks, {bytes} payload bytes");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
