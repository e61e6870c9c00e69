//! The CallLeg actor: one per call (Call-ID) on the worker that owns it. It runs the proxy
//! response contexts of the call's transactions (the initial INVITE, then re-INVITE, BYE,
//! UPDATE, INFO, REFER, NOTIFY... following the Record-Route it inserted), authenticates the
//! caller, routes the call (`setup`: numbering plan, routing plugin, forwarding, trunks) and
//! relays the rest. A feature code dialed from a phone is answered by the switch itself
//! (`feature`).
//!
//! A panic while handling one call answers 500 (if the call was not answered yet) and ends
//! that call only; the arbiter and every other call keep running.

mod caller;
mod dialog;
mod feature;
mod message;
mod offnet;
mod room;
mod setup;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, SpawnHandle};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::proxy::{ContextEvent, Output, ProxyContext};
use switchboard_engine::sip::{
    reason_phrase, Message as SipMessage, Method, ResponseBuilder, ViaFix,
};
use switchboard_engine::txn::{ClientKey, ServerKey};
use tracing::{info, warn};

use crate::api::extension::ExtCommand;
pub use crate::api::leg::FromNetwork;
use crate::clock::now;
use crate::metrics::{call_outcome, OutcomeLabel};
use crate::ownership::{owners, Stop};
use crate::shared::Shared;
use crate::transport::forward;
use crate::transport::{response_flow, via_fix, Transports};
use switchboard_engine::numbering::Aor;

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
    /// Messages handled, for race-free retirement (`ownership::Registry::retire`).
    processed: u64,
    retiring: bool,
    /// The subscribers this call put on the phone (their presence says so until it ends).
    on_call: Vec<Aor>,
}

impl CallLeg {
    pub fn new(
        id: u64,
        call_id: Box<str>,
        shared: Arc<Shared>,
        transports: Transports,
        seed: u64,
    ) -> CallLeg {
        let span = tracing::info_span!("call", call_id = %call_id);
        CallLeg {
            id,
            call_id,
            shared,
            transports,
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
            on_call: Vec::new(),
        }
    }

    /// This call's identity in its parties' presence.
    fn presence_id(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        self.call_id.hash(&mut h);
        self.id.hash(&mut h);
        h.finish()
    }

    /// The call is over for its parties' presence.
    fn off_the_phone(&mut self) {
        let call = self.presence_id();
        for aor in self.on_call.drain(..) {
            self.shared
                .to_extension(aor, ExtCommand::CallState { call, up: false });
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
                        forward::forward_response(&msg, &self.shared.local, &self.transports);
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
                    _ => forward::forward_ack(
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

    /// Leaves the owners table, and stops, once every message sent to this leg is handled
    /// (otherwise the next one finds it still there).
    fn retire(&mut self) {
        if !self.retiring {
            self.retiring = owners(|o| o.retire(&*self.call_id, self.id, self.processed));
        }
    }

    fn end_call(&mut self) {
        self.ended = true;
        self.off_the_phone();
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

impl Actor for CallLeg {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.off_the_phone();
        if self.active {
            self.active = false;
            self.shared.metrics.active_calls.dec();
        }
        owners(|o| o.remove(&*self.call_id, self.id));
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

impl Handler<Stop> for CallLeg {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
