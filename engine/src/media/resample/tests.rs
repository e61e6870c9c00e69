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
    let cd = SampleRate::new(44_100).unwrap();
    for (from, to) in [
        (NB, WB),
        (NB, FB),
        (WB, NB),
        (WB, FB),
        (FB, NB),
        (FB, WB),
        (cd, FB),
        (FB, cd),
    ] {
        let mut r = FrameResampler::new(from, to);
        // 500 Hz: whole cycles in a frame, so one frame repeated is a steady tone
        let input = tone(500.0, -10.0, from, 1);
        let mut out = vec![0i16; to.frame_samples()];
        // 30 s of frames
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
        // half the filter, `HALF_TAPS` samples at the lower rate
        let lower = from.min(to);
        let ms = expected as f64 * 1000.0 / to.hz() as f64;
        let half_filter = super::poly::HALF_TAPS as f64 * 1000.0 / lower.hz() as f64;
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

// Quality: tones through the converters, measured by Goertzel terms over the last second
// (whole-hertz tones fill whole cycles, so a tone does not leak into another term).

/// The level of `freq` in the last second of `samples`, in dB relative to the -6 dBFS input.
fn relative_db(samples: &[i16], rate: SampleRate, freq: f64) -> f64 {
    let tail = &samples[samples.len() - rate.hz() as usize..];
    dbfs(tail, rate, freq as f32) + 6.0
}

/// 1.2 s of a -6 dBFS tone at `rate` through `from` -> `to` (a new resampler).
fn through(freq: f64, input: &[i16], from: SampleRate, to: SampleRate) -> Vec<i16> {
    let _ = freq;
    run(&mut FrameResampler::new(from, to), input)
}

/// The images an upsampler from `from` to `to` makes of `freq`: `k * from -+ freq`, below
/// the output's Nyquist frequency.
fn images(freq: f64, from: SampleRate, to: SampleRate) -> Vec<f64> {
    let (from, nyquist) = (from.hz() as f64, to.hz() as f64 / 2.0);
    (1..)
        .map(|k| k as f64 * from)
        .take_while(|&c| c - freq < nyquist)
        .flat_map(|c| [c - freq, c + freq])
        .filter(|&f| f < nyquist)
        .collect()
}

/// Up from the lower rate and back down: each tone of the lower rate's passband stays within
/// 0.5 dB of its level at both steps, and its images at the higher rate are 50 dB down.
fn round_trip_is_flat_and_clean(low: SampleRate, high: SampleRate, edge: u32) {
    for freq in (edge / 17..=edge).step_by(edge as usize / 17) {
        let freq = f64::from(freq);
        let input = tone(freq as f32, -6.0, low, 60);
        let up = through(freq, &input, low, high);
        let level = relative_db(&up, high, freq);
        assert!(
            level.abs() < 0.5,
            "{low} -> {high}: {freq} Hz at {level:.2} dB"
        );
        for image in images(freq, low, high) {
            let image_db = relative_db(&up, high, image);
            assert!(
                image_db < level - 50.0,
                "{low} -> {high}: {freq} Hz has an image at {image} Hz, {image_db:.1} dB"
            );
        }
        let back = through(freq, &up, high, low);
        let level = relative_db(&back, low, freq);
        assert!(
            level.abs() < 0.5,
            "{low} -> {high} -> {low}: {freq} Hz at {level:.2} dB"
        );
    }
}

#[test]
fn tones_to_3400_hz_go_8_to_16_to_8_khz_flat_with_images_more_than_50_db_down() {
    round_trip_is_flat_and_clean(NB, WB, 3400);
}

#[test]
fn tones_to_7_khz_go_16_to_48_to_16_khz_flat_with_images_more_than_50_db_down() {
    round_trip_is_flat_and_clean(WB, FB, 7000);
}

#[test]
fn tones_to_3400_hz_go_8_to_48_khz_flat_with_images_more_than_50_db_down() {
    round_trip_is_flat_and_clean(NB, FB, 3400);
}

#[test]
fn tones_a_downsampling_would_fold_into_the_passband_come_out_more_than_50_db_down() {
    for (from, to, edge) in [(WB, NB, 3400.0), (FB, WB, 7000.0), (FB, NB, 3400.0)] {
        let (rate, nyquist) = (to.hz() as f64, from.hz() as f64 / 2.0);
        let mut checked = 0;
        // every 300 Hz from where the first fold-back lands on the passband's edge
        let mut freq = rate - edge;
        while freq < nyquist {
            let folded = (freq - rate * (freq / rate).round()).abs();
            if folded > 0.0 && folded <= edge {
                let input = tone(freq as f32, -6.0, from, 60);
                let out = through(freq, &input, from, to);
                let alias = relative_db(&out, to, folded);
                assert!(
                    alias < -50.0,
                    "{from} -> {to}: {freq} Hz folds to {folded} Hz at {alias:.1} dB"
                );
                checked += 1;
            }
            freq += 300.0;
        }
        assert!(checked >= 10, "{from} -> {to}: {checked} tones");
    }
}

#[test]
fn wide_frames_resample_as_16_bit_frames_do_and_are_not_saturated() {
    for (from, to) in [(NB, WB), (WB, NB), (WB, FB), (FB, WB)] {
        let input = tone(700.0, -6.0, from, 10);
        let narrow = run(&mut FrameResampler::new(from, to), &input);
        // the same samples, as 32 bits, and three times as loud (beyond 16 bits)
        let (n_in, n_out) = (from.frame_samples(), to.frame_samples());
        let mut r = FrameResampler::new(from, to);
        let mut once = Vec::new();
        let mut thrice = Vec::new();
        let mut r3 = FrameResampler::new(from, to);
        let mut out = vec![0i32; n_out];
        for frame in input.chunks(n_in) {
            let wide: Vec<i32> = frame.iter().map(|&s| i32::from(s)).collect();
            r.process_wide(&wide, &mut out);
            once.extend(out.iter().map(|&s| s as i16));
            let loud: Vec<i32> = wide.iter().map(|&s| 3 * s).collect();
            r3.process_wide(&loud, &mut out);
            thrice.extend_from_slice(&out);
        }
        assert_eq!(once, narrow, "{from} -> {to}");
        let peak = thrice.iter().map(|s| s.abs()).max().unwrap();
        assert!(peak > 40_000, "{from} -> {to}: peak {peak}");
        for (&x3, &x) in thrice.iter().zip(&narrow) {
            assert!((x3 - 3 * i32::from(x)).abs() <= 3, "{from} -> {to}");
        }
    }
}

#[test]
fn silence_after_a_tone_lets_the_filter_tail_out_then_starts_afresh() {
    for (from, to) in [(NB, WB), (WB, NB), (NB, FB), (FB, NB)] {
        let (n_in, n_out) = (from.frame_samples(), to.frame_samples());
        let mut r = FrameResampler::new(from, to);
        run(&mut r, &tone(1000.0, -6.0, from, 3));
        let mut out = vec![1i16; n_out];
        r.process(&vec![0; n_in], &mut out);
        assert!(
            out.iter().any(|&s| s != 0),
            "{from} -> {to}: the tail comes out"
        );
        r.process(&vec![0; n_in], &mut out);
        assert!(out.iter().all(|&s| s == 0), "{from} -> {to}: then silence");
        // nothing of the tone is left: the next audio comes out as from a new resampler
        let next = tone(600.0, -12.0, from, 2);
        let fresh = run(&mut FrameResampler::new(from, to), &next);
        assert_eq!(run(&mut r, &next), fresh, "{from} -> {to}");
    }
}

#[test]
#[should_panic(expected = "one frame")]
fn a_partial_frame_is_refused() {
    FrameResampler::new(NB, WB).process(&[0; 100], &mut [0; 320]);
}
