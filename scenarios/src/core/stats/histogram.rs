//! Log-linear latency histogram (HdrHistogram's bucket layout, without its dependency).
//!
//! Values are whole microseconds. Below `2^bits` µs every microsecond has its own bucket;
//! above, each power of two is cut into `2^(bits-1)` equal buckets, so a bucket's width is at
//! most `1 / 2^(bits-1)` of its lower bound. Queries answer with the bucket's midpoint, so
//! the error is at most half of that. Values above [`MAX_TRACKED`] share the last bucket (the
//! exact maximum is kept apart).

use std::fmt;
use std::time::Duration;

/// Values above this land in the last bucket: 2^26 µs ≈ 67 s.
pub const MAX_TRACKED: Duration = Duration::from_micros((1 << 26) - 1);

/// Precision of [`Histogram::new`]: 64 buckets per power of two (width ≤ 1.6 %, error of a
/// query ≤ 0.8 %); 1 344 buckets, 10.5 KiB.
const FINE_BITS: u32 = 7;
/// Precision of [`Histogram::coarse`]: 8 buckets per power of two (error ≤ 6.25 %); 192
/// buckets, 1.5 KiB. Used for per-second latencies, where there is one histogram per kind
/// and second of the run.
const COARSE_BITS: u32 = 4;

/// Latency histogram: log-linear buckets from 1 µs to ~67 s, fixed memory (allocated once by
/// the constructor), mergeable, percentile queries. Recording never allocates.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    bits: u32,
    counts: Box<[u64]>,
    count: u64,
    sum_nanos: u128,
    max: Duration,
}

impl Histogram {
    /// A histogram with ~1 % precision (see [`FINE_BITS`]).
    pub fn new() -> Self {
        Self::with_bits(FINE_BITS)
    }

    /// A smaller histogram with ~6 % precision, for one second of one kind in the timeline.
    pub fn coarse() -> Self {
        Self::with_bits(COARSE_BITS)
    }

    fn with_bits(bits: u32) -> Self {
        let len = index(MAX_TRACKED.as_micros() as u64, bits) + 1;
        Histogram {
            bits,
            counts: vec![0; len].into_boxed_slice(),
            count: 0,
            sum_nanos: 0,
            max: Duration::ZERO,
        }
    }

    /// Counts one latency.
    pub fn record(&mut self, d: Duration) {
        let us = d.min(MAX_TRACKED).as_micros() as u64;
        self.counts[index(us, self.bits)] += 1;
        self.count += 1;
        self.sum_nanos += d.as_nanos();
        self.max = self.max.max(d);
    }

    /// Adds every sample of `o`. Same precision: bucket by bucket; otherwise each of `o`'s
    /// buckets is re-recorded at its midpoint.
    pub fn merge(&mut self, o: &Histogram) {
        if o.bits == self.bits {
            for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
                *a += b;
            }
        } else {
            for (i, &n) in o.counts.iter().enumerate().filter(|(_, &n)| n > 0) {
                let us = midpoint(i, o.bits);
                self.counts[index(us, self.bits)] += n;
            }
        }
        self.count += o.count;
        self.sum_nanos += o.sum_nanos;
        self.max = self.max.max(o.max);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The latency at or below which `p` percent (0..=100) of the samples are, to the
    /// histogram's precision and never above [`Histogram::max`]; zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        if p >= 100.0 {
            return self.max;
        }
        // nearest-rank: the smallest sample with at least p % of the samples at or below it
        let rank = ((p.max(0.0) / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(midpoint(i, self.bits)).min(self.max);
            }
        }
        self.max
    }

    /// The largest sample, exact.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The mean of the samples, exact; zero when empty.
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let nanos = self.sum_nanos / u128::from(self.count);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max)
            .finish()
    }
}

/// The bucket of `us` microseconds.
fn index(us: u64, bits: u32) -> usize {
    let linear = 1u64 << bits;
    if us < linear {
        return us as usize;
    }
    let half = linear >> 1;
    let msb = 63 - us.leading_zeros();
    let shift = msb - (bits - 1);
    let sub = us >> shift; // in half..linear
    (linear + u64::from(msb - bits) * half + (sub - half)) as usize
}

