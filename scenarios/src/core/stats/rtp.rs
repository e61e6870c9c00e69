//! The receive side of a simulated call leg's RTP: what came, how much was lost or late, and
//! where it came from (the other phone itself, or a switch relaying the call).
//!
//! Sans-IO: the runner hands each datagram of a leg's socket to [`LegMeter::handle_packet`]
//! with its source and arrival time (an offset from any fixed instant), counts its own sends
//! with [`LegMeter::handle_sent`], and passes [`LegMeter::counts`] to `Recorder::rtp` when the
//! leg ends. Loss and lateness are counted per SSRC ([`RtpStream`]): a switch that plays
//! ringback and then relays the other phone's stream hands a leg two streams, and their
//! sequence numbers have nothing to do with each other.
//!
//! Origin: a packet from the socket the other phone named in its `X-Load-Media` header came
//! directly from it; one from the address in the other side's SDP (where this leg sends), when
//! that is not the phone's socket, came from the switch's relay. A leg is [`Origin::Relayed`]
//! or [`Origin::Direct`] when all its packets came that one way.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_engine::media::rtp::{demux, PacketKind, RtpPacket};

/// G.711's RTP clock.
const CLOCK_RATE: u32 = 8000;
/// SSRCs followed at once per leg; a further one retires the one heard from least recently
/// (its counts are kept).
const STREAMS: usize = 4;

/// Where a leg's RTP came from, judged when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// Every packet came from the address in the other side's SDP, which was not the other
    /// phone's own socket: the switch's relay (the call was anchored).
    Relayed,
    /// Every packet came from the other phone's own socket (direct media).
    Direct,
    /// Packets came from both, or from a third address, or from the SDP's address while the
    /// other phone's socket was unknown (its `X-Load-Media` header did not arrive).
    Other,
    /// No packet came.
    Silent,
}

impl Origin {
    pub const ALL: [Origin; 4] = [
        Origin::Relayed,
        Origin::Direct,
        Origin::Other,
        Origin::Silent,
    ];

    /// Its name in reports (`relayed`, `direct`, `other`, `silent`).
    pub fn name(self) -> &'static str {
        match self {
            Origin::Relayed => "relayed",
            Origin::Direct => "direct",
            Origin::Other => "other",
            Origin::Silent => "silent",
        }
    }
}

/// What one leg counted when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegCounts {
    /// Packets the leg sent at its 20 ms ticks (a send the host refused, such as one to an
    /// address it has no route to, counts: the packet is lost on the way).
    pub sent: u64,
    /// Packets expected: per stream, highest extended sequence number - first + 1, summed.
    /// A leg that received nothing expected as many as it sent (both phones send at the same
    /// rate for about the same time), so a silent leg counts as all lost.
    pub expected: u64,
    /// Packets received, duplicates included.
    pub received: u64,
    /// Packets more than 40 ms past their playout time ([`RtpStream`]).
    pub late: u64,
    pub origin: Origin,
}

impl LegCounts {
    /// `(expected - received) / expected`; 0 with nothing expected.
    pub fn lost_ratio(&self) -> f64 {
        ratio(self.expected.saturating_sub(self.received), self.expected)
    }

    /// `late / received`; 0 with nothing received.
    pub fn late_ratio(&self) -> f64 {
        ratio(self.late, self.received)
    }
}

pub(super) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One leg's receive side: its streams, its sends and the sources of its packets.
#[derive(Debug, Clone)]
pub struct LegMeter {
    /// Where this leg sends: the address in the other side's SDP.
    remote: SocketAddr,
    /// The other phone's own socket, when its `X-Load-Media` said.
    peer: Option<SocketAddr>,
    /// Streams by SSRC, with the packet count at which each was last heard.
    streams: [Option<(u32, u64, RtpStream)>; STREAMS],
    /// Expected, received, late, missing frames and timestamp jumps of streams retired from
    /// `streams`.
    retired: [u64; 5],
    sent: u64,
    packets: u64,
    /// Packets from the relay (the SDP's address), from the peer's socket, from elsewhere.
    from_relay: u64,
    from_peer: u64,
    from_other: u64,
}

