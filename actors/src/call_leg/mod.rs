//! The CallLeg actor: one per call (Call-ID) on the worker that owns it. It runs the proxy
//! response contexts of the call's transactions (the initial INVITE, then re-INVITE, BYE,
//! UPDATE, INFO, REFER, NOTIFY... following the Record-Route it inserted), authenticates the
//! caller, routes the call (`setup`: numbering plan, routing plugin, forwarding, trunks) and
//! relays the rest. A feature code dialed from a phone is answered by the switch itself
//! (`feature`).
//!
//! A panic while handling one call answers 500 (if the call was not answered yet) and ends
//! that call only; the arbiter and every other call keep running.

mod feature;
mod setup;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message,
    SpawnHandle, WrapFuture,
};
use switchboard_engine::auth::AuthOutcome;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::{ConnId, Flow, Transport};
use switchboard_engine::proxy::{branch, route, BranchSpec, ContextEvent, Output, ProxyContext};
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{
    reason_phrase, HeaderName, Message as SipMessage, Method, ResponseBuilder, Uri, ViaFix,
};
use switchboard_engine::store::BindingRecord;
use switchboard_engine::txn::{ClientKey, ServerKey};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::extension::ExtCommand;
use crate::metrics::{call_outcome, OutcomeLabel};
use crate::shared::{now, Shared};
use crate::stateless;
use crate::transport::{response_flow, via_fix, Transports};
use crate::worker::{required_extensions, LegEnded, LegIdle, Worker};

/// A message of this call from the network.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromNetwork {
    pub msg: SipMessage,
    pub flow: Flow,
}

/// The worker retires this leg: every message it sent has been handled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopLeg;

/// One transaction of the call being proxied.
struct Txn {
    key: ServerKey,
    ctx: ProxyContext,
    upstream: Flow,
    via_fix: Option<ViaFix>,
    /// Where each branch goes, in branch order.
    branches: Vec<Flow>,
    initial: bool,
    bye: bool,
    /// How a request outside any dialog is being routed (none for in-dialog relays).
    setup: Option<Box<setup::Setup>>,
}

/// What the proxy machines reported that the leg acts on after draining them.
enum Reported {
    Exhausted(u16),
    Answered,
}

pub struct CallLeg {
    id: u64,
    call_id: Box<str>,
    shared: Arc<Shared>,
    transports: Transports,
    worker: Addr<Worker>,
    entropy: Entropy,
    txns: Vec<Txn>,
    /// The initial request and where it came from, kept apart from the machines so a 500 can
    /// still be built after a panic.
    initial: Option<(SipMessage, Flow)>,
    /// The switch answered this call itself (a feature code).
    confirm: Option<feature::Confirm>,
    answered: bool,
    finished_initial: bool,
    ended: bool,
    active: bool,
    timer: Option<SpawnHandle>,
    last_activity: Instant,
    span: tracing::Span,
    /// Messages handled, for race-free retirement (`LegIdle`).
    processed: u64,
    retiring: bool,
}

impl CallLeg {
    pub fn new(
        id: u64,
        call_id: Box<str>,
        shared: Arc<Shared>,
        transports: Transports,
        worker: Addr<Worker>,
        seed: u64,
    ) -> CallLeg {
        let span = tracing::info_span!("call", call_id = %call_id);
        CallLeg {
            id,
            call_id,
            shared,
            transports,
            worker,
            entropy: Entropy::seeded(seed),
            txns: Vec::new(),
            initial: None,
            confirm: None,
            answered: false,
            finished_initial: false,
            ended: false,
            active: false,
            timer: None,
            last_activity: now(),
            span,
            processed: 0,
            retiring: false,
        }
    }

