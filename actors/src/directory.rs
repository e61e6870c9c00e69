//! The directory: one actor per signalling arbiter that owns the Extension actors of the
//! addresses hashed to it, starting them on demand and retiring them when idle.
//!
//! Retirement is race-free: an idle Extension reports how many commands it processed, and the
//! directory retires it only if that equals what it sent, so no command is ever in flight to
//! a stopping actor. The next command starts a fresh Extension that reloads from the store.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message};
use switchboard_engine::numbering::Aor;

use crate::extension::{Command, ExtCommand, Extension, Stop};
use crate::shared::Shared;

/// A command for the Extension of `aor`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToExtension {
    pub aor: Aor,
    pub cmd: ExtCommand,
}

/// An Extension has been idle; it processed `processed` commands in its life.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire {
    pub aor: Aor,
    pub id: u64,
    pub processed: u64,
}

struct Entry {
    id: u64,
    addr: Addr<Extension>,
    sent: u64,
}

pub struct Directory {
    shared: Arc<Shared>,
    extensions: FxHashMap<Aor, Entry>,
    next_id: u64,
}

impl Directory {
    pub fn new(shared: Arc<Shared>) -> Directory {
        Directory {
            shared,
            extensions: FxHashMap::default(),
            next_id: 1,
        }
    }
}

impl Actor for Directory {
    type Context = Context<Self>;
}

impl Handler<ToExtension> for Directory {
    type Result = ();

    fn handle(&mut self, m: ToExtension, ctx: &mut Context<Self>) {
        let entry = match self.extensions.get_mut(&m.aor) {
            Some(e) if e.addr.connected() => e,
            _ => {
                let id = self.next_id;
                self.next_id += 1;
                let ext = Extension::new(m.aor.clone(), id, self.shared.clone(), ctx.address());
                let addr = ext.start();
                self.extensions
                    .insert(m.aor.clone(), Entry { id, addr, sent: 0 });
                self.extensions.get_mut(&m.aor).expect("just inserted")
            }
        };
        entry.sent += 1;
        entry.addr.do_send(Command(m.cmd));
    }
}

impl Handler<Retire> for Directory {
    type Result = ();

    fn handle(&mut self, m: Retire, _: &mut Context<Self>) {
        let idle = self
            .extensions
            .get(&m.aor)
            .is_some_and(|e| e.id == m.id && e.sent == m.processed);
        if idle {
            if let Some(e) = self.extensions.remove(&m.aor) {
                e.addr.do_send(Stop);
            }
            crate::worker::shrink(&mut self.extensions);
        }
    }
}
