//! G.711 µ-law and A-law (ITU-T G.711, 1988): 8-bit logarithmic PCM at 8 kHz.
//!
//! Decoding is a lookup in a 256-entry table computed at compile time; encoding finds the
//! segment from the position of the highest set bit, with no search and no table. Both work
//! on 16-bit linear samples: µ-law keeps the top 14 bits (decoded values are multiples of 4,
//! at most ±32124), A-law the top 13 (multiples of 8, at most ±32256), which is the usual
//! 16-bit scaling of G.711's 14- and 13-bit uniform PCM.
//!
//! Guarantees: `decode` is total (every octet is a code) and `encode(decode(c)) == c` for
//! every A-law code and every µ-law code but 0x7F, µ-law's negative zero, which decodes to 0
//! and encodes back as 0xFF (positive zero). A sample encodes to the code whose decoded value
//! is the middle of the G.711 interval the sample falls in (after dropping the bits below the
//! law's resolution).

/// µ-law decode table: `ULAW_TO_LINEAR[code]` is the 16-bit linear value of `code`.
pub static ULAW_TO_LINEAR: [i16; 256] = ulaw_table();

/// A-law decode table: `ALAW_TO_LINEAR[code]` is the 16-bit linear value of `code`.
pub static ALAW_TO_LINEAR: [i16; 256] = alaw_table();

/// The µ-law code of a linear sample.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // G.711 §2 (Table 2a): magnitude in 14-bit units plus the bias 33 places the segment
    // boundaries on powers of two; in 16-bit units the bias is 4 * 33 = 0x84.
    let (magnitude, mask) = if sample < 0 {
        // one's complement of the code, sign bit 0 for negative values
        (-(sample as i32), 0x7F)
    } else {
        (sample as i32, 0xFF)
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS; // 0x84..=0x7FFF
    let segment = (31 - (biased as u32).leading_zeros()) - 7; // top bit 7..=14 -> 0..=7
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    ((segment << 4) as u8 | mantissa as u8) ^ mask
}

/// The A-law code of a linear sample.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // 13-bit uniform value (G.711 §3, Table 1a); negative values fold onto -x - 1 so that the
    // two codes next to zero decode to +8 and -8 in 16-bit units.
    let v = (sample as i32) >> 3;
    let (magnitude, mask) = if v < 0 { (!v, 0x55) } else { (v, 0xD5) };
    let code = if magnitude < 32 {
        // segments 0 and 1 share the step of 2
        magnitude >> 1
    } else {
        let segment = (31 - (magnitude as u32).leading_zeros()) - 4; // top bit 5..=11 -> 1..=7
        ((segment as i32) << 4) | ((magnitude >> segment) & 0x0F)
    };
    (code as u8) ^ mask
}

/// The linear value of a µ-law code.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[code as usize]
}

/// The linear value of an A-law code.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[code as usize]
}

/// Encodes `pcm` into µ-law, one octet per sample; returns the octets written
/// (`min(pcm.len(), out.len())`).
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = linear_to_ulaw(s);
    }
    n
}

/// Encodes `pcm` into A-law; as [`encode_ulaw`].
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = linear_to_alaw(s);
    }
    n
}

/// Decodes µ-law octets; returns the samples written (`min(payload.len(), out.len())`).
pub fn decode_ulaw(payload: &[u8], out: &mut [i16]) -> usize {
    let n = payload.len().min(out.len());
    for (o, &c) in out[..n].iter_mut().zip(&payload[..n]) {
        *o = ULAW_TO_LINEAR[c as usize];
    }
    n
}

/// Decodes A-law octets; as [`decode_ulaw`].
pub fn decode_alaw(payload: &[u8], out: &mut [i16]) -> usize {
    let n = payload.len().min(out.len());
    for (o, &c) in out[..n].iter_mut().zip(&payload[..n]) {
        *o = ALAW_TO_LINEAR[c as usize];
    }
    n
}

const ULAW_BIAS: i32 = 0x84;
/// The largest magnitude that still fits the top µ-law segment once biased.
const ULAW_CLIP: i32 = 0x7FFF - ULAW_BIAS;

const fn ulaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        let u = !(code as u8);
        let exponent = ((u >> 4) & 0x07) as i32;
        let mantissa = (u & 0x0F) as i32;
        let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
        t[code] = if u & 0x80 != 0 {
            -magnitude as i16
        } else {
            magnitude as i16
        };
        code += 1;
    }
    t
}

