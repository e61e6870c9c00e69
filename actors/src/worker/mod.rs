//! The signalling worker: one per arbiter (CPU core). It owns a UDP socket on the shared SIP
//! address, checks what arrives, hands each message to the worker that owns its Call-ID, and
//! on its own shard answers what it answers itself (REGISTER, OPTIONS, errors) and passes
//! calls to their `CallLeg` actors, which run on the same arbiter.

use std::collections::HashMap;

mod owners;
mod presence;

pub use owners::Adopt;

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::local_txns::LocalTxns;
use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, StreamHandler, WrapFuture,
};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{
    reason_phrase, HeaderName, Message as SipMessage, Method, ResponseBuilder, Scheme,
};
use switchboard_engine::txn::{self, ServerKey, ServerNonInvite};
use tokio::sync::oneshot;
use tracing::trace;

use crate::call_leg::{CallLeg, FromNetwork, StopLeg};
use crate::extension::{ExtCommand, RegisterReply};
use crate::limits::Limiter;
use crate::metrics::OutcomeLabel;
use crate::shared::{guarded, now, unix_now, Shared};
use crate::stateless;
use crate::transport::udp::{Datagram, Receiver};
use crate::transport::{ingest, register_aor, response_flow, route, via_fix, Ingested, Transports};

/// Methods this switch handles, for Allow headers.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE, SUBSCRIBE, PUBLISH";

/// A valid message for the worker that owns its Call-ID.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Inbound {
    pub msg: SipMessage,
    pub flow: Flow,
    /// The address of record of a REGISTER, computed once at ingress.
    pub aor: Option<Aor>,
}

/// A CallLeg stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LegEnded {
    pub call_id: Box<str>,
    pub leg: u64,
}

/// A CallLeg has nothing left to do after `processed` messages. The worker retires it only
/// if it sent no more than that, so no message is ever lost to a stopping leg.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LegIdle {
    pub call_id: Box<str>,
    pub leg: u64,
    pub processed: u64,
}

/// What owns a Call-ID on this worker: a CallLeg, or a Delivery of queued messages.
struct LegEntry {
    id: u64,
    addr: actix::Recipient<FromNetwork>,
    stop: actix::Recipient<StopLeg>,
    sent: u64,
}

impl LegEntry {
    /// The entry of an actor that takes network messages and can be told to stop.
    fn of<A>(id: u64, addr: Addr<A>, sent: u64) -> LegEntry
    where
        A: Actor<Context = Context<A>> + Handler<FromNetwork> + Handler<StopLeg>,
    {
        LegEntry {
            id,
            addr: addr.clone().recipient(),
            stop: addr.recipient(),
            sent,
        }
    }
}

/// Starts the delivery of a number's queued messages on this worker's arbiter, under a
/// Call-ID this worker owns (so the devices' answers come back to it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartDelivery {
    pub aor: Aor,
    pub targets: Vec<switchboard_engine::store::BindingRecord>,
    pub owner: actix::Recipient<crate::delivery::DeliveryEnded>,
    pub reply: oneshot::Sender<(u64, Addr<crate::delivery::Delivery>)>,
}

pub struct Worker {
    shard: usize,
    shared: Arc<Shared>,
    socket: Option<std::net::UdpSocket>,
    transports: Option<Transports>,
    txns: LocalTxns,
    calls: FxHashMap<Box<str>, LegEntry>,
    next_leg: u64,
    limiter: Limiter,
    entropy: Entropy,
}

impl Worker {
    pub fn new(
        shard: usize,
        shared: Arc<Shared>,
        socket: std::net::UdpSocket,
        seed: u64,
    ) -> Worker {
        let limiter = Limiter::new(&shared.config.limits);
        Worker {
            shard,
            shared,
            socket: Some(socket),
            transports: None,
            txns: LocalTxns::default(),
            calls: FxHashMap::default(),
            next_leg: 1,
            limiter,
            entropy: Entropy::seeded(seed),
        }
    }

