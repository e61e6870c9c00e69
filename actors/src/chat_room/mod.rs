//! The ChatRoom actor: one per active room, the single writer of the room's state.
//!
//! It holds the engine's `Room` (members, owner, topic, the next sequence number, the rate
//! buckets) and turns every change into one `RoomCommit` for the queue writer thread, which
//! writes the record, the history entry and every member's queue copy in one group commit.
//! Only after that flush does the sender hear back and the members' Extensions get
//! `Deliver`. Commits are pipelined: sequence numbers are handed out here in order and the
//! writer applies jobs in the order sent, so history order, queue order and sequence agree.
//!
//! The room starts on demand on the arbiter its name hashes to (`directory`), reads its record
//! and last sequence number from the store, and retires when idle with nothing in flight (at
//! once when the room does not exist). A failed commit means memory ran ahead of the disk: the
//! room then refuses new commands (503), waits until every commit in flight is answered with
//! its real outcome, and stops; the writer refuses the rest of its jobs (`message_queue::rooms`)
//! and the next command starts a ChatRoom that reads the store again.

mod admin;
mod buckets;
pub mod directory;
mod messages;
mod post;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use switchboard_engine::chat::{Room, RoomError, RoomName};
use switchboard_engine::messaging::StoredMessage;
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use buckets::CreationBuckets;
use messages::{DirectoryHandle, RetireRoom, RoomMsg, RoomStopped};

use crate::api::extension::ExtCommand;
use crate::api::room::{MemberView, Refused, RoomCommand, RoomView};
use crate::clock::{now, unix_now_ms};
use crate::guard::guarded;
use crate::ownership::Stop;
use crate::shared::Shared;
use crate::store::writer::{CatchUp, RecordChange, RoomCommit, RoomCommitted, RoomPost};

/// The answer to a command sent to a room that is reloading after a failed commit.
const RELOADING: Refused = Refused::Store {
    code: 503,
    reason: "Room Reloading",
};

/// One commit's contents (see `message_queue::RoomCommit`).
#[derive(Default)]
struct Change {
    record: RecordChange,
    post: Option<RoomPost>,
    notices: Vec<(Aor, StoredMessage)>,
    catch_up: Option<CatchUp>,
}

impl Change {
    fn notices(record: RecordChange, notices: Vec<(Aor, StoredMessage)>) -> Change {
        Change {
            record,
            notices,
            ..Change::default()
        }
    }
}

pub struct ChatRoom {
    name: RoomName,
    id: u64,
    shared: Arc<Shared>,
    directory: DirectoryHandle,
    /// `None`: the room does not exist (yet).
    room: Option<Room>,
    processed: u64,
    in_flight: usize,
    /// A commit failed: no new commands; stop once `in_flight` is 0.
    failed: bool,
    /// Room creations per sender on this arbiter (shared by its ChatRooms).
    creations: Rc<RefCell<CreationBuckets>>,
    last_active: Instant,
    span: tracing::Span,
}

