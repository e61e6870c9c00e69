//! One message's audio file while it is being left: the caller's 20 ms frames written as mono
//! 16-bit PCM WAV with `hound`, at the rate of the first frame (the call's rate); a frame at
//! another rate later (a re-INVITE to another codec) is resampled to it.
//!
//! Crash safety, as for call recordings (`crate::recording::file`): the file is created with
//! a valid header and fsynced (and its directory), then the header is rewritten and the file
//! fsynced every [`FLUSH_EVERY`] while audio comes, so a crash loses at most the last second
//! and leaves a file start-up can repair to every whole sample it holds.
//!
//! After the first frame nothing here allocates (but a change of rate, which makes a
//! resampler).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hound::{SampleFormat, WavSpec, WavWriter};
use switchboard_engine::media::resample::FrameResampler;
use switchboard_engine::media::{wav, SampleRate, MAX_FRAME_SAMPLES};

use crate::recording::file::hound_error;
use crate::recording::recover::repair_file;

pub use crate::recording::file::FLUSH_EVERY;

/// Write buffer in front of the file (a second of 16 kHz mono is 32,000 bytes).
const BUFFER: usize = 32 * 1024;

/// The spec of mono 16-bit audio at `rate`: messages and greetings.
pub fn spec(rate: SampleRate) -> WavSpec {
    WavSpec {
        channels: 1,
        sample_rate: rate.hz(),
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

/// What a finished file holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub rate: SampleRate,
    /// The file's size.
    pub bytes: u64,
}

impl Written {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.samples * 1000 / self.rate.hz() as u64)
    }
}

/// The open file.
struct Output {
    wav: WavWriter<BufWriter<File>>,
    /// The same open file, for fsync (hound owns the writer).
    sync: File,
    rate: SampleRate,
}

/// A message's audio being written.
pub struct MessageFile {
    path: PathBuf,
    out: Option<Output>,
    resampler: Option<FrameResampler>,
    /// One frame at the file's rate.
    resampled: Box<[i16]>,
    samples: u64,
    flushed: u64,
    last_flush: Instant,
}

