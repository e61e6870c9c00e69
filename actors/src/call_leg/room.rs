//! A MESSAGE to a chat room address (`sip:room-<name>@<domain>`): the sender is one of our
//! subscribers, authenticated like any MESSAGE (`caller.rs`); the room's actor takes it as a
//! post or a command and answers once the commit is on disk: 202 Accepted with the post's
//! Message-ID and Room-Seq, 200 OK for a command (its answer comes as a MESSAGE from the
//! room), or the refusal (403 Not A Room Member, 403 Room Full, 404 No Such Room, 503 with
//! Retry-After past the rate limit).
//!
//! Guarantees: a trunk or another domain cannot post (403); a post or command is answered
//! only once the room's commit is on disk.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::chat::{NameError, RoomName, ROOM_SEQ};
use switchboard_engine::messaging::wire;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::HeaderName;
use tokio::sync::oneshot;

use super::CallLeg;
use crate::api::room::RoomCommand;
use crate::clock::now;

impl CallLeg {
    /// Hands the MESSAGE of transaction `i` from `caller` to room `name`.
    pub(super) fn room_message(
        &mut self,
        i: usize,
        caller: Option<Aor>,
        name: Result<RoomName, NameError>,
        ctx: &mut Context<Self>,
    ) {
        let t = now();
        let Ok(name) = name else {
            return self.txns[i].ctx.respond(t, 404, "No Such Room", &[]);
        };
        let Some(sender) = caller else {
            // rooms are for our subscribers: a trunk or another domain cannot post
            return self.txns[i].ctx.respond(t, 403, "Forbidden", &[]);
        };
        let req = self.txns[i].ctx.request();
        let display = req
            .from()
            .and_then(|f| f.display().map(|d| d.trim().trim_matches('"').to_owned()));
        let content_type = req
            .header(HeaderName::ContentType)
            .unwrap_or("text/plain")
            .to_owned();
        let body = req.body().to_vec();
        let (reply, rx) = oneshot::channel();
        self.shared.to_room(
            name,
            RoomCommand::Message {
                sender,
                display,
                content_type,
                body,
                reply,
            },
        );
        let key = self.txns[i].key.clone();
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let t = now();
            match res {
                Ok(Ok(posted)) => match (posted.seq, posted.id) {
                    (Some(seq), Some(id)) => {
                        let seq = seq.to_string();
                        act.txns[i].ctx.respond(
                            t,
                            202,
                            "Accepted",
                            &[(wire::MESSAGE_ID, &id), (ROOM_SEQ, &seq)],
                        );
                    }
                    _ => act.txns[i].ctx.respond(t, 200, "OK", &[]),
                },
                Ok(Err(refused)) => {
                    let (code, reason) = refused.sip_status();
                    match refused.retry_after() {
                        Some(secs) => {
                            let secs = secs.to_string();
                            act.txns[i]
                                .ctx
                                .respond(t, code, reason, &[("Retry-After", &secs)]);
                        }
                        None => act.txns[i].ctx.respond(t, code, reason, &[]),
                    }
                }
                Err(_) => act.txns[i]
                    .ctx
                    .respond(t, 500, "Server Internal Error", &[]),
            }
            act.after(ctx);
        }));
    }
}
