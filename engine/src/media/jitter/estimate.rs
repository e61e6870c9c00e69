//! The arrival jitter estimate that sets a buffer's target delay.

use std::time::{Duration, Instant};

use crate::media::rtp::RtpTimestamp;

/// Decay of the estimate per packet below it: 1/256 of the difference (about 5 s).
const JITTER_DECAY: i64 = 256;

/// Arrival jitter as a peak follower over |transit difference| of consecutive packets
/// (the RFC 3550 §6.4.1 D), rising halfway to every larger sample and decaying slowly.
#[derive(Clone, Debug)]
pub(super) struct JitterEstimate {
    clock_rate: i64,
    prev: Option<(Instant, RtpTimestamp)>,
    /// Microseconds.
    estimate: i64,
}

impl JitterEstimate {
    pub(super) fn new(clock_rate: u32) -> JitterEstimate {
        JitterEstimate {
            clock_rate: i64::from(clock_rate),
            prev: None,
            estimate: 0,
        }
    }

    /// Takes this packet as the reference for the next one without a sample (new source or
    /// timestamp base), keeping the estimate.
    pub(super) fn restart(&mut self, now: Instant, ts: RtpTimestamp) {
        self.prev = Some((now, ts));
    }

    pub(super) fn forget(&mut self) {
        self.prev = None;
    }

    /// One sample: how much this packet's transit time differs from the previous one's
    /// (in arrival order, as RFC 3550 Appendix A.8 does).
    pub(super) fn on_arrival(&mut self, now: Instant, ts: RtpTimestamp, cap: Duration) {
        if let Some((at, prev_ts)) = self.prev {
            let da = now.saturating_duration_since(at).as_micros() as i64;
            let dts = i64::from(prev_ts.distance_to(ts)) * 1_000_000 / self.clock_rate;
            let sample = (da - dts).abs().min(cap.as_micros() as i64);
            if sample > self.estimate {
                self.estimate += (sample - self.estimate + 1) / 2;
            } else {
                self.estimate -= (self.estimate - sample) / JITTER_DECAY;
            }
        }
        self.prev = Some((now, ts));
    }

    pub(super) fn estimate(&self) -> Duration {
        Duration::from_micros(self.estimate.max(0) as u64)
    }
}
