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
use std::time::Instant;

use actix::{Actor, AsyncContext, Context, Handler, Message};
use rustc_hash::FxHashMap;
use switchboard_engine::chat::{RoomError, RoomLimits, RoomName, TokenBucket};
use switchboard_engine::numbering::Aor;

use super::{ChatRoom, RoomMsg};
use crate::api::room::ToRoom;
use crate::ownership::{OwnerId, Registry};
use crate::shared::Shared;

/// A ChatRoom has been idle; it processed `processed` commands in its life.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireRoom {
    pub room: RoomName,
    pub id: OwnerId,
    pub processed: u64,
}

/// A ChatRoom stopped (retired, failed, or could not load).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub room: RoomName,
    pub id: OwnerId,
}

/// Rate buckets of room creation by sender, for one arbiter.
#[derive(Default)]
pub struct CreationBuckets(FxHashMap<Aor, TokenBucket>);

impl CreationBuckets {
    /// Takes a creation token of `who` (`rooms.rate_per_minute`, burst `rooms.rate_burst`).
    pub fn take(&mut self, now: Instant, who: &Aor, limits: &RoomLimits) -> Result<(), RoomError> {
        let (per, burst) = (limits.rate_per_minute, limits.burst);
        if self.0.len() >= 4096 {
            self.0.retain(|_, b| !b.is_full(now, per, burst));
        }
        self.0
            .entry(who.clone())
            .or_insert_with(|| TokenBucket::full(now, burst))
            .take(now, per, burst)
            .map_err(|retry_after| RoomError::RateLimited { retry_after })
    }
}

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
        let (shared, me, creations) = (&self.shared, ctx.address(), &self.creations);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn making_rooms_takes_the_senders_rate_tokens() {
        let limits = RoomLimits {
            max_members: 10,
            max_topic_chars: 10,
            rate_per_minute: 60,
            burst: 2,
        };
        let t = Instant::now();
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("1002"));
        let mut c = CreationBuckets::default();
        assert!(c.take(t, &a, &limits).is_ok());
        assert!(c.take(t, &a, &limits).is_ok());
        assert!(matches!(
            c.take(t, &a, &limits),
            Err(RoomError::RateLimited { .. })
        ));
        assert!(c.take(t, &b, &limits).is_ok(), "per sender");
        assert!(c.take(t + Duration::from_secs(1), &a, &limits).is_ok());
    }
}
