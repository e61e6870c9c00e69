use std::f64::consts::TAU;

use hound::{WavSpec, WavWriter};

use super::*;
use crate::media::tone::ToneDetector;

const LIMITS: UploadLimits = UploadLimits {
    max_duration: Duration::from_secs(60),
};

/// A WAV file of `secs` seconds whose channel `ch` at time `t` is `f(t, ch)` (full scale ±1).
fn wav(
    rate: u32,
    channels: u16,
    bits: u16,
    float: bool,
    secs: f64,
    f: impl Fn(f64, u16) -> f64,
) -> Vec<u8> {
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            SampleFormat::Float
        } else {
            SampleFormat::Int
        },
    };
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = WavWriter::new(&mut out, spec).unwrap();
        let frames = (secs * rate as f64).round() as usize;
        let max = ((1i64 << (bits - 1)) - 1) as f64;
        for i in 0..frames {
            for ch in 0..channels {
                let x = f(i as f64 / rate as f64, ch);
                if float {
                    w.write_sample(x as f32).unwrap();
                } else {
                    w.write_sample((x * max).round() as i32).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }
    out.into_inner()
}

/// A sine of `hz` at `dbfs` (a full-scale sine is 0 dBFS).
fn sine(hz: f64, dbfs: f64) -> impl Fn(f64, u16) -> f64 {
    let a = 10f64.powf(dbfs / 20.0);
    move |t, _| a * (TAU * hz * t).sin()
}

/// The level of `hz` in the middle of `pcm` (the edges left out), in dBFS.
fn level(pcm: &[i16], rate: SampleRate, hz: f32) -> f64 {
    let edge = rate.hz() as usize / 10;
    let mid = &pcm[edge..pcm.len() - edge];
    let report = ToneDetector::new(rate, &[hz]).analyze(mid);
    assert!(report.is(&[hz]), "{report:?}");
    report.level_dbfs(hz).unwrap()
}

#[test]
fn a_16_bit_mono_upload_at_the_rate_asked_comes_out_sample_for_sample() {
    let bytes = wav(16_000, 1, 16, false, 0.5, |t, _| {
        ((t * 977.0) % 1.0) * 1.8 - 0.9
    });
    let written: Vec<i16> = hound::WavReader::new(Cursor::new(&bytes))
        .unwrap()
        .samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let up = decode(&bytes, LIMITS).unwrap();
    assert_eq!((up.rate_hz(), up.channels(), up.bits()), (16_000, 1, 16));
    assert_eq!(up.to_pcm(SampleRate::WIDE).unwrap(), written);
    assert_eq!(up.duration(), Duration::from_millis(500));
}

#[test]
fn every_common_format_gives_the_same_tone_at_the_same_level_and_length() {
    // (rate, channels, bits, float)
    let kinds = [
        (8_000, 1, 8, false),
        (11_025, 2, 16, false),
        (22_050, 1, 24, false),
        (44_100, 2, 24, false),
        (48_000, 2, 32, false),
        (32_000, 1, 32, true),
        (16_000, 2, 16, false),
    ];
    for (rate, channels, bits, float) in kinds {
        let what = format!("{rate} Hz, {channels} ch, {bits} bits, float {float}");
        let bytes = wav(rate, channels, bits, float, 1.0, sine(1000.0, -12.0));
        let up = decode(&bytes, LIMITS).expect(&what);
        assert_eq!(up.frames(), rate as usize, "{what}");
        assert_eq!(up.duration(), Duration::from_secs(1), "{what}");
        assert_eq!(up.is_float(), float, "{what}");
        let pcm = up.to_pcm(SampleRate::WIDE).unwrap();
        assert!(
            pcm.len().abs_diff(16_000) <= 1,
            "{what}: {} samples",
            pcm.len()
        );
        let db = level(&pcm, SampleRate::WIDE, 1000.0);
        // 8-bit samples are coarse: their noise is still 35 dB below the tone
        assert!((db + 12.0).abs() < 0.5, "{what}: {db:.2} dBFS");
        // and the first and last tenths are there too: the delay is trimmed, not shifted
        let head = &pcm[..1600];
        let tail = &pcm[pcm.len() - 1600..];
        for part in [head, tail] {
            let r = ToneDetector::new(SampleRate::WIDE, &[1000.0]).analyze(part);
            let db = r.level_dbfs(1000.0).unwrap();
            assert!((db + 12.0).abs() < 1.5, "{what}: an edge at {db:.2} dBFS");
        }
    }
}

#[test]
fn narrowband_comes_out_at_8_khz_too() {
    let bytes = wav(44_100, 1, 16, false, 1.0, sine(440.0, -6.0));
    let up = decode(&bytes, LIMITS).unwrap();
    assert_eq!(up.kept_rate(), SampleRate::WIDE);
    let pcm = up.to_pcm(SampleRate::NARROW).unwrap();
    assert!(pcm.len().abs_diff(8_000) <= 1, "{}", pcm.len());
    let db = level(&pcm, SampleRate::NARROW, 440.0);
    assert!((db + 6.0).abs() < 0.5, "{db:.2}");
}

#[test]
fn the_kept_rate_is_the_files_when_calls_use_it_else_wideband() {
    let rate_of = |hz| {
        decode(&wav(hz, 1, 16, false, 0.1, sine(300.0, -20.0)), LIMITS)
            .unwrap()
            .kept_rate()
    };
    assert_eq!(rate_of(8_000), SampleRate::NARROW);
    assert_eq!(rate_of(16_000), SampleRate::WIDE);
    assert_eq!(rate_of(48_000), SampleRate::WIDE);
    assert_eq!(rate_of(11_025), SampleRate::WIDE);
}

#[test]
fn stereo_is_the_average_of_its_channels() {
    // the tone on the left only: half the amplitude, 6 dB down
    let left = sine(1000.0, -6.0);
    let bytes = wav(16_000, 2, 16, false, 1.0, |t, ch| {
        if ch == 0 {
            left(t, ch)
        } else {
            0.0
        }
    });
    let pcm = decode(&bytes, LIMITS)
        .unwrap()
        .to_pcm(SampleRate::WIDE)
        .unwrap();
    let db = level(&pcm, SampleRate::WIDE, 1000.0);
    assert!((db + 12.02).abs() < 0.1, "{db:.2}");
    // opposite phases cancel
    let s = sine(1000.0, -6.0);
    let bytes = wav(16_000, 2, 16, false, 0.2, |t, ch| {
        if ch == 0 {
            s(t, 0)
        } else {
            -s(t, 1)
        }
    });
    let pcm = decode(&bytes, LIMITS)
        .unwrap()
        .to_pcm(SampleRate::WIDE)
        .unwrap();
    assert!(pcm.iter().all(|&x| x.abs() <= 1));
}

#[test]
fn loud_float_samples_saturate_and_non_numbers_are_silence() {
    let values = [2.0f32, -3.0, f32::NAN, f32::INFINITY, 0.5];
    let spec = WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 32,
        sample_format: SampleFormat::Float,
    };
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = WavWriter::new(&mut out, spec).unwrap();
        for v in values {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }
    let pcm = decode(&out.into_inner(), LIMITS)
        .unwrap()
        .to_pcm(SampleRate::NARROW)
        .unwrap();
    assert_eq!(pcm, [32767, -32768, 0, 0, 16384]);
}

