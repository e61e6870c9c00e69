//! Room changes asked for over HTTP: create, delete, add and remove members, set the topic.
//! Each is one commit, like a command sent in a MESSAGE, and members hear of it from the room.

use actix::Context;
use switchboard_engine::chat::{Room, RoomError};
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;
use tracing::info;

use super::{Change, ChatRoom};
use crate::api::room::{By, Refused, RoomView};
use crate::clock::unix_now;
use crate::store::writer::RecordChange;

type ViewReply = oneshot::Sender<Result<RoomView, Refused>>;

impl ChatRoom {
    pub(super) fn create(
        &mut self,
        owner: Aor,
        topic: String,
        members: Vec<Aor>,
        reply: ViewReply,
        ctx: &mut Context<Self>,
    ) {
        if self.room.is_some() {
            let _ = reply.send(Err(RoomError::Exists.into()));
            return;
        }
        let limits = self.shared.config.rooms.limits();
        let now_unix = unix_now();
        let made = self
            .may_create(&owner)
            .and_then(|()| Room::create(&owner, topic, now_unix, &limits));
        let mut room = match made {
            Ok(r) => r,
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        for m in &members {
            match room.join(m, now_unix, &limits) {
                Ok(_) | Err(RoomError::AlreadyMember) => {}
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
            }
        }
        let record = RecordChange::Create {
            record: room.record.clone(),
            max_owned: self.shared.config.rooms.max_rooms_per_owner,
        };
        self.room = Some(room);
        let text = format!("{owner} added you to this room. Send /help for commands.");
        let notices = self.announce(&text, &[&owner]);
        info!(room = %self.name, members = members.len() + 1, "room created");
        self.changed(record, notices, reply, ctx);
    }

    pub(super) fn delete(
        &mut self,
        by: By,
        reply: oneshot::Sender<Result<(), Refused>>,
        ctx: &mut Context<Self>,
    ) {
        let Some(room) = &self.room else {
            let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
            return;
        };
        if let Some(who) = by.aor() {
            if !room.is_owner(who) {
                let _ = reply.send(Err(RoomError::NotOwner.into()));
                return;
            }
        }
        let notices = self.announce(
            "This room was closed.",
            &by.aor().into_iter().collect::<Vec<_>>(),
        );
        self.room = None;
        info!(room = %self.name, "room deleted");
        let change = Change::notices(RecordChange::Delete, notices);
        self.commit(change, ctx, move |_, res| {
            let _ = reply.send(res.map(|_| ()));
        });
    }

    pub(super) fn add(&mut self, by: By, who: Aor, reply: ViewReply, ctx: &mut Context<Self>) {
        let limits = self.shared.config.rooms.limits();
        let Some(room) = self.room.as_mut() else {
            let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
            return;
        };
        if let Err(e) = room.invite(by.aor(), &who, unix_now(), &limits) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let record = RecordChange::Put(room.record.clone());
        let adder = by
            .aor()
            .map_or("The operator".to_owned(), |a| a.to_string());
        let mut notices = self.announce(&format!("{adder} added {who}"), &[&who]);
        notices.push((
            who.clone(),
            self.notice(&format!(
                "{adder} added you to this room. Send /help for commands."
            )),
        ));
        self.changed(record, notices, reply, ctx);
    }

    pub(super) fn remove(&mut self, by: By, who: Aor, reply: ViewReply, ctx: &mut Context<Self>) {
        let Some(room) = self.room.as_mut() else {
            let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
            return;
        };
        let allowed = match by.aor() {
            None => true,
            Some(a) => a == &who || room.is_owner(a),
        };
        if !allowed {
            let _ = reply.send(Err(RoomError::NotOwner.into()));
            return;
        }
        if let Err(e) = room.leave(&who) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let record = RecordChange::Put(room.record.clone());
        let text = match by.aor() {
            Some(a) if a == &who => format!("{who} left"),
            Some(a) => format!("{a} removed {who}"),
            None => format!("{who} was removed"),
        };
        let mut notices = self.announce(&text, &by.aor().into_iter().collect::<Vec<_>>());
        if by.aor() != Some(&who) {
            notices.push((who.clone(), self.notice("You were removed from this room.")));
        }
        self.changed(record, notices, reply, ctx);
    }

    pub(super) fn topic(
        &mut self,
        by: By,
        topic: String,
        reply: ViewReply,
        ctx: &mut Context<Self>,
    ) {
        let limits = self.shared.config.rooms.limits();
        let Some(room) = self.room.as_mut() else {
            let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
            return;
        };
        if let Err(e) = room.set_topic(by.aor(), &topic, &limits) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let record = RecordChange::Put(room.record.clone());
        let setter = by
            .aor()
            .map_or("The operator".to_owned(), |a| a.to_string());
        let notices = self.announce(
            &format!("{setter} set the topic: {topic}"),
            &by.aor().into_iter().collect::<Vec<_>>(),
        );
        self.changed(record, notices, reply, ctx);
    }

    /// Commits a record change with its notices and answers with the room as it now is.
    fn changed(
        &mut self,
        record: RecordChange,
        notices: Vec<(Aor, switchboard_engine::messaging::StoredMessage)>,
        reply: ViewReply,
        ctx: &mut Context<Self>,
    ) {
        let view = self.view();
        self.commit(Change::notices(record, notices), ctx, move |_, res| {
            let _ = reply.send(res.and_then(|_| view.ok_or(Refused::Room(RoomError::NoSuchRoom))));
        });
    }
}
