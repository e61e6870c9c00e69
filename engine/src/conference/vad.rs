//! Talk detection for a conference participant: is this 20 ms frame speech?
//!
//! Energy-based, as Asterisk's talk detector (`dsp_talking_threshold`, `dsp_silence_threshold`
//! of ConfBridge): the measure is a frame's mean absolute amplitude in 16-bit units, which
//! does not depend on the sample rate. A participant starts talking on the first frame whose
//! mean amplitude reaches `start` (a word's first 20 ms are not lost), keeps talking while
//! frames stay at `stop` or above (hysteresis: `stop` is lower), and stops once `hangover`
//! has passed with every frame below `stop` (the pauses between words and sentences do not
//! make a participant flap in and out of the mix).
//!
//! [`Vad::loudness`] is the frame power smoothed over about 100 ms, for ranking talkers; the
//! mixer keeps the loudest. Deterministic: the same frames give the same answers. Nothing
//! allocates.

use std::time::Duration;

use crate::media::FRAME;

/// The level [`Vad::level_dbfs`] reports for silence (16-bit audio has about 96 dB of range).
pub const MIN_LEVEL_DBFS: f32 = -96.0;

/// Full scale: the peak of the loudest sine a 16-bit sample holds (0 dBFS).
const FULL_SCALE: f32 = 32767.0;

/// How much of a frame's power goes into the smoothed loudness: 1/5, a time constant of
/// five frames (100 ms).
const SMOOTHING: f32 = 0.2;

/// Talk detection thresholds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VadConfig {
    /// Mean absolute amplitude that starts talk: Asterisk's `dsp_talking_threshold` 160
    /// (a sine of about -42 dBFS).
    pub start: u16,
    /// Mean absolute amplitude under which a frame counts as silence while talking (half of
    /// `start`: 6 dB of hysteresis).
    pub stop: u16,
    /// Silence that ends talk: Asterisk's `dsp_silence_threshold` 2500 ms.
    pub hangover: Duration,
}

impl Default for VadConfig {
    fn default() -> VadConfig {
        VadConfig {
            start: 160,
            stop: 80,
            hangover: Duration::from_millis(2500),
        }
    }
}

/// One participant's talk detector.
#[derive(Clone, Debug)]
pub struct Vad {
    start: u32,
    stop: u32,
    /// Quiet frames that end talk.
    hangover_frames: u32,
    talking: bool,
    quiet_frames: u32,
    magnitude: u32,
    power: f32,
    smoothed: f32,
}

impl Vad {
    pub fn new(config: VadConfig) -> Vad {
        let frame = FRAME.as_millis().max(1);
        let hangover_frames = config.hangover.as_millis().div_ceil(frame).max(1);
        Vad {
            start: u32::from(config.start),
            stop: u32::from(config.stop.min(config.start)),
            hangover_frames: u32::try_from(hangover_frames).unwrap_or(u32::MAX),
            talking: false,
            quiet_frames: 0,
            magnitude: 0,
            power: 0.0,
            smoothed: 0.0,
        }
    }

    /// Takes the next frame (any length; a 20 ms frame at its rate); returns whether the
    /// participant is talking.
    pub fn update(&mut self, frame: &[i16]) -> bool {
        let (abs, squares) = sums(frame);
        let n = frame.len().max(1) as u64;
        self.magnitude = (abs / n) as u32;
        self.power = squares / n as f32;
        self.smoothed += (self.power - self.smoothed) * SMOOTHING;
        if !self.talking {
            if self.magnitude >= self.start && self.magnitude > 0 {
                self.talking = true;
                self.quiet_frames = 0;
            }
        } else if self.magnitude >= self.stop && self.magnitude > 0 {
            self.quiet_frames = 0;
        } else {
            self.quiet_frames += 1;
            if self.quiet_frames >= self.hangover_frames {
                self.talking = false;
            }
        }
        self.talking
    }

    pub fn talking(&self) -> bool {
        self.talking
    }

    /// The last frame's mean absolute amplitude, in 16-bit units.
    pub fn magnitude(&self) -> u32 {
        self.magnitude
    }

    /// The last frame's level in dBFS (a full-scale sine is 0 dBFS), at least
    /// [`MIN_LEVEL_DBFS`].
    pub fn level_dbfs(&self) -> f32 {
        let ratio = 2.0 * self.power / (FULL_SCALE * FULL_SCALE);
        if ratio <= 0.0 {
            return MIN_LEVEL_DBFS;
        }
        (10.0 * ratio.log10()).max(MIN_LEVEL_DBFS)
    }

    /// The frame power smoothed over about 100 ms (mean square, 16-bit units squared): what
    /// talkers are ranked by.
    pub fn loudness(&self) -> f32 {
        self.smoothed
    }

