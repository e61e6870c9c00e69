use super::*;

const NB: SampleRate = SampleRate::NARROW;

/// Plays `tone` for `ms` milliseconds in 20 ms frames, the way a media thread does.
fn play(tone: Tone, rate: SampleRate, ms: usize) -> Vec<i16> {
    let mut g = ToneGenerator::new(tone, rate);
    let frame = rate.frame_samples();
    let mut out = vec![0i16; ms * rate.hz() as usize / 1000];
    for chunk in out.chunks_mut(frame) {
        g.generate(chunk);
    }
    out
}

/// The 100 ms block starting at `ms`.
fn block(samples: &[i16], rate: SampleRate, ms: usize) -> &[i16] {
    let per_ms = rate.hz() as usize / 1000;
    &samples[ms * per_ms..(ms + 100) * per_ms]
}

fn report(samples: &[i16], rate: SampleRate, ms: usize, freqs: &[f32]) -> ToneReport {
    ToneDetector::new(rate, freqs).analyze(block(samples, rate, ms))
}

#[test]
fn a_single_tone_comes_out_at_its_frequency_and_level_at_every_rate() {
    for rate in [SampleRate::NARROW, SampleRate::WIDE, SampleRate::FULL] {
        let tone = Tone::continuous(Sound::Single(1000.0), Level::dbfs(-10.0));
        let s = play(tone, rate, 1000);
        let r = report(&s, rate, 500, &[500.0, 1000.0, 2000.0]);
        assert!(r.is(&[1000.0]), "{rate}: {r:?}");
        let level = r.level_dbfs(1000.0).unwrap();
        assert!((level + 10.0).abs() < 0.05, "{rate}: {level}");
        assert!((r.total_dbfs() + 10.0).abs() < 0.05);
    }
}

#[test]
fn dbm0_levels_sit_3_17_db_below_full_scale() {
    assert_eq!(Level::dbm0(0.0).as_dbfs(), -3.17);
    assert!((Level::dbfs(-13.17).as_dbm0() + 10.0).abs() < 1e-5);
    let s = play(
        Tone::continuous(Sound::Single(1000.0), Level::dbm0(0.0)),
        NB,
        200,
    );
    let level = 10.0 * goertzel_power(&s, NB, 1000.0).log10();
    assert!((level + 3.17).abs() < 0.05, "{level}");
}

#[test]
fn frames_join_without_a_phase_jump() {
    // one call for the whole second against 50 calls of 20 ms: the same waveform
    let tone = Tone::continuous(Sound::Dual(350.0, 440.0), Level::dbfs(-6.0));
    let framed = play(tone, SampleRate::WIDE, 1000);
    let mut whole = vec![0i16; 16_000];
    ToneGenerator::new(tone, SampleRate::WIDE).generate(&mut whole);
    let worst = framed
        .iter()
        .zip(&whole)
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max();
    assert!(worst <= Some(1), "{worst:?}");
}

#[test]
fn the_level_does_not_drift_over_ten_minutes() {
    let tone = Tone::continuous(Sound::Single(1004.0), Level::dbfs(-3.0));
    let mut g = ToneGenerator::new(tone, NB);
    let mut frame = [0i16; 800];
    g.generate(&mut frame);
    let first = goertzel_power(&frame, NB, 1004.0);
    for _ in 0..(10 * 60 * 10 - 2) {
        g.generate(&mut frame);
    }
    g.generate(&mut frame);
    let last = goertzel_power(&frame, NB, 1004.0);
    assert!((10.0 * (last / first).log10()).abs() < 0.01);
}

/// Which of `freqs` dominate each 100 ms block from 0 to `ms`, as a string of `+` (exactly
/// `on` dominate) and `.` (silence), for reading cadences at a glance.
fn cadence(tone: Tone, ms: usize, freqs: &[f32], on: &[f32]) -> String {
    let s = play(tone, NB, ms + 100);
    (0..ms)
        .step_by(100)
        .map(|t| {
            let r = report(&s, NB, t, freqs);
            if r.total_dbfs() < -80.0 {
                '.'
            } else if r.is(on) {
                '+'
            } else {
                '?'
            }
        })
        .collect()
}