    fn on_network(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        if msg.status().is_some() {
            let Some(key) = ClientKey::from_response(&msg) else {
                return;
            };
            match self.txns.iter_mut().find(|x| x.ctx.owns(&key)) {
                Some(x) => {
                    x.ctx.handle_response(t, msg);
                }
                None => {
                    if let Some(c) = self.confirm.as_mut().filter(|c| c.owns_response(&msg)) {
                        c.dialog.handle_response(t, msg);
                        return;
                    }
                    let is_invite_2xx = msg.status().is_some_and(|c| (200..300).contains(&c))
                        && msg.cseq().is_some_and(|c| c.method == Method::Invite);
                    if is_invite_2xx {
                        stateless::forward_response(&msg, &self.shared.local, &self.transports);
                    }
                }
            }
            return;
        }
        if let Some(c) = self.confirm.as_mut() {
            if c.take(&msg, t) {
                return;
            }
        }
        match msg.method() {
            Some(Method::Ack) => {
                // the ACK of a non-2xx belongs to our server transaction; the ACK of a 2xx is
                // end to end and follows the route
                let key = ServerKey::from_request(&msg);
                match self.txns.iter_mut().find(|x| Some(&x.key) == key.as_ref()) {
                    Some(x) if x.ctx.final_code().is_some_and(|c| c >= 300) => {
                        x.ctx.handle_request(t, &msg)
                    }
                    _ => stateless::forward_ack(
                        &msg,
                        &self.shared.local,
                        &self.transports,
                        via_fix(&flow),
                    ),
                }
            }
            Some(Method::Cancel) => {
                let target = ServerKey::cancel_target(&msg);
                match self
                    .txns
                    .iter_mut()
                    .find(|x| Some(&x.key) == target.as_ref())
                {
                    Some(x) => {
                        x.ctx.handle_cancel(t, &msg);
                        if let Some(s) = x.setup.as_mut() {
                            s.canceled();
                        }
                    }
                    None => {
                        let i = self.new_txn(msg, flow, false);
                        self.txns[i].ctx.respond(t, 481, reason_phrase(481), &[]);
                    }
                }
            }
            _ => {
                let key = ServerKey::from_request(&msg);
                if let Some(x) = self.txns.iter_mut().find(|x| Some(&x.key) == key.as_ref()) {
                    x.ctx.handle_request(t, &msg); // a retransmission
                } else if msg.to_tag().is_some() {
                    self.in_dialog(msg, flow, ctx);
                } else {
                    self.new_request(msg, flow, ctx);
                }
            }
        }
    }

    fn new_txn(&mut self, msg: SipMessage, flow: Flow, initial: bool) -> usize {
        let key = ServerKey::from_request(&msg).expect("validated requests have a Via");
        let upstream = response_flow(&msg, &flow);
        let bye = msg.method() == Some(Method::Bye);
        let fix = via_fix(&flow);
        let ctx = ProxyContext::new(
            now(),
            msg,
            flow.transport,
            fix,
            self.shared.local.clone(),
            Entropy::seeded(self.entropy.next_u64()),
            self.shared.context,
        );
        self.txns.push(Txn {
            key,
            ctx,
            upstream,
            via_fix: fix,
            branches: Vec::new(),
            initial,
            bye,
            setup: None,
        });
        self.txns.len() - 1
    }

    fn index_of(&self, key: &ServerKey) -> Option<usize> {
        self.txns.iter().position(|x| &x.key == key)
    }

