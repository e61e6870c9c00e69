//! An uploaded WAV file made into what the switch keeps: mono 16-bit PCM at one of its rates
//! (voicemail greetings, imported messages).
//!
//! Takes what people have: a RIFF WAVE file (Microsoft's "Multimedia Programming Interface and
//! Data Specifications 1.0", `WAVE_FORMAT_EXTENSIBLE` too) of integer PCM with 8, 16, 24 or 32
//! bits or 32-bit float, mono or stereo, at any rate from 8 to 48 kHz. [`decode`] reads it
//! with `hound` from the bytes of a request body (no I/O here), checks the header against
//! [`UploadLimits`] before it reads a sample and averages the channels to mono;
//! [`Upload::to_pcm`] resamples to the rate asked, with the filter the frame resampler uses
//! for pairs of rates with no whole-number ratio (rubato's windowed sinc, see `resample.rs`)
//! run over the whole clip, and rounds to 16 bits.
//!
//! Guarantees: no input makes it panic (fuzz target `wav_upload`); memory is bounded by the
//! input's size and the duration limit, never by lengths a header declares; the result is as
//! long as the upload at the new rate (rubato's start-up delay is trimmed), and a tone in the
//! passband keeps its frequency and its level within half a decibel. A 16-bit mono upload at
//! the rate asked comes out sample for sample as it went in.

use std::io::Cursor;
use std::time::Duration;

use hound::{SampleFormat, WavReader};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType};

use super::resample::{CUTOFF, TAPS_AT_LOWER_RATE, WINDOW};
use super::SampleRate;

/// The lowest rate taken (narrowband telephony).
pub const MIN_RATE_HZ: u32 = 8_000;
/// The highest rate taken (fullband).
pub const MAX_RATE_HZ: u32 = 48_000;
/// Channels taken: mono or stereo.
pub const MAX_CHANNELS: u16 = 2;

/// Input samples per call into rubato.
const CHUNK: usize = 1024;

/// What an upload may be.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// The longest audio taken.
    pub max_duration: Duration,
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    #[error("the body is empty")]
    Empty,
    /// Not a RIFF WAVE file at all.
    #[error("not a WAV file (no RIFF WAVE header)")]
    NotWav,
    /// A WAV file of a kind not taken (another encoding, rate or channel count).
    #[error("unsupported WAV audio: {0}")]
    Unsupported(String),
    /// A WAV file whose header or samples do not hold together.
    #[error("damaged WAV file: {0}")]
    Damaged(String),
    #[error("the WAV file holds no audio")]
    NoAudio,
    #[error("{ms} ms of audio, at most {max_ms} ms")]
    TooLong { ms: u64, max_ms: u64 },
}

/// An uploaded file's audio, mono, at the rate it came in.
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    rate_hz: u32,
    channels: u16,
    bits: u16,
    float: bool,
    /// Mono samples, full scale at ±1.
    mono: Vec<f32>,
}

impl Upload {
    /// The rate of the file.
    pub fn rate_hz(&self) -> u32 {
        self.rate_hz
    }

    /// Channels of the file (averaged into one).
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Bits per sample of the file.
    pub fn bits(&self) -> u16 {
        self.bits
    }

    /// Whether the file held floating-point samples.
    pub fn is_float(&self) -> bool {
        self.float
    }

    /// Sample frames of the file.
    pub fn frames(&self) -> usize {
        self.mono.len()
    }

    pub fn duration(&self) -> Duration {
        duration_of(self.mono.len() as u64, self.rate_hz)
    }

    /// The rate a message is kept at: the file's when the calls' rates (8 or 16 kHz), else
    /// 16 kHz.
    pub fn kept_rate(&self) -> SampleRate {
        if self.rate_hz == SampleRate::NARROW.hz() {
            SampleRate::NARROW
        } else {
            SampleRate::WIDE
        }
    }

    /// The audio as 16-bit samples at `rate`.
    pub fn to_pcm(&self, rate: SampleRate) -> Result<Vec<i16>, UploadError> {
        if self.rate_hz == rate.hz() {
            return Ok(self.mono.iter().map(|&x| to_i16(x)).collect());
        }
        let out = resample(&self.mono, self.rate_hz, rate.hz())?;
        Ok(out.iter().map(|&x| to_i16(x)).collect())
    }
}

