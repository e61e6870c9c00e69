//! The start of a request outside any dialog (RFC 3261 §16.3): the checks a proxy makes
//! (Max-Forwards, Proxy-Require, loops, a MESSAGE's body), and the authentication of a caller
//! who is one of our subscribers (§22.3: 407, then the subscriber's Extension verifies the
//! Proxy-Authorization). Calls from a configured trunk are trusted by their address. Routing
//! follows (`routing.rs`).
//!
//! Guarantees: nothing is routed before its checks pass; a caller from our domain is routed
//! only as the subscriber its credentials prove, never as who From says (except in lab mode
//! without authentication); a debug build panics on `X-Switchboard-Fault: panic` so the
//! containment of one call's failure can be tested.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::auth::AuthOutcome;
use switchboard_engine::flow::Flow;
use switchboard_engine::proxy::branch;
use switchboard_engine::security::Reason;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{reason_phrase, HeaderName, Message as SipMessage, Method};
use tokio::sync::oneshot;

use super::CallLeg;
use crate::api::extension::ExtCommand;
use crate::clock::now;

impl CallLeg {
    /// A request outside any dialog: INVITE (a new call), or OPTIONS/MESSAGE to a subscriber.
    pub(super) fn new_request(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        let method = msg.method().unwrap_or(Method::Other);
        let initial = method == Method::Invite;
        if initial {
            self.record_setup(&msg, &flow);
        }
        // a new call attempt (the first INVITE, or the one re-sent with credentials)
        if initial && self.call.attempt(msg.clone(), flow) {
            self.shared.metrics.active_calls.inc();
        }
        let from_trunk = self.shared.trunks.by_source(flow.remote).is_some();
        let i = self.new_txn(msg, flow, initial);
        let req = self.txns[i].ctx.request().clone();
        #[cfg(debug_assertions)]
        if req.header_by_name("X-Switchboard-Fault") == Some("panic") {
            // fault injection for the supervision test; compiled out of release builds
            panic!("injected fault");
        }
        if self.txns[i].refused_hop(t) {
            return;
        }
        if branch::is_loop(&req, &self.shared.local) {
            return self.txns[i].ctx.respond(t, 482, reason_phrase(482), &[]);
        }
        if method == Method::Message && self.refused_body(i) {
            return;
        }
        if let Some(h) = self.handover.as_ref() {
            // the worker's relay checked and authenticated the caller already
            let caller = h.caller.clone();
            return self.start_routing(i, caller, from_trunk, ctx);
        }
        let from_here = req
            .from()
            .is_some_and(|f| self.shared.is_our_host(f.uri().host()));
        // a configured trunk is trusted by its address: the gateway's callers are not ours
        let needs_auth = self.shared.auth_enabled()
            && from_here
            && !from_trunk
            && matches!(method, Method::Invite | Method::Message);
        if !needs_auth {
            let caller = if self.shared.auth_enabled() || from_trunk {
                None
            } else {
                // lab mode without authentication: the caller is who From says
                req.from()
                    .and_then(|f| f.uri().user_unescaped())
                    .and_then(|u| self.shared.plan.canonical(&u).ok())
            };
            return self.start_routing(i, caller, from_trunk, ctx);
        }
        let creds = req
            .header(HeaderName::ProxyAuthorization)
            .and_then(|v| Credentials::parse(v).ok())
            .filter(|c| c.realm == self.shared.realm);
        let Some(creds) = creds else {
            return self.challenge(i, false);
        };
        let source = self.txns[i].upstream().remote.ip();
        let Ok(caller) = self.shared.plan.canonical(creds.username) else {
            self.shared.security.failure(source, Reason::BadDigest);
            return self.txns[i].ctx.respond(t, 403, "Forbidden", &[]);
        };
        let (tx, rx) = oneshot::channel();
        self.shared.to_extension(
            caller.clone(),
            ExtCommand::Authenticate {
                req: req.clone(),
                reply: tx,
            },
        );
        let key = self.txns[i].key.clone();
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let security = &act.shared.security;
            match res.unwrap_or(AuthOutcome::Forbidden) {
                AuthOutcome::Authenticated { .. } => {
                    security.succeeded(source);
                    act.start_routing(i, Some(caller), false, ctx)
                }
                AuthOutcome::Challenge { stale } => act.challenge(i, stale),
                AuthOutcome::Forbidden => {
                    security.failure(source, Reason::BadDigest);
                    act.txns[i].ctx.respond(now(), 403, "Forbidden", &[])
                }
            }
            act.after(ctx);
        }));
    }

    fn challenge(&mut self, i: usize, stale: bool) {
        self.shared
            .security
            .challenged(self.txns[i].upstream().remote.ip());
        let values = self.shared.challenge(stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| ("Proxy-Authenticate", v.as_str()))
            .collect();
        self.txns[i]
            .ctx
            .respond(now(), 407, reason_phrase(407), &extra);
    }
}
