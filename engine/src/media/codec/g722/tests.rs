use super::*;
use crate::media::tone::{goertzel_power, ToneDetector};
use crate::media::SampleRate;

const WB: SampleRate = SampleRate::WIDE;

// ITU-T G.722 Appendix II digital test sequences. The QMFs are bypassed: each input word
// (a 15-bit sample above a reset flag bit) goes to both band encoders, each code sits in the
// high octet of an output word, and the decoder's band outputs are written shifted left by
// one. Files start and end with 16 reset words (0x0001). ITU distributes the sequences only in
// its software package, so they are not in this repository: T1C2 (the overflow sequence) is
// built here from its description, and what the codec makes of it is checked against the
// CRC-32 values ITU publishes for the binary little-endian files (bt1c2.xmt, bt2r2.cod,
// bt3l2.rc1, bt3h2.rc0). `itu_sequences_from_a_directory` runs every mode-1 leg on the files
// themselves.

const RESET_WORDS: usize = 16;

/// The 768 data words of T1C2.XMT: full-scale alternation, a step through zero, then the
/// extremes in a three-sample pattern that drives the predictors into saturation.
fn t1c2_data() -> Vec<u16> {
    let mut w: Vec<u16> = (0..639)
        .map(|i| if i % 2 == 0 { 0x8000 } else { 0x7FFE })
        .collect();
    w.extend([0x0000, 0xB1E0, 0xC000]);
    while w.len() < 768 {
        w.extend([0x8000, 0x7FFE, 0x8000]);
    }
    w
}

