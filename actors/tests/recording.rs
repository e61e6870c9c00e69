//! A recording end to end through the recorder thread: a test thread plays the media thread's
//! part, pushing a 440 Hz caller (8 kHz) and a 1 kHz callee (16 kHz) into a `RecordingTap`
//! every 20 ms for 3 s; the WAV read back with `hound` holds 3 s of stereo at 16 kHz with the
//! caller's tone on the left and the callee's on the right, each at the level it was sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use switchboard_actors::metrics::Metrics;
use switchboard_actors::recording::{self, Recorder, RecordingMeta};
use switchboard_actors::store::Store;
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};
use switchboard_engine::media::{FrameSink, SampleRate, Side, FRAME};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::RecordingState;

const LEVEL_DBFS: f32 = -12.0;

fn data_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sb-recording-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_three_second_recording_holds_the_caller_left_and_the_callee_right() {
    let dir = data_dir();
    let db = Store::open(&dir.join("data"), 100, 8).unwrap();
    let (recorder, _) = Recorder::open(
        db.clone(),
        recording::dir_in(&dir),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let meta = RecordingMeta {
        caller: Aor::from_canonical("1001"),
        callee: Aor::from_canonical("1002"),
        call_id: "e2e@test".into(),
        started: SystemTime::now(),
    };
    let (id, mut tap) = recorder.start(meta).unwrap();

    let (nb, wb) = (SampleRate::NARROW, SampleRate::WIDE);
    let tone = |hz| Tone::continuous(Sound::Single(hz), Level::dbfs(LEVEL_DBFS));
    let media = std::thread::spawn(move || {
        let mut caller = ToneGenerator::new(tone(440.0), nb);
        let mut callee = ToneGenerator::new(tone(1000.0), wb);
        let (mut a, mut b) = ([0i16; 160], [0i16; 320]);
        let t0 = Instant::now();
        for tick in 0..150u32 {
            caller.generate(&mut a);
            callee.generate(&mut b);
            tap.frame(Side::Caller, nb, &a);
            tap.frame(Side::Callee, wb, &b);
            std::thread::sleep((t0 + FRAME * (tick + 1)).saturating_duration_since(Instant::now()));
        }
        tap.dropped()
    });
    let dropped = media.join().unwrap();
    assert_eq!(dropped, 0, "the recorder kept up");
    recorder.finish(id);
    let deadline = Instant::now() + Duration::from_secs(10);
    let rec = loop {
        let rec = db.recording(id).unwrap().unwrap();
        if rec.state == RecordingState::Done {
            break rec;
        }
        assert!(Instant::now() < deadline, "not finished: {rec:?}");
        std::thread::sleep(Duration::from_millis(20));
    };

    let path = recorder.file(id);
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 16_000, 16)
    );
    let secs = reader.duration() as f64 / spec.sample_rate as f64;
    assert!((secs - 3.0).abs() <= 0.040, "{secs:.3} s");
    assert_eq!(rec.duration_ms, reader.duration() as u64 * 1000 / 16_000);
    assert_eq!(rec.bytes, std::fs::metadata(&path).unwrap().len());

    let all: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = all.iter().step_by(2).copied().collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    let detect = ToneDetector::new(wb, &[440.0, 1000.0]);
    // every 100 ms block past the resampler's first milliseconds
    for (name, channel, want, other) in [
        ("left", &left, 440.0, 1000.0),
        ("right", &right, 1000.0, 440.0),
    ] {
        for (i, block) in channel[160..].chunks_exact(1600).enumerate() {
            let r = detect.analyze(block);
            assert!(r.is(&[want]), "{name} block {i}: {r:?}");
            let level = r.level_dbfs(want).unwrap();
            assert!(
                (level - LEVEL_DBFS as f64).abs() < 1.0,
                "{name} block {i}: {level:.2} dBFS"
            );
            assert!(
                r.level_dbfs(other).unwrap() < level - 40.0,
                "{name}: crosstalk"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
