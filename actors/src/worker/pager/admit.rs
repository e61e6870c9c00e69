//! Which MESSAGEs the relay carries, and the checks before routing, in a CallLeg's order
//! (`call_leg/caller.rs`): the body (RFC 3428 §8: 413, 415; 400), and the caller (RFC 3261
//! §22.3: 407, the digest verified by the caller's Extension, 403). A configured trunk is
//! trusted by its address; in lab mode without authentication the caller is who From says.
//!
//! Guarantees: `candidate` has no effect (a request it refuses goes to a CallLeg untouched);
//! nothing is routed before the checks pass, and a caller from our domain is routed only as
//! the subscriber its credentials prove.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::auth::AuthOutcome;
use switchboard_engine::messaging::check_body;
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::proxy::branch;
use switchboard_engine::routing::Router;
use switchboard_engine::security::Reason;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::validate::required_extensions;
use switchboard_engine::sip::{reason_phrase, HeaderName, Message as SipMessage, Scheme};
use tokio::sync::oneshot;

use super::Worker;
use crate::api::extension::ExtCommand;
use crate::offline;
use crate::shared::Shared;

/// Where a MESSAGE the relay carries goes, as the numbering plan says.
pub(super) struct Target {
    pub(super) callee: Aor,
    /// The Request-URI's user, unescaped.
    pub(super) dialed: String,
    pub(super) destination: Destination,
}

/// The subscriber a MESSAGE reaches when the relay can carry it: a number of ours the plan
/// alone maps to a subscriber (`router` rewrites nothing), not a room, a conference, a
/// hot-desk code or an enterprise number; Max-Forwards left, no Proxy-Require, no loop.
/// `None`: a CallLeg takes the request (and answers what is wrong with it).
pub(super) fn candidate(shared: &Shared, m: &SipMessage, router: &dyn Router) -> Option<Target> {
    #[cfg(debug_assertions)]
    if m.header_by_name("X-Switchboard-Fault").is_some() {
        // fault injection belongs to a CallLeg's supervision test
        return None;
    }
    if m.max_forwards() == Some(0)
        || required_extensions(m, HeaderName::ProxyRequire).is_some()
        || branch::is_loop(m, &shared.local)
        || router.rewrites()
    {
        return None;
    }
    let uri = m.request_uri()?;
    let ours = uri.scheme() == Scheme::Tel || shared.local.is_our_host(uri.host());
    if !ours || !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel) {
        return None;
    }
    let user = uri.user_unescaped()?.into_owned();
    if switchboard_engine::members::HotDeskCode::parse(&user).is_some()
        || shared.conference_addresses.conference_of(&user).is_some()
        || switchboard_engine::chat::RoomName::from_user(&user).is_some()
    {
        return None;
    }
    let destination = shared.plan.resolve(shared.classify(&user).ok()?);
    // an enterprise number may be a sold one (an account of its own); an outside number may
    // reach a member: a CallLeg looks those up
    let simple = matches!(
        destination,
        Destination::Subscriber(_) | Destination::Personal { .. }
    );
    let callee = shared.plan.subscriber_of(&destination).filter(|_| simple)?;
    Some(Target {
        callee,
        dialed: user,
        destination,
    })
}

impl Worker {
    /// The body and caller checks of page `id`; routing follows once they pass.
    pub(super) fn page_checks(&mut self, id: u64, ctx: &mut Context<Self>) {
        let Some(p) = self.pager.pages.get(&id) else {
            return;
        };
        let req = p.ctx.request();
        let ct = req.header(HeaderName::ContentType).unwrap_or("text/plain");
        let max = self.shared.config.messaging.max_body_bytes;
        if let Err(e) = check_body(ct, req.body(), max) {
            let (code, reason) = e.status();
            offline::count(&self.shared, "refused_body");
            return self.page_respond(id, code, reason, &[]);
        }
        let from_here = req
            .from()
            .is_some_and(|f| self.shared.is_our_host(f.uri().host()));
        let needs_auth = self.shared.auth_enabled() && from_here && !p.from_trunk;
        if !needs_auth {
            let caller = if self.shared.auth_enabled() || p.from_trunk {
                None
            } else {
                // lab mode without authentication: the caller is who From says
                req.from()
                    .and_then(|f| f.uri().user_unescaped())
                    .and_then(|u| self.shared.plan.canonical(&u).ok())
            };
            return self.page_route(id, caller, ctx);
        }
        let creds = req
            .header(HeaderName::ProxyAuthorization)
            .and_then(|v| Credentials::parse(v).ok())
            .filter(|c| c.realm == self.shared.realm);
        let Some(creds) = creds else {
            return self.page_challenge(id, false);
        };
        let source = p.upstream.remote.ip();
        let Ok(caller) = self.shared.plan.canonical(creds.username) else {
            self.shared.security.failure(source, Reason::BadDigest);
            return self.page_respond(id, 403, "Forbidden", &[]);
        };
        let (tx, rx) = oneshot::channel();
        let req = req.clone();
        self.shared
            .to_extension(caller.clone(), ExtCommand::Authenticate { req, reply: tx });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let security = act.shared.security.clone();
            match res.unwrap_or(AuthOutcome::Forbidden) {
                AuthOutcome::Authenticated { .. } => {
                    security.succeeded(source);
                    act.page_route(id, Some(caller), ctx)
                }
                AuthOutcome::Challenge { stale } => act.page_challenge(id, stale),
                AuthOutcome::Forbidden => {
                    security.failure(source, Reason::BadDigest);
                    act.page_respond(id, 403, "Forbidden", &[])
                }
            }
            act.drain_page(id, ctx);
        }));
    }

    /// 407 with the same challenge for everyone.
    fn page_challenge(&mut self, id: u64, stale: bool) {
        let Some(p) = self.pager.pages.get(&id) else {
            return;
        };
        self.shared.security.challenged(p.upstream.remote.ip());
        let values = self.shared.challenge(stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| ("Proxy-Authenticate", v.as_str()))
            .collect();
        self.page_respond(id, 407, reason_phrase(407), &extra);
    }
}
