//! Frame resampling between any two [`SampleRate`]s (8, 16 and 48 kHz in practice), one
//! 20 ms frame in, one 20 ms frame out.
//!
//! The filter is rubato's windowed sinc: a Blackman window over 48 taps at the lower of the two
//! rates (when downsampling the taps span the same time at the higher rate, so the anti-alias
//! filter is as sharp in both directions), cut off at 0.95 of the lower rate's Nyquist
//! frequency. The passband is flat to 3.4 kHz for narrowband audio and to 7 kHz for wideband
//! audio (less than 0.25 dB down there), and every image of an upsampled tone, and every alias
//! a downsampling folds back into that passband, is more than 75 dB down; the tests sweep tones
//! through the converters and hold them to 0.5 dB and 50 dB. Of rubato's windows, Blackman's
//! has the narrowest main lobe that reaches that attenuation (Hann's side lobes stop at
//! -31 dB). A polynomial resampler would be cheaper but has no anti-alias filter, which
//! downsampling cannot do without; rubato's FFT resampler delays by half its block, 5-10 ms for
//! a response as flat.
//!
//! Where one rate is a whole multiple of the other (8, 16 and 48 kHz among each other), every
//! output sample falls on one of a few fixed phases of the input: up by `L`, output `k` is at
//! input position `k / L`, a phase of `k % L`; down by `M`, output `k` is at input sample
//! `k * M`. The resampler computes exactly those points with rubato's sinc interpolator (its
//! filter bank of one sinc per phase and its SIMD dot product), keeping the last filter span of
//! input as history: a plain polyphase FIR with no fractional position to track, in about a
//! third of the time rubato's general asynchronous resampler takes for the same filter. The
//! delay is half the filter: 24 input samples plus one when upsampling (3.1 ms from 8 kHz,
//! 1.6 ms from 16 kHz), 24 output samples when downsampling (3 ms to 8 kHz, 1.5 ms to 16 kHz).
//! While the input and the history are silent the filter is skipped: silence in, silence out.
//!
//! Other pairs (44.1 kHz) go through rubato's asynchronous sinc resampler with the same filter,
//! interpolating cubically between 128 phases of it (`free`).
//!
//! Frames are 16-bit samples ([`FrameResampler::process`]) or 32-bit sums of several frames
//! that may exceed 16 bits, such as a conference mix ([`FrameResampler::process_wide`]); the
//! filter runs in `f32` on buffers allocated by `new`, and `process` never allocates. Equal
//! rates pass frames through untouched, with no delay.

mod free;
#[cfg(test)]
mod tests;

use rubato::sinc_interpolator::{make_interpolator, AnyInterpolator, SincInterpolator};
use rubato::WindowFunction;

use super::SampleRate;
use free::Free;

/// Taps of the anti-alias filter at the lower rate of the pair.
pub(crate) const TAPS_AT_LOWER_RATE: usize = 48;

/// The filter's cutoff, relative to the lower rate's Nyquist frequency.
pub(crate) const CUTOFF: f32 = 0.95;

/// The window of the filter (see the module's notes).
pub(crate) const WINDOW: WindowFunction = WindowFunction::Blackman;

/// Converts 20 ms frames from one sample rate to another.
pub struct FrameResampler {
    from: SampleRate,
    to: SampleRate,
    kind: Kind,
}

enum Kind {
    /// Equal rates.
    Same,
    /// One rate a whole multiple of the other.
    Fixed(Box<Fixed>),
    /// Any other pair.
    Free(Box<Free>),
}

/// A polyphase FIR for a whole-number ratio, run by rubato's sinc interpolator.
struct Fixed {
    interpolator: AnyInterpolator<f32>,
    /// Output samples per input sample (upsampling), else 1.
    up: usize,
    /// Input samples per output sample (downsampling), else 1.
    down: usize,
    /// Input samples kept from earlier frames: one filter span.
    history: usize,
    /// `history` samples of earlier input, then the current frame, in sample units.
    wave: Vec<f32>,
    /// Every sample of the history is zero: a silent frame comes out silent unfiltered.
    quiet: bool,
    delay: usize,
}

