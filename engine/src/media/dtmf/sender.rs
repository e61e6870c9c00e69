//! Sending RFC 4733 DTMF: digits in, event packets out over time.

use std::time::{Duration, Instant};

use super::{duration_to_units, Digit, DtmfError, EventPayload, EVENT_PAYLOAD_LEN};
use crate::media::rtp::{write_header, Header, PayloadType, RtpError, RtpTimestamp, Seq, Ssrc};

/// Digits waiting to be sent.
const QUEUE: usize = 32;
/// Interval of the packets updating an event's duration.
const UPDATE_INTERVAL: Duration = Duration::from_millis(50);
/// Spacing of the three End packets.
const END_INTERVAL: Duration = Duration::from_millis(20);
/// End packets per event (§2.5.1.4).
const END_PACKETS: u8 = 3;
/// Pause between two digits (ITU-T Q.24 asks for at least 40 ms).
const PAUSE: Duration = Duration::from_millis(100);
/// Shortest digit sent.
const MIN_DURATION: Duration = Duration::from_millis(40);
/// Power level of generated digits, -10 dBm0.
const VOLUME: u8 = 10;

/// One telephone-event packet to send: the caller writes it with its stream's sequence
/// number and SSRC (the events share them with the audio, RFC 4733 §2.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DtmfPacket {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub timestamp: RtpTimestamp,
    pub payload: [u8; EVENT_PAYLOAD_LEN],
}

impl DtmfPacket {
    /// Writes the whole RTP packet into `buf`; returns its length.
    pub fn write_rtp(&self, buf: &mut [u8], seq: Seq, ssrc: Ssrc) -> Result<usize, RtpError> {
        let mut h = Header::new(self.payload_type, seq, self.timestamp, ssrc);
        h.marker = self.marker;
        let n = write_header(buf, &h)?;
        let end = n + EVENT_PAYLOAD_LEN;
        if buf.len() < end {
            return Err(RtpError::BufferTooSmall {
                need: end,
                have: buf.len(),
            });
        }
        buf[n..end].copy_from_slice(&self.payload);
        Ok(end)
    }
}

#[derive(Copy, Clone, Debug)]
struct Sending {
    digit: Digit,
    ts: RtpTimestamp,
    started: Instant,
    /// The whole event in timestamp units (at most 0xFFFF: no segmenting).
    units: u16,
    length: Duration,
    next_at: Instant,
    sent: u32,
    ends: u8,
}

/// Sends digits as RFC 4733 events (§2.5.1): the first packet of an event carries the
/// marker bit; every packet of it carries the RTP timestamp of its start; an update every
/// 50 ms carries the duration so far (to the end of the coming interval); the End packet
/// goes three times, 20 ms apart; then a 100 ms pause before the next digit. Volume is
/// -10 dBm0. Digits longer than the 16-bit duration field (8.19 s at 8 kHz) are cut there.
///
/// Drive it with `send` (queues a digit), `poll` at `poll_timeout` (one packet per call),
/// and `is_active` to hold the leg's audio while an event is on (§2.5.1.2: the audio would
/// carry the tone too).
#[derive(Clone, Debug)]
pub struct DtmfSender {
    payload_type: PayloadType,
    clock_rate: u32,
    queue: [(Digit, Duration); QUEUE],
    head: usize,
    len: usize,
    current: Option<Sending>,
    /// When the next digit may start.
    ready_at: Option<Instant>,
}

impl DtmfSender {
    /// A sender on `payload_type` (the leg's negotiated telephone-event type) with an RTP
    /// clock of `clock_rate` Hz.
    pub fn new(payload_type: PayloadType, clock_rate: u32) -> DtmfSender {
        DtmfSender {
            payload_type,
            clock_rate: clock_rate.max(1),
            queue: [(Digit(0), Duration::ZERO); QUEUE],
            head: 0,
            len: 0,
            current: None,
            ready_at: None,
        }
    }

