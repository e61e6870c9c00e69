//! Receiving RFC 4733 DTMF: packets in, one event per key press out.

use std::time::{Duration, Instant};

use super::{units_to_duration, Digit, EventPayload};
use crate::media::rtp::{PayloadType, RtpPacket, RtpTimestamp};

/// Events queued between two `poll_event` drains; a packet produces at most two.
const QUEUE: usize = 8;
/// How long packets of a reported event are recognised as its stragglers. Beyond it the
/// timestamp comparison could wrap (after 74 hours at 8 kHz) and hide new events.
const DONE_MEMORY: Duration = Duration::from_secs(10);

/// A key press the far end sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DigitEvent {
    pub digit: Digit,
    /// How long the key was held, as far as the packets said.
    pub duration: Duration,
    /// Power level in -dBm0.
    pub volume: u8,
    pub ending: Ending,
}

/// How the receiver knew a digit was over.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A packet with the E bit arrived.
    End,
    /// The next event began before any End packet arrived.
    Superseded,
    /// No packet for the digit arrived within the end timeout.
    Timeout,
}

/// The event being received.
#[derive(Copy, Clone, Debug)]
struct Current {
    ts: RtpTimestamp,
    digit: Digit,
    volume: u8,
    /// Units of earlier segments of a long event (§2.5.1.3: a new segment restarts the
    /// duration at a new timestamp).
    earlier: u32,
    duration: u16,
    last_packet: Instant,
}

/// Turns a leg's telephone-event packets into digits, each exactly once (RFC 4733 §2.5.2).
///
/// An event is identified by its RTP timestamp (§2.5.1.2): repeated start and update packets
/// and the End packet sent three times (§2.5.1.4) all carry the same one. A digit is reported
/// when its End arrives; when its start packets were lost, the End packets alone report it;
/// when no End arrives, the next event or `end_timeout` of silence reports it. Packets of an
/// event already reported, or older than it, are ignored. Long events cut into segments
/// (§2.5.1.3: same digit, new timestamp, no marker, right after the previous segment) stay
/// one digit. Event codes above 15 (flash, tones) are consumed and ignored.
///
/// Drive it with `handle_packet` for every packet of the leg, `handle_timeout` at
/// `poll_timeout`, and drain `poll_event`.
#[derive(Clone, Debug)]
pub struct DtmfReceiver {
    payload_type: PayloadType,
    clock_rate: u32,
    end_timeout: Duration,
    current: Option<Current>,
    /// Timestamp of the last event reported, and when.
    last_done: Option<(RtpTimestamp, Instant)>,
    queue: [Option<DigitEvent>; QUEUE],
    head: usize,
    len: usize,
}

impl DtmfReceiver {
    /// A receiver for events on `payload_type` (the leg's negotiated telephone-event type)
    /// with an RTP clock of `clock_rate` Hz.
    pub fn new(payload_type: PayloadType, clock_rate: u32, end_timeout: Duration) -> Self {
        DtmfReceiver {
            payload_type,
            clock_rate: clock_rate.max(1),
            end_timeout,
            current: None,
            last_done: None,
            queue: [None; QUEUE],
            head: 0,
            len: 0,
        }
    }