/// A sequence as the little-endian binary file ITU ships it: reset words around the data.
fn le_file(data: &[u16]) -> Vec<u8> {
    let reset = [1u16; RESET_WORDS];
    reset
        .iter()
        .chain(data)
        .chain(&reset)
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// The data words of a little-endian sequence file (reset words dropped).
fn data_words(file: &[u8]) -> Vec<u16> {
    file.chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .filter(|w| w & 1 == 0)
        .collect()
}

/// CRC-32 (IEEE 802.3, reflected), as in ITU's list of the sequence files.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Configuration 1: the encoder with its QMF bypassed.
fn encode_sequence(input: &[u16]) -> Vec<u16> {
    let mut enc = G722Encoder::new();
    input
        .iter()
        .map(|&w| {
            let x = (w as i16 >> 1) as i32;
            (enc.encode_bands(x, x) as u16) << 8
        })
        .collect()
}

/// Configuration 2 in mode 1: the decoder with its QMF bypassed; lower and higher band words.
fn decode_sequence(codes: &[u16]) -> (Vec<u16>, Vec<u16>) {
    let mut dec = G722Decoder::new();
    codes
        .iter()
        .map(|&w| {
            let (rl, rh) = dec.decode_bands((w >> 8) as u8);
            ((rl << 1) as i16 as u16, (rh << 1) as i16 as u16)
        })
        .unzip()
}

#[test]
fn the_encoder_turns_itu_t1c2_into_t2r2() {
    let input = t1c2_data();
    assert_eq!(
        crc32(&le_file(&input)),
        0x2D60_4685,
        "the input is ITU's bt1c2.xmt"
    );
    assert_eq!(
        crc32(&le_file(&encode_sequence(&input))),
        0x344E_A5D0,
        "bt2r2.cod"
    );
}

#[test]
fn the_decoder_turns_itu_t2r2_into_t3l2_rc1_and_t3h2_rc0() {
    // the encoder test shows that this is ITU's T2R2
    let codes = encode_sequence(&t1c2_data());
    let (low, high) = decode_sequence(&codes);
    assert_eq!(crc32(&le_file(&low)), 0xAF00_F31F, "bt3l2.rc1");
    assert_eq!(crc32(&le_file(&high)), 0x5330_AE2E, "bt3h2.rc0");
}

#[test]
#[ignore = "needs the ITU-T G.722 Appendix II binary sequences in $SWITCHBOARD_G722_ITU"]
fn itu_sequences_from_a_directory() {
    let dir = std::env::var("SWITCHBOARD_G722_ITU").expect("SWITCHBOARD_G722_ITU is set");
    let read = |name: &str| std::fs::read(std::path::Path::new(&dir).join(name)).ok();
    let mut legs = 0;
    for (xmt, cod) in [("bt1c1.xmt", "bt2r1.cod"), ("bt1c2.xmt", "bt2r2.cod")] {
        if let (Some(x), Some(c)) = (read(xmt), read(cod)) {
            assert_eq!(
                encode_sequence(&data_words(&x)),
                data_words(&c),
                "{xmt} -> {cod}"
            );
            legs += 1;
        }
    }
    for (cod, rc1, rc0) in [
        ("bt2r1.cod", "bt3l1.rc1", "bt3h1.rc0"),
        ("bt2r2.cod", "bt3l2.rc1", "bt3h2.rc0"),
        ("bt1d3.cod", "bt3l3.rc1", "bt3h3.rc0"),
    ] {
        if let (Some(c), Some(l), Some(h)) = (read(cod), read(rc1), read(rc0)) {
            let (low, high) = decode_sequence(&data_words(&c));
            assert_eq!(low, data_words(&l), "{cod} -> {rc1}");
            assert_eq!(high, data_words(&h), "{cod} -> {rc0}");
            legs += 1;
        }
    }
    assert!(legs > 0, "no ITU sequence found in {dir}");
}

// Vectors from an independent implementation, QMFs included (engine/testdata/g722/README.md).

fn pcm(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

const SIGNAL: &[u8] = include_bytes!("../../../../testdata/g722/signal.s16le");
const SIGNAL_CODES: &[u8] = include_bytes!("../../../../testdata/g722/signal.g722");
const SIGNAL_DECODED: &[u8] = include_bytes!("../../../../testdata/g722/signal.decoded.s16le");
const RANDOM_CODES: &[u8] = include_bytes!("../../../../testdata/g722/random.g722");
const RANDOM_DECODED: &[u8] = include_bytes!("../../../../testdata/g722/random.decoded.s16le");

fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

#[test]
fn encoding_the_test_signal_in_frames_matches_the_reference_codes_bit_for_bit() {
    let input = pcm(SIGNAL);
    let mut enc = G722Encoder::new();
    let mut codes = vec![0u8; input.len() / 2];
    for (frame, out) in input.chunks(320).zip(codes.chunks_mut(160)) {
        assert_eq!(enc.encode(frame, out), 160);
    }
    assert_eq!(first_difference(&codes, SIGNAL_CODES), None);
}

#[test]
fn encoding_in_chunks_of_any_size_gives_the_codes_of_whole_frames() {
    // the encoder splits bands a block at a time: block edges must not show
    let input = pcm(SIGNAL);
    for chunk in [2, 34, 322, 1000, 4002] {
        let mut enc = G722Encoder::new();
        let mut codes = vec![0u8; input.len() / 2];
        for (part, out) in input.chunks(chunk).zip(codes.chunks_mut(chunk / 2)) {
            assert_eq!(enc.encode(part, out), part.len() / 2);
        }
        assert_eq!(
            first_difference(&codes, SIGNAL_CODES),
            None,
            "chunks of {chunk}"
        );
    }
}

#[test]
fn decoding_reference_codes_matches_the_reference_output_bit_for_bit() {
    for (codes, expected) in [
        (SIGNAL_CODES, SIGNAL_DECODED),
        (RANDOM_CODES, RANDOM_DECODED),
    ] {
        let mut dec = G722Decoder::new();
        let mut out = vec![0i16; codes.len() * 2];
        for (packet, o) in codes.chunks(160).zip(out.chunks_mut(320)) {
            assert_eq!(dec.decode(packet, o), 320);
        }
        assert_eq!(first_difference(&out, &pcm(expected)), None);
    }
}

// Quality, as a listener would judge it.

fn roundtrip(input: &[i16]) -> Vec<i16> {
    let mut enc = G722Encoder::new();
    let mut dec = G722Decoder::new();
    let mut out = vec![0i16; input.len()];
    let mut packet = [0u8; 160];
    for (frame, o) in input.chunks(320).zip(out.chunks_mut(320)) {
        let n = enc.encode(frame, &mut packet);
        dec.decode(&packet[..n], o);
    }
    out
}

fn snr_db(reference: &[i16], decoded: &[i16], delay: usize) -> f64 {
    let (mut s, mut e) = (0.0, 0.0);
    for (x, y) in reference.iter().zip(&decoded[delay..]) {
        let (x, y) = (*x as f64, *y as f64);
        s += x * x;
        e += (y - x) * (y - x);
    }
    10.0 * (s / e).log10()
}

fn sweep(from: f64, to: f64, seconds: f64, amplitude: f64) -> Vec<i16> {
    let n = (seconds * 16_000.0) as usize;
    let mut phase = 0.0;
    (0..n)
        .map(|i| {
            let f = from * (to / from).powf(i as f64 / n as f64);
            phase += 2.0 * std::f64::consts::PI * f / 16_000.0;
            (amplitude * phase.sin()).round() as i16
        })
        .collect()
}

#[test]
fn the_codec_delay_is_22_samples() {
    let input = sweep(100.0, 7000.0, 1.0, 10_000.0);
    let out = roundtrip(&input);
    let best = (0..64)
        .max_by(|&a, &b| snr_db(&input, &out, a).total_cmp(&snr_db(&input, &out, b)))
        .unwrap();
    assert_eq!(best, G722_DELAY_SAMPLES);
}

#[test]
fn a_sweep_from_100_hz_to_7_khz_keeps_its_snr_above_25_db() {
    for amplitude in [3_000.0, 10_000.0, 25_000.0] {
        let input = sweep(100.0, 7000.0, 3.0, amplitude);
        let out = roundtrip(&input);
        let snr = snr_db(&input, &out, G722_DELAY_SAMPLES);
        assert!(snr > 25.0, "amplitude {amplitude}: {snr:.1} dB");
    }
}

#[test]
fn tones_in_either_band_come_out_at_their_own_frequency() {
    for (freq, image) in [(1000.0f32, 7000.0f32), (6000.0, 2000.0)] {
        let input: Vec<i16> = (0..16_000)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * freq as f64 * t).sin()) as i16
            })
            .collect();
        let out = roundtrip(&input);
        let tail = &out[8000..];
        let r =
            ToneDetector::new(WB, &[freq, image, freq / 2.0, 8000.0 - freq / 2.0]).analyze(tail);
        assert!(r.is(&[freq]), "{freq} Hz: {r:?}");
        let level = 10.0 * goertzel_power(tail, WB, freq).log10();
        let expected = 20.0 * (8000.0f64 / 32767.0).log10();
        assert!(
            (level - expected).abs() < 1.0,
            "{freq} Hz at {level:.1} dBFS"
        );
        // the QMF image of the other band stays far down
        let leak = 10.0 * goertzel_power(tail, WB, image).log10();
        assert!(
            leak < level - 30.0,
            "{freq} Hz: image at {image} Hz is {leak:.1} dBFS"
        );
    }
}

