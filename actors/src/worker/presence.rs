//! The worker's part in events: it starts a Subscription actor for each new SUBSCRIBE
//! dialog (of any package; the actor checks which) and answers PUBLISH of presence through
//! the presentity's Extension (RFC 3903), which checks the publisher's digest and keeps the
//! publication.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::flow::Flow;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{HeaderName, Message as SipMessage};
use switchboard_engine::txn::{self, ServerNonInvite};
use tokio::sync::oneshot;

use super::Worker;
use crate::api::extension::{ExtCommand, PublishReply};
use crate::clock::now;
use crate::subscription::Subscription;
use crate::transport::response_flow;

impl Worker {
    /// A SUBSCRIBE outside any dialog: a new Subscription actor owns its Call-ID.
    pub(super) fn start_subscription(&mut self, m: SipMessage, flow: Flow) {
        let Some((m, flow)) = self.deliver_to_leg(m, flow) else {
            // the Call-ID has its Subscription already (a SUBSCRIBE sent again with
            // credentials after a challenge)
            return;
        };
        if self.shared.events.is_empty() {
            return self.answer(&m, &flow, 489, "Bad Event", &[("Allow-Events", "")]);
        }
        self.start_owner(m, flow, |w, id, call_id, seed| {
            Subscription::new(
                w.shard,
                id,
                call_id,
                w.shared.clone(),
                w.transports().clone(),
                seed,
            )
            .start()
        });
    }

    /// A PUBLISH: the presentity is the Request-URI's number; only its own devices publish.
    pub(super) fn on_publish(&mut self, req: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let Some(key) = self.new_transaction(&req) else {
            return;
        };
        // only presence is published (RFC 3903); a message summary comes from the mailbox
        let package = self.shared.events.find(req.header(HeaderName::Event));
        if package != Some(&switchboard_engine::event::PRESENCE) {
            let allow = self.shared.events.allow_events().to_owned();
            return self.respond(
                key,
                &req,
                &flow,
                489,
                "Bad Event",
                &[("Allow-Events", &allow)],
            );
        }
        let aor = req
            .request_uri()
            .filter(|u| self.shared.is_our_host(u.host()))
            .and_then(|u| u.user_unescaped().map(|u| u.into_owned()))
            .and_then(|u| self.shared.plan.canonical(&u).ok());
        let Some(aor) = aor else {
            return self.respond(key, &req, &flow, 404, "Not Found", &[]);
        };
        if self.shared.auth_enabled() {
            let ours = req
                .header(HeaderName::ProxyAuthorization)
                .and_then(|v| Credentials::parse(v).ok())
                .is_some_and(|c| c.realm == self.shared.realm);
            if !ours {
                // the same challenge whoever asks: no lookup before credentials
                return self.challenge_as(key, &req, &flow, false, true);
            }
        }
        // a placeholder absorbs retransmissions while the Extension works
        let t = now();
        let to = response_flow(&req, &flow);
        let txn = ServerNonInvite::new(t, flow.transport.is_reliable(), txn::Timers::default());
        self.txns.wake_at(t + Duration::from_secs(5), key.clone());
        self.txns.insert(key.clone(), (txn, to));
        let (tx, rx) = oneshot::channel();
        self.shared.to_extension(
            aor,
            ExtCommand::Publish {
                req: req.clone(),
                reply: tx,
            },
        );
        ctx.spawn(rx.into_actor(self).map(move |res, act, _| {
            act.txns.remove(&key);
            let reply = res.unwrap_or(PublishReply::Error {
                code: 500,
                reason: "Server Internal Error".into(),
                min_expires: None,
            });
            match reply {
                PublishReply::Ok { etag, expires } => {
                    let expires = expires.to_string();
                    let mut extra = vec![("Expires", expires.as_str())];
                    if let Some(e) = &etag {
                        extra.push(("SIP-ETag", e.as_str()));
                    }
                    act.respond(key, &req, &flow, 200, "OK", &extra);
                }
                PublishReply::Challenge { stale } => {
                    act.challenge_as(key, &req, &flow, stale, true)
                }
                PublishReply::Forbidden => act.respond(key, &req, &flow, 403, "Forbidden", &[]),
                PublishReply::Error {
                    code,
                    reason,
                    min_expires,
                } => {
                    let min = min_expires.map(|m| m.to_string());
                    let extra: Vec<(&str, &str)> =
                        min.iter().map(|m| ("Min-Expires", m.as_str())).collect();
                    act.respond(key, &req, &flow, code, &reason, &extra);
                }
            }
        }));
    }
}