/// A sample type frames come in: 16-bit samples, or 32-bit sums of them.
trait Pcm: Copy {
    fn to_f32(self) -> f32;
    /// Rounded to the nearest integer, saturated to the type's range.
    fn from_f32(x: f32) -> Self;
    fn is_zero(self) -> bool;
}

impl Pcm for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }

    #[inline]
    fn from_f32(x: f32) -> i16 {
        // `as` saturates; adding half away from zero rounds (`f32::round` is a library call
        // on baseline x86-64)
        (x + 0.5f32.copysign(x)) as i16
    }

    #[inline]
    fn is_zero(self) -> bool {
        self == 0
    }
}

impl Pcm for i32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }

    #[inline]
    fn from_f32(x: f32) -> i32 {
        (x + 0.5f32.copysign(x)) as i32
    }

    #[inline]
    fn is_zero(self) -> bool {
        self == 0
    }
}

impl std::fmt::Debug for FrameResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("delay_samples", &self.delay_samples())
            .finish()
    }
}

impl FrameResampler {
    /// A resampler from `from` to `to`, with all its buffers.
    pub fn new(from: SampleRate, to: SampleRate) -> FrameResampler {
        let kind = if from == to {
            Kind::Same
        } else if to.hz().is_multiple_of(from.hz()) || from.hz().is_multiple_of(to.hz()) {
            Kind::Fixed(Box::new(Fixed::new(from, to)))
        } else {
            Kind::Free(Box::new(Free::new(from, to)))
        };
        FrameResampler { from, to, kind }
    }

    pub fn from(&self) -> SampleRate {
        self.from
    }

    pub fn to(&self) -> SampleRate {
        self.to
    }

    /// The delay this resampler adds, in output samples: a sample that goes in at position
    /// `i` of the input stream comes out around position `i * to / from + delay_samples()`.
    pub fn delay_samples(&self) -> usize {
        match &self.kind {
            Kind::Same => 0,
            Kind::Fixed(f) => f.delay,
            Kind::Free(f) => f.delay(),
        }
    }

    /// Frames that came out padded with silence because the resampler produced less than a
    /// frame beyond the slack kept for it; zero unless something is wrong (only the
    /// asynchronous resampler of pairs with no whole-number ratio can fall short).
    pub fn shortfalls(&self) -> u64 {
        match &self.kind {
            Kind::Free(f) => f.shortfalls(),
            _ => 0,
        }
    }

    /// Back to the state of a new resampler: the filter forgets the audio it has seen, so the
    /// next frame comes out as if it were the first. Allocates nothing.
    pub fn reset(&mut self) {
        match &mut self.kind {
            Kind::Same => {}
            // a quiet history is already a new one's
            Kind::Fixed(f) if f.quiet => {}
            Kind::Fixed(f) => {
                f.wave.fill(0.0);
                f.quiet = true;
            }
            Kind::Free(f) => f.reset(),
        }
    }

    /// Whether the filter holds no audio: a silent frame would come out silent. True for a new
    /// or reset resampler and after a silent frame (the filter spans less than a frame), for
    /// pairs with a whole-number ratio; the asynchronous resampler of other pairs never says so.
    pub fn is_quiet(&self) -> bool {
        match &self.kind {
            Kind::Same => true,
            Kind::Fixed(f) => f.quiet,
            Kind::Free(_) => false,
        }
    }

