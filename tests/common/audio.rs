//! Audio as a listener hears it, for the media tests: decoded samples at one rate, checked by
//! frequency (Goertzel, `switchboard_engine::media::tone::detect`) and by level, never by
//! counting packets. Also tones made with the engine's generator and encoder (what a test
//! phone, SIPp or a fixture file plays), and WAV files read and written (16-bit PCM; a file
//! whose writer was killed before it fixed the header is read to its end).
//!
//! Levels are dBFS on the engine's scale: a full-scale sine reads 0 dBFS.

use std::path::Path;
use std::time::Duration;

use switchboard_engine::media::codec::Encoder;
use switchboard_engine::media::tone::{
    block_dbfs, goertzel_power, Level, Sound, Tone, ToneGenerator,
};
use switchboard_engine::media::{Codec, SampleRate};

/// The level the test tones are sent at.
pub const TONE_DBFS: f32 = -12.0;

/// Blocks of this length are measured separately and their powers averaged, so a lost or
/// late packet (a phase jump) costs one block a little, not the whole measurement.
const BLOCK: Duration = Duration::from_millis(100);

/// A frequency is present when it carries at least a tenth of the audio's power...
const PRESENT_SHARE_DB: f64 = -10.0;
/// ...and is louder than this.
const PRESENT_FLOOR_DBFS: f64 = -60.0;

/// Mono 16-bit audio at one rate.
#[derive(Clone, Debug, Default)]
pub struct Audio {
    pub rate: Option<SampleRate>,
    pub samples: Vec<i16>,
}

impl Audio {
    pub fn new(rate: SampleRate, samples: Vec<i16>) -> Audio {
        Audio {
            rate: Some(rate),
            samples,
        }
    }

    fn hz(&self) -> u32 {
        self.rate.map_or(8_000, SampleRate::hz)
    }

