//! The signalling worker: one per arbiter (CPU core). It owns a UDP socket on each shared SIP
//! address, checks what arrives, hands each message to the worker that owns its Call-ID, and
//! on its own shard answers what it answers itself (REGISTER, OPTIONS, errors) and passes
//! calls to their `CallLeg` actors, which run on the same arbiter.

pub mod limits;
mod pager;
mod presence;
mod register;
mod txns;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, StreamHandler};
use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::security::{Pike, Reason};
use switchboard_engine::sip::validate::required_extensions;
use switchboard_engine::sip::{
    reason_phrase, HeaderName, Message as SipMessage, Method, ResponseBuilder, Scheme,
};
use switchboard_engine::txn::{self, RecentAnswers, ServerKey, ServerNonInvite};
use tracing::trace;

use crate::api::leg::{FromNetwork, StartDialOut, StartNotice};
use crate::api::worker::{DialOut, Inbound, Inbounds, PlaceNotice};
use crate::call_leg::CallLeg;
use crate::clock::now;
use crate::guard::guarded;
use crate::ownership::{owners, Stop};
use crate::shared::Shared;
use crate::transport::forward;
use crate::transport::spread::Spread;
use crate::transport::udp::{self, Datagram, Receiver};
use crate::transport::{ingest, reply_flow, response_flow, route, via_fix, Ingested, Transports};
use limits::Limiter;
use txns::LocalTxns;

/// Methods this switch handles, for Allow headers.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE, SUBSCRIBE, PUBLISH";

pub struct Worker {
    shard: usize,
    shared: Arc<Shared>,
    /// Its UDP sockets, one per SIP address, until `started` registers them.
    sockets: Vec<std::net::UdpSocket>,
    transports: Option<Transports>,
    /// Server transactions of what it answers itself, but REGISTER.
    txns: LocalTxns,
    /// Recent answers to REGISTER, repeated to retransmissions (`register`).
    answers: RecentAnswers<Flow>,
    limiter: Limiter,
    /// Requests per source for flood bans (`[security] pike_*`).
    pike: Pike,
    bans: crate::security::BanView,
    entropy: Entropy,
    /// The MESSAGEs this worker relays without a CallLeg.
    pager: pager::Pager,
    /// The Date of REGISTER answers, formatted once a second.
    date: switchboard_engine::messaging::wire::DateCache,
    /// Messages read from its socket for other workers, by shard: handed over together at
    /// the end of the read (`flush_hops`), one wake-up of each owner per read.
    hops: Vec<Vec<Inbound>>,
    /// Datagrams it read (`switchboard_sip_datagrams_read_total{worker}`).
    reads: prometheus_client::metrics::counter::Counter,
}

/// Messages collected for one worker before they are handed over anyway.
const MAX_HOPS: usize = 64;

impl Worker {
    pub fn new(
        shard: usize,
        shared: Arc<Shared>,
        sockets: Vec<std::net::UdpSocket>,
        seed: u64,
    ) -> Worker {
        // with datagram spread every worker reads a share of each source, and takes that
        // share of the per-source limits
        let share = match shared.config.sip.udp_spread {
            Spread::Datagram => shared.config.worker_count(),
            Spread::Flow => 1,
        };
        let limiter = Limiter::new(&shared.config.limits, share);
        let reads = shared.metrics.workers.datagrams_read(shard);
        let (pike_max, pike_window) = shared.security.pike();
        let pike_max = if pike_max == 0 {
            0
        } else {
            pike_max.div_ceil(share as u32)
        };
        let bans = shared.security.view();
        let answers = RecentAnswers::new(
            shared.config.sip.register_answers,
            txn::Timers::default().timeout(),
        );
        Worker {
            shard,
            shared,
            sockets,
            transports: None,
            txns: LocalTxns::default(),
            answers,
            limiter,
            pike: Pike::new(pike_max, pike_window),
            bans,
            entropy: Entropy::seeded(seed),
            pager: pager::Pager::default(),
            date: Default::default(),
            hops: Vec::new(),
            reads,
        }
    }

    fn transports(&self) -> &Transports {
        // set in `started`, before any message can arrive
        self.transports.as_ref().expect("worker transports")
    }

