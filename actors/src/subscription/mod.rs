//! The Subscription actor: one per SUBSCRIBE dialog (RFC 6665), of any event package the
//! switch serves (`Shared::events`): `presence` (RFC 3856) of one number or of a subscriber's
//! own buddy list (RFC 4662 resource list, `list`), and `message-summary` (RFC 3842) of a
//! subscriber's own mailbox (`mailbox`).
//!
//! It lives on the arbiter that owns the dialog's Call-ID (the worker passes it the
//! refreshes and the answers to its NOTIFYs). The resources' Extensions are the single
//! writers of their state and send it here; the engine's `Subscription` machine decides when
//! a NOTIFY goes (coalescing bursts per `presence.notify_interval_ms`), this actor builds and
//! sends it through a client transaction. What differs between packages is only who may
//! subscribe (`start`), whom it watches and the NOTIFY's body (`Target`); the dialog,
//! refreshes, expiry, the NOTIFY transactions and the final NOTIFY are the same code for all.

mod list;
mod mailbox;
mod resources;
mod start;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::event::notify::{self, Notify};
use switchboard_engine::event::subscription::{NotifyDue, State, Subscription as Machine};
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::numbering::Aor;
use switchboard_engine::presence::PIDF;
use switchboard_engine::sip::{Message as SipMessage, ResponseBuilder};
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite, ServerKey, ServerNonInvite};
use switchboard_engine::voicemail::summary::CONTENT_TYPE as MESSAGE_SUMMARY;
use switchboard_engine::voicemail::MessageSummary;

use crate::api::extension::{ExtCommand, MailboxNote, PresenceNote, Snapshot};
use crate::api::leg::FromNetwork;
use crate::clock::{now, Timer};
use crate::guard::guarded;
use crate::ownership::{owners, Stop};
use crate::shared::Shared;
use crate::transport::{response_flow, via_fix, Transports};

use resources::Resource;

/// What a subscription watches.
enum Target {
    /// Not known yet (the initial SUBSCRIBE is being checked).
    None,
    One {
        entity: Aor,
        state: Option<Arc<Snapshot>>,
        /// What the presentity said before the answer to our watch was handled (its notes
        /// are sent after that answer, so they are newer).
        early: Option<Early>,
    },
    /// A subscriber's own buddy list.
    List {
        owner: Aor,
        resources: Vec<Resource>,
    },
    /// A subscriber's own mailbox (message-summary): its summary with its version (the
    /// owner's Extension numbers them; a note may come before the watch's answer).
    Mailbox {
        summary: Option<(u64, MessageSummary)>,
    },
}

/// A note that came before the watch's answer was handled.
enum Early {
    /// Allowed, or a newer state.
    State(Arc<Snapshot>),
    /// The watcher was refused meanwhile.
    Withdrawn,
    /// The presentity's Extension stopped: the watch is gone.
    Gone,
}

struct ServerTxn {
    key: ServerKey,
    txn: ServerNonInvite,
    to: Flow,
}

pub struct Subscription {
    /// Unique in the process (worker shard and leg id), for the Extensions' watcher lists.
    id: u64,
    leg: u64,
    call_id: Box<str>,
    shared: Arc<Shared>,
    transports: Transports,
    entropy: Entropy,
    me: Option<Addr<Subscription>>,
    /// Where the subscriber is reached (the flow its SUBSCRIBE came on).
    flow: Option<Flow>,
    watcher: Option<Aor>,
    target: Target,
    machine: Option<Machine>,
    server: Vec<ServerTxn>,
    notify: Option<(ClientKey, ClientNonInvite)>,
    /// The Extensions this subscription watches (presence or mailbox; each gets `Unwatch` at
    /// the end).
    watching: Vec<Aor>,
    /// The initial SUBSCRIBE is being authenticated or authorized.
    starting: bool,
    /// Counted in the subscriptions gauge (from the 200 until the subscription is over).
    counted: bool,
    /// Holds one of the watcher's subscription slots (`Shared::take_watch_slot`).
    slot: bool,
    timer: Timer,
}

