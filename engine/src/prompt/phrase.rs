//! Phrases: what the switch says, as the clips to play one after another.
//!
//! A [`Phrase`] is built by appending: a clip, a cardinal number in English words
//! ([`Phrase::number`]: 21 is "twenty one"), a string said character by character
//! ([`Phrase::digits`]), a caller ([`Phrase::caller`]), a time of day ([`Phrase::time_of_day`]:
//! "three oh five pee em"), a day relative to today ([`Phrase::date`]), a count with the
//! singular or plural noun ([`Phrase::count`]) and a length of time ([`Phrase::duration`]).
//!
//! Pure functions: wall-clock times are seconds since the Unix epoch with the caller's UTC
//! offset, both given by the caller; nothing reads a clock. Every clip a phrase holds is one
//! of [`CLIPS`](super::clip::CLIPS).

use std::time::Duration;

use super::clip::{self, Clip, CARDINALS, DIGITS, LETTERS, MONTHS, ORDINALS, TENS, WEEKDAYS};

const DAY: i64 = 86_400;

/// Clips to play in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phrase(Vec<Clip>);

impl Phrase {
    pub fn new() -> Phrase {
        Phrase(Vec::with_capacity(16))
    }

    /// A phrase of these clips.
    pub fn of(clips: &[Clip]) -> Phrase {
        Phrase(clips.to_vec())
    }

    pub fn clips(&self) -> &[Clip] {
        &self.0
    }

    pub fn into_clips(self) -> Vec<Clip> {
        self.0
    }

    /// The clip names, in order (for logs and tests).
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.name()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends one clip.
    pub fn clip(&mut self, c: Clip) -> &mut Phrase {
        self.0.push(c);
        self
    }

    /// Appends another phrase.
    pub fn then(&mut self, other: &Phrase) -> &mut Phrase {
        self.0.extend_from_slice(&other.0);
        self
    }

    /// Appends `n` as an English cardinal: "zero", "twenty one", "one hundred five",
    /// "twelve thousand three hundred forty five" (American style, no "and").
    pub fn number(&mut self, n: u32) -> &mut Phrase {
        if n == 0 {
            return self.clip(CARDINALS[0]);
        }
        let mut rest = n;
        for (scale, word) in [
            (1_000_000_000, clip::BILLION),
            (1_000_000, clip::MILLION),
            (1_000, clip::THOUSAND),
        ] {
            if rest >= scale {
                self.below_thousand(rest / scale);
                self.clip(word);
                rest %= scale;
            }
        }
        if rest > 0 {
            self.below_thousand(rest);
        }
        self
    }

    /// Appends `s` one character at a time: digits, `*` ("star"), `#` ("pound"), `+`
    /// ("plus") and letters by name (either case); anything else is left out.
    pub fn digits(&mut self, s: &str) -> &mut Phrase {
        for c in s.chars() {
            let clip = match c {
                '0'..='9' => DIGITS[(c as u8 - b'0') as usize],
                '*' => clip::STAR,
                '#' => clip::POUND,
                '+' => clip::PLUS,
                'a'..='z' => LETTERS[(c as u8 - b'a') as usize],
                'A'..='Z' => LETTERS[(c as u8 - b'A') as usize],
                _ => continue,
            };
            self.clip(clip);
        }
        self
    }

    /// Appends who called: the number (or name) said one character at a time, or "an unknown
    /// caller" when there is nothing to say (empty, `anonymous`, or no speakable character).
    pub fn caller(&mut self, caller: &str) -> &mut Phrase {
        let before = self.0.len();
        if !caller.eq_ignore_ascii_case("anonymous") {
            self.digits(caller);
        }
        if self.0.len() == before {
            self.clip(clip::UNKNOWN_CALLER);
        }
        self
    }

    /// Appends the time of day of `unix` (seconds since the epoch) at `utc_offset` seconds
    /// east of UTC, on a 12-hour clock: "three pee em", "three oh five pee em", "eleven
    /// forty five ay em", "noon", "midnight".
    pub fn time_of_day(&mut self, unix: u64, utc_offset: i32) -> &mut Phrase {
        let secs = local_seconds(unix, utc_offset).rem_euclid(DAY);
        let (hour, minute) = ((secs / 3600) as u32, (secs % 3600 / 60) as u32);
        match (hour, minute) {
            (0, 0) => return self.clip(clip::MIDNIGHT),
            (12, 0) => return self.clip(clip::NOON),
            _ => {}
        }
        let twelve = match hour % 12 {
            0 => 12,
            h => h,
        };
        self.number(twelve);
        match minute {
            0 => {}
            1..=9 => {
                self.clip(clip::OH).number(minute);
            }
            _ => {
                self.number(minute);
            }
        }
        self.clip(if hour < 12 { clip::AM } else { clip::PM })
    }

