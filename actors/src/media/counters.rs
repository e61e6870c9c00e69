//! What a media thread counts: plain integers per packet, added to the shared metrics once a
//! second (a shared atomic per packet would bounce a cache line between the threads).

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use switchboard_engine::media::session::DropReason;

use crate::metrics::{Metrics, ReasonLabel};

/// Reasons a packet was not sent on, beyond the session's: the send itself failed.
const SEND_FAILED: usize = DropReason::ALL.len();

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) relayed: u64,
    pub(super) framed: u64,
    /// Session deadlines run, and those run more than a frame late.
    pub(super) ticks: u64,
    pub(super) late_ticks: u64,
    /// ICMP errors connected sockets reported (and the thread passed over).
    pub(super) icmp: u64,
    dropped: [u64; SEND_FAILED + 1],
}

/// The shared counters a thread adds to.
pub(super) struct Sinks {
    relayed: Counter,
    framed: Counter,
    ticks: Counter,
    late_ticks: Counter,
    icmp: Counter,
    dropped: [Counter; SEND_FAILED + 1],
}

impl Counters {
    pub(super) fn dropped(&mut self, r: DropReason) {
        let i = DropReason::ALL.iter().position(|&x| x == r).unwrap_or(0);
        self.dropped[i] += 1;
    }

    pub(super) fn send_failed(&mut self) {
        self.dropped[SEND_FAILED] += 1;
    }

    /// Adds what was counted to the metrics and starts over.
    pub(super) fn flush(&mut self, to: &Sinks) {
        to.relayed.inc_by(std::mem::take(&mut self.relayed));
        to.framed.inc_by(std::mem::take(&mut self.framed));
        to.ticks.inc_by(std::mem::take(&mut self.ticks));
        to.late_ticks.inc_by(std::mem::take(&mut self.late_ticks));
        to.icmp.inc_by(std::mem::take(&mut self.icmp));
        for (n, c) in self.dropped.iter_mut().zip(&to.dropped) {
            if *n > 0 {
                c.inc_by(std::mem::take(n));
            }
        }
    }
}

impl Sinks {
    pub(super) fn of(m: &Arc<Metrics>) -> Sinks {
        let reason = |i: usize| {
            let reason = DropReason::ALL.get(i).map_or("send_failed", |r| r.as_str());
            m.media_dropped
                .get_or_create(&ReasonLabel { reason })
                .clone()
        };
        Sinks {
            relayed: m.media_relayed.clone(),
            framed: m.media_frame_packets.clone(),
            ticks: m.media_ticks.clone(),
            late_ticks: m.media_late_ticks.clone(),
            icmp: m.media_icmp_errors.clone(),
            dropped: std::array::from_fn(reason),
        }
    }
}