impl LegMeter {
    /// A leg sending to `remote` (the other side's SDP); `peer` is the other phone's own
    /// socket, when known.
    pub fn new(remote: SocketAddr, peer: Option<SocketAddr>) -> Self {
        LegMeter {
            remote,
            peer,
            streams: Default::default(),
            retired: [0; 5],
            sent: 0,
            packets: 0,
            from_relay: 0,
            from_peer: 0,
            from_other: 0,
        }
    }

    /// The leg sent one packet.
    pub fn handle_sent(&mut self) {
        self.sent += 1;
    }

    /// A datagram from `from` arrived at `now`; returns whether it was RTP (anything else,
    /// RTCP included, is not counted).
    pub fn handle_packet(&mut self, now: Duration, from: SocketAddr, datagram: &[u8]) -> bool {
        if demux(datagram) != PacketKind::Rtp {
            return false;
        }
        let Ok(p) = RtpPacket::parse(datagram) else {
            return false;
        };
        self.packets += 1;
        if Some(from) == self.peer {
            self.from_peer += 1;
        } else if from == self.remote {
            self.from_relay += 1;
        } else {
            self.from_other += 1;
        }
        let stream = self.stream(p.ssrc().0);
        stream.handle_packet(now, p.seq().0, p.timestamp().0);
        true
    }

    /// What the leg counted so far.
    pub fn counts(&self) -> LegCounts {
        let [mut expected, mut received, mut late, _, _] = self.retired;
        for (_, _, s) in self.streams.iter().flatten() {
            expected += s.expected();
            received += s.received();
            late += s.late();
        }
        if received == 0 {
            expected = self.sent;
        }
        let origin = match (self.from_relay, self.from_peer, self.from_other) {
            (0, 0, 0) => Origin::Silent,
            (_, 0, 0) if self.peer.is_some() => Origin::Relayed,
            (0, _, 0) => Origin::Direct,
            _ => Origin::Other,
        };
        LegCounts {
            sent: self.sent,
            expected,
            received,
            late,
            origin,
        }
    }

    /// Frames missing from the streams' timelines: per stream, the 20 ms frames its
    /// timestamps span less the packets received. A sender that skips a tick sends no packet
    /// and uses no sequence number, so only the timestamps show the gap.
    pub fn missing_frames(&self) -> u64 {
        let current: u64 = self
            .streams
            .iter()
            .flatten()
            .map(|(_, _, s)| s.missing_frames())
            .sum();
        self.retired[3] + current
    }

    /// Packets whose timestamp left the streams' timelines by more than a second (see
    /// [`RtpStream::timestamp_jumps`]).
    pub fn timestamp_jumps(&self) -> u64 {
        let current: u64 = self
            .streams
            .iter()
            .flatten()
            .map(|(_, _, s)| s.timestamp_jumps())
            .sum();
        self.retired[4] + current
    }

    /// The interarrival jitter (RFC 3550 §6.4.1) of the stream heard from last.
    pub fn jitter(&self) -> Duration {
        self.streams
            .iter()
            .flatten()
            .max_by_key(|(_, at, _)| *at)
            .map_or(Duration::ZERO, |(_, _, s)| s.jitter())
    }

    /// The stream of `ssrc`, made (retiring the least recently heard one if all are taken).
    fn stream(&mut self, ssrc: u32) -> &mut RtpStream {
        let now = self.packets;
        let slot = match self
            .streams
            .iter()
            .position(|s| s.as_ref().is_some_and(|(x, _, _)| *x == ssrc))
        {
            Some(i) => i,
            None => {
                let i = (0..STREAMS)
                    .min_by_key(|&i| self.streams[i].as_ref().map_or(0, |(_, at, _)| *at))
                    .unwrap_or(0);
                if let Some((_, _, old)) = self.streams[i].take() {
                    self.retired[0] += old.expected();
                    self.retired[1] += old.received();
                    self.retired[2] += old.late();
                    self.retired[3] += old.missing_frames();
                    self.retired[4] += old.timestamp_jumps();
                }
                self.streams[i] = Some((ssrc, now, RtpStream::new(CLOCK_RATE)));
                i
            }
        };
        // the slot was found or filled just above
        let (_, at, stream) = self.streams[slot].as_mut().expect("a stream in its slot");
        *at = now;
        stream
    }
}