    /// Back to silence: not talking, no loudness.
    pub fn reset(&mut self) {
        self.talking = false;
        self.quiet_frames = 0;
        self.magnitude = 0;
        self.power = 0.0;
        self.smoothed = 0.0;
    }
}

/// The sum of the magnitudes of `frame` (exact) and the sum of their squares (in `f32`: the
/// power is an `f32`, and the rounding of 120 additions a lane is far below 0.01 dB), in
/// eight lanes the compiler turns into vector code: talk detection runs on every
/// participant's frame every tick. Where the processor has AVX2 (detected at run time) the
/// same code is compiled for it: the eight lanes in one register, with the sign extension
/// and magnitudes SSE2 lacks, a third of the instructions; the lanes and the order of every
/// addition are the same, so the result is the same bits (a test holds it).
fn sums(frame: &[i16]) -> (u64, f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2
        return unsafe { sums_avx2(frame) };
    }
    sums_plain(frame)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sums_avx2(frame: &[i16]) -> (u64, f32) {
    sums_plain(frame)
}

#[inline(always)]
fn sums_plain(frame: &[i16]) -> (u64, f32) {
    const LANES: usize = 8;
    let mut abs = 0u64;
    let mut squares = [0f32; LANES];
    // a lane adds at most 2^16 / 8 magnitudes of at most 2^15 per block: within u32
    for block in frame.chunks(1 << 16) {
        let mut lanes = [0u32; LANES];
        let mut chunks = block.chunks_exact(LANES);
        for chunk in &mut chunks {
            for ((l, q), &s) in lanes.iter_mut().zip(&mut squares).zip(chunk) {
                *l += u32::from(s.unsigned_abs());
                *q += f32::from(s) * f32::from(s);
            }
        }
        for (&s, q) in chunks.remainder().iter().zip(&mut squares) {
            abs += u64::from(s.unsigned_abs());
            *q += f32::from(s) * f32::from(s);
        }
        abs += lanes.iter().map(|&l| u64::from(l)).sum::<u64>();
    }
    (abs, squares.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sums_are_the_same_bits_with_or_without_avx2() {
        let mut seed = 0x9e37_79b9_u32;
        for len in [0, 7, 160, 320, 961, 1_000, 70_000] {
            let frame: Vec<i16> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    match i % 5 {
                        0 => i16::MIN,
                        1 => i16::MAX,
                        _ => (seed >> 16) as i16,
                    }
                })
                .collect();
            let plain = sums_plain(&frame);
            let (abs, squares) = sums(&frame);
            assert_eq!(
                (abs, squares.to_bits()),
                (plain.0, plain.1.to_bits()),
                "{len}"
            );
            let exact: u64 = frame.iter().map(|s| u64::from(s.unsigned_abs())).sum();
            assert_eq!(abs, exact, "{len}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor has AVX2
                let wide = unsafe { sums_avx2(&frame) };
                assert_eq!(
                    (wide.0, wide.1.to_bits()),
                    (plain.0, plain.1.to_bits()),
                    "{len}"
                );
            }
        }
    }
    use crate::media::tone::{Level, Sound, Tone, ToneGenerator};
    use crate::media::SampleRate;

    fn tone_frame(g: &mut ToneGenerator, rate: SampleRate) -> Vec<i16> {
        let mut f = vec![0i16; rate.frame_samples()];
        g.generate(&mut f);
        f
    }

    fn generator(dbfs: f32, rate: SampleRate) -> ToneGenerator {
        ToneGenerator::new(
            Tone::continuous(Sound::Single(400.0), Level::dbfs(dbfs)),
            rate,
        )
    }

    #[test]
    fn silence_and_faint_noise_never_talk() {
        let mut vad = Vad::new(VadConfig::default());
        for _ in 0..100 {
            assert!(!vad.update(&[0; 160]));
        }
        assert_eq!(vad.level_dbfs(), MIN_LEVEL_DBFS);
        // a -50 dBFS tone averages about 66: under the start threshold of 160
        let mut g = generator(-50.0, SampleRate::NARROW);
        for _ in 0..100 {
            assert!(!vad.update(&tone_frame(&mut g, SampleRate::NARROW)));
        }
        assert!(
            (vad.level_dbfs() + 50.0).abs() < 0.5,
            "{}",
            vad.level_dbfs()
        );
    }

    #[test]
    fn speech_talks_from_its_first_frame_at_any_rate() {
        for rate in [SampleRate::NARROW, SampleRate::WIDE, SampleRate::FULL] {
            let mut vad = Vad::new(VadConfig::default());
            let mut g = generator(-30.0, rate);
            assert!(vad.update(&tone_frame(&mut g, rate)), "{rate}");
            // a -30 dBFS sine: peak 1036, mean absolute 2/pi of it
            assert!(vad.magnitude().abs_diff(660) < 10, "{}", vad.magnitude());
            assert!(
                (vad.level_dbfs() + 30.0).abs() < 0.5,
                "{}",
                vad.level_dbfs()
            );
        }
    }

    #[test]
    fn talk_lasts_through_pauses_shorter_than_the_hangover_and_ends_after_it() {
        let config = VadConfig {
            hangover: Duration::from_millis(200),
            ..VadConfig::default()
        };
        let mut vad = Vad::new(config);
        let mut g = generator(-20.0, SampleRate::NARROW);
        assert!(vad.update(&tone_frame(&mut g, SampleRate::NARROW)));
        // 180 ms of silence: nine frames, still talking
        for _ in 0..9 {
            assert!(vad.update(&[0; 160]));
        }
        assert!(vad.update(&tone_frame(&mut g, SampleRate::NARROW)));
        for k in 1..=10 {
            assert_eq!(vad.update(&[0; 160]), k < 10, "quiet frame {k}");
        }
        assert!(!vad.talking());
    }

    #[test]
    fn a_level_between_stop_and_start_keeps_talk_but_does_not_start_it() {
        let config = VadConfig {
            hangover: Duration::from_millis(100),
            ..VadConfig::default()
        };
        // -44 dBFS: a mean amplitude of about 131, between 80 and 160
        let mut between = generator(-44.0, SampleRate::NARROW);
        let mut vad = Vad::new(config);
        for _ in 0..20 {
            assert!(!vad.update(&tone_frame(&mut between, SampleRate::NARROW)));
        }
        let mut loud = generator(-20.0, SampleRate::NARROW);
        assert!(vad.update(&tone_frame(&mut loud, SampleRate::NARROW)));
        for _ in 0..50 {
            assert!(vad.update(&tone_frame(&mut between, SampleRate::NARROW)));
        }
    }

    #[test]
    fn loudness_ranks_a_louder_talker_higher_and_follows_within_a_few_frames() {
        let mut a = Vad::new(VadConfig::default());
        let mut b = Vad::new(VadConfig::default());
        let mut ga = generator(-10.0, SampleRate::NARROW);
        let mut gb = generator(-20.0, SampleRate::NARROW);
        for _ in 0..20 {
            a.update(&tone_frame(&mut ga, SampleRate::NARROW));
            b.update(&tone_frame(&mut gb, SampleRate::NARROW));
        }
        let ratio_db = 10.0 * (a.loudness() / b.loudness()).log10();
        assert!((ratio_db - 10.0).abs() < 0.5, "{ratio_db}");
        // a goes quiet: 300 ms later it ranks below b
        for _ in 0..15 {
            a.update(&[0; 160]);
            b.update(&tone_frame(&mut gb, SampleRate::NARROW));
        }
        assert!(a.loudness() < b.loudness() / 2.0);
    }

    #[test]
    fn the_same_frames_give_the_same_answers() {
        let run = || {
            let mut vad = Vad::new(VadConfig::default());
            let mut g = generator(-35.0, SampleRate::WIDE);
            let mut seen = Vec::new();
            for k in 0..300 {
                let f = if k % 70 < 30 {
                    tone_frame(&mut g, SampleRate::WIDE)
                } else {
                    vec![0; 320]
                };
                seen.push((vad.update(&f), vad.loudness().to_bits()));
            }
            seen
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn a_reset_detector_is_silent() {
        let mut vad = Vad::new(VadConfig::default());
        let mut g = generator(-20.0, SampleRate::NARROW);
        vad.update(&tone_frame(&mut g, SampleRate::NARROW));
        vad.reset();
        assert!(!vad.talking());
        assert_eq!(vad.loudness(), 0.0);
        assert_eq!(vad.level_dbfs(), MIN_LEVEL_DBFS);
    }

    #[test]
    fn frame_sums_are_exact_for_magnitudes_and_close_for_squares_even_at_full_scale() {
        let frame: Vec<i16> = (0..963)
            .map(|i| match i % 5 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => 0,
                _ => (i * 37 % 2001) as i16 - 1000,
            })
            .collect();
        let abs: u64 = frame.iter().map(|&s| u64::from(s.unsigned_abs())).sum();
        let squares: u64 = frame
            .iter()
            .map(|&s| u64::from(s.unsigned_abs()).pow(2))
            .sum();
        let (a, q) = sums(&frame);
        assert_eq!(a, abs);
        let error = (f64::from(q) - squares as f64).abs() / squares as f64;
        assert!(error < 1e-5, "relative error {error}");
    }
}
