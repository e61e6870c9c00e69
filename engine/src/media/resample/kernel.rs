//! The polyphase filter's inner loop: a short correlation of a run of input with one phase's
//! taps, for a run of outputs.
//!
//! `out[i] += taps[0] * input[i] + taps[1] * input[i + 1] + ..`, the products summed in that
//! order from zero, then added to `out[i]`. On x86-64 many outputs at once: 32 in four AVX
//! lanes of eight where the processor has AVX (detected at run time, as rubato does), else 16
//! in four SSE2 lanes of four (SSE2 is part of x86-64); each tap broadcast once for them all,
//! the input read unaligned. Every form does the same `f32` multiplications and additions in
//! the same order (no fused multiply-add: Rust never fuses behind one's back, and the AVX
//! form does not ask for it), so all give the same bits, and the tests hold them to it.

/// `out[i] += Σ_j taps[j] * input[i + j]` for every `i` of `out`.
///
/// # Panics
///
/// If `input` is shorter than `out.len() + taps.len() - 1`.
#[cfg(target_arch = "x86_64")]
pub(super) fn correlate_add(taps: &[f32], input: &[f32], out: &mut [f32]) {
    assert!(taps.is_empty() || input.len() + 1 >= out.len() + taps.len());
    if taps.is_empty() {
        return;
    }
    let done = if std::is_x86_feature_detected!("avx") {
        // SAFETY: the processor has AVX; the lengths are as the assertion says
        unsafe { avx(taps, input, out) }
    } else {
        0
    };
    // SAFETY: as above
    let done = done + unsafe { sse2(taps, &input[done..], &mut out[done..]) };
    correlate_add_plain(taps, &input[done..], &mut out[done..]);
}

/// Whole blocks of 32 outputs; returns how many outputs it did.
///
/// # Safety
///
/// The processor has AVX, `taps` is not empty, and `input.len() + 1 >= out.len() + taps.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn avx(taps: &[f32], input: &[f32], out: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let blocks = out.len() / 32;
    // SAFETY: block `b` reads `input[32b + j .. 32b + j + 32]` for `j < taps.len()`, within
    // `input` by the caller's word, and reads and writes `out[32b .. 32b + 32]`
    unsafe {
        for b in 0..blocks {
            let at = input.as_ptr().add(32 * b);
            let mut a = [_mm256_setzero_ps(); 4];
            for (j, &t) in taps.iter().enumerate() {
                let t = _mm256_set1_ps(t);
                let x = at.add(j);
                for (k, a) in a.iter_mut().enumerate() {
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(t, _mm256_loadu_ps(x.add(8 * k))));
                }
            }
            let o = out.as_mut_ptr().add(32 * b);
            for (k, a) in a.iter().enumerate() {
                let o = o.add(8 * k);
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), *a));
            }
        }
    }
    32 * blocks
}

/// Whole blocks of 16 outputs; returns how many outputs it did.
///
/// # Safety
///
/// `taps` is not empty, and `input.len() + 1 >= out.len() + taps.len()`.
#[cfg(target_arch = "x86_64")]
unsafe fn sse2(taps: &[f32], input: &[f32], out: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let blocks = out.len() / 16;
    // SAFETY: SSE2 is part of x86-64; block `b` reads `input[16b + j .. 16b + j + 16]` for
    // `j < taps.len()`, within `input` by the caller's word, and reads and writes
    // `out[16b .. 16b + 16]`
    unsafe {
        for b in 0..blocks {
            let at = input.as_ptr().add(16 * b);
            let mut a0 = _mm_setzero_ps();
            let mut a1 = _mm_setzero_ps();
            let mut a2 = _mm_setzero_ps();
            let mut a3 = _mm_setzero_ps();
            for (j, &t) in taps.iter().enumerate() {
                let t = _mm_set1_ps(t);
                let x = at.add(j);
                a0 = _mm_add_ps(a0, _mm_mul_ps(t, _mm_loadu_ps(x)));
                a1 = _mm_add_ps(a1, _mm_mul_ps(t, _mm_loadu_ps(x.add(4))));
                a2 = _mm_add_ps(a2, _mm_mul_ps(t, _mm_loadu_ps(x.add(8))));
                a3 = _mm_add_ps(a3, _mm_mul_ps(t, _mm_loadu_ps(x.add(12))));
            }
            let o = out.as_mut_ptr().add(16 * b);
            _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), a0));
            _mm_storeu_ps(o.add(4), _mm_add_ps(_mm_loadu_ps(o.add(4)), a1));
            _mm_storeu_ps(o.add(8), _mm_add_ps(_mm_loadu_ps(o.add(8)), a2));
            _mm_storeu_ps(o.add(12), _mm_add_ps(_mm_loadu_ps(o.add(12)), a3));
        }
    }
    16 * blocks
}

/// The same, one output at a time.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn correlate_add(taps: &[f32], input: &[f32], out: &mut [f32]) {
    correlate_add_plain(taps, input, out)
}

/// `out[i] += Σ_j taps[j] * input[i + j]`, plainly.
pub(super) fn correlate_add_plain(taps: &[f32], input: &[f32], out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (&t, &x) in taps.iter().zip(&input[i..i + taps.len()]) {
            acc += t * x;
        }
        *o += acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * scale
            })
            .collect()
    }

    #[test]
    fn the_vector_correlation_gives_the_plain_one_bit_for_bit() {
        // lengths with and without a tail past the blocks of 16, taps of the filters and odd
        for (n, t) in [
            (160, 28),
            (320, 28),
            (960, 28),
            (161, 28),
            (37, 5),
            (15, 28),
            (48, 1),
        ] {
            let taps = noise(t, 7 + t as u32, 1.0);
            // full-scale sums of three talkers and more: beyond 16 bits
            let input = noise(n + t - 1, n as u32, 200_000.0);
            let start = noise(n, 99, 1_000.0);
            let mut vector = start.clone();
            let mut plain = start.clone();
            correlate_add(&taps, &input, &mut vector);
            correlate_add_plain(&taps, &input, &mut plain);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&vector), bits(&plain), "{n} outputs, {t} taps");
            // each vector form on its own, over as many outputs as it takes
            #[cfg(target_arch = "x86_64")]
            {
                let mut sse = start.clone();
                // SAFETY: taps are not empty and the input is long enough
                let done = unsafe { sse2(&taps, &input, &mut sse) };
                assert_eq!(done, n / 16 * 16);
                assert_eq!(bits(&sse[..done]), bits(&plain[..done]), "SSE2: {n}, {t}");
                if std::is_x86_feature_detected!("avx") {
                    let mut wide = start.clone();
                    // SAFETY: the processor has AVX; as above
                    let done = unsafe { avx(&taps, &input, &mut wide) };
                    assert_eq!(done, n / 32 * 32);
                    assert_eq!(bits(&wide[..done]), bits(&plain[..done]), "AVX: {n}, {t}");
                }
            }
            // and it is the correlation it says
            let i = n / 2;
            let direct: f64 = (0..t).map(|j| taps[j] as f64 * input[i + j] as f64).sum();
            let expected = start[i] as f64 + direct;
            assert!(
                (plain[i] as f64 - expected).abs() <= 1e-3 * expected.abs().max(1.0),
                "{n}, {t}: {} against {expected}",
                plain[i]
            );
        }
    }

    #[test]
    #[should_panic]
    fn too_short_an_input_is_refused() {
        let mut out = [0.0f32; 32];
        correlate_add(&[1.0; 28], &[0.0; 40], &mut out);
    }
}
