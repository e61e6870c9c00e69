//! Routing a call (or a MESSAGE, OPTIONS) outside any dialog (RFC 3261 §16.5): what was
//! dialed, through the routing plugin, to the devices, forwards and trunks it ends at.
//!
//! The voicemail number, and a subscriber's own number dialed from their own phone, open their
//! mailbox (`voicemail/open.rs`); the voicemail access number, dialed by anyone, asks which
//! mailbox. The Request-URI's user is rewritten by the plugins'
//! `classify` hooks, classified by the numbering plan (a feature code goes to `feature.rs`, a
//! room address to `room.rs`, a conference's to `conference.rs`; a hot-desk code and a
//! member's verified outside number to `members.rs`), a
//! directory address is resolved to its owner, and the request's `Setup` takes over: for each
//! address on the way the leg looks the subscriber up in its Extension (registered devices,
//! forwarding settings), asks the router of the call's plugin version, and carries out the
//! step the sequence returns: ring the devices, try a trunk, forward with 181 and
//! History-Info, fail over, answer. A text message routed to the PSTN group for a landline is
//! read out by a call instead (`message.rs`).
//!
//! Guarantees: the call keeps the router it started with, so a reload never changes a call
//! in progress; a plugin failure fails that one request (500/503), never the switch; a number
//! of ours nobody signed up gets its dynamic account when it is called.
//!
//! An enterprise number the shop sold (`6200-7777#082`) reaches its buyer's account
//! (`ent-62007777-082`) while that account exists, ahead of any `[[numbering.branches]]`
//! entry for the same number; an enterprise number without such an account routes by the
//! configured branches as before.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::numbering::{Aor, ClassifyError, Destination};
use switchboard_engine::routing::{CalleeState, RouteError, Step};
use switchboard_engine::sip::{Method, Scheme};
use switchboard_engine::txn::ServerKey;
use tokio::sync::oneshot;
use tracing::warn;

