//! Routing a call (or a MESSAGE, OPTIONS) outside any dialog: what was dialed, through the
//! routing plugin, to the devices, forwards and trunks it ends at.
//!
//! The Request-URI's user is rewritten by the plugins' `classify` hooks, classified by the
//! numbering plan (a feature code goes to `feature`), a directory address is resolved to its
//! owner, and the `RouteSequence` of the engine takes over: for each address on the way the
//! leg looks the subscriber up (registered devices, forwarding settings), asks the router of
//! the call's plugin version, and carries out the step the sequence returns: ring the devices,
//! try a trunk (with credentials when it challenges), forward with 181 and History-Info, fail
//! over, answer. The call keeps the router it started with, so a reload never changes a call
//! in progress.

use std::rc::Rc;
use std::time::Instant;

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::forwarding::MAX_HOPS;
use switchboard_engine::numbering::{Aor, ClassifyError, Destination};
use switchboard_engine::proxy::{route, BranchSpec};
use switchboard_engine::registrar;
use switchboard_engine::routing::{
    destination_key, CalleeState, RouteRequest, RouteSequence, Router, Step,
};
use switchboard_engine::sip::digest::Challenge;
use switchboard_engine::sip::{Method, Scheme};
use switchboard_engine::trunk::TrunkId;
use switchboard_engine::txn::ServerKey;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::CallLeg;
use crate::api::extension::{ExtCommand, Located};
use crate::clock::{now, unix_now};
use crate::metrics::{KindLabel, TrunkLabel, VersionLabel};

/// The routing state of one request.
pub(super) struct Setup {
    pub(super) router: Rc<dyn Router>,
    pub(super) seq: RouteSequence,
    pub(super) caller: Option<Aor>,
    pub(super) dialed: String,
    pub(super) method: Method,
    /// The subscriber looked up last and what was found.
    pub(super) located: Option<(Aor, Located)>,
    /// The trunk of the current attempt.
    pub(super) trunk: Option<TrunkId>,
    /// The request came from one of our trunks.
    pub(super) from_trunk: bool,
}

impl Setup {
    pub(super) fn canceled(&mut self) {
        self.seq.canceled();
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.seq.poll_timeout()
    }

    /// The plugin version routing this request.
    pub(super) fn version(&self) -> u64 {
        self.router.version()
    }

    /// Whether the request's own History-Info and Diversion are left out: always when we
    /// write ours (a forwarded request), and for anything not from a trunk, whose claims
    /// about where a call came from a carrier must not take on trust.
    pub(super) fn drop_history(&self) -> bool {
        !self.from_trunk || !self.seq.history().is_empty()
    }
}

/// After the lookup of a subscriber: route its address, or ring its devices.
enum Then {
    Decide(Destination),
    Ring,
}