#[test]
fn nanp_ringback_is_440_and_480_hz_two_seconds_on_four_off_at_minus_19_dbm0() {
    let t = Ringback::for_country(1);
    let f = [350.0, 440.0, 480.0, 620.0];
    let pattern = cadence(t, 12_000, &f, &[440.0, 480.0]);
    let cycle = format!("{}{}", "+".repeat(20), ".".repeat(40));
    assert_eq!(pattern, cycle.repeat(2));
    let s = play(t, NB, 1000);
    let r = report(&s, NB, 500, &f);
    for freq in [440.0, 480.0] {
        let dbm0 = r.level_dbfs(freq).unwrap() + 3.17;
        assert!((dbm0 + 19.0).abs() < 0.3, "{freq}: {dbm0}");
    }
}

#[test]
fn uk_ringback_is_400_and_450_hz_in_a_double_ring() {
    let pattern = cadence(
        Ringback::for_country(44),
        6000,
        &[400.0, 425.0, 450.0],
        &[400.0, 450.0],
    );
    let cycle = "++++..++++....................";
    assert_eq!(pattern, cycle.repeat(2));
}

#[test]
fn korean_ringback_is_one_second_on_two_off_and_japans_is_a_modulated_400_hz() {
    let kr = cadence(
        Ringback::for_country(82),
        6000,
        &[440.0, 480.0],
        &[440.0, 480.0],
    );
    assert_eq!(
        kr,
        format!("{}{}", "+".repeat(10), ".".repeat(20)).repeat(2)
    );
    let jp = cadence(
        Ringback::for_country(81),
        3000,
        &[400.0, 425.0, 450.0],
        &[400.0],
    );
    assert_eq!(jp, format!("{}{}", "+".repeat(10), ".".repeat(20)));
    // the 16 Hz modulation shows as sidebands at 400 +- 16 Hz, about 7 dB below the carrier
    let s = play(Ringback::for_country(81), NB, 1000);
    let long = &s[..8000];
    let carrier = goertzel_power(long, NB, 400.0);
    for side in [384.0, 416.0] {
        let db = 10.0 * (goertzel_power(long, NB, side) / carrier).log10();
        assert!((-8.0..-6.0).contains(&db), "{side}: {db}");
    }
}

#[test]
fn europe_and_unknown_countries_get_425_hz_one_on_four_off() {
    for cc in [49, 39, 34, 999] {
        let p = cadence(
            Ringback::for_country(cc),
            5000,
            &[400.0, 425.0, 440.0],
            &[425.0],
        );
        assert_eq!(p, format!("{}{}", "+".repeat(10), ".".repeat(40)), "{cc}");
    }
    let fr = cadence(Ringback::for_country(33), 5000, &[425.0, 440.0], &[440.0]);
    assert_eq!(fr, format!("{}{}", "+".repeat(15), ".".repeat(35)));
}

#[test]
fn busy_tones_follow_their_country() {
    let us = cadence(Busy::for_country(1), 2000, &[480.0, 620.0], &[480.0, 620.0]);
    assert_eq!(us, "+++++.....".repeat(2));
    let de = cadence(Busy::for_country(49), 960, &[425.0], &[425.0]);
    assert!(
        de.starts_with("++++") && de[5..].starts_with("...."),
        "{de}"
    );
    let default = cadence(Busy::for_country(999), 1000, &[425.0], &[425.0]);
    assert_eq!(default, "+++++.....");
}

