//! One side of a session: what its SDP says, where its media comes from, what was received
//! from it, and the switch's own RTP stream towards it (SSRC, sequence numbers, timestamps,
//! DTMF out).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::latch::Latch;
use crate::entropy::Entropy;
use crate::media::dtmf::{DtmfReceiver, DtmfSender};
use crate::media::rtcp::ReceptionStats;
use crate::media::rtp::{PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc};
use crate::media::srtp::{SrtpContext, SrtpKeys};
use crate::media::{Codec, FRAME};

/// A side's media as its SDP (offer or answer) negotiated it, seen from the switch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Where its RTP goes until its first packet shows where it really is (`0.0.0.0:port`:
    /// on hold, RFC 2543 style: nothing is sent before it latches).
    pub remote: SocketAddr,
    pub remote_rtcp: SocketAddr,
    /// RTCP on the RTP ports (RFC 5761).
    pub rtcp_mux: bool,
    pub codec: Codec,
    /// The payload type the side expects for `codec`: what the switch sends it (7 bits;
    /// larger values are taken modulo 128, SDP never names them).
    pub payload_type: u8,
    /// The payload type the side sends `codec` with: the switch's own number when the switch
    /// made the offer (an answer may renumber a codec only for what its sender receives, RFC
    /// 3264 §6.1), else `payload_type`. Packets on either number are taken from the side.
    pub incoming_payload_type: u8,
    /// Its RFC 4733 telephone-event payload type, if negotiated (what the switch sends it).
    pub telephone_event: Option<u8>,
    /// The telephone-event payload type the side sends with (as `incoming_payload_type`).
    pub incoming_telephone_event: Option<u8>,
    /// The switch sends media to the side (false: the side put the call on hold, sendonly
    /// or inactive).
    pub sends: bool,
    /// The switch takes media from the side (false: recvonly or inactive; its packets are
    /// dropped).
    pub receives: bool,
    /// The side speaks SRTP (SDES): what it sends is unprotected with its key before anything
    /// else reads it, what it is sent is protected with the switch's key last.
    pub srtp: Option<SrtpKeys>,
}

impl StreamConfig {
    /// Whether the side is on hold in either direction.
    pub fn on_hold(&self) -> bool {
        !(self.sends && self.receives)
    }
}

/// What a received RTP packet of the side carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Payload {
    Audio,
    Event,
}

/// How long a telephone-event without its end packets counts as pressed.
const DTMF_END_TIMEOUT: Duration = Duration::from_secs(1);

/// Offsets that renumber one relayed source into the switch's stream toward a side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct RelayMap {
    pub(super) source: Ssrc,
    pub(super) seq: u16,
    pub(super) timestamp: u32,
}

/// One side's state.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) cfg: StreamConfig,
    pub(super) pt: PayloadType,
    pub(super) te: Option<PayloadType>,
    /// The numbers of what the side sends, when the switch's offer gave them.
    rx_pt: PayloadType,
    rx_te: Option<PayloadType>,
    pub(super) latch: Latch,
    reception: Option<ReceptionStats>,
    pub(super) counters: Counters,
    pub(super) last_rx: Option<Instant>,
    pub(super) dtmf_rx: Option<DtmfReceiver>,
    pub(super) dtmf_tx: Option<DtmfSender>,
    /// The switch's own stream to the side.
    pub(super) ssrc: Ssrc,
    seq: Seq,
    /// The switch has sent the side its own stream (a tone, transcoded audio): relayed
    /// packets are then renumbered into that stream (`relay::forward`), so the side hears one
    /// stream throughout, as its jitter buffer expects.
    pub(super) generated: bool,
    /// How relayed packets of one source map into the switch's stream toward the side.
    pub(super) relay_map: Option<RelayMap>,
    ts_base: u32,
    /// The last 20 ms frame of the switch's own stream: when it was made and its timestamp.
    last_frame: Option<(Instant, RtpTimestamp)>,
    /// The SRTP contexts when the side speaks SRTP (made by `configure`, kept while its keys
    /// stay the same so indexes and replay windows carry over a re-INVITE).
    pub(super) crypto: Option<Box<Crypto>>,
}