#[test]
fn silence_stays_within_a_few_steps_of_zero_through_the_codec() {
    let out = roundtrip(&[0i16; 16_000]);
    assert!(
        out.iter().all(|&x| x.abs() <= 4),
        "{:?}",
        out.iter().max_by_key(|x| x.abs())
    );
}

#[test]
fn buffers_of_odd_or_short_length_convert_only_whole_pairs() {
    let mut enc = G722Encoder::new();
    let mut out = [0u8; 8];
    assert_eq!(enc.encode(&[1, 2, 3], &mut out), 1);
    assert_eq!(enc.encode(&[0; 40], &mut out), 8);
    let mut dec = G722Decoder::new();
    let mut pcm = [0i16; 5];
    assert_eq!(dec.decode(&[0xFA; 4], &mut pcm), 4);
}

#[test]
fn the_vector_transmit_qmf_matches_the_plain_one_to_full_scale() {
    let mut seed = 0x1234_5678_u32;
    let mut row = vec![0i16; 22 + 2 * QMF_BLOCK];
    for round in 0..400 {
        for x in row.iter_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *x = match round % 4 {
                // the extremes in every combination: the sums' widest reach
                0 => [i16::MIN, i16::MAX][(seed >> 31) as usize],
                1 => i16::MIN,
                2 => (seed >> 16) as i16,
                _ => ((seed >> 16) as i16) >> 6,
            };
        }
        let (mut l, mut h) = ([0i32; QMF_BLOCK], [0i32; QMF_BLOCK]);
        let (mut pl, mut ph) = ([0i32; QMF_BLOCK], [0i32; QMF_BLOCK]);
        qmf_rows(&row, &mut l, &mut h);
        qmf_rows_plain(&row, &mut pl, &mut ph);
        assert_eq!((l, h), (pl, ph), "round {round}");
        // and the plain row form is the QMF as G.722 writes it (first samples through the
        // even coefficients, second ones through the odd)
        for i in [0, 7, QMF_BLOCK - 1] {
            let (mut a, mut b) = (0, 0);
            for k in 0..12 {
                a += i32::from(row[2 * (i + k)]) * QMF_EVEN[k];
                b += i32::from(row[2 * (i + k) + 1]) * QMF_EVEN[11 - k];
            }
            assert_eq!(
                (pl[i], ph[i]),
                ((b + a) >> 14, (b - a) >> 14),
                "round {round}"
            );
        }
    }
}

#[test]
fn the_encoder_gives_the_same_octets_whichever_form_of_it_runs() {
    // `encode` picks a form compiled for the processor (AVX2 where it has it);
    // `encode_frame` is the form every x86-64 runs: full-scale noise, a sweep and silence
    let mut seed = 0x2545_f491_u32;
    let mut pcm: Vec<i16> = (0..16_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 16) as i16
        })
        .collect();
    pcm.extend(sweep(100.0, 7_000.0, 1.0, 30_000.0));
    pcm.extend(std::iter::repeat_n(0, 3_200));
    let (mut picked, mut plain) = (G722Encoder::new(), G722Encoder::new());
    let (mut a, mut b) = ([0u8; 160], [0u8; 160]);
    for (k, frame) in pcm.chunks_exact(320).enumerate() {
        assert_eq!(picked.encode(frame, &mut a), 160);
        assert_eq!(plain.encode_frame(frame, &mut b), 160);
        assert_eq!(a, b, "frame {k}");
    }
}