    fn on_datagram(&mut self, d: Datagram, ctx: &mut Context<Self>) {
        let t = now();
        let ip = d.from.ip();
        // a banned source is dropped before anything else is done with its bytes
        if self.shared.security.is_banned(&mut self.bans, ip, t) {
            self.shared.metrics.dropped("banned");
            return;
        }
        // requests count toward a flood ban; responses (a phone answering a burst of NOTIFY)
        // do not
        if !d.bytes.starts_with(b"SIP/2.0 ") {
            if let Some(n) = self.pike.handle_request(t, ip) {
                self.shared.security.flood(ip, n);
            }
        }
        if !self.limiter.allow(ip, t) {
            self.shared.metrics.dropped("flood limit");
            return;
        }
        let flow = Flow::udp(d.from);
        match udp::blank(&d.bytes) {
            Some(udp::Blank::Ping) => {
                let pong = Bytes::from_static(udp::PONG);
                return self.transports().send(&flow, pong);
            }
            Some(udp::Blank::Ignore) => return,
            None => {}
        }
        match ingest(d.bytes) {
            Ingested::Message(m) => {
                let workers = self.shared.ingress.workers();
                let (shard, aor) = route(&m, &self.shared.plan, workers.len().max(1));
                if shard == self.shard || workers.is_empty() {
                    self.on_message(m, flow, aor, ctx);
                } else {
                    if self.hops.len() < workers.len() {
                        self.hops.resize_with(workers.len(), Vec::new);
                    }
                    let hops = &mut self.hops[shard];
                    hops.push(Inbound { msg: m, flow, aor });
                    if hops.len() >= MAX_HOPS {
                        let v = std::mem::take(hops);
                        workers[shard].many.do_send(Inbounds(v));
                    }
                }
            }
            Ingested::Reply(r) => {
                self.shared.security.failure(ip, Reason::Malformed);
                self.transports().send(&reply_flow(&r, &flow), r)
            }
            Ingested::Dropped(why) => {
                // blank keep-alives were answered or ignored above: this is not one
                if why == "unparseable" {
                    self.shared.security.failure(ip, Reason::Malformed);
                }
                self.shared.metrics.dropped(why)
            }
        }
    }

    /// Hands every worker what this one collected for it.
    fn flush_hops(&mut self) {
        let workers = self.shared.ingress.workers();
        for (shard, hops) in self.hops.iter_mut().enumerate() {
            if !hops.is_empty() {
                workers[shard].many.do_send(Inbounds(std::mem::take(hops)));
            }
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
            let Some(m) = self.page_response(m, ctx) else {
                return;
            };
            let Some((m, _)) = self.deliver_to_leg(m, flow) else {
                return;
            };
            if (200..300).contains(&code) && m.cseq().is_some_and(|c| c.method == Method::Invite) {
                forward::forward_response(&m, &self.shared.local, self.transports());
            }
            return;
        }
        let method = m.method().unwrap_or(Method::Other);
        if let Some(ua) = m.header(HeaderName::UserAgent) {
            if self.shared.security.scanner(flow.remote.ip(), ua) {
                // banned at once, and not answered: a scan learns nothing
                self.shared.metrics.dropped("scanner");
                return;
            }
        }
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
                Some((m, flow)) if method == Method::Ack => forward::forward_ack(
                    &m,
                    &self.shared.local,
                    self.transports(),
                    via_fix(&flow),
                    None,
                ),
                Some((m, flow)) => self.answer(&m, &flow, 481, reason_phrase(481), &[]),
            },
            // a refresh of a subscription this switch does not know (RFC 6665 §4.2.1.2)
            Method::Subscribe if in_dialog => match self.deliver_to_leg(m, flow) {
                None => {}
                Some((m, flow)) => self.answer(&m, &flow, 481, reason_phrase(481), &[]),
            },
            _ if in_dialog => self.route_to_leg(m, flow),
            Method::Message => self.on_pager_message(m, flow, ctx),
            Method::Invite | Method::Options => self.route_to_leg(m, flow),
            Method::Subscribe => self.start_subscription(m, flow),
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

    /// Delivers a message to the live owner of its Call-ID (a CallLeg, a Subscription, a
    /// Delivery); gives it back if there is none.
    fn deliver_to_leg(&mut self, m: SipMessage, flow: Flow) -> Option<(SipMessage, Flow)> {
        owners(|o| match o.live(m.call_id().unwrap_or("")) {
            Some(owner) => {
                owner.send(FromNetwork { msg: m, flow });
                None
            }
            None => Some((m, flow)),
        })
    }

    /// Starts the actor that owns the Call-ID of `m` from now on (a CallLeg, a
    /// Subscription), hands it `m` and files it under the Call-ID.
    fn start_owner<A>(
        &mut self,
        m: SipMessage,
        flow: Flow,
        start: impl FnOnce(&Self, u64, Box<str>, u64) -> Addr<A>,
    ) where
        A: Actor<Context = Context<A>> + Handler<FromNetwork> + Handler<Stop>,
    {
        let call_id: Box<str> = m.call_id().unwrap_or("").into();
        let id = owners(|o| o.new_id());
        let seed = self.entropy.next_u64();
        let owner = start(self, id, call_id.clone(), seed);
        owner.do_send(FromNetwork { msg: m, flow });
        owners(|o| o.file(call_id, id, owner, 1));
    }

    /// A MESSAGE outside any dialog: its Call-ID's CallLeg if there is one, else the relay
    /// (`pager`), else a new CallLeg.
    fn on_pager_message(&mut self, m: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let Some((m, flow)) = self.deliver_to_leg(m, flow) else {
            return;
        };
        let Some((m, flow)) = self.page(m, flow, ctx) else {
            return;
        };
        self.start_owner(m, flow, |w, id, call_id, seed| {
            CallLeg::new(id, call_id, w.shared.clone(), w.transports().clone(), seed).start()
        });
    }

