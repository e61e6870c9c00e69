//! The mailbox a caller keyed at the mailbox prompt (`OpenMailbox`, after `*` at the PIN
//! prompt or on the access number), read the way `open.rs` reads the session's own: the
//! number keyed goes through the numbering plan like any number dialed; a number without an
//! account, or whose subscriber turned voicemail off, opens nothing (the menu asks the PIN all
//! the same and answers as for a wrong one).

use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::OpenedMailbox;
use tracing::{debug, warn};

use crate::clock::unix_now;
use crate::mailbox::Capacity;
use crate::shared::Shared;

/// The mailbox a caller keyed `number` for at the mailbox prompt, read as the session's own is
/// (`None`: no account has that number, its subscriber turned voicemail off, or the store
/// cannot read it).
pub(super) fn other_mailbox(shared: &Shared, number: &str) -> Option<(Aor, OpenedMailbox)> {
    let mailboxes = &shared.mailboxes;
    let aor = match mailboxes.subscriber(&shared.plan, number) {
        Ok(aor) => aor,
        Err(e) => {
            // the number keyed is not logged: it may be a guess at someone's
            debug!(error = %e, "no mailbox for the number keyed");
            return None;
        }
    };
    let read = mailboxes.settings(&aor).and_then(|s| {
        let messages = mailboxes.messages(&aor)?;
        Ok((s, messages, mailboxes.capacity(&aor)?))
    });
    let (settings, messages, capacity) = match read {
        Ok(r) => r,
        Err(e) => {
            warn!(mailbox = %aor.redacted(), error = %e, "mailbox not readable");
            return None;
        }
    };
    if !settings.enabled {
        return None;
    }
    let lockout = shared.config.voicemail.pin_lockout();
    let opened = OpenedMailbox {
        pin: settings.pin(),
        pin_failures: settings.pin_failures_now(unix_now(), &lockout),
        full: capacity == Capacity::Full,
        messages,
    };
    Some((aor, opened))
}
