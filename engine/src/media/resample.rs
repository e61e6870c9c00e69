//! Frame resampling between any two [`SampleRate`]s (8, 16 and 48 kHz in practice), one
//! 20 ms frame in, one 20 ms frame out.
//!
//! Wraps rubato's asynchronous sinc resampler at a fixed ratio. Voice needs low delay more
//! than a flat response up to Nyquist, so the filter is short: 64 taps at the lower of the two
//! rates (when downsampling the taps span the same time at the higher rate, so the anti-alias
//! filter is as sharp in both directions). Half the filter is the delay: 4 ms when 8 kHz is
//! one of the rates, 2 ms between 16 and 48 kHz, plus a few output samples of slack that keep
//! every frame whole ([`FrameResampler::delay_samples`] says exactly how much). The cutoff
//! sits below the lower rate's Nyquist frequency, and what would fold back is attenuated by
//! more than 50 dB. A polynomial resampler would be cheaper but has no anti-alias filter,
//! which downsampling cannot do without; the FFT resampler delays by half its block (10 ms at
//! one frame per block).
//!
//! Where the ratio has few phases (8, 16 and 48 kHz among each other: at most 6), the
//! filter is evaluated exactly at each phase ("nearest" interpolation on an oversampled table
//! whose factor is the phase count): a plain polyphase FIR. Other pairs (44.1 kHz) interpolate
//! cubically between 128 phases.
//!
//! Samples convert between i16 and f32 in buffers allocated by `new`; `process` never
//! allocates. Equal rates pass frames through untouched, with no delay.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use super::SampleRate;

/// Taps of the anti-alias filter at the lower rate of the pair.
const TAPS_AT_LOWER_RATE: usize = 64;

/// Converts 20 ms frames from one sample rate to another.
pub struct FrameResampler {
    from: SampleRate,
    to: SampleRate,
    inner: Option<Box<Inner>>,
}

struct Inner {
    resampler: Async<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Output produced but not handed out yet; starts with `SLACK` zeros.
    pending: Vec<f32>,
    pending_len: usize,
    /// Zeros `pending` starts with (and starts again with after `reset`).
    slack: usize,
    delay: usize,
    shortfalls: u64,
}

/// Extra output samples kept in hand beyond the start-up shortfall, against a call that
/// produces one sample less than a frame later on (the fractional output positions are
/// floating point; none was seen in a million frames of any pair of 8, 16 and 48 kHz).
const MARGIN: usize = 1;

