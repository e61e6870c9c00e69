//! The transmit QMF of G.722 over a row of input samples (first, second, first, .. of each
//! pair, oldest first): lower-band sample `i` is `(a + b) >> 14` and higher-band sample `i`
//! is `(b - a) >> 14` of the 12 pairs `row[2i..2i + 24]`, where `a` takes the first samples
//! through the even coefficients and `b` the second ones through the odd coefficients
//! (G.722's ACCUMA and ACCUMB; 16-bit input is twice G.722's 15-bit XIN, so one more bit
//! comes off than G.722 says). Both sums are dot products of the row with the coefficients
//! interleaved ([`QMF_PLUS`], [`QMF_MINUS`]): on x86-64, three SSE2 multiply-adds of eight
//! 16-bit lanes each. Every product and sum fits 32 bits (the coefficients' magnitudes sum to
//! 6,482; twice that times 2^15 is below 2^31), so the integers are G.722's exactly; the tests
//! hold the vector form to the plain one at full scale.

use super::QMF_EVEN;

/// The transmit QMF's coefficients against 12 pairs of input in a row (first, second, ..,
/// oldest first): `a + b` (the lower band's sum) and `b - a` (the higher band's).
pub(super) const QMF_PLUS: [i16; 24] = qmf_row(1);
pub(super) const QMF_MINUS: [i16; 24] = qmf_row(-1);

const fn qmf_row(sign: i32) -> [i16; 24] {
    let mut row = [0i16; 24];
    let mut k = 0;
    while k < 12 {
        // the first sample of pair k goes through the even coefficient k (accumulator a),
        // the second through the odd one, the even ones reversed (accumulator b)
        row[2 * k] = (sign * QMF_EVEN[k]) as i16;
        row[2 * k + 1] = QMF_EVEN[11 - k] as i16;
        k += 1;
    }
    row
}

/// The transmit QMF over a row of samples: `xl[i]` and `xh[i]` from `row[2i..2i + 24]`.
#[cfg(target_arch = "x86_64")]
pub(super) fn qmf_rows(row: &[i16], xl: &mut [i32], xh: &mut [i32]) {
    use std::arch::x86_64::*;
    let n = xl.len().min(xh.len());
    assert!(row.len() >= 2 * n + 22);
    // SAFETY: SSE2 is part of x86-64; every load reads 8 samples within `row[2i..2i + 24]`,
    // in bounds by the assertion, and the coefficient loads read within their arrays
    unsafe {
        let c = |t: &[i16; 24], k: usize| _mm_loadu_si128(t.as_ptr().add(8 * k).cast());
        let (p0, p1, p2) = (c(&QMF_PLUS, 0), c(&QMF_PLUS, 1), c(&QMF_PLUS, 2));
        let (m0, m1, m2) = (c(&QMF_MINUS, 0), c(&QMF_MINUS, 1), c(&QMF_MINUS, 2));
        for (i, (l, h)) in xl[..n].iter_mut().zip(&mut xh[..n]).enumerate() {
            let at = row.as_ptr().add(2 * i);
            let v0 = _mm_loadu_si128(at.cast());
            let v1 = _mm_loadu_si128(at.add(8).cast());
            let v2 = _mm_loadu_si128(at.add(16).cast());
            let plus = _mm_add_epi32(
                _mm_add_epi32(_mm_madd_epi16(v0, p0), _mm_madd_epi16(v1, p1)),
                _mm_madd_epi16(v2, p2),
            );
            let minus = _mm_add_epi32(
                _mm_add_epi32(_mm_madd_epi16(v0, m0), _mm_madd_epi16(v1, m1)),
                _mm_madd_epi16(v2, m2),
            );
            // [p0 + p2, p1 + p3, m0 + m2, m1 + m3], then lanes 0 and 2 take their neighbours
            let t = _mm_add_epi32(
                _mm_unpacklo_epi64(plus, minus),
                _mm_unpackhi_epi64(plus, minus),
            );
            let t = _mm_add_epi32(t, _mm_shuffle_epi32::<0b10_11_00_01>(t));
            // 16-bit input is twice G.722's 15-bit XIN, so one more bit comes off than G.722
            // says
            *l = _mm_cvtsi128_si32(t) >> 14;
            *h = _mm_cvtsi128_si32(_mm_shuffle_epi32::<0b00_00_00_10>(t)) >> 14;
        }
    }
}

/// The transmit QMF over a row of samples, plainly: `xl[i]` and `xh[i]` from
/// `row[2i..2i + 24]`.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
pub(super) fn qmf_rows_plain(row: &[i16], xl: &mut [i32], xh: &mut [i32]) {
    for (i, (l, h)) in xl.iter_mut().zip(xh.iter_mut()).enumerate() {
        let window = &row[2 * i..2 * i + 24];
        let mut plus = 0;
        let mut minus = 0;
        for ((&x, &p), &m) in window.iter().zip(&QMF_PLUS).zip(&QMF_MINUS) {
            plus += i32::from(x) * i32::from(p);
            minus += i32::from(x) * i32::from(m);
        }
        // 16-bit input is twice G.722's 15-bit XIN, so one more bit comes off than G.722 says
        *l = plus >> 14;
        *h = minus >> 14;
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn qmf_rows(row: &[i16], xl: &mut [i32], xh: &mut [i32]) {
    qmf_rows_plain(row, xl, xh)
}
