//! The rooms directory: one actor per signalling arbiter owning the ChatRoom actors of the
//! room names hashed to it, started on demand and retired when idle (an
//! `ownership::Registry`: a room retires only if it processed every command sent to it). A
//! ChatRoom that stops for any reason reports it (`RoomStopped`), so its entry goes too.
//!
//! Each directory keeps a rate bucket per sender for making rooms (`CreationBuckets`), shared
//! with the ChatRooms of its arbiter: the room rate applies to creation as it does to posts.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler};
use switchboard_engine::chat::RoomName;

use super::buckets::CreationBuckets;
use super::messages::{DirectoryHandle, RetireRoom, RoomMsg, RoomStopped};
use super::ChatRoom;
use crate::api::room::ToRoom;
use crate::ownership::Registry;
use crate::shared::Shared;

pub struct RoomDirectory {
    shared: Arc<Shared>,
    rooms: Registry<RoomName, RoomMsg>,
    creations: Rc<RefCell<CreationBuckets>>,
}

impl RoomDirectory {
    pub fn new(shared: Arc<Shared>) -> RoomDirectory {
        RoomDirectory {
            shared,
            rooms: Registry::default(),
            creations: Rc::default(),
        }
    }
}

impl Actor for RoomDirectory {
    type Context = Context<Self>;
}

impl Handler<ToRoom> for RoomDirectory {
    type Result = ();

    fn handle(&mut self, m: ToRoom, ctx: &mut Context<Self>) {
        let me = DirectoryHandle {
            retire: ctx.address().recipient(),
            stopped: ctx.address().recipient(),
        };
        let (shared, creations) = (&self.shared, &self.creations);
        self.rooms.send(&m.room, RoomMsg(m.cmd), |id| {
            ChatRoom::new(m.room.clone(), id, shared.clone(), me, creations.clone()).start()
        });
    }
}

impl Handler<RetireRoom> for RoomDirectory {
    type Result = ();

    fn handle(&mut self, m: RetireRoom, _: &mut Context<Self>) {
        self.rooms.retire(&m.room, m.id, m.processed);
    }
}

impl Handler<RoomStopped> for RoomDirectory {
    type Result = ();

    fn handle(&mut self, m: RoomStopped, _: &mut Context<Self>) {
        self.rooms.remove(&m.room, m.id);
    }
}
