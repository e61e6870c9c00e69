//! What a subscriber and the operator change in a mailbox from outside a call, in one place
//! for the HTTP API, the control socket and the CLI: voicemail on or off, a new PIN (checked
//! by the engine's rules, `voicemail::record::new_pin`), and the views they show. Every change
//! is on disk before it is confirmed.
//!
//! Only accounts have a mailbox: [`Mailboxes::subscriber`] turns a number as given into the
//! account's address, or says there is no such account.

use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::voicemail::record::new_pin;
use switchboard_engine::voicemail::{MailboxSettings, NewPinError};

use super::{MailboxError, Mailboxes};
use crate::store::admin::accounts::{canonical, AccountError};
use crate::store::admin::voicemail::{MailboxView, SettingsView};
use crate::store::api::{Admin, AdminReply};
use crate::store::StoreError;

/// What a settings change asks; a field left `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub enabled: Option<bool>,
    /// The new PIN's digits.
    pub pin: Option<String>,
}

/// Why a mailbox's settings were not changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error(transparent)]
    Pin(#[from] NewPinError),
    #[error("nothing to change (give enabled, pin or both)")]
    Nothing,
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
}

impl From<StoreError> for SettingsError {
    fn from(e: StoreError) -> SettingsError {
        SettingsError::Mailbox(e.into())
    }
}

impl Mailboxes {
    /// The account `number` names (any spelling the plan reads), or why there is none.
    pub fn subscriber(&self, plan: &NumberingPlan, number: &str) -> Result<Aor, AccountError> {
        let aor = canonical(plan, number)?;
        if !self.has_account(&aor)? {
            return Err(AccountError::Missing(aor.to_string()));
        }
        Ok(aor)
    }

    /// Whether `aor` is an account (and so has a mailbox).
    pub fn has_account(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(self.db.account(aor)?.is_some())
    }

    /// The mailbox's messages, oldest first, with its counts.
    pub fn view(&self, plan: &NumberingPlan, mailbox: &Aor) -> Result<MailboxView, MailboxError> {
        Ok(MailboxView::of(mailbox, &self.messages(mailbox)?, plan))
    }

    /// The subscriber's settings as the API shows them.
    pub fn settings_view(
        &self,
        mailbox: &Aor,
        now_unix: u64,
    ) -> Result<SettingsView, MailboxError> {
        Ok(SettingsView::of(
            mailbox,
            &self.settings(mailbox)?,
            now_unix,
        ))
    }

    /// Changes a subscriber's settings (on disk before it returns). A new PIN is checked by
    /// the mailbox rules and unlocks a mailbox that too many wrong PINs locked. The settings
    /// after the change.
    pub fn change_settings(
        &self,
        mailbox: &Aor,
        change: SettingsChange,
        now_unix: u64,
    ) -> Result<MailboxSettings, SettingsError> {
        if change == SettingsChange::default() {
            return Err(SettingsError::Nothing);
        }
        let pin = change.pin.as_deref().map(new_pin).transpose()?;
        let mut s = self.settings(mailbox)?;
        if let Some(on) = change.enabled {
            s.enabled = on;
        }
        if let Some(pin) = pin {
            // a new PIN also ends a lockout and starts the count of wrong ones again
            s.set_pin(pin.as_str(), now_unix);
        }
        s.changed_unix = now_unix;
        self.put_settings(mailbox, &s)?;
        Ok(s)
    }