    /// The rate (8 kHz for audio that has none: nothing was received).
    pub fn sample_rate(&self) -> SampleRate {
        self.rate.unwrap_or(SampleRate::NARROW)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / self.hz() as f64)
    }

    /// The audio from `start` on.
    pub fn skip(&self, start: Duration) -> Audio {
        let n = (start.as_secs_f64() * self.hz() as f64) as usize;
        Audio {
            rate: self.rate,
            samples: self.samples.get(n..).unwrap_or_default().to_vec(),
        }
    }

    /// The first `len` of the audio.
    pub fn take(&self, len: Duration) -> Audio {
        let n = (len.as_secs_f64() * self.hz() as f64) as usize;
        Audio {
            rate: self.rate,
            samples: self.samples[..n.min(self.samples.len())].to_vec(),
        }
    }

    /// The level of the whole audio in dBFS (`-inf` for silence or nothing).
    pub fn level_dbfs(&self) -> f64 {
        block_dbfs(&self.samples)
    }

    fn blocks(&self, block: Duration) -> impl Iterator<Item = &[i16]> {
        let len = (self.hz() as usize * block.as_millis() as usize / 1000).max(1);
        // a short tail would measure a different bandwidth: leave it out when there are
        // whole blocks
        let whole = self.samples.len() / len;
        let take = if whole == 0 {
            self.samples.len()
        } else {
            whole * len
        };
        self.samples[..take].chunks(len.min(take.max(1)))
    }

    /// The level of the `hz` component in dBFS: Goertzel power averaged over 100 ms blocks.
    pub fn level_at(&self, hz: f32) -> f64 {
        self.level_over(hz, BLOCK)
    }

    /// [`level_at`](Self::level_at) over blocks of `block`: a longer block tells apart
    /// frequencies closer than 10 Hz per 100 ms (425 Hz from 440 Hz takes about 400 ms).
    pub fn level_over(&self, hz: f32, block: Duration) -> f64 {
        let rate = self.sample_rate();
        let (mut sum, mut n) = (0.0, 0usize);
        for b in self.blocks(block) {
            sum += goertzel_power(b, rate, hz);
            n += 1;
        }
        if n == 0 {
            return f64::NEG_INFINITY;
        }
        10.0 * (sum / n as f64).log10()
    }

    /// Whether `hz` is clearly there: at least a tenth of the audio's power, above -60 dBFS.
    pub fn has(&self, hz: f32) -> bool {
        self.has_over(hz, BLOCK)
    }

    /// [`has`](Self::has) measured over blocks of `block` (see [`level_over`](Self::level_over)).
    pub fn has_over(&self, hz: f32, block: Duration) -> bool {
        let l = self.level_over(hz, block);
        l >= self.level_dbfs() + PRESENT_SHARE_DB && l >= PRESENT_FLOOR_DBFS
    }

    /// Only the 20 ms frames louder than `floor_dbfs`, back to back: the on-periods of a
    /// cadenced tone (ringback is mostly silence), to measure their level.
    pub fn sounding(&self, floor_dbfs: f64) -> Audio {
        let frame = self.sample_rate().frame_samples();
        let samples = self
            .samples
            .chunks_exact(frame)
            .filter(|f| block_dbfs(f) > floor_dbfs)
            .flatten()
            .copied()
            .collect();
        Audio {
            rate: self.rate,
            samples,
        }
    }

    /// The strongest frequency (to within 1 Hz), if it carries a tenth of the power: a scan
    /// every 10 Hz over 50 ms blocks of the first second, refined in 1 Hz steps over 200 ms
    /// blocks. `None` for silence or noise.
    pub fn dominant_hz(&self) -> Option<f32> {
        let a = self.take(Duration::from_secs(1));
        if a.samples.is_empty() {
            return None;
        }
        let rate = a.sample_rate();
        let nyquist = rate.hz() as f32 / 2.0;
        let power = |hz: f32, block: usize| {
            let (mut sum, mut n) = (0.0, 0usize);
            for b in a.samples.chunks(block.min(a.samples.len())) {
                if b.len() == block.min(a.samples.len()) {
                    sum += goertzel_power(b, rate, hz);
                    n += 1;
                }
            }
            sum / n.max(1) as f64
        };
        let coarse = rate.hz() as usize / 20;
        let mut best = (0.0f32, 0.0f64);
        let mut hz = 50.0;
        while hz < nyquist - 50.0 {
            let p = power(hz, coarse);
            if p > best.1 {
                best = (hz, p);
            }
            hz += 10.0;
        }
        let fine = rate.hz() as usize / 5;
        let mut refined = (best.0, 0.0f64);
        for d in -10..=10 {
            let hz = best.0 + d as f32;
            let p = power(hz, fine);
            if p > refined.1 {
                refined = (hz, p);
            }
        }
        let l = 10.0 * refined.1.log10();
        (l >= a.level_dbfs() + PRESENT_SHARE_DB && l >= PRESENT_FLOOR_DBFS).then_some(refined.0)
    }

    /// A line for assertion messages: duration, rate, level, the dominant frequency and the
    /// level of each of `freqs`.
    pub fn describe(&self, freqs: &[f32]) -> String {
        let mut s = format!(
            "{:.2} s at {} Hz, {:.1} dBFS, dominant {:?}",
            self.duration().as_secs_f64(),
            self.hz(),
            self.level_dbfs(),
            self.dominant_hz()
        );
        for f in freqs {
            s.push_str(&format!(", {f} Hz at {:.1} dBFS", self.level_at(*f)));
        }
        s
    }
}

/// How far the level heard may be from the level sent ([`assert_tone`]).
pub const LEVEL_DB: f64 = 3.0;

/// Asserts `audio` (what `who` heard or recorded) is at `rate` and holds `hz` as its dominant
/// frequency (within 1 %) at about the level sent ([`TONE_DBFS`]), and not `not_hz` (at least
/// 30 dB below).
pub fn assert_tone(who: &str, audio: &Audio, hz: f32, not_hz: f32, rate: SampleRate) {
    let what = audio.describe(&[hz, not_hz]);
    assert_eq!(audio.sample_rate(), rate, "{who} is at {rate}: {what}");
    let dominant = audio
        .dominant_hz()
        .unwrap_or_else(|| panic!("{who} holds no tone: {what}"));
    assert!(
        (dominant - hz).abs() <= hz / 100.0,
        "{who} holds {dominant} Hz, not {hz} Hz: {what}"
    );
    let level = audio.level_at(hz);
    assert!(
        (level - TONE_DBFS as f64).abs() <= LEVEL_DB,
        "{who} holds {hz} Hz at {level:.1} dBFS, sent at {TONE_DBFS} dBFS: {what}"
    );
    assert!(audio.has(hz), "{who}: {what}");
    assert!(!audio.has(not_hz), "{who} holds {not_hz} Hz too: {what}");
    assert!(
        audio.level_at(not_hz) < level - 30.0,
        "{who} holds {not_hz} Hz: {what}"
    );
}

