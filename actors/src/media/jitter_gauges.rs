//! Where the open sessions' input jitter buffers stand, per media thread and codec, published
//! with the thread's load once a second (`switchboard_media_jitter_*`): an operator sees
//! whether the buffers hold more than the network's jitter asks for.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::gauge::Gauge;
use switchboard_engine::media::session::{JitterFigures, Session};
use switchboard_engine::media::{Codec, Side};

use crate::metrics::{JitterLabel, Metrics};

/// The codecs with gauges of their own; any other is summed under `other`.
const NAMES: [&str; 4] = ["PCMU", "PCMA", "G722", "other"];

fn index(c: Codec) -> usize {
    match c {
        Codec::Pcmu => 0,
        Codec::Pcma => 1,
        Codec::G722 => 2,
        Codec::L16(_) => 3,
    }
}

#[derive(Default, Clone, Copy)]
struct Sum {
    n: u64,
    target_us: u64,
    max_us: u64,
    delay_us: u64,
    grown: u64,
    shrunk: u64,
}

impl Sum {
    fn add(&mut self, f: &JitterFigures) {
        let t = f.target.as_micros() as u64;
        self.n += 1;
        self.target_us += t;
        self.max_us = self.max_us.max(t);
        self.delay_us += f.delay.as_micros() as u64;
        self.grown += f.grown;
        self.shrunk += f.shrunk;
    }
}

struct Gauges {
    max: Gauge<f64, AtomicU64>,
    mean: Gauge<f64, AtomicU64>,
    delay: Gauge<f64, AtomicU64>,
    grown: Gauge,
    shrunk: Gauge,
}

/// The gauges of one media thread (made when the thread starts: publishing allocates nothing).
pub(super) struct JitterGauges {
    gauges: [Gauges; 4],
    sums: [Sum; 4],
}

impl JitterGauges {
    pub(super) fn new(thread: usize, metrics: &Metrics) -> JitterGauges {
        let gauges = NAMES.map(|codec| {
            let l = JitterLabel {
                thread: thread as u32,
                codec: codec.to_string(),
            };
            Gauges {
                max: metrics.media_jitter_target_max.get_or_create(&l).clone(),
                mean: metrics.media_jitter_target_mean.get_or_create(&l).clone(),
                delay: metrics.media_jitter_delay_mean.get_or_create(&l).clone(),
                grown: metrics.media_jitter_grown.get_or_create(&l).clone(),
                shrunk: metrics.media_jitter_shrunk.get_or_create(&l).clone(),
            }
        });
        JitterGauges {
            gauges,
            sums: [Sum::default(); 4],
        }
    }

    /// Counts one session's buffers.
    pub(super) fn add(&mut self, s: &Session) {
        for side in [Side::Caller, Side::Callee] {
            if let Some(f) = s.jitter_figures(side) {
                self.sums[index(f.codec)].add(&f);
            }
        }
    }

    /// Publishes what `add` counted since the last time, and starts over.
    pub(super) fn publish(&mut self) {
        for (g, s) in self.gauges.iter().zip(self.sums.iter_mut()) {
            let n = s.n.max(1);
            g.max.set(s.max_us as f64 / 1e6);
            g.mean.set((s.target_us / n) as f64 / 1e6);
            g.delay.set((s.delay_us / n) as f64 / 1e6);
            g.grown.set(s.grown as i64);
            g.shrunk.set(s.shrunk as i64);
            *s = Sum::default();
        }
    }
}