impl ChatRoom {
    pub fn new(
        name: RoomName,
        id: u64,
        shared: Arc<Shared>,
        directory: DirectoryHandle,
        creations: Rc<RefCell<CreationBuckets>>,
    ) -> ChatRoom {
        let span = tracing::debug_span!("room", room = %name);
        ChatRoom {
            name,
            id,
            shared,
            directory,
            room: None,
            processed: 0,
            in_flight: 0,
            failed: false,
            creations,
            last_active: now(),
            span,
        }
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.shared.config.rooms.idle_timeout_secs)
    }

    /// The room as the API shows it.
    fn view(&self) -> Option<RoomView> {
        let r = self.room.as_ref()?;
        Some(RoomView {
            name: self.name.to_string(),
            address: format!("sip:{}@{}", self.name.user(), self.shared.local.domain),
            topic: r.record.topic.clone(),
            owner: r.record.owner.clone(),
            created_unix: r.record.created_unix,
            members: r
                .current()
                .map(|m| MemberView {
                    number: m.number.clone(),
                    joined_unix: m.joined_unix,
                    voice: r.voice_of(&m.number).map(|v| v.as_str()),
                })
                .collect(),
            last_seq: r.last_seq(),
        })
    }

    /// A text message from the room itself (answers, announcements).
    fn notice(&self, text: &str) -> StoredMessage {
        let user = self.name.user();
        StoredMessage {
            id: String::new(),
            from: self.name.from_header(&user, &self.shared.local.domain),
            sender: user,
            content_type: "text/plain;charset=UTF-8".into(),
            body: text.as_bytes().to_vec(),
            accepted_unix_ms: unix_now_ms(),
            expires_unix: 0,
        }
    }

    /// The notice `text` for every current member except those in `skip`.
    fn announce(&self, text: &str, skip: &[&Aor]) -> Vec<(Aor, StoredMessage)> {
        let Some(r) = &self.room else {
            return Vec::new();
        };
        r.current()
            .map(|m| Aor::from_canonical(&m.number))
            .filter(|a| !skip.contains(&a))
            .map(|a| (a, self.notice(text)))
            .collect()
    }

    /// Sends a change to the queue writer; `done` runs with the outcome once it is on disk
    /// (every member with something new in their queue has been told to deliver by then).
    /// Copies go only to members the queue rules keep messages for (`may_queue_for`), which
    /// the sender never learns.
    fn commit(
        &mut self,
        change: Change,
        ctx: &mut Context<Self>,
        done: impl FnOnce(&mut Self, Result<RoomCommitted, Refused>) + 'static,
    ) {
        let Change {
            record,
            mut post,
            mut notices,
            catch_up,
        } = change;
        let shared = self.shared.clone();
        let keeps = |a: &Aor| {
            let account = shared.auth_enabled() && shared.db.account(a).ok().flatten().is_some();
            shared.may_queue_for(a, account)
        };
        if let Some(p) = post.as_mut() {
            p.recipients.retain(|a| keeps(a));
        }
        notices.retain(|(a, _)| keeps(a));
        let catch_up = catch_up.filter(|c| keeps(&c.who));
        let (reply, rx) = oneshot::channel();
        self.in_flight += 1;
        self.shared.queue.room_commit(RoomCommit {
            room: self.name.clone(),
            epoch: self.id,
            record,
            post,
            notices,
            catch_up,
            reply,
        });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            act.in_flight -= 1;
            let res = match res {
                Ok(Ok(c)) => {
                    for aor in &c.queued {
                        act.shared.to_extension(aor.clone(), ExtCommand::Deliver);
                    }
                    Ok(c)
                }
                Ok(Err(r)) => Err(Refused::from(r)),
                Err(_) => Err(Refused::Store {
                    code: 503,
                    reason: "Message Store Unavailable",
                }),
            };
            if res.is_err() && !act.failed {
                // memory ran ahead of the disk: start again from what the store holds
                warn!(room = %act.name, "room change not written; the room reloads");
                act.failed = true;
            }
            done(act, res);
            act.settle(ctx);
        }));
    }

    /// Stops a failed room once nothing is in flight; asks to retire a room that does not
    /// exist at once (a MESSAGE to a made-up name leaves no actor behind).
    fn settle(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight > 0 {
            return;
        }
        if self.failed {
            ctx.stop();
        } else if self.room.is_none() {
            self.directory.retire.do_send(RetireRoom {
                room: self.name.clone(),
                id: self.id,
                processed: self.processed,
            });
        }
    }

    /// Takes a creation token of `who` (the room rate applies to making rooms too).
    fn may_create(&self, who: &Aor) -> Result<(), RoomError> {
        let limits = self.shared.config.rooms.limits();
        self.creations.borrow_mut().take(now(), who, &limits)
    }

    /// Refuses a command while the room reloads.
    fn refuse(cmd: RoomCommand) {
        match cmd {
            RoomCommand::Message { reply, .. } => drop(reply.send(Err(RELOADING))),
            RoomCommand::Create { reply, .. }
            | RoomCommand::AddMember { reply, .. }
            | RoomCommand::RemoveMember { reply, .. }
            | RoomCommand::SetTopic { reply, .. } => drop(reply.send(Err(RELOADING))),
            RoomCommand::Delete { reply, .. } => drop(reply.send(Err(RELOADING))),
            // dropped: the API answers 503; the bridge tells again within a second
            RoomCommand::Show { .. } | RoomCommand::Voice { .. } => {}
        }
    }

    fn command(&mut self, cmd: RoomCommand, ctx: &mut Context<Self>) {
        self.processed += 1;
        self.last_active = now();
        if self.failed {
            return Self::refuse(cmd);
        }
        match cmd {
            RoomCommand::Message {
                sender,
                display,
                content_type,
                body,
                reply,
            } => self.message(sender, display, content_type, body, reply, ctx),
            RoomCommand::Show { reply } => {
                let _ = reply.send(self.view());
            }
            RoomCommand::Create {
                owner,
                topic,
                members,
                reply,
            } => self.create(owner, topic, members, reply, ctx),
            RoomCommand::Delete { by, reply } => self.delete(by, reply, ctx),
            RoomCommand::AddMember { by, number, reply } => self.add(by, number, reply, ctx),
            RoomCommand::RemoveMember { by, number, reply } => self.remove(by, number, reply, ctx),
            RoomCommand::SetTopic { by, topic, reply } => self.topic(by, topic, reply, ctx),
            RoomCommand::Voice { states } => {
                if let Some(r) = self.room.as_mut() {
                    r.set_voice(states);
                }
            }
        }
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared.metrics.rooms_active.inc();
        let name = self.name.as_str();
        let loaded = self
            .shared
            .db
            .room(name)
            .and_then(|r| Ok((r, self.shared.db.last_room_seq(name)?)));
        match loaded {
            Ok((record, last_seq)) => {
                self.room = record.map(|r| Room::new(r, last_seq));
                debug!(room = %self.name, exists = self.room.is_some(), last_seq, "room loaded");
            }
            Err(e) => {
                warn!(room = %self.name, error = %e, "room load failed");
                ctx.stop();
                return;
            }
        }
        let tick =
            (self.idle_timeout() / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        ctx.run_interval(tick, |act, _| {
            let idle = now().saturating_duration_since(act.last_active) >= act.idle_timeout();
            if idle && act.in_flight == 0 {
                act.directory.retire.do_send(RetireRoom {
                    room: act.name.clone(),
                    id: act.id,
                    processed: act.processed,
                });
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.shared.metrics.rooms_active.dec();
        // however it stopped (retired, failed, load error, panic): the directory forgets it
        self.directory.stopped.do_send(RoomStopped {
            room: self.name.clone(),
            id: self.id,
        });
    }
}

impl Handler<RoomMsg> for ChatRoom {
    type Result = ();

    fn handle(&mut self, RoomMsg(cmd): RoomMsg, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _entered = span.enter();
        let metrics = self.shared.metrics.clone();
        // a panic drops the command's reply channel, so its requester answers 500; commits in
        // flight are still answered before the room stops
        if guarded("room command", &metrics, || self.command(cmd, ctx)).is_none() {
            self.failed = true;
        }
        self.settle(ctx);
    }
}

impl Handler<Stop> for ChatRoom {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
