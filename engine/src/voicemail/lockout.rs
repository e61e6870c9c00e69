//! How a mailbox's PIN resists guessing: a few wrong PINs a call (`MenuConfig::pin_attempts`),
//! and over all calls a lockout after [`PinLockout::failures`] wrong ones in a row, like the
//! one-time passwords' limit: for [`PinLockout::first`], then twice as long after each further
//! round of wrong ones, up to [`PinLockout::longest`]. A right PIN (or a new one) starts the
//! count again.
//!
//! The count and the end of the lockout live in [`MailboxSettings`] (they survive the call and
//! a restart); the methods here are the pure rules, with the wall clock as a parameter. With
//! the defaults (10 wrong PINs, 15 minutes doubling up to a day) a four-digit PIN takes
//! hundreds of days to guess by phone on average.
//!
//! Who is locked out: every caller who must key the PIN. A caller let in without one (the
//! mailbox's own phone, when the operator allows that) is not.

use std::time::Duration;

use super::record::{MailboxSettings, MAX_PIN_FAILURES};

/// The lockout rules (`[voicemail] pin_failures`, `pin_lockout_secs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PinLockout {
    /// Wrong PINs in a row that lock the mailbox (at least 1).
    pub failures: u32,
    /// The first lockout; each further one lasts twice as long as the one before.
    pub first: Duration,
    /// The longest lockout.
    pub longest: Duration,
}

impl Default for PinLockout {
    /// [`MAX_PIN_FAILURES`] wrong PINs, 15 minutes, at most a day.
    fn default() -> PinLockout {
        PinLockout {
            failures: MAX_PIN_FAILURES,
            first: Duration::from_secs(15 * 60),
            longest: Duration::from_secs(24 * 3600),
        }
    }
}

impl PinLockout {
    /// How long the `round`th lockout in a row lasts (the first is round 1).
    pub fn length(&self, round: u32) -> Duration {
        let doublings = round.saturating_sub(1).min(31);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.longest.max(self.first))
    }

    fn failures(&self) -> u32 {
        self.failures.max(1)
    }
}

impl MailboxSettings {
    /// Whether the mailbox takes no PIN at `now_unix` (seconds since the Unix epoch).
    pub fn pin_locked(&self, now_unix: u64) -> bool {
        now_unix < self.pin_locked_until_unix
    }

    /// The wrong PINs that count toward the next lockout at `now_unix`: `rules.failures` while
    /// locked (no PIN is taken), else those since the last lockout (the menu gives a call
    /// only the attempts left before the next one).
    pub fn pin_failures_now(&self, now_unix: u64, rules: &PinLockout) -> u32 {
        if self.pin_locked(now_unix) {
            rules.failures()
        } else {
            self.pin_failures % rules.failures()
        }
    }

    /// Counts a wrong PIN keyed at `now_unix`; every `rules.failures`th in a row locks the
    /// mailbox (`true` when this one did).
    pub fn pin_failed(&mut self, now_unix: u64, rules: &PinLockout) -> bool {
        self.pin_failures = self.pin_failures.saturating_add(1);
        if !self.pin_failures.is_multiple_of(rules.failures()) {
            return false;
        }
        let round = self.pin_failures / rules.failures();
        let until = now_unix.saturating_add(rules.length(round).as_secs());
        self.pin_locked_until_unix = self.pin_locked_until_unix.max(until);
        true
    }

    /// A right PIN was keyed: the count starts again and no lockout stands.
    pub fn pin_accepted(&mut self) {
        self.pin_failures = 0;
        self.pin_locked_until_unix = 0;
    }

    /// The subscriber chose `pin` at `now_unix`: it replaces the old one, and the count of
    /// wrong ones starts again.
    pub fn set_pin(&mut self, pin: &str, now_unix: u64) {
        self.pin = Some(pin.to_owned());
        self.pin_accepted();
        self.changed_unix = now_unix;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;

    fn rules() -> PinLockout {
        PinLockout {
            failures: 3,
            first: Duration::from_secs(60),
            longest: Duration::from_secs(300),
        }
    }

    fn fail(s: &mut MailboxSettings, n: u32, at: u64) -> Vec<bool> {
        (0..n).map(|_| s.pin_failed(at, &rules())).collect()
    }

    #[test]
    fn the_third_wrong_pin_in_a_row_locks_the_mailbox_for_the_first_lockout() {
        let mut s = MailboxSettings::default();
        assert_eq!(fail(&mut s, 2, T), [false, false]);
        assert!(!s.pin_locked(T));
        assert_eq!(s.pin_failures_now(T, &rules()), 2);
        assert_eq!(fail(&mut s, 1, T + 5), [true]);
        assert!(s.pin_locked(T + 5));
        assert!(s.pin_locked(T + 64));
        assert_eq!(s.pin_failures_now(T + 64, &rules()), 3, "no attempt left");
        assert!(!s.pin_locked(T + 65), "locked for 60 s from the third");
        assert_eq!(
            s.pin_failures_now(T + 65, &rules()),
            0,
            "a full round after the lockout"
        );
    }

    #[test]
    fn each_further_lockout_lasts_twice_as_long_up_to_the_longest() {
        let r = rules();
        let lengths: Vec<u64> = (1..=5).map(|n| r.length(n).as_secs()).collect();
        assert_eq!(lengths, [60, 120, 240, 300, 300]);
        assert_eq!(r.length(u32::MAX).as_secs(), 300, "no overflow");
        let mut s = MailboxSettings::default();
        fail(&mut s, 3, T);
        let t = T + 60;
        assert_eq!(fail(&mut s, 3, t), [false, false, true]);
        assert_eq!(s.pin_locked_until_unix, t + 120);
        assert_eq!(s.pin_failures, 6, "lockouts do not reset the count");
    }

    #[test]
    fn a_right_pin_or_a_new_one_starts_the_count_again() {
        let mut s = MailboxSettings::default();
        fail(&mut s, 3, T);
        s.pin_accepted();
        assert!(!s.pin_locked(T));
        assert_eq!(s.pin_failures, 0);
        fail(&mut s, 2, T);
        s.set_pin("90210", T + 9);
        assert_eq!(
            (s.pin.as_deref(), s.pin_failures, s.changed_unix),
            (Some("90210"), 0, T + 9)
        );
        assert_eq!(fail(&mut s, 3, T + 10), [false, false, true]);
        assert_eq!(s.pin_locked_until_unix, T + 70, "the first lockout again");
    }

    #[test]
    fn a_lockout_never_shortens_one_that_stands() {
        let mut s = MailboxSettings {
            pin_locked_until_unix: T + 1000,
            pin_failures: 2,
            ..MailboxSettings::default()
        };
        assert!(s.pin_failed(T, &rules()));
        assert_eq!(s.pin_locked_until_unix, T + 1000);
    }

    #[test]
    fn zero_failures_in_the_rules_count_as_one() {
        let r = PinLockout {
            failures: 0,
            ..rules()
        };
        let mut s = MailboxSettings::default();
        assert!(s.pin_failed(T, &r));
        assert_eq!(s.pin_failures_now(T, &r), 1);
        assert_eq!(s.pin_failures_now(T + 60, &r), 0);
    }
}
