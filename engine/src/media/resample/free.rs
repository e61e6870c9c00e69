//! Resampling between rates with no whole-number ratio (44.1 kHz and 48 kHz, say): rubato's
//! asynchronous sinc resampler at a fixed ratio, with the filter of the fixed-ratio path and
//! cubic interpolation between 128 phases of it.
//!
//! rubato's first calls return a few samples less than a frame (its filter fills up); steady
//! calls return exactly one frame. The resampler starts with that many zeros in hand (the
//! slack), measured at construction with an impulse that also shows the delay.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType};

use super::{Pcm, CUTOFF, TAPS_AT_LOWER_RATE, WINDOW};
use crate::media::SampleRate;

/// Extra output samples kept in hand beyond the start-up shortfall, against a call that
/// produces one sample less than a frame later on (the fractional output positions are
/// floating point).
const MARGIN: usize = 1;

/// Calls of silence that show how far short of whole frames rubato's first outputs fall.
const WARM_UP_CALLS: usize = 4;

pub(super) struct Free {
    resampler: Async<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Output produced but not handed out yet; starts with `slack` zeros.
    pending: Vec<f32>,
    pending_len: usize,
    /// Zeros `pending` starts with (and starts again with after `reset`).
    slack: usize,
    delay: usize,
    shortfalls: u64,
}

impl Free {
    pub(super) fn new(from: SampleRate, to: SampleRate) -> Free {
        let ratio = to.hz() as f64 / from.hz() as f64;
        let down = (from.hz() as f64 / to.hz() as f64).max(1.0);
        let params = SincInterpolationParameters {
            sinc_len: (TAPS_AT_LOWER_RATE as f64 * down).round() as usize,
            f_cutoff: Some(CUTOFF),
            oversampling_factor: 128,
            interpolation: SincInterpolationType::Cubic,
            window: WINDOW,
        };
        let chunk = from.frame_samples();
        // SampleRate keeps both rates within 8..=48 kHz, so the ratio (1/6 to 6), the chunk
        // (at least 160) and the channel count are all in what rubato accepts.
        let mut resampler =
            Async::<f32>::new_sinc(ratio, 1.0, &params, chunk, 1, FixedAsync::Input)
                .expect("rubato accepts every pair of frame-path sample rates");
        let out_max = resampler.output_frames_max();
        let mut input = vec![0.0; chunk];
        let mut output = vec![0.0; out_max];
        // An impulse at the start shows where the filter's centre lands: the delay.
        let (mut produced, mut peak, mut peak_at) = (0, 0.0f32, 0);
        input[0] = 1.0;
        for _ in 0..WARM_UP_CALLS {
            let n = process_chunk(&mut resampler, &input, &mut output);
            for (i, &y) in output[..n].iter().enumerate() {
                if y.abs() > peak {
                    (peak, peak_at) = (y.abs(), produced + i);
                }
            }
            produced += n;
            input[0] = 0.0;
        }
        resampler.reset();
        let slack = (WARM_UP_CALLS * to.frame_samples()).saturating_sub(produced) + MARGIN;
        Free {
            resampler,
            input,
            output,
            pending: vec![0.0; to.frame_samples() + out_max + slack],
            pending_len: slack,
            slack,
            delay: peak_at + slack,
            shortfalls: 0,
        }
    }

    pub(super) fn delay(&self) -> usize {
        self.delay
    }

    pub(super) fn shortfalls(&self) -> u64 {
        self.shortfalls
    }

    pub(super) fn reset(&mut self) {
        self.resampler.reset();
        self.pending.fill(0.0);
        self.pending_len = self.slack;
    }

    /// One frame in, one frame (all of `out`) out.
    pub(super) fn process<S: Pcm>(&mut self, input: &[S], out: &mut [S]) {
        for (f, &s) in self.input.iter_mut().zip(input) {
            *f = s.to_f32();
        }
        let produced = process_chunk(&mut self.resampler, &self.input, &mut self.output);
        // never more than the room left: the pending level is bounded by the slack
        let produced = produced.min(self.pending.len() - self.pending_len);
        let end = self.pending_len + produced;
        self.pending[self.pending_len..end].copy_from_slice(&self.output[..produced]);
        self.pending_len = end;
        let take = out.len().min(self.pending_len);
        for (o, &f) in out.iter_mut().zip(&self.pending[..take]) {
            *o = S::from_f32(f);
        }
        // a shortfall beyond the slack (never seen for fixed ratios) becomes silence
        if take < out.len() {
            out[take..].fill(S::from_f32(0.0));
            self.shortfalls += 1;
        }
        self.pending.copy_within(take..self.pending_len, 0);
        self.pending_len -= take;
    }
}

/// One call into rubato: a chunk in, the samples it produced (none if it refused, which it
/// cannot for buffers of the sizes it asked for).
fn process_chunk(resampler: &mut Async<f32>, input: &[f32], output: &mut [f32]) -> usize {
    let (Ok(src), Ok(mut dst)) = (
        InterleavedSlice::new(input, 1, input.len()),
        InterleavedSlice::new_mut(output, 1, output.len()),
    ) else {
        return 0;
    };
    resampler
        .process_into_buffer(&src, &mut dst, None)
        .map_or(0, |(_, produced)| produced)
}
