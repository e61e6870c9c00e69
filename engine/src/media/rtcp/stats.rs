//! Per-leg RTP statistics: what a receiver measures about one source and what a sender counts
//! for its SRs (RFC 3550 §6.4, Appendix A.1, A.3, A.8).
//!
//! Drive [`ReceptionStats`] with every RTP packet of the source (`on_packet`) and every SR it
//! sends (`on_sender_report`); take a report block when an RTCP report is due
//! (`report_block`, which closes the loss interval) and an operator's view at any time
//! (`summary`). Integer arithmetic as in the appendix; no allocation.

use std::time::{Duration, Instant};

use super::{to_short_units, NtpTime, ReportBlock, SenderInfo};
use crate::media::rtp::{RtpTimestamp, Seq, Ssrc};

/// Consecutive packets needed before a new source counts as valid (A.1 `MIN_SEQUENTIAL`).
const MIN_SEQUENTIAL: u16 = 2;
/// Largest forward jump still taken as loss rather than a restart (A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u16 = 3000;
/// Largest backward step still taken as reordering (A.1 `MAX_MISORDER`).
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// What Appendix A.1 made of a packet's sequence number.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SeqCheck {
    /// Counted: in order, reordered, duplicated, or the first of a confirmed restart.
    Valid,
    /// The source is still on probation (fewer than 2 packets in sequence so far).
    Probation,
    /// A jump too large to believe; a second packet following it on confirms a restart.
    Invalid,
}

/// Reception statistics for one source (RFC 3550 Appendix A.1 `source`, A.3, A.8).
#[derive(Clone, Debug)]
pub struct ReceptionStats {
    ssrc: Ssrc,
    clock_rate: u32,
    started: bool,
    max_seq: u16,
    /// Shifted count of sequence number cycles (A.1 `cycles`).
    cycles: u32,
    base_seq: u32,
    /// Last 'bad' sequence number + 1; 2^16 + 1 means none.
    bad_seq: u32,
    probation: u16,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, `None` right after (re)start.
    transit: Option<u32>,
    /// Jitter estimate in RTP units times 16 (A.8).
    jitter: u32,
    last_fraction: u8,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

/// The reception of one leg in the terms an operator reads.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ReceptionSummary {
    pub received: u64,
    pub expected: u64,
    /// Expected minus received: negative when duplicates outnumber losses.
    pub lost: i64,
    /// Loss over the last report interval, between 0 and 1.
    pub fraction_lost: f32,
    /// Interarrival jitter (A.8).
    pub jitter: Duration,
}

impl ReceptionSummary {
    /// Loss since the start as a fraction of expected packets.
    pub fn loss_ratio(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost.max(0) as f64 / self.expected as f64
        }
    }

    pub fn jitter_ms(&self) -> f64 {
        self.jitter.as_secs_f64() * 1_000.0
    }
}

impl ReceptionStats {
    /// Statistics for `ssrc`, whose RTP clock runs at `clock_rate` Hz.
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> ReceptionStats {
        ReceptionStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            started: false,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0,
            last_fraction: 0,
            last_sr: None,
        }
    }

    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Counts one packet: its sequence number, RTP timestamp and arrival time expressed on the
    /// same RTP clock (any origin; only differences matter).
    pub fn on_packet(&mut self, seq: Seq, ts: RtpTimestamp, arrival: RtpTimestamp) -> SeqCheck {
        if !self.started {
            // A.1: a new source starts on probation, as if the packet before this one was seen
            self.init_seq(seq.0);
            self.max_seq = seq.0.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
            self.started = true;
        }
        let check = self.update_seq(seq.0);
        if check == SeqCheck::Valid {
            self.update_jitter(ts, arrival);
        }
        check
    }

    /// Notes an SR from this source received at `now`, for the LSR and DLSR fields.
    pub fn on_sender_report(&mut self, ntp: NtpTime, now: Instant) {
        self.last_sr = Some((ntp.middle32(), now));
    }

    /// The report block about this source for an RTCP report sent at `now`. Closes the loss
    /// interval (A.3): the next block's fraction covers the packets from now on.
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        self.last_fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            // lost_interval <= expected_interval, so the quotient fits 8 bits except at 256
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, to_short_units(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: self.last_fraction,
            cumulative_lost: self.cumulative_lost(),
            highest_seq: self.extended_max(),
            jitter: self.jitter >> 4,
            last_sr,
            delay_since_last_sr,
        }
    }

    /// The statistics so far, without closing the interval.
    pub fn summary(&self) -> ReceptionSummary {
        let expected = if self.received == 0 {
            0
        } else {
            u64::from(self.expected())
        };
        ReceptionSummary {
            received: u64::from(self.received),
            expected,
            lost: expected as i64 - i64::from(self.received),
            fraction_lost: f32::from(self.last_fraction) / 256.0,
            jitter: Duration::from_nanos(
                u64::from(self.jitter >> 4) * 1_000_000_000 / u64::from(self.clock_rate),
            ),
        }
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        if self.received == 0 {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// A.3: expected minus received, clamped to the 24-bit signed field.
    fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.transit = None;
    }

    /// A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> SeqCheck {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqCheck::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqCheck::Probation;
        } else if udelta < MAX_DROPOUT {
            // in order, with a permissible gap
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            // a very large jump: believe it only if the next packet follows on
            if u32::from(seq) == self.bad_seq {
                // the source restarted without telling us: start over from this packet
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SeqCheck::Invalid;
            }
        }
        // else a duplicate or reordered packet: counted, max_seq unchanged
        self.received += 1;
        SeqCheck::Valid
    }

    /// A.8: J += (|D| - J) / 16, with J kept times 16 in integers.
    fn update_jitter(&mut self, ts: RtpTimestamp, arrival: RtpTimestamp) {
        let transit = arrival.0.wrapping_sub(ts.0);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            self.jitter = self
                .jitter
                .wrapping_add(d)
                .wrapping_sub((self.jitter + 8) >> 4);
        }
        self.transit = Some(transit);
    }
}

