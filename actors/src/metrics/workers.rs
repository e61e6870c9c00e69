//! What the signalling workers report about their own sockets: the datagrams each read, so
//! an operator sees whether one worker takes the whole load (one busy peer with
//! `sip.udp_spread = "flow"`) or the workers share it.
//!
//! One atomic add per datagram on a counter each worker looks up once.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A signalling worker, by index.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabel {
    pub worker: u32,
}

/// The workers' metrics (`switchboard_sip_datagrams_read_total`).
#[derive(Default)]
pub struct WorkerMetrics {
    /// UDP datagrams each worker read from its own sockets (keep-alives included).
    pub datagrams_read: Family<WorkerLabel, Counter>,
}

impl WorkerMetrics {
    /// Adds every metric to `r` (prefixed `switchboard_` by the registry).
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "sip_datagrams_read",
            "UDP datagrams each signalling worker read from its sockets",
            self.datagrams_read.clone(),
        );
    }

    /// The counter of worker `worker`, to keep and add to.
    pub fn datagrams_read(&self, worker: usize) -> Counter {
        self.datagrams_read
            .get_or_create(&WorkerLabel {
                worker: worker as u32,
            })
            .clone()
    }
}
