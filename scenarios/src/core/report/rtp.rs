//! The RTP part of a report: packets sent, received, lost and late over the call legs, the
//! worst leg, and where the legs' media came from (the switch's relay or the other phone),
//! with the same figures for each origin, so a run of anchored calls shows the quality of
//! the relayed media on its own.

use std::fmt::Write as _;

use serde::Serialize;

use crate::core::stats::{Origin, Recorder, RtpTotals};

/// RTP over call legs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RtpReport {
    /// Over all legs.
    #[serde(flatten)]
    pub all: RtpQuality,
    /// Share of legs whose packets all came from the switch's relay (`by_origin.relayed`);
    /// 0 with no legs.
    pub anchored_ratio: f64,
    pub by_origin: RtpOrigins,
}

/// The legs of each origin (`crate::core::stats::Origin`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RtpOrigins {
    /// Every packet from the address in the other side's SDP, not the other phone's socket.
    pub relayed: RtpQuality,
    /// Every packet from the other phone's own socket.
    pub direct: RtpQuality,
    /// Packets from both, from a third address, or from an address that could not be told.
    pub other: RtpQuality,
    /// No packet at all (counted as all lost).
    pub silent: RtpQuality,
}

/// Packets of a set of legs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RtpQuality {
    pub legs: u64,
    /// Packets the legs sent.
    pub sent: u64,
    /// Packets expected (a silent leg expected as many as it sent).
    pub expected: u64,
    pub received: u64,
    /// `(expected - received) / expected`; 0 with nothing expected.
    pub lost_ratio: f64,
    /// `late / received` (more than 40 ms past their playout time); 0 with nothing received.
    pub late_ratio: f64,
    /// The highest loss and late ratios of one leg.
    pub worst_leg_lost_ratio: f64,
    pub worst_leg_late_ratio: f64,
}

impl RtpReport {
    pub(super) fn new(recorder: &Recorder) -> RtpReport {
        let all = recorder.rtp_totals();
        let of = |o| RtpQuality::new(&recorder.rtp_of(o));
        RtpReport {
            all: RtpQuality::new(&all),
            anchored_ratio: anchored_ratio(recorder),
            by_origin: RtpOrigins {
                relayed: of(Origin::Relayed),
                direct: of(Origin::Direct),
                other: of(Origin::Other),
                silent: of(Origin::Silent),
            },
        }
    }

    /// The terminal's RTP lines (none without legs).
    pub(super) fn write_summary(&self, out: &mut String) {
        let r = &self.all;
        if r.legs == 0 {
            return;
        }
        let _ = writeln!(
            out,
            "rtp: {} legs, {} packets sent, {} expected, {:.3} % lost, {:.3} % late \
             (worst leg {:.3} % lost, {:.3} % late)",
            r.legs,
            r.sent,
            r.expected,
            r.lost_ratio * 100.0,
            r.late_ratio * 100.0,
            r.worst_leg_lost_ratio * 100.0,
            r.worst_leg_late_ratio * 100.0
        );
        let o = &self.by_origin;
        let _ = write!(
            out,
            "media anchored: {:.1} % of legs ({} relayed, {} direct, {} other, {} silent)",
            self.anchored_ratio * 100.0,
            o.relayed.legs,
            o.direct.legs,
            o.other.legs,
            o.silent.legs
        );
        if o.relayed.legs > 0 {
            let _ = write!(
                out,
                "; relayed: {:.3} % lost, {:.3} % late",
                o.relayed.lost_ratio * 100.0,
                o.relayed.late_ratio * 100.0
            );
        }
        out.push('\n');
    }

    /// Each origin's row, for the HTML table: name and figures.
    pub(super) fn rows(&self) -> [(&'static str, &RtpQuality); 4] {
        let o = &self.by_origin;
        [
            (Origin::Relayed.name(), &o.relayed),
            (Origin::Direct.name(), &o.direct),
            (Origin::Other.name(), &o.other),
            (Origin::Silent.name(), &o.silent),
        ]
    }
}

impl RtpQuality {
    fn new(t: &RtpTotals) -> RtpQuality {
        RtpQuality {
            legs: t.legs,
            sent: t.sent,
            expected: t.expected,
            received: t.received,
            lost_ratio: super::ratio(t.lost(), t.expected),
            late_ratio: super::ratio(t.late, t.received),
            worst_leg_lost_ratio: t.worst_lost_ratio,
            worst_leg_late_ratio: t.worst_late_ratio,
        }
    }
}

/// Relayed legs / legs; 0 with no legs.
pub(super) fn anchored_ratio(recorder: &Recorder) -> f64 {
    super::ratio(
        recorder.rtp_of(Origin::Relayed).legs,
        recorder.rtp_totals().legs,
    )
}
