//! The initial SUBSCRIBE (checks, the subscriber's digest, the watch) and its refreshes, for
//! every event package of the registry (`Shared::events`).

use std::time::Duration;

use actix::{ActorContext, ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::auth::AuthOutcome;
use switchboard_engine::event::notify;
use switchboard_engine::event::subscription::{Dialog, State, Subscription as Machine};
use switchboard_engine::event::{Package, MESSAGE_SUMMARY};
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{reason_phrase, HeaderName, Message as SipMessage};
use switchboard_engine::txn::ServerKey;
use tokio::sync::oneshot;

use super::{list, mailbox, Early, Subscription, Target};
use crate::api::extension::{ExtCommand, WatchReply, WatchRequest};
use crate::clock::now;

/// The prefix of a subscriber's buddy-list URI (`sip:buddies-<number>@domain`).
pub const LIST_PREFIX: &str = "buddies-";

/// What the Request-URI of a SUBSCRIBE names.
enum Wanted {
    /// A number's presence.
    One(Aor),
    /// A subscriber's buddy list (presence).
    List(Aor),
    /// A number's mailbox, or (`None`, the voicemail number) the subscriber's own.
    Mailbox(Option<Aor>),
}

impl Subscription {
    /// Checks an initial SUBSCRIBE and answers what fails; the rest goes on in `authorized`.
    pub(super) fn start(
        &mut self,
        key: ServerKey,
        req: SipMessage,
        flow: Flow,
        ctx: &mut Context<Self>,
    ) {
        let Some(package) = self.shared.events.find(req.header(HeaderName::Event)) else {
            let allow = self.shared.events.allow_events().to_owned();
            return self.fail(
                &key,
                &req,
                &flow,
                489,
                "Bad Event",
                &[("Allow-Events", &allow)],
                ctx,
            );
        };
        let p = &self.shared.config.presence;
        let expires = req.expires().unwrap_or(p.default_expires_secs);
        if expires != 0 && expires < p.min_expires_secs {
            let min = p.min_expires_secs.to_string();
            return self.fail(
                &key,
                &req,
                &flow,
                423,
                reason_phrase(423),
                &[("Min-Expires", &min)],
                ctx,
            );
        }
        let expires = expires.min(p.max_expires_secs);
        let Some(wanted) = self.wanted(&req, package) else {
            return self.fail(&key, &req, &flow, 404, "Not Found", &[], ctx);
        };
        let accept = req.header(HeaderName::Accept);
        let ok_type = match wanted {
            Wanted::One(_) | Wanted::Mailbox(_) => package.accepts(accept),
            Wanted::List(_) => {
                if !notify::lists_tag(req.header_values(HeaderName::Supported), "eventlist") {
                    return self.fail(
                        &key,
                        &req,
                        &flow,
                        421,
                        reason_phrase(421),
                        &[("Require", "eventlist")],
                        ctx,
                    );
                }
                notify::accepts(accept, "multipart/related")
            }
        };
        if !ok_type {
            let ours = match wanted {
                Wanted::List(_) => "multipart/related",
                _ => package.content_type,
            };
            return self.fail(
                &key,
                &req,
                &flow,
                406,
                reason_phrase(406),
                &[("Accept", ours)],
                ctx,
            );
        }
        let from_here = req
            .from()
            .is_some_and(|f| self.shared.is_our_host(f.uri().host()));
        if !from_here {
            return self.fail(
                &key,
                &req,
                &flow,
                403,
                "Watchers Must Be Subscribers Here",
                &[],
                ctx,
            );
        }
        if !self.shared.auth_enabled() {
            // lab mode without authentication: the watcher is who From says
            let watcher = req
                .from()
                .and_then(|f| f.uri().user_unescaped())
                .and_then(|u| self.shared.plan.canonical(&u).ok());
            let Some(watcher) = watcher else {
                return self.fail(&key, &req, &flow, 403, "Forbidden", &[], ctx);
            };
            return self.authenticated(key, req, flow, watcher, wanted, expires, ctx);
        }
        let creds = req
            .header(HeaderName::ProxyAuthorization)
            .and_then(|v| Credentials::parse(v).ok())
            .filter(|c| c.realm == self.shared.realm);
        let Some(creds) = creds else {
            return self.challenge(&key, &req, &flow, false, ctx);
        };
        let Ok(watcher) = self.shared.plan.canonical(creds.username) else {
            return self.fail(&key, &req, &flow, 403, "Forbidden", &[], ctx);
        };
        let (tx, rx) = oneshot::channel();
        self.shared.to_extension(
            watcher.clone(),
            ExtCommand::Authenticate {
                req: req.clone(),
                reply: tx,
            },
        );
        self.starting = true;
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            act.starting = false;
            match res.unwrap_or(AuthOutcome::Forbidden) {
                AuthOutcome::Authenticated { .. } => {
                    act.authenticated(key, req, flow, watcher, wanted, expires, ctx)
                }
                AuthOutcome::Challenge { stale } => act.challenge(&key, &req, &flow, stale, ctx),
                AuthOutcome::Forbidden => act.fail(&key, &req, &flow, 403, "Forbidden", &[], ctx),
            }
        }));
    }

    /// A failed initial SUBSCRIBE: the answer, and the subscription is over (a challenged
    /// one comes again with a new Call-ID or CSeq; the worker starts a fresh actor then).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fail(
        &mut self,
        key: &ServerKey,
        req: &SipMessage,
        flow: &Flow,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
        ctx: &mut Context<Self>,
    ) {
        self.respond(key, req, flow, code, reason, extra);
        self.flow = None;
        self.unwatch_all();
        self.give_slot();
        // kept a while for the SUBSCRIBE sent again with credentials (same Call-ID), then
        // stopped if no subscription came of it
        ctx.run_later(Duration::from_secs(32), |act, ctx| {
            if act.machine.is_none() && !act.starting {
                ctx.stop();
            }
        });
    }

    fn challenge(
        &mut self,
        key: &ServerKey,
        req: &SipMessage,
        flow: &Flow,
        stale: bool,
        ctx: &mut Context<Self>,
    ) {
        let values = self.shared.challenge(stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| ("Proxy-Authenticate", v.as_str()))
            .collect();
        self.fail(key, req, flow, 407, reason_phrase(407), &extra, ctx);
    }

    /// Whom the Request-URI names, for `package`: one of our numbers, a subscriber's buddy
    /// list (presence), or a mailbox (message-summary: a number, or the voicemail number for
    /// the subscriber's own). Decided by the numbering plan alone, never by who has an
    /// account, so the answer tells nothing of accounts.
    fn wanted(&self, req: &SipMessage, package: &Package) -> Option<Wanted> {
        let uri = req.request_uri()?;
        if !self.shared.is_our_host(uri.host()) {
            return None;
        }
        let user = uri.user_unescaped()?;
        if *package == MESSAGE_SUMMARY {
            if self.shared.is_voicemail_number(&user) {
                return Some(Wanted::Mailbox(None));
            }
            let aor = self.shared.plan.canonical(&user).ok()?;
            return Some(Wanted::Mailbox(Some(aor)));
        }
        if let Some(n) = user.strip_prefix(LIST_PREFIX) {
            return self.shared.plan.canonical(n).ok().map(Wanted::List);
        }
        self.shared.plan.canonical(&user).ok().map(Wanted::One)
    }

    #[allow(clippy::too_many_arguments)]
    fn authenticated(
        &mut self,
        key: ServerKey,
        req: SipMessage,
        flow: Flow,
        watcher: Aor,
        wanted: Wanted,
        expires: u32,
        ctx: &mut Context<Self>,
    ) {
        if !self.slot {
            if !self.shared.take_watch_slot(&watcher) {
                let retry = [("Retry-After", "60")];
                return self.fail(
                    &key,
                    &req,
                    &flow,
                    503,
                    "Too Many Subscriptions",
                    &retry,
                    ctx,
                );
            }
            self.slot = true;
        }
        self.watcher = Some(watcher.clone());
        match wanted {
            Wanted::Mailbox(mailbox) => {
                // `Subscribers::Owner`: the mailbox must be the subscriber's own, and anyone
                // else gets the same answer whether the number has a mailbox or not
                let mailbox = mailbox.unwrap_or_else(|| watcher.clone());
                if mailbox != watcher {
                    return self.fail(&key, &req, &flow, 403, "Forbidden", &[], ctx);
                }
                mailbox::start(self, key, req, flow, mailbox, expires, ctx);
            }
            Wanted::List(owner) => {
                if owner != watcher {
                    return self.fail(
                        &key,
                        &req,
                        &flow,
                        403,
                        "Only The Owner May Watch A Buddy List",
                        &[],
                        ctx,
                    );
                }
                self.starting = true;
                list::start(self, key, req, flow, owner, expires, ctx);
            }
            Wanted::One(entity) => {
                let Some(me) = self.me.clone() else { return };
                let (tx, rx) = oneshot::channel();
                // notes may come before the answer is read: the target takes them
                self.target = Target::One {
                    entity: entity.clone(),
                    state: None,
                    early: None,
                };
                self.shared.to_extension(
                    entity.clone(),
                    ExtCommand::Watch {
                        req: WatchRequest {
                            watcher,
                            id: self.id,
                            to: me.recipient(),
                            list: false,
                        },
                        reply: tx,
                    },
                );
                self.watching.push(entity);
                self.starting = true;
                ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
                    act.starting = false;
                    let early = match &mut act.target {
                        Target::One { early, .. } => early.take(),
                        _ => None,
                    };
                    let (state, snapshot) = match (res, early) {
                        (Ok(WatchReply::Denied), _) | (_, Some(Early::Withdrawn)) => {
                            return act.fail(&key, &req, &flow, 403, "Forbidden", &[], ctx);
                        }
                        (Ok(WatchReply::Full) | Err(_), _) | (_, Some(Early::Gone)) => {
                            let retry = [("Retry-After", "60")];
                            return act.fail(
                                &key,
                                &req,
                                &flow,
                                503,
                                "Too Many Watchers",
                                &retry,
                                ctx,
                            );
                        }
                        // a note after the answer is newer than the answer
                        (Ok(_), Some(Early::State(s))) => (State::Active, Some(s)),
                        (Ok(WatchReply::Allowed(s)), None) => (State::Active, Some(s)),
                        (Ok(WatchReply::Pending), None) => (State::Pending, None),
                    };
                    if let Target::One { state, .. } = &mut act.target {
                        *state = snapshot;
                    }
                    act.accepted(key, req, flow, expires, state, ctx);
                }));
            }
        }
    }

    /// The subscription is made: 200 (RFC 6665 §4.2.1.1), then the first NOTIFY.
    pub(super) fn accepted(
        &mut self,
        key: ServerKey,
        req: SipMessage,
        flow: Flow,
        expires: u32,
        state: State,
        ctx: &mut Context<Self>,
    ) {
        let dialog = match Dialog::from_subscribe(&req, &self.local_tag()) {
            Ok(d) => d,
            Err(e) => return self.fail(&key, &req, &flow, e.status(), &e.to_string(), &[], ctx),
        };
        let t = now();
        self.machine = Some(Machine::new(
            dialog,
            t,
            Duration::from_secs(expires.into()),
            self.interval(),
            state,
        ));
        self.count();
        self.reply_ok(&key, &req, &flow, expires);
        self.drive(ctx);
    }

    fn reply_ok(&mut self, key: &ServerKey, req: &SipMessage, flow: &Flow, expires: u32) {
        let expires = expires.to_string();
        let contact = self.contact();
        let mut extra = vec![("Expires", expires.as_str()), ("Contact", contact.as_str())];
        if matches!(self.target, Target::List { .. }) {
            extra.push(("Require", "eventlist"));
        }
        self.respond(key, req, flow, 200, "OK", &extra);
    }

    /// A SUBSCRIBE within the dialog: a refresh, or an unsubscribe with expires zero.
    pub(super) fn refresh(
        &mut self,
        key: ServerKey,
        req: SipMessage,
        flow: Flow,
        ctx: &mut Context<Self>,
    ) {
        let p = &self.shared.config.presence;
        let expires = req.expires().unwrap_or(p.default_expires_secs);
        let (min, max) = (p.min_expires_secs, p.max_expires_secs);
        let Some(m) = self.machine.as_mut() else {
            return self.respond(&key, &req, &flow, 481, reason_phrase(481), &[]);
        };
        let live = !matches!(m.state(), State::Terminated(_));
        if !m.dialog().matches(&req) || !live {
            return self.respond(&key, &req, &flow, 481, reason_phrase(481), &[]);
        }
        if expires != 0 && expires < min {
            let min = min.to_string();
            return self.respond(
                &key,
                &req,
                &flow,
                423,
                reason_phrase(423),
                &[("Min-Expires", &min)],
            );
        }
        let expires = expires.min(max);
        if let Err(e) = m.dialog_mut().retarget(&req) {
            return self.respond(&key, &req, &flow, e.status(), &e.to_string(), &[]);
        }
        m.refresh(now(), Duration::from_secs(expires.into()));
        self.flow = Some(flow);
        self.reply_ok(&key, &req, &flow, expires);
        self.drive(ctx);
    }
}