    fn transports(&self) -> &Transports {
        // set in `started`, before any message can arrive
        self.transports.as_ref().expect("worker transports")
    }

    fn on_datagram(&mut self, d: Datagram, ctx: &mut Context<Self>) {
        let t = now();
        if !self.limiter.allow(d.from.ip(), t) {
            self.shared.metrics.dropped("flood limit");
            return;
        }
        let flow = Flow::udp(d.from);
        match ingest(d.bytes) {
            Ingested::Message(m) => {
                let workers = self.shared.ingress.workers();
                let (shard, aor) = route(&m, &self.shared.plan, workers.len().max(1));
                if shard == self.shard || workers.is_empty() {
                    self.on_message(m, flow, aor, ctx);
                } else {
                    workers[shard].do_send(Inbound { msg: m, flow, aor });
                }
            }
            Ingested::Reply(r) => self.transports().send(&flow, r),
            Ingested::Dropped(why) => self.shared.metrics.dropped(why),
        }
    }

    fn on_message(&mut self, m: SipMessage, flow: Flow, aor: Option<Aor>, ctx: &mut Context<Self>) {
        trace!(call_id = m.call_id(), %flow, "sip in");
        if let Some(code) = m.status() {
            self.shared
                .metrics
                .responses_received
                .get_or_create(&crate::metrics::CodeLabel { code })
                .inc();
            let Some((m, _)) = self.deliver_to_leg(m, flow) else {
                return;
            };
            if (200..300).contains(&code) && m.cseq().is_some_and(|c| c.method == Method::Invite) {
                stateless::forward_response(&m, &self.shared.local, self.transports());
            }
            return;
        }
        let method = m.method().unwrap_or(Method::Other);
        self.shared.metrics.request(method);
        let (scheme_ok, no_user) = match m.request_uri() {
            Some(u) => (
                matches!(u.scheme(), Scheme::Sip | Scheme::Sips | Scheme::Tel),
                u.user().is_none(),
            ),
            None => (false, false),
        };
        if !scheme_ok && method != Method::Ack {
            return self.answer(&m, &flow, 416, reason_phrase(416), &[]);
        }
        let in_dialog = m.to_tag().is_some();
        let options_to_us = method == Method::Options && !in_dialog && no_user;
        if method == Method::Register || options_to_us {
            // we are the UAS of these: we support no extensions a request may require
            if let Some(unsupported) = required_extensions(&m, HeaderName::Require) {
                return self.answer(
                    &m,
                    &flow,
                    420,
                    reason_phrase(420),
                    &[("Unsupported", &unsupported)],
                );
            }
        }
        match method {
            Method::Register => self.on_register(m, flow, aor, ctx),
            Method::Options if options_to_us => {
                let extra = [("Allow", ALLOW), ("Accept", "application/sdp")];
                self.answer(&m, &flow, 200, "OK", &extra);
            }
            Method::Ack | Method::Cancel => match self.deliver_to_leg(m, flow) {
                None => {}
                Some((m, flow)) if method == Method::Ack => stateless::forward_ack(
                    &m,
                    &self.shared.local,
                    self.transports(),
                    via_fix(&flow),
                ),
                Some((m, flow)) => self.answer(&m, &flow, 481, reason_phrase(481), &[]),
            },
            // a refresh of a subscription this switch does not know (RFC 6665 §4.2.1.2)
            Method::Subscribe if in_dialog => match self.deliver_to_leg(m, flow) {
                None => {}
                Some((m, flow)) => self.answer(&m, &flow, 481, reason_phrase(481), &[]),
            },
            _ if in_dialog => self.route_to_leg(m, flow, ctx),
            Method::Invite | Method::Options | Method::Message => self.route_to_leg(m, flow, ctx),
            Method::Subscribe => self.start_subscription(m, flow, ctx),
            Method::Publish => self.on_publish(m, flow, ctx),
            Method::Notify | Method::Refer => {
                self.answer(&m, &flow, 405, reason_phrase(405), &[("Allow", ALLOW)])
            }
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                self.answer(&m, &flow, 481, reason_phrase(481), &[])
            }
            _ => self.answer(&m, &flow, 501, reason_phrase(501), &[("Allow", ALLOW)]),
        }
    }

    /// Delivers a message to the live CallLeg of its Call-ID; gives it back if there is none.
    fn deliver_to_leg(&mut self, m: SipMessage, flow: Flow) -> Option<(SipMessage, Flow)> {
        let call_id = m.call_id().unwrap_or("");
        match self.calls.get_mut(call_id) {
            Some(e) if e.addr.connected() => {
                e.sent += 1;
                e.addr.do_send(FromNetwork { msg: m, flow });
                None
            }
            Some(_) => {
                self.calls.remove(call_id);
                Some((m, flow))
            }
            None => Some((m, flow)),
        }
    }

    /// Passes a request to its call's CallLeg, starting one for a new call.
    fn route_to_leg(&mut self, m: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let Some((m, flow)) = self.deliver_to_leg(m, flow) else {
            return;
        };
        self.start_owner(m, flow, ctx, |w, id, call_id, addr, seed| {
            CallLeg::new(
                id,
                call_id,
                w.shared.clone(),
                w.transports().clone(),
                addr,
                seed,
            )
            .start()
        });
    }

    /// Answers a request itself through a server transaction (retransmissions get the same
    /// answer).
    fn answer(
        &mut self,
        req: &SipMessage,
        flow: &Flow,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        if let Some(key) = self.new_transaction(req) {
            self.respond(key, req, flow, code, reason, extra);
        }
    }

    /// The key of a request's new server transaction, or `None` when it is a retransmission
    /// of one this worker already has (absorbed, or answered again).
    fn new_transaction(&mut self, req: &SipMessage) -> Option<ServerKey> {
        let key = ServerKey::from_request(req)?;
        let Some((txn, to)) = self.txns.get_mut(&key) else {
            return Some(key);
        };
        let _ = txn.handle_request(now());
        let to = *to;
        self.drain_txn(&key, &to);
        None
    }

    /// Sends the final answer of a request through a new server transaction.
    fn respond(
        &mut self,
        key: ServerKey,
        req: &SipMessage,
        flow: &Flow,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let t = now();
        let to = response_flow(req, flow);
        let mut txn = ServerNonInvite::new(t, flow.transport.is_reliable(), txn::Timers::default());
        let tag = self.entropy.token(10);
        let mut b = ResponseBuilder::new(req, code, reason)
            .to_tag(&tag)
            .via_fix(via_fix(flow));
        for (n, v) in extra {
            b = b.header(n, v);
        }
        let _ = txn.respond(t, code, b.build());
        while let Some(o) = txn.poll_output() {
            if let txn::Output::Transmit(bytes) = o {
                self.transports().send(&to, bytes);
            }
        }
        // reliable transports need no Timer J: nothing to keep
        if let Some(deadline) = txn.poll_timeout() {
            self.txns.wake_at(deadline, key.clone());
            self.txns.insert(key, (txn, to));
        }
    }

    fn drain_txn(&mut self, key: &ServerKey, to: &Flow) {
        let Some((txn, _)) = self.txns.get_mut(key) else {
            return;
        };
        let mut sends = Vec::new();
        while let Some(o) = txn.poll_output() {
            if let txn::Output::Transmit(b) = o {
                sends.push(b);
            }
        }
        for b in sends {
            self.transports().send(to, b);
        }
    }

    fn on_register(
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
                self.count_register("challenged");
                return self.challenge(key, &req, &flow, false);
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
    fn challenge_as(
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
        // the placeholder is replaced by the transaction that holds the answer
        self.txns.remove(&key);
        match reply {
            RegisterReply::Ok { contacts } => {
                self.count_register("ok");
                let date = switchboard_engine::messaging::wire::http_date(unix_now());
                let mut extra: Vec<(&str, &str)> =
                    contacts.iter().map(|c| ("Contact", c.as_str())).collect();
                extra.push(("Date", &date));
                self.respond(key, &req, &flow, 200, "OK", &extra);
            }
            RegisterReply::Challenge { stale } => {
                self.count_register("challenged");
                self.challenge(key, &req, &flow, stale);
            }
            RegisterReply::Forbidden => {
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

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(std_sock) = self.socket.take() else {
            return;
        };
        let sock = match tokio::net::UdpSocket::from_std(std_sock) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(error = %e, "cannot register udp socket");
                return;
            }
        };
        self.transports = Some(Transports::new(
            sock.clone(),
            self.shared.tcp.clone(),
            self.shared.metrics.clone(),
        ));
        ctx.add_stream(Receiver::new(sock, self.shared.config.sip.receive_batch));
        ctx.run_interval(Duration::from_millis(500), |act, _| {
            let t = now();
            act.txns.expire(t);
            act.limiter.prune(t);
            // give back what a burst grew: idle memory stays proportional to what is live
            act.txns.shrink();
            shrink(&mut act.calls);
        });
    }
}