#[test]
fn what_is_not_taken_is_refused_with_its_reason() {
    let ok = wav(16_000, 1, 16, false, 0.2, sine(500.0, -10.0));
    assert_eq!(decode(&[], LIMITS), Err(UploadError::Empty));
    assert_eq!(
        decode(b"hello, this is no audio", LIMITS),
        Err(UploadError::NotWav)
    );
    assert_eq!(decode(&ok[..10], LIMITS), Err(UploadError::NotWav));
    assert!(matches!(
        decode(&ok[..30], LIMITS),
        Err(UploadError::Damaged(_))
    ));

    let e = decode(&wav(96_000, 1, 16, false, 0.1, sine(500.0, -10.0)), LIMITS).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported WAV audio: 96000 Hz, not 8 to 48 kHz"
    );
    let e = decode(&wav(16_000, 3, 16, false, 0.1, sine(500.0, -10.0)), LIMITS).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported WAV audio: 3 channels, not mono or stereo"
    );

    // G.711 A-law in a WAV (format tag 6): not PCM
    let mut alaw = ok.clone();
    alaw[20..22].copy_from_slice(&6u16.to_le_bytes());
    assert!(matches!(
        decode(&alaw, LIMITS),
        Err(UploadError::Unsupported(_))
    ));

    let long = wav(8_000, 1, 16, false, 2.0, sine(500.0, -10.0));
    let short = UploadLimits {
        max_duration: Duration::from_millis(1500),
    };
    assert_eq!(
        decode(&long, short),
        Err(UploadError::TooLong {
            ms: 2000,
            max_ms: 1500
        })
    );
    assert_eq!(
        decode(&wav(8_000, 1, 16, false, 0.0, sine(500.0, -10.0)), LIMITS),
        Err(UploadError::NoAudio)
    );
    // the header counts more than the file holds
    let cut = &ok[..ok.len() - 100];
    let e = decode(cut, LIMITS).unwrap_err();
    assert!(
        e.to_string()
            .contains("counts 3200 sample frames, the file holds 3150"),
        "{e}"
    );
}

#[test]
fn a_header_claiming_hours_is_refused_before_anything_is_read() {
    let mut bytes = wav(8_000, 1, 16, false, 0.1, sine(500.0, -10.0));
    // the data chunk's size field: 4 GB
    bytes[40..44].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    let e = decode(&bytes, LIMITS);
    assert!(matches!(e, Err(UploadError::TooLong { .. })), "{e:?}");
    let generous = UploadLimits {
        max_duration: Duration::from_secs(1_000_000),
    };
    assert!(matches!(
        decode(&bytes, generous),
        Err(UploadError::Damaged(_))
    ));
}

#[test]
fn cut_and_scrambled_files_are_refused_without_a_panic() {
    let base = wav(22_050, 2, 24, false, 0.05, sine(700.0, -3.0));
    for n in 0..base.len() {
        let _ = decode(&base[..n], LIMITS);
    }
    // a fixed sequence of byte changes in the header and the first samples
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..4000 {
        let mut b = base.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = (x as usize >> 8) % 64;
            b[at] = x as u8;
        }
        if let Ok(up) = decode(&b, LIMITS) {
            let _ = up.to_pcm(SampleRate::NARROW);
        }
    }
}
