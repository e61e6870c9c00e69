//! The Delivery actor: hands one number's queued messages to its registered devices.
//!
//! Started by the number's Extension, on its arbiter, when a device registers or a message
//! is queued while one is registered. Each message goes out under a fresh Call-ID that the
//! arbiter's worker owns, filed in the arbiter's `owners` table so the devices' answers come
//! straight here. The engine's `Outbox` decides what goes when; this actor reads the queue, sends
//! each attempt through a client transaction per device, and tells the queue writer what was
//! delivered. It stops when the queue is empty or no device is left.

use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::messaging::wire::{self, Delivery as Attempt};
use switchboard_engine::messaging::{Action, Backoff, Outbox};
use switchboard_engine::numbering::Aor;
use switchboard_engine::registrar;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::store::BindingRecord;
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite};
use tracing::{debug, warn};

use crate::api::leg::FromNetwork;
use crate::clock::{now, unix_now, Timer};
use crate::ownership::{owners, shard_of, Stop};
use crate::shared::Shared;
use crate::transport::{flow_for_binding, Transports};

/// The devices to deliver to changed (a REGISTER); waiting retries go now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Targets(pub Vec<BindingRecord>);

/// More messages were queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kick;

/// A Delivery stopped (sent to the number's Extension).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliveryEnded {
    pub id: u64,
}

struct InFlight {
    key: ClientKey,
    seq: u64,
    txn: ClientNonInvite,
    flow: Flow,
}

pub struct Delivery {
    id: u64,
    shard: usize,
    shards: usize,
    /// The Call-ID of the message being delivered (each message has its own, as separate
    /// MESSAGE requests do; retries of one message share it).
    call_id: Box<str>,
    call_seq: u64,
    aor: Aor,
    shared: Arc<Shared>,
    transports: Transports,
    owner: actix::Recipient<DeliveryEnded>,
    outbox: Outbox,
    targets: Vec<BindingRecord>,
    inflight: Vec<InFlight>,
    cseq: u32,
    from_tag: String,
    to: String,
    entropy: Entropy,
    timer: Timer,
    /// The id of this Delivery in the owners table, for the Call-ID it holds now.
    owner_id: u64,
    /// Answers passed to it under its current Call-ID (for race-free release).
    me: Option<Addr<Delivery>>,
}

/// What a Delivery is started with.
pub struct DeliveryStart {
    pub id: u64,
    /// The worker this runs beside, of how many: the Call-IDs it uses must be that worker's.
    pub shard: usize,
    pub shards: usize,
    pub aor: Aor,
    pub targets: Vec<BindingRecord>,
    pub owner: actix::Recipient<DeliveryEnded>,
    pub seed: u64,
}

impl Delivery {
    pub fn new(s: DeliveryStart, shared: Arc<Shared>, transports: Transports) -> Delivery {
        let m = &shared.config.messaging;
        let backoff = Backoff {
            initial: std::time::Duration::from_millis(m.retry_initial_ms),
            max: std::time::Duration::from_secs(m.retry_max_secs.max(1)),
        };
        let mut entropy = Entropy::seeded(s.seed);
        let to = format!("<sip:{}@{}>", s.aor, shared.local.domain);
        Delivery {
            id: s.id,
            shard: s.shard,
            shards: s.shards,
            call_id: "".into(),
            call_seq: u64::MAX,
            aor: s.aor,
            transports,
            owner: s.owner,
            outbox: Outbox::new(backoff, 256),
            targets: s.targets,
            inflight: Vec::new(),
            cseq: 0,
            from_tag: entropy.token(10),
            to,
            entropy,
            timer: Timer::default(),
            owner_id: 0,
            me: None,
            shared,
        }
    }

    fn drive(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        while let Some(a) = self.outbox.poll_action() {
            match a {
                Action::Load { after } => {
                    let batch = self.outbox.batch();
                    let msgs = self.shared.queue.messages(&self.aor, after, batch);
                    self.outbox.loaded(msgs);
                }
                Action::Send { seq } => self.send(t, seq),
                Action::Delivered { seq } => {
                    self.shared.queue.remove(self.aor.clone(), seq, "delivered");
                }
                Action::Refused { seq, code } => {
                    warn!(number = %self.aor.redacted(), code, "queued message refused by every device; removed");
                    self.shared.queue.remove(self.aor.clone(), seq, "refused");
                }
                Action::Done => {
                    debug!(number = %self.aor.redacted(), "delivery finished");
                    ctx.stop();
                    return;
                }
            }
        }
        self.schedule(ctx);
    }