    /// Passes a request to its call's CallLeg, starting one for a new call.
    fn route_to_leg(&mut self, m: SipMessage, flow: Flow) {
        let Some((m, flow)) = self.deliver_to_leg(m, flow) else {
            return;
        };
        self.start_owner(m, flow, |w, id, call_id, seed| {
            CallLeg::new(id, call_id, w.shared.clone(), w.transports().clone(), seed).start()
        });
    }

    /// Answers a request itself through a server transaction, or for REGISTER through the
    /// recent answers (retransmissions get the same answer either way).
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
        if req.method() == Some(Method::Register) {
            return self.register_seen(key);
        }
        let Some((txn, to)) = self.txns.get_mut(&key) else {
            return Some(key);
        };
        let _ = txn.handle_request(now());
        let to = *to;
        self.drain_txn(&key, &to);
        None
    }

    /// Sends the final answer of a request through a new server transaction (for REGISTER:
    /// keeps it with the recent answers).
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
        let tag = self.entropy.token(10);
        let mut b = ResponseBuilder::new(req, code, reason)
            .to_tag(&tag)
            .via_fix(via_fix(flow));
        for (n, v) in extra {
            b = b.header(n, v);
        }
        let bytes = b.build();
        if req.method() == Some(Method::Register) {
            return self.answer_register(t, key, bytes, to);
        }
        let mut txn = ServerNonInvite::new(t, flow.transport.is_reliable(), txn::Timers::default());
        let _ = txn.respond(t, code, bytes);
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
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut socks = Vec::new();
        for std_sock in std::mem::take(&mut self.sockets) {
            match tokio::net::UdpSocket::from_std(std_sock) {
                Ok(s) => socks.push(Arc::new(s)),
                Err(e) => tracing::error!(error = %e, "cannot register udp socket"),
            }
        }
        if socks.is_empty() {
            return;
        }
        let transports = Transports::new(
            socks.clone(),
            self.shared.tcp.clone(),
            self.shared.metrics.clone(),
        );
        // the actors of this arbiter that send on their own (deliveries) use this socket
        self.shared.set_transports(self.shard, transports.clone());
        self.transports = Some(transports);
        self.start_pager(ctx);
        for sock in socks {
            ctx.add_stream(Receiver::new(sock, self.shared.config.sip.receive_batch));
        }
        ctx.run_interval(Duration::from_millis(500), |act, _| {
            let t = now();
            act.txns.expire(t);
            act.answers.expire(t);
            act.limiter.prune(t);
            act.pike.prune(t);
            act.shared.security.sweep();
            act.pager_sweep(t);
            // give back what a burst grew: idle memory stays proportional to what is live
            act.txns.shrink();
            owners(|o| o.shrink());
        });
    }
}

impl StreamHandler<Datagram> for Worker {
    fn handle(&mut self, d: Datagram, ctx: &mut Context<Self>) {
        self.reads.inc();
        let metrics = self.shared.metrics.clone();
        let last = d.last;
        guarded("datagram", &metrics, || self.on_datagram(d, ctx));
        if last {
            self.flush_hops();
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // the socket stream never ends while the worker runs
    }
}

impl Handler<DialOut> for Worker {
    type Result = ();
    fn handle(&mut self, m: DialOut, _: &mut Context<Self>) {
        let id = owners(|o| o.new_id());
        let seed = self.entropy.next_u64();
        let leg = CallLeg::new(
            id,
            m.call_id.clone(),
            self.shared.clone(),
            self.transports().clone(),
            seed,
        )
        .start();
        leg.do_send(StartDialOut {
            member: m.member,
            conference: m.conference,
        });
        owners(|o| o.file(m.call_id, id, leg, 0));
    }
}

impl Handler<PlaceNotice> for Worker {
    type Result = ();
    fn handle(&mut self, m: PlaceNotice, _: &mut Context<Self>) {
        let id = owners(|o| o.new_id());
        let seed = self.entropy.next_u64();
        let leg = CallLeg::new(
            id,
            m.call_id.clone(),
            self.shared.clone(),
            self.transports().clone(),
            seed,
        )
        .start();
        leg.do_send(StartNotice(m.call));
        owners(|o| o.file(m.call_id, id, leg, 0));
    }
}

impl Handler<pager::Stored> for Worker {
    type Result = ();
    fn handle(&mut self, m: pager::Stored, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        guarded("stored messages", &metrics, || self.stored(m.0, ctx));
    }
}

impl Handler<Inbounds> for Worker {
    type Result = ();
    fn handle(&mut self, m: Inbounds, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        for m in m.0 {
            guarded("inbound message", &metrics, || {
                self.on_message(m.msg, m.flow, m.aor, ctx)
            });
        }
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
