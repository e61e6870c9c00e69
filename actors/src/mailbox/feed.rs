//! The change feed: who hears of each committed change of a mailbox.
//!
//! A list of recipients of [`MailboxChanged`] behind a mutex, taken only when a change is
//! committed (never on a media path) or a subscriber joins. A recipient whose actor has
//! stopped is dropped from the list the first time a send to it fails.

use std::sync::{Arc, Mutex};

use actix::Recipient;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::MessageSummary;

use crate::api::voicemail::MailboxChanged;

/// The subscribers of every mailbox's changes (cheap to clone; clones share the list).
#[derive(Clone, Default)]
pub struct Feed {
    subscribers: Arc<Mutex<Vec<Recipient<MailboxChanged>>>>,
}

impl Feed {
    /// Adds a subscriber: it gets every change committed from now on.
    pub fn subscribe(&self, to: Recipient<MailboxChanged>) {
        self.lock().push(to);
    }

    /// Sends the mailbox's state after a change to every subscriber.
    pub fn publish(&self, mailbox: &Aor, summary: MessageSummary) {
        let change = MailboxChanged {
            mailbox: mailbox.clone(),
            summary,
        };
        self.lock().retain(|r| match r.try_send(change.clone()) {
            Ok(()) => true,
            Err(actix::prelude::SendError::Full(m)) => {
                r.do_send(m);
                true
            }
            Err(actix::prelude::SendError::Closed(_)) => false,
        });
    }

    /// How many subscribers there are.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recipient<MailboxChanged>>> {
        // a panic while the list was held left it whole (push and retain only)
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }
}
