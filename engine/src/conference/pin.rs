//! The PIN a caller keys in by DTMF before joining a conference.
//!
//! A conference may have a participant PIN, a moderator PIN, both or neither:
//!
//! - neither: [`PinEntry::new`] decides [`PinOutcome::Participant`] at once (no prompt);
//! - the moderator PIN keys in a [`PinOutcome::Moderator`] (it is checked first, should both
//!   PINs be the same), the participant PIN a [`PinOutcome::Participant`];
//! - with only a moderator PIN, an empty entry (`#` alone, or nothing keyed before the
//!   first-digit timeout) lets the caller in as a participant: the prompt says "enter the
//!   moderator PIN, or press # to join".
//!
//! An entry ends with `#`, when no digit has come for the inter-digit timeout, or when no
//! first digit has come for the first-digit timeout (the prompt plays meanwhile). A wrong
//! entry is [`PinOutcome::Retry`] (play "wrong PIN, try again") until the attempts are used
//! up, then [`PinOutcome::Refused`]; the overall timeout refuses whatever the attempts left.
//! PINs are digits `0`-`9`; an entry holding `*` or `A`-`D` is wrong.
//!
//! Drive it with `handle_digit(now, digit)` and `handle_timeout(now)` at `poll_timeout()`;
//! take outcomes from `poll_outcome()` after each call. Participant, Moderator and Refused
//! are final: nothing happens after them.

use std::time::{Duration, Instant};

use crate::media::dtmf::Digit;

/// The longest PIN.
pub const MAX_PIN_LEN: usize = 16;

/// A PIN: 1 to [`MAX_PIN_LEN`] digits `0`-`9`. Its `Debug` form does not show the digits.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Pin {
    digits: [u8; MAX_PIN_LEN],
    len: u8,
}

/// Why a PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    #[error("pin is empty")]
    Empty,
    #[error("pin of {len} characters, at most {MAX_PIN_LEN}")]
    TooLong { len: usize },
    #[error("pin holds {found:?} at {at}, only digits 0-9")]
    NotADigit { at: usize, found: char },
}

impl Pin {
    /// Parses a configured PIN (`"4711"`).
    pub fn parse(input: &str) -> Result<Pin, PinError> {
        if input.is_empty() {
            return Err(PinError::Empty);
        }
        if let Some((at, found)) = input.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(PinError::NotADigit { at, found });
        }
        // all ASCII digits now: one byte each
        if input.len() > MAX_PIN_LEN {
            return Err(PinError::TooLong { len: input.len() });
        }
        let mut digits = [0u8; MAX_PIN_LEN];
        digits[..input.len()].copy_from_slice(input.as_bytes());
        Ok(Pin {
            digits,
            len: input.len() as u8,
        })
    }

    /// The digits, as text (for the bridge's snapshot).
    pub fn as_str(&self) -> &str {
        // only ASCII digits are ever stored
        std::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or_default()
    }

    fn matches(&self, entry: &[u8]) -> bool {
        &self.digits[..self.len as usize] == entry
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({} digits)", self.len)
    }
}

/// The PIN policy of a conference.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PinConfig {
    pub participant: Option<Pin>,
    pub moderator: Option<Pin>,
    /// Entries a caller has before being refused (0 counts as 1).
    pub attempts: u32,
    /// How long the first digit of an entry may take (the prompt plays meanwhile).
    pub first_digit: Duration,
    /// How long the next digit may take; then the entry ends as if `#` had been keyed.
    pub inter_digit: Duration,
    /// How long the whole PIN entry may take, all attempts together.
    pub overall: Duration,
}

impl Default for PinConfig {
    /// No PIN; 3 attempts, 10 s for the first digit, 5 s between digits, 60 s in all.
    fn default() -> PinConfig {
        PinConfig {
            participant: None,
            moderator: None,
            attempts: 3,
            first_digit: Duration::from_secs(10),
            inter_digit: Duration::from_secs(5),
            overall: Duration::from_secs(60),
        }
    }
}

impl PinConfig {
    /// Whether callers are asked for a PIN at all.
    pub fn asks(&self) -> bool {
        self.participant.is_some() || self.moderator.is_some()
    }
}

/// What an entry decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PinOutcome {
    /// Join as a participant.
    Participant,
    /// Join as a moderator.
    Moderator,
    /// Wrong: try again (attempts are left).
    Retry,
    /// Wrong too often, or too slow: do not join.
    Refused,
}

impl PinOutcome {
    /// Whether the entry is over.
    pub fn is_final(self) -> bool {
        self != PinOutcome::Retry
    }
}

