//! The directory: one actor per signalling arbiter that owns the Extension actors of the
//! addresses hashed to it, starting them on demand and retiring them when idle (an
//! `ownership::Registry`: an Extension retires only when it handled every command sent to it).
//! The next command starts a fresh Extension that reloads from the store.
//!
//! At shutdown it has every live Extension write the bindings it held back (`WriteHeldBack`).
//!
//! It also takes the mailbox store's `MailboxChanged` (`api::mwi`) for the mailboxes of its
//! addresses and passes it to the owner's Extension, the notifier of its message waiting.
//!
//! A call going up or down (`ExtCommand::CallState`) for an address whose Extension is not
//! running starts none: nobody watches that address (watchers keep an Extension running), so
//! the directory notes the call itself and hands the calls still up to the Extension when
//! something else starts it (a watcher, the HTTP API's presence, a lookup), before anything
//! else it is sent. A caller the switch knows only by name (lab mode) thus costs no actor, no
//! store read and no retirement per call.
//!
//! Guarantees: an Extension sees every call of its address that is up, in the order they went
//! up, before any other command; a call that went down before the Extension started is never
//! shown.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler, ResponseFuture};
use rustc_hash::FxHashMap;
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
    /// The calls up of addresses whose Extension is not running: call id and note, in the
    /// order they went up.
    calls: FxHashMap<Aor, Vec<(u64, Option<String>)>>,
}

impl Directory {
    pub fn new(shard: usize, shared: Arc<Shared>) -> Directory {
        Directory {
            shard,
            shared,
            extensions: Registry::default(),
            calls: FxHashMap::default(),
        }
    }

    /// Notes a call of `aor` going up or down while its Extension is not running.
    fn note_call(&mut self, aor: Aor, call: u64, up: bool, note: Option<String>) {
        if up {
            self.calls.entry(aor).or_default().push((call, note));
            return;
        }
        if let Some(list) = self.calls.get_mut(&aor) {
            list.retain(|(c, _)| *c != call);
            if list.is_empty() {
                self.calls.remove(&aor);
                crate::ownership::shrink(&mut self.calls);
            }
        }
    }
}

impl Actor for Directory {
    type Context = Context<Self>;
}

impl Handler<ToExtension> for Directory {
    type Result = ();

    fn handle(&mut self, m: ToExtension, ctx: &mut Context<Self>) {
        let live = self.extensions.live(&m.aor).is_some();
        if !live {
            if let ExtCommand::CallState { call, up, note } = m.cmd {
                return self.note_call(m.aor, call, up, note);
            }
        }
        let (shard, shared, me) = (self.shard, &self.shared, ctx.address().recipient());
        let start = |id| Extension::new(m.aor.clone(), id, shard, shared.clone(), me.clone());
        // an Extension starting now first hears of the calls its address is on
        let up = if live {
            None
        } else {
            self.calls.remove(&m.aor)
        };
        for (call, note) in up.into_iter().flatten() {
            let cmd = ExtCommand::CallState {
                call,
                up: true,
                note,
            };
            self.extensions
                .send(&m.aor, Command(cmd), |id| start(id).start());
        }
        self.extensions
            .send(&m.aor, Command(m.cmd), |id| start(id).start());
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
