//! G.722 wideband speech at 64 kbit/s (ITU-T G.722, mode 1): sub-band ADPCM.
//!
//! 16 kHz audio is split by a 24-tap quadrature mirror filter into a lower band (0–4 kHz)
//! and a higher band (4–8 kHz), each at 8 kHz. The lower band is coded with 6-bit ADPCM, the
//! higher with 2-bit ADPCM, and one octet carries both codes of a sample pair: `IH` in the two
//! high bits, `IL` in the six low bits. RTP carries these octets as they are,
//! on an 8 kHz clock (RFC 3551 §4.5.2).
//!
//! The arithmetic is the integer algorithm G.722 specifies (blocks 1L–6L, 1H–6H, and block 4,
//! the pole-zero predictor both bands share), so output is bit-exact with other conforming
//! implementations: the encoder and decoder reproduce ITU-T G.722 Appendix II test sequences
//! T1C2 → T2R2 → T3L2/T3H2 (checked in tests against the CRC-32s ITU publishes for them),
//! and with the QMF in the loop they match an independent implementation bit for bit on the
//! vectors in `engine/testdata/g722/`. The QMF works on 16-bit samples: G.722's are 15-bit, and
//! a 16-bit sample counts as twice one, the scaling of ITU's G.191 tools and common
//! implementations.
//!
//! The encoder is written for speed (a conference mixer runs one per wideband format and one
//! per wideband talker, every 20 ms) without leaving those integers: the transmit QMF splits a
//! whole frame before the ADPCM runs (it needs no ADPCM state), each pair's two sums as SSE2
//! dot products of 16-bit samples (`qmf`), QUANTL finds its interval with
//! one multiplication by a tabulated reciprocal of DETL and one table look-up instead of a
//! search, the interval gives the code, its INVQAL level and its LOGSCL step in one look-up,
//! the scale factors come from tables indexed by `NB >> 6`, the leak factors
//! (`x * 32640 >> 15` and the like) are shifts, and saturations that cannot bind are left out
//! (each says why). Every step keeps G.722's integers, so the vectors above still hold bit for
//! bit; it runs in about half the time of a plain transcription of the blocks. Where the
//! processor has AVX2 (detected at run time) the encoder runs a copy of itself compiled for
//! it: the same integer steps in about three quarters of the instructions (three-operand
//! forms, fewer register copies), the same octets (a test holds the two to each other).
//!
//! Each stream has its own [`G722Encoder`] or [`G722Decoder`]: ADPCM state carries from
//! packet to packet. Nothing allocates; the codec delay is 22 samples at 16 kHz (1.375 ms)
//! from encoder input to decoder output, all of it in the two QMFs.
//!
//! Only mode 1 (64 kbit/s) is implemented: the 56 and 48 kbit/s modes only drop low bits of
//! `IL` for an auxiliary data channel, which RTP never uses.

/// Samples from an encoder's input to its decoder's output at 16 kHz.
pub const G722_DELAY_SAMPLES: usize = 22;

/// A G.722 encoder for one stream.
#[derive(Clone, Debug)]
pub struct G722Encoder {
    qmf: Qmf,
    low: LowBand,
    high: HighBand,
}

/// A G.722 decoder for one stream.
#[derive(Clone, Debug)]
pub struct G722Decoder {
    qmf: Qmf,
    low: LowBand,
    high: HighBand,
}

impl Default for G722Encoder {
    fn default() -> Self {
        G722Encoder::new()
    }
}

impl Default for G722Decoder {
    fn default() -> Self {
        G722Decoder::new()
    }
}

impl G722Encoder {
    /// An encoder in G.722's reset state.
    pub fn new() -> G722Encoder {
        G722Encoder {
            qmf: Qmf::default(),
            low: LowBand::new(),
            high: HighBand::new(),
        }
    }

    /// Back to the reset state, as for a new stream.
    pub fn reset(&mut self) {
        *self = G722Encoder::new();
    }

