//! The polyphase FIR of a whole-number ratio `R` (8 <-> 16, 16 <-> 48, 8 <-> 48 kHz).
//!
//! The filter: a sinc cut off at the lower rate's Nyquist frequency under a Kaiser window
//! (β = [`KAISER_BETA`]), `2 * HALF_TAPS * R + 1` taps long at the higher rate, so
//! [`HALF_TAPS`] input samples of the lower rate either side of its centre. Cut off exactly
//! there it is a Nyquist filter: every `R`-th tap from the centre is zero. Up by `R`, output
//! `q * R` is input `q - HALF_TAPS` itself and each of the other `R - 1` phases is a
//! correlation of `2 * HALF_TAPS` input samples with that phase's taps; down by `R`, the
//! input splits into `R` streams (`x[k * R + r]`), the first of which passes one tap (the
//! centre), the others `2 * HALF_TAPS` each. Per output sample at the higher rate that is
//! `2 * HALF_TAPS * (R - 1) / R` multiplications, with no fractional position to track.
//! Each phase's taps are scaled to sum to one (to `1 / R` going down), so a constant comes
//! through every phase unchanged.
//!
//! The response, for every whole ratio from 2 to 6: flat within 0.02 dB to 87.5 % of the
//! lower rate's Nyquist frequency (3.5 kHz at 8 kHz, 7 kHz at 16 kHz), and more than 57 dB
//! down from 112.5 % of it (4.5 and 9 kHz): the images of an upsampling and the aliases a
//! downsampling folds back into the passband (a test computes it; the tests of `resample`
//! sweep tones through the converters and hold them to 0.5 dB and 50 dB).
//!
//! The delay is [`HALF_TAPS`] samples at the lower rate (1.75 ms at 8 kHz, 0.875 ms at
//! 16 kHz). While the input and the history are silent the filter is skipped: silence in,
//! silence out.

use super::kernel::correlate_add;
use super::Pcm;
use crate::media::SampleRate;

/// Input samples of the lower rate on each side of the filter's centre.
pub(crate) const HALF_TAPS: usize = 14;

/// The Kaiser window's β: the widest main lobe that still leaves 7 kHz flat at 16 kHz.
const KAISER_BETA: f64 = 5.4;

/// Taps of every phase but the centre's.
const TAPS: usize = 2 * HALF_TAPS;

/// Runs `$body` with the const `$R` equal to `$ratio` (2 to 6: the ratios of rates between
/// 8 and 48 kHz), so that the interleaving loops index whole groups of `R` without checks.
macro_rules! for_ratio {
    ($ratio:expr, $R:ident => $body:block) => {
        match $ratio {
            2 => {
                const $R: usize = 2;
                $body
            }
            3 => {
                const $R: usize = 3;
                $body
            }
            4 => {
                const $R: usize = 4;
                $body
            }
            5 => {
                const $R: usize = 5;
                $body
            }
            6 => {
                const $R: usize = 6;
                $body
            }
            r => unreachable!("a ratio of {r} between rates of 8 to 48 kHz"),
        }
    };
}

pub(super) struct Fixed {
    /// The ratio, `R`.
    ratio: usize,
    up: bool,
    /// The taps of phases `1..R`, `TAPS` each, phase after phase, in the order they meet the
    /// input oldest first.
    taps: Vec<f32>,
    /// Up: `TAPS` samples of earlier input, then the current frame. Down: `R` streams of
    /// `TAPS + n_out` samples each (earlier input, then this frame's), stream `r` holding
    /// input samples `k * R + r`.
    wave: Vec<f32>,
    /// Up: the outputs of phases `1..R`, a frame of input long each. Down: the output frame.
    sums: Vec<f32>,
    /// A frame of the filter's own values: up, the output before rounding; down, the input.
    frame: Vec<f32>,
    /// Input samples per frame.
    n_in: usize,
    /// Every sample of the history is zero: a silent frame comes out silent unfiltered.
    quiet: bool,
    delay: usize,
}

