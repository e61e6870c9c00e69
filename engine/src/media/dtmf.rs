//! DTMF: RFC 4733 telephone events in RTP, and the SIP INFO bodies phones use instead.
//!
//! [`EventPayload`] is the 4-byte payload (RFC 4733 §2.3). [`DtmfReceiver`] turns a leg's
//! event packets into one [`DigitEvent`] per key press, however many packets carried it;
//! [`DtmfSender`] produces the packets for digits to send, driven by `poll(now)`. The payload
//! type is always the one negotiated for `telephone-event` on the leg, given by the caller.
//! `info` parses and formats `application/dtmf-relay` and `application/dtmf` bodies, so
//! digits can move between INFO and RTP in both directions.
//!
//! Nothing here allocates per packet; no input makes a parser panic.

mod info;
mod receiver;
mod sender;

pub use info::{
    format_dtmf, format_dtmf_relay, parse_dtmf, parse_dtmf_relay, InfoDigit, DTMF_CONTENT_TYPE,
    DTMF_RELAY_CONTENT_TYPE,
};
pub use receiver::{DigitEvent, DtmfReceiver, Ending};
pub use sender::{DtmfPacket, DtmfSender};

use std::time::Duration;

/// Bytes of a telephone-event payload.
pub const EVENT_PAYLOAD_LEN: usize = 4;

/// How long a digit lasts when nobody said (an INFO without Duration).
pub const DEFAULT_DURATION: Duration = Duration::from_millis(160);

/// A DTMF digit: `0`-`9`, `*`, `#`, `A`-`D`, as RFC 4733 events 0-15 (§3.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// The digit of an event code, if it is one of the 16 DTMF events.
    pub const fn from_event(code: u8) -> Option<Digit> {
        if code < 16 {
            Some(Digit(code))
        } else {
            None
        }
    }

    /// The RFC 4733 event code.
    pub const fn event(self) -> u8 {
        self.0
    }

    /// The digit a key label names (`a`-`d` too).
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return None,
        };
        Some(Digit(code))
    }

    /// The key label (`A`-`D` in capitals).
    pub fn as_char(self) -> char {
        match self.0 {
            0..=9 => (b'0' + self.0) as char,
            10 => '*',
            11 => '#',
            _ => (b'A' + self.0 - 12) as char,
        }
    }
}

impl std::fmt::Display for Digit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// Why bytes or a body are not a DTMF event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    #[error("telephone-event payload of {len} bytes, needs 4")]
    TooShort { len: usize },
    #[error("dtmf body has no signal")]
    NoSignal,
    #[error("dtmf signal is not a digit 0-9, *, #, A-D or event 0-15")]
    BadSignal,
    #[error("dtmf duration is not a number of milliseconds")]
    BadDuration,
    #[error("{queued} digits already queued")]
    QueueFull { queued: usize },
}

/// The telephone-event payload (RFC 4733 §2.3):
///
/// ```text
///  0                   1                   2                   3
/// |     event     |E|R| volume    |          duration             |
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code (§2.3.1); 0-15 are DTMF digits.
    pub event: u8,
    /// The E bit: the event has ended (§2.3.2).
    pub end: bool,
    /// Power level in -dBm0, 0-63 (§2.3.3; 6 bits).
    pub volume: u8,
    /// Duration so far in RTP timestamp units (§2.3.5).
    pub duration: u16,
}

impl EventPayload {
    /// Reads the first 4 bytes (the R bit is ignored, as §2.3.4 asks; further bytes, e.g.
    /// more events of §2.5.1.5, are not read).
    pub fn parse(b: &[u8]) -> Result<EventPayload, DtmfError> {
        if b.len() < EVENT_PAYLOAD_LEN {
            return Err(DtmfError::TooShort { len: b.len() });
        }
        Ok(EventPayload {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4 wire bytes (R clear, volume cut to 6 bits).
    pub fn to_bytes(&self) -> [u8; EVENT_PAYLOAD_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// Converts RTP timestamp units at `clock_rate` to time.
fn units_to_duration(units: u32, clock_rate: u32) -> Duration {
    Duration::from_micros(u64::from(units) * 1_000_000 / u64::from(clock_rate.max(1)))
}

/// Converts time to RTP timestamp units at `clock_rate`, saturating.
fn duration_to_units(d: Duration, clock_rate: u32) -> u32 {
    let units = d.as_micros() * u128::from(clock_rate) / 1_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_map_to_events_and_back() {
        let all = "0123456789*#ABCD";
        for (code, c) in all.chars().enumerate() {
            let d = Digit::from_char(c).unwrap();
            assert_eq!(d.event(), code as u8);
            assert_eq!(d.as_char(), c);
            assert_eq!(Digit::from_event(code as u8), Some(d));
        }
        assert_eq!(Digit::from_char('b'), Digit::from_char('B'));
        assert_eq!(Digit::from_char('E'), None);
        assert_eq!(Digit::from_char('+'), None);
        assert_eq!(Digit::from_event(16), None, "flash is not a digit");
        assert_eq!(Digit::from_char('#').unwrap().to_string(), "#");
    }

    #[test]
    fn the_event_payload_has_the_rfc_layout() {
        // RFC 4733 §2.3: digit 5, end, volume 10, 800 units
        let p = EventPayload {
            event: 5,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(p.to_bytes(), [5, 0x8a, 0x03, 0x20]);
        assert_eq!(EventPayload::parse(&p.to_bytes()), Ok(p));
        // the R bit is ignored and extra bytes are not read
        assert_eq!(EventPayload::parse(&[5, 0xca, 3, 0x20, 9, 9]), Ok(p));
        assert_eq!(
            EventPayload::parse(&[5, 0x8a, 3]),
            Err(DtmfError::TooShort { len: 3 })
        );
        let loud = EventPayload { volume: 0xff, ..p };
        assert_eq!(loud.to_bytes()[1], 0xbf);
    }

    #[test]
    fn timestamp_units_convert_at_the_clock_rate() {
        assert_eq!(units_to_duration(800, 8000), Duration::from_millis(100));
        assert_eq!(units_to_duration(800, 16000), Duration::from_millis(50));
        assert_eq!(duration_to_units(Duration::from_millis(50), 8000), 400);
        assert_eq!(duration_to_units(Duration::MAX, 48000), u32::MAX);
    }
}
