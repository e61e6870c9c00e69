//! The mailbox store's side of message waiting, wired at start-up: [`MailboxFeed`] is
//! subscribed to the store's change feed (`mailbox::Mailboxes::subscribe`) and passes each
//! [`MailboxChanged`] to the owner's Extension (`Shared::mailbox_changed`), and it answers the
//! Extensions' [`MailboxSummary`] questions from the store (`Shared::mailbox_store`).
//!
//! A summary is a read of sled's in-memory trees (no disk wait), so it is answered here on the
//! actor's arbiter. The store sends changes in commit order per mailbox and this actor passes
//! them on in the order it gets them, so an Extension's last summary is the store's state.

use std::sync::Arc;

use actix::{Actor, Context, Handler, MessageResult};
use switchboard_engine::voicemail::MessageSummary;
use tracing::warn;

use crate::api::mwi::{no_messages, MailboxChanged, MailboxSummary};
use crate::shared::Shared;

fn summary_of(shared: &Shared, q: &MailboxSummary) -> MessageSummary {
    match shared.mailboxes.summary(&q.mailbox) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, mailbox = %q.mailbox.redacted(), "mailbox summary unreadable");
            no_messages()
        }
    }
}

/// Between the mailbox store and the Extensions that light their phones' lamps.
pub struct MailboxFeed {
    shared: Arc<Shared>,
}

impl MailboxFeed {
    pub fn new(shared: Arc<Shared>) -> MailboxFeed {
        MailboxFeed { shared }
    }
}

impl Actor for MailboxFeed {
    type Context = Context<Self>;
}

impl Handler<MailboxChanged> for MailboxFeed {
    type Result = ();

    fn handle(&mut self, m: MailboxChanged, _: &mut Context<Self>) {
        self.shared.mailbox_changed(m);
    }
}

impl Handler<MailboxSummary> for MailboxFeed {
    type Result = MessageResult<MailboxSummary>;

    fn handle(&mut self, q: MailboxSummary, _: &mut Context<Self>) -> Self::Result {
        MessageResult(summary_of(&self.shared, &q))
    }
}