    /// Converts one 20 ms frame (`from().frame_samples()` samples) into `out`, which must
    /// hold `to().frame_samples()`; returns the samples written, always one whole frame.
    ///
    /// # Panics
    ///
    /// If `input` is not one frame or `out` is shorter than one frame.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        self.convert(input, out)
    }

    /// As [`process`](Self::process), for frames of 32-bit samples: sums of several frames
    /// (a mix) that may exceed 16 bits, resampled before anything saturates them. Out comes
    /// the same stream as `process` would give for the same values, unsaturated.
    ///
    /// # Panics
    ///
    /// If `input` is not one frame or `out` is shorter than one frame.
    pub fn process_wide(&mut self, input: &[i32], out: &mut [i32]) -> usize {
        self.convert(input, out)
    }

    fn convert<S: Pcm>(&mut self, input: &[S], out: &mut [S]) -> usize {
        let n_in = self.from.frame_samples();
        let n_out = self.to.frame_samples();
        assert_eq!(input.len(), n_in, "one frame at {} in", self.from);
        assert!(out.len() >= n_out, "room for one frame at {} out", self.to);
        let out = &mut out[..n_out];
        match &mut self.kind {
            Kind::Same => out.copy_from_slice(input),
            Kind::Fixed(f) => f.process(input, out),
            Kind::Free(f) => f.process(input, out),
        }
        n_out
    }
}

impl Fixed {
    fn new(from: SampleRate, to: SampleRate) -> Fixed {
        let (up, down) = if to > from {
            ((to.hz() / from.hz()) as usize, 1)
        } else {
            (1, (from.hz() / to.hz()) as usize)
        };
        // Upsampling: one sinc per output phase, each as long as the filter at the input
        // rate. Downsampling: one sinc (every output lands on an input sample), as long as
        // the filter at the input rate, which is `down` times the lower rate; rubato scales
        // the cutoff down by the ratio.
        let (sinc_len, ratio, phases) = if up > 1 {
            (TAPS_AT_LOWER_RATE, up as f64, up)
        } else {
            (TAPS_AT_LOWER_RATE * down, 1.0 / down as f64, 1)
        };
        let interpolator = make_interpolator(sinc_len, ratio, Some(CUTOFF), phases, WINDOW);
        let taps = interpolator.nbr_points();
        // rubato reads `taps` samples from the index it is given and wants one more after
        // them; upsampling reads one sample further than downsampling (see `process`)
        let history = if up > 1 { taps + 1 } else { taps };
        let n_in = from.frame_samples();
        // every SampleRate pair keeps the history within one frame: `quiet` relies on it
        assert!(history <= n_in, "a {taps}-tap filter fits a {from} frame");
        // Output `k` reads the input `taps / 2 + 1` samples before its own position when
        // upsampling and `taps / 2` when downsampling: that far behind, in output samples.
        let delay = if up > 1 {
            (taps / 2 + 1) * up
        } else {
            taps / 2 / down
        };
        Fixed {
            interpolator,
            up,
            down,
            history,
            wave: vec![0.0; history + n_in],
            quiet: true,
            delay,
        }
    }

    fn process<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        let silent = input.iter().all(|s| s.is_zero());
        if silent && self.quiet {
            out.fill(S::from_f32(0.0));
            return;
        }
        let n_in = input.len();
        // the last `history` samples of the previous call move to the front
        self.wave.copy_within(n_in.., 0);
        for (w, &s) in self.wave[self.history..].iter_mut().zip(input) {
            *w = s.to_f32();
        }
        let wave = &self.wave[..];
        let interpolator = &self.interpolator;
        // rubato's `get_sinc_interpolated(wave, index, phase)` is the band-limited wave at
        // position `index + taps / 2 - 1 + (phase + 1) / phases`
        if self.up > 1 {
            // Output `q * up + r` is at wave position `taps / 2 + q + r / up`: phase `up - 1`
            // from index `q` for `r == 0`, phase `r - 1` from index `q + 1` otherwise.
            let up = self.up;
            for (q, outs) in out.chunks_exact_mut(up).enumerate() {
                outs[0] = S::from_f32(interpolator.get_sinc_interpolated(wave, q, up - 1));
                for (r, o) in outs.iter_mut().enumerate().skip(1) {
                    *o = S::from_f32(interpolator.get_sinc_interpolated(wave, q + 1, r - 1));
                }
            }
        } else {
            // Output `k` is at wave position `taps / 2 + k * down`: the single phase from
            // index `k * down`.
            for (k, o) in out.iter_mut().enumerate() {
                *o = S::from_f32(interpolator.get_sinc_interpolated(wave, k * self.down, 0));
            }
        }
        // the history is the end of this frame (it is shorter than a frame)
        self.quiet = silent;
    }
}
