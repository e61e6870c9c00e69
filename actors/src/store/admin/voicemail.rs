//! How the HTTP API, the control socket and the CLI show a mailbox: [`MailboxView`] (its counts
//! and messages), [`MessageView`], [`CallerView`] and [`SettingsView`]. They live with the
//! store's other administration views because the store actor's `AdminReply` carries them;
//! `api::voicemail` re-exports them for the HTTP API and the CLI.

use serde::{Deserialize, Serialize};
use switchboard_engine::messaging::wire::rfc3339;
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::voicemail::{Folder, Greeting, MailboxSettings, VoicemailRecord};

/// A mailbox as the HTTP API and the CLI show it: its counts and its messages, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxView {
    /// The mailbox's number (canonical).
    pub number: String,
    /// Messages not heard yet (the lamp's "new").
    pub new: u32,
    /// Messages heard or kept (the lamp's "old").
    pub saved: u32,
    pub messages: Vec<MessageView>,
}

/// One message as the API shows it to its owner (their data: nothing is redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: u64,
    pub caller: CallerView,
    /// When the caller started speaking, RFC 3339 in UTC.
    pub received: String,
    pub received_unix: u64,
    pub duration_ms: u64,
    /// `new` or `saved`.
    pub folder: String,
    /// Heard (or kept): a saved message is a heard one, as RFC 3842 counts new and old.
    pub heard: bool,
    /// The size of its WAV file.
    pub bytes: u64,
}

/// Who left a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerView {
    /// The canonical number; `None` when the caller withheld it.
    pub number: Option<String>,
    /// As people read it (`+82 10-1234-5678`), or `anonymous`.
    pub display: String,
}

/// A subscriber's mailbox settings as the API shows them (the PIN itself is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    pub number: String,
    /// Calls the subscriber does not take go to the mailbox.
    pub enabled: bool,
    pub pin_set: bool,
    /// Too many wrong PINs were keyed: no PIN is taken until the lockout ends or the PIN is
    /// set again.
    pub pin_locked: bool,
    /// The greetings recorded (`unavailable`, `busy`, `name`).
    pub greetings: Vec<String>,
}

impl MailboxView {
    /// The view of `number`'s messages.
    pub fn of(number: &Aor, messages: &[VoicemailRecord], plan: &NumberingPlan) -> MailboxView {
        let count = |f| messages.iter().filter(|m| m.folder == f).count() as u32;
        MailboxView {
            number: number.to_string(),
            new: count(Folder::New),
            saved: count(Folder::Saved),
            messages: messages.iter().map(|m| MessageView::of(m, plan)).collect(),
        }
    }
}

impl MessageView {
    pub fn of(m: &VoicemailRecord, plan: &NumberingPlan) -> MessageView {
        let anonymous = m.caller.is_empty() || m.caller == ANONYMOUS;
        MessageView {
            id: m.id.0,
            caller: CallerView {
                number: (!anonymous).then(|| m.caller.clone()),
                display: if anonymous {
                    ANONYMOUS.to_owned()
                } else {
                    plan.display(&Aor::from_canonical(&m.caller))
                },
            },
            received: rfc3339(m.received_unix),
            received_unix: m.received_unix,
            duration_ms: m.duration_ms,
            folder: m.folder.as_str().to_owned(),
            heard: m.folder == Folder::Saved,
            bytes: m.bytes,
        }
    }
}

impl SettingsView {
    /// The view at `now_unix` (a PIN lockout ends on its own).
    pub fn of(number: &Aor, s: &MailboxSettings, now_unix: u64) -> SettingsView {
        SettingsView {
            number: number.to_string(),
            enabled: s.enabled,
            pin_set: s.pin().is_some(),
            pin_locked: s.pin_locked(now_unix),
            greetings: Greeting::ALL
                .into_iter()
                .filter(|&g| s.greetings.has(g))
                .map(|g| g.as_str().to_owned())
                .collect(),
        }
    }
}

/// The caller of a message whose caller withheld their number.
pub const ANONYMOUS: &str = "anonymous";
