//! A calendar day in UTC, the unit the analytics aggregate by.
//!
//! A [`Day`] counts days since 1970-01-01 (the Unix epoch), so days order and subtract as
//! integers; it converts to and from the proleptic Gregorian date (`2026-12-06`) with the
//! civil-from-days arithmetic of H. Hinnant's "chrono-Compatible Low-Level Date Algorithms"
//! (no tables, no leap-second handling: Unix time has none).

use std::fmt;

/// Milliseconds in a UTC day.
const DAY_MS: u64 = 86_400_000;

/// A UTC calendar day: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u32);

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DayError {
    #[error("not a date of the form YYYY-MM-DD: {0:?}")]
    Syntax(String),
    #[error("no such date: {year:04}-{month:02}-{day:02}")]
    NoSuchDate { year: u32, month: u32, day: u32 },
    #[error("dates before 1970-01-01 are not supported: {0}")]
    BeforeEpoch(String),
}

impl Day {
    /// The day an instant given in milliseconds since the Unix epoch falls on.
    pub fn of_unix_ms(ms: u64) -> Day {
        // u32 days last until the year 11 million; later instants (garbage) stay on the last
        Day(u32::try_from(ms / DAY_MS).unwrap_or(u32::MAX))
    }

    /// Milliseconds since the epoch at the start (00:00 UTC) of this day.
    pub fn start_unix_ms(self) -> u64 {
        u64::from(self.0) * DAY_MS
    }

    /// The next day.
    pub fn next(self) -> Day {
        Day(self.0.saturating_add(1))
    }

    /// The day `year-month-day`, or why there is none (February 30th, 1969...).
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Result<Day, DayError> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(DayError::NoSuchDate { year, month, day });
        }
        // Hinnant's days_from_civil, with years counted from March so that February's leap
        // day ends the (shifted) year
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u32::try_from(days)
            .map(Day)
            .map_err(|_| DayError::BeforeEpoch(format!("{year:04}-{month:02}-{day:02}")))
    }

    /// The date of this day: (year, month 1-12, day 1-31).
    pub fn ymd(self) -> (u32, u32, u32) {
        // Hinnant's civil_from_days
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        // a u32 day count keeps the year within u32
        (y as u32, m as u32, d as u32)
    }

    /// Reads `YYYY-MM-DD` (exactly that: four, two and two digits).
    pub fn parse(s: &str) -> Result<Day, DayError> {
        let syntax = || DayError::Syntax(s.chars().take(32).collect());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(syntax());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DayError> {
            let part = &b[r];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(syntax());
            }
            Ok(part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        Day::from_ymd(num(0..4)?, num(5..7)?, num(8..10)?)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_day_zero_and_a_known_date_has_its_count() {
        assert_eq!(Day::parse("1970-01-01").unwrap(), Day(0));
        // 2000-03-01 is 11017 days after the epoch (30 years, 7 leap days, Jan and Feb 2000)
        assert_eq!(Day::parse("2000-03-01").unwrap(), Day(11_017));
        assert_eq!(Day::of_unix_ms(1_764_979_200_000).to_string(), "2025-12-06");
    }

    #[test]
    fn every_day_of_four_centuries_prints_as_it_parses() {
        let mut last = None;
        for n in 0..146_097 + 365 {
            let d = Day(n);
            let text = d.to_string();
            assert_eq!(Day::parse(&text), Ok(d), "{text}");
            let (y, m, dd) = d.ymd();
            if let Some((py, pm, pd)) = last {
                // consecutive: the next day of the month, or the 1st of the next month
                let next_in_month = (y, m, dd) == (py, pm, pd + 1);
                let next_month = dd == 1 && ((y, m) == (py, pm + 1) || (y, m) == (py + 1, 1));
                assert!(next_in_month || next_month, "{py}-{pm}-{pd} then {text}");
            }
            last = Some((y, m, dd));
        }
    }

    #[test]
    fn impossible_dates_and_other_spellings_are_refused() {
        assert!(matches!(
            Day::parse("2026-02-29"),
            Err(DayError::NoSuchDate { .. })
        ));
        assert!(Day::parse("2024-02-29").is_ok());
        assert!(Day::parse("1900-02-29").is_err());
        assert!(Day::parse("2000-02-29").is_ok());
        assert!(matches!(
            Day::parse("1969-12-31"),
            Err(DayError::BeforeEpoch(_))
        ));
        for bad in [
            "2026-1-01",
            "2026/01/01",
            "20260101",
            "2026-01-0x",
            "",
            "+026-01-01",
        ] {
            assert!(matches!(Day::parse(bad), Err(DayError::Syntax(_))), "{bad}");
        }
    }

    #[test]
    fn a_day_starts_at_midnight_utc() {
        let d = Day::parse("2026-12-06").unwrap();
        assert_eq!(Day::of_unix_ms(d.start_unix_ms()), d);
        assert_eq!(Day::of_unix_ms(d.start_unix_ms() - 1), Day(d.0 - 1));
        assert_eq!(Day::of_unix_ms(d.next().start_unix_ms() - 1), d);
        assert_eq!(
            Day::of_unix_ms(u64::MAX),
            Day(u32::MAX),
            "no wrap to an early day"
        );
    }
}