    /// Encodes 16 kHz samples, one octet per pair; returns the octets written:
    /// `min(pcm.len() / 2, out.len())`. A trailing odd sample is not encoded (a 20 ms frame
    /// has 320 samples, always even).
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2
            return unsafe { self.encode_avx2(pcm, out) };
        }
        self.encode_frame(pcm, out)
    }

    /// [`encode`](Self::encode) compiled for AVX2 (three-operand forms of the SSE2 steps,
    /// fewer register copies): the same integer operations, the same octets.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn encode_avx2(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        self.encode_frame(pcm, out)
    }

    #[inline(always)]
    fn encode_frame(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = (pcm.len() / 2).min(out.len());
        // The QMF needs no ADPCM state: split a block of pairs into both bands first (a loop
        // the compiler vectorizes), then run the two ADPCM coders over the band samples.
        let mut xl = [0i32; QMF_BLOCK];
        let mut xh = [0i32; QMF_BLOCK];
        for (pcm, out) in pcm[..2 * n]
            .chunks(2 * QMF_BLOCK)
            .zip(out[..n].chunks_mut(QMF_BLOCK))
        {
            let m = out.len();
            self.qmf.analyze_block(pcm, &mut xl[..m], &mut xh[..m]);
            for ((o, &l), &h) in out.iter_mut().zip(&xl[..m]).zip(&xh[..m]) {
                *o = self.encode_bands(l, h);
            }
        }
        n
    }

    /// Codes one sample of each band (the QMF outputs, 15-bit range) into an octet.
    #[inline(always)]
    fn encode_bands(&mut self, xl: i32, xh: i32) -> u8 {
        let il = self.low.encode(xl);
        let ih = self.high.encode(xh);
        ((ih << 6) | il) as u8
    }
}

impl G722Decoder {
    /// A decoder in G.722's reset state.
    pub fn new() -> G722Decoder {
        G722Decoder {
            qmf: Qmf::default(),
            low: LowBand::new(),
            high: HighBand::new(),
        }
    }

    /// Back to the reset state, as for a new stream.
    pub fn reset(&mut self) {
        *self = G722Decoder::new();
    }

    /// Decodes octets into 16 kHz samples, two per octet; returns the samples written:
    /// `2 * min(payload.len(), out.len() / 2)`. Every octet is a valid code.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> usize {
        let n = payload.len().min(out.len() / 2);
        for (pair, &code) in out.chunks_exact_mut(2).zip(&payload[..n]) {
            let (rl, rh) = self.decode_bands(code);
            let (y0, y1) = self.qmf.synthesize(rl, rh);
            pair[0] = y0;
            pair[1] = y1;
        }
        2 * n
    }

    /// The reconstructed band signals of one octet (15-bit range), before the QMF.
    fn decode_bands(&mut self, code: u8) -> (i32, i32) {
        let rl = self.low.decode(code as i32 & 0x3F);
        let rh = self.high.decode(code as i32 >> 6);
        (rl, rh)
    }
}

/// The transmit and receive quadrature mirror filters of G.722, one instance per direction: the last 12 sample pairs, the first and second sample of each pair apart.
#[derive(Clone, Debug, Default)]
struct Qmf {
    /// First (earlier) sample of each pair, oldest first.
    first: [i32; 12],
    /// Second sample of each pair, oldest first.
    second: [i32; 12],
}

/// Pairs the encoder splits into bands at once (one 20 ms frame): the size of its stack
/// buffers.
const QMF_BLOCK: usize = 160;

/// The 24 QMF coefficients h0..h23 of G.722 are symmetric; these are the even ones,
/// h0, h2, .., h22. The odd ones are the same values in reverse order.
const QMF_EVEN: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

impl Qmf {
    fn push(&mut self, a: i32, b: i32) {
        self.first.copy_within(1.., 0);
        self.second.copy_within(1.., 0);
        self.first[11] = a;
        self.second[11] = b;
    }

    /// The two accumulators (ACCUMA, ACCUMB): the first samples through the even
    /// coefficients, the second ones through the odd coefficients.
    fn accumulate(&self) -> (i32, i32) {
        let mut a = 0;
        let mut b = 0;
        for i in 0..12 {
            a += self.first[i] * QMF_EVEN[i];
            b += self.second[i] * QMF_EVEN[11 - i];
        }
        (a, b)
    }

    /// Splits pairs of 16 kHz samples (`2 * xl.len()` of them) into as many lower-band
    /// (`xl`) and higher-band (`xh`) samples, the transmit QMF of G.722 one pair at a time.
    ///
    /// Pair `i` sees the 12 pairs before it and itself, oldest first: 24 samples in a row of
    /// the input after the 11 pairs of history, as they arrived (first, second, first, ..).
    /// `a + b` and `b - a` are dot products of that row with the coefficients interleaved
    /// (`qmf`): on x86-64, three SSE2 multiply-adds of eight 16-bit lanes each (every product
    /// and sum fits 32 bits: the integers are G.722's exactly).
    fn analyze_block(&mut self, pcm: &[i16], xl: &mut [i32], xh: &mut [i32]) {
        let n = xl.len();
        debug_assert!(n <= QMF_BLOCK && xh.len() == n && pcm.len() >= 2 * n);
        if n == 0 {
            return;
        }
        let mut row = [0i16; 2 * (QMF_BLOCK + 11)];
        for (k, pair) in row[..22].chunks_exact_mut(2).enumerate() {
            // the history holds input samples, or sums of two 15-bit band signals: 16 bits
            pair[0] = self.first[k + 1] as i16;
            pair[1] = self.second[k + 1] as i16;
        }
        row[22..22 + 2 * n].copy_from_slice(&pcm[..2 * n]);
        let row = &row[..22 + 2 * n];
        qmf_rows(row, xl, xh);
        for (k, pair) in row[2 * (n - 1)..].chunks_exact(2).enumerate() {
            self.first[k] = i32::from(pair[0]);
            self.second[k] = i32::from(pair[1]);
        }
    }

