//! A subscriber's PIN in their mailbox settings: the count of wrong ones keyed by phone, the
//! lockout they lead to (the engine's `voicemail::lockout` rules), a right one, a new one.
//!
//! Each change reads the settings, applies the rule and writes them back flushed, so the
//! count survives the call and a restart. Called from the message writer's thread (one at a
//! time: no count is lost between two calls to the same mailbox).

use switchboard_engine::conference::Pin;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::PinLockout;
use tracing::{info, warn};

use super::{MailboxError, Mailboxes};

impl Mailboxes {
    /// Counts a wrong PIN keyed at `now_unix`; `true` when it locked the mailbox.
    pub fn pin_failed(
        &self,
        mailbox: &Aor,
        now_unix: u64,
        rules: &PinLockout,
    ) -> Result<bool, MailboxError> {
        let mut s = self.db.voicemail_settings(mailbox)?;
        let locked = s.pin_failed(now_unix, rules);
        self.db.put_voicemail_settings(mailbox, &s)?;
        self.db.flush()?;
        if locked {
            warn!(
                mailbox = %mailbox.redacted(),
                failures = s.pin_failures,
                locked_secs = s.pin_locked_until_unix.saturating_sub(now_unix),
                "mailbox locked after wrong PINs"
            );
        }
        Ok(locked)
    }

    /// A right PIN was keyed: the count of wrong ones starts again.
    pub fn pin_accepted(&self, mailbox: &Aor) -> Result<(), MailboxError> {
        let mut s = self.db.voicemail_settings(mailbox)?;
        if s.pin_failures == 0 && s.pin_locked_until_unix == 0 {
            return Ok(());
        }
        s.pin_accepted();
        self.db.put_voicemail_settings(mailbox, &s)?;
        self.db.flush()?;
        Ok(())
    }

    /// The subscriber chose `pin` at `now_unix`.
    pub fn set_pin(&self, mailbox: &Aor, pin: &Pin, now_unix: u64) -> Result<(), MailboxError> {
        let mut s = self.db.voicemail_settings(mailbox)?;
        s.set_pin(pin.as_str(), now_unix);
        self.db.put_voicemail_settings(mailbox, &s)?;
        self.db.flush()?;
        info!(mailbox = %mailbox.redacted(), "mailbox PIN changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mailbox::{dir_in, MailboxLimits};
    use crate::store::Store;

    #[test]
    fn wrong_pins_lock_the_mailbox_across_a_reopen_and_a_right_or_new_one_clears_them() {
        let d = std::env::temp_dir().join(format!("sb-mailbox-pins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let open = || {
            let db = Store::open(&d.join("data"), 100, 8).unwrap();
            Mailboxes::open(db, dir_in(&d), MailboxLimits::default(), "h")
                .unwrap()
                .0
        };
        let rules = PinLockout {
            failures: 2,
            first: Duration::from_secs(30),
            longest: Duration::from_secs(60),
        };
        let mb = Aor::from_canonical("1001");
        let t = 1_700_000_000;
        {
            let m = open();
            m.set_pin(&mb, &Pin::parse("4711").unwrap(), t).unwrap();
            assert!(!m.pin_failed(&mb, t, &rules).unwrap());
            assert!(m.pin_failed(&mb, t + 1, &rules).unwrap());
        }
        let m = open();
        let s = m.settings(&mb).unwrap();
        assert_eq!(
            (s.pin.as_deref(), s.pin_failures, s.pin_locked_until_unix),
            (Some("4711"), 2, t + 31),
            "the count and the lockout survive a restart"
        );
        m.pin_accepted(&mb).unwrap();
        let s = m.settings(&mb).unwrap();
        assert_eq!((s.pin_failures, s.pin_locked_until_unix), (0, 0));
        m.pin_failed(&mb, t, &rules).unwrap();
        m.set_pin(&mb, &Pin::parse("90210").unwrap(), t + 5)
            .unwrap();
        let s = m.settings(&mb).unwrap();
        assert_eq!(
            (s.pin.as_deref(), s.pin_failures, s.changed_unix),
            (Some("90210"), 0, t + 5)
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