const fn alaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        let a = (code as u8) ^ 0x55;
        let segment = ((a >> 4) & 0x07) as i32;
        let mantissa = (a & 0x0F) as i32;
        let magnitude = if segment == 0 {
            (mantissa << 4) + 8
        } else {
            ((mantissa << 4) + 0x108) << (segment - 1)
        };
        // after the even-bit inversion, a set sign bit means positive (G.711 Table 1a)
        t[code] = if a & 0x80 != 0 {
            magnitude as i16
        } else {
            -magnitude as i16
        };
        code += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711 Table 2a, from the segment layout: in 14-bit units segment `e` starts at
    /// `32 * (2^e - 1) - 1` (the first interval of segment 0 is centred on zero), its 16 steps
    /// are `2^(e+1)` wide, and the decoder outputs the middle of the step.
    fn ulaw_reference(code: u8) -> i32 {
        let bits = !code;
        let negative = bits & 0x80 != 0;
        let e = ((bits >> 4) & 7) as i32;
        let m = (bits & 15) as i32;
        let start = 32 * ((1 << e) - 1) - 1;
        let step = 1 << (e + 1);
        let value14 = start + m * step + step / 2;
        let v = 4 * value14;
        if negative {
            -v
        } else {
            v
        }
    }

    /// G.711 Table 1a: in 13-bit units segment 0 and 1 run 0..32 and 32..64 in steps of 2, each
    /// further segment doubles both; even bits are inverted on the line and a set sign bit is
    /// positive.
    fn alaw_reference(code: u8) -> i32 {
        let bits = code ^ 0x55;
        let positive = bits & 0x80 != 0;
        let s = ((bits >> 4) & 7) as i32;
        let m = (bits & 15) as i32;
        let (start, step) = if s == 0 { (0, 2) } else { (16 << s, 1 << s) };
        let value13 = start + m * step + step / 2;
        let v = 8 * value13;
        if positive {
            v
        } else {
            -v
        }
    }

    #[test]
    fn both_decode_tables_follow_the_g711_segment_formulas_for_all_256_codes() {
        for code in 0..=255u8 {
            assert_eq!(
                ulaw_to_linear(code) as i32,
                ulaw_reference(code),
                "µ-law {code:#04x}"
            );
            assert_eq!(
                alaw_to_linear(code) as i32,
                alaw_reference(code),
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn known_values_from_the_standard_decode_as_expected() {
        // µ-law: 0xFF and 0x7F are the two zeros, 0x80 and 0x00 the extremes (8031 in 14 bits)
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        // A-law: 0xD5 and 0x55 are the two codes next to zero (±1 in 13 bits), 0xAA and 0x2A
        // the extremes (4032 in 13 bits)
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        // the idle patterns a silent line carries
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
    }

    #[test]
    fn every_code_survives_decode_then_encode_but_mulaw_negative_zero() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
            let back = linear_to_ulaw(ulaw_to_linear(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF, "negative zero comes back as positive zero");
            } else {
                assert_eq!(back, code, "µ-law {code:#04x}");
            }
        }
    }

    /// Half the width of the interval a code stands for, in 16-bit units.
    fn ulaw_half_step(code: u8) -> i32 {
        let e = ((!code >> 4) & 7) as i32;
        4 << e
    }

    fn alaw_half_step(code: u8) -> i32 {
        let s = (((code ^ 0x55) >> 4) & 7) as i32;
        4 << s.max(1)
    }

    #[test]
    fn every_sample_encodes_to_the_interval_it_falls_in() {
        for x in i16::MIN..=i16::MAX {
            let xi = x as i32;
            let u = linear_to_ulaw(x);
            let a = linear_to_alaw(x);
            // the decoded value is the interval's middle; µ-law drops 2 bits and A-law 3
            // before quantizing; beyond the top interval both clip
            let du = (ulaw_to_linear(u) as i32 - xi).abs();
            let da = (alaw_to_linear(a) as i32 - xi).abs();
            assert!(
                du <= ulaw_half_step(u) + 3 || xi.abs() > 32124,
                "µ-law at {x}: {du}"
            );
            assert!(
                da <= alaw_half_step(a) + 7 || xi.abs() > 32256,
                "A-law at {x}: {da}"
            );
        }
    }

    #[test]
    fn encoding_is_monotonic_in_the_input() {
        let mut last_u = i16::MIN;
        let mut last_a = i16::MIN;
        for x in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(x));
            let a = alaw_to_linear(linear_to_alaw(x));
            assert!(u >= last_u && a >= last_a, "at {x}");
            last_u = u;
            last_a = a;
        }
    }

    fn snr_db(codec_roundtrip: impl Fn(i16) -> i16, amplitude: f64) -> f64 {
        let (mut signal, mut noise) = (0.0, 0.0);
        for n in 0..8000 {
            let x = amplitude * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0).sin();
            let s = x.round() as i16;
            let y = codec_roundtrip(s) as f64;
            signal += x * x;
            noise += (y - x) * (y - x);
        }
        10.0 * (signal / noise).log10()
    }

    #[test]
    fn a_1_khz_sine_keeps_more_than_35_db_snr_through_either_law() {
        // from near full scale down to -25 dBFS G.711's log companding keeps the SNR flat,
        // near 38 dB; below that the finer steps of the lowest segments run out
        for dbfs in [-1.0, -10.0, -20.0, -25.0] {
            let amplitude = 32767.0 * 10f64.powf(dbfs / 20.0);
            let u = snr_db(|s| ulaw_to_linear(linear_to_ulaw(s)), amplitude);
            let a = snr_db(|s| alaw_to_linear(linear_to_alaw(s)), amplitude);
            assert!(u > 35.0, "µ-law at {dbfs} dBFS: {u:.1} dB");
            assert!(a > 35.0, "A-law at {dbfs} dBFS: {a:.1} dB");
        }
    }

    #[test]
    fn slices_encode_and_decode_up_to_the_shorter_buffer() {
        let pcm = [0i16, 1000, -1000, 32767, -32768];
        let mut bytes = [0u8; 4];
        assert_eq!(encode_ulaw(&pcm, &mut bytes), 4);
        let mut back = [0i16; 8];
        assert_eq!(decode_ulaw(&bytes, &mut back), 4);
        assert_eq!(back[3], 32124);
        assert_eq!(encode_alaw(&pcm, &mut bytes), 4);
        assert_eq!(decode_alaw(&bytes, &mut back), 4);
        assert_eq!(back[0], 8);
        assert_eq!(back[3], 32256);
    }
}
