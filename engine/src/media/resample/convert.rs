//! Whole frames between integer samples and the filter's `f32`: in exactly (`as f32`), out
//! rounded half away from zero and saturated to the type's range, as [`Pcm::from_f32`]
//! (`super::Pcm`) does one sample at a time.
//!
//! On x86-64 eight samples at a time in SSE2 lanes: the same `f32` addition of a signed half,
//! then truncation, with the bounds handled so that every finite value gives what `as` gives
//! (the filter's values are finite: sums of products of integers and finite taps). The plain
//! forms are the fallback elsewhere, and the tests hold the vector forms to them bit for bit.

/// `out[i] = pcm[i] as f32`.
pub(super) fn widen_i16(pcm: &[i16], out: &mut [f32]) {
    let n = pcm.len().min(out.len());
    let done = simd::widen_i16(&pcm[..n], &mut out[..n]);
    for (o, &s) in out[done..n].iter_mut().zip(&pcm[done..n]) {
        *o = f32::from(s);
    }
}

/// `out[i] = pcm[i] as f32`.
pub(super) fn widen_i32(pcm: &[i32], out: &mut [f32]) {
    let n = pcm.len().min(out.len());
    let done = simd::widen_i32(&pcm[..n], &mut out[..n]);
    for (o, &s) in out[done..n].iter_mut().zip(&pcm[done..n]) {
        *o = s as f32;
    }
}

/// `out[i]`: `x[i]` rounded half away from zero, saturated to 16 bits.
pub(super) fn narrow_i16(x: &[f32], out: &mut [i16]) {
    let n = x.len().min(out.len());
    let done = simd::narrow_i16(&x[..n], &mut out[..n]);
    for (o, &v) in out[done..n].iter_mut().zip(&x[done..n]) {
        *o = round_i16(v);
    }
}

/// `out[i]`: `x[i]` rounded half away from zero, saturated to 32 bits.
pub(super) fn narrow_i32(x: &[f32], out: &mut [i32]) {
    let n = x.len().min(out.len());
    let done = simd::narrow_i32(&x[..n], &mut out[..n]);
    for (o, &v) in out[done..n].iter_mut().zip(&x[done..n]) {
        *o = round_i32(v);
    }
}

/// One sample: `as` saturates; adding half away from zero rounds (`f32::round` is a library
/// call on baseline x86-64).
#[inline]
pub(super) fn round_i16(x: f32) -> i16 {
    (x + 0.5f32.copysign(x)) as i16
}

#[inline]
pub(super) fn round_i32(x: f32) -> i32 {
    (x + 0.5f32.copysign(x)) as i32
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    // SAFETY (every function): SSE2 is part of x86-64; block `b` reads and writes elements
    // `8b .. 8b + 8` of slices at least `8 * (n / 8)` long

    /// Converts whole blocks of eight; returns how many samples it did.
    pub(super) fn widen_i16(pcm: &[i16], out: &mut [f32]) -> usize {
        let blocks = pcm.len().min(out.len()) / 8;
        unsafe {
            for b in 0..blocks {
                let v = _mm_loadu_si128(pcm.as_ptr().add(8 * b).cast());
                // each 16-bit sample to the top of a 32-bit lane, then shifted down with its sign
                let lo = _mm_srai_epi32::<16>(_mm_unpacklo_epi16(v, v));
                let hi = _mm_srai_epi32::<16>(_mm_unpackhi_epi16(v, v));
                let o = out.as_mut_ptr().add(8 * b);
                _mm_storeu_ps(o, _mm_cvtepi32_ps(lo));
                _mm_storeu_ps(o.add(4), _mm_cvtepi32_ps(hi));
            }
        }
        8 * blocks
    }

    pub(super) fn widen_i32(pcm: &[i32], out: &mut [f32]) -> usize {
        let blocks = pcm.len().min(out.len()) / 8;
        unsafe {
            for b in 0..blocks {
                let at = pcm.as_ptr().add(8 * b);
                let o = out.as_mut_ptr().add(8 * b);
                // rounds to nearest, as `as f32` does
                _mm_storeu_ps(o, _mm_cvtepi32_ps(_mm_loadu_si128(at.cast())));
                _mm_storeu_ps(o.add(4), _mm_cvtepi32_ps(_mm_loadu_si128(at.add(4).cast())));
            }
        }
        8 * blocks
    }

    /// `x + 0.5` with the sign of `x`, the same addition as the plain form.
    #[inline(always)]
    fn plus_half(x: __m128) -> __m128 {
        // SAFETY: SSE is part of x86-64; no memory is touched
        unsafe {
            let sign = _mm_and_ps(x, _mm_set1_ps(-0.0));
            _mm_add_ps(x, _mm_or_ps(sign, _mm_set1_ps(0.5)))
        }
    }

    pub(super) fn narrow_i16(x: &[f32], out: &mut [i16]) -> usize {
        let blocks = x.len().min(out.len()) / 8;
        unsafe {
            let (low, high) = (_mm_set1_ps(-32768.0), _mm_set1_ps(32767.0));
            let clamp = |v: __m128| _mm_min_ps(_mm_max_ps(v, low), high);
            for b in 0..blocks {
                let at = x.as_ptr().add(8 * b);
                // clamped to the 16-bit range, then truncated: what `as i16` gives
                let a = _mm_cvttps_epi32(clamp(plus_half(_mm_loadu_ps(at))));
                let c = _mm_cvttps_epi32(clamp(plus_half(_mm_loadu_ps(at.add(4)))));
                _mm_storeu_si128(out.as_mut_ptr().add(8 * b).cast(), _mm_packs_epi32(a, c));
            }
        }
        8 * blocks
    }

    pub(super) fn narrow_i32(x: &[f32], out: &mut [i32]) -> usize {
        let blocks = x.len().min(out.len()) / 8;
        unsafe {
            let limit = _mm_set1_ps(2_147_483_648.0);
            // truncation gives i32::MIN for anything out of range: right below the range,
            // and turned into i32::MAX (all bits flipped) at or above 2^31
            let one = |v: __m128| {
                let v = plus_half(v);
                let over = _mm_castps_si128(_mm_cmpge_ps(v, limit));
                _mm_xor_si128(_mm_cvttps_epi32(v), over)
            };
            for b in 0..blocks {
                let at = x.as_ptr().add(8 * b);
                let o = out.as_mut_ptr().add(8 * b);
                _mm_storeu_si128(o.cast(), one(_mm_loadu_ps(at)));
                _mm_storeu_si128(o.add(4).cast(), one(_mm_loadu_ps(at.add(4))));
            }
        }
        8 * blocks
    }
}