/// The middle of bucket `i`, in microseconds.
fn midpoint(i: usize, bits: u32) -> u64 {
    let linear = 1u64 << bits;
    let i = i as u64;
    if i < linear {
        return i;
    }
    let half = linear >> 1;
    let j = i - linear;
    let msb = bits as u64 + j / half;
    let shift = msb - (bits as u64 - 1);
    let low = (half + j % half) << shift;
    low + ((1u64 << shift) >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn within(actual: Duration, expected: Duration, ratio: f64) -> bool {
        let (a, e) = (actual.as_secs_f64(), expected.as_secs_f64());
        (a - e).abs() <= e * ratio
    }

    #[test]
    fn buckets_are_contiguous_and_midpoints_fall_inside_them() {
        for bits in [FINE_BITS, COARSE_BITS] {
            let mut last = 0;
            for us in 0..300_000u64 {
                let i = index(us, bits);
                assert!(i == last || i == last + 1, "gap at {us} µs");
                last = i;
                assert_eq!(index(midpoint(i, bits), bits), i, "midpoint of {i}");
            }
        }
    }

    #[test]
    fn uniform_1_to_1000_ms_gives_p50_500_and_p99_990_within_2_percent() {
        let mut h = Histogram::new();
        for n in 1..=1000 {
            h.record(ms(n));
        }
        assert_eq!(h.count(), 1000);
        assert!(
            within(h.percentile(50.0), ms(500), 0.02),
            "{:?}",
            h.percentile(50.0)
        );
        assert!(
            within(h.percentile(95.0), ms(950), 0.02),
            "{:?}",
            h.percentile(95.0)
        );
        assert!(
            within(h.percentile(99.0), ms(990), 0.02),
            "{:?}",
            h.percentile(99.0)
        );
        assert_eq!(h.max(), ms(1000));
        assert_eq!(h.mean(), Duration::from_micros(500_500));
        assert_eq!(h.percentile(100.0), ms(1000));
    }

    #[test]
    fn microsecond_latencies_are_exact_and_minute_ones_within_1_percent() {
        let mut h = Histogram::new();
        for us in [3, 3, 7, 90] {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.percentile(50.0), Duration::from_micros(3));
        assert_eq!(h.percentile(75.0), Duration::from_micros(7));
        let mut h = Histogram::new();
        h.record(Duration::from_secs(59));
        h.record(Duration::from_secs(61));
        assert!(within(h.percentile(50.0), Duration::from_secs(59), 0.01));
        assert_eq!(h.max(), Duration::from_secs(61));
    }

    #[test]
    fn a_bimodal_distribution_keeps_both_modes() {
        let mut h = Histogram::new();
        for i in 0..900 {
            h.record(Duration::from_micros(2_000 + i));
        }
        for i in 0..100 {
            h.record(ms(400 + i));
        }
        assert!(within(
            h.percentile(50.0),
            Duration::from_micros(2_499),
            0.02
        ));
        assert!(within(h.percentile(95.0), ms(449), 0.02));
    }

    #[test]
    fn merge_equals_recording_both() {
        let (mut a, mut b, mut both) = (Histogram::new(), Histogram::new(), Histogram::new());
        for n in 0..5_000u64 {
            let d = Duration::from_micros(n * n % 3_000_001);
            if n % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            both.record(d);
        }
        a.merge(&b);
        assert_eq!(a, both);
    }

    #[test]
    fn a_coarse_histogram_merges_into_a_fine_one_within_its_precision() {
        let mut coarse = Histogram::coarse();
        for n in 1..=1000 {
            coarse.record(ms(n));
        }
        let mut fine = Histogram::new();
        fine.merge(&coarse);
        assert_eq!(fine.count(), 1000);
        assert!(within(fine.percentile(50.0), ms(500), 0.07));
        assert!(within(coarse.percentile(99.0), ms(990), 0.07));
    }

    #[test]
    fn an_empty_histogram_answers_zero() {
        let h = Histogram::new();
        assert_eq!(h.percentile(99.0), Duration::ZERO);
        assert_eq!(h.mean(), Duration::ZERO);
        assert_eq!(h.count(), 0);
    }
}