/// One caller's PIN entry.
#[derive(Clone, Debug)]
pub struct PinEntry {
    config: PinConfig,
    entry: [u8; MAX_PIN_LEN],
    len: usize,
    /// More digits were keyed than a PIN holds: the entry is wrong.
    overlong: bool,
    /// When the current attempt started, or its last digit came.
    last: Instant,
    wrong: u32,
    overall: Instant,
    outcome: Option<PinOutcome>,
    finished: bool,
}

impl PinEntry {
    /// An entry starting at `now` (when the prompt starts). Without any PIN configured it is
    /// over at once: `poll_outcome` gives `Participant`.
    pub fn new(now: Instant, config: PinConfig) -> PinEntry {
        let mut e = PinEntry {
            config,
            entry: [0; MAX_PIN_LEN],
            len: 0,
            overlong: false,
            last: now,
            wrong: 0,
            overall: now + config.overall,
            outcome: None,
            finished: false,
        };
        if !config.asks() {
            e.finish(PinOutcome::Participant);
        }
        e
    }

    /// A digit keyed at `now`. `#` ends the entry.
    pub fn handle_digit(&mut self, now: Instant, digit: Digit) {
        self.handle_timeout(now);
        if self.finished {
            return;
        }
        if digit.as_char() == '#' {
            self.evaluate(now);
            return;
        }
        if self.len < MAX_PIN_LEN {
            // `as_char` is ASCII for every digit
            self.entry[self.len] = digit.as_char() as u8;
            self.len += 1;
        } else {
            self.overlong = true;
        }
        self.last = now;
    }

