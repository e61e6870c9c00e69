//! What a subscriber changes in their mailbox by phone, as commands the message writer's
//! thread carries out one after another ([`Writer::change`](super::Writer::change)): a call
//! never waits on the disk, and two changes of one mailbox never race.
//!
//! Each change goes through the store's own calls, so what they guarantee holds (a change of
//! the messages is flushed and then published on the change feed, which is what turns a
//! phone's message lamp off); a failure is logged and the call goes on.

use std::sync::Arc;

use switchboard_engine::conference::Pin;
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{Folder, Greeting, PinLockout, VoicemailId};
use tracing::warn;

use super::{MailboxError, Mailboxes};

/// One change of a mailbox.
#[derive(Debug, Clone)]
pub enum Change {
    /// The message moves to the folder (heard or saved: [`Folder::Saved`]).
    Folder(VoicemailId, Folder),
    /// The message is deleted.
    Delete(VoicemailId),
    /// The greeting of this kind becomes these samples.
    Greeting(Greeting, SampleRate, Arc<[i16]>),
    /// A wrong PIN was keyed at `now_unix` (seconds since the Unix epoch).
    PinFailed { now_unix: u64, rules: PinLockout },
    /// The right PIN was keyed.
    PinAccepted,
    /// The subscriber chose a new PIN at `now_unix`.
    SetPin { pin: Pin, now_unix: u64 },
}

impl Change {
    /// Carries the change out in `mailboxes` (blocks on the disk).
    pub(super) fn apply(self, mailboxes: &Mailboxes, mailbox: &Aor) {
        let what = self.name();
        let r: Result<(), MailboxError> = match self {
            Change::Folder(id, folder) => mailboxes.set_folder(mailbox, id, folder).map(drop),
            Change::Delete(id) => mailboxes.delete(mailbox, id).map(drop),
            Change::Greeting(kind, rate, samples) => {
                mailboxes.put_greeting(mailbox, kind, rate, &samples)
            }
            Change::PinFailed { now_unix, rules } => {
                mailboxes.pin_failed(mailbox, now_unix, &rules).map(drop)
            }
            Change::PinAccepted => mailboxes.pin_accepted(mailbox),
            Change::SetPin { pin, now_unix } => mailboxes.set_pin(mailbox, &pin, now_unix),
        };
        if let Err(e) = r {
            warn!(mailbox = %mailbox.redacted(), change = what, error = %e, "mailbox not changed");
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Change::Folder(..) => "folder",
            Change::Delete(_) => "delete",
            Change::Greeting(..) => "greeting",
            Change::PinFailed { .. } => "pin failed",
            Change::PinAccepted => "pin accepted",
            Change::SetPin { .. } => "set pin",
        }
    }
}
