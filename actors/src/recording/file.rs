//! One recording's audio file: the caller's and the callee's 20 ms frames paired into ticks,
//! brought to one rate, interleaved (caller left, callee right) and written as stereo 16-bit
//! PCM WAV with `hound`.
//!
//! Pairing: the media thread hands over one frame per side per tick, in either order, so a
//! tick is complete when both sides have a frame; a second frame of a side that already has
//! one closes the tick with silence for the other side (it had none that tick).
//!
//! The rate is fixed when the first tick is written (the file is created then): 16 kHz if
//! either side is wideband or better, else 8 kHz. A side at another rate is resampled to it
//! (`FrameResampler`); a side that changes rate later (a re-INVITE to another codec) gets a new
//! resampler.
//!
//! Crash safety: the header is rewritten and the file fsynced when it is created and then
//! every [`FLUSH_EVERY`] (`WavWriter::flush` makes the file valid up to that point), so a
//! crash loses at most the last second of audio and leaves a file whose header counts
//! less than it holds, which start-up repairs (`recover.rs`).
//!
//! After the first tick nothing here allocates: the buffers of a tick, the resamplers' and
//! hound's sample buffer are reused.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hound::{SampleFormat, WavSpec, WavWriter};
use switchboard_engine::media::resample::FrameResampler;
use switchboard_engine::media::{SampleRate, Side, MAX_FRAME_SAMPLES};

/// How often the header is made valid and the file fsynced. With the recorder's 20 ms poll
/// and the fsync itself, audio reaches the disk within a second of arriving.
pub const FLUSH_EVERY: Duration = Duration::from_millis(900);

/// Channels of every recording: caller left, callee right.
const CHANNELS: u16 = 2;

/// Write buffer in front of the file (a second of 16 kHz stereo is 64,000 bytes).
const BUFFER: usize = 64 * 1024;

