//! The message writer's path for one 20 ms frame of a caller leaving a voice message
//! (`voicemail_write_20ms`): the frame's level measured (silence detection, `block_dbfs`)
//! and the frame written to the message's mono WAV file through hound, with the header flush
//! and fsync at the rate a real message has them (every `FLUSH_EVERY` of audio: one frame in
//! 45). An 8 kHz caller, the file at the call's rate (no resampling).
//!
//! The file is started afresh every few minutes of audio, outside the measured time, so a run
//! does not fill the disk.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_actors::mailbox::MessageFile;
use switchboard_engine::media::tone::{block_dbfs, Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{SampleRate, FRAME};

const NB: SampleRate = SampleRate::NARROW;

/// Frames written to one file before a new one starts (5 minutes of audio, 4.8 MB).
const FRAMES_PER_FILE: u64 = 15_000;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sb-bench-voicemail-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn voicemail(c: &mut Criterion) {
    let mut frame = vec![0i16; NB.frame_samples()];
    ToneGenerator::new(
        Tone::continuous(Sound::Single(440.0), Level::dbfs(-12.0)),
        NB,
    )
    .generate(&mut frame);
    let mut g = c.benchmark_group("voicemail");
    g.throughput(Throughput::Elements(1));
    let dir = dir();
    g.bench_function("voicemail_write_20ms", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(FRAMES_PER_FILE);
                left -= n;
                let t0 = Instant::now();
                let mut file = MessageFile::new(dir.join("bench.wav"), t0);
                // the first frame creates the file: not the steady state
                file.push(NB, &frame).unwrap();
                let start = Instant::now();
                for i in 0..n {
                    black_box(block_dbfs(black_box(&frame)));
                    file.push(NB, black_box(&frame)).unwrap();
                    // audio time, so the flush comes as often as in a real message
                    file.flush_if_due(t0 + FRAME * (i as u32 + 1)).unwrap();
                }
                spent += start.elapsed();
                black_box(file.finish(Duration::MAX).unwrap());
            }
            spent
        });
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, voicemail);
criterion_main!(benches);