    /// A request outside any dialog: INVITE (a new call), or OPTIONS/MESSAGE to a subscriber.
    fn new_request(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        let method = msg.method().unwrap_or(Method::Other);
        let initial = method == Method::Invite;
        if initial {
            // a new call attempt (the first INVITE, or the one re-sent with credentials)
            self.initial = Some((msg.clone(), flow));
            self.finished_initial = false;
            self.ended = false;
            if !self.active {
                self.active = true;
                self.shared.metrics.active_calls.inc();
            }
        }
        let from_trunk = self.shared.trunks.by_source(flow.remote).is_some();
        let i = self.new_txn(msg, flow, initial);
        let req = self.txns[i].ctx.request().clone();
        #[cfg(debug_assertions)]
        if req.header_by_name("X-Switchboard-Fault") == Some("panic") {
            // fault injection for the supervision test; compiled out of release builds
            panic!("injected fault");
        }
        if req.max_forwards() == Some(0) {
            return self.txns[i].ctx.respond(t, 483, reason_phrase(483), &[]);
        }
        if let Some(tags) = required_extensions(&req, HeaderName::ProxyRequire) {
            return self.txns[i]
                .ctx
                .respond(t, 420, reason_phrase(420), &[("Unsupported", &tags)]);
        }
        if branch::is_loop(&req, &self.shared.local) {
            return self.txns[i].ctx.respond(t, 482, reason_phrase(482), &[]);
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
            return self.start_routing(i, caller, ctx);
        }
        let creds = req
            .header(HeaderName::ProxyAuthorization)
            .and_then(|v| Credentials::parse(v).ok())
            .filter(|c| c.realm == self.shared.realm);
        let Some(creds) = creds else {
            return self.challenge(i, false);
        };
        let Ok(caller) = self.shared.plan.canonical(creds.username) else {
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
            let Some(i) = act.index_of(&key) else { return };
            match res.unwrap_or(AuthOutcome::Forbidden) {
                AuthOutcome::Authenticated { .. } => act.start_routing(i, Some(caller), ctx),
                AuthOutcome::Challenge { stale } => act.challenge(i, stale),
                AuthOutcome::Forbidden => act.txns[i].ctx.respond(now(), 403, "Forbidden", &[]),
            }
            act.after(ctx);
        }));
    }

    fn challenge(&mut self, i: usize, stale: bool) {
        let values = self.shared.challenge(stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| ("Proxy-Authenticate", v.as_str()))
            .collect();
        self.txns[i]
            .ctx
            .respond(now(), 407, reason_phrase(407), &extra);
    }

    /// A request inside a dialog: relayed along its Route set (§16.12).
    fn in_dialog(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        let i = self.new_txn(msg, flow, false);
        let req = self.txns[i].ctx.request().clone();
        if req.max_forwards() == Some(0) {
            return self.txns[i].ctx.respond(t, 483, reason_phrase(483), &[]);
        }
        if let Some(tags) = required_extensions(&req, HeaderName::ProxyRequire) {
            return self.txns[i]
                .ctx
                .respond(t, 420, reason_phrase(420), &[("Unsupported", &tags)]);
        }
        let Some(hop) = route::next_hop(&req, &self.shared.local) else {
            return;
        };
        if !hop.pop_route {
            // not routed through us: we are not part of this dialog
            return self.txns[i].ctx.respond(t, 481, reason_phrase(481), &[]);
        }
        if self.txns[i].bye {
            self.end_call();
        }
        match Uri::parse(&hop.uri)
            .ok()
            .and_then(|u| stateless::flow_for_uri(&u))
        {
            Some(dest) => self.relay(i, dest),
            None => {
                let key = self.txns[i].key.clone();
                ctx.spawn(stateless::resolve(hop.uri).into_actor(self).map(
                    move |dest, act, ctx| {
                        if let Some(i) = act.index_of(&key) {
                            match dest {
                                Some(d) => act.relay(i, d),
                                None => act.txns[i].ctx.respond(
                                    now(),
                                    404,
                                    "Next Hop Not Resolvable",
                                    &[],
                                ),
                            }
                        }
                        act.after(ctx);
                    },
                ));
            }
        }
    }

    fn relay(&mut self, i: usize, dest: Flow) {
        let t = now();
        let x = &mut self.txns[i];
        let spec = BranchSpec {
            request_uri: None,
            transport: dest.transport,
            record_route: false,
            pop_route: true,
            extra_headers: "",
            no_response: None,
        };
        if x.ctx.add_branch(t, spec).is_some() {
            x.branches.push(dest);
        }
        x.ctx.seal(t);
    }

    /// Sends what the machines produced, acts on what they reported and re-arms the timer.
    fn after(&mut self, ctx: &mut Context<Self>) {
        let r = catch_unwind(AssertUnwindSafe(|| {
            // acting on a report (the next stage of a forwarded call) produces more output
            loop {
                let reported = self.drain();
                if reported.is_empty() {
                    break;
                }
                for (key, r) in reported {
                    match r {
                        Reported::Exhausted(code) => self.on_exhausted(&key, code, ctx),
                        Reported::Answered => self.on_answered(&key),
                    }
                }
            }
            self.drain_confirm();
        }));
        if r.is_err() {
            return self.fail(ctx);
        }
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        let idle = Duration::from_secs(self.shared.config.calls.max_idle_secs);
        let mut at = self.last_activity + idle;
        for x in &self.txns {
            for d in [
                x.ctx.poll_timeout(),
                x.setup.as_ref().and_then(|s| s.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            {
                at = at.min(d);
            }
        }
        if let Some(d) = self.confirm.as_ref().and_then(|c| c.dialog.poll_timeout()) {
            at = at.min(d);
        }
        // a call lives until it ends; a leg that only relayed requests, until they are done
        let idle_now = self.txns.is_empty() && self.confirm.is_none();
        if idle_now && (self.ended || self.initial.is_none()) {
            self.retire();
            return;
        }
        let wait = at.saturating_duration_since(now());
        self.timer = Some(ctx.run_later(wait, |act, ctx| act.on_timer(ctx)));
    }

    fn drain(&mut self) -> Vec<(ServerKey, Reported)> {
        let mut reported = Vec::new();
        let mut i = 0;
        while i < self.txns.len() {
            let mut terminated = false;
            while let Some(o) = self.txns[i].ctx.poll_output() {
                let x = &self.txns[i];
                match o {
                    Output::Upstream(b) => self.transports.send(&x.upstream, b),
                    Output::Downstream { branch, bytes } => {
                        if let Some(f) = x.branches.get(branch) {
                            self.transports.send(f, bytes);
                        }
                    }
                    Output::Event(ContextEvent::Answered { .. }) => {
                        if x.initial {
                            self.answered = true;
                        }
                        if x.setup.is_some() {
                            reported.push((x.key.clone(), Reported::Answered));
                        }
                    }
                    Output::Event(ContextEvent::Exhausted { code }) => {
                        reported.push((x.key.clone(), Reported::Exhausted(code)));
                    }
                    Output::Event(ContextEvent::Finished { code }) => {
                        let (initial, bye, canceled) = (x.initial, x.bye, x.ctx.is_canceled());
                        if initial {
                            self.finished_initial = true;
                            // a challenge is a step of the call, not its outcome
                            if code != 401 && code != 407 {
                                let outcome = if self.confirm.is_some() {
                                    "feature"
                                } else {
                                    call_outcome(code, canceled)
                                };
                                self.shared
                                    .metrics
                                    .calls
                                    .get_or_create(&OutcomeLabel { outcome })
                                    .inc();
                                let version = x.setup.as_ref().map(|s| s.version());
                                info!(
                                    code,
                                    outcome,
                                    plugin_version = version,
                                    "call setup finished"
                                );
                            }
                            if code >= 300 {
                                self.end_call();
                            }
                        }
                        if bye {
                            self.end_call();
                        }
                    }
                    Output::Event(ContextEvent::Terminated) => terminated = true,
                    Output::Event(ContextEvent::Provisional { .. }) => {}
                }
            }
            if terminated {
                self.txns.remove(i);
            } else {
                i += 1;
            }
        }
        reported
    }

    /// Asks the worker to stop this leg once every message sent to it is handled.
    fn retire(&mut self) {
        if !self.retiring {
            self.retiring = true;
            self.worker.do_send(LegIdle {
                call_id: self.call_id.clone(),
                leg: self.id,
                processed: self.processed,
            });
        }
    }

    fn end_call(&mut self) {
        self.ended = true;
        if self.active {
            self.active = false;
            self.shared.metrics.active_calls.dec();
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        self.timer = None;
        let t = now();
        if t.saturating_duration_since(self.last_activity)
            >= Duration::from_secs(self.shared.config.calls.max_idle_secs)
        {
            tracing::debug!("call idle, forgetting it");
            self.end_call();
            self.retire();
            return;
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            for x in &mut self.txns {
                if x.ctx.poll_timeout().is_some_and(|d| d <= t) {
                    x.ctx.handle_timeout(t);
                }
            }
            if let Some(c) = self.confirm.as_mut() {
                if c.dialog.poll_timeout().is_some_and(|d| d <= t) {
                    c.dialog.handle_timeout(t);
                }
            }
            self.setup_timers(t, ctx);
        }));
        if r.is_err() {
            return self.fail(ctx);
        }
        self.after(ctx);
    }

    /// Something inside this call panicked: answer 500 if the caller still waits, then end
    /// this call alone.
    fn fail(&mut self, ctx: &mut Context<Self>) {
        self.shared.metrics.call_failures.inc();
        warn!("call failed internally; answering 500");
        if let Some((req, flow)) = &self.initial {
            if !self.finished_initial {
                let resp = ResponseBuilder::new(req, 500, "Server Internal Error")
                    .to_tag("sbfail")
                    .via_fix(via_fix(flow))
                    .build();
                self.transports.send(&response_flow(req, flow), resp);
            }
        }
        self.txns.clear();
        self.confirm = None;
        self.end_call();
        ctx.stop();
    }
}