    /// Queues `digit` to be held for `duration` (at least 40 ms).
    pub fn send(
        &mut self,
        now: Instant,
        digit: Digit,
        duration: Duration,
    ) -> Result<(), DtmfError> {
        if self.len == QUEUE {
            return Err(DtmfError::QueueFull { queued: QUEUE });
        }
        self.queue[(self.head + self.len) % QUEUE] = (digit, duration.max(MIN_DURATION));
        self.len += 1;
        if self.ready_at.is_none() {
            self.ready_at = Some(now);
        }
        Ok(())
    }

    /// Whether an event is being sent.
    pub fn is_active(&self) -> bool {
        self.current.is_some()
    }

    /// Digits waiting, the one being sent excluded.
    pub fn queued(&self) -> usize {
        self.len
    }

    /// When `poll` has the next packet.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.current {
            Some(s) => Some(s.next_at),
            None if self.len > 0 => self.ready_at,
            None => None,
        }
    }

    /// The packet due at `now`, if any. `clock` is the leg's RTP clock now: a digit starting
    /// at this call takes it as the event's timestamp.
    pub fn poll(&mut self, now: Instant, clock: RtpTimestamp) -> Option<DtmfPacket> {
        if self.current.is_none() {
            if self.len == 0 || self.ready_at.is_some_and(|at| now < at) {
                return None;
            }
            let (digit, length) = self.queue[self.head];
            self.head = (self.head + 1) % QUEUE;
            self.len -= 1;
            let units = duration_to_units(length, self.clock_rate).min(u32::from(u16::MAX));
            self.current = Some(Sending {
                digit,
                ts: clock,
                started: now,
                units: units as u16,
                length,
                next_at: now,
                sent: 0,
                ends: 0,
            });
        }
        let s = self.current.as_mut()?;
        if now < s.next_at {
            return None;
        }
        let elapsed = now.saturating_duration_since(s.started);
        let end = elapsed >= s.length || s.ends > 0;
        let duration = if end {
            s.units
        } else {
            let so_far = duration_to_units(elapsed + UPDATE_INTERVAL, self.clock_rate);
            so_far.min(u32::from(s.units)) as u16
        };
        let packet = DtmfPacket {
            marker: s.sent == 0,
            payload_type: self.payload_type,
            timestamp: s.ts,
            payload: EventPayload {
                event: s.digit.event(),
                end,
                volume: VOLUME,
                duration,
            }
            .to_bytes(),
        };
        s.sent += 1;
        if end {
            s.ends += 1;
            if s.ends == END_PACKETS {
                self.current = None;
                self.ready_at = Some(now + PAUSE);
            } else {
                s.next_at = now + END_INTERVAL;
            }
        } else {
            // the next update, or the end when it comes first
            s.next_at = (s.next_at + UPDATE_INTERVAL).min(s.started + s.length);
            if s.next_at <= now {
                s.next_at = now + UPDATE_INTERVAL.min(s.started + s.length - now);
            }
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DtmfReceiver, Ending};
    use super::*;
    use crate::media::rtp::RtpPacket;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Everything the sender emits, polling at its deadlines: (time offset, packet).
    fn drive(tx: &mut DtmfSender, t0: Instant) -> Vec<(Duration, DtmfPacket)> {
        let mut out = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            // the leg's clock: 8 kHz since t0
            let clock = RtpTimestamp(5000 + (at - t0).as_millis() as u32 * 8);
            if let Some(p) = tx.poll(at, clock) {
                out.push((at - t0, p));
            }
            assert!(out.len() < 1000);
        }
        out
    }

    #[test]
    fn a_digit_is_marker_updates_every_50_ms_and_three_ends() {
        let pt = PayloadType::new(101).unwrap();
        let mut tx = DtmfSender::new(pt, 8000);
        let t0 = Instant::now();
        tx.send(t0, Digit::from_char('7').unwrap(), ms(120))
            .unwrap();
        assert!(!tx.is_active());
        let pkts = drive(&mut tx, t0);
        let summary: Vec<(u64, bool, bool, u16)> = pkts
            .iter()
            .map(|(at, p)| {
                let e = EventPayload::parse(&p.payload).unwrap();
                assert_eq!((e.event, e.volume), (7, 10));
                assert_eq!(
                    p.timestamp,
                    RtpTimestamp(5000),
                    "one timestamp for the event"
                );
                assert_eq!(p.payload_type, pt);
                (at.as_millis() as u64, p.marker, e.end, e.duration)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, false, 400),
                (50, false, false, 800),
                (100, false, false, 960),
                (120, false, true, 960),
                (140, false, true, 960),
                (160, false, true, 960),
            ]
        );
        assert!(!tx.is_active());
    }

    #[test]
    fn queued_digits_follow_each_other_after_a_pause() {
        let pt = PayloadType::new(96).unwrap();
        let mut tx = DtmfSender::new(pt, 8000);
        let t0 = Instant::now();
        for c in "12#".chars() {
            tx.send(t0, Digit::from_char(c).unwrap(), ms(100)).unwrap();
        }
        assert_eq!(tx.queued(), 3);
        let pkts = drive(&mut tx, t0);
        let starts: Vec<u64> = pkts
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(at, _)| at.as_millis() as u64)
            .collect();
        // 100 ms tone, ends at 100, 120, 140, pause to 240
        assert_eq!(starts, [0, 240, 480]);
        // each event has its own timestamp, taken from the leg's clock at its start
        let ts: Vec<u32> = pkts
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(_, p)| p.timestamp.0)
            .collect();
        assert_eq!(ts, [5000, 5000 + 240 * 8, 5000 + 480 * 8]);
    }

    #[test]
    fn what_the_sender_sends_the_receiver_reads_once_per_digit() {
        let pt = PayloadType::new(110).unwrap();
        let mut tx = DtmfSender::new(pt, 16000);
        let mut rx = DtmfReceiver::new(pt, 16000, ms(500));
        let t0 = Instant::now();
        for c in "0123456789*#ABCD".chars() {
            tx.send(t0, Digit::from_char(c).unwrap(), ms(80)).unwrap();
        }
        let mut buf = [0u8; 32];
        let mut got = String::new();
        for (i, (at, p)) in drive(&mut tx, t0).into_iter().enumerate() {
            let n = p.write_rtp(&mut buf, Seq(i as u16), Ssrc(3)).unwrap();
            assert_eq!(n, 16);
            rx.handle_packet(t0 + at, &RtpPacket::parse(&buf[..n]).unwrap());
            while let Some(e) = rx.poll_event() {
                assert_eq!(e.ending, Ending::End);
                assert_eq!(e.duration, ms(80));
                got.push(e.digit.as_char());
            }
        }
        assert_eq!(got, "0123456789*#ABCD");
    }

    #[test]
    fn a_late_poll_sends_the_duration_so_far_and_a_full_queue_refuses() {
        let pt = PayloadType::new(101).unwrap();
        let mut tx = DtmfSender::new(pt, 8000);
        let t0 = Instant::now();
        tx.send(t0, Digit::from_char('1').unwrap(), ms(1000))
            .unwrap();
        tx.poll(t0, RtpTimestamp(0)).unwrap();
        // the media thread was 170 ms late: one packet with the duration so far
        let p = tx.poll(t0 + ms(220), RtpTimestamp(0)).unwrap();
        assert_eq!(EventPayload::parse(&p.payload).unwrap().duration, 270 * 8);
        assert!(tx.poll(t0 + ms(220), RtpTimestamp(0)).is_none());
        assert!(tx.poll_timeout().unwrap() > t0 + ms(220));
        for _ in 0..QUEUE {
            tx.send(t0, Digit::from_char('2').unwrap(), ms(50)).unwrap();
        }
        assert_eq!(
            tx.send(t0, Digit::from_char('3').unwrap(), ms(50)),
            Err(DtmfError::QueueFull { queued: 32 })
        );
        let mut small = [0u8; 15];
        assert!(p.write_rtp(&mut small, Seq(0), Ssrc(0)).is_err());
    }
}
