//! Proof that a member holds an outside number: a one-time code sent to it (by SMS, or read
//! out by a call: [`super::channel`]) and keyed back.
//!
//! Sends, by either channel, are limited per number like the switch's other one-time passwords
//! (`accounts.otp_*`: by default 3 within 10 minutes, at least 60 s apart); the times of the
//! last sends are kept in the claim, so the limit holds across a restart. A code is stored
//! salted and hashed, expires after [`VerificationRules::code_valid`], and takes
//! [`VerificationRules::max_attempts`] wrong tries before it is spent. A newer code replaces
//! the one before. Drive it with the wall clock as a parameter: [`Verification::issue`] when a
//! code is to be sent, [`Verification::confirm`] when one is keyed.
//!
//! Guarantee: `is_verified` turns true only by `confirm` with the code of the last `issue`,
//! before its expiry and within its attempts.

use std::time::Duration;

use super::secret::{hash, same};
use crate::security::QuotaRule;

/// The limits of verification codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationRules {
    /// Codes sent per number (`accounts.otp_per_number`, `otp_window_secs`,
    /// `otp_min_interval_secs`).
    pub sends: QuotaRule,
    /// How long a code is good for.
    pub code_valid: Duration,
    /// Wrong codes before the code is spent.
    pub max_attempts: u32,
}

impl Default for VerificationRules {
    /// 3 codes per 10 minutes, 60 s apart; a code lasts 10 minutes and takes 5 tries.
    fn default() -> VerificationRules {
        VerificationRules {
            sends: QuotaRule {
                max: 3,
                window: Duration::from_secs(600),
                min_gap: Duration::from_secs(60),
            },
            code_valid: Duration::from_secs(600),
            max_attempts: 5,
        }
    }
}

/// A claim's proof: verified, or the code out for it and the recent sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Verification {
    /// When the claim was verified.
    pub verified_unix: Option<u64>,
    /// When the last codes were sent, oldest first (at most the rule's `max`).
    pub sent_unix: Vec<u64>,
    pub pending: Option<PendingCode>,
}

/// A code sent and not yet keyed.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PendingCode {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
    pub expires_unix: u64,
    /// Wrong codes keyed so far.
    pub attempts: u32,
}