/// The receive side of one RTP stream (one SSRC): RFC 3550 A.1 extended sequence numbers,
/// A.3 expected packets, A.8 interarrival jitter, and lateness.
///
/// A packet whose transit time (arrival less its timestamp's time) differs from the previous
/// packet's by more than [`RtpStream::JUMP`] is a timestamp jump, not network jitter: it is
/// counted apart ([`RtpStream::timestamp_jumps`]) and left out of the jitter estimate, which
/// goes on from the packet before it.
///
/// A packet is *late* when it arrives more than [`RtpStream::LATE`] after its playout time,
/// as a fixed 40 ms jitter buffer started by the stream's first packet would play it: the
/// first packet's arrival plus the RTP timestamp distance from it (RFC 3550 §5.1). A
/// reordered or duplicated packet is late only if it is that late too. The first packet is
/// the reference, as for the phone's buffer: one that came in slow makes the buffer (and this
/// count) lenient by as much, rather than a later, faster packet making it stricter.
#[derive(Debug, Clone)]
pub struct RtpStream {
    clock_rate: u32,
    /// Extended sequence number, timestamp and arrival (µs) of the first packet.
    first: Option<(u64, u32, i64)>,
    highest: u64,
    received: u64,
    late: u64,
    /// The furthest timestamp seen, in ticks after the first packet's.
    span: i64,
    /// The previous packet's transit time (arrival - timestamp, µs), and the jitter
    /// estimate (µs, RFC 3550 A.8).
    transit: Option<i64>,
    jitter: f64,
    jumps: u64,
}

impl RtpStream {
    /// How late a packet may be before it counts as late.
    pub const LATE: Duration = Duration::from_millis(40);

    /// A change of transit time larger than this is a timestamp jump.
    pub const JUMP: Duration = Duration::from_secs(1);

    /// A stream whose RTP clock runs at `clock_rate` Hz (8 000 for G.711).
    pub fn new(clock_rate: u32) -> Self {
        RtpStream {
            clock_rate,
            first: None,
            highest: 0,
            received: 0,
            late: 0,
            span: 0,
            transit: None,
            jitter: 0.0,
            jumps: 0,
        }
    }

    /// A packet with `seq` and `timestamp` arrived at `now`.
    pub fn handle_packet(&mut self, now: Duration, seq: u16, timestamp: u32) {
        self.received += 1;
        let arrival = now.as_micros() as i64;
        let (_, first_ts, first_arrival) = match self.first {
            Some(first) => first,
            None => {
                // extended numbers start at 2^16 so a packet older than the first one does
                // not underflow
                self.highest = 1 << 16 | u64::from(seq);
                *self.first.insert((self.highest, timestamp, arrival))
            }
        };
        let delta = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        if delta > 0 {
            self.highest = self.highest.saturating_add_signed(delta);
        }
        let ticks = i64::from(timestamp.wrapping_sub(first_ts) as i32);
        self.span = self.span.max(ticks);
        let playout = first_arrival + ticks * 1_000_000 / i64::from(self.clock_rate.max(1));
        if arrival - playout > Self::LATE.as_micros() as i64 {
            self.late += 1;
        }
        // RFC 3550 A.8: the transit's change from the previous packet, smoothed by 1/16
        let transit = arrival - playout;
        match self.transit {
            Some(previous) if (transit - previous).abs() > Self::JUMP.as_micros() as i64 => {
                self.jumps += 1;
            }
            Some(previous) => {
                let d = (transit - previous).abs() as f64;
                self.jitter += (d - self.jitter) / 16.0;
                self.transit = Some(transit);
            }
            None => self.transit = Some(transit),
        }
    }

    /// Packets whose timestamp was more than [`RtpStream::JUMP`] off the timeline of the
    /// packets before them (a sender that stamped a packet with another clock).
    pub fn timestamp_jumps(&self) -> u64 {
        self.jumps
    }