/// Where to send a request for a registered contact (RFC 3261 §10, with the flow reuse of
/// RFC 5626 when the device asked for it or is evidently behind NAT):
/// - a device that registered with `reg-id` (outbound), or whose contact is exactly the
///   address it registered from, is reached through that flow (its connection, for TCP);
/// - a contact on the same host as the REGISTER but another port is reached as written (a
///   TCP phone listens on another port than it connected from);
/// - a contact on another address (a private one behind NAT) is reached through the flow.
pub fn flow_for_binding(b: &BindingRecord) -> Flow {
    let uri = Uri::parse(&b.uri).ok();
    let transport = uri
        .as_ref()
        .and_then(|u| u.transport())
        .and_then(Transport::parse)
        .unwrap_or(b.transport);
    let via_flow = Flow {
        transport: b.transport,
        remote: b.source,
        conn: b.conn.map(ConnId),
    };
    let direct = uri
        .as_ref()
        .and_then(stateless::flow_for_uri)
        .map(|f| Flow { transport, ..f });
    match direct {
        _ if b.reg_id.is_some() => via_flow,
        Some(d) if d.remote == b.source && transport == b.transport => via_flow,
        Some(d) if d.remote.ip() == b.source.ip() => d,
        _ => via_flow,
    }
}

impl Actor for CallLeg {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.active {
            self.active = false;
            self.shared.metrics.active_calls.dec();
        }
        self.worker.do_send(LegEnded {
            call_id: self.call_id.clone(),
            leg: self.id,
        });
    }
}

impl Handler<FromNetwork> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: FromNetwork, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        self.processed += 1;
        self.retiring = false;
        self.last_activity = now();
        let r = catch_unwind(AssertUnwindSafe(|| self.on_network(m.msg, m.flow, ctx)));
        if r.is_err() {
            return self.fail(ctx);
        }
        self.after(ctx);
    }
}

impl Handler<StopLeg> for CallLeg {
    type Result = ();
    fn handle(&mut self, _: StopLeg, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