/// No vector form: the plain loops of the callers do every sample.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub(super) fn widen_i16(_: &[i16], _: &mut [f32]) -> usize {
        0
    }
    pub(super) fn widen_i32(_: &[i32], _: &mut [f32]) -> usize {
        0
    }
    pub(super) fn narrow_i16(_: &[f32], _: &mut [i16]) -> usize {
        0
    }
    pub(super) fn narrow_i32(_: &[f32], _: &mut [i32]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values around every rounding and saturation edge, and ordinary ones.
    fn edges() -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999997,
            -0.49999997,
            1.5,
            -1.5,
            2.5,
            -2.5,
            32766.5,
            32767.0,
            32767.49,
            32767.5,
            40000.0,
            -32767.5,
            -32768.0,
            -32768.5,
            -32769.0,
            -40000.0,
            1e9,
            -1e9,
            2_147_483_520.0,
            2_147_483_648.0,
            3e9,
            -2_147_483_648.0,
            -2_147_483_904.0,
            -3e9,
            f32::MAX,
            f32::MIN,
            1e-30,
            -1e-30,
        ];
        let mut s = 12345u32;
        for _ in 0..1000 {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            v.push(((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 150_000.0);
        }
        // a tail past the blocks of eight
        v.extend([7.5, -7.5, 0.25]);
        v
    }

    #[test]
    fn frames_narrow_as_single_samples_do() {
        let x = edges();
        let mut short = vec![0i16; x.len()];
        let mut wide = vec![0i32; x.len()];
        narrow_i16(&x, &mut short);
        narrow_i32(&x, &mut wide);
        for (i, &v) in x.iter().enumerate() {
            assert_eq!(short[i], round_i16(v), "{v} to 16 bits");
            assert_eq!(wide[i], round_i32(v), "{v} to 32 bits");
        }
        assert_eq!(short[..4], [0, 0, 1, -1]);
        assert_eq!((short[14], short[17]), (32767, -32768));
    }

    #[test]
    fn frames_widen_exactly() {
        let short: Vec<i16> = (0..1003)
            .map(|i| (i as i32 * 65 - 32768).clamp(-32768, 32767) as i16)
            .chain([i16::MIN, i16::MAX, -1, 0, 1])
            .collect();
        let mut out = vec![0.0f32; short.len()];
        widen_i16(&short, &mut out);
        for (&s, &o) in short.iter().zip(&out) {
            assert_eq!(o, f32::from(s));
        }
        let wide: Vec<i32> = (0..1003)
            .map(|i| (i as i32).wrapping_mul(4_282_001))
            .chain([i32::MIN, i32::MAX, 16_777_217, -16_777_217])
            .collect();
        let mut out = vec![0.0f32; wide.len()];
        widen_i32(&wide, &mut out);
        for (&s, &o) in wide.iter().zip(&out) {
            assert_eq!(o.to_bits(), (s as f32).to_bits(), "{s}");
        }
    }
}