/// A side's SRTP: its packets in, the switch's packets out.
#[derive(Debug)]
pub(super) struct Crypto {
    keys: SrtpKeys,
    pub(super) inbound: SrtpContext,
    pub(super) outbound: SrtpContext,
}

impl Crypto {
    fn new(keys: SrtpKeys) -> Crypto {
        Crypto {
            keys,
            inbound: SrtpContext::new(keys.suite, &keys.inbound),
            outbound: SrtpContext::new(keys.suite, &keys.outbound),
        }
    }
}

/// Packet counts of one side.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub(super) rx_packets: u64,
    pub(super) rx_bytes: u64,
    pub(super) tx_packets: u64,
    pub(super) tx_bytes: u64,
    pub(super) relayed: u64,
    pub(super) spoofed: u64,
    pub(super) invalid: u64,
    pub(super) inactive: u64,
    pub(super) srtp: u64,
}

impl Stream {
    pub(super) fn new(cfg: StreamConfig, entropy: &mut Entropy) -> Stream {
        let r = entropy.next_u64();
        let mut s = Stream {
            cfg,
            pt: pt(cfg.payload_type),
            te: None,
            rx_pt: pt(cfg.incoming_payload_type),
            rx_te: None,
            latch: Latch::default(),
            reception: None,
            counters: Counters::default(),
            last_rx: None,
            dtmf_rx: None,
            dtmf_tx: None,
            ssrc: Ssrc(r as u32),
            seq: Seq((r >> 32) as u16),
            ts_base: entropy.next_u64() as u32,
            generated: false,
            relay_map: None,
            last_frame: None,
            crypto: None,
        };
        s.reconfigure(cfg);
        s
    }

    /// A new SDP for the side: learning opens again; statistics start over if the codec
    /// changed; the switch's own stream keeps its SSRC and numbering.
    pub(super) fn reconfigure(&mut self, cfg: StreamConfig) {
        if cfg.codec != self.cfg.codec {
            self.reception = None;
            self.last_frame = None;
        }
        let te = cfg.telephone_event.map(pt);
        let clock = cfg.codec.clock_rate();
        if te != self.te
            || cfg.codec.clock_rate() != self.cfg.codec.clock_rate()
            || self.dtmf_rx.is_none()
        {
            self.dtmf_rx = te.map(|t| DtmfReceiver::new(t, clock, DTMF_END_TIMEOUT));
            self.dtmf_tx = te.map(|t| DtmfSender::new(t, clock));
        }
        self.te = te;
        self.pt = pt(cfg.payload_type);
        self.rx_te = cfg.incoming_telephone_event.map(pt);
        self.rx_pt = pt(cfg.incoming_payload_type);
        match cfg.srtp {
            Some(keys) if self.crypto.as_ref().is_some_and(|c| c.keys == keys) => {}
            Some(keys) => self.crypto = Some(Box::new(Crypto::new(keys))),
            None => self.crypto = None,
        }
        self.cfg = cfg;
        self.latch.reset();
    }

    /// What a payload type of a packet from the side is, if it negotiated it: the numbers it
    /// was given to send with first, then those of its own description (a phone that sends
    /// on its answer's numbers).
    pub(super) fn classify(&self, p: PayloadType) -> Option<Payload> {
        if p == self.rx_pt {
            Some(Payload::Audio)
        } else if Some(p) == self.rx_te {
            Some(Payload::Event)
        } else if p == self.pt {
            Some(Payload::Audio)
        } else if Some(p) == self.te {
            Some(Payload::Event)
        } else {
            None
        }
    }

    /// Counts an RTP packet accepted from the side (RFC 3550 A.1/A.8 statistics on its
    /// source, restarted when the source changes).
    pub(super) fn on_rtp(&mut self, now: Instant, t0: Instant, p: &RtpPacket<'_>) {
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += p.payload().len() as u64;
        self.last_rx = Some(now);
        let clock = self.cfg.codec.clock_rate();
        let stats = match &mut self.reception {
            Some(s) if s.ssrc() == p.ssrc() => s,
            slot => slot.insert(ReceptionStats::new(p.ssrc(), clock)),
        };
        let arrival = units_since(t0, now, clock);
        stats.on_packet(p.seq(), p.timestamp(), RtpTimestamp(arrival));
    }

