//! What the mailbox store tells the rest of the switch: [`MailboxChanged`], sent after every
//! committed change of a mailbox's messages (a message left, heard, saved or deleted) to each
//! recipient subscribed with `Mailboxes::subscribe` (`crate::mailbox`).
//!
//! The summary is the mailbox's state after the change, as the phone's lamp should show it
//! (RFC 3842 `message-summary`); a subscriber may get several in a row and needs only the
//! last. Sent with `do_send` from whichever thread committed the change, in commit order per
//! mailbox.

use actix::Message;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::MessageSummary;

/// A mailbox's messages changed; this is what it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct MailboxChanged {
    /// The mailbox's number (the subscriber's canonical address).
    pub mailbox: Aor,
    /// Its new and old (saved) counts, `Message-Account` the mailbox's address.
    pub summary: MessageSummary,
}