impl Subscription {
    pub fn new(
        shard: usize,
        leg: u64,
        call_id: Box<str>,
        shared: Arc<Shared>,
        transports: Transports,
        seed: u64,
    ) -> Subscription {
        Subscription {
            id: ((shard as u64) << 48) | leg,
            leg,
            call_id,
            shared,
            transports,
            entropy: Entropy::seeded(seed),
            me: None,
            flow: None,
            watcher: None,
            target: Target::None,
            machine: None,
            server: Vec::new(),
            notify: None,
            watching: Vec::new(),
            starting: false,
            counted: false,
            slot: false,
            timer: Timer::default(),
        }
    }

    fn on_network(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        if msg.status().is_some() {
            return self.on_response(t, msg, ctx);
        }
        if msg.method() == Some(switchboard_engine::sip::Method::Ack) {
            // no INVITE in a subscription dialog: a stray ACK is nobody's
            return;
        }
        let Some(key) = ServerKey::from_request(&msg) else {
            return;
        };
        if let Some(s) = self.server.iter_mut().find(|s| s.key == key) {
            // a retransmission: the transaction answers it again
            let _ = s.txn.handle_request(t);
            self.flush_server();
            return;
        }
        let to = response_flow(&msg, &flow);
        let txn = ServerNonInvite::new(t, flow.transport.is_reliable(), txn::Timers::default());
        self.server.push(ServerTxn {
            key: key.clone(),
            txn,
            to,
        });
        let is_subscribe = msg.method() == Some(switchboard_engine::sip::Method::Subscribe);
        if !is_subscribe {
            // nothing else belongs to a subscription dialog we are the notifier of
            return self.respond(&key, &msg, &flow, 405, "Method Not Allowed", &[]);
        }
        if self.machine.is_none() && !self.starting && self.flow.is_none() {
            self.flow = Some(flow);
            self.start(key, msg, flow, ctx);
        } else if self.starting {
            // a second SUBSCRIBE while the first is checked: the subscriber must wait
            self.respond(
                &key,
                &msg,
                &flow,
                491,
                "Request Pending",
                &[("Retry-After", "1")],
            );
        } else {
            self.refresh(key, msg, flow, ctx);
        }
    }

    /// Answers a request through its server transaction.
    fn respond(
        &mut self,
        key: &ServerKey,
        req: &SipMessage,
        flow: &Flow,
        code: u16,
        reason: &str,
        extra: &[(&str, &str)],
    ) {
        let tag = self
            .machine
            .as_ref()
            .map(|m| m.dialog().local_tag.clone())
            .unwrap_or_else(|| self.local_tag());
        let mut b = ResponseBuilder::new(req, code, reason)
            .to_tag(&tag)
            .via_fix(via_fix(flow));
        for (n, v) in extra {
            b = b.header(n, v);
        }
        let bytes = b.build();
        if let Some(s) = self.server.iter_mut().find(|s| &s.key == key) {
            let _ = s.txn.respond(now(), code, bytes);
        }
        self.flush_server();
    }

    /// Our tag in this dialog: derived from the id, so every answer before the machine
    /// exists carries the same one.
    fn local_tag(&self) -> String {
        format!("sb{:x}", self.id ^ 0x5bd1_e995_0000_0000)
    }

    fn contact(&self) -> String {
        let transport = self.flow.as_ref().map_or(Transport::Udp, |f| f.transport);
        self.shared.local.contact(transport)
    }

    fn flush_server(&mut self) {
        for s in &mut self.server {
            while let Some(o) = s.txn.poll_output() {
                if let txn::Output::Transmit(b) = o {
                    self.transports.send(&s.to, b);
                }
            }
        }
        self.server.retain(|s| !s.txn.is_terminated());
    }

    fn on_response(&mut self, t: Instant, msg: SipMessage, ctx: &mut Context<Self>) {
        let Some(key) = ClientKey::from_response(&msg) else {
            return;
        };
        if let Some((k, txn)) = &mut self.notify {
            if *k == key {
                let _ = txn.handle_response(t, msg);
            }
        }
        self.flush_notify();
        self.drive(ctx);
    }

