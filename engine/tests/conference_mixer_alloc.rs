//! A conference mixer allocates nothing per tick once its participants are added: frames in,
//! talk detection, talker selection, the talkers of each rate resampled along the chain of
//! rates (resamplers resting and waking as rates go quiet and talk again), mixes at three
//! rates, shared and private encodes (G.711, G.722, L16), payloads out; muting and removing
//! participants and announcing join and leave tones between ticks neither.
//!
//! A counting global allocator tallies allocations per thread; the test sets the room up,
//! warms it, then runs thousands of ticks and asserts the count did not move.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use switchboard_engine::conference::{Format, Mixer, MixerConfig, ParticipantId, VadConfig};
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{Codec, SampleRate};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on unchanged to the system allocator; counting touches only a
// const-initialized thread-local Cell, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // try_with: the allocator also runs while thread-locals are torn down
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `alloc` is the system allocator's
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A participant: its codec, a tone it sends in bursts (or nothing), its frame buffer.
struct Phone {
    id: ParticipantId,
    voice: Option<ToneGenerator>,
    /// Talks in ticks `k` with `k % period < on`.
    period: u64,
    on: u64,
    frame: Vec<i16>,
}

fn phone(id: u32, codec: Codec, freq: Option<f32>, period: u64, on: u64) -> (Phone, Format) {
    let format = Format::of(codec);
    let voice = freq.map(|f| {
        ToneGenerator::new(
            Tone::continuous(Sound::Single(f), Level::dbfs(-20.0 + id as f32)),
            format.rate,
        )
    });
    let phone = Phone {
        id: ParticipantId(id),
        voice,
        period,
        on,
        frame: vec![0; format.rate.frame_samples()],
    };
    (phone, format)
}

/// One tick as the mixer thread runs it: frames in, tick, every payload out.
fn tick(mixer: &mut Mixer, phones: &mut [Phone], k: u64) -> usize {
    for p in phones.iter_mut() {
        if let Some(v) = &mut p.voice {
            if k % p.period < p.on {
                v.generate(&mut p.frame);
                mixer.input(p.id, &p.frame);
            }
        }
    }
    mixer.tick();
    phones.iter().map(|p| mixer.output(p.id).len()).sum()
}

#[test]
fn the_counter_of_the_conference_alloc_test_sees_an_allocation() {
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(vec![1u8; 8]))),
        1
    );
}

#[test]
fn a_conference_mixer_at_three_rates_with_changing_talkers_allocates_nothing_per_tick() {
    let mut mixer = Mixer::new(MixerConfig {
        vad: VadConfig {
            hangover: Duration::from_millis(100),
            ..VadConfig::default()
        },
        ..MixerConfig::new(16)
    });
    // talkers come and go at different paces, so the mix and its resamplers keep changing
    let setup = [
        (1, Codec::Pcmu, Some(440.0), 37, 20),
        (2, Codec::Pcma, Some(700.0), 53, 30),
        (3, Codec::G722, Some(1000.0), 41, 15),
        (4, Codec::G722, Some(1300.0), 29, 20),
        (5, Codec::L16(SampleRate::FULL), Some(1700.0), 61, 25),
        (6, Codec::Pcmu, Some(2100.0), 23, 10),
        (7, Codec::Pcmu, None, 1, 0),
        (8, Codec::Pcmu, None, 1, 0),
        (9, Codec::G722, None, 1, 0),
        (10, Codec::L16(SampleRate::FULL), None, 1, 0),
    ];
    let mut phones = Vec::new();
    for (id, codec, freq, period, on) in setup {
        let (p, format) = phone(id, codec, freq, period, on);
        mixer.add(p.id, format).unwrap();
        phones.push(p);
    }
    for k in 0..200 {
        tick(&mut mixer, &mut phones, k);
    }
    let mut bytes = 0;
    let n = allocations_during(|| {
        for k in 200..3_200 {
            if k % 100 == 0 {
                let id = ParticipantId(1 + (k / 100 % 6) as u32);
                let muted = mixer.is_muted(id);
                mixer.set_muted(id, !muted);
            }
            if k % 250 == 0 {
                // a join or leave tone over the room, at every rate
                mixer.announce(if k % 500 == 0 {
                    Tone::JOINED
                } else {
                    Tone::LEFT
                });
            }
            bytes += tick(&mut mixer, &mut phones, k);
        }
    });
    assert_eq!(n, 0);
    assert!(
        bytes > 3_000 * 10 * 160,
        "every participant heard every tick: {bytes}"
    );
    let stats = mixer.stats();
    // the chain of three rates resamples up to four frames a tick, fewer when rates go quiet
    assert!(
        stats.resampled_frames > 6_000 && stats.resampled_frames <= 4 * stats.ticks,
        "{stats:?}"
    );
    assert!(stats.private_encodes > 3_000 && stats.shared_encodes > 3_000);

    // leaving between ticks: nothing either, and the room goes on
    let n = allocations_during(|| {
        for (k, id) in (3_200..3_300).zip([2, 4, 7]) {
            mixer.remove(ParticipantId(id));
            phones.retain(|p| p.id != ParticipantId(id));
            tick(&mut mixer, &mut phones, k);
        }
        for k in 3_300..4_300 {
            tick(&mut mixer, &mut phones, k);
        }
    });
    assert_eq!(n, 0);
    assert_eq!(mixer.len(), 7);
}