    /// Ends what has timed out at `now`: the whole entry (refused), or the current attempt
    /// (evaluated as if `#` had been keyed).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        // attempts that ended before the overall deadline, each at its own deadline (a
        // timeout seen late still counts every attempt that ran out meanwhile)
        while !self.finished {
            let attempt = self.attempt_deadline();
            if now < attempt || attempt >= self.overall {
                break;
            }
            self.evaluate(attempt);
        }
        if !self.finished && now >= self.overall {
            self.finish(PinOutcome::Refused);
        }
    }

    /// When `handle_timeout` has something to do; `None` once the entry is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.finished).then(|| self.attempt_deadline().min(self.overall))
    }

    /// What the entry decided since the last poll (a final outcome replaces an unpolled
    /// `Retry`).
    pub fn poll_outcome(&mut self) -> Option<PinOutcome> {
        self.outcome.take()
    }

    /// Whether the entry is over (the final outcome may still wait to be polled).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Wrong entries the caller may still make before being refused.
    pub fn attempts_left(&self) -> u32 {
        self.config.attempts.max(1).saturating_sub(self.wrong)
    }

    fn attempt_deadline(&self) -> Instant {
        let wait = if self.len == 0 && !self.overlong {
            self.config.first_digit
        } else {
            self.config.inter_digit
        };
        self.last + wait
    }

    fn evaluate(&mut self, now: Instant) {
        let entry = &self.entry[..self.len];
        let participant = match self.config.participant {
            Some(p) => p.matches(entry),
            // only a moderator PIN: an empty entry joins as a participant
            None => entry.is_empty(),
        };
        let outcome = if self.overlong {
            None
        } else if self.config.moderator.is_some_and(|p| p.matches(entry)) {
            Some(PinOutcome::Moderator)
        } else if participant {
            Some(PinOutcome::Participant)
        } else {
            None
        };
        match outcome {
            Some(o) => self.finish(o),
            None => {
                self.wrong += 1;
                if self.attempts_left() == 0 {
                    self.finish(PinOutcome::Refused);
                } else {
                    self.outcome = Some(PinOutcome::Retry);
                    self.len = 0;
                    self.overlong = false;
                    self.last = now;
                }
            }
        }
    }

    fn finish(&mut self, outcome: PinOutcome) {
        self.outcome = Some(outcome);
        self.finished = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn config(participant: Option<&str>, moderator: Option<&str>) -> PinConfig {
        PinConfig {
            participant: participant.map(|p| Pin::parse(p).unwrap()),
            moderator: moderator.map(|p| Pin::parse(p).unwrap()),
            ..PinConfig::default()
        }
    }

    /// Keys `s` one digit a second from `at`; returns the outcomes polled.
    fn key(e: &mut PinEntry, at: &mut Instant, s: &str) -> Vec<PinOutcome> {
        let mut out = Vec::new();
        for c in s.chars() {
            *at += SEC;
            e.handle_digit(*at, Digit::from_char(c).unwrap());
            out.extend(e.poll_outcome());
        }
        out
    }

    #[test]
    fn pins_are_one_to_sixteen_digits() {
        assert_eq!(Pin::parse("4711").unwrap().as_str(), "4711");
        assert_eq!(Pin::parse("0").unwrap().as_str(), "0");
        assert_eq!(Pin::parse(""), Err(PinError::Empty));
        assert_eq!(
            Pin::parse(&"1".repeat(17)),
            Err(PinError::TooLong { len: 17 })
        );
        assert!(Pin::parse(&"9".repeat(16)).is_ok());
        assert_eq!(
            Pin::parse("12*4"),
            Err(PinError::NotADigit { at: 2, found: '*' })
        );
        assert_eq!(
            Pin::parse("１２"),
            Err(PinError::NotADigit {
                at: 0, found: '１'
            })
        );
        assert_eq!(
            format!("{:?}", Pin::parse("4711").unwrap()),
            "Pin(4 digits)"
        );
    }

    #[test]
    fn without_a_pin_the_caller_joins_at_once() {
        let t0 = Instant::now();
        let mut e = PinEntry::new(t0, PinConfig::default());
        assert!(e.is_finished());
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Participant));
        assert_eq!(e.poll_timeout(), None);
        e.handle_digit(t0 + SEC, Digit::from_char('#').unwrap());
        assert_eq!(e.poll_outcome(), None);
    }

    #[test]
    fn the_right_pin_and_hash_let_the_caller_in() {
        let mut at = Instant::now();
        let mut e = PinEntry::new(at, config(Some("4711"), None));
        assert!(!e.is_finished());
        assert_eq!(key(&mut e, &mut at, "4711"), []);
        assert_eq!(key(&mut e, &mut at, "#"), [PinOutcome::Participant]);
        assert!(e.is_finished());
        assert_eq!(e.poll_timeout(), None);
    }

    #[test]
    fn a_wrong_pin_asks_again_then_the_right_one_lets_the_caller_in() {
        let mut at = Instant::now();
        let mut e = PinEntry::new(at, config(Some("4711"), None));
        assert_eq!(key(&mut e, &mut at, "4712#"), [PinOutcome::Retry]);
        assert_eq!(e.attempts_left(), 2);
        // a prefix or a longer entry is wrong too
        assert_eq!(key(&mut e, &mut at, "471#"), [PinOutcome::Retry]);
        assert_eq!(key(&mut e, &mut at, "4711#"), [PinOutcome::Participant]);
    }

    #[test]
    fn the_attempts_used_up_refuse_the_caller() {
        let mut at = Instant::now();
        let mut e = PinEntry::new(
            at,
            PinConfig {
                attempts: 2,
                ..config(Some("4711"), None)
            },
        );
        assert_eq!(key(&mut e, &mut at, "1#"), [PinOutcome::Retry]);
        assert_eq!(key(&mut e, &mut at, "47111#"), [PinOutcome::Refused]);
        assert!(e.is_finished());
        // the right PIN after the refusal changes nothing
        assert_eq!(key(&mut e, &mut at, "4711#"), []);
    }

    #[test]
    fn the_inter_digit_timeout_ends_an_entry_as_hash_would() {
        let t0 = Instant::now();
        let mut at = t0;
        let mut e = PinEntry::new(t0, config(Some("4711"), None));
        key(&mut e, &mut at, "4711");
        let deadline = e.poll_timeout().unwrap();
        assert_eq!(deadline, at + PinConfig::default().inter_digit);
        e.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(e.poll_outcome(), None);
        e.handle_timeout(deadline);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Participant));
    }

    #[test]
    fn a_digit_after_the_inter_digit_timeout_starts_the_next_attempt() {
        let t0 = Instant::now();
        let mut e = PinEntry::new(t0, config(Some("4711"), None));
        let d = |c| Digit::from_char(c).unwrap();
        e.handle_digit(t0, d('4'));
        e.handle_digit(t0 + SEC, d('7'));
        // 6 s of silence: "47" was the entry, and it was wrong
        e.handle_digit(t0 + 7 * SEC, d('4'));
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Retry));
        for (i, c) in "711#".chars().enumerate() {
            e.handle_digit(t0 + (8 + i as u32) * SEC, d(c));
        }
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Participant));
    }

    #[test]
    fn silence_after_the_prompt_counts_as_a_wrong_entry() {
        let t0 = Instant::now();
        let mut e = PinEntry::new(t0, config(Some("4711"), None));
        let first = e.poll_timeout().unwrap();
        assert_eq!(first, t0 + PinConfig::default().first_digit);
        e.handle_timeout(first);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Retry));
        let second = e.poll_timeout().unwrap();
        assert_eq!(second, first + PinConfig::default().first_digit);
        e.handle_timeout(second);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Retry));
        e.handle_timeout(e.poll_timeout().unwrap());
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Refused));
        assert_eq!(e.poll_timeout(), None);
    }

    #[test]
    fn the_overall_timeout_refuses_a_slow_caller_with_attempts_left() {
        let t0 = Instant::now();
        let mut e = PinEntry::new(
            t0,
            PinConfig {
                overall: 12 * SEC,
                ..config(Some("4711"), None)
            },
        );
        let d = |c| Digit::from_char(c).unwrap();
        // a digit every 4 s: within the inter-digit timeout, but 12 s pass
        for (i, c) in "4711".chars().enumerate() {
            e.handle_digit(t0 + 4 * (i as u32) * SEC, d(c));
        }
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Refused));
        assert_eq!(e.attempts_left(), 3);
        // the next deadline of a pending entry is never past the overall one
        let mut e = PinEntry::new(
            t0,
            PinConfig {
                overall: 3 * SEC,
                ..config(Some("4711"), None)
            },
        );
        assert_eq!(e.poll_timeout(), Some(t0 + 3 * SEC));
        e.handle_timeout(t0 + 3 * SEC);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Refused));
    }

    #[test]
    fn a_timeout_seen_late_ends_each_attempt_at_its_own_deadline() {
        let t0 = Instant::now();
        let mut e = PinEntry::new(t0, config(Some("4711"), None));
        // two empty attempts ran out at 10 s and 20 s; the third is still running at 25 s
        e.handle_timeout(t0 + 25 * SEC);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Retry));
        assert_eq!(e.attempts_left(), 1);
        assert_eq!(e.poll_timeout(), Some(t0 + 30 * SEC));
        // seen at 61 s: the third ran out at 30 s, before the overall timeout
        e.handle_timeout(t0 + 61 * SEC);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Refused));
        assert_eq!(e.attempts_left(), 0);
    }

    #[test]
    fn the_moderator_pin_makes_a_moderator_and_the_participant_pin_a_participant() {
        let conf = config(Some("1111"), Some("9999"));
        let mut at = Instant::now();
        let mut e = PinEntry::new(at, conf);
        assert_eq!(key(&mut e, &mut at, "9999#"), [PinOutcome::Moderator]);
        let mut e = PinEntry::new(at, conf);
        assert_eq!(key(&mut e, &mut at, "1111#"), [PinOutcome::Participant]);
        let mut e = PinEntry::new(at, conf);
        assert_eq!(
            key(&mut e, &mut at, "#"),
            [PinOutcome::Retry],
            "a PIN is needed"
        );
        // the same PIN for both: the moderator wins
        let mut e = PinEntry::new(at, config(Some("1111"), Some("1111")));
        assert_eq!(key(&mut e, &mut at, "1111#"), [PinOutcome::Moderator]);
    }

    #[test]
    fn with_only_a_moderator_pin_an_empty_entry_joins_as_a_participant() {
        let conf = config(None, Some("9999"));
        let t0 = Instant::now();
        let mut at = t0;
        let mut e = PinEntry::new(t0, conf);
        assert_eq!(key(&mut e, &mut at, "#"), [PinOutcome::Participant]);
        let mut e = PinEntry::new(t0, conf);
        e.handle_timeout(t0 + conf.first_digit);
        assert_eq!(e.poll_outcome(), Some(PinOutcome::Participant));
        let mut e = PinEntry::new(t0, conf);
        assert_eq!(key(&mut e, &mut at, "9998#"), [PinOutcome::Retry]);
        assert_eq!(key(&mut e, &mut at, "9999#"), [PinOutcome::Moderator]);
    }

    #[test]
    fn an_entry_longer_than_any_pin_or_holding_a_star_is_wrong() {
        let mut at = Instant::now();
        let mut e = PinEntry::new(at, config(Some("4711"), None));
        let long = format!("{}4711#", "0".repeat(MAX_PIN_LEN));
        assert_eq!(key(&mut e, &mut at, &long), [PinOutcome::Retry]);
        assert_eq!(key(&mut e, &mut at, "47*11#"), [PinOutcome::Retry]);
        assert_eq!(key(&mut e, &mut at, "4711#"), [PinOutcome::Participant]);
    }
}