/// The spec of a recording at `rate`.
pub fn spec(rate: SampleRate) -> WavSpec {
    WavSpec {
        channels: CHANNELS,
        sample_rate: rate.hz(),
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

/// The rate a recording of sides at these rates is written at.
pub fn recording_rate(rates: impl IntoIterator<Item = SampleRate>) -> SampleRate {
    if rates.into_iter().any(|r| r > SampleRate::NARROW) {
        SampleRate::WIDE
    } else {
        SampleRate::NARROW
    }
}

/// What a finished file holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Stereo sample frames.
    pub frames: u64,
    pub rate: SampleRate,
    /// The file's size.
    pub bytes: u64,
}

impl Written {
    pub fn duration_ms(&self) -> u64 {
        self.frames * 1000 / self.rate.hz() as u64
    }
}

/// A side's frame waiting for the other side's.
struct Slot {
    rate: SampleRate,
    full: bool,
    samples: Box<[i16]>,
}

/// The open file.
struct Output {
    wav: WavWriter<BufWriter<File>>,
    /// The same open file, for fsync (hound owns the writer).
    sync: File,
    rate: SampleRate,
}

/// A recording being written.
pub struct RecordingFile {
    path: PathBuf,
    out: Option<Output>,
    pending: [Slot; 2],
    resamplers: [Option<FrameResampler>; 2],
    /// One frame per side at the recording rate.
    resampled: [Box<[i16]>; 2],
    /// One interleaved tick.
    stereo: Box<[i16]>,
    frames: u64,
    flushed_frames: u64,
    last_flush: Instant,
}

impl RecordingFile {
    /// A recording to be written to `path` (created with the first tick).
    pub fn new(path: PathBuf, now: Instant) -> RecordingFile {
        let slot = || Slot {
            rate: SampleRate::NARROW,
            full: false,
            samples: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
        };
        let frame = SampleRate::WIDE.frame_samples();
        RecordingFile {
            path,
            out: None,
            pending: [slot(), slot()],
            resamplers: [None, None],
            resampled: [
                vec![0; frame].into_boxed_slice(),
                vec![0; frame].into_boxed_slice(),
            ],
            stereo: vec![0; CHANNELS as usize * frame].into_boxed_slice(),
            frames: 0,
            flushed_frames: 0,
            last_flush: now,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stereo sample frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The recording rate, once the first tick fixed it.
    pub fn rate(&self) -> Option<SampleRate> {
        self.out.as_ref().map(|o| o.rate)
    }

    /// Takes one side's frame (`pcm` is one 20 ms frame at `rate`).
    pub fn push(&mut self, side: Side, rate: SampleRate, pcm: &[i16]) -> io::Result<()> {
        let i = side.index();
        if self.pending[i].full {
            // the other side had no frame in that tick
            self.write_tick()?;
        }
        let slot = &mut self.pending[i];
        slot.rate = rate;
        slot.samples[..pcm.len()].copy_from_slice(pcm);
        slot.full = true;
        if self.pending.iter().all(|s| s.full) {
            self.write_tick()?;
        }
        Ok(())
    }

    /// Makes the header valid and fsyncs, if [`FLUSH_EVERY`] passed since the last time and
    /// something was written since; whether it did.
    pub fn flush_if_due(&mut self, now: Instant) -> io::Result<bool> {
        if now.saturating_duration_since(self.last_flush) < FLUSH_EVERY
            || self.frames == self.flushed_frames
        {
            return Ok(false);
        }
        self.flush(now)?;
        Ok(true)
    }

    /// Writes what is pending, finalizes the header and fsyncs. A recording that got no audio
    /// at all still becomes a valid (empty) file.
    pub fn finish(mut self) -> io::Result<Written> {
        if self.pending.iter().any(|s| s.full) {
            self.write_tick()?;
        }
        if self.out.is_none() {
            self.create(SampleRate::NARROW)?;
        }
        let Some(Output { wav, sync, rate }) = self.out.take() else {
            unreachable!("created above");
        };
        wav.finalize().map_err(hound_error)?;
        sync.sync_all()?;
        Ok(Written {
            frames: self.frames,
            rate,
            bytes: sync.metadata()?.len(),
        })
    }

    /// Writes the pending frames as one stereo tick (silence for a side with none).
    fn write_tick(&mut self) -> io::Result<()> {
        let rate = match &self.out {
            Some(o) => o.rate,
            None => {
                let rates = self.pending.iter().filter(|s| s.full).map(|s| s.rate);
                let rate = recording_rate(rates);
                self.create(rate)?;
                rate
            }
        };
        let n = rate.frame_samples();
        for i in 0..2 {
            let slot = &mut self.pending[i];
            let out = &mut self.resampled[i][..n];
            if !slot.full {
                out.fill(0);
                continue;
            }
            slot.full = false;
            let input = &slot.samples[..slot.rate.frame_samples()];
            if slot.rate == rate {
                out.copy_from_slice(input);
                continue;
            }
            let r = &mut self.resamplers[i];
            if r.as_ref().is_none_or(|r| r.from() != slot.rate) {
                *r = Some(FrameResampler::new(slot.rate, rate));
            }
            if let Some(r) = r {
                r.process(input, out);
            }
        }
        for (k, pair) in self.stereo[..2 * n].chunks_exact_mut(2).enumerate() {
            pair[0] = self.resampled[0][k];
            pair[1] = self.resampled[1][k];
        }
        let Some(o) = self.out.as_mut() else {
            unreachable!("created above");
        };
        let mut w = o.wav.get_i16_writer(2 * n as u32);
        for &s in &self.stereo[..2 * n] {
            w.write_sample(s);
        }
        w.flush().map_err(hound_error)?;
        self.frames += n as u64;
        Ok(())
    }

    fn create(&mut self, rate: SampleRate) -> io::Result<()> {
        let file = File::create(&self.path)?;
        let sync = file.try_clone()?;
        let wav = WavWriter::new(BufWriter::with_capacity(BUFFER, file), spec(rate))
            .map_err(hound_error)?;
        self.out = Some(Output { wav, sync, rate });
        // a valid header on disk from the start, and the new name in its directory
        self.sync_header()?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    fn flush(&mut self, now: Instant) -> io::Result<()> {
        self.sync_header()?;
        self.flushed_frames = self.frames;
        self.last_flush = now;
        Ok(())
    }

    /// Rewrites the header to count everything written and fsyncs the file.
    fn sync_header(&mut self) -> io::Result<()> {
        if let Some(o) = self.out.as_mut() {
            o.wav.flush().map_err(hound_error)?;
            o.sync.sync_data()?;
        }
        Ok(())
    }
}

/// hound's errors as I/O errors (all but I/O ones are bugs of ours: a wrong spec).
pub fn hound_error(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};

    pub(crate) fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-rec-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn tone(freq: f32, rate: SampleRate) -> ToneGenerator {
        ToneGenerator::new(
            Tone::continuous(Sound::Single(freq), Level::dbfs(-10.0)),
            rate,
        )
    }

    /// The left and right channels of a WAV file, and its spec.
    pub(crate) fn channels(path: &Path) -> (WavSpec, Vec<i16>, Vec<i16>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        let left = all.iter().step_by(2).copied().collect();
        let right = all.iter().skip(1).step_by(2).copied().collect();
        (spec, left, right)
    }

    #[test]
    fn two_sides_at_different_rates_become_one_stereo_file_caller_left_callee_right() {
        let dir = tmp("stereo");
        let path = dir.join("1.wav");
        let mut f = RecordingFile::new(path.clone(), Instant::now());
        let (nb, wb) = (SampleRate::NARROW, SampleRate::WIDE);
        let (mut caller, mut callee) = (tone(440.0, nb), tone(1000.0, wb));
        let (mut a, mut b) = ([0i16; 160], [0i16; 320]);
        for tick in 0..100 {
            caller.generate(&mut a);
            callee.generate(&mut b);
            // the order within a tick does not matter
            if tick % 2 == 0 {
                f.push(Side::Caller, nb, &a).unwrap();
                f.push(Side::Callee, wb, &b).unwrap();
            } else {
                f.push(Side::Callee, wb, &b).unwrap();
                f.push(Side::Caller, nb, &a).unwrap();
            }
        }
        assert_eq!(
            f.rate(),
            Some(wb),
            "wideband on one side makes a 16 kHz file"
        );
        let w = f.finish().unwrap();
        assert_eq!(w.frames, 100 * 320);
        assert_eq!(w.duration_ms(), 2_000);
        assert_eq!(w.bytes, 44 + 4 * 100 * 320);

        let (spec, left, right) = channels(&path);
        assert_eq!((spec.channels, spec.sample_rate), (2, 16_000));
        let detect = ToneDetector::new(wb, &[440.0, 1000.0]);
        // past the resampler's few milliseconds of delay
        let l = detect.analyze(&left[1600..]);
        let r = detect.analyze(&right[1600..]);
        assert!(l.is(&[440.0]), "left: {l:?}");
        assert!(r.is(&[1000.0]), "right: {r:?}");
        for (report, freq) in [(l, 440.0), (r, 1000.0)] {
            let level = report.level_dbfs(freq).unwrap();
            assert!((level + 10.0).abs() < 1.0, "{freq} Hz at {level:.2} dBFS");
        }
    }

    #[test]
    fn narrowband_sides_make_an_8_khz_file_and_a_missing_side_is_silence() {
        let dir = tmp("narrow");
        let path = dir.join("2.wav");
        let mut f = RecordingFile::new(path.clone(), Instant::now());
        let nb = SampleRate::NARROW;
        let mut caller = tone(440.0, nb);
        let mut a = [0i16; 160];
        for tick in 0..50 {
            caller.generate(&mut a);
            f.push(Side::Caller, nb, &a).unwrap();
            // the callee is heard only in the second half
            if tick >= 25 {
                f.push(Side::Callee, nb, &[1000; 160]).unwrap();
            }
        }
        let w = f.finish().unwrap();
        assert_eq!((w.rate, w.frames), (nb, 50 * 160));
        let (spec, left, right) = channels(&path);
        assert_eq!(spec.sample_rate, 8_000);
        assert_eq!(left.len(), 50 * 160);
        assert!(right[..25 * 160].iter().all(|&s| s == 0));
        assert!(right[25 * 160..].iter().all(|&s| s == 1000));
        let l = ToneDetector::new(nb, &[440.0]).analyze(&left);
        assert!(l.is(&[440.0]));
    }

    #[test]
    fn the_header_is_valid_after_each_flush_while_recording_goes_on() {
        let dir = tmp("flush");
        let path = dir.join("3.wav");
        let t0 = Instant::now();
        let mut f = RecordingFile::new(path.clone(), t0);
        let nb = SampleRate::NARROW;
        for _ in 0..10 {
            f.push(Side::Caller, nb, &[5; 160]).unwrap();
            f.push(Side::Callee, nb, &[6; 160]).unwrap();
        }
        assert!(!f.flush_if_due(t0 + FLUSH_EVERY / 2).unwrap(), "not yet");
        assert!(f.flush_if_due(t0 + FLUSH_EVERY).unwrap());
        assert!(
            !f.flush_if_due(t0 + 3 * FLUSH_EVERY).unwrap(),
            "nothing new to flush"
        );
        // what a crash now would leave: a readable file with every flushed sample
        let (_, left, right) = channels(&path);
        assert_eq!((left.len(), right.len()), (1600, 1600));
        f.push(Side::Caller, nb, &[5; 160]).unwrap();
        f.push(Side::Callee, nb, &[6; 160]).unwrap();
        assert_eq!(
            channels(&path).1.len(),
            1600,
            "new audio counts at the next flush"
        );
        assert_eq!(f.finish().unwrap().frames, 1760);
        assert_eq!(channels(&path).1.len(), 1760);
    }

    #[test]
    fn a_recording_without_audio_is_an_empty_valid_file() {
        let dir = tmp("empty");
        let path = dir.join("4.wav");
        let w = RecordingFile::new(path.clone(), Instant::now())
            .finish()
            .unwrap();
        assert_eq!((w.frames, w.bytes), (0, 44));
        let (spec, left, _) = channels(&path);
        assert_eq!((spec.channels, left.len()), (2, 0));
    }
}