impl CallLeg {
    /// Routes the request of transaction `i` (checks and caller authentication done).
    pub(super) fn start_routing(
        &mut self,
        i: usize,
        caller: Option<Aor>,
        from_trunk: bool,
        ctx: &mut Context<Self>,
    ) {
        let t = now();
        let req = self.txns[i].ctx.request().clone();
        let key = self.txns[i].key.clone();
        let method = req.method().unwrap_or(Method::Other);
        let Some(uri) = req.request_uri() else { return };
        let router = self.shared.plugins.router();
        let local = self.shared.local.clone();
        let plan = &self.shared.plan;
        let ours = uri.scheme() == Scheme::Tel || local.is_our_host(uri.host());
        let classified = if ours {
            let Some(user) = uri.user_unescaped() else {
                return self.txns[i].ctx.respond(t, 404, "Not Found", &[]);
            };
            let user = user.into_owned();
            if method == Method::Message {
                if let Some(room) = switchboard_engine::chat::RoomName::from_user(&user) {
                    return self.room_message(i, caller, room, ctx);
                }
            }
            let dialed = match router.rewrite(&user, caller.as_ref()) {
                Ok(r) => r.unwrap_or(user),
                Err(e) => return self.plugin_failed(i, &e),
            };
            let d = self.shared.classify(&dialed);
            (dialed, d)
        } else {
            let dialed = match uri.user() {
                Some(u) => format!("{u}@{}", uri.host()),
                None => uri.host().to_owned(),
            };
            let d = plan.classify_uri(&uri, |h| local.is_our_host(h));
            (dialed, d)
        };
        let (dialed, dest) = match classified {
            (d, Ok(dest)) => (d, dest),
            (_, Err(e)) => {
                let (code, reason) = match e {
                    ClassifyError::FeatureTarget => (484, "Address Incomplete"),
                    _ => (404, "Not Found"),
                };
                return self.txns[i].ctx.respond(t, code, reason, &[]);
            }
        };
        if let Destination::Feature(f) = dest {
            return self.feature(i, method, caller, f, ctx);
        }
        if !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            return self.txns[i]
                .ctx
                .respond(t, 416, "Unsupported URI Scheme", &[]);
        }
        let dest = plan.resolve(dest);
        self.shared
            .metrics
            .plugin_routed
            .get_or_create(&VersionLabel {
                version: router.version(),
            })
            .inc();
        let seq = RouteSequence::new(method == Method::Invite, destination_key(&dest), MAX_HOPS);
        self.txns[i].setup = Some(Box::new(Setup {
            router,
            seq,
            caller,
            dialed,
            method,
            located: None,
            trunk: None,
            from_trunk,
        }));
        self.run(
            &key,
            Step::Route {
                destination: dest,
                announce: false,
            },
            ctx,
        );
    }

    /// Carries out steps until one waits for the network or a lookup.
    fn run(&mut self, key: &ServerKey, mut step: Step, ctx: &mut Context<Self>) {
        loop {
            let Some(i) = self.index_of(key) else { return };
            let t = now();
            step = match step {
                Step::Route {
                    destination,
                    announce,
                } => {
                    if announce {
                        self.announce(i);
                    }
                    match self.shared.plan.subscriber_of(&destination) {
                        Some(aor) => {
                            return self.locate(key.clone(), aor, Then::Decide(destination), ctx)
                        }
                        None => self.decide(i, &destination, None),
                    }
                }
                Step::Locate { aor } => {
                    let cached = self.txns[i]
                        .setup
                        .as_ref()
                        .and_then(|s| s.located.as_ref())
                        .filter(|(a, _)| *a == aor)
                        .map(|(_, l)| (l.account, devices(l)));
                    match cached {
                        Some((account, n)) => self.located_step(key, i, aor, account, n, ctx),
                        None => return self.locate(key.clone(), aor, Then::Ring, ctx),
                    }
                }
                Step::Fork => self.fork(i),
                Step::Trunk { .. } | Step::External { .. } if !self.may_leave(i) => {
                    // no open relay: off-net only for our subscribers, or for a call one of
                    // them forwarded there
                    Step::Respond {
                        code: 403,
                        reason: "Off-Net Calls Need A Subscriber".into(),
                    }
                }
                Step::Trunk {
                    trunk,
                    request_uri,
                    authenticate,
                } => self.send_to_trunk(i, trunk, &request_uri, authenticate),
                Step::External { uri, announce } => {
                    if announce {
                        self.announce(i);
                    }
                    return self.external(key.clone(), uri, ctx);
                }
                Step::Cancel => {
                    self.txns[i].ctx.cancel_pending(t);
                    Step::Wait
                }
                Step::Respond { code, reason } => {
                    self.txns[i].ctx.respond(t, code, &reason, &[]);
                    Step::Wait
                }
                Step::Seal => {
                    self.txns[i].ctx.seal(t);
                    Step::Wait
                }
                Step::Wait => return,
            };
        }
    }

    /// 181 Call Is Being Forwarded, for calls; counted by the reason of the hop.
    fn announce(&mut self, i: usize) {
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_ref() else { return };
        if let Some(h) = s.seq.history().last() {
            self.shared
                .metrics
                .forwards
                .get_or_create(&KindLabel {
                    kind: h.reason.as_str(),
                })
                .inc();
        }
        if s.method == Method::Invite {
            x.ctx.respond(now(), 181, "Call Is Being Forwarded", &[]);
        }
    }

    /// Asks the router about `destination` and returns the sequence's next step.
    fn decide(
        &mut self,
        i: usize,
        destination: &Destination,
        callee: Option<&CalleeState>,
    ) -> Step {
        let trunks = &self.shared.trunks;
        let Some(s) = self.txns[i].setup.as_mut() else {
            return Step::Wait;
        };
        let decided = {
            let req = RouteRequest {
                method: s.method,
                dialed: &s.dialed,
                destination,
                caller: s.caller.as_ref(),
                time: unix_now(),
                callee,
                history: s.seq.history(),
            };
            s.router.route(&req)
        };
        match decided {
            Ok(d) => {
                debug!(decision = ?std::mem::discriminant(&d), "routed");
                s.seq.decided(d, trunks)
            }
            Err(e) => {
                self.shared.plugins.count_failure(&e);
                warn!(kind = %e.kind, error = %e.message, version = s.router.version(), "routing plugin failed; this request fails alone");
                let (code, reason) = e.status();
                Step::Respond {
                    code,
                    reason: reason.into(),
                }
            }
        }
    }

    fn plugin_failed(&mut self, i: usize, e: &switchboard_engine::routing::RouteError) {
        self.shared.plugins.count_failure(e);
        warn!(kind = %e.kind, error = %e.message, "routing plugin classify hook failed; this request fails alone");
        let (code, reason) = e.status();
        self.txns[i].ctx.respond(now(), code, reason, &[]);
    }

    /// Looks a subscriber up in its Extension, then continues with `then`.
    fn locate(&mut self, key: ServerKey, aor: Aor, then: Then, ctx: &mut Context<Self>) {
        let (tx, rx) = oneshot::channel();
        self.shared
            .to_extension(aor.clone(), ExtCommand::Locate { reply: tx });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.index_of(&key) else { return };
            let Ok(located) = res else {
                act.txns[i]
                    .ctx
                    .respond(now(), 500, "Server Internal Error", &[]);
                return act.after(ctx);
            };
            let (account, n) = (located.account, devices(&located));
            let state = CalleeState {
                aor: Some(aor.clone()),
                account,
                devices: n,
                forwarding: located.forwarding.clone(),
            };
            let aor_for_ring = aor.clone();
            if let Some(s) = act.txns[i].setup.as_mut() {
                s.located = Some((aor, located));
            }
            let step = match then {
                Then::Decide(d) => act.decide(i, &d, Some(&state)),
                Then::Ring => act.located_step(&key, i, aor_for_ring, account, n, ctx),
            };
            act.run(&key, step, ctx);
            act.after(ctx);
        }));
    }

    /// The step after looking up `aor` (`account`, `devices` registered): a MESSAGE may be
    /// stored for later, a call or message to a valid number of ours without an account makes
    /// a dynamic one, and otherwise the sequence rings or falls back.
    fn located_step(
        &mut self,
        key: &ServerKey,
        i: usize,
        aor: Aor,
        mut account: bool,
        devices: usize,
        ctx: &mut Context<Self>,
    ) -> Step {
        if self.stores_instead(i, &aor, account, devices) {
            self.store(key.clone(), aor, devices > 0, ctx);
            return Step::Wait;
        }
        if !account && self.shared.allows_dynamic(&aor) {
            // a call to a number of ours nobody signed up: the number gets its account (the
            // caller hears that it is unavailable, not that it does not exist)
            let expires = unix_now() + self.shared.config.accounts.dynamic_expiry_days * 86_400;
            match self
                .shared
                .db
                .create_dynamic(&aor, &self.shared.realm, unix_now(), expires)
            {
                Ok(made) => {
                    if made {
                        self.shared.metrics.dynamic_accounts.inc();
                        self.shared
                            .to_extension(aor.clone(), ExtCommand::AccountChanged);
                    }
                    account = true;
                }
                Err(e) => warn!(error = %e, "dynamic account not created"),
            }
        }
        match self.txns[i].setup.as_mut() {
            Some(s) => s.seq.located(now(), account, devices),
            None => Step::Wait,
        }
    }

    /// Rings every registered device of the subscriber just located; when none can be rung
    /// after all (a binding expired meanwhile), the subscriber is unreachable.
    fn fork(&mut self, i: usize) -> Step {
        let t = now();
        let local = &self.shared.local;
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_mut() else {
            return Step::Wait;
        };
        let Some((_, located)) = &s.located else {
            return Step::Wait;
        };
        let headers = s.seq.history_headers(&local.domain);
        let drop_history = s.drop_history();
        x.ctx.new_stage();
        let record_route = s.method == Method::Invite;
        let pop_route = route::first_route_is_us(x.ctx.request(), local);
        for b in registrar::targets(&located.bindings, unix_now()) {
            let flow = crate::transport::flow_for_binding(b);
            let spec = BranchSpec {
                request_uri: Some(&b.uri),
                transport: flow.transport,
                record_route,
                pop_route,
                extra_headers: &headers,
                no_response: None,
                drop_history,
            };
            if x.ctx.add_branch(t, spec).is_some() {
                x.branches.push(flow);
            }
        }
        if x.ctx.stage_is_empty() && !x.ctx.is_finished() {
            let account = located.account;
            return s.seq.located(t, account, 0);
        }
        Step::Wait
    }

    /// Every branch of the current attempt failed: the sequence says what comes next.
    pub(super) fn on_exhausted(&mut self, key: &ServerKey, code: u16, ctx: &mut Context<Self>) {
        let Some(i) = self.index_of(key) else { return };
        let trunks = &self.shared.trunks;
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_mut() else {
            return x.ctx.seal(now());
        };
        if let Some(id) = s.trunk {
            let outcome = if code == 401 || code == 407 {
                "challenged"
            } else if switchboard_engine::trunk::fails_over(code) {
                "failed"
            } else {
                "rejected"
            };
            self.shared
                .metrics
                .trunk_attempts
                .get_or_create(&TrunkLabel {
                    trunk: trunks.get(id).name.clone(),
                    outcome,
                })
                .inc();
        }
        if let Some(aor) = self.stores_after_failure(i, code) {
            // no device took the message now: it waits in the queue, whose delivery tries
            // the registered devices again with backoff (no SMS: the number is online)
            return self.store(key.clone(), aor, true, ctx);
        }
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_mut() else {
            return x.ctx.seal(now());
        };
        let stale = (code == 401 || code == 407)
            && x.ctx
                .challenge()
                .and_then(|(_, v)| Challenge::parse(v).ok())
                .is_some_and(|c| c.stale);
        let step = if stale {
            s.seq.stale(code, trunks)
        } else {
            s.seq.failed(code, trunks)
        };
        self.run(key, step, ctx);
    }

    pub(super) fn on_answered(&mut self, key: &ServerKey) {
        let Some(i) = self.index_of(key) else { return };
        let Some(s) = self.txns[i].setup.as_mut() else {
            return;
        };
        s.seq.answered();
        // both ends of a call are on the phone now (presence shows it until the call ends)
        let parties: Vec<Aor> = if s.method == Method::Invite {
            s.caller
                .iter()
                .chain(s.located.as_ref().map(|(a, _)| a))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        {
            for aor in parties {
                if !self.on_call.contains(&aor) {
                    self.shared.to_extension(
                        aor.clone(),
                        ExtCommand::CallState {
                            call: self.presence_id(),
                            up: true,
                        },
                    );
                    self.on_call.push(aor);
                }
            }
        }
        let Some(s) = self.txns[i].setup.as_mut() else {
            return;
        };
        if let Some(id) = s.trunk.take() {
            self.shared
                .metrics
                .trunk_attempts
                .get_or_create(&TrunkLabel {
                    trunk: self.shared.trunks.get(id).name.clone(),
                    outcome: "answered",
                })
                .inc();
        }
    }

    /// No-answer timers of the calls' sequences.
    pub(super) fn setup_timers(&mut self, t: Instant, ctx: &mut Context<Self>) {
        let due: Vec<ServerKey> = self
            .txns
            .iter()
            .filter(|x| {
                x.setup
                    .as_ref()
                    .and_then(|s| s.poll_timeout())
                    .is_some_and(|d| d <= t)
            })
            .map(|x| x.key.clone())
            .collect();
        for key in due {
            let Some(i) = self.index_of(&key) else {
                continue;
            };
            let Some(s) = self.txns[i].setup.as_mut() else {
                continue;
            };
            let step = s.seq.handle_timeout(t);
            self.run(&key, step, ctx);
        }
    }
}

/// Devices a call would ring now.
fn devices(l: &Located) -> usize {
    registrar::targets(&l.bindings, unix_now()).len()
}
