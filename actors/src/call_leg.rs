//! The CallLeg actor: one per call (Call-ID) on the worker that owns it. It runs the proxy
//! response contexts of the call's transactions (the initial INVITE, then re-INVITE, BYE,
//! UPDATE, INFO, REFER, NOTIFY... following the Record-Route it inserted), authenticates the
//! caller, asks the router and the callee's Extension where to ring, and relays the rest.
//!
//! A panic while handling one call answers 500 (if the call was not answered yet) and ends
//! that call only; the arbiter and every other call keep running.

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
use switchboard_engine::numbering::Aor;
use switchboard_engine::proxy::{branch, route, BranchSpec, ContextEvent, Output, ProxyContext};
use switchboard_engine::registrar;
use switchboard_engine::routing::{Decision, RouteRequest};
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{
    reason_phrase, HeaderName, Message as SipMessage, Method, ResponseBuilder, Uri,
};
use switchboard_engine::store::BindingRecord;
use switchboard_engine::txn::{ClientKey, ServerKey};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::extension::{ExtCommand, Located};
use crate::metrics::{call_outcome, OutcomeLabel};
use crate::shared::{now, unix_now, Shared};
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
    branches: Vec<Flow>,
    initial: bool,
    bye: bool,
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
                    let is_invite_2xx = msg.status().is_some_and(|c| (200..300).contains(&c))
                        && msg.cseq().is_some_and(|c| c.method == Method::Invite);
                    if is_invite_2xx {
                        stateless::forward_response(&msg, &self.shared.local, &self.transports);
                    }
                }
            }
            return;
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
                    Some(x) => x.ctx.handle_cancel(t, &msg),
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
        let ctx = ProxyContext::new(
            now(),
            msg,
            flow.transport,
            via_fix(&flow),
            self.shared.local.clone(),
            Entropy::seeded(self.entropy.next_u64()),
            self.shared.context,
        );
        self.txns.push(Txn {
            key,
            ctx,
            upstream,
            branches: Vec::new(),
            initial,
            bye,
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
        let needs_auth = self.shared.auth_enabled()
            && from_here
            && matches!(method, Method::Invite | Method::Message);
        if !needs_auth {
            return self.route(i, None, ctx);
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
                AuthOutcome::Authenticated { .. } => act.route(i, Some(caller), ctx),
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

    /// Asks the router, then the callee's Extension, and forks to every registered device.
    fn route(&mut self, i: usize, caller: Option<Aor>, ctx: &mut Context<Self>) {
        let t = now();
        let req = self.txns[i].ctx.request().clone();
        let Some(uri) = req.request_uri() else { return };
        let decision = self.shared.router.route(&RouteRequest {
            method: req.method().unwrap_or(Method::Other),
            request_uri: &uri,
            caller: caller.as_ref(),
        });
        let aor = match decision {
            Decision::Deliver(aor) => aor,
            Decision::Reject { code, reason } => {
                return self.txns[i].ctx.respond(t, code, reason, &[]);
            }
        };
        debug!(callee = %aor.redacted(), "routing");
        let (tx, rx) = oneshot::channel();
        self.shared
            .to_extension(aor, ExtCommand::Locate { reply: tx });
        let key = self.txns[i].key.clone();
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            if let Some(i) = act.index_of(&key) {
                match res {
                    Ok(located) => act.fork(i, located),
                    Err(_) => act.txns[i]
                        .ctx
                        .respond(now(), 500, "Server Internal Error", &[]),
                }
            }
            act.after(ctx);
        }));
    }

    fn fork(&mut self, i: usize, located: Located) {
        let t = now();
        let x = &mut self.txns[i];
        if located.bindings.is_empty() {
            let (code, reason) = if located.account {
                (480, "Temporarily Unavailable")
            } else {
                (404, "Not Found")
            };
            return x.ctx.respond(t, code, reason, &[]);
        }
        let record_route = x.ctx.request().method() == Some(Method::Invite);
        let pop_route = route::first_route_is_us(x.ctx.request(), &self.shared.local);
        for b in registrar::targets(&located.bindings, unix_now()) {
            let flow = flow_for_binding(b);
            let spec = BranchSpec {
                request_uri: Some(&b.uri),
                transport: flow.transport,
                record_route,
                pop_route,
            };
            if x.ctx.add_branch(t, spec).is_some() {
                x.branches.push(flow);
            }
        }
        x.ctx.seal(t);
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
        };
        if x.ctx.add_branch(t, spec).is_some() {
            x.branches.push(dest);
        }
        x.ctx.seal(t);
    }

    /// Sends what the machines produced, acts on their events and re-arms the timer.
    fn after(&mut self, ctx: &mut Context<Self>) {
        let r = catch_unwind(AssertUnwindSafe(|| self.drain()));
        if r.is_err() {
            return self.fail(ctx);
        }
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        let idle = Duration::from_secs(self.shared.config.calls.max_idle_secs);
        let mut at = self.last_activity + idle;
        for x in &self.txns {
            if let Some(d) = x.ctx.poll_timeout() {
                at = at.min(d);
            }
        }
        // a call lives until it ends; a leg that only relayed requests, until they are done
        if self.txns.is_empty() && (self.ended || self.initial.is_none()) {
            self.retire();
            return;
        }
        let wait = at.saturating_duration_since(now());
        self.timer = Some(ctx.run_later(wait, |act, ctx| act.on_timer(ctx)));
    }

    fn drain(&mut self) {
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
                    }
                    Output::Event(ContextEvent::Finished { code }) => {
                        let (initial, bye, canceled) = (x.initial, x.bye, x.ctx.is_canceled());
                        if initial {
                            self.finished_initial = true;
                            // a challenge is a step of the call, not its outcome
                            if code != 401 && code != 407 {
                                let outcome = call_outcome(code, canceled);
                                self.shared
                                    .metrics
                                    .calls
                                    .get_or_create(&OutcomeLabel { outcome })
                                    .inc();
                                info!(code, outcome, "call setup finished");
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
            debug!("call idle, forgetting it");
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
