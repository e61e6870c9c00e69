//! Ingress: what the transports do with received bytes before any actor sees them. Parse and
//! validate (answering what is malformed), then hand the message to the worker that owns it.

use std::sync::OnceLock;

use bytes::Bytes;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::sip::{malformed, validate, Message, ResponseBuilder};

use crate::api::worker::{Inbound, WorkerInbox};
use crate::ownership::shard_of;

/// What ingress made of received bytes.
pub enum Ingested {
    /// A valid message to dispatch.
    Message(Message),
    /// A malformed request: send this answer back on the same flow.
    Reply(Bytes),
    /// Nothing to answer (a bad response, or garbage); counted under this reason.
    Dropped(&'static str),
}

/// Parses and validates received bytes (RFC 3261 §8.2, §18.3; RFC 4475 reactions).
pub fn ingest(bytes: Bytes) -> Ingested {
    match Message::parse(bytes.clone()) {
        Err(e) => match malformed::answer(&bytes, &e) {
            Some(reply) => Ingested::Reply(reply),
            None => Ingested::Dropped("unparseable"),
        },
        Ok(m) if m.is_request() => match validate::request(&m) {
            Ok(()) => Ingested::Message(m),
            Err(rej) => Ingested::Reply(ResponseBuilder::new(&m, rej.code, rej.reason).build()),
        },
        Ok(m) => {
            if validate::response(&m) {
                Ingested::Message(m)
            } else {
                Ingested::Dropped("invalid response")
            }
        }
    }
}

/// The address of record a REGISTER is for (its To URI's user, canonical).
pub fn register_aor(plan: &NumberingPlan, req: &Message) -> Option<Aor> {
    let to = req.to()?;
    let user = to.uri().user_unescaped()?;
    plan.canonical(&user).ok()
}

/// The worker that handles a message, and for a REGISTER its address of record.
///
/// Every message of a call goes to the worker owning its Call-ID. A REGISTER goes to the
/// worker owning its address of record instead: that address's Extension lives on the same
/// arbiter, so registering costs no further thread hop, and retransmissions (same address)
/// meet their transaction there.
pub fn route(m: &Message, plan: &NumberingPlan, shards: usize) -> (usize, Option<Aor>) {
    if m.method() == Some(switchboard_engine::sip::Method::Register) {
        if let Some(aor) = register_aor(plan, m) {
            return (shard_of(aor.as_str(), shards), Some(aor));
        }
    }
    (shard_of(m.call_id().unwrap_or(""), shards), None)
}

/// Delivers valid messages to the worker that owns them (see `route`).
pub struct Ingress {
    workers: OnceLock<Vec<WorkerInbox>>,
    plan: NumberingPlan,
}

impl Ingress {
    pub fn new(plan: NumberingPlan) -> Ingress {
        Ingress {
            workers: OnceLock::new(),
            plan,
        }
    }

    pub fn set_workers(&self, w: Vec<WorkerInbox>) {
        let _ = self.workers.set(w);
    }

    /// Every worker, by shard.
    pub fn workers(&self) -> &[WorkerInbox] {
        self.workers.get().map_or(&[], |w| w.as_slice())
    }

    pub fn dispatch(&self, msg: Message, flow: Flow) {
        let workers = self.workers();
        if workers.is_empty() {
            return;
        }
        let (shard, aor) = route(&msg, &self.plan, workers.len());
        workers[shard].one.do_send(Inbound { msg, flow, aor });
    }
}