/// `duration` of a continuous sine of `hz` at `level_dbfs`, made with the engine's tone
/// generator.
pub fn tone(hz: f32, level_dbfs: f32, rate: SampleRate, duration: Duration) -> Audio {
    let mut g = ToneGenerator::new(
        Tone::continuous(Sound::Single(hz), Level::dbfs(level_dbfs)),
        rate,
    );
    let n = (duration.as_secs_f64() * rate.hz() as f64) as usize;
    let mut samples = vec![0i16; n];
    g.generate(&mut samples);
    Audio::new(rate, samples)
}

/// `audio` (at the codec's rate) encoded 20 ms at a time with the engine's encoder: the
/// payload bytes of consecutive packets, back to back (what SIPp's `rtp_stream` plays).
pub fn encode(codec: Codec, audio: &Audio) -> Vec<u8> {
    assert_eq!(
        audio.sample_rate(),
        codec.sample_rate(),
        "audio at the codec's rate"
    );
    let mut enc = Encoder::new(codec);
    let frame = codec.sample_rate().frame_samples();
    let mut out = Vec::new();
    let mut buf = vec![0u8; codec.frame_payload_bytes()];
    for pcm in audio.samples.chunks_exact(frame) {
        let n = enc.encode(pcm, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Reads a 16-bit PCM WAV file (the first channel of a multichannel one). A data chunk whose
/// size says 0 or more than the file holds (a writer stopped before fixing the header) is
/// read to the end of the file.
pub fn read_wav(path: &Path) -> Result<Audio, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(format!("{}: not a WAV file", path.display()));
    }
    let le16 = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let (mut at, mut format) = (12usize, None);
    while at + 8 <= b.len() {
        let (id, size) = (&b[at..at + 4], le32(at + 4) as usize);
        let body = at + 8;
        if id == b"fmt " && body + 16 <= b.len() {
            let (tag, channels, rate, bits) =
                (le16(body), le16(body + 2), le32(body + 4), le16(body + 14));
            if (tag != 1 && tag != 0xFFFE) || bits != 16 || channels == 0 {
                return Err(format!(
                    "{}: format {tag}, {bits} bits, {channels} channels: not 16-bit PCM",
                    path.display()
                ));
            }
            format = Some((channels as usize, rate));
        } else if id == b"data" {
            let (channels, rate) =
                format.ok_or_else(|| format!("{}: data before fmt", path.display()))?;
            let end = if size == 0 || body + size > b.len() {
                b.len()
            } else {
                body + size
            };
            let samples = b[body..end]
                .chunks_exact(2 * channels)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            let rate = SampleRate::new(rate)
                .ok_or_else(|| format!("{}: rate {rate} Hz", path.display()))?;
            return Ok(Audio::new(rate, samples));
        }
        at = body + size + (size & 1);
    }
    Err(format!("{}: no data chunk", path.display()))
}

/// Writes `audio` as a mono 16-bit PCM WAV file.
pub fn write_wav(path: &Path, audio: &Audio) -> std::io::Result<()> {
    let rate = audio.hz();
    let data = (audio.samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in &audio.samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b)
}

/// The two channels of a 16-bit stereo WAV file (a recording: caller left, callee right),
/// read with hound.
pub fn stereo_wav(bytes: &[u8]) -> Result<(Audio, Audio), String> {
    let mut reader =
        hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    if spec.channels != 2 || spec.bits_per_sample != 16 {
        return Err(format!("not 16-bit stereo: {spec:?}"));
    }
    let rate =
        SampleRate::new(spec.sample_rate).ok_or_else(|| format!("rate {}", spec.sample_rate))?;
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    Ok((Audio::new(rate, left), Audio::new(rate, right)))
}
