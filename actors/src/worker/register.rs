//! REGISTER at the worker: routed here at ingress (the worker owning the address of record),
//! challenged or handed to the address's Extension, answered with what it says.
//!
//! No server transaction is kept for a REGISTER (RFC 3261 §17.2.2 would keep one for Timer J,
//! 32 s over UDP, for every request of a storm): the worker's `RecentAnswers` ring repeats
//! the answer to a retransmission, absorbs one that arrives while the Extension works, and
//! forgets the oldest answers first when full. A retransmission it no longer holds goes to
//! the Extension again, which answers it 200 with the bindings as they are, applying nothing:
//! without authentication the registrar leaves a binding that carries the request's Call-ID
//! and CSeq as it is; with it, the digest replay window has seen the nonce count, and the
//! Extension answers it again only because it is the REGISTER it applied last for that
//! Call-ID, with the same CSeq, less than 64*T1 ago (`registrar::repeat`). The same
//! credentials on any other request are refused 403 like any replay.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use bytes::Bytes;
use std::time::Instant;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::security::Reason;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{reason_phrase, HeaderName, Message as SipMessage};
use switchboard_engine::txn::{Seen, ServerKey};
use tokio::sync::oneshot;

use super::Worker;
use crate::api::extension::{ExtCommand, RegisterReply};
use crate::clock::{now, unix_now};
use crate::metrics::OutcomeLabel;
use crate::transport::register_aor;

impl Worker {
    /// The key of a REGISTER to process, or `None` when it is a retransmission: absorbed
    /// while its answer is being made, answered again with the same bytes once it is.
    pub(super) fn register_seen(&mut self, key: ServerKey) -> Option<ServerKey> {
        match self.answers.handle_request(now(), &key) {
            Seen::New => Some(key),
            Seen::Pending => None,
            Seen::Answered(bytes, to) => {
                self.transports().send(&to, bytes);
                None
            }
        }
    }

    /// Sends the answer to a REGISTER and keeps it for its retransmissions (over UDP).
    pub(super) fn answer_register(&mut self, now: Instant, key: ServerKey, bytes: Bytes, to: Flow) {
        self.transports().send(&to, bytes.clone());
        if !to.transport.is_reliable() {
            self.answers.handle_answer(now, key, bytes, to);
        }
    }

    pub(super) fn on_register(
        &mut self,
        req: SipMessage,
        flow: Flow,
        aor: Option<Aor>,
        ctx: &mut Context<Self>,
    ) {
        let Some(key) = self.new_transaction(&req) else {
            return;
        };
        let aor = aor.or_else(|| register_aor(&self.shared.plan, &req));
        let Some(aor) = aor else {
            self.shared
                .security
                .failure(flow.remote.ip(), Reason::UnknownNumber);
            self.count_register("invalid");
            return self.respond(key, &req, &flow, 404, "Not Found", &[]);
        };
        if self.shared.auth_enabled() {
            let ours = req
                .header(HeaderName::Authorization)
                .and_then(|v| Credentials::parse(v).ok())
                .is_some_and(|c| c.realm == self.shared.realm);
            if !ours {
                // the same challenge whoever asks: no account lookup before credentials
                self.shared.security.challenged(flow.remote.ip());
                self.count_register("challenged");
                return self.challenge(key, &req, &flow, false);
            }
        }
        // retransmissions are absorbed while the Extension works (no retransmissions over a
        // reliable transport, §17.1.2.2)
        if !flow.transport.is_reliable() {
            self.answers.begin(now(), key.clone());
        }
        let (tx, rx) = oneshot::channel();
        self.shared.to_extension(
            aor,
            ExtCommand::Register {
                req: req.clone(),
                flow,
                reply: tx,
            },
        );
        ctx.spawn(rx.into_actor(self).map(move |res, act, _| {
            let reply = res.unwrap_or(RegisterReply::Error {
                code: 500,
                reason: "Server Internal Error",
                min_expires: None,
            });
            act.finish_register(key, req, flow, reply);
        }));
    }

    fn challenge(&mut self, key: ServerKey, req: &SipMessage, flow: &Flow, stale: bool) {
        self.challenge_as(key, req, flow, stale, false);
    }

    /// A 401 (registrar) or 407 (`proxy`: the requests a phone sends through us, such as
    /// PUBLISH) with the same challenge for everyone.
    pub(super) fn challenge_as(
        &mut self,
        key: ServerKey,
        req: &SipMessage,
        flow: &Flow,
        stale: bool,
        proxy: bool,
    ) {
        let (header, code) = if proxy {
            ("Proxy-Authenticate", 407)
        } else {
            ("WWW-Authenticate", 401)
        };
        let values = self.shared.challenge(stale);
        let extra: Vec<(&str, &str)> = values.iter().map(|v| (header, v.as_str())).collect();
        self.respond(key, req, flow, code, reason_phrase(code), &extra);
    }

    fn finish_register(
        &mut self,
        key: ServerKey,
        req: SipMessage,
        flow: Flow,
        reply: RegisterReply,
    ) {
        match reply {
            RegisterReply::Ok { contacts } => {
                self.shared.security.succeeded(flow.remote.ip());
                self.count_register("ok");
                // the Date is formatted once a second, not per answer
                let mut date = std::mem::take(&mut self.date);
                let mut extra: Vec<(&str, &str)> =
                    contacts.iter().map(|c| ("Contact", c.as_str())).collect();
                extra.push(("Date", date.at(unix_now())));
                self.respond(key, &req, &flow, 200, "OK", &extra);
                self.date = date;
            }
            RegisterReply::Challenge { stale } => {
                self.shared.security.challenged(flow.remote.ip());
                self.count_register("challenged");
                self.challenge(key, &req, &flow, stale);
            }
            RegisterReply::Forbidden => {
                self.shared
                    .security
                    .failure(flow.remote.ip(), Reason::BadDigest);
                self.count_register("forbidden");
                self.respond(key, &req, &flow, 403, "Forbidden", &[]);
            }
            RegisterReply::Error {
                code,
                reason,
                min_expires,
            } => {
                self.count_register("error");
                let min = min_expires.map(|m| m.to_string());
                let extra: Vec<(&str, &str)> =
                    min.iter().map(|m| ("Min-Expires", m.as_str())).collect();
                self.respond(key, &req, &flow, code, reason, &extra);
            }
        }
    }

    fn count_register(&self, outcome: &'static str) {
        self.shared
            .metrics
            .register_requests
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}