use super::setup::{devices, Setup};
use super::CallLeg;
use crate::api::extension::ExtCommand;
use crate::clock::{now, unix_now};
use crate::metrics::{KindLabel, TrunkLabel, VersionLabel};

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
        // a phone signed in by hot desk dials hot-desk codes as itself, all else as the member
        let phone = caller.clone();
        let (caller, presented) = self.presented_caller(caller);
        let router = match self.handover.take() {
            // the relay's router, its decision taken
            Some(h) => h.router,
            None => self.shared.plugins.router(),
        };
        let local = self.shared.local.clone();
        let plan = &self.shared.plan;
        let ours = uri.scheme() == Scheme::Tel || local.is_our_host(uri.host());
        let classified = if ours {
            let Some(user) = uri.user_unescaped() else {
                self.unknown_number(i);
                return self.txns[i].ctx.respond(t, 404, "Not Found", &[]);
            };
            let user = user.into_owned();
            if let Some(code) = switchboard_engine::members::HotDeskCode::parse(&user) {
                return self.hot_desk(i, method, phone, code, ctx);
            }
            if method == Method::Invite && self.shared.is_voicemail_access_number(&user) {
                return self.listen_any(i, caller);
            }
            if method == Method::Invite && self.shared.is_voicemail_number(&user) {
                return self.listen(i, caller);
            }
            if let Some(Ok(name)) = self.shared.conference_addresses.conference_of(&user) {
                return self.conference(i, method, caller, name, ctx);
            }
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
                if code == 404 {
                    self.unknown_number(i);
                }
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
        let (dest, member) = self.member_destination(dest);
        if method == Method::Invite
            && caller.is_some()
            && self.subscriber_of(&dest).as_ref() == caller.as_ref()
        {
            // one's own number from one's own phone: the mailbox
            return self.listen(i, caller);
        }
        self.shared
            .metrics
            .plugin_routed
            .get_or_create(&VersionLabel {
                version: router.version(),
            })
            .inc();
        if method == Method::Invite {
            self.file_call(caller.as_ref(), &dialed);
            self.record_caller(caller.as_ref());
        }
        let mut setup = Setup::new(router, &dest, method, dialed, caller.clone(), from_trunk);
        if presented {
            if let Some(aor) = caller {
                setup.present_as(aor);
            }
        }
        if let Some((first, others)) = member {
            setup.ring_also(first, others);
        }
        setup.voicemail_ring(std::time::Duration::from_secs(u64::from(
            self.shared.config.voicemail.ring_secs,
        )));
        self.txns[i].setup = Some(Box::new(setup));
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
            let Some(i) = self.txns.index_of(key) else {
                return;
            };
            let t = now();
            step = match step {
                Step::Route {
                    destination,
                    announce,
                } => {
                    if announce {
                        self.announce(i);
                    }
                    self.record_routed(&destination);
                    if let Some(aor) = self.sold_account(&destination) {
                        let sold = Destination::Subscriber(aor.clone());
                        self.record_routed(&sold);
                        return self.locate(key.clone(), aor, Then::Decide(sold), ctx);
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
                        .and_then(|s| s.cached(&aor, unix_now()));
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
                } => {
                    if !authenticate {
                        if let Some((to, group, text)) = self.landline_text(i) {
                            // a landline takes no text: the switch reads it out by a call
                            return self.read_out(key.clone(), to, group, text, ctx);
                        }
                    }
                    let invite = self.txns[i].ctx.request().method() == Some(Method::Invite);
                    match invite.then(|| self.credit_admit(i)).flatten() {
                        Some(refusal) => refusal,
                        None => self.send_to_trunk(i, trunk, &request_uri, authenticate),
                    }
                }
                Step::External { uri, announce } => {
                    if announce {
                        self.announce(i);
                    }
                    return self.external(key.clone(), uri, ctx);
                }
                Step::Voicemail { reason } => {
                    self.voicemail(i, reason);
                    Step::Wait
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

    /// The account of a sold enterprise number (`ent-<local>-<0CC>`, as the shop names it),
    /// when that account exists; `None` for every other destination. A failed lookup is
    /// logged and routes by the plan.
    fn sold_account(&self, destination: &Destination) -> Option<Aor> {
        let Destination::Enterprise { local, country } = destination else {
            return None;
        };
        let aor = Aor::from_canonical(&format!("ent-{local}-{country:03}"));
        match self.shared.db.account(&aor) {
            Ok(found) => found.map(|_| aor),
            Err(e) => {
                warn!(error = %e, "account lookup failed; enterprise number routed by the plan");
                None
            }
        }
    }

    /// The subscriber `destination` reaches: a sold enterprise number's account first, else
    /// the plan's subscriber (`NumberingPlan::subscriber_of`).
    fn subscriber_of(&self, destination: &Destination) -> Option<Aor> {
        self.sold_account(destination)
            .or_else(|| self.shared.plan.subscriber_of(destination))
    }

    /// 181 Call Is Being Forwarded, for calls; counted by the reason of the hop.
    fn announce(&mut self, i: usize) {
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_ref() else { return };
        if let Some(kind) = s.last_hop_reason() {
            self.shared
                .metrics
                .forwards
                .get_or_create(&KindLabel { kind })
                .inc();
        }
        if s.is_call() {
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
        match s.route(destination, callee, unix_now(), trunks) {
            Ok(step) => step,
            Err(e) => {
                self.shared.plugins.count_failure(&e);
                warn!(
                    kind = %e.kind,
                    error = %e.message,
                    version = s.version(),
                    "routing plugin failed; this request fails alone"
                );
                let (code, reason) = e.status();
                Step::Respond {
                    code,
                    reason: reason.into(),
                }
            }
        }
    }

    fn plugin_failed(&mut self, i: usize, e: &RouteError) {
        self.shared.plugins.count_failure(e);
        warn!(
            kind = %e.kind,
            error = %e.message,
            "routing plugin classify hook failed; this request fails alone"
        );
        let (code, reason) = e.status();
        self.txns[i].ctx.respond(now(), code, reason, &[]);
    }

    /// Looks a subscriber up in its Extension, then continues with `then`.
    fn locate(&mut self, key: ServerKey, aor: Aor, then: Then, ctx: &mut Context<Self>) {
        let (tx, rx) = oneshot::channel();
        self.shared
            .to_extension(aor.clone(), ExtCommand::Locate { reply: tx });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let Ok(mut located) = res else {
                act.txns[i]
                    .ctx
                    .respond(now(), 500, "Server Internal Error", &[]);
                return act.after(ctx);
            };
            // phones signed in as this number, and a member's other numbers
            let also = act.txns[i]
                .setup
                .as_ref()
                .map(|s| s.also_of(&aor).to_vec())
                .unwrap_or_default();
            act.member_devices(&aor, &also, &mut located);
            let (account, n) = (located.account, devices(&located, unix_now()));
            // voicemail takes what no forward does, for a subscriber who has it on
            let voicemail = account
                && act.shared.config.voicemail.enabled
                && act
                    .shared
                    .mailboxes
                    .enabled(&aor)
                    .inspect_err(|e| warn!(error = %e, "voicemail settings not readable"))
                    .unwrap_or(false);
            let state = CalleeState {
                aor: Some(aor.clone()),
                account,
                devices: n,
                forwarding: located.forwarding.clone(),
                voicemail,
            };
            let aor_for_ring = aor.clone();
            if let Some(s) = act.txns[i].setup.as_mut() {
                s.found(aor, located);
            }
            let step = match then {
                Then::Decide(d) => act.decide(i, &d, Some(&state)),
                Then::Ring => act.located_step(&key, i, aor_for_ring, account, n, ctx),
            };
            act.run(&key, step, ctx);
            act.after(ctx);
        }));
    }

    /// The request of transaction `i` asked for a number or name nobody has: a failure of
    /// its source toward a ban.
    fn unknown_number(&self, i: usize) {
        let source = self.txns[i].upstream().remote.ip();
        self.shared
            .security
            .failure(source, switchboard_engine::security::Reason::UnknownNumber);
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
        let source = Some(self.txns[i].upstream().remote.ip());
        if !account
            && self.shared.allows_dynamic(&aor)
            && self.shared.security.abuse.dynamic_account(source).is_ok()
        {
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
            Some(s) => s.located(now(), account, devices),
            None => Step::Wait,
        }
    }

    /// Every branch of the current attempt failed: the sequence says what comes next.
    pub(super) fn on_exhausted(&mut self, key: &ServerKey, code: u16, ctx: &mut Context<Self>) {
        let Some(i) = self.txns.index_of(key) else {
            return;
        };
        let Some(s) = self.txns[i].setup.as_ref() else {
            return self.txns[i].ctx.seal(now());
        };
        if let Some((id, outcome)) = s.trunk_outcome(code) {
            self.shared
                .metrics
                .trunk_attempts
                .get_or_create(&TrunkLabel {
                    trunk: self.shared.trunks.get(id).name.clone(),
                    outcome,
                })
                .inc();
        }
        if let Some(aor) = self.stores_after_failure(i, code) {
            // no device took the message now: it waits in the queue, whose delivery tries
            // the registered devices again with backoff (no SMS: the number is online)
            return self.store(key.clone(), aor, true, ctx);
        }
        let step = self.txns[i].exhausted(now(), code, &self.shared.trunks);
        self.run(key, step, ctx);
    }

    /// A 2xx went upstream for a routed request: its sequence is done, and both ends of a
    /// call are on the phone now (presence shows it until the call ends).
    pub(super) fn on_answered(&mut self, key: &ServerKey) {
        let Some(i) = self.txns.index_of(key) else {
            return;
        };
        let Some(s) = self.txns[i].setup.as_mut() else {
            return;
        };
        let answered = s.answered();
        self.note_parties(&answered.parties);
        let call = self.call.presence_id();
        for aor in self.call.on_the_phone(answered.parties) {
            self.shared.to_extension(
                aor,
                ExtCommand::CallState {
                    call,
                    up: true,
                    note: None,
                },
            );
        }
        if let Some(id) = answered.trunk {
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
    pub(super) fn setup_timers(&mut self, t: std::time::Instant, ctx: &mut Context<Self>) {
        for key in self.txns.due_setups(t) {
            let Some(i) = self.txns.index_of(&key) else {
                continue;
            };
            let Some(s) = self.txns[i].setup.as_mut() else {
                continue;
            };
            let step = s.handle_timeout(t);
            self.run(&key, step, ctx);
        }
    }
}