#[test]
fn a_beep_plays_200_ms_of_1_khz_once_then_reports_finished() {
    let mut g = ToneGenerator::new(Tone::BEEP, NB);
    let mut frames = Vec::new();
    for _ in 0..15 {
        let mut f = [0i16; 160];
        g.generate(&mut f);
        frames.push(f);
    }
    assert!(g.is_finished());
    for (i, f) in frames.iter().enumerate() {
        let level = 10.0 * goertzel_power(f, NB, 1000.0).log10();
        if i < 10 {
            assert!(
                (level - Level::dbm0(-10.0).as_dbfs() as f64).abs() < 0.1,
                "frame {i}"
            );
        } else {
            assert!(f.iter().all(|&x| x == 0), "frame {i} is silent");
        }
    }
    g.restart();
    assert!(!g.is_finished());
}

#[test]
fn the_chime_rises_from_660_to_880_hz() {
    let s = play(Tone::CHIME, NB, 400);
    let d = ToneDetector::new(NB, &[660.0, 880.0]);
    assert!(d.analyze(&s[..800]).is(&[660.0]));
    assert!(d.analyze(&s[1040..2240]).is(&[880.0]));
    assert!(s[2400..].iter().all(|&x| x == 0));
}

#[test]
fn the_recording_tone_is_half_a_second_of_1400_hz_every_15_seconds() {
    let p = cadence(Tone::RECORDING, 30_000, &[1400.0], &[1400.0]);
    let cycle = format!("{}{}", "+".repeat(5), ".".repeat(145));
    assert_eq!(p, cycle.repeat(2));
}

#[test]
fn every_dtmf_symbol_sounds_its_row_and_column_with_a_two_db_twist() {
    let all = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
    for symbol in "123A456B789C*0#D".chars() {
        let (low, high) = dtmf_pair(symbol).unwrap();
        let tone = Tone::dtmf(symbol, Duration::from_millis(100)).unwrap();
        let s = play(tone, NB, 300);
        let r = ToneDetector::new(NB, &all).analyze(&s[..800]);
        assert!(r.is(&[low, high]), "{symbol}: {r:?}");
        let twist = r.level_dbfs(high).unwrap() - r.level_dbfs(low).unwrap();
        assert!((twist - 2.0).abs() < 0.3, "{symbol}: {twist}");
        assert!(s[800..].iter().all(|&x| x == 0), "{symbol}: silence after");
    }
    assert_eq!(dtmf_pair('d'), Some((941.0, 1633.0)));
    assert!(Tone::dtmf('x', Duration::from_millis(50)).is_none());
}

#[test]
fn noise_has_no_dominant_frequency_and_silence_measures_minus_infinity() {
    let mut x = 12345u32;
    let noise: Vec<i16> = (0..1600)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as i16
        })
        .collect();
    let r = ToneDetector::new(NB, &[440.0, 1000.0, 2000.0]).analyze(&noise);
    assert_eq!(r.dominant().count(), 0, "{r:?}");
    assert_eq!(block_dbfs(&[0; 160]), f64::NEG_INFINITY);
    assert_eq!(goertzel_power(&[], NB, 1000.0), 0.0);
}

#[test]
fn goertzel_reads_tones_between_bin_centres_within_a_fraction_of_a_db() {
    // 20 ms at 8 kHz has 50 Hz bins; 1037 Hz is far from any of them
    let s = play(
        Tone::continuous(Sound::Single(1037.0), Level::dbfs(-20.0)),
        NB,
        20,
    );
    let level = 10.0 * goertzel_power(&s, NB, 1037.0).log10();
    assert!((level + 20.0).abs() < 0.2, "{level}");
}

#[test]
fn a_tone_holds_at_most_max_steps_and_reports_its_cycle() {
    let t = Ringback::for_country(44);
    assert_eq!(t.steps().len(), 4);
    assert_eq!(t.cycle(), Duration::from_millis(3000));
    assert!(t.repeats());
    assert!(!Tone::BEEP.repeats());
    assert_eq!(Ringback::for_country(1).level(), Level::dbm0(-19.0));
}