    /// Recombines one sample of each band into a pair of 16 kHz samples.
    fn synthesize(&mut self, rl: i32, rh: i32) -> (i16, i16) {
        self.push(rl + rh, rl - rh);
        let (a, b) = self.accumulate();
        (saturate(b >> 11), saturate(a >> 11))
    }
}

/// The lower sub-band: 6-bit ADPCM (blocks 1L to 6L).
#[derive(Clone, Debug)]
struct LowBand {
    predictor: Predictor,
    /// Logarithmic quantizer scale factor, NBL.
    nb: i32,
    /// Quantizer scale factor, DETL.
    det: i32,
}

impl LowBand {
    fn new() -> LowBand {
        LowBand {
            predictor: Predictor::default(),
            nb: 0,
            det: 32,
        }
    }

    /// Blocks 1L–3L: the 6-bit code of one lower-band sample.
    #[inline(always)]
    fn encode(&mut self, xl: i32) -> i32 {
        let el = saturate32(xl - self.predictor.s);
        // QUANTL: magnitude against the decision levels scaled by DETL
        let magnitude = if el >= 0 { el } else { -(el + 1) };
        // Levels rise with the index, so the interval is 1 + the count of levels with
        // `magnitude >= (q * det) >> 12`, that is `q * det < (magnitude + 1) << 12`, that is
        // `q <= ((magnitude + 1) << 12) - 1) / det` (DETL is at least 32): one division and one
        // table look-up instead of a search with a multiplication per step.
        let most = div_det(((magnitude + 1) << 12) - 1, self.nb).min(Q6_COUNT.len() as u32 - 1);
        // `& 31`: the interval is within 1..=30 already; the mask spares a bounds check
        let i = (1 + Q6_COUNT[most as usize] as usize) & 31;
        let sign = usize::from(el < 0);
        // the code's inverse quantizer level and scale factor step straight from the interval
        self.adapt_by(QM4_OF[sign][i], WL_OF[sign][i]);
        IL_OF[sign][i]
    }

    /// Blocks 5L, 6L and the adaptation: the reconstructed lower-band signal of a 6-bit code.
    fn decode(&mut self, il: i32) -> i32 {
        // INVQBL with all six bits (mode 1), RECONS, LIMIT
        let dl = (self.det * QM6[il as usize]) >> 15;
        let rl = (self.predictor.s + dl).clamp(-16384, 16383);
        self.adapt(il);
        rl
    }

    /// INVQAL, LOGSCL, SCALEL and block 4: the predictor and scale factor follow the four
    /// most significant bits of the code only, so the encoder and every mode's decoder agree.
    #[inline(always)]
    fn adapt(&mut self, il: i32) {
        let il4 = (il >> 2) as usize & 15;
        self.adapt_by(QM4[il4], WL[RL42[il4] & 7]);
    }

    /// The adaptation for a code whose INVQAL level is `qm4` and whose LOGSCL step is `wl`.
    #[inline(always)]
    fn adapt_by(&mut self, qm4: i32, wl: i32) {
        let dlt = (self.det * qm4) >> 15;
        self.nb = (self.nb + ((-self.nb) >> 7) + wl).clamp(0, 18432);
        self.det = DETL[nb_index(self.nb)];
        self.predictor.update(dlt);
    }
}

/// The higher sub-band: 2-bit ADPCM (blocks 1H to 6H).
#[derive(Clone, Debug)]
struct HighBand {
    predictor: Predictor,
    /// NBH.
    nb: i32,
    /// DETH.
    det: i32,
}

impl HighBand {
    fn new() -> HighBand {
        HighBand {
            predictor: Predictor::default(),
            nb: 0,
            det: 8,
        }
    }