/// Why a code is not sent or not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("the number is verified already")]
    AlreadyVerified,
    #[error("a code was sent to this number a short while ago; retry in {retry_after_secs} s")]
    TooSoon { retry_after_secs: u64 },
    #[error("no code is out for this number; ask for one")]
    NoCode,
    #[error("the code expired; ask for a new one")]
    Expired,
    #[error("wrong code; {attempts_left} attempts left")]
    WrongCode { attempts_left: u32 },
    #[error("too many wrong codes; ask for a new one")]
    TooManyAttempts,
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        self.verified_unix.is_some()
    }

    /// Whether a code may be sent at `now_unix` (nothing changes).
    pub fn may_send(&self, now_unix: u64, rules: &VerificationRules) -> Result<(), VerifyError> {
        if self.is_verified() {
            return Err(VerifyError::AlreadyVerified);
        }
        let rule = rules.sends;
        let window = rule.window.as_secs();
        if rule.max == 0 {
            return Err(VerifyError::TooSoon {
                retry_after_secs: window.max(1),
            });
        }
        let recent: Vec<u64> = self
            .sent_unix
            .iter()
            .copied()
            .filter(|&t| t.saturating_add(window) > now_unix)
            .collect();
        let mut wait = 0;
        if let Some(&last) = recent.last() {
            wait = (last + rule.min_gap.as_secs()).saturating_sub(now_unix);
        }
        if recent.len() >= rule.max as usize {
            // the oldest of the window's sends must leave it first
            let oldest = recent[recent.len() - rule.max as usize];
            wait = wait.max((oldest + window).saturating_sub(now_unix));
        }
        if wait > 0 {
            return Err(VerifyError::TooSoon {
                retry_after_secs: wait,
            });
        }
        Ok(())
    }

    /// A code `code` is sent at `now_unix` (`salt`: fresh random bytes): counted against the
    /// limit, and the one to key from now on. Refused (nothing changes) past the limit.
    pub fn issue(
        &mut self,
        now_unix: u64,
        rules: &VerificationRules,
        code: &str,
        salt: [u8; 16],
    ) -> Result<(), VerifyError> {
        self.may_send(now_unix, rules)?;
        let window = rules.sends.window.as_secs();
        self.sent_unix
            .retain(|&t| t.saturating_add(window) > now_unix);
        self.sent_unix.push(now_unix);
        let keep = rules.sends.max.max(1) as usize;
        if self.sent_unix.len() > keep {
            let drop = self.sent_unix.len() - keep;
            self.sent_unix.drain(..drop);
        }
        self.pending = Some(PendingCode {
            salt,
            hash: hash(&salt, code),
            expires_unix: now_unix.saturating_add(rules.code_valid.as_secs()),
            attempts: 0,
        });
        Ok(())
    }

    /// `code` was keyed at `now_unix`: the claim is verified if it is the code out, in time
    /// and within the attempts. A spent or expired code is forgotten.
    pub fn confirm(
        &mut self,
        now_unix: u64,
        rules: &VerificationRules,
        code: &str,
    ) -> Result<(), VerifyError> {
        if self.is_verified() {
            return Err(VerifyError::AlreadyVerified);
        }
        let Some(p) = self.pending.as_mut() else {
            return Err(VerifyError::NoCode);
        };
        if now_unix >= p.expires_unix {
            self.pending = None;
            return Err(VerifyError::Expired);
        }
        let max = rules.max_attempts.max(1);
        if p.attempts >= max {
            self.pending = None;
            return Err(VerifyError::TooManyAttempts);
        }
        if same(&hash(&p.salt, code.trim()), &p.hash) {
            self.verified_unix = Some(now_unix);
            self.pending = None;
            self.sent_unix.clear();
            return Ok(());
        }
        p.attempts += 1;
        let attempts_left = max - p.attempts;
        if attempts_left == 0 {
            self.pending = None;
            return Err(VerifyError::TooManyAttempts);
        }
        Err(VerifyError::WrongCode { attempts_left })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;
    const SALT: [u8; 16] = [7; 16];

    fn rules() -> VerificationRules {
        VerificationRules::default()
    }

    #[test]
    fn the_code_sent_verifies_the_claim_and_a_wrong_one_does_not() {
        let mut v = Verification::default();
        assert_eq!(v.confirm(T, &rules(), "123456"), Err(VerifyError::NoCode));
        v.issue(T, &rules(), "123456", SALT).unwrap();
        assert_ne!(
            v.pending.as_ref().unwrap().hash[..6],
            *b"123456",
            "stored hashed"
        );
        assert_eq!(
            v.confirm(T + 5, &rules(), "654321"),
            Err(VerifyError::WrongCode { attempts_left: 4 })
        );
        assert!(!v.is_verified());
        v.confirm(T + 6, &rules(), " 123456 ").unwrap();
        assert_eq!(v.verified_unix, Some(T + 6));
        assert_eq!(
            v.confirm(T + 7, &rules(), "123456"),
            Err(VerifyError::AlreadyVerified)
        );
        assert_eq!(
            v.issue(T + 700, &rules(), "1", SALT),
            Err(VerifyError::AlreadyVerified)
        );
    }

    #[test]
    fn a_code_expires() {
        let mut v = Verification::default();
        v.issue(T, &rules(), "123456", SALT).unwrap();
        assert_eq!(
            v.confirm(T + 600, &rules(), "123456"),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            v.confirm(T + 601, &rules(), "123456"),
            Err(VerifyError::NoCode),
            "an expired code is forgotten"
        );
        assert!(!v.is_verified());
    }

    #[test]
    fn wrong_codes_spend_the_code_after_the_last_attempt() {
        let mut v = Verification::default();
        v.issue(T, &rules(), "123456", SALT).unwrap();
        for left in (1..5).rev() {
            assert_eq!(
                v.confirm(T + 1, &rules(), "000000"),
                Err(VerifyError::WrongCode {
                    attempts_left: left
                })
            );
        }
        assert_eq!(
            v.confirm(T + 1, &rules(), "000000"),
            Err(VerifyError::TooManyAttempts)
        );
        assert_eq!(
            v.confirm(T + 2, &rules(), "123456"),
            Err(VerifyError::NoCode),
            "the right code after the last attempt is too late"
        );
        v.issue(T + 60, &rules(), "222222", SALT).unwrap();
        v.confirm(T + 61, &rules(), "222222").unwrap();
    }

    #[test]
    fn sends_are_three_per_ten_minutes_sixty_seconds_apart() {
        let r = rules();
        let mut v = Verification::default();
        v.issue(T, &r, "1", SALT).unwrap();
        assert_eq!(
            v.issue(T + 59, &r, "2", SALT),
            Err(VerifyError::TooSoon {
                retry_after_secs: 1
            })
        );
        v.issue(T + 60, &r, "2", SALT).unwrap();
        v.issue(T + 120, &r, "3", SALT).unwrap();
        assert_eq!(
            v.issue(T + 180, &r, "4", SALT),
            Err(VerifyError::TooSoon {
                retry_after_secs: 420
            }),
            "the fourth waits for the first to leave the window"
        );
        assert_eq!(v.pending.as_ref().unwrap().hash, hash(&SALT, "3"), "kept");
        v.issue(T + 600, &r, "4", SALT).unwrap();
        assert_eq!(v.sent_unix, vec![T + 60, T + 120, T + 600]);
        // the newest code replaces the ones before
        assert_eq!(
            v.confirm(T + 601, &r, "3"),
            Err(VerifyError::WrongCode { attempts_left: 4 })
        );
        v.confirm(T + 602, &r, "4").unwrap();
    }

    #[test]
    fn a_limit_of_zero_sends_nothing() {
        let mut r = rules();
        r.sends.max = 0;
        let mut v = Verification::default();
        assert!(matches!(
            v.issue(T, &r, "1", SALT),
            Err(VerifyError::TooSoon { .. })
        ));
        assert!(v.pending.is_none() && v.sent_unix.is_empty());
    }
}