    /// The next sequence number of the switch's own stream to the side (the side hears the
    /// switch's stream from now on).
    pub(super) fn next_seq(&mut self) -> Seq {
        let s = self.seq;
        self.seq = s.next();
        self.generated = true;
        self.relay_map = None;
        s
    }

    /// The sequence number the switch's stream toward the side takes next.
    pub(super) fn peek_seq(&self) -> Seq {
        self.seq
    }

    /// A relayed packet went out as `seq` of the switch's stream: its own packets follow on.
    pub(super) fn relayed_as(&mut self, seq: Seq) {
        self.seq = seq.next();
        self.last_frame = None;
    }

    /// The switch's RTP clock towards the side at `at`.
    pub(super) fn clock(&self, t0: Instant, at: Instant) -> RtpTimestamp {
        RtpTimestamp(
            self.ts_base
                .wrapping_add(units_since(t0, at, self.cfg.codec.clock_rate())),
        )
    }

    /// The timestamp of a 20 ms frame of the switch's own stream made at `at`, and whether
    /// it follows the previous frame without a gap. The frames of one stream step by exactly
    /// one frame's units whatever clock made them (the frame tick, a mixer's push, both in
    /// turn): a frame made less than half a frame after the previous one was due follows it;
    /// a later one leaves out the whole frames missed (up to a second; after that, and for
    /// the first frame or the first after relayed packets, the wall clock).
    pub(super) fn frame_stamp(&mut self, t0: Instant, at: Instant) -> (RtpTimestamp, bool) {
        let units = self.cfg.codec.frame_timestamp_units();
        let (ts, follows) = match self.last_frame {
            Some((last_at, last_ts)) => {
                let late = at.saturating_duration_since(last_at + FRAME);
                if late < FRAME / 2 {
                    (last_ts.wrapping_add(units), true)
                } else if late < Duration::from_secs(1) {
                    let missed = ((late + FRAME / 2).as_micros() / FRAME.as_micros()) as u32;
                    (last_ts.wrapping_add(units.wrapping_mul(1 + missed)), false)
                } else {
                    (self.clock(t0, at), false)
                }
            }
            None => (self.clock(t0, at), false),
        };
        self.last_frame = Some((at, ts));
        (ts, follows)
    }

    /// A packet from the side, unprotected in place when it speaks SRTP: its plain length,
    /// or `None` (counted) when it fails authentication or is a replay.
    pub(super) fn open(&mut self, rtcp: bool, buf: &mut [u8], len: usize) -> Option<usize> {
        let Some(c) = &mut self.crypto else {
            return Some(len);
        };
        let opened = if rtcp {
            c.inbound.unprotect_rtcp(buf, len)
        } else {
            c.inbound.unprotect(buf, len)
        };
        opened.map_err(|_| self.counters.srtp += 1).ok()
    }

    /// A packet toward the side, protected in place when it speaks SRTP: its new length, or
    /// `None` (counted) when it could not be (no room after it): it is not sent in clear.
    pub(super) fn seal(&mut self, rtcp: bool, buf: &mut [u8], len: usize) -> Option<usize> {
        let Some(c) = &mut self.crypto else {
            return Some(len);
        };
        let sealed = if rtcp {
            c.outbound.protect_rtcp(buf, len)
        } else {
            c.outbound.protect(buf, len)
        };
        sealed.map_err(|_| self.counters.srtp += 1).ok()
    }

    pub(super) fn sent(&mut self, payload: usize) {
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += payload as u64;
    }

    /// Where RTP to the side goes now, if anywhere.
    pub(super) fn rtp_target(&self) -> Option<SocketAddr> {
        if !self.cfg.sends {
            return None;
        }
        self.latch.rtp_target(self.cfg.remote)
    }

    /// Where RTCP to the side goes now, if anywhere.
    pub(super) fn rtcp_target(&self) -> Option<SocketAddr> {
        self.latch
            .rtcp_target(self.cfg.remote, self.cfg.remote_rtcp, self.cfg.rtcp_mux)
    }

