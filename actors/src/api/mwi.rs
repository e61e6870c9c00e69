//! Message waiting (RFC 3842): the seam between the mailbox store and the switch's
//! message-summary notifier.
//!
//! Two messages cross it:
//!
//! - [`MailboxChanged`]: the store tells the notifier of every change to a mailbox (a message
//!   left, heard, saved or deleted) with the mailbox's new summary. The notifier is the
//!   mailbox owner's Extension (the single writer of its registrations): send the message
//!   with `Shared::mailbox_changed`, which hands it to the Extension directory of the owner's
//!   arbiter (the `Handler<MailboxChanged>` of `extension::directory::Directory`). Within a
//!   second every device of the owner hears of it: through its message-summary subscription,
//!   or by an unsolicited NOTIFY (`[voicemail] unsolicited_mwi`).
//! - [`MailboxSummary`]: the notifier asks the store for a mailbox's current summary when it
//!   knows none (a subscription's first NOTIFY, a device that registers while messages
//!   wait). The store answers through the recipient it puts in `Shared::mailbox_store` at
//!   start-up; until one is there, every mailbox answers the empty summary (no messages),
//!   [`no_messages`].
//!
//! The store owes the notifier a [`MailboxChanged`] for each change after it answered a
//! [`MailboxSummary`], so what the notifier keeps stays the store's state. A summary without
//! `Message-Account` is given the mailbox's URI (`sip:<number>@<domain>`).

use actix::Message;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::MessageSummary;

/// A mailbox changed: its owner's lamp follows.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct MailboxChanged {
    /// The mailbox owner's number (the account's address of record).
    pub mailbox: Aor,
    /// The mailbox's summary after the change.
    pub summary: MessageSummary,
}

/// What a mailbox holds now (asked of the mailbox store).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "MessageSummary")]
pub struct MailboxSummary {
    pub mailbox: Aor,
}

/// The summary of a mailbox without messages: what a mailbox answers while no store is wired.
pub fn no_messages() -> MessageSummary {
    MessageSummary::voice(None, 0, 0)
}