impl Fixed {
    pub(super) fn new(from: SampleRate, to: SampleRate) -> Fixed {
        let up = to > from;
        let (low, high) = if up { (from, to) } else { (to, from) };
        let ratio = (high.hz() / low.hz()) as usize;
        assert!(
            (2..=6).contains(&ratio),
            "{from} -> {to}: a ratio of 2 to 6"
        );
        let (n_in, n_out) = (from.frame_samples(), to.frame_samples());
        // the history is within one frame at the lower rate: `quiet` relies on it
        assert!(TAPS <= low.frame_samples(), "{TAPS} taps fit a {low} frame");
        let prototype = prototype(ratio);
        let mut taps = Vec::with_capacity((ratio - 1) * TAPS);
        for r in 1..ratio {
            let start = taps.len();
            // Up: output `q * R + r` is `Σ_j h[r + j R] x[q - j]`; the taps meet the input
            // oldest first, so `j` runs down. Down: output `k` is `Σ_j h[j R + r]` times
            // stream `r` at `k + j` (the filter is symmetric).
            for i in 0..TAPS {
                let j = if up { TAPS - 1 - i } else { i };
                taps.push(prototype[r + j * ratio]);
            }
            let sum: f64 = taps[start..].iter().map(|&t| f64::from(t)).sum();
            let gain = if up { 1.0 } else { 1.0 / ratio as f64 };
            for t in &mut taps[start..] {
                *t = (f64::from(*t) * gain / sum) as f32;
            }
        }
        let (wave, sums) = if up {
            (TAPS + n_in, (ratio - 1) * n_in)
        } else {
            (ratio * (TAPS + n_out), n_out)
        };
        Fixed {
            ratio,
            up,
            taps,
            wave: vec![0.0; wave],
            sums: vec![0.0; sums],
            frame: vec![0.0; if up { n_out } else { n_in }],
            n_in,
            quiet: true,
            // half the filter at the lower rate, in output samples
            delay: if up { HALF_TAPS * ratio } else { HALF_TAPS },
        }
    }

    pub(super) fn delay(&self) -> usize {
        self.delay
    }

    pub(super) fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub(super) fn reset(&mut self) {
        // a quiet history is already a new one's
        if !self.quiet {
            self.wave.fill(0.0);
            self.quiet = true;
        }
    }

    pub(super) fn process<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        debug_assert_eq!(input.len(), self.n_in);
        let silent = input.iter().all(|s| s.is_zero());
        if silent && self.quiet {
            out.fill(S::from_f32(0.0));
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2
            unsafe { self.filter_avx2(input, out) };
            self.quiet = silent;
            return;
        }
        self.filter(input, out);
        // the history is the end of this frame (it is shorter than a frame)
        self.quiet = silent;
    }

    /// The filter compiled for AVX2 (its wider lanes, and the shuffles that interleave the
    /// phases): the same operations, the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn filter_avx2<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        self.filter(input, out)
    }

    #[inline(always)]
    fn filter<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        if self.up {
            self.up(input, out);
        } else {
            self.down(input, out);
        }
    }

    #[inline(always)]
    fn up<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        let (n, r) = (self.n_in, self.ratio);
        // the last `TAPS` samples of the previous call move to the front
        self.wave.copy_within(n.., 0);
        S::widen(input, &mut self.wave[TAPS..]);
        // phase `p` of output `q` reads `x[q - TAPS + 1 ..= q]`: the wave from `q + 1`
        self.sums.fill(0.0);
        for (taps, sums) in self
            .taps
            .chunks_exact(TAPS)
            .zip(self.sums.chunks_exact_mut(n))
        {
            correlate_add(taps, &self.wave[1..], sums);
        }
        // phase 0 is the input `HALF_TAPS` samples back, which the wave holds at
        // `q + HALF_TAPS`; the phases interleave into the output frame
        let phases =
            std::iter::once(&self.wave[HALF_TAPS..HALF_TAPS + n]).chain(self.sums.chunks_exact(n));
        for (p, phase) in phases.enumerate() {
            for_ratio!(r, R => {
                let (frames, _) = self.frame.as_chunks_mut::<R>();
                for (o, &x) in frames.iter_mut().zip(phase) {
                    o[p % R] = x;
                }
            });
        }
        S::narrow(&self.frame, out);
    }

    #[inline(always)]
    fn down<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        let r = self.ratio;
        let n_out = self.n_in / r;
        let len = TAPS + n_out;
        S::widen(input, &mut self.frame);
        // each stream's last `TAPS` samples move to its front, this frame's follow
        for (k, stream) in self.wave.chunks_exact_mut(len).enumerate() {
            stream.copy_within(n_out.., 0);
            for_ratio!(r, R => {
                let (frames, _) = self.frame.as_chunks::<R>();
                for (w, x) in stream[TAPS..].iter_mut().zip(frames) {
                    *w = x[k % R];
                }
            });
        }
        // stream 0 passes the centre tap only, `1 / R` of the sample `HALF_TAPS` back
        let centre = 1.0 / r as f32;
        for (s, &w) in self.sums.iter_mut().zip(&self.wave[HALF_TAPS..len]) {
            *s = w * centre;
        }
        for (taps, stream) in self
            .taps
            .chunks_exact(TAPS)
            .zip(self.wave.chunks_exact(len).skip(1))
        {
            correlate_add(taps, stream, &mut self.sums);
        }
        S::narrow(&self.sums, out);
    }
}