/// Reads an uploaded WAV file: its header first (refused before any sample is read when it is
/// not taken or too long), then its samples, averaged to mono.
pub fn decode(bytes: &[u8], limits: UploadLimits) -> Result<Upload, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(UploadError::NotWav);
    }
    let mut reader = WavReader::new(Cursor::new(bytes)).map_err(header_error)?;
    let spec = reader.spec();
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&spec.sample_rate) {
        return Err(UploadError::Unsupported(format!(
            "{} Hz, not 8 to 48 kHz",
            spec.sample_rate
        )));
    }
    if spec.channels == 0 || spec.channels > MAX_CHANNELS {
        return Err(UploadError::Unsupported(format!(
            "{} channels, not mono or stereo",
            spec.channels
        )));
    }
    let float = spec.sample_format == SampleFormat::Float;
    let bits = spec.bits_per_sample;
    if !(float && bits == 32 || !float && matches!(bits, 8 | 16 | 24 | 32)) {
        let kind = if float { "float" } else { "integer" };
        return Err(UploadError::Unsupported(format!(
            "{bits}-bit {kind} samples"
        )));
    }
    let frames = reader.duration() as u64;
    let declared = duration_of(frames, spec.sample_rate);
    if declared > limits.max_duration {
        return Err(UploadError::TooLong {
            ms: declared.as_millis() as u64,
            max_ms: limits.max_duration.as_millis() as u64,
        });
    }
    if frames == 0 {
        return Err(UploadError::NoAudio);
    }
    let channels = spec.channels as usize;
    // the header's count is not trusted for the allocation: the bytes bound it
    let room = (frames as usize).min(bytes.len() / (channels * (bits as usize / 8)));
    let mut mono = Vec::with_capacity(room);
    let scale = 1.0 / (1u64 << (bits - 1)) as f32;
    let mut frame = [0.0f32; MAX_CHANNELS as usize];
    let mut filled = 0;
    let mut push = |x: f32| {
        frame[filled] = x;
        filled += 1;
        if filled == channels {
            mono.push(frame[..channels].iter().sum::<f32>() / channels as f32);
            filled = 0;
        }
    };
    let truncated = |e: hound::Error, read: u64| {
        UploadError::Damaged(format!(
            "the header counts {frames} sample frames, the file holds {read} ({e})"
        ))
    };
    let mut read = 0u64;
    if float {
        for s in reader.samples::<f32>() {
            let x = s.map_err(|e| truncated(e, read / channels as u64))?;
            // a NaN or an infinity is no sound
            push(if x.is_finite() { x } else { 0.0 });
            read += 1;
        }
    } else {
        for s in reader.samples::<i32>() {
            let x = s.map_err(|e| truncated(e, read / channels as u64))?;
            push(x as f32 * scale);
            read += 1;
        }
    }
    Ok(Upload {
        rate_hz: spec.sample_rate,
        channels: spec.channels,
        bits,
        float,
        mono,
    })
}

/// What a refused header says.
fn header_error(e: hound::Error) -> UploadError {
    match e {
        hound::Error::Unsupported | hound::Error::TooWide | hound::Error::InvalidSampleFormat => {
            UploadError::Unsupported(e.to_string())
        }
        other => UploadError::Damaged(other.to_string()),
    }
}

fn duration_of(frames: u64, rate_hz: u32) -> Duration {
    Duration::from_nanos((frames as u128 * 1_000_000_000 / rate_hz.max(1) as u128) as u64)
}

/// The whole clip from `from` Hz to `to` Hz: rubato's asynchronous sinc resampler with the
/// frame resampler's filter (its taps scaled to the lower rate), start-up delay trimmed.
fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, UploadError> {
    let ratio = to as f64 / from as f64;
    let down = (from as f64 / to as f64).max(1.0);
    let params = SincInterpolationParameters {
        sinc_len: (TAPS_AT_LOWER_RATE as f64 * down).round() as usize,
        f_cutoff: Some(CUTOFF),
        oversampling_factor: 128,
        interpolation: SincInterpolationType::Cubic,
        window: WINDOW,
    };
    let failed = |e: &dyn std::fmt::Display| {
        UploadError::Unsupported(format!("cannot resample {from} Hz to {to} Hz: {e}"))
    };
    let mut resampler = Async::<f32>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
        .map_err(|e| failed(&e))?;
    let src = InterleavedSlice::new(input, 1, input.len()).map_err(|e| failed(&e))?;
    let out = resampler
        .process_all(&src, input.len(), None)
        .map_err(|e| failed(&e))?;
    Ok(out.take_data())
}

/// Full scale ±1 to 16 bits, rounded and saturated.
fn to_i16(x: f32) -> i16 {
    let y = x * 32768.0;
    // `as` saturates; half away from zero rounds
    (y + 0.5f32.copysign(y)) as i16
}

#[cfg(test)]
mod tests;