    /// Sends what the NOTIFY transaction emitted; its final answer goes to the machine.
    fn flush_notify(&mut self) {
        let Some((_, txn)) = &mut self.notify else {
            return;
        };
        let mut code = None;
        while let Some(o) = txn.poll_output() {
            match o {
                txn::Output::Transmit(b) => {
                    if let Some(f) = &self.flow {
                        self.transports.send(f, b);
                    }
                }
                txn::Output::Event(txn::Event::Response(r)) => {
                    let c = r.status().unwrap_or(0);
                    if c >= 200 {
                        code = Some(c);
                    }
                }
                txn::Output::Event(txn::Event::Timeout) => code = Some(0),
                txn::Output::Event(_) => {}
            }
        }
        if let Some(c) = code {
            self.notify = None;
            if let Some(m) = &mut self.machine {
                m.on_response(c);
            }
        }
    }

    /// Sends every NOTIFY the machine says is due, ends a finished subscription, re-arms the
    /// timer.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        while let Some(due) = self.machine.as_mut().and_then(|m| m.poll_notify(t)) {
            self.send_notify(t, due);
        }
        if self.machine.as_ref().is_some_and(|m| m.is_done()) {
            self.uncount();
            self.unwatch_all();
            if self.server.is_empty() {
                return ctx.stop();
            }
        }
        self.schedule(ctx);
    }

    fn send_notify(&mut self, t: Instant, due: NotifyDue) {
        let Some(flow) = self.flow else {
            return;
        };
        let branch = format!("z9hG4bK{}", self.entropy.token(16));
        let via = self.shared.local.via(flow.transport, &branch);
        let contact = self.contact();
        let list = matches!(self.target, Target::List { .. });
        let body: Option<(String, Vec<u8>)> = match &mut self.target {
            Target::One { state: Some(s), .. } if due.with_state => {
                Some((PIDF.to_owned(), s.pidf.as_bytes().to_vec()))
            }
            Target::List { owner, resources } if due.with_state => {
                let boundary = self.entropy.token(16);
                let uri = format!("sip:buddies-{}@{}", owner, self.shared.local.domain);
                Some(resources::render(
                    &uri,
                    due.version,
                    due.full,
                    resources,
                    &boundary,
                ))
            }
            Target::Mailbox {
                summary: Some((_, s)),
            } if due.with_state => Some((MESSAGE_SUMMARY.to_owned(), s.to_body().into_bytes())),
            _ => None,
        };
        let Some(m) = self.machine.as_ref() else {
            return;
        };
        let n = Notify {
            dialog: m.dialog(),
            via: &via,
            contact: &contact,
            cseq: due.cseq,
            state: due.state,
            expires_in: due.expires_in,
            eventlist: list,
        };
        let bytes = notify::request(&n, body.as_ref().map(|(ct, b)| (ct.as_str(), b.as_slice())));
        let Ok(req) = SipMessage::parse(bytes) else {
            // a subscriber's Contact or tags that make no valid request: nothing to reach
            tracing::warn!("NOTIFY did not parse; subscription dropped");
            if let Some(m) = &mut self.machine {
                m.on_response(0);
            }
            return;
        };
        self.shared.metrics.notifies.inc();
        let txn =
            ClientNonInvite::new(t, req, flow.transport.is_reliable(), txn::Timers::default());
        self.notify = Some((ClientKey::new(&branch, "NOTIFY"), txn));
        self.flush_notify();
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .machine
            .as_ref()
            .and_then(|m| m.poll_timeout())
            .into_iter()
            .chain(self.notify.as_ref().and_then(|(_, x)| x.poll_timeout()))
            .chain(self.server.iter().filter_map(|s| s.txn.poll_timeout()))
            .min();
        self.timer.set(ctx, next, |a| &mut a.timer, Self::on_timer);
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        if let Some((_, x)) = &mut self.notify {
            if x.poll_timeout().is_some_and(|d| d <= t) {
                x.handle_timeout(t);
            }
        }
        self.flush_notify();
        for s in &mut self.server {
            if s.txn.poll_timeout().is_some_and(|d| d <= t) {
                s.txn.handle_timeout(t);
            }
        }
        self.flush_server();
        if let Some(m) = &mut self.machine {
            m.handle_timeout(t);
        }
        self.drive(ctx);
    }

    /// Counts a subscription that was accepted.
    fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.shared.metrics.subscriptions.inc();
        }
    }

    fn uncount(&mut self) {
        if self.counted {
            self.counted = false;
            self.shared.metrics.subscriptions.dec();
        }
        self.give_slot();
    }

    fn give_slot(&mut self) {
        if self.slot {
            self.slot = false;
            if let Some(w) = &self.watcher {
                self.shared.give_watch_slot(w);
            }
        }
    }

    /// Leaves every presentity watched.
    fn unwatch_all(&mut self) {
        for aor in self.watching.drain(..) {
            self.shared
                .to_extension(aor, ExtCommand::Unwatch { id: self.id });
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.shared.config.presence.notify_interval_ms)
    }

    fn on_note(&mut self, note: PresenceNote, ctx: &mut Context<Self>) {
        match (&mut self.target, note) {
            (Target::One { early, .. }, note) if self.machine.is_none() => {
                // still starting: keep the newest word for when the watch's answer is read
                *early = match note {
                    PresenceNote::State(s) | PresenceNote::Allowed(s) => Some(Early::State(s)),
                    PresenceNote::Withdrawn { .. } => Some(Early::Withdrawn),
                    PresenceNote::Deactivated { .. } => Some(Early::Gone),
                    PresenceNote::ListChanged => early.take(),
                };
            }
            (Target::One { entity, state, .. }, PresenceNote::State(s)) => {
                let newer = state.as_ref().is_none_or(|old| s.version > old.version);
                if s.entity == *entity && newer {
                    *state = Some(s);
                    if let Some(m) = &mut self.machine {
                        m.changed();
                    }
                }
            }
            (Target::One { state, .. }, PresenceNote::Allowed(s)) => {
                *state = Some(s);
                if let Some(m) = &mut self.machine {
                    m.set_state(State::Active);
                }
            }
            (Target::One { .. }, PresenceNote::Withdrawn { .. }) => {
                if let Some(m) = &mut self.machine {
                    m.terminate("rejected");
                }
            }
            (Target::One { .. }, PresenceNote::Deactivated { .. }) => {
                // RFC 6665 §4.1.3: the subscriber may subscribe again at once
                if let Some(m) = &mut self.machine {
                    m.terminate("deactivated");
                }
            }
            (Target::List { resources, .. }, PresenceNote::Deactivated { entity }) => {
                // the buddy's Extension stopped: watch it again (a fresh one starts)
                if let Some(r) = resources.iter_mut().find(|r| r.aor == entity) {
                    r.noted = false;
                }
                self.rewatch(entity, ctx);
            }
            (Target::List { resources, .. }, note) => {
                let changed = resources::apply(resources, &note);
                if matches!(note, PresenceNote::ListChanged) {
                    self.reread_list(ctx);
                } else if changed {
                    if let Some(m) = &mut self.machine {
                        m.changed();
                    }
                }
            }
            _ => {}
        }
        self.drive(ctx);
    }
}

impl Actor for Subscription {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.uncount();
        self.unwatch_all();
        owners(|o| o.remove(&*self.call_id, self.leg));
    }
}

impl Handler<FromNetwork> for Subscription {
    type Result = ();
    fn handle(&mut self, m: FromNetwork, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        if guarded("subscription", &metrics, || {
            self.on_network(m.msg, m.flow, ctx)
        })
        .is_none()
        {
            ctx.stop();
        }
    }
}

impl Handler<PresenceNote> for Subscription {
    type Result = ();
    fn handle(&mut self, m: PresenceNote, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        if guarded("subscription", &metrics, || self.on_note(m, ctx)).is_none() {
            ctx.stop();
        }
    }
}

impl Handler<MailboxNote> for Subscription {
    type Result = ();
    fn handle(&mut self, m: MailboxNote, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        if guarded("subscription", &metrics, || self.on_mailbox_note(m, ctx)).is_none() {
            ctx.stop();
        }
    }
}

impl Handler<Stop> for Subscription {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