    /// Carries out a voicemail operation of the CLI (on a stopped switch's data directory, or
    /// through a running switch's control socket); other operations are refused.
    pub fn administer(
        &self,
        plan: &NumberingPlan,
        op: Admin,
        now_unix: u64,
    ) -> Result<AdminReply, String> {
        let (number, change) = match op {
            Admin::VoicemailList { number } => {
                let aor = self.subscriber(plan, &number).map_err(|e| e.to_string())?;
                let mailbox = self.view(plan, &aor).map_err(|e| e.to_string())?;
                let settings = self
                    .settings_view(&aor, now_unix)
                    .map_err(|e| e.to_string())?;
                return Ok(AdminReply::Voicemail { mailbox, settings });
            }
            Admin::VoicemailSet { number, enabled } => (
                number,
                SettingsChange {
                    enabled: Some(enabled),
                    pin: None,
                },
            ),
            Admin::VoicemailPin { number, pin } => (
                number,
                SettingsChange {
                    enabled: None,
                    pin: Some(pin),
                },
            ),
            _ => return Err("not a voicemail operation".into()),
        };
        let aor = self.subscriber(plan, &number).map_err(|e| e.to_string())?;
        let s = self
            .change_settings(&aor, change, now_unix)
            .map_err(|e| e.to_string())?;
        Ok(AdminReply::VoicemailSettings {
            settings: SettingsView::of(&aor, &s, now_unix),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use switchboard_engine::conference::PinError;
    use switchboard_engine::media::SampleRate;
    use switchboard_engine::voicemail::MAX_PIN_FAILURES;

    use super::*;
    use crate::mailbox::{dir_in, MailboxLimits};
    use crate::store::Store;

    fn open(name: &str) -> (Mailboxes, NumberingPlan) {
        let d =
            std::env::temp_dir().join(format!("sb-mailbox-admin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let db = Store::open(&d.join("data"), 100, 8).unwrap();
        let plan = NumberingPlan::new("KR").unwrap();
        crate::store::admin::accounts::add(&db, &plan, "sb", "1001", "pw-1234", 1).unwrap();
        let (m, _) =
            Mailboxes::open(db, dir_in(&d), MailboxLimits::default(), "example.com").unwrap();
        (m, plan)
    }

    #[test]
    fn only_accounts_have_a_mailbox() {
        let (m, plan) = open("accounts");
        assert_eq!(m.subscriber(&plan, "1001").unwrap().as_str(), "1001");
        assert!(matches!(
            m.subscriber(&plan, "1002"),
            Err(AccountError::Missing(_))
        ));
        assert!(matches!(
            m.subscriber(&plan, "#?!"),
            Err(AccountError::Number { .. })
        ));
        let e = m
            .administer(
                &plan,
                Admin::VoicemailList {
                    number: "1002".into(),
                },
                5,
            )
            .unwrap_err();
        assert_eq!(e, "no account 1002");
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_a_new_pin_unlocks() {
        let (m, _) = open("change");
        let mb = Aor::from_canonical("1001");
        let s = m
            .change_settings(
                &mb,
                SettingsChange {
                    enabled: None,
                    pin: Some("4711".into()),
                },
                10,
            )
            .unwrap();
        assert!(s.enabled, "on by default, and left on");
        assert_eq!(s.pin.as_deref(), Some("4711"));
        assert_eq!(s.changed_unix, 10);
        // a locked mailbox (too many wrong PINs from a phone)
        m.put_settings(
            &mb,
            &MailboxSettings {
                pin_failures: MAX_PIN_FAILURES,
                pin_locked_until_unix: 1_000,
                ..s
            },
        )
        .unwrap();
        assert!(m.settings_view(&mb, 10).unwrap().pin_locked);
        assert!(
            !m.settings_view(&mb, 1_000).unwrap().pin_locked,
            "a lockout ends on its own"
        );
        let off = SettingsChange {
            enabled: Some(false),
            pin: None,
        };
        let s = m.change_settings(&mb, off, 11).unwrap();
        assert!(
            !s.enabled && s.pin_locked(11),
            "turning it off leaves the PIN and its lock"
        );
        let s = m
            .change_settings(
                &mb,
                SettingsChange {
                    enabled: None,
                    pin: Some("90210".into()),
                },
                12,
            )
            .unwrap();
        assert!(!s.enabled && !s.pin_locked(12) && s.pin_failures == 0);
        let v = m.settings_view(&mb, 12).unwrap();
        assert!(v.pin_set && !v.pin_locked && !v.enabled);
    }

    #[test]
    fn pins_outside_the_rules_and_empty_changes_are_refused_and_change_nothing() {
        let (m, _) = open("refused");
        let mb = Aor::from_canonical("1001");
        let pin = |p: &str| SettingsChange {
            enabled: Some(false),
            pin: Some(p.into()),
        };
        for (bad, why) in [
            ("123", "pin of 3 digits, at least 4"),
            ("12a4", "pin holds 'a' at 2, only digits 0-9"),
            ("", "pin is empty"),
        ] {
            let e = m.change_settings(&mb, pin(bad), 1).unwrap_err();
            assert_eq!(e.to_string(), why);
        }
        assert!(matches!(
            m.change_settings(&mb, pin(&"1".repeat(17)), 1),
            Err(SettingsError::Pin(NewPinError::Pin(PinError::TooLong {
                len: 17
            })))
        ));
        assert!(matches!(
            m.change_settings(&mb, SettingsChange::default(), 1),
            Err(SettingsError::Nothing)
        ));
        assert_eq!(m.settings(&mb).unwrap(), MailboxSettings::default());
    }

    #[test]
    fn the_cli_operations_answer_with_the_settings_and_the_list() {
        let (m, plan) = open("cli");
        let set = |enabled| Admin::VoicemailSet {
            number: "1001".into(),
            enabled,
        };
        match m.administer(&plan, set(false), 3).unwrap() {
            AdminReply::VoicemailSettings { settings } => {
                assert_eq!(settings.number, "1001");
                assert!(!settings.enabled && !settings.pin_set);
            }
            other => panic!("{other:?}"),
        }
        let pin = Admin::VoicemailPin {
            number: "1001".into(),
            pin: "12".into(),
        };
        assert_eq!(
            m.administer(&plan, pin, 3).unwrap_err(),
            "pin of 2 digits, at least 4"
        );
        let mb = Aor::from_canonical("1001");
        let mut p = m
            .begin(&mb, "+821012345678", SystemTime::UNIX_EPOCH, Instant::now())
            .unwrap();
        for _ in 0..60 {
            p.push(SampleRate::NARROW, &[100; 160]).unwrap();
        }
        m.commit(p, Duration::from_secs(60)).unwrap().unwrap();
        let list = Admin::VoicemailList {
            number: "1001".into(),
        };
        match m.administer(&plan, list, 3).unwrap() {
            AdminReply::Voicemail { mailbox, settings } => {
                assert_eq!((mailbox.new, mailbox.saved), (1, 0));
                let msg = &mailbox.messages[0];
                assert_eq!(msg.caller.number.as_deref(), Some("+821012345678"));
                assert_eq!(msg.caller.display, "+82 10-1234-5678");
                assert_eq!(msg.received, "1970-01-01T00:00:00Z");
                assert_eq!((msg.duration_ms, msg.heard), (1200, false));
                assert!(!settings.enabled);
            }
            other => panic!("{other:?}"),
        }
        assert!(m.administer(&plan, Admin::AccountList, 3).is_err());
    }
}