    /// Sends message `seq` to every live device and tells the outbox how many requests went.
    fn send(&mut self, t: Instant, seq: u64) {
        // answers still due for an earlier attempt no longer matter
        self.inflight.retain(|f| f.seq == seq && !f.txn.is_final());
        let Some(m) = self.outbox.message(seq).cloned() else {
            return self.outbox.sent(seq, 0);
        };
        if self.call_seq != seq {
            self.new_call_id();
            self.call_seq = seq;
        }
        let live = registrar::targets(&self.targets, unix_now());
        let mut n = 0;
        let mut unsendable = 0;
        for b in live {
            let flow = flow_for_binding(b);
            let branch = format!("z9hG4bK{}", self.entropy.token(16));
            let toward = Some(flow.remote.ip());
            let via = self.shared.local.via_to(flow.transport, toward, &branch);
            self.cseq += 1;
            let bytes = wire::request(
                &Attempt {
                    request_uri: &b.uri,
                    via: &via,
                    to: &self.to,
                    call_id: &self.call_id,
                    cseq: self.cseq,
                    from_tag: &self.from_tag,
                },
                &m,
            );
            let Ok(req) = SipMessage::parse(bytes) else {
                // a stored sender or body that does not make a valid request: counted as
                // this device's refusal for good, so the message cannot block the queue
                warn!(number = %self.aor.redacted(), "delivery request did not parse; device skipped");
                unsendable += 1;
                continue;
            };
            let txn =
                ClientNonInvite::new(t, req, flow.transport.is_reliable(), txn::Timers::default());
            self.inflight.push(InFlight {
                key: ClientKey::new(&branch, "MESSAGE"),
                seq,
                txn,
                flow,
            });
            n += 1;
        }
        self.outbox.sent(seq, n + unsendable);
        for _ in 0..unsendable {
            self.outbox.response(t, seq, 400);
        }
        self.flush_outputs(t);
    }

    /// Transmits what the transactions emitted and passes their final answers on.
    fn flush_outputs(&mut self, t: Instant) {
        let mut finals = Vec::new();
        for f in &mut self.inflight {
            while let Some(o) = f.txn.poll_output() {
                match o {
                    txn::Output::Transmit(b) => self.transports.send(&f.flow, b),
                    txn::Output::Event(txn::Event::Response(r)) => {
                        let code = r.status().unwrap_or(0);
                        if code >= 200 {
                            finals.push((f.seq, code));
                        }
                    }
                    txn::Output::Event(txn::Event::Timeout) => finals.push((f.seq, 0)),
                    txn::Output::Event(_) => {}
                }
            }
        }
        self.inflight.retain(|f| !f.txn.is_terminated());
        for (seq, code) in finals {
            self.outbox.response(t, seq, code);
        }
    }

    /// A fresh Call-ID owned by this arbiter's worker, filed so the devices' answers come
    /// here; the one before is released.
    fn new_call_id(&mut self) {
        let call_id: Box<str> = loop {
            let c = format!("dlv-{}", self.entropy.token(20));
            if self.shards == 1 || shard_of(&c, self.shards) == self.shard {
                break c.into();
            }
        };
        self.release_call_id();
        self.cseq = 0;
        self.call_id = call_id.clone();
        if let Some(me) = self.me.clone() {
            self.owner_id = owners(|o| {
                let id = o.new_id();
                o.file(call_id, id, me, 0);
                id
            });
        }
    }

    fn release_call_id(&mut self) {
        if !self.call_id.is_empty() {
            let call_id = std::mem::take(&mut self.call_id);
            owners(|o| o.remove(&call_id, self.owner_id));
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .inflight
            .iter()
            .filter_map(|f| f.txn.poll_timeout())
            .chain(self.outbox.poll_timeout())
            .min();
        self.timer.set(ctx, next, |a| &mut a.timer, Self::on_timer);
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        for f in &mut self.inflight {
            f.txn.handle_timeout(t);
        }
        self.flush_outputs(t);
        self.outbox.handle_timeout(t);
        self.drive(ctx);
    }
}

impl Actor for Delivery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
        self.drive(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.release_call_id();
        self.owner.do_send(DeliveryEnded { id: self.id });
    }
}

impl Handler<FromNetwork> for Delivery {
    type Result = ();
    fn handle(&mut self, m: FromNetwork, ctx: &mut Context<Self>) {
        let msg = m.msg;
        if msg.status().is_none() {
            // requests are not ours to take: a device answering within our Call-ID is
            // confused; it gets nothing
            return;
        }
        let Some(key) = ClientKey::from_response(&msg) else {
            return;
        };
        let t = now();
        if let Some(f) = self.inflight.iter_mut().find(|f| f.key == key) {
            let _ = f.txn.handle_response(t, msg);
        }
        self.flush_outputs(t);
        self.drive(ctx);
    }
}

impl Handler<Targets> for Delivery {
    type Result = ();
    fn handle(&mut self, Targets(b): Targets, ctx: &mut Context<Self>) {
        self.targets = b;
        self.outbox.retry_now(now());
        self.drive(ctx);
    }
}

impl Handler<Kick> for Delivery {
    type Result = ();
    fn handle(&mut self, _: Kick, ctx: &mut Context<Self>) {
        self.outbox.kick();
        self.drive(ctx);
    }
}

impl Handler<Stop> for Delivery {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
