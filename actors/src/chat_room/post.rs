//! A MESSAGE to a room: a post (sequence number, history, a copy for every other member) or an
//! in-band command (its answer, announcements and catch-up, all from the room).

use actix::Context;
use switchboard_engine::chat::{delivered_body, shown_sender, Command, Room, RoomError, HELP};
use switchboard_engine::messaging::{is_text_plain, StoredMessage};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::RoomEntry;
use tokio::sync::oneshot;
use tracing::debug;

use super::{Change, ChatRoom};
use crate::api::room::{Posted, Refused};
use crate::clock::{now, unix_now, unix_now_ms};
use crate::metrics::OutcomeLabel;
use crate::store::writer::{CatchUp, RecordChange, RoomPost};

type Reply = oneshot::Sender<Result<Posted, Refused>>;

impl ChatRoom {
    pub(super) fn message(
        &mut self,
        sender: Aor,
        display: Option<String>,
        content_type: String,
        body: Vec<u8>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let command = is_text_plain(&content_type)
            .then(|| std::str::from_utf8(&body).ok().and_then(Command::parse))
            .flatten();
        match command {
            Some(parsed) => self.command_message(sender, parsed, reply, ctx),
            None => self.post(sender, display, content_type, body, reply, ctx),
        }
    }

    fn count(&self, outcome: &'static str) {
        self.shared
            .metrics
            .room_posts
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    fn post(
        &mut self,
        sender: Aor,
        display: Option<String>,
        content_type: String,
        body: Vec<u8>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let limits = self.shared.config.rooms.limits();
        let Some(room) = self.room.as_mut() else {
            self.count("no_room");
            let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
            return;
        };
        let seq = match room.post(now(), &sender, &limits) {
            Ok(seq) => seq,
            Err(e) => {
                self.count(match e {
                    RoomError::NotAMember => "not_member",
                    RoomError::RateLimited { .. } => "rate_limited",
                    _ => "refused",
                });
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        let recipients = room.others(&sender);
        let shown = shown_sender(display.as_deref(), sender.as_str());
        let accepted = unix_now_ms();
        let prefix = self.shared.config.rooms.prefix_sender;
        let copy = StoredMessage {
            id: String::new(),
            from: self.name.from_header(&shown, &self.shared.local.domain),
            sender: self.name.user(),
            content_type: content_type.clone(),
            body: delivered_body(&content_type, &body, &shown, prefix),
            accepted_unix_ms: accepted,
            expires_unix: 0,
        };
        let entry = RoomEntry {
            seq,
            sender: sender.to_string(),
            display: shown,
            content_type,
            body,
            accepted_unix_ms: accepted,
        };
        let post = RoomPost {
            entry,
            copy,
            recipients,
        };
        let change = Change {
            post: Some(post),
            ..Change::default()
        };
        self.commit(change, ctx, move |act, res| match res {
            Ok(c) => {
                act.count("posted");
                debug!(room = %act.name, seq, copies = c.queued.len(), "room post");
                let _ = reply.send(Ok(Posted {
                    seq: Some(seq),
                    id: c.id,
                }));
            }
            Err(e) => {
                act.count("store_failed");
                let _ = reply.send(Err(e));
            }
        });
    }

    fn command_message(
        &mut self,
        sender: Aor,
        parsed: Result<Command, switchboard_engine::chat::CommandError>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let limits = self.shared.config.rooms.limits();
        if let Some(room) = self.room.as_mut() {
            if let Err(e) = room.rate(now(), &sender, &limits) {
                self.count("rate_limited");
                let _ = reply.send(Err(e.into()));
                return;
            }
        }
        let cmd = match parsed {
            Ok(c) => c,
            Err(e) => {
                // a mistake is answered with what was wrong and the help text
                let text = format!("{e}\n{HELP}");
                return self.answer(sender, text, RecordChange::Keep, Vec::new(), reply, ctx);
            }
        };
        let now_unix = unix_now();
        if self.room.is_none() {
            match cmd {
                Command::Join => {
                    let made = self
                        .may_create(&sender)
                        .and_then(|()| Room::create(&sender, String::new(), now_unix, &limits));
                    let room = match made {
                        Ok(r) => r,
                        Err(e) => {
                            if matches!(e, RoomError::RateLimited { .. }) {
                                self.count("rate_limited");
                            }
                            let _ = reply.send(Err(e.into()));
                            return;
                        }
                    };
                    let record = RecordChange::Create {
                        record: room.record.clone(),
                        max_owned: self.shared.config.rooms.max_rooms_per_owner,
                    };
                    self.room = Some(room);
                    debug!(room = %self.name, owner = %sender.redacted(), "room created");
                    let text = "You created the room and own it. Send /invite <number> to add members, /help for commands.".to_owned();
                    return self.answer(sender, text, record, Vec::new(), reply, ctx);
                }
                Command::Help => {
                    let text = HELP.to_owned();
                    return self.answer(sender, text, RecordChange::Keep, Vec::new(), reply, ctx);
                }
                _ => {
                    let _ = reply.send(Err(RoomError::NoSuchRoom.into()));
                    return;
                }
            }
        }
        // any canonical number may be invited, with or without an account: the answer never
        // says which numbers have one (copies follow the queue rules, see `commit`)
        let shared = self.shared.clone();
        let resolve = move |n: &str| -> Result<Aor, RoomError> {
            shared
                .plan
                .canonical(n)
                .map_err(|_| RoomError::BadNumber(n.chars().take(40).collect()))
        };
        let Some(room) = self.room.as_mut() else {
            return;
        };
        let effect = match room.command(&sender, &cmd, now_unix, &limits, &resolve) {
            Ok(e) => e,
            Err(e) if e.answered_in_band() => {
                return self.answer(
                    sender,
                    e.to_string(),
                    RecordChange::Keep,
                    Vec::new(),
                    reply,
                    ctx,
                );
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        let record = if effect.changed {
            RecordChange::Put(room.record.clone())
        } else {
            RecordChange::Keep
        };
        // `/call`: the room's conference calls the members who are not in it yet
        for member in &effect.dial {
            self.shared
                .dial_out(member.clone(), self.name.clone().into());
        }
        let mut notices = Vec::new();
        if let Some(text) = &effect.announce {
            let invitee = effect.invited.as_ref().map(|(a, _)| a);
            let mut skip = vec![&sender];
            skip.extend(invitee);
            notices = self.announce(text, &skip);
        }
        if let Some((who, text)) = &effect.invited {
            notices.push((who.clone(), self.notice(text)));
        }
        // the catch-up is read by the writer inside this commit, after every post before it
        let catch_up = effect.catch_up_after.map(|after| CatchUp {
            who: sender.clone(),
            after,
            cap: self.shared.config.rooms.catch_up_max,
            prefix: self.shared.config.rooms.prefix_sender,
        });
        let mut all = vec![(sender.clone(), self.notice(&effect.reply))];
        all.extend(notices);
        let change = Change {
            catch_up,
            ..Change::notices(record, all)
        };
        self.send_answer(change, reply, ctx);
    }

    /// Answers `to` with `text` from the room (with `record` and `extra` in the same commit).
    fn answer(
        &mut self,
        to: Aor,
        text: String,
        record: RecordChange,
        extra: Vec<(Aor, StoredMessage)>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let mut all = vec![(to, self.notice(&text))];
        all.extend(extra);
        self.send_answer(Change::notices(record, all), reply, ctx);
    }

    fn send_answer(&mut self, change: Change, reply: Reply, ctx: &mut Context<Self>) {
        self.commit(change, ctx, move |act, res| {
            act.count(if res.is_ok() {
                "command"
            } else {
                "store_failed"
            });
            let _ = reply.send(res.map(|_| Posted::default()));
        });
    }
}
