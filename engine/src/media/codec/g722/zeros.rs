//! The zero section of G.722's adaptive predictor (block 4: UPZERO, DELAYA of the quantized
//! differences, FILTEZ): six coefficients that adapt by the signs of the current difference
//! and the six before it (sign-sign LMS), and their filter over those differences.
//!
//! On x86-64 the six coefficients and the six past differences sit in the 16-bit lanes of one
//! SSE2 register each (SSE2 is part of every x86-64), so an update is a few vector operations
//! instead of six of everything; elsewhere plain arrays do the same. Both keep G.722's
//! integers exactly (the tests run the vector form against the plain one):
//!
//! - every value fits 16 bits: a coefficient leaked by 255/256 is within -32640..=32639 and
//!   moves by 128 at most, so G.722's saturation of the update never binds; the past
//!   differences are stored doubled and saturated, as FILTEZ uses them;
//! - the leak `(b * 32640) >> 15` is `b + floor(-b / 256)`, and `floor(-b / 256)` is
//!   `!(b >> 8) + 1` when the low eight bits of `b` are zero and `!(b >> 8)` otherwise;
//! - each product `(b * d) >> 15` is `2 * mulhi(b, d) + (mullo(b, d) >> 15)` (logical
//!   shift), summed in 32 bits.

/// UPZERO, DELAYA and FILTEZ for one band.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Zeros {
    #[cfg(target_arch = "x86_64")]
    lanes: vector::Lanes,
    #[cfg(not(target_arch = "x86_64"))]
    lanes: plain::Lanes,
}

impl Zeros {
    /// Adapts the coefficients to the quantized difference `d` of this sample, takes its
    /// doubled and saturated value `d2` into the history, and returns the zero section's
    /// estimate for the next sample before saturation (the sum of FILTEZ).
    #[inline(always)]
    pub(super) fn update(&mut self, d: i32, d2: i32) -> i32 {
        self.lanes.update(d, d2)
    }
}

/// Six coefficients and six doubled past differences in plain arrays.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod plain {
    #[derive(Clone, Copy, Debug, Default)]
    pub(super) struct Lanes {
        /// b1..b6.
        pub(super) b: [i32; 6],
        /// sat(2 d(n-1)) .. sat(2 d(n-6)).
        pub(super) d2: [i32; 6],
    }

    impl Lanes {
        #[inline(always)]
        pub(super) fn update(&mut self, d: i32, d2: i32) -> i32 {
            let step = if d == 0 { 0 } else { 128 };
            for (b, &di) in self.b.iter_mut().zip(&self.d2) {
                // -1 where the signs of d(n) and d(n-i) differ
                let differ = (d ^ di) >> 31;
                *b += ((step ^ differ) - differ) + ((-*b) >> 8);
            }
            self.d2 = [
                d2, self.d2[0], self.d2[1], self.d2[2], self.d2[3], self.d2[4],
            ];
            let mut sz = 0;
            for (&b, &di) in self.b.iter().zip(&self.d2) {
                sz += (b * di) >> 15;
            }
            sz
        }
    }
}

/// The same in the 16-bit lanes 0..6 of SSE2 registers; lanes 6 and 7 stay zero.
#[cfg(target_arch = "x86_64")]
mod vector {
    use std::arch::x86_64::*;

    #[derive(Clone, Copy, Debug)]
    pub(super) struct Lanes {
        /// b1..b6.
        b: __m128i,
        /// sat(2 d(n-1)) .. sat(2 d(n-6)).
        d2: __m128i,
    }

    impl Default for Lanes {
        fn default() -> Lanes {
            // SAFETY: SSE2 is part of x86-64: every CPU this code runs on has it
            let zero = unsafe { _mm_setzero_si128() };
            Lanes { b: zero, d2: zero }
        }
    }

    impl Lanes {
        #[inline(always)]
        pub(super) fn update(&mut self, d: i32, d2: i32) -> i32 {
            // SAFETY: SSE2 instructions on registers only (no memory access), and SSE2 is part
            // of x86-64: every CPU this code runs on has it
            unsafe {
                let six = _mm_set_epi16(0, 0, -1, -1, -1, -1, -1, -1);
                // UPZERO: +-128 by the signs of d(n) and d(n-i) (0 when d(n) is 0), plus the leak
                let differ = _mm_srai_epi16::<15>(_mm_xor_si128(_mm_set1_epi16(d as i16), self.d2));
                let step = _mm_and_si128(_mm_set1_epi16(if d == 0 { 0 } else { 128 }), six);
                let g = _mm_sub_epi16(_mm_xor_si128(step, differ), differ);
                let high = _mm_srai_epi16::<8>(self.b);
                let round = _mm_cmpeq_epi16(
                    _mm_and_si128(self.b, _mm_set1_epi16(255)),
                    _mm_setzero_si128(),
                );
                let leak = _mm_sub_epi16(_mm_xor_si128(high, _mm_set1_epi16(-1)), round);
                self.b = _mm_add_epi16(_mm_add_epi16(self.b, leak), g);
                // DELAYA: the history moves up a lane, lane 6 cleared, the new value in lane 0
                let moved = _mm_and_si128(_mm_slli_si128::<2>(self.d2), six);
                self.d2 = _mm_insert_epi16::<0>(moved, d2);
                // FILTEZ: the sum of (b * d2) >> 15, lane by lane
                let high = _mm_mulhi_epi16(self.b, self.d2);
                let low_bit = _mm_srli_epi16::<15>(_mm_mullo_epi16(self.b, self.d2));
                let one = _mm_set1_epi16(1);
                let sum = _mm_add_epi32(
                    _mm_slli_epi32::<1>(_mm_madd_epi16(high, one)),
                    _mm_madd_epi16(low_bit, one),
                );
                let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b01_00_11_10>(sum));
                let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b10_11_00_01>(sum));
                _mm_cvtsi128_si32(sum)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_zero_section_matches_the_plain_one_over_every_kind_of_difference() {
        let mut fast = Zeros::default();
        let mut plain = plain::Lanes::default();
        let mut seed = 0x2545_f491_u32;
        for n in 0..200_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // runs of one sign (coefficients driven to their limits), zeros, and extremes:
            // G.722's differences stay within +-20016
            let magnitude = match (seed >> 8) % 4 {
                0 => 0,
                1 => (seed >> 12) as i32 % 64,
                2 => (seed >> 12) as i32 % 20_017,
                _ => 20_016,
            };
            // blocks of one sign, of alternating signs, of random signs
            let sign = match (n / 3000) % 3 {
                0 => 1,
                1 if n % 2 == 0 => 1,
                1 => -1,
                _ if (seed >> 30) & 1 == 1 => 1,
                _ => -1,
            };
            let d = sign * magnitude;
            let d2 = (d << 1).clamp(-32768, 32767);
            assert_eq!(fast.update(d, d2), plain.update(d, d2), "at {n}");
        }
    }
}