    /// The interarrival jitter estimate (RFC 3550 §6.4.1).
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.jitter as u64)
    }

    /// 20 ms frames the timestamps span (first to furthest) that no packet brought.
    pub fn missing_frames(&self) -> u64 {
        if self.first.is_none() {
            return 0;
        }
        let per_frame = i64::from((self.clock_rate / 50).max(1));
        let frames = (self.span / per_frame + 1) as u64;
        frames.saturating_sub(self.received)
    }

    /// Packets expected so far: highest extended sequence number - first + 1.
    pub fn expected(&self) -> u64 {
        self.first
            .map_or(0, |(first, _, _)| self.highest + 1 - first)
    }

    /// Packets received, duplicates included.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets that arrived more than [`RtpStream::LATE`] after their playout time.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An RTP packet (PCMU, 160 bytes of payload) with these fields.
    fn rtp(ssrc: u32, seq: u16, ts: u32) -> [u8; 172] {
        let mut p = [0xffu8; 172];
        p[..2].copy_from_slice(&[0x80, 0]);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const RELAY: &str = "127.0.0.1:20000";
    const PEER: &str = "127.0.0.1:40002";

    /// `n` packets of one 50 packets/s stream from `from`, on time, starting at `seq`.
    fn stream(m: &mut LegMeter, from: &str, ssrc: u32, seq: u16, n: u16, t0: u64) {
        for i in 0..n {
            let p = rtp(ssrc, seq.wrapping_add(i), 160 * u32::from(i));
            assert!(m.handle_packet(ms(t0 + 20 * u64::from(i)), addr(from), &p));
        }
    }

    #[test]
    fn an_rtp_stream_counts_gaps_and_packets_more_than_40_ms_past_their_playout_time() {
        let mut leg = RtpStream::new(8000);
        let t0 = ms(1000);
        // 20 ms packets, seq from 65533 (wraps), the 3rd lost, the 5th arrives 25 ms late
        // after the 6th (within the buffer), the 8th 60 ms late, a duplicate of the 2nd
        let send = |n: u64| (65533u16.wrapping_add(n as u16), 1000u32 + 160 * n as u32);
        for (n, extra) in [
            (0, 0),
            (1, 0),
            (3, 0),
            (5, 0),
            (4, 25),
            (6, 0),
            (7, 60),
            (1, 130),
        ] {
            let (seq, ts) = send(n);
            leg.handle_packet(t0 + ms(20 * n + extra), seq, ts);
        }
        assert_eq!(leg.expected(), 8);
        assert_eq!(leg.received(), 8);
        assert_eq!(
            leg.late(),
            2,
            "the 60 ms one and the duplicate 130 ms after its time"
        );
    }

    #[test]
    fn jitter_follows_rfc_3550_and_a_skipped_tick_is_a_missing_frame() {
        let mut s = RtpStream::new(8000);
        // on time every 20 ms: no jitter
        for n in 0..10u16 {
            s.handle_packet(ms(20 * u64::from(n)), n, 160 * u32::from(n));
        }
        assert_eq!(s.jitter(), Duration::ZERO);
        assert_eq!(s.missing_frames(), 0);
        // one packet 16 ms late, then on time: |D| = 16 ms twice, J = 1 ms then 1.9375 ms
        s.handle_packet(ms(200 + 16), 10, 1600);
        assert_eq!(s.jitter(), Duration::from_micros(1000));
        s.handle_packet(ms(220), 11, 1760);
        assert_eq!(s.jitter(), Duration::from_micros(1937));
        // the sender skips a tick: the next packet has the next sequence number but a
        // timestamp two frames on
        s.handle_packet(ms(260), 12, 2080);
        assert_eq!(s.expected(), 13);
        assert_eq!(s.missing_frames(), 1);
        // a packet stamped five seconds back is a jump, not jitter: the estimate goes on
        let before = s.jitter();
        s.handle_packet(ms(280), 13, 2240u32.wrapping_sub(40_000));
        assert_eq!((s.timestamp_jumps(), s.jitter()), (1, before));
        s.handle_packet(ms(300), 14, 2400);
        assert!(s.jitter() < before, "on time again: {:?}", s.jitter());
        assert_eq!(s.timestamp_jumps(), 1);
    }

    #[test]
    fn an_rtp_stream_plays_out_from_its_first_packet() {
        let mut leg = RtpStream::new(8000);
        // the first packet is slow (30 ms): the rest are early against its clock, none late
        leg.handle_packet(ms(30), 0, 0);
        for n in 1..10u16 {
            leg.handle_packet(ms(20 * u64::from(n)), n, 160 * u32::from(n));
        }
        assert_eq!(leg.late(), 0);
        // 65 ms behind the fastest packets but 35 ms behind the first's clock: in time
        leg.handle_packet(ms(200 + 65), 10, 1600);
        assert_eq!(leg.late(), 0);
        // 45 ms behind the first's clock: late
        leg.handle_packet(ms(220 + 75), 11, 1760);
        assert_eq!(leg.late(), 1);
        assert_eq!(leg.expected(), 12);
    }

    #[test]
    fn a_leg_whose_packets_all_came_from_the_sdp_address_not_the_peer_was_relayed() {
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        (0..100).for_each(|_| m.handle_sent());
        stream(&mut m, RELAY, 7, 1000, 100, 0);
        let c = m.counts();
        assert_eq!(c.origin, Origin::Relayed);
        assert_eq!((c.sent, c.expected, c.received, c.late), (100, 100, 100, 0));
    }

    #[test]
    fn a_leg_fed_by_the_peers_own_socket_is_direct_and_a_mix_is_other() {
        // direct media: the SDP named the peer itself
        let mut m = LegMeter::new(addr(PEER), Some(addr(PEER)));
        stream(&mut m, PEER, 7, 0, 10, 0);
        assert_eq!(m.counts().origin, Origin::Direct);
        // the relay and the peer both
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        stream(&mut m, RELAY, 7, 0, 10, 0);
        stream(&mut m, PEER, 7, 10, 10, 200);
        assert_eq!(m.counts().origin, Origin::Other);
        // a third address
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        stream(&mut m, "127.0.0.9:5000", 7, 0, 10, 0);
        assert_eq!(m.counts().origin, Origin::Other);
        // the SDP's address while the peer's socket is unknown: cannot be told
        let mut m = LegMeter::new(addr(RELAY), None);
        stream(&mut m, RELAY, 7, 0, 10, 0);
        assert_eq!(m.counts().origin, Origin::Other);
    }

    #[test]
    fn a_silent_leg_counts_what_it_sent_as_expected_and_lost() {
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        (0..250).for_each(|_| m.handle_sent());
        let c = m.counts();
        assert_eq!(c.origin, Origin::Silent);
        assert_eq!((c.expected, c.received), (250, 0));
        assert_eq!(c.lost_ratio(), 1.0);
    }

    #[test]
    fn ringback_then_the_relayed_stream_are_two_streams_without_false_loss() {
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        // the switch's ringback (its own SSRC and numbering), then the callee's stream
        // relayed in place (its SSRC and numbering), from the same relay port
        stream(&mut m, RELAY, 0x5157, 40_000, 50, 0);
        stream(&mut m, RELAY, 0xca11ee, 9, 100, 1000);
        let c = m.counts();
        assert_eq!((c.expected, c.received, c.late), (150, 150, 0));
        assert_eq!(c.origin, Origin::Relayed);
    }

    #[test]
    fn streams_beyond_the_ones_followed_retire_the_oldest_and_keep_its_counts() {
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        // six SSRCs of 10 packets each, the third missing its 5th packet
        for ssrc in 0..6u32 {
            for i in (0..10u16).filter(|&i| ssrc != 2 || i != 4) {
                let p = rtp(ssrc, i, 160 * u32::from(i));
                m.handle_packet(
                    ms(200 * u64::from(ssrc) + 20 * u64::from(i)),
                    addr(RELAY),
                    &p,
                );
            }
        }
        let c = m.counts();
        assert_eq!((c.expected, c.received), (60, 59));
    }

    #[test]
    fn rtcp_and_garbage_are_not_counted() {
        let mut m = LegMeter::new(addr(RELAY), Some(addr(PEER)));
        // an RTCP receiver report (PT 201), a STUN-like first byte, a short datagram
        let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 7];
        assert!(!m.handle_packet(ms(0), addr(RELAY), &rr));
        assert!(!m.handle_packet(ms(0), addr(RELAY), &[0, 1, 0, 0]));
        assert!(!m.handle_packet(ms(0), addr(RELAY), &[0x80, 0, 0]));
        assert_eq!(m.counts().origin, Origin::Silent);
    }
}