    pub(super) fn stats(&self, route: super::Route, concealed: u64) -> SideStats {
        let summary = self.reception.as_ref().map(|r| r.summary());
        SideStats {
            codec: self.cfg.codec,
            payload_type: self.pt.value(),
            remote: self.cfg.remote,
            latched: self.latch.rtp(),
            hears: route,
            rx_packets: self.counters.rx_packets,
            rx_bytes: self.counters.rx_bytes,
            tx_packets: self.counters.tx_packets,
            tx_bytes: self.counters.tx_bytes,
            relayed: self.counters.relayed,
            expected: summary.map_or(0, |s| s.expected),
            lost: summary.map_or(0, |s| s.lost),
            jitter_ms: summary.map_or(0.0, |s| s.jitter_ms()),
            concealed,
            spoofed: self.counters.spoofed,
            invalid: self.counters.invalid,
            inactive: self.counters.inactive,
            srtp: self.counters.srtp,
            srtp_active: self.crypto.is_some(),
        }
    }
}

/// What one side of a session measured, for `GET /v1/calls` and the call's record.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SideStats {
    pub codec: Codec,
    pub payload_type: u8,
    /// The RTP address its SDP names.
    pub remote: SocketAddr,
    /// Where its RTP really comes from (and goes to), once learnt.
    pub latched: Option<SocketAddr>,
    /// What it hears: the other side relayed, transcoded, a source, or nothing.
    pub hears: super::Route,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Packets sent to it, relayed or generated.
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Of its packets, those forwarded in place to the other side.
    pub relayed: u64,
    /// RTP packets its sequence numbers say it sent (RFC 3550 A.3).
    pub expected: u64,
    /// Expected minus received (negative with duplicates).
    pub lost: i64,
    /// Interarrival jitter (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// Frames of its audio concealed on the frame path (lost or late).
    pub concealed: u64,
    /// Packets dropped for coming from another source than the learnt one.
    pub spoofed: u64,
    /// Packets dropped as malformed or with a payload type it did not negotiate.
    pub invalid: u64,
    /// Packets dropped because its SDP says it does not send.
    pub inactive: u64,
    /// SRTP or SRTCP packets dropped: authentication failed, a replay, malformed.
    pub srtp: u64,
    /// The side speaks SRTP.
    pub srtp_active: bool,
}

fn pt(v: u8) -> PayloadType {
    // masked to 7 bits, so `new` always succeeds
    PayloadType::new(v & 0x7f).unwrap_or(PayloadType::new(0).expect("0 is a payload type"))
}

/// Clock units of `rate` Hz from `t0` to `at`, wrapping at 32 bits.
fn units_since(t0: Instant, at: Instant, rate: u32) -> u32 {
    let d = at.saturating_duration_since(t0);
    // floor(nanos * rate / 10^9) with whole seconds apart: the same value in 64-bit integers
    // (this runs for every packet received; a 128-bit division is a library call)
    let whole = d.as_secs().wrapping_mul(u64::from(rate));
    let part = u64::from(d.subsec_nanos()) * u64::from(rate) / 1_000_000_000;
    whole.wrapping_add(part) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clock_units_are_the_floor_of_elapsed_time_times_the_rate_wrapping_at_32_bits() {
        let t0 = Instant::now();
        for (nanos, rate) in [
            (0u64, 8_000u32),
            (124_999, 8_000),
            (125_000, 8_000),
            (20_000_000, 16_000),
            (1_999_999_999, 48_000),
            (3_600 * 1_000_000_000 + 7, 48_000),
            // past 2^32 units at 48 kHz (about 24.9 hours): wraps
            (100_000 * 1_000_000_000 + 123_456_789, 48_000),
        ] {
            let exact = (u128::from(nanos) * u128::from(rate) / 1_000_000_000) as u32;
            let at = t0 + Duration::from_nanos(nanos);
            assert_eq!(units_since(t0, at, rate), exact, "{nanos} ns at {rate} Hz");
        }
        assert_eq!(units_since(t0 + Duration::from_secs(1), t0, 8_000), 0);
    }
}