/// The filter at the higher rate: `2 * HALF_TAPS * ratio + 1` taps of a Kaiser-windowed sinc
/// cut off at `1 / ratio` of its Nyquist frequency.
fn prototype(ratio: usize) -> Vec<f32> {
    let centre = HALF_TAPS * ratio;
    (0..=2 * centre)
        .map(|n| {
            let offset = n as f64 - centre as f64;
            let x = offset / ratio as f64;
            let sinc = if n == centre {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = offset / centre as f64;
            let window =
                bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
            (sinc * window) as f32
        })
        .collect()
}

/// The modified Bessel function of the first kind, order zero (its power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut k = 1.0;
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prototype's gain at `f` (a fraction of the higher rate), relative to its gain at 0.
    fn gain_db(h: &[f32], f: f64) -> f64 {
        let centre = (h.len() / 2) as f64;
        let at = |f: f64| -> f64 {
            h.iter()
                .enumerate()
                .map(|(n, &x)| {
                    f64::from(x) * (2.0 * std::f64::consts::PI * f * (n as f64 - centre)).cos()
                })
                .sum()
        };
        20.0 * (at(f).abs() / at(0.0)).log10()
    }

    #[test]
    fn the_filter_is_flat_to_7_8_of_nyquist_and_57_db_down_from_9_8_of_it() {
        for ratio in 2..=6 {
            let h = prototype(ratio);
            assert_eq!(h.len(), 2 * HALF_TAPS * ratio + 1);
            // the lower rate's Nyquist frequency as a fraction of the higher rate
            let nyquist = 0.5 / ratio as f64;
            let steps = 400;
            for k in 0..=steps {
                let f = 0.875 * nyquist * k as f64 / steps as f64;
                let g = gain_db(&h, f);
                assert!(g.abs() < 0.02, "ratio {ratio}: {g:.3} dB at {f:.4}");
            }
            for k in 0..=steps * ratio {
                let f =
                    1.125 * nyquist + (0.5 - 1.125 * nyquist) * k as f64 / (steps * ratio) as f64;
                let g = gain_db(&h, f);
                assert!(g < -57.0, "ratio {ratio}: {g:.1} dB at {f:.4}");
            }
            // a Nyquist filter: every `ratio`-th tap from the centre is zero
            for j in 1..=HALF_TAPS {
                assert!(
                    h[HALF_TAPS * ratio + j * ratio].abs() < 1e-7,
                    "ratio {ratio}, tap {j}"
                );
            }
        }
    }

    #[test]
    fn a_constant_comes_through_every_phase_unchanged() {
        for (from, to) in [
            (8_000, 16_000),
            (16_000, 48_000),
            (48_000, 16_000),
            (16_000, 8_000),
            (8_000, 48_000),
        ] {
            let (from, to) = (SampleRate::new(from).unwrap(), SampleRate::new(to).unwrap());
            let mut f = Fixed::new(from, to);
            let input = vec![10_000i16; from.frame_samples()];
            let mut out = vec![0i16; to.frame_samples()];
            for _ in 0..3 {
                f.process(&input, &mut out);
            }
            assert!(
                out.iter().all(|&s| s == 10_000),
                "{from} -> {to}: {:?}",
                &out[..8]
            );
        }
    }
}