    /// Appends the day of `unix` as seen on the day of `now_unix` (both at `utc_offset`):
    /// "today", "yesterday", "on Tuesday" within the last week, else "on March fifth".
    pub fn date(&mut self, unix: u64, now_unix: u64, utc_offset: i32) -> &mut Phrase {
        let day = local_seconds(unix, utc_offset).div_euclid(DAY);
        let today = local_seconds(now_unix, utc_offset).div_euclid(DAY);
        match today - day {
            0 => self.clip(clip::TODAY),
            1 => self.clip(clip::YESTERDAY),
            2..=6 => {
                // 1970-01-01 was a Thursday (index 4 from Sunday)
                let weekday = (day + 4).rem_euclid(7) as usize;
                self.clip(clip::ON).clip(WEEKDAYS[weekday])
            }
            _ => {
                let (_, month, mday) = civil_from_days(day);
                self.clip(clip::ON)
                    .clip(MONTHS[month as usize - 1])
                    .clip(ORDINALS[mday as usize - 1])
            }
        }
    }

    /// Appends when `unix` was, seen from `now_unix`: the day, "at", the time of day.
    pub fn when(&mut self, unix: u64, now_unix: u64, utc_offset: i32) -> &mut Phrase {
        self.date(unix, now_unix, utc_offset)
            .clip(clip::AT)
            .time_of_day(unix, utc_offset)
    }

    /// Appends a count and its noun: "no new messages", "one new message", "two new
    /// messages".
    pub fn count(&mut self, n: u32, singular: Clip, plural: Clip) -> &mut Phrase {
        match n {
            0 => self.clip(clip::NO).clip(plural),
            1 => self.number(1).clip(singular),
            _ => self.number(n).clip(plural),
        }
    }

    /// Appends a length of time in whole minutes and seconds: "one minute five seconds",
    /// "forty seconds", "two minutes", "zero seconds" (below a second).
    pub fn duration(&mut self, d: Duration) -> &mut Phrase {
        let secs = d.as_secs();
        let (minutes, seconds) = (secs / 60, (secs % 60) as u32);
        if minutes > 0 {
            let m = u32::try_from(minutes).unwrap_or(u32::MAX);
            self.count(m, clip::MINUTE, clip::MINUTES);
        }
        if seconds > 0 {
            self.count(seconds, clip::SECOND, clip::SECONDS);
        } else if minutes == 0 {
            self.number(0).clip(clip::SECONDS);
        }
        self
    }

    fn below_thousand(&mut self, n: u32) {
        debug_assert!((1..1000).contains(&n));
        if n >= 100 {
            self.clip(CARDINALS[(n / 100) as usize]).clip(clip::HUNDRED);
        }
        let r = (n % 100) as usize;
        if r >= 20 {
            self.clip(TENS[r / 10 - 2]);
            if !r.is_multiple_of(10) {
                self.clip(CARDINALS[r % 10]);
            }
        } else if r > 0 {
            self.clip(CARDINALS[r]);
        }
    }
}

impl From<Phrase> for Vec<Clip> {
    fn from(p: Phrase) -> Vec<Clip> {
        p.0
    }
}