/// Calls of silence that show how far short of whole frames rubato's first outputs fall.
const WARM_UP_CALLS: usize = 4;

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
        if from == to {
            return FrameResampler {
                from,
                to,
                inner: None,
            };
        }
        let ratio = to.hz() as f64 / from.hz() as f64;
        let down = (from.hz() as f64 / to.hz() as f64).max(1.0);
        let sinc_len = (TAPS_AT_LOWER_RATE as f64 * down).round() as usize;
        let g = gcd(from.hz(), to.hz());
        // output positions fall on multiples of 1 / (to / g) input samples
        let phases = (to.hz() / g) as usize;
        let (interpolation, oversampling_factor) = if phases <= 64 {
            (SincInterpolationType::Nearest, phases)
        } else {
            (SincInterpolationType::Cubic, 128)
        };
        let params = SincInterpolationParameters {
            sinc_len,
            f_cutoff: None,
            oversampling_factor,
            interpolation,
            window: WindowFunction::BlackmanHarris2,
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
        // The first calls return a few samples less than a frame (the filter fills up);
        // steady calls return exactly one frame. Start with that many zeros in hand. An
        // impulse at the start shows where the filter's centre lands: the delay.
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
        let delay = peak_at + slack;
        FrameResampler {
            from,
            to,
            inner: Some(Box::new(Inner {
                resampler,
                input,
                output,
                pending: vec![0.0; to.frame_samples() + out_max + slack],
                pending_len: slack,
                slack,
                delay,
                shortfalls: 0,
            })),
        }
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
        self.inner.as_ref().map_or(0, |i| i.delay)
    }

    /// Frames that came out padded with silence because the resampler produced less than a
    /// frame beyond the slack kept for it; zero unless something is wrong.
    pub fn shortfalls(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.shortfalls)
    }

    /// Back to the state of a new resampler: the filter forgets the audio it has seen, so the
    /// next frame comes out as if it were the first (the conference mixer hands a resampler
    /// from one talker to the next). Allocates nothing.
    pub fn reset(&mut self) {
        if let Some(inner) = self.inner.as_deref_mut() {
            inner.resampler.reset();
            inner.pending.fill(0.0);
            inner.pending_len = inner.slack;
        }
    }

    /// Converts one 20 ms frame (`from().frame_samples()` samples) into `out`, which must
    /// hold `to().frame_samples()`; returns the samples written, always one whole frame.
    ///
    /// # Panics
    ///
    /// If `input` is not one frame or `out` is shorter than one frame.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let n_in = self.from.frame_samples();
        let n_out = self.to.frame_samples();
        assert_eq!(input.len(), n_in, "one frame at {} in", self.from);
        assert!(out.len() >= n_out, "room for one frame at {} out", self.to);
        let Some(inner) = self.inner.as_deref_mut() else {
            out[..n_out].copy_from_slice(input);
            return n_out;
        };
        for (f, &s) in inner.input.iter_mut().zip(input) {
            *f = s as f32 * (1.0 / 32768.0);
        }
        let produced = process_chunk(&mut inner.resampler, &inner.input, &mut inner.output);
        // never more than the room left: the pending level is bounded by the slack
        let produced = produced.min(inner.pending.len() - inner.pending_len);
        let end = inner.pending_len + produced;
        inner.pending[inner.pending_len..end].copy_from_slice(&inner.output[..produced]);
        inner.pending_len = end;
        let take = n_out.min(inner.pending_len);
        for (o, &f) in out.iter_mut().zip(&inner.pending[..take]) {
            *o = (f * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        // a shortfall beyond the slack (never seen for fixed ratios) becomes silence
        if take < n_out {
            out[take..n_out].fill(0);
            inner.shortfalls += 1;
        }
        inner.pending.copy_within(take..inner.pending_len, 0);
        inner.pending_len -= take;
        n_out
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

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{goertzel_power, Level, Sound, Tone, ToneGenerator};

    const NB: SampleRate = SampleRate::NARROW;
    const WB: SampleRate = SampleRate::WIDE;
    const FB: SampleRate = SampleRate::FULL;

    fn tone(freq: f32, dbfs: f32, rate: SampleRate, frames: usize) -> Vec<i16> {
        let tone = Tone::continuous(Sound::Single(freq), Level::dbfs(dbfs));
        let mut out = vec![0i16; frames * rate.frame_samples()];
        ToneGenerator::new(tone, rate).generate(&mut out);
        out
    }

    /// Feeds whole frames through `r`, checking that each call returns one whole frame.
    fn run(r: &mut FrameResampler, input: &[i16]) -> Vec<i16> {
        let (n_in, n_out) = (r.from().frame_samples(), r.to().frame_samples());
        let mut out = vec![0i16; input.len() / n_in * n_out];
        for (i, o) in input.chunks(n_in).zip(out.chunks_mut(n_out)) {
            assert_eq!(r.process(i, o), n_out);
        }
        out
    }

    fn dbfs(samples: &[i16], rate: SampleRate, freq: f32) -> f64 {
        10.0 * goertzel_power(samples, rate, freq).log10()
    }

    #[test]
    fn a_1_khz_tone_goes_8_to_16_to_48_and_back_to_8_khz_at_its_frequency_and_level() {
        let input = tone(1000.0, -6.0, NB, 50);
        let wide = run(&mut FrameResampler::new(NB, WB), &input);
        let full = run(&mut FrameResampler::new(WB, FB), &wide);
        let back = run(&mut FrameResampler::new(FB, NB), &full);
        for (samples, rate) in [(&wide, WB), (&full, FB), (&back, NB)] {
            let tail = &samples[samples.len() / 2..];
            let level = dbfs(tail, rate, 1000.0);
            assert!((level + 6.0).abs() < 1.0, "{rate}: {level:.2} dBFS");
            for other in [500.0, 2000.0, 3000.0] {
                assert!(dbfs(tail, rate, other) < level - 40.0, "{rate}: {other} Hz");
            }
        }
    }

    #[test]
    fn a_5_khz_tone_is_filtered_out_going_from_16_to_8_khz_rather_than_folding_to_3_khz() {
        let input = tone(5000.0, -3.0, WB, 50);
        let out = run(&mut FrameResampler::new(WB, NB), &input);
        let tail = &out[out.len() / 2..];
        let folded = dbfs(tail, NB, 3000.0);
        assert!(
            folded < -3.0 - 30.0,
            "the fold-back at 3 kHz is {folded:.1} dBFS"
        );
        let total = crate::media::tone::block_dbfs(tail);
        assert!(total < -3.0 - 30.0, "what is left is {total:.1} dBFS");
        // 48 kHz to 8 kHz: a tone above 4 kHz folds too unless filtered
        let input = tone(7000.0, -3.0, FB, 50);
        let out = run(&mut FrameResampler::new(FB, NB), &input);
        let total = crate::media::tone::block_dbfs(&out[out.len() / 2..]);
        assert!(total < -33.0, "48 -> 8 kHz leaves {total:.1} dBFS of 7 kHz");
    }

    #[test]
    fn every_call_returns_exactly_one_frame_for_a_long_time() {
        for (from, to) in [(NB, WB), (NB, FB), (WB, NB), (WB, FB), (FB, NB), (FB, WB)] {
            let mut r = FrameResampler::new(from, to);
            // 500 Hz: whole cycles in a frame, so one frame repeated is a steady tone
            let input = tone(500.0, -10.0, from, 1);
            let mut out = vec![0i16; to.frame_samples()];
            // 30 s of frames (past the start-up calls nothing changes: a million frames of
            // every pair showed the same count on every call)
            for _ in 0..1_500 {
                assert_eq!(r.process(&input, &mut out), to.frame_samples());
            }
            assert_eq!(r.shortfalls(), 0, "{from} -> {to}");
            let level = dbfs(&out, to, 500.0);
            assert!((level + 10.0).abs() < 1.0, "{from} -> {to}: {level:.2}");
        }
    }

    #[test]
    fn the_reported_delay_is_where_an_impulse_comes_out() {
        for (from, to) in [(NB, WB), (NB, FB), (WB, NB), (WB, FB), (FB, NB), (FB, WB)] {
            let mut r = FrameResampler::new(from, to);
            let mut input = vec![0i16; 10 * from.frame_samples()];
            input[0] = 16_000;
            let out = run(&mut r, &input);
            let peak = (0..out.len())
                .max_by_key(|&i| out[i].unsigned_abs())
                .unwrap();
            let expected = r.delay_samples();
            // an even-length filter centres between two samples: either may be the larger
            assert!(
                peak.abs_diff(expected) <= 1,
                "{from} -> {to}: peak at {peak}, delay {expected}"
            );
            // half the filter, 32 samples at the lower rate, plus a few samples of slack
            let lower = from.min(to);
            let ms = expected as f64 * 1000.0 / to.hz() as f64;
            let half_filter = 32_000.0 / lower.hz() as f64;
            assert!(
                (half_filter..half_filter + 0.5).contains(&ms),
                "{from} -> {to}: {ms:.2} ms"
            );
            println!("{from} -> {to}: {expected} samples, {ms:.2} ms");
        }
    }

    #[test]
    fn a_reset_resampler_gives_what_a_new_one_gives() {
        for (from, to) in [(NB, WB), (WB, NB), (NB, FB), (FB, WB)] {
            let first = tone(700.0, -6.0, from, 3);
            let second = tone(1300.0, -9.0, from, 3);
            let mut used = FrameResampler::new(from, to);
            run(&mut used, &first);
            used.reset();
            let fresh = run(&mut FrameResampler::new(from, to), &second);
            assert_eq!(run(&mut used, &second), fresh, "{from} -> {to}");
        }
    }

    #[test]
    fn equal_rates_pass_frames_through_without_delay() {
        let mut r = FrameResampler::new(WB, WB);
        let input = tone(1000.0, -6.0, WB, 1);
        let mut out = vec![0i16; 320];
        assert_eq!(r.process(&input, &mut out), 320);
        assert_eq!(out, input);
        assert_eq!(r.delay_samples(), 0);
    }

    #[test]
    fn rates_outside_8_16_48_khz_convert_too() {
        let cd = SampleRate::new(44_100).unwrap();
        let mut r = FrameResampler::new(cd, FB);
        let input = tone(1000.0, -6.0, cd, 20);
        let out = run(&mut r, &input);
        let level = dbfs(&out[out.len() / 2..], FB, 1000.0);
        assert!((level + 6.0).abs() < 1.0, "{level:.2}");
    }

    #[test]
    #[should_panic(expected = "one frame")]
    fn a_partial_frame_is_refused() {
        FrameResampler::new(NB, WB).process(&[0; 100], &mut [0; 320]);
    }
}
