//! The Unsolicited actor: message-summary NOTIFYs outside any subscription to the registered
//! devices of one mailbox's owner (RFC 3842 without a SUBSCRIBE, as voicemail systems light
//! the lamps of phones that do not subscribe).
//!
//! Started by the owner's Extension, on its arbiter, the first time it has one to send, and
//! kept by it. Each NOTIFY goes under a fresh Call-ID that the arbiter's worker owns, filed in
//! the arbiter's `owners` table so the device's answer comes straight here, through a client
//! transaction. A device has at most one NOTIFY in flight; a newer summary waits for its
//! answer and then goes, so the last one a device gets is the newest. A device that refuses
//! unsolicited NOTIFYs (405, 481, 489, 501: baresip answers 481, it takes message waiting only
//! by subscription) gets no more from this actor until it registers anew (another Call-ID).
//! The actor stops once its Extension let go of it and nothing is in flight.

use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Message};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::event::notify::{self, Unsolicited as Request};
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::store::BindingRecord;
use switchboard_engine::txn::{self, ClientKey, ClientNonInvite};
use switchboard_engine::voicemail::summary::{CONTENT_TYPE, EVENT_PACKAGE};
use switchboard_engine::voicemail::MessageSummary;
use tracing::{debug, warn};

use crate::api::leg::FromNetwork;
use crate::clock::{now, Timer};
use crate::ownership::{owners, shard_of, Stop};
use crate::shared::Shared;
use crate::transport::{flow_for_binding, Transports};

/// Answers that say a device takes no NOTIFY it did not subscribe to.
const REFUSALS: [u16; 4] = [405, 481, 489, 501];

/// Tell these devices this summary.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Notice {
    pub targets: Vec<BindingRecord>,
    pub summary: MessageSummary,
}

/// What an Unsolicited actor is started with.
pub struct UnsolicitedStart {
    /// The worker this runs beside, of how many: its Call-IDs must be that worker's.
    pub shard: usize,
    pub shards: usize,
    /// The mailbox's owner.
    pub aor: Aor,
    pub seed: u64,
}

struct InFlight {
    call_id: Box<str>,
    /// Its entry in the owners table.
    owner_id: u64,
    key: ClientKey,
    txn: ClientNonInvite,
}

/// One device and what it is being told.
struct Device {
    binding: BindingRecord,
    flow: Flow,
    inflight: Option<InFlight>,
    /// A newer summary, sent once the one in flight is answered.
    pending: Option<MessageSummary>,
}

pub struct Unsolicited {
    shard: usize,
    shards: usize,
    aor: Aor,
    shared: Arc<Shared>,
    transports: Transports,
    entropy: Entropy,
    /// The mailbox owner's address as a name-addr: From and To of every NOTIFY.
    resource: String,
    devices: Vec<Device>,
    /// Devices (Contact, Call-ID of their registration) that refused one.
    refused: Vec<(String, String)>,
    timer: Timer,
}

impl Unsolicited {
    pub fn new(s: UnsolicitedStart, shared: Arc<Shared>, transports: Transports) -> Unsolicited {
        let resource = format!("<sip:{}@{}>", s.aor, shared.local.domain);
        Unsolicited {
            shard: s.shard,
            shards: s.shards,
            aor: s.aor,
            shared,
            transports,
            entropy: Entropy::seeded(s.seed),
            resource,
            devices: Vec::new(),
            refused: Vec::new(),
            timer: Timer::default(),
        }
    }

    fn notice(&mut self, n: Notice, ctx: &mut Context<Self>) {
        let t = now();
        for b in n.targets {
            if self
                .refused
                .iter()
                .any(|(uri, call_id)| *uri == b.uri && *call_id == b.call_id)
            {
                continue;
            }
            let flow = flow_for_binding(&b);
            let i = match self.devices.iter().position(|d| d.binding.uri == b.uri) {
                Some(i) => {
                    let d = &mut self.devices[i];
                    d.binding = b;
                    d.flow = flow;
                    i
                }
                None => {
                    self.devices.push(Device {
                        binding: b,
                        flow,
                        inflight: None,
                        pending: None,
                    });
                    self.devices.len() - 1
                }
            };
            if self.devices[i].inflight.is_some() {
                self.devices[i].pending = Some(n.summary.clone());
            } else {
                self.send(t, i, &n.summary, ctx);
            }
        }
        self.flush(t, ctx);
    }