    /// Blocks 1H–3H: the 2-bit code of one higher-band sample.
    #[inline(always)]
    fn encode(&mut self, xh: i32) -> i32 {
        let eh = saturate32(xh - self.predictor.s);
        // QUANTH: one decision level, 564 scaled by DETH
        let magnitude = if eh >= 0 { eh } else { -(eh + 1) };
        let outer = magnitude >= (564 * self.det) >> 12;
        let ih = match (eh < 0, outer) {
            (true, false) => 1,
            (true, true) => 0,
            (false, false) => 3,
            (false, true) => 2,
        };
        self.adapt(ih);
        ih
    }

    /// Blocks 5H, 6H: the reconstructed higher-band signal of a 2-bit code.
    fn decode(&mut self, ih: i32) -> i32 {
        let dh = (self.det * QM2[ih as usize]) >> 15;
        let rh = (self.predictor.s + dh).clamp(-16384, 16383);
        self.adapt(ih);
        rh
    }

    /// INVQAH, LOGSCH, SCALEH and block 4.
    #[inline(always)]
    fn adapt(&mut self, ih: i32) {
        let dh = (self.det * QM2[ih as usize & 3]) >> 15;
        let w = if ih == 0 || ih == 2 { 798 } else { -214 };
        self.nb = (self.nb + ((-self.nb) >> 7) + w).clamp(0, 22528);
        self.det = DETH[nb_index(self.nb)];
        self.predictor.update(dh);
    }
}

/// SCALEL / SCALEH: the linear scale factor of a logarithmic one, `2^(nb / 2048)` from a
/// 32-entry table of the fraction and a shift for the integer part, times 4. Only `nb >> 6`
/// matters, so the coders look the results up in [`DETL`] and [`DETH`].
const fn scale_factor(nb: i32, shift: i32) -> i32 {
    let mantissa = ILB[((nb >> 6) & 31) as usize];
    let e = shift - (nb >> 11);
    let v = if e < 0 { mantissa << -e } else { mantissa >> e };
    v << 2
}

/// DETL for each `NBL >> 6` (NBL is at most 18432: entries past 288 are never read).
static DETL: [i32; 512] = scale_factors(8);
/// DETH for each `NBH >> 6` (NBH is at most 22528: entries past 352 are never read).
static DETH: [i32; 512] = scale_factors(10);
/// `ceil(2^42 / DETL)` for each `NBL >> 6`: see [`div_det`].
static DETL_INVERSE: [u64; 512] = {
    let mut table = [0u64; 512];
    let mut i = 0;
    while i < table.len() {
        let det = DETL[i] as u64;
        table[i] = (1u64 << 42).div_ceil(det);
        i += 1;
    }
    table
};

const fn scale_factors<const N: usize>(shift: i32) -> [i32; N] {
    let mut table = [0; N];
    let mut i = 0;
    while i < N {
        table[i] = scale_factor((i as i32) << 6, shift);
        i += 1;
    }
    table
}

/// `n / DETL` for the DETL of `nb`, by a multiplication: for `0 <= n < 2^27` and a divisor
/// `d <= 2^15` (DETL is at most 32064), `floor(n * ceil(2^42 / d) / 2^42) == floor(n / d)`
/// (the error term `n * (ceil(2^42 / d) * d - 2^42)` stays below `2^27 * 2^15`).
#[inline(always)]
fn div_det(n: i32, nb: i32) -> u32 {
    ((n as u64 * DETL_INVERSE[nb_index(nb)]) >> 42) as u32
}

/// The index of a logarithmic scale factor (0..=22528) in the tables above; the mask only
/// spares a bounds check.
#[inline(always)]
fn nb_index(nb: i32) -> usize {
    (nb >> 6) as usize & 511
}

/// Block 4: the adaptive predictor of one band, two poles and
/// six zeros whose coefficients adapt by the signs of the signal (sign-sign LMS; the zeros
/// in [`Zeros`]).
///
/// The past values are kept as the filters use them, doubled and saturated (`sat(x << 1)`,
/// which keeps the sign the adaptation compares), and the leak factors are written as
/// shifts (`(x * 32640) >> 15 == x + ((-x) >> 8)` exactly, for every `i32` in range): the
/// same integers as G.722's blocks, fewer multiplications on the encoder's critical path.
#[derive(Clone, Debug, Default)]
struct Predictor {
    /// Pole coefficients a1, a2.
    a: [i32; 2],
    /// Zero coefficients b1..b6 and quantized differences d(n-1)..d(n-6).
    zeros: Zeros,
    /// Reconstructed signals r(n-1), r(n-2), doubled and saturated.
    r2: [i32; 2],
    /// Partially reconstructed signals p(n-1), p(n-2).
    p: [i32; 2],
    /// The zero section's contribution to the estimate, SZ.
    sz: i32,
    /// The signal estimate for the next sample, S.
    s: i32,
}

