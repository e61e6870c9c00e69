//! The rooms directory: one actor per signalling arbiter owning the ChatRoom actors of the
//! room names hashed to it, started on demand and retired when idle (the Extension pattern of
//! `directory.rs`: a room retires only if it processed every command sent to it).

use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message};
use rustc_hash::FxHashMap;
use switchboard_engine::chat::RoomName;

use super::{ChatRoom, RoomCommand, RoomMsg, StopRoom};
use crate::shared::Shared;

/// A command for the ChatRoom of `room`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToRoom {
    pub room: RoomName,
    pub cmd: RoomCommand,
}

/// A ChatRoom has been idle; it processed `processed` commands in its life.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireRoom {
    pub room: RoomName,
    pub id: u64,
    pub processed: u64,
}

struct Entry {
    id: u64,
    addr: Addr<ChatRoom>,
    sent: u64,
}

pub struct RoomDirectory {
    shared: Arc<Shared>,
    rooms: FxHashMap<RoomName, Entry>,
    next_id: u64,
}

impl RoomDirectory {
    pub fn new(shared: Arc<Shared>) -> RoomDirectory {
        RoomDirectory {
            shared,
            rooms: FxHashMap::default(),
            next_id: 1,
        }
    }
}

impl Actor for RoomDirectory {
    type Context = Context<Self>;
}

impl Handler<ToRoom> for RoomDirectory {
    type Result = ();

    fn handle(&mut self, m: ToRoom, ctx: &mut Context<Self>) {
        let entry = match self.rooms.get_mut(&m.room) {
            Some(e) if e.addr.connected() => e,
            _ => {
                let id = self.next_id;
                self.next_id += 1;
                let room = ChatRoom::new(m.room.clone(), id, self.shared.clone(), ctx.address());
                let addr = room.start();
                self.rooms
                    .insert(m.room.clone(), Entry { id, addr, sent: 0 });
                self.rooms.get_mut(&m.room).expect("just inserted")
            }
        };
        entry.sent += 1;
        entry.addr.do_send(RoomMsg(m.cmd));
    }
}

impl Handler<RetireRoom> for RoomDirectory {
    type Result = ();

    fn handle(&mut self, m: RetireRoom, _: &mut Context<Self>) {
        let idle = self
            .rooms
            .get(&m.room)
            .is_some_and(|e| e.id == m.id && e.sent == m.processed);
        if idle {
            if let Some(e) = self.rooms.remove(&m.room) {
                e.addr.do_send(StopRoom);
            }
            crate::worker::shrink(&mut self.rooms);
        }
    }
}