impl MessageFile {
    /// A message to be written to `path` (created with the first frame).
    pub fn new(path: PathBuf, now: Instant) -> MessageFile {
        MessageFile {
            path,
            out: None,
            resampler: None,
            resampled: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
            samples: 0,
            flushed: 0,
            last_flush: now,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's rate, once the first frame came.
    pub fn rate(&self) -> Option<SampleRate> {
        self.out.as_ref().map(|o| o.rate)
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Writes one frame of the caller's audio: any length up to `MAX_FRAME_SAMPLES` at the
    /// file's rate, one 20 ms frame at another (anything else at another rate is dropped).
    pub fn push(&mut self, rate: SampleRate, pcm: &[i16]) -> io::Result<()> {
        let pcm = &pcm[..pcm.len().min(MAX_FRAME_SAMPLES)];
        let to = match &self.out {
            Some(o) => o.rate,
            None => {
                self.create(rate)?;
                rate
            }
        };
        let Some(o) = self.out.as_mut() else {
            unreachable!("created above");
        };
        let samples: &[i16] = if rate == to {
            pcm
        } else {
            // the resampler takes whole 20 ms frames only
            if pcm.len() != rate.frame_samples() {
                return Ok(());
            }
            if self.resampler.as_ref().is_none_or(|r| r.from() != rate) {
                self.resampler = Some(FrameResampler::new(rate, to));
            }
            let n = match &mut self.resampler {
                Some(r) => r.process(pcm, &mut self.resampled),
                None => 0,
            };
            &self.resampled[..n]
        };
        let mut w = o.wav.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w.write_sample(s);
        }
        w.flush().map_err(hound_error)?;
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Makes the header valid and fsyncs, if [`FLUSH_EVERY`] passed since the last time and
    /// something was written since; whether it did.
    pub fn flush_if_due(&mut self, now: Instant) -> io::Result<bool> {
        if now.saturating_duration_since(self.last_flush) < FLUSH_EVERY
            || self.samples == self.flushed
        {
            return Ok(false);
        }
        self.sync_header()?;
        self.flushed = self.samples;
        self.last_flush = now;
        Ok(true)
    }

    /// Finalizes the header, keeping at most the first `keep` of the audio, and fsyncs the
    /// file. A message that got no audio at all becomes a valid empty file at 8 kHz.
    pub fn finish(mut self, keep: Duration) -> io::Result<Written> {
        if self.out.is_none() {
            self.create(SampleRate::NARROW)?;
        }
        let Some(Output { wav, sync, rate }) = self.out.take() else {
            unreachable!("created above");
        };
        wav.finalize().map_err(hound_error)?;
        let keep_samples = (keep.as_millis() as u64).saturating_mul(rate.hz() as u64) / 1000;
        if keep_samples < self.samples {
            drop(sync);
            let bytes = cut_to(&self.path, keep_samples)?;
            return Ok(Written {
                samples: keep_samples,
                rate,
                bytes,
            });
        }
        sync.sync_all()?;
        Ok(Written {
            samples: self.samples,
            rate,
            bytes: sync.metadata()?.len(),
        })
    }

    fn create(&mut self, rate: SampleRate) -> io::Result<()> {
        let file = File::create(&self.path)?;
        let sync = file.try_clone()?;
        let wav = WavWriter::new(BufWriter::with_capacity(BUFFER, file), spec(rate))
            .map_err(hound_error)?;
        self.out = Some(Output { wav, sync, rate });
        // a valid header on disk from the start, and the new name in its directory
        self.sync_header()?;
        sync_dir(&self.path)
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

/// Cuts the finalized WAV file at `path` to its first `frames` sample frames (its header
/// made to agree) and fsyncs it; its new size.
pub fn cut_to(path: &Path, frames: u64) -> io::Result<u64> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut prefix = Vec::with_capacity(wav::HEADER_PREFIX);
    (&file)
        .take(wav::HEADER_PREFIX as u64)
        .read_to_end(&mut prefix)?;
    let layout = wav::parse(&prefix).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let len = layout.data_offset + frames * layout.block_align as u64;
    if len < file.metadata()?.len() {
        file.set_len(len)?;
    }
    drop(file);
    let r = repair_file(path)?;
    if !r.changed {
        File::open(path)?.sync_all()?;
    }
    Ok(r.bytes)
}

/// Fsyncs the directory `path` is in (so a new or renamed name in it is on disk).
pub fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Writes `samples` as a complete mono WAV file at `path` through a temporary name: the file
/// appears whole (fsynced, renamed, its directory fsynced) or not at all. Its size.
pub fn write_whole(path: &Path, rate: SampleRate, samples: &[i16]) -> io::Result<u64> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let file = File::create(&tmp)?;
        let sync = file.try_clone()?;
        let mut w = WavWriter::new(BufWriter::with_capacity(BUFFER, file), spec(rate))
            .map_err(hound_error)?;
        for &s in samples {
            w.write_sample(s).map_err(hound_error)?;
        }
        w.finalize().map_err(hound_error)?;
        sync.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path)?;
    Ok(std::fs::metadata(path)?.len())
}

/// The samples and rate of a mono 16-bit WAV file (messages and greetings).
pub fn read_samples(path: &Path) -> io::Result<(SampleRate, Vec<i16>)> {
    let mut r = hound::WavReader::open(path).map_err(hound_error)?;
    let spec = r.spec();
    let rate = SampleRate::new(spec.sample_rate).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("rate {} Hz", spec.sample_rate),
        )
    })?;
    if spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_format != SampleFormat::Int {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not mono 16-bit pcm",
        ));
    }
    let samples = r
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(hound_error)?;
    Ok((rate, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-vm-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn frames_become_a_mono_file_at_the_first_frames_rate_and_others_are_resampled() {
        let path = tmp("rates").join("1.wav");
        let mut f = MessageFile::new(path.clone(), Instant::now());
        let (wb, nb) = (SampleRate::WIDE, SampleRate::NARROW);
        let tone = |rate| {
            ToneGenerator::new(
                Tone::continuous(Sound::Single(440.0), Level::dbfs(-12.0)),
                rate,
            )
        };
        let (mut w, mut n) = (tone(wb), tone(nb));
        let (mut a, mut b) = ([0i16; 320], [0i16; 160]);
        for _ in 0..50 {
            w.generate(&mut a);
            f.push(wb, &a).unwrap();
        }
        for _ in 0..50 {
            n.generate(&mut b);
            f.push(nb, &b).unwrap();
        }
        assert_eq!(f.rate(), Some(wb));
        let written = f.finish(Duration::from_secs(60)).unwrap();
        assert_eq!(written.samples, 100 * 320);
        assert_eq!(written.duration(), Duration::from_secs(2));
        assert_eq!(written.bytes, 44 + 2 * 100 * 320);
        let (rate, samples) = read_samples(&path).unwrap();
        assert_eq!((rate, samples.len()), (wb, 32_000));
        let report = ToneDetector::new(wb, &[440.0]).analyze(&samples[17_600..]);
        assert!(report.is(&[440.0]), "{report:?}");
        let level = report.level_dbfs(440.0).unwrap();
        assert!((level + 12.0).abs() < 1.0, "{level:.2} dBFS");
    }

    #[test]
    fn finishing_keeps_only_the_asked_length_and_the_header_agrees() {
        let path = tmp("keep").join("2.wav");
        let mut f = MessageFile::new(path.clone(), Instant::now());
        for i in 0..100 {
            f.push(SampleRate::NARROW, &[i as i16; 160]).unwrap();
        }
        let w = f.finish(Duration::from_millis(1_250)).unwrap();
        assert_eq!((w.samples, w.bytes), (10_000, 44 + 20_000));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + 20_000);
        let (_, samples) = read_samples(&path).unwrap();
        assert_eq!(samples.len(), 10_000);
        assert_eq!(samples[9_999], 62, "the first 1.25 s, in order");
    }

    #[test]
    fn the_header_is_valid_after_each_flush_while_the_message_goes_on() {
        let path = tmp("flush").join("3.wav");
        let t0 = Instant::now();
        let mut f = MessageFile::new(path.clone(), t0);
        assert!(!path.exists(), "created with the first frame");
        for _ in 0..10 {
            f.push(SampleRate::NARROW, &[5; 160]).unwrap();
        }
        assert_eq!(read_samples(&path).unwrap().1.len(), 0, "not flushed yet");
        assert!(!f.flush_if_due(t0 + FLUSH_EVERY / 2).unwrap());
        assert!(f.flush_if_due(t0 + FLUSH_EVERY).unwrap());
        assert_eq!(read_samples(&path).unwrap().1.len(), 1600);
        assert!(
            !f.flush_if_due(t0 + 3 * FLUSH_EVERY).unwrap(),
            "nothing new"
        );
        std::mem::forget(f);
    }

    #[test]
    fn a_whole_file_appears_under_its_name_with_no_temporary_left() {
        let dir = tmp("whole");
        let path = dir.join("greeting-busy.wav");
        let bytes = write_whole(&path, SampleRate::WIDE, &[7; 480]).unwrap();
        assert_eq!(bytes, 44 + 960);
        assert_eq!(
            read_samples(&path).unwrap(),
            (SampleRate::WIDE, vec![7; 480])
        );
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["greeting-busy.wav"]);
    }
}