impl StreamHandler<Datagram> for Worker {
    fn handle(&mut self, d: Datagram, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        guarded("datagram", &metrics, || self.on_datagram(d, ctx));
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // the socket stream never ends while the worker runs
    }
}

impl Handler<Inbound> for Worker {
    type Result = ();
    fn handle(&mut self, m: Inbound, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        guarded("inbound message", &metrics, || {
            self.on_message(m.msg, m.flow, m.aor, ctx)
        });
    }
}

impl Handler<LegEnded> for Worker {
    type Result = ();
    fn handle(&mut self, m: LegEnded, _: &mut Context<Self>) {
        if self.calls.get(&m.call_id).is_some_and(|e| e.id == m.leg) {
            self.calls.remove(&m.call_id);
        }
    }
}

impl Handler<LegIdle> for Worker {
    type Result = ();
    fn handle(&mut self, m: LegIdle, _: &mut Context<Self>) {
        let idle = self
            .calls
            .get(&m.call_id)
            .is_some_and(|e| e.id == m.leg && e.sent == m.processed);
        if idle {
            if let Some(e) = self.calls.remove(&m.call_id) {
                e.stop.do_send(StopLeg);
            }
        }
    }
}

impl Handler<StartDelivery> for Worker {
    type Result = ();
    fn handle(&mut self, m: StartDelivery, ctx: &mut Context<Self>) {
        let id = self.next_leg;
        self.next_leg += 1;
        let start = crate::delivery::DeliveryStart {
            id,
            shard: self.shard,
            shards: self.shared.ingress.workers().len().max(1),
            aor: m.aor,
            targets: m.targets,
            owner: m.owner,
            seed: self.entropy.next_u64(),
        };
        let d = crate::delivery::Delivery::new(
            start,
            self.shared.clone(),
            self.transports().clone(),
            ctx.address(),
        )
        .start();
        let _ = m.reply.send((id, d));
    }
}

/// Shrinks a map that holds far less than it has room for.
pub fn shrink<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(m: &mut HashMap<K, V, S>) {
    if m.capacity() > 4 * m.len() + 1024 {
        m.shrink_to(2 * m.len());
    }
}

/// The option tags a request lists in `header` (Require or Proxy-Require), comma-joined, when
/// there are any: Switchboard implements no option tag a request may insist on yet.
pub fn required_extensions(m: &SipMessage, header: HeaderName) -> Option<String> {
    let tags: Vec<&str> = m.header_values(header).filter(|t| !t.is_empty()).collect();
    (!tags.is_empty()).then(|| tags.join(", "))
}
