//! Configuration of members (`[members]`: outside-number verification codes) and hot desk
//! (`[hotdesk]`). Both sections may be left out: the defaults below apply.
//!
//! Codes sent to outside numbers share the one-time-password limits of `[accounts]`
//! (`otp_per_number`, `otp_window_secs`, `otp_min_interval_secs`).

use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::members::VerificationRules;
use switchboard_engine::security::QuotaRule;
use switchboard_engine::voicemail::PinLockout;

use super::error::ConfigError;
use super::Accounts;

/// `[members]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Members {
    /// How long a verification code is good for, in seconds (60 to 86400).
    pub code_valid_secs: u64,
    /// Wrong codes before a code is spent (1 to 20).
    pub code_attempts: u32,
    /// Digits of a verification code (4 to 10).
    pub code_digits: u8,
}

impl Default for Members {
    fn default() -> Members {
        Members {
            code_valid_secs: 600,
            code_attempts: 5,
            code_digits: 6,
        }
    }
}

impl Members {
    /// The rules of verification codes, with the sends limited like one-time passwords.
    pub fn verification(&self, accounts: &Accounts) -> VerificationRules {
        VerificationRules {
            sends: QuotaRule {
                max: accounts.otp_per_number,
                window: Duration::from_secs(accounts.otp_window_secs),
                min_gap: Duration::from_secs(accounts.otp_min_interval_secs),
            },
            code_valid: Duration::from_secs(self.code_valid_secs),
            max_attempts: self.code_attempts,
        }
    }
}

/// `[hotdesk]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hotdesk {
    /// A phone signed in as a member is signed out after this many hours (1 to 168).
    pub max_hours: u32,
    /// Wrong PINs in a row that lock a member's hot desk out (1 to 100).
    pub pin_failures: u32,
    /// The first lockout, in seconds (1 to 86400); each further one lasts twice as long, up
    /// to a day.
    pub pin_lockout_secs: u64,
}

impl Default for Hotdesk {
    fn default() -> Hotdesk {
        Hotdesk {
            max_hours: 12,
            pin_failures: 10,
            pin_lockout_secs: 900,
        }
    }
}

impl Hotdesk {
    pub fn max(&self) -> Duration {
        Duration::from_secs(u64::from(self.max_hours) * 3600)
    }

    pub fn pin_lockout(&self) -> PinLockout {
        let first = Duration::from_secs(self.pin_lockout_secs);
        PinLockout {
            failures: self.pin_failures,
            first,
            longest: first.max(Duration::from_secs(24 * 3600)),
        }
    }
}

/// Checks the `[members]` and `[hotdesk]` values that parse but cannot work.
pub(super) fn validate(m: &Members, h: &Hotdesk) -> Result<(), ConfigError> {
    let checks: [(&'static str, u64, std::ops::RangeInclusive<u64>); 6] = [
        ("members.code_valid_secs", m.code_valid_secs, 60..=86_400),
        ("members.code_attempts", m.code_attempts.into(), 1..=20),
        ("members.code_digits", m.code_digits.into(), 4..=10),
        ("hotdesk.max_hours", h.max_hours.into(), 1..=168),
        ("hotdesk.pin_failures", h.pin_failures.into(), 1..=100),
        ("hotdesk.pin_lockout_secs", h.pin_lockout_secs, 1..=86_400),
    ];
    for (key, value, range) in checks {
        if !range.contains(&value) {
            return Err(ConfigError::Value {
                key,
                message: format!("must be {} to {}", range.start(), range.end()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_embedded_defaults_are_the_documented_ones_and_feed_the_rules() {
        let c = Config::load(None).unwrap();
        assert_eq!(
            (
                c.members.code_valid_secs,
                c.members.code_attempts,
                c.members.code_digits
            ),
            (600, 5, 6)
        );
        assert_eq!(c.hotdesk.max(), Duration::from_secs(12 * 3600));
        let r = c.members.verification(&c.accounts);
        assert_eq!(
            (r.sends.max, r.sends.window, r.sends.min_gap),
            (3, Duration::from_secs(600), Duration::from_secs(60)),
            "the one-time-password limits"
        );
        assert_eq!(c.hotdesk.pin_lockout().failures, 10);
    }

    #[test]
    fn values_that_cannot_work_name_their_key() {
        let h = Hotdesk {
            max_hours: 0,
            ..Hotdesk::default()
        };
        let e = validate(&Members::default(), &h).unwrap_err();
        assert!(e.to_string().contains("hotdesk.max_hours"), "{e}");
        let m = Members {
            code_digits: 3,
            ..Members::default()
        };
        let e = validate(&m, &Hotdesk::default()).unwrap_err();
        assert!(e.to_string().contains("members.code_digits"), "{e}");
        assert!(validate(&Members::default(), &Hotdesk::default()).is_ok());
    }
}