    /// Sends `summary` to device `i` under a fresh Call-ID.
    fn send(&mut self, t: Instant, i: usize, summary: &MessageSummary, ctx: &mut Context<Self>) {
        let call_id = self.new_call_id();
        let branch = format!("z9hG4bK{}", self.entropy.token(16));
        let from_tag = self.entropy.token(10);
        let d = &self.devices[i];
        let via = self.shared.local.via(d.flow.transport, &branch);
        let contact = self.shared.local.contact(d.flow.transport);
        let body = summary.to_body();
        let bytes = notify::unsolicited(
            &Request {
                request_uri: &d.binding.uri,
                via: &via,
                resource: &self.resource,
                from_tag: &from_tag,
                call_id: &call_id,
                cseq: 1,
                contact: &contact,
                event: EVENT_PACKAGE,
                allow_events: self.shared.events.allow_events(),
            },
            (CONTENT_TYPE, body.as_bytes()),
        );
        let Ok(req) = SipMessage::parse(bytes) else {
            // a registered Contact that makes no valid Request-URI: this device cannot be told
            let number = self.aor.redacted();
            warn!(%number, "unsolicited NOTIFY did not parse; device skipped");
            self.devices[i].pending = None;
            return;
        };
        let reliable = self.devices[i].flow.transport.is_reliable();
        let txn = ClientNonInvite::new(t, req, reliable, txn::Timers::default());
        let owner_id = owners(|o| {
            let id = o.new_id();
            o.file(call_id.clone(), id, ctx.address(), 0);
            id
        });
        self.shared.metrics.notifies.inc();
        self.devices[i].inflight = Some(InFlight {
            call_id,
            owner_id,
            key: ClientKey::new(&branch, "NOTIFY"),
            txn,
        });
    }

    /// A Call-ID owned by this arbiter's worker, so the device's answer comes here.
    fn new_call_id(&mut self) -> Box<str> {
        loop {
            let c = format!("mwi-{}", self.entropy.token(20));
            if self.shards <= 1 || shard_of(&c, self.shards) == self.shard {
                return c.into();
            }
        }
    }

    /// Transmits what the transactions emitted; a device whose NOTIFY was answered gets its
    /// pending summary, or is forgotten.
    fn flush(&mut self, t: Instant, ctx: &mut Context<Self>) {
        let mut answered = Vec::new();
        for (i, d) in self.devices.iter_mut().enumerate() {
            let Some(f) = &mut d.inflight else { continue };
            let mut code = None;
            while let Some(o) = f.txn.poll_output() {
                match o {
                    txn::Output::Transmit(b) => self.transports.send(&d.flow, b),
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
                answered.push((i, c));
            }
        }
        for (i, code) in answered {
            let d = &mut self.devices[i];
            if let Some(f) = d.inflight.take() {
                owners(|o| o.remove(&f.call_id, f.owner_id));
            }
            debug!(number = %self.aor.redacted(), code, "unsolicited NOTIFY answered");
            if REFUSALS.contains(&code) {
                // it takes message waiting only by subscription (or not at all)
                d.pending = None;
                let key = (d.binding.uri.clone(), d.binding.call_id.clone());
                if !self.refused.contains(&key) {
                    self.refused.push(key);
                }
            } else if let Some(s) = d.pending.take() {
                self.send(t, i, &s, ctx);
            }
        }
        // a pending summary just sent has its first transmission to go out
        for d in &mut self.devices {
            let Some(f) = &mut d.inflight else { continue };
            while let Some(o) = f.txn.poll_output() {
                if let txn::Output::Transmit(b) = o {
                    self.transports.send(&d.flow, b);
                }
            }
        }
        self.devices
            .retain(|d| d.inflight.is_some() || d.pending.is_some());
        self.schedule(ctx);
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .devices
            .iter()
            .filter_map(|d| d.inflight.as_ref()?.txn.poll_timeout())
            .min();
        self.timer.set(ctx, next, |a| &mut a.timer, Self::on_timer);
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        for d in &mut self.devices {
            if let Some(f) = &mut d.inflight {
                if f.txn.poll_timeout().is_some_and(|at| at <= t) {
                    f.txn.handle_timeout(t);
                }
            }
        }
        self.flush(t, ctx);
    }
}

impl Actor for Unsolicited {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        for d in &mut self.devices {
            if let Some(f) = d.inflight.take() {
                owners(|o| o.remove(&f.call_id, f.owner_id));
            }
        }
    }
}

impl Handler<Notice> for Unsolicited {
    type Result = ();
    fn handle(&mut self, n: Notice, ctx: &mut Context<Self>) {
        self.notice(n, ctx);
    }
}

impl Handler<FromNetwork> for Unsolicited {
    type Result = ();
    fn handle(&mut self, m: FromNetwork, ctx: &mut Context<Self>) {
        let msg = m.msg;
        if msg.status().is_none() {
            // a device's request within our Call-ID is not ours to take
            return;
        }
        let Some(key) = ClientKey::from_response(&msg) else {
            return;
        };
        let t = now();
        let found = self
            .devices
            .iter_mut()
            .filter_map(|d| d.inflight.as_mut())
            .find(|f| f.key == key);
        if let Some(f) = found {
            let _ = f.txn.handle_response(t, msg);
        }
        self.flush(t, ctx);
    }
}

impl Handler<Stop> for Unsolicited {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
