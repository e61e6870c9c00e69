//! The frame path allocates nothing once set up: encoding and decoding every codec, generating
//! tones and resampling between the frame-path rates, 20 ms at a time, after warm-up.
//!
//! A counting global allocator keeps a per-thread count, so other tests running on other
//! threads do not disturb the measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::resample::FrameResampler;
use switchboard_engine::media::tone::{Busy, Ringback, Tone, ToneDetector, ToneGenerator};
use switchboard_engine::media::{Codec, SampleRate, MAX_FRAME_SAMPLES};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // try_with: the slot may be gone while a thread is being torn down
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local Cell with a const initializer, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

/// Runs `frame` for `warm_up` frames, then counts the allocations of 500 more (10 s).
fn allocations_per_frame(what: &str, warm_up: usize, mut frame: impl FnMut(usize)) {
    for i in 0..warm_up {
        frame(i);
    }
    let before = allocations();
    for i in warm_up..warm_up + 500 {
        frame(i);
    }
    let n = allocations() - before;
    assert_eq!(n, 0, "{what}: {n} allocations in 500 frames");
}

const RATES: [SampleRate; 3] = [SampleRate::NARROW, SampleRate::WIDE, SampleRate::FULL];

#[test]
fn the_counter_sees_allocations_on_this_thread() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations() > before);
    drop(v);
}

#[test]
fn encoding_and_decoding_every_codec_allocates_nothing_per_frame() {
    let codecs = [
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::L16(SampleRate::NARROW),
        Codec::L16(SampleRate::WIDE),
        Codec::L16(SampleRate::FULL),
    ];
    for codec in codecs {
        let mut enc = Encoder::new(codec);
        let mut dec = Decoder::new(codec);
        let samples = codec.sample_rate().frame_samples();
        let mut pcm = [0i16; MAX_FRAME_SAMPLES];
        let mut payload = [0u8; 2 * MAX_FRAME_SAMPLES];
        let mut out = [0i16; MAX_FRAME_SAMPLES];
        allocations_per_frame(&codec.to_string(), 5, |i| {
            for (k, s) in pcm[..samples].iter_mut().enumerate() {
                *s = (((i * samples + k) * 37) % 20_000) as i16 - 10_000;
            }
            let n = enc.encode(&pcm[..samples], &mut payload);
            assert_eq!(dec.decode(&payload[..n], &mut out), samples);
        });
    }
}

#[test]
fn generating_and_detecting_tones_allocates_nothing_per_frame() {
    let tones = [
        Ringback::for_country(1),
        Ringback::for_country(44),
        Ringback::for_country(81),
        Busy::for_country(49),
        Tone::BEEP,
        Tone::CHIME,
        Tone::RECORDING,
        Tone::dtmf('5', Duration::from_millis(80)).unwrap(),
    ];
    for rate in RATES {
        for tone in tones {
            let mut g = ToneGenerator::new(tone, rate);
            let detector = ToneDetector::new(rate, &[425.0, 440.0, 480.0]);
            let mut frame = [0i16; MAX_FRAME_SAMPLES];
            let n = rate.frame_samples();
            allocations_per_frame(&format!("{tone:?} at {rate}"), 5, |_| {
                g.generate(&mut frame[..n]);
                let report = detector.analyze(&frame[..n]);
                std::hint::black_box(report.dominant().count());
            });
        }
    }
}

#[test]
fn resampling_between_the_frame_path_rates_allocates_nothing_per_frame() {
    for from in RATES {
        for to in RATES {
            let mut r = FrameResampler::new(from, to);
            let mut g = ToneGenerator::new(Ringback::for_country(1), from);
            let mut input = [0i16; MAX_FRAME_SAMPLES];
            let mut out = [0i16; MAX_FRAME_SAMPLES];
            let (n_in, n_out) = (from.frame_samples(), to.frame_samples());
            allocations_per_frame(&format!("{from} -> {to}"), 5, |_| {
                g.generate(&mut input[..n_in]);
                assert_eq!(r.process(&input[..n_in], &mut out), n_out);
            });
        }
    }
}