    /// Takes a packet of the leg; returns whether it was a telephone event (the caller does
    /// not play those as audio). Broken event payloads count as events and are dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: &RtpPacket<'_>) -> bool {
        if packet.payload_type() != self.payload_type {
            return false;
        }
        if let Ok(e) = EventPayload::parse(packet.payload()) {
            self.handle_event(now, packet.timestamp(), packet.marker(), e);
        }
        true
    }

    /// Takes the payload of an event packet whose header the caller has read already.
    pub fn handle_event(&mut self, now: Instant, ts: RtpTimestamp, marker: bool, e: EventPayload) {
        let Some(digit) = Digit::from_event(e.event) else {
            return;
        };
        if let Some((done, at)) = self.last_done {
            if now.saturating_duration_since(at) > DONE_MEMORY {
                self.last_done = None;
            } else if done.distance_to(ts) <= 0 {
                // a retransmitted End, or a straggler of an event already reported
                return;
            }
        }
        if let Some(cur) = self.current.as_mut() {
            let ahead = cur.ts.distance_to(ts);
            if ahead < 0 {
                return;
            }
            if ahead == 0 {
                cur.duration = cur.duration.max(e.duration);
                cur.volume = e.volume;
                cur.last_packet = now;
                if e.end {
                    self.finish(now, Ending::End);
                }
                return;
            }
            // §2.5.1.3: the next segment of a long event starts where this one ended (give
            // or take 100 ms), carries the same digit and no marker
            let continues = digit == cur.digit
                && !marker
                && (ahead as u32) <= u32::from(cur.duration) + self.clock_rate / 10;
            if continues {
                cur.earlier = cur.earlier.saturating_add(u32::from(cur.duration));
                cur.ts = ts;
                cur.duration = e.duration;
                cur.last_packet = now;
                if e.end {
                    self.finish(now, Ending::End);
                }
                return;
            }
            self.finish(now, Ending::Superseded);
        }
        self.current = Some(Current {
            ts,
            digit,
            volume: e.volume,
            earlier: 0,
            duration: e.duration,
            last_packet: now,
        });
        if e.end {
            // its start was lost: the End alone reports it
            self.finish(now, Ending::End);
        }
    }

    /// When a digit without End times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_packet + self.end_timeout)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| now >= at) {
            self.finish(now, Ending::Timeout);
        }
    }

    /// The next digit received, oldest first.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        if self.len == 0 {
            return None;
        }
        let e = self.queue[self.head].take();
        self.head = (self.head + 1) % QUEUE;
        self.len -= 1;
        e
    }

    /// Reports the current event, at `now`.
    fn finish(&mut self, now: Instant, ending: Ending) {
        let Some(cur) = self.current.take() else {
            return;
        };
        self.last_done = Some((cur.ts, now));
        let event = DigitEvent {
            digit: cur.digit,
            duration: units_to_duration(
                cur.earlier.saturating_add(u32::from(cur.duration)),
                self.clock_rate,
            ),
            volume: cur.volume,
            ending,
        };
        if self.len == QUEUE {
            // nobody drains: the oldest digit goes
            self.head = (self.head + 1) % QUEUE;
            self.len -= 1;
        }
        self.queue[(self.head + self.len) % QUEUE] = Some(event);
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_header, Header, Seq, Ssrc};

    const PT: u8 = 96;

    struct Leg {
        rx: DtmfReceiver,
        t0: Instant,
        seq: u16,
        buf: [u8; 64],
    }

    impl Leg {
        fn new() -> Leg {
            Leg {
                rx: DtmfReceiver::new(PayloadType::new(PT).unwrap(), 8000, Duration::from_secs(1)),
                t0: Instant::now(),
                seq: 0,
                buf: [0; 64],
            }
        }

        /// Delivers one packet at `ms` and returns the digits it completed.
        fn packet(&mut self, ms: u64, pt: u8, ts: u32, marker: bool, e: EventPayload) -> String {
            let mut h = Header::new(
                PayloadType::new(pt).unwrap(),
                Seq(self.seq),
                RtpTimestamp(ts),
                Ssrc(1),
            );
            h.marker = marker;
            self.seq += 1;
            let n = write_header(&mut self.buf, &h).unwrap();
            self.buf[n..n + 4].copy_from_slice(&e.to_bytes());
            let p = RtpPacket::parse(&self.buf[..n + 4]).unwrap();
            let now = self.t0 + Duration::from_millis(ms);
            self.rx.handle_packet(now, &p);
            self.drain()
        }

        fn drain(&mut self) -> String {
            std::iter::from_fn(|| self.rx.poll_event())
                .map(|e| e.digit.as_char())
                .collect()
        }

        /// A whole digit as a phone sends it: start with marker, updates every 50 ms, End x3.
        fn press(&mut self, at_ms: u64, ts: u32, c: char, held_ms: u64) -> String {
            let event = Digit::from_char(c).unwrap().event();
            let mut out = String::new();
            let mut t = 0;
            while t < held_ms {
                let e = ev(event, false, (t + 50).min(held_ms) as u16 * 8);
                out += &self.packet(at_ms + t, PT, ts, t == 0, e);
                t += 50;
            }
            for i in 0..3 {
                out += &self.packet(
                    at_ms + held_ms + 20 * i,
                    PT,
                    ts,
                    false,
                    ev(event, true, held_ms as u16 * 8),
                );
            }
            out
        }
    }

    fn ev(event: u8, end: bool, duration: u16) -> EventPayload {
        EventPayload {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    #[test]
    fn a_press_with_three_ends_is_one_digit_with_its_duration() {
        let mut leg = Leg::new();
        assert_eq!(leg.press(0, 1000, '5', 200), "5");
        let mut rx = DtmfReceiver::new(PayloadType::new(PT).unwrap(), 8000, Duration::from_secs(1));
        let t = Instant::now();
        rx.handle_event(t, RtpTimestamp(7), true, ev(11, false, 400));
        rx.handle_event(t, RtpTimestamp(7), false, ev(11, true, 960));
        let e = rx.poll_event().unwrap();
        assert_eq!(e.digit.as_char(), '#');
        assert_eq!(e.duration, Duration::from_millis(120));
        assert_eq!((e.volume, e.ending), (10, Ending::End));
        assert_eq!(rx.poll_event(), None);
    }

    #[test]
    fn the_same_digit_twice_is_two_digits_and_a_sequence_reads_in_order() {
        let mut leg = Leg::new();
        let mut got = String::new();
        for (i, c) in "1123#".chars().enumerate() {
            let at = i as u64 * 400;
            got += &leg.press(at, 8000 * i as u32 + 160, c, 150);
        }
        assert_eq!(got, "1123#");
    }

    #[test]
    fn only_the_negotiated_payload_type_counts() {
        let mut leg = Leg::new();
        // the same bytes on PT 101 (not negotiated here) are audio, not a digit
        assert_eq!(leg.packet(0, 101, 50, true, ev(1, true, 800)), "");
        assert_eq!(leg.packet(0, PT, 50, true, ev(1, true, 800)), "1");
    }

    #[test]
    fn a_lost_start_still_reports_the_digit_from_its_end_packets() {
        let mut leg = Leg::new();
        let mut got = String::new();
        for i in 0..3 {
            got += &leg.packet(200 + 20 * i, PT, 4000, false, ev(9, true, 1600));
        }
        assert_eq!(got, "9");
    }

    #[test]
    fn a_digit_without_end_is_reported_by_the_next_one_or_after_the_timeout() {
        let mut leg = Leg::new();
        // digit 4: start and an update, ends lost
        assert_eq!(leg.packet(0, PT, 100, true, ev(4, false, 400)), "");
        assert_eq!(leg.packet(50, PT, 100, false, ev(4, false, 800)), "");
        // digit 7 begins: 4 is over
        assert_eq!(leg.packet(300, PT, 2500, true, ev(7, false, 400)), "4");
        // 7 never ends either: reported after a second of silence, once
        let deadline = leg.rx.poll_timeout().unwrap();
        assert_eq!(deadline, leg.t0 + Duration::from_millis(1300));
        leg.rx.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(leg.drain(), "");
        leg.rx.handle_timeout(deadline);
        let e = leg.rx.poll_event().unwrap();
        assert_eq!((e.digit.as_char(), e.ending), ('7', Ending::Timeout));
        assert_eq!(leg.rx.poll_timeout(), None);
        // its End arriving after all does not repeat it
        assert_eq!(leg.packet(1500, PT, 2500, false, ev(7, true, 1200)), "");
    }

    #[test]
    fn reordered_stragglers_of_an_old_event_are_ignored() {
        let mut leg = Leg::new();
        assert_eq!(leg.press(0, 1000, '2', 100), "2");
        assert_eq!(leg.packet(300, PT, 3000, true, ev(3, false, 400)), "");
        // an update of digit 2 arrives late
        assert_eq!(leg.packet(310, PT, 1000, false, ev(2, false, 400)), "");
        assert_eq!(leg.packet(400, PT, 3000, false, ev(3, true, 800)), "3");
    }

    #[test]
    fn a_digit_after_a_silence_long_enough_to_wrap_the_timestamp_is_still_read() {
        let mut leg = Leg::new();
        assert_eq!(leg.press(0, 1000, '1', 100), "1");
        // 75 hours later the 8 kHz clock has run more than 2^31 units ahead: the new event
        // looks older than the last one, and is read all the same
        let later = 75 * 3600 * 1000;
        let ts = 1000u32.wrapping_add(75 * 3600 * 8000);
        assert!(RtpTimestamp(1000).distance_to(RtpTimestamp(ts)) < 0);
        assert_eq!(leg.press(later, ts, '2', 100), "2");
    }

    #[test]
    fn a_long_press_cut_into_segments_is_one_digit() {
        let mut rx = DtmfReceiver::new(PayloadType::new(PT).unwrap(), 8000, Duration::from_secs(1));
        let t = Instant::now();
        // §2.5.1.3: the first segment runs to near the largest duration, the next one starts
        // where it ended, without a marker
        rx.handle_event(t, RtpTimestamp(0), true, ev(0, false, 0xfff0));
        rx.handle_event(t, RtpTimestamp(0xfff0), false, ev(0, false, 800));
        assert_eq!(rx.poll_event(), None);
        rx.handle_event(t, RtpTimestamp(0xfff0), false, ev(0, true, 1600));
        let e = rx.poll_event().unwrap();
        assert_eq!(e.digit.as_char(), '0');
        assert_eq!(e.duration, Duration::from_micros((0xfff0 + 1600) * 125));
        assert_eq!(rx.poll_event(), None);
        // the same digit with a marker is a new press
        rx.handle_event(t, RtpTimestamp(0x2_0000), true, ev(0, false, 400));
        rx.handle_event(t, RtpTimestamp(0x2_0200), true, ev(0, true, 400));
        assert_eq!(rx.poll_event().map(|e| e.ending), Some(Ending::Superseded));
        assert_eq!(rx.poll_event().map(|e| e.ending), Some(Ending::End));
    }

    #[test]
    fn events_that_are_not_digits_and_broken_payloads_are_consumed_silently() {
        let mut leg = Leg::new();
        // flash (16)
        assert_eq!(leg.packet(0, PT, 10, true, ev(16, true, 800)), "");
        let mut buf = [0u8; 14];
        let h = Header::new(
            PayloadType::new(PT).unwrap(),
            Seq(9),
            RtpTimestamp(20),
            Ssrc(1),
        );
        write_header(&mut buf, &h).unwrap();
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(
            leg.rx.handle_packet(leg.t0, &p),
            "a 2-byte event payload is still an event"
        );
        assert_eq!(leg.drain(), "");
    }
}