impl Predictor {
    /// Takes the quantized difference of the current sample and predicts the next one.
    #[inline(always)]
    fn update(&mut self, d: i32) {
        // RECONS and PARREC
        let r0 = saturate32(self.s + d);
        let p0 = saturate32(self.sz + d);
        // -1 where the signs of x and y differ, 0 where they agree
        let differ = |x: i32, y: i32| (x ^ y) >> 31;
        // `v` where the signs agree, `-v` where they differ
        let signed = |v: i32, m: i32| (v ^ m) - m;

        // UPPOL2: a2 leaks by 127/128 and moves by the signs of p(n), p(n-1) and p(n-2)
        let [a1, a2] = self.a;
        let four_a1 = saturate32(a1 << 2);
        let m1 = differ(p0, self.p[0]);
        // -4 a1 where p(n) and p(n-1) agree (saturated: -(-32768) is 32767), 4 a1 otherwise
        let f = if m1 == 0 {
            saturate32(-four_a1)
        } else {
            four_a1
        };
        let a2 = ((f >> 7) + signed(128, differ(p0, self.p[1])) + a2 + ((-a2) >> 7))
            .clamp(-12288, 12288);

        // UPPOL1: a1 leaks by 255/256, bounded so the poles stay stable. G.722 saturates the
        // sum and the bound to 16 bits, which cannot bind: |a1| <= 15360 + 12288 before, and
        // a2 is within +-12288.
        let a1 = signed(192, m1) + a1 + ((-a1) >> 8);
        let bound = 15360 - a2;
        let a1 = a1.clamp(-bound, bound);

        // UPZERO, DELAYA and FILTEZ of the zeros
        self.sz = saturate32(self.zeros.update(d, saturate32(d << 1)));

        // DELAYA
        self.r2 = [saturate32(r0 << 1), self.r2[0]];
        self.p = [p0, self.p[0]];
        self.a = [a1, a2];

        // FILTEP, PREDIC
        let sp = saturate32(((a1 * self.r2[0]) >> 15) + ((a2 * self.r2[1]) >> 15));
        self.s = saturate32(sp + self.sz);
    }
}

#[inline]
fn saturate32(x: i32) -> i32 {
    x.clamp(i16::MIN as i32, i16::MAX as i32)
}

#[inline]
fn saturate(x: i32) -> i16 {
    saturate32(x) as i16
}

/// QUANTL decision levels in units of DETL / 4096; entries 0, 30 and 31 are unused.
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];

/// `Q6_COUNT[k]`: how many of the decision levels `Q6[1..30]` are at most `k` (every level
/// is below the table's length).
static Q6_COUNT: [u8; 2920] = {
    let mut table = [0u8; 2920];
    let mut k = 0;
    while k < table.len() {
        let mut count = 0;
        let mut i = 1;
        while i < 30 {
            if Q6[i] <= k as i32 {
                count += 1;
            }
            i += 1;
        }
        table[k] = count;
        k += 1;
    }
    table
};

/// The 6-bit codes of the intervals above, for negative and for positive differences.
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];

/// The 6-bit code of each QUANTL interval (`[positive, negative][interval]`), its INVQAL
/// level and its LOGSCL step: the encoder goes from the interval to all three in one look-up.
static IL_OF: [[i32; 32]; 2] = [ILP, ILN];
static QM4_OF: [[i32; 32]; 2] = {
    let mut table = [[0; 32]; 2];
    let mut k = 0;
    while k < 64 {
        let (sign, i) = (k / 32, k % 32);
        table[sign][i] = QM4[(IL_OF[sign][i] >> 2) as usize];
        k += 1;
    }
    table
};
static WL_OF: [[i32; 32]; 2] = {
    let mut table = [[0; 32]; 2];
    let mut k = 0;
    while k < 64 {
        let (sign, i) = (k / 32, k % 32);
        table[sign][i] = WL[RL42[(IL_OF[sign][i] >> 2) as usize]];
        k += 1;
    }
    table
};

/// INVQAL: output levels of the 4-bit truncated lower-band code, in units of DETL / 32768.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// INVQBL in mode 1: output levels of the full 6-bit lower-band code.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// INVQAH: output levels of the 2-bit higher-band code.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// LOGSCL: the magnitude class of a 4-bit code and the log scale factor step of each class.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// SCALEL/SCALEH: `2^(i / 32)` for i in 0..32, times 2048.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

mod pair;
mod qmf;
mod zeros;

use qmf::qmf_rows;
#[cfg(test)]
use qmf::qmf_rows_plain;
use zeros::Zeros;

#[cfg(test)]
mod tests;
