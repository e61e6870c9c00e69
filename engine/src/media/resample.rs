//! Frame resampling between any two [`SampleRate`]s (8, 16 and 48 kHz in practice), one
//! 20 ms frame in, one 20 ms frame out.
//!
//! Where one rate is a whole multiple of the other (8, 16 and 48 kHz among each other), every
//! output sample falls on one of a few fixed phases of the input, and the resampler is a
//! polyphase FIR of its own (`poly`): a Kaiser-windowed sinc cut off at the lower rate's
//! Nyquist frequency, 14 input samples of the lower rate either side of its centre. Cut off
//! exactly there, every `R`-th tap from the centre is zero (a Nyquist filter): going up by
//! `R`, one output in `R` is an input sample as it is; going down, one stream of `R` passes
//! one tap. The passband is flat to 3.4 kHz for narrowband audio and to 7 kHz for wideband
//! audio (within 0.02 dB), and every image of an upsampled tone, and every alias a
//! downsampling folds back into that passband, is more than 57 dB down; the tests sweep tones
//! through the converters and hold them to 0.5 dB and 50 dB. The inner loop (`kernel`) runs
//! 32 outputs at once in AVX lanes where the processor has AVX, else 16 in SSE2 lanes, and
//! frames go to and from `f32` eight samples at a time (`convert`): bit for bit what the plain
//! forms give. Per sample at the higher rate that is `28 * (R - 1) / R` multiply-adds (14
//! between 8 and 16 kHz, 18.7 between 16 and 48 kHz), against 48 for the 48-tap Blackman
//! filter run by rubato's interpolator that this replaced.
//! The delay is half the filter: 14 samples at the lower rate (1.75 ms at 8 kHz, 0.875 ms at
//! 16 kHz). While the input and the history are silent the filter is skipped: silence in,
//! silence out.
//!
//! Other pairs (44.1 kHz) go through rubato's asynchronous sinc resampler (`free`): a
//! Blackman window over 48 taps at the lower of the two rates, cut off at 0.95 of its Nyquist
//! frequency, interpolating cubically between 128 phases of it (a polynomial resampler would
//! be cheaper but has no anti-alias filter, which downsampling cannot do without).
//!
//! Frames are 16-bit samples ([`FrameResampler::process`]) or 32-bit sums of several frames
//! that may exceed 16 bits, such as a conference mix ([`FrameResampler::process_wide`]); the
//! filter runs in `f32` on buffers allocated by `new`, and `process` never allocates. Equal
//! rates pass frames through untouched, with no delay.

mod convert;
mod free;
mod kernel;
mod poly;
#[cfg(test)]
mod tests;

use rubato::WindowFunction;

use super::SampleRate;
use free::Free;
use poly::Fixed;

/// Taps of the anti-alias filter at the lower rate of the pair, for pairs with no whole-number
/// ratio (and for whole clips, `upload`).
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

/// A sample type frames come in: 16-bit samples, or 32-bit sums of them.
trait Pcm: Copy {
    fn to_f32(self) -> f32;
    /// Rounded to the nearest integer (half away from zero), saturated to the type's range.
    fn from_f32(x: f32) -> Self;
    fn is_zero(self) -> bool;
    /// `to_f32` of a run of samples.
    fn widen(pcm: &[Self], out: &mut [f32]);
    /// `from_f32` of a run of values.
    fn narrow(x: &[f32], out: &mut [Self]);
}

impl Pcm for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }

    #[inline]
    fn from_f32(x: f32) -> i16 {
        convert::round_i16(x)
    }

    #[inline]
    fn is_zero(self) -> bool {
        self == 0
    }

    fn widen(pcm: &[i16], out: &mut [f32]) {
        convert::widen_i16(pcm, out)
    }

    fn narrow(x: &[f32], out: &mut [i16]) {
        convert::narrow_i16(x, out)
    }
}

impl Pcm for i32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }

    #[inline]
    fn from_f32(x: f32) -> i32 {
        convert::round_i32(x)
    }

    #[inline]
    fn is_zero(self) -> bool {
        self == 0
    }

    fn widen(pcm: &[i32], out: &mut [f32]) {
        convert::widen_i32(pcm, out)
    }

    fn narrow(x: &[f32], out: &mut [i32]) {
        convert::narrow_i32(x, out)
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
            Kind::Fixed(f) => f.delay(),
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
            Kind::Fixed(f) => f.reset(),
            Kind::Free(f) => f.reset(),
        }
    }

    /// Whether the filter holds no audio: a silent frame would come out silent. True for a new
    /// or reset resampler and after a silent frame (the filter spans less than a frame), for
    /// pairs with a whole-number ratio; the asynchronous resampler of other pairs never says so.
    pub fn is_quiet(&self) -> bool {
        match &self.kind {
            Kind::Same => true,
            Kind::Fixed(f) => f.is_quiet(),
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