fn local_seconds(unix: u64, utc_offset: i32) -> i64 {
    i64::try_from(unix).unwrap_or(i64::MAX / 2) + i64::from(utc_offset)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: &Phrase) -> String {
        p.clips()
            .iter()
            .map(|c| c.text())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// 2024-03-05 15:05:00 UTC, a Tuesday.
    const TUE_1505: u64 = 1_709_651_100;

    #[test]
    fn numbers_are_said_as_english_cardinals() {
        let table: &[(u32, &str)] = &[
            (0, "zero"),
            (7, "seven"),
            (13, "thirteen"),
            (19, "nineteen"),
            (20, "twenty"),
            (21, "twenty one"),
            (99, "ninety nine"),
            (100, "one hundred"),
            (105, "one hundred five"),
            (110, "one hundred ten"),
            (999, "nine hundred ninety nine"),
            (1000, "one thousand"),
            (1001, "one thousand one"),
            (12_345, "twelve thousand three hundred forty five"),
            (100_000, "one hundred thousand"),
            (1_000_000, "one million"),
            (2_000_017, "two million seventeen"),
            (
                4_294_967_295,
                "four billion two hundred ninety four million nine hundred sixty seven \
                 thousand two hundred ninety five",
            ),
        ];
        for &(n, said) in table {
            assert_eq!(words(Phrase::new().number(n)), said, "{n}");
        }
        assert_eq!(Phrase::new().number(21).names(), ["n-20", "n-1"]);
    }

    #[test]
    fn strings_are_said_one_character_at_a_time() {
        let table: &[(&str, &[&str])] = &[
            ("1002", &["digit-1", "digit-0", "digit-0", "digit-2"]),
            ("+49", &["digit-plus", "digit-4", "digit-9"]),
            ("*98#", &["digit-star", "digit-9", "digit-8", "digit-pound"]),
            ("Bo-b", &["letter-b", "letter-o", "letter-b"]),
            ("é ", &[]),
        ];
        for &(s, names) in table {
            assert_eq!(Phrase::new().digits(s).names(), names, "{s:?}");
        }
    }

    #[test]
    fn a_caller_with_nothing_to_say_is_an_unknown_caller() {
        assert_eq!(Phrase::new().caller("1002").len(), 4);
        for nobody in ["", "anonymous", "Anonymous", "-.-"] {
            assert_eq!(
                Phrase::new().caller(nobody).names(),
                ["unknown-caller"],
                "{nobody:?}"
            );
        }
    }

    #[test]
    fn times_of_day_are_said_on_a_twelve_hour_clock() {
        let midnight = TUE_1505 - (15 * 3600 + 5 * 60);
        let table: &[(u64, i32, &str)] = &[
            (TUE_1505, 0, "three oh five pee em"),
            (midnight, 0, "midnight"),
            (midnight + 12 * 3600, 0, "noon"),
            (midnight + 12 * 3600 + 60, 0, "twelve oh one pee em"),
            (midnight + 60, 0, "twelve oh one ay em"),
            (midnight + 9 * 3600, 0, "nine ay em"),
            (
                midnight + 11 * 3600 + 45 * 60 + 59,
                0,
                "eleven forty five ay em",
            ),
            (midnight + 23 * 3600 + 10 * 60, 0, "eleven ten pee em"),
            // the offset moves the clock: UTC+2 and UTC-5:30
            (TUE_1505, 7200, "five oh five pee em"),
            (TUE_1505, -(5 * 3600 + 1800), "nine thirty five ay em"),
            // before the epoch in local time
            (0, -3600, "eleven pee em"),
        ];
        for &(unix, offset, said) in table {
            assert_eq!(
                words(Phrase::new().time_of_day(unix, offset)),
                said,
                "{unix} {offset}"
            );
        }
    }

    #[test]
    fn days_are_said_relative_to_today() {
        let d = 86_400;
        let table: &[(u64, u64, i32, &str)] = &[
            (TUE_1505, TUE_1505 + 3600, 0, "today"),
            (TUE_1505, TUE_1505 + d, 0, "yesterday"),
            (TUE_1505, TUE_1505 + 2 * d, 0, "on Tuesday"),
            (TUE_1505, TUE_1505 + 6 * d, 0, "on Tuesday"),
            (TUE_1505 + d, TUE_1505 + 3 * d, 0, "on Wednesday"),
            (TUE_1505, TUE_1505 + 7 * d, 0, "on March fifth"),
            (TUE_1505, TUE_1505 - d, 0, "on March fifth"),
            // 13:05 and 15:05 UTC are one day at UTC, Tuesday and Wednesday at UTC+10
            (TUE_1505 - 2 * 3600, TUE_1505, 0, "today"),
            (TUE_1505 - 2 * 3600, TUE_1505, 10 * 3600, "yesterday"),
            (0, 0, 0, "today"),
            (0, 30 * d, 0, "on January first"),
            // 2024 is a leap year
            (
                1_709_164_800,
                1_709_164_800 + 30 * d,
                0,
                "on February twenty ninth",
            ),
            (
                1_735_603_200,
                1_735_603_200 + 9 * d,
                0,
                "on December thirty first",
            ),
        ];
        for &(unix, now, offset, said) in table {
            assert_eq!(
                words(Phrase::new().date(unix, now, offset)),
                said,
                "{unix} {now} {offset}"
            );
        }
        assert_eq!(
            words(Phrase::new().when(TUE_1505, TUE_1505 + 60, 0)),
            "today at three oh five pee em"
        );
    }

    #[test]
    fn the_civil_calendar_is_right_across_leap_years_and_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn counts_take_the_singular_or_the_plural() {
        let p = |n| words(Phrase::new().count(n, clip::NEW_MESSAGE, clip::NEW_MESSAGES));
        assert_eq!(p(0), "no new messages");
        assert_eq!(p(1), "one new message");
        assert_eq!(p(2), "two new messages");
        assert_eq!(p(21), "twenty one new messages");
    }

    #[test]
    fn durations_are_said_in_minutes_and_seconds() {
        let table: &[(u64, &str)] = &[
            (0, "zero seconds"),
            (1, "one second"),
            (40, "forty seconds"),
            (60, "one minute"),
            (65, "one minute five seconds"),
            (181, "three minutes one second"),
        ];
        for &(s, said) in table {
            assert_eq!(
                words(Phrase::new().duration(Duration::from_secs(s))),
                said,
                "{s}"
            );
        }
        assert_eq!(
            words(Phrase::new().duration(Duration::from_millis(999))),
            "zero seconds"
        );
    }

    #[test]
    fn phrases_append_in_order() {
        let mut p = Phrase::of(&[clip::YOU_HAVE]);
        p.count(2, clip::NEW_MESSAGE, clip::NEW_MESSAGES)
            .then(&Phrase::of(&[clip::GOODBYE]));
        assert_eq!(p.names(), ["you-have", "n-2", "new-messages", "goodbye"]);
        assert!(!p.is_empty());
        assert_eq!(Vec::from(p).len(), 4);
    }
}
