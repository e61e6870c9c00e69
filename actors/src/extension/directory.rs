//! The directory: one actor per signalling arbiter that owns the Extension actors of the
//! addresses hashed to it, starting them on demand and retiring them when idle (an
//! `ownership::Registry`: an Extension retires only when it handled every command sent to it).
//! The next command starts a fresh Extension that reloads from the store.
//!
//! At shutdown it has every live Extension write the bindings it held back (`WriteHeldBack`).
//!
//! It also takes the mailbox store's `MailboxChanged` (`api::mwi`) for the mailboxes of its
//! addresses and passes it to the owner's Extension, the notifier of its message waiting.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler, ResponseFuture};
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;

use super::messages::{Command, Retire};
use super::Extension;
use crate::api::extension::{ExtCommand, ToExtension, WriteHeldBack};
use crate::api::mwi::MailboxChanged;
use crate::ownership::Registry;
use crate::shared::Shared;

pub struct Directory {
    /// Which worker's arbiter this runs on: the Extensions' deliveries use Call-IDs it owns.
    shard: usize,
    shared: Arc<Shared>,
    extensions: Registry<Aor, Command>,
}

impl Directory {
    pub fn new(shard: usize, shared: Arc<Shared>) -> Directory {
        Directory {
            shard,
            shared,
            extensions: Registry::default(),
        }
    }
}

impl Actor for Directory {
    type Context = Context<Self>;
}

impl Handler<ToExtension> for Directory {
    type Result = ();

    fn handle(&mut self, m: ToExtension, ctx: &mut Context<Self>) {
        let (shard, shared, me) = (self.shard, &self.shared, ctx.address().recipient());
        self.extensions.send(&m.aor, Command(m.cmd), |id| {
            Extension::new(m.aor.clone(), id, shard, shared.clone(), me).start()
        });
    }
}

impl Handler<MailboxChanged> for Directory {
    type Result = ();

    fn handle(&mut self, m: MailboxChanged, ctx: &mut Context<Self>) {
        let to = ToExtension {
            aor: m.mailbox,
            cmd: ExtCommand::MailboxChanged(m.summary),
        };
        <Self as Handler<ToExtension>>::handle(self, to, ctx);
    }
}

impl Handler<WriteHeldBack> for Directory {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: WriteHeldBack, ctx: &mut Context<Self>) -> Self::Result {
        let live: Vec<Aor> = self.extensions.keys().cloned().collect();
        let mut written = Vec::with_capacity(live.len());
        for aor in live {
            let (done, rx) = oneshot::channel();
            let cmd = ExtCommand::WriteHeldBack { done };
            <Self as Handler<ToExtension>>::handle(self, ToExtension { aor, cmd }, ctx);
            written.push(rx);
        }
        Box::pin(async move {
            for w in written {
                let _ = w.await;
            }
        })
    }
}

impl Handler<Retire> for Directory {
    type Result = ();

    fn handle(&mut self, m: Retire, _: &mut Context<Self>) {
        self.extensions.retire(&m.aor, m.id, m.processed);
    }
}
