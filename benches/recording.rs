//! The recording path, one 20 ms tick per iteration:
//!
//! - `recording_tap_20ms`: what the media thread pays, a frame of each side pushed into the
//!   tap's ring, and what the recorder pays to pop them back out;
//! - `recording_write_20ms`: the recorder thread's write path for one frame per side (an
//!   8 kHz caller and a 16 kHz callee, so one side is resampled), paired, interleaved and
//!   written to a real file through hound, with the header flush and fsync included at the
//!   rate a real call has them (every `FLUSH_EVERY` of audio: one tick in 45).
//!
//! The file is started afresh every few minutes of audio, outside the measured time, so a run
//! does not fill the disk.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_actors::recording::file::RecordingFile;
use switchboard_actors::recording::tap;
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{FrameSink, SampleRate, Side, FRAME, MAX_FRAME_SAMPLES};

const NB: SampleRate = SampleRate::NARROW;
const WB: SampleRate = SampleRate::WIDE;

/// Ticks written to one file before a new one starts (5 minutes of audio, 19 MB).
const TICKS_PER_FILE: u64 = 15_000;

fn frame(freq: f32, rate: SampleRate) -> Vec<i16> {
    let mut out = vec![0i16; rate.frame_samples()];
    ToneGenerator::new(
        Tone::continuous(Sound::Single(freq), Level::dbfs(-10.0)),
        rate,
    )
    .generate(&mut out);
    out
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sb-bench-recording-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn recording(c: &mut Criterion) {
    let (caller, callee) = (frame(440.0, NB), frame(1000.0, WB));
    let mut g = c.benchmark_group("recording");
    g.throughput(Throughput::Elements(1));

    g.bench_function("recording_tap_20ms", |b| {
        let (mut tap, mut reader) = tap::channel();
        let mut out = [0i16; MAX_FRAME_SAMPLES];
        b.iter(|| {
            tap.frame(Side::Caller, NB, black_box(&caller));
            tap.frame(Side::Callee, WB, black_box(&callee));
            while let Some(f) = reader.next_frame(&mut out) {
                black_box(f);
            }
        });
    });

    let dir = dir();
    g.bench_function("recording_write_20ms", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(TICKS_PER_FILE);
                left -= n;
                let t0 = Instant::now();
                let mut file = RecordingFile::new(dir.join("bench.wav"), t0);
                // the first tick creates the file and the resampler: not the steady state
                file.push(Side::Caller, NB, &caller).unwrap();
                file.push(Side::Callee, WB, &callee).unwrap();
                let start = Instant::now();
                for tick in 0..n {
                    file.push(Side::Caller, NB, black_box(&caller)).unwrap();
                    file.push(Side::Callee, WB, black_box(&callee)).unwrap();
                    // audio time, so the flush comes as often as in a real call
                    let at = t0 + FRAME * (tick as u32 + 1);
                    file.flush_if_due(at).unwrap();
                }
                spent += start.elapsed();
                black_box(file.finish().unwrap());
            }
            spent
        });
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, recording);
criterion_main!(benches);
