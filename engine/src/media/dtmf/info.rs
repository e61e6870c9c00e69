//! DTMF in SIP INFO bodies: `application/dtmf-relay` (`Signal=5` / `Duration=160`, the
//! form most phones and gateways send) and `application/dtmf` (the digit alone).
//!
//! Parsing is lenient in what phones vary: key case, blanks around `=` and values, CRLF or
//! LF, lines it does not know. Signals are key labels (`0`-`9`, `*`, `#`, `A`-`D`) or event
//! numbers 0-15 (`10` is `*`, `11` is `#`). Formatting writes the canonical form.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Digit, DtmfError};

pub const DTMF_RELAY_CONTENT_TYPE: &str = "application/dtmf-relay";
pub const DTMF_CONTENT_TYPE: &str = "application/dtmf";

/// Longest Duration believed (a minute); longer values are refused as garbage.
const MAX_DURATION_MS: u64 = 60_000;

/// A digit from an INFO body.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InfoDigit {
    pub digit: Digit,
    /// `None` when the body did not say.
    pub duration: Option<Duration>,
}

/// Parses an `application/dtmf-relay` body.
pub fn parse_dtmf_relay(body: &str) -> Result<InfoDigit, DtmfError> {
    let mut digit = None;
    let mut duration = None;
    for line in body.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            k if k.eq_ignore_ascii_case("signal") => digit = Some(parse_signal(value)?),
            k if k.eq_ignore_ascii_case("duration") => {
                let ms = value
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| *ms <= MAX_DURATION_MS)
                    .ok_or(DtmfError::BadDuration)?;
                duration = Some(Duration::from_millis(ms));
            }
            _ => {}
        }
    }
    Ok(InfoDigit {
        digit: digit.ok_or(DtmfError::NoSignal)?,
        duration,
    })
}

/// Parses an `application/dtmf` body: one signal, blanks around it allowed.
pub fn parse_dtmf(body: &str) -> Result<Digit, DtmfError> {
    let s = body.trim();
    if s.is_empty() {
        return Err(DtmfError::NoSignal);
    }
    parse_signal(s)
}

/// Appends an `application/dtmf-relay` body (`Signal=…\r\nDuration=…\r\n`, milliseconds).
pub fn format_dtmf_relay(out: &mut String, digit: Digit, duration: Duration) {
    // writing to a String cannot fail
    let _ = write!(
        out,
        "Signal={}\r\nDuration={}\r\n",
        digit.as_char(),
        duration.as_millis()
    );
}

/// Appends an `application/dtmf` body.
pub fn format_dtmf(out: &mut String, digit: Digit) {
    out.push(digit.as_char());
}

fn parse_signal(s: &str) -> Result<Digit, DtmfError> {
    let mut chars = s.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Digit::from_char(c).ok_or(DtmfError::BadSignal);
    }
    // two-digit event numbers: 10-15
    s.parse::<u8>()
        .ok()
        .and_then(Digit::from_event)
        .ok_or(DtmfError::BadSignal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(body: &str) -> Result<(char, Option<u64>), DtmfError> {
        parse_dtmf_relay(body)
            .map(|d| (d.digit.as_char(), d.duration.map(|d| d.as_millis() as u64)))
    }

    #[test]
    fn dtmf_relay_bodies_parse_however_phones_write_them() {
        assert_eq!(relay("Signal=5\r\nDuration=160\r\n"), Ok(('5', Some(160))));
        assert_eq!(relay("signal = 5\nduration= 250 \n"), Ok(('5', Some(250))));
        assert_eq!(relay("SIGNAL=*\r\nDURATION=100"), Ok(('*', Some(100))));
        assert_eq!(relay("Signal=10\r\nDuration=100\r\n"), Ok(('*', Some(100))));
        assert_eq!(relay("Signal=11\r\n"), Ok(('#', None)));
        assert_eq!(relay("Signal=#\r\nDuration=80\r\n"), Ok(('#', Some(80))));
        assert_eq!(relay("Signal=d\r\n"), Ok(('D', None)));
        assert_eq!(
            relay("Signal= 1\r\nVolume=10\r\nDuration=120"),
            Ok(('1', Some(120)))
        );
    }

    #[test]
    fn broken_dtmf_relay_bodies_are_refused() {
        assert_eq!(relay(""), Err(DtmfError::NoSignal));
        assert_eq!(relay("Duration=160\r\n"), Err(DtmfError::NoSignal));
        assert_eq!(relay("Signal=\r\n"), Err(DtmfError::BadSignal));
        assert_eq!(relay("Signal=16\r\n"), Err(DtmfError::BadSignal));
        assert_eq!(relay("Signal=55\r\n"), Err(DtmfError::BadSignal));
        assert_eq!(relay("Signal=E\r\n"), Err(DtmfError::BadSignal));
        assert_eq!(
            relay("Signal=1\r\nDuration=-5\r\n"),
            Err(DtmfError::BadDuration)
        );
        assert_eq!(
            relay("Signal=1\r\nDuration=99999999\r\n"),
            Err(DtmfError::BadDuration)
        );
    }

    #[test]
    fn dtmf_bodies_are_the_digit_alone() {
        assert_eq!(
            parse_dtmf("5"),
            Digit::from_char('5').ok_or(DtmfError::BadSignal)
        );
        assert_eq!(parse_dtmf(" #\r\n").map(Digit::as_char), Ok('#'));
        assert_eq!(parse_dtmf("11").map(Digit::as_char), Ok('#'));
        assert_eq!(parse_dtmf(""), Err(DtmfError::NoSignal));
        assert_eq!(parse_dtmf("5 6"), Err(DtmfError::BadSignal));
    }

    #[test]
    fn formatted_bodies_parse_back_to_the_same_digit_and_duration() {
        for c in "0123456789*#ABCD".chars() {
            let d = Digit::from_char(c).unwrap();
            let mut body = String::new();
            format_dtmf_relay(&mut body, d, Duration::from_millis(160));
            let back = parse_dtmf_relay(&body).unwrap();
            assert_eq!(back.digit, d);
            assert_eq!(back.duration, Some(Duration::from_millis(160)));
            let mut body = String::new();
            format_dtmf(&mut body, d);
            assert_eq!(parse_dtmf(&body), Ok(d));
        }
        let mut body = String::new();
        format_dtmf_relay(
            &mut body,
            Digit::from_char('5').unwrap(),
            Duration::from_millis(160),
        );
        assert_eq!(body, "Signal=5\r\nDuration=160\r\n");
    }
}
