//! What the mailbox store tells the rest of the switch: [`MailboxChanged`], sent after every
//! committed change of a mailbox's messages (a message left, heard, saved or deleted) to each
//! recipient subscribed with `Mailboxes::subscribe` (the `mailbox` module); [`VoiceHeard`],
//! what the message writer tells the call whose caller is leaving a message (or recording a
//! greeting); [`GreetingRecorded`], the greeting a subscriber recorded by phone; and how the
//! HTTP API, the control socket and the CLI show a mailbox: [`MailboxView`], [`MessageView`],
//! [`SettingsView`].
//!
//! The summary is the mailbox's state after the change, as the phone's lamp should show it
//! (RFC 3842 `message-summary`); a subscriber may get several in a row and needs only the
//! last. Sent with `do_send` from whichever thread committed the change, in commit order per
//! mailbox.

use actix::Message;

/// A mailbox's messages changed; this is what it holds now (the message-waiting seam's own
/// message, `api::mwi`).
pub use crate::api::mwi::MailboxChanged;

/// How the HTTP API, the control socket and the CLI show a mailbox (defined with the store's
/// administration views: the store actor's `AdminReply` carries them).
pub use crate::store::admin::voicemail::{
    CallerView, MailboxView, MessageView, SettingsView, ANONYMOUS,
};

/// A message being left, as the call and the message writer (`mailbox::Writer`) name it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DepositId(pub u64);

impl std::fmt::Display for DepositId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "d{}", self.0)
    }
}

/// The caller's audio was above the silence level (sent at most every
/// `mailbox::writer::HEARD_EVERY` while it is), so a recording does not stop for silence.
#[derive(Copy, Clone, Debug, PartialEq, Message)]
#[rtype(result = "()")]
pub struct VoiceHeard {
    pub deposit: DepositId,
    /// The loudest frame's level since the last note.
    pub dbfs: f64,
}

/// A greeting recorded by phone has ended: the samples kept (`None`: nothing), for the call
/// to hold for review and store if the subscriber keeps it.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct GreetingRecorded {
    pub recording: DepositId,
    pub audio: Option<(switchboard_engine::media::SampleRate, std::sync::Arc<[i16]>)>,
}