/// What a sender counts for its SRs (RFC 3550 §6.4.1 sender info).
#[derive(Clone, Debug, Default)]
pub struct SenderStats {
    packets: u32,
    octets: u32,
}

impl SenderStats {
    pub fn new() -> SenderStats {
        SenderStats::default()
    }

    /// Counts one packet sent with `payload_len` payload octets (header and padding
    /// excluded, §6.4.1).
    pub fn on_sent(&mut self, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
    }

    pub fn packets(&self) -> u32 {
        self.packets
    }

    pub fn octets(&self) -> u32 {
        self.octets
    }

    /// Sender info for an SR sent at wall-clock `ntp`, which is `rtp_timestamp` on the
    /// stream's RTP clock.
    pub fn sender_info(&self, ntp: NtpTime, rtp_timestamp: RtpTimestamp) -> SenderInfo {
        SenderInfo {
            ntp,
            rtp_timestamp,
            packets: self.packets,
            octets: self.octets,
        }
    }

    /// Whether anything was sent (a leg that sent nothing sends RR, not SR).
    pub fn has_sent(&self) -> bool {
        self.packets > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::Entropy;

    const CLOCK: u32 = 8_000;

    /// Feeds `seqs` as 20 ms packets arriving exactly on time; returns the checks.
    fn feed(s: &mut ReceptionStats, seqs: impl IntoIterator<Item = u16>) -> Vec<SeqCheck> {
        seqs.into_iter()
            .map(|q| {
                let ts = RtpTimestamp(u32::from(q).wrapping_mul(160));
                s.on_packet(Seq(q), ts, ts.wrapping_add(1000))
            })
            .collect()
    }

    #[test]
    fn a_new_source_needs_two_packets_in_sequence() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        assert_eq!(feed(&mut s, [10]), [SeqCheck::Probation]);
        assert_eq!(feed(&mut s, [11, 12]), [SeqCheck::Valid, SeqCheck::Valid]);
        let sum = s.summary();
        assert_eq!((sum.received, sum.expected, sum.lost), (2, 2, 0));

        // out of sequence during probation restarts it
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        assert_eq!(
            feed(&mut s, [10, 20, 21]),
            [SeqCheck::Probation, SeqCheck::Probation, SeqCheck::Valid]
        );
    }

