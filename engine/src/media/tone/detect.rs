//! Tone detection "as a listener would": the level of chosen frequencies in a block of
//! samples by Goertzel's algorithm, and which of them dominate the block.
//!
//! Levels are dBFS on one scale for tones and whole blocks: a full-scale sine reads 0 dBFS
//! in both. Tests across the project use this to check audio; inband DTMF detection builds on
//! it.

use super::FULL_SCALE;
use crate::media::SampleRate;

/// The power of the `freq` component of `samples` relative to a full-scale sine (1.0 is a
/// full-scale sine at exactly `freq`; `10 * log10` of it is its level in dBFS). One term of
/// the DFT by Goertzel's recurrence, at any frequency (not only at bin centres).
pub fn goertzel_power(samples: &[i16], rate: SampleRate, freq: f32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq as f64 / rate.hz() as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let magnitude2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    4.0 * magnitude2 / (n * n * FULL_SCALE * FULL_SCALE)
}

/// The level of a whole block in dBFS, on the same scale as [`goertzel_power`] (a full-scale
/// sine reads 0 dBFS; silence reads `-inf`).
pub fn block_dbfs(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let mean_square = samples
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        / samples.len() as f64;
    10.0 * (2.0 * mean_square / (FULL_SCALE * FULL_SCALE)).log10()
}

/// The most frequencies a [`ToneDetector`] watches.
pub const MAX_DETECTOR_FREQS: usize = 8;

/// Measures a few frequencies in blocks of samples and says which of them dominate.
#[derive(Clone, Debug)]
pub struct ToneDetector {
    rate: SampleRate,
    freqs: [f32; MAX_DETECTOR_FREQS],
    len: usize,
}

/// What [`ToneDetector::analyze`] found in one block.
#[derive(Clone, Debug)]
pub struct ToneReport {
    freqs: [f32; MAX_DETECTOR_FREQS],
    levels: [f64; MAX_DETECTOR_FREQS],
    len: usize,
    total_dbfs: f64,
}

/// A frequency dominates a block when it carries at least a tenth of the block's power...
const DOMINANT_SHARE_DB: f64 = -10.0;
/// ...and is louder than this.
const DOMINANT_FLOOR_DBFS: f64 = -60.0;

impl ToneDetector {
    /// Watches `freqs` (the first [`MAX_DETECTOR_FREQS`] of them) in audio at `rate`.
    pub fn new(rate: SampleRate, freqs: &[f32]) -> ToneDetector {
        let len = freqs.len().min(MAX_DETECTOR_FREQS);
        let mut all = [0.0; MAX_DETECTOR_FREQS];
        all[..len].copy_from_slice(&freqs[..len]);
        ToneDetector {
            rate,
            freqs: all,
            len,
        }
    }

    pub fn analyze(&self, block: &[i16]) -> ToneReport {
        let mut levels = [f64::NEG_INFINITY; MAX_DETECTOR_FREQS];
        for (l, &f) in levels.iter_mut().zip(&self.freqs[..self.len]) {
            *l = 10.0 * goertzel_power(block, self.rate, f).log10();
        }
        ToneReport {
            freqs: self.freqs,
            levels,
            len: self.len,
            total_dbfs: block_dbfs(block),
        }
    }
}

impl ToneReport {
    /// The level of a watched frequency in dBFS.
    pub fn level_dbfs(&self, freq: f32) -> Option<f64> {
        let i = self.freqs[..self.len].iter().position(|&f| f == freq)?;
        Some(self.levels[i])
    }

    /// The level of the whole block in dBFS.
    pub fn total_dbfs(&self) -> f64 {
        self.total_dbfs
    }

    /// The watched frequencies that carry at least a tenth of the block's power (so a pure
    /// tone or the two sines of a dual tone dominate; speech and noise leave none), loudest
    /// first.
    pub fn dominant(&self) -> impl Iterator<Item = f32> + '_ {
        let mut order = [0usize, 1, 2, 3, 4, 5, 6, 7];
        let order = &mut order[..self.len];
        order.sort_by(|&a, &b| self.levels[b].total_cmp(&self.levels[a]));
        let picked: [Option<f32>; MAX_DETECTOR_FREQS] = std::array::from_fn(|k| {
            let i = *order.get(k)?;
            let l = self.levels[i];
            (l >= self.total_dbfs + DOMINANT_SHARE_DB && l >= DOMINANT_FLOOR_DBFS)
                .then_some(self.freqs[i])
        });
        picked.into_iter().flatten()
    }

    /// Whether exactly these frequencies dominate (in any order).
    pub fn is(&self, freqs: &[f32]) -> bool {
        let mut n = 0;
        for f in self.dominant() {
            if !freqs.contains(&f) {
                return false;
            }
            n += 1;
        }
        n == freqs.len()
    }
}