    #[test]
    fn loss_counts_across_the_sequence_wrap() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        // 65000..=65535 then 0..=999, every tenth lost
        let seqs = (65_000u32..66_536)
            .filter(|q| q % 10 != 3)
            .map(|q| (q % 65_536) as u16);
        feed(&mut s, seqs);
        let now = Instant::now();
        let b = s.report_block(now);
        assert_eq!(b.highest_seq, 65_536 + 999, "one cycle counted");
        // the first packet (65000) only opened probation; counting starts at 65001
        let expected = 66_535 - 65_001 + 1;
        let lost = (65_001u32..66_536).filter(|q| q % 10 == 3).count() as i32;
        assert_eq!(b.cumulative_lost, lost);
        assert_eq!(s.summary().expected, expected);
        assert_eq!(b.fraction_lost, (lost as u32 * 256 / expected as u32) as u8);
    }

    #[test]
    fn fraction_lost_covers_only_the_last_interval() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        let t = Instant::now();
        feed(&mut s, 0..=100);
        assert_eq!(s.report_block(t).fraction_lost, 0);
        // 100 expected in the next interval, 25 lost
        feed(&mut s, (101..=200).filter(|q| q % 4 != 1));
        let b = s.report_block(t);
        assert_eq!(b.fraction_lost, 64);
        assert_eq!(b.cumulative_lost, 25);
        assert!((s.summary().fraction_lost - 0.25).abs() < 1e-6);
        // duplicates make an interval's loss negative: reported as 0
        feed(&mut s, [201, 201, 202, 202]);
        assert_eq!(s.report_block(t).fraction_lost, 0);
        assert_eq!(s.summary().lost, 23);
    }

    #[test]
    fn reordered_and_duplicate_packets_are_counted_without_moving_the_highest() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        feed(&mut s, [1, 2, 3, 5, 4, 5]);
        let b = s.report_block(Instant::now());
        assert_eq!(b.highest_seq, 5);
        assert_eq!(s.summary().received, 5, "2,3,5,4,5");
        assert_eq!(b.cumulative_lost, -1, "a duplicate outnumbers the losses");
    }

    #[test]
    fn a_large_jump_needs_a_second_packet_to_restart_the_count() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        feed(&mut s, 100..200);
        assert_eq!(feed(&mut s, [40_000]), [SeqCheck::Invalid]);
        assert_eq!(
            feed(&mut s, [201]),
            [SeqCheck::Valid],
            "a stray packet does not restart"
        );
        assert_eq!(
            feed(&mut s, [50_000, 50_001]),
            [SeqCheck::Invalid, SeqCheck::Valid]
        );
        let sum = s.summary();
        assert_eq!((sum.received, sum.expected), (1, 1), "counting starts over");
        // a step back within MAX_MISORDER is reordering, beyond it a jump
        assert_eq!(feed(&mut s, [49_950]), [SeqCheck::Valid]);
        assert_eq!(feed(&mut s, [49_000]), [SeqCheck::Invalid]);
    }

    #[test]
    fn jitter_follows_appendix_a8_and_reads_in_milliseconds() {
        let mut s = ReceptionStats::new(Ssrc(1), CLOCK);
        let mut e = Entropy::seeded(7);
        let mut reference = 0f64;
        let mut prev_transit: Option<i64> = None;
        for q in 0u16..2000 {
            let ts = u32::from(q) * 160;
            // arrival jitter uniform in 0..=240 units (0-30 ms)
            let delay = (e.next_u64() % 241) as u32;
            let arrival = ts + 5_000 + delay;
            if s.on_packet(Seq(q), RtpTimestamp(ts), RtpTimestamp(arrival)) != SeqCheck::Valid {
                continue;
            }
            let transit = i64::from(arrival) - i64::from(ts);
            if let Some(p) = prev_transit {
                reference += ((transit - p).abs() as f64 - reference) / 16.0;
            }
            prev_transit = Some(transit);
        }
        let b = s.report_block(Instant::now());
        assert!(
            (f64::from(b.jitter) - reference).abs() <= 2.0,
            "{} vs {reference}",
            b.jitter
        );
        // E|X-Y| for X, Y uniform on 0..=240 is 80 units = 10 ms
        let ms = s.summary().jitter_ms();
        assert!((7.0..13.0).contains(&ms), "{ms}");
        assert_eq!(b.jitter_at(CLOCK), s.summary().jitter);
    }

    #[test]
    fn report_blocks_carry_lsr_and_the_delay_since() {
        let mut s = ReceptionStats::new(Ssrc(9), CLOCK);
        let t0 = Instant::now();
        assert_eq!(s.report_block(t0).last_sr, 0);
        let ntp = NtpTime(0x0000_1234_5678_0000);
        s.on_sender_report(ntp, t0);
        let b = s.report_block(t0 + Duration::from_millis(500));
        assert_eq!(b.ssrc, Ssrc(9));
        assert_eq!(b.last_sr, 0x1234_5678);
        assert_eq!(b.delay_since_last_sr, 32_768);
    }

    #[test]
    fn sender_stats_count_payload_octets_and_wrap() {
        let mut s = SenderStats::new();
        assert!(!s.has_sent());
        for _ in 0..3 {
            s.on_sent(160);
        }
        let i = s.sender_info(NtpTime(5), RtpTimestamp(480));
        assert_eq!((i.packets, i.octets), (3, 480));
        assert_eq!(i.rtp_timestamp, RtpTimestamp(480));
        s.octets = u32::MAX;
        s.on_sent(2);
        assert_eq!(s.octets(), 1);
    }
}
