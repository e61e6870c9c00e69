//! SIP transports: UDP sockets per worker and TCP connections, with ingress checks shared by
//! both (parse, validate, answer what is malformed) and a send handle for the actors.

pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use actix::Addr;
use bytes::Bytes;
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::sip::{malformed, validate, Message, ResponseBuilder, ViaFix};

use crate::metrics::Metrics;
use crate::worker::{Inbound, Worker};

pub use tcp::TcpHub;

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

/// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4): back on the connection
/// for streams; for UDP to the source address when `rport` was asked for, else to the source
/// IP and the Via port.
pub fn response_flow(req: &Message, from: &Flow) -> Flow {
    if from.transport != Transport::Udp {
        return *from;
    }
    match req.top_via() {
        Some(v) if v.rport().is_none() => {
            Flow::udp(SocketAddr::new(from.remote.ip(), v.port().unwrap_or(5060)))
        }
        _ => *from,
    }
}

/// The received/rport information for a request's top Via.
pub fn via_fix(from: &Flow) -> Option<ViaFix> {
    Some(ViaFix {
        source_ip: from.remote.ip(),
        source_port: from.remote.port(),
    })
}

/// Which worker owns a Call-ID (every message of a call is handled by one worker).
pub fn shard_of(call_id: &str, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in call_id.as_bytes() {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
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
    workers: OnceLock<Vec<Addr<Worker>>>,
    plan: NumberingPlan,
}

impl Ingress {
    pub fn new(plan: NumberingPlan) -> Ingress {
        Ingress {
            workers: OnceLock::new(),
            plan,
        }
    }

    pub fn set_workers(&self, w: Vec<Addr<Worker>>) {
        let _ = self.workers.set(w);
    }

    pub fn workers(&self) -> &[Addr<Worker>] {
        self.workers.get().map_or(&[], |w| w.as_slice())
    }

    pub fn dispatch(&self, msg: Message, flow: Flow) {
        let workers = self.workers();
        if workers.is_empty() {
            return;
        }
        let (shard, aor) = route(&msg, &self.plan, workers.len());
        workers[shard].do_send(Inbound { msg, flow, aor });
    }
}

/// Sends SIP messages from one worker: its UDP socket, and the shared TCP connections.
#[derive(Clone)]
pub struct Transports {
    udp: Arc<tokio::net::UdpSocket>,
    tcp: Arc<TcpHub>,
    metrics: Arc<Metrics>,
}

impl Transports {
    pub fn new(udp: Arc<tokio::net::UdpSocket>, tcp: Arc<TcpHub>, metrics: Arc<Metrics>) -> Self {
        Transports { udp, tcp, metrics }
    }

    pub fn send(&self, flow: &Flow, bytes: Bytes) {
        self.metrics.sent(&bytes);
        match flow.transport {
            Transport::Udp => udp::send(&self.udp, flow.remote, bytes, &self.metrics),
            Transport::Tcp => self.tcp.send(flow, bytes),
        }
    }

    pub fn udp(&self) -> &Arc<tokio::net::UdpSocket> {
        &self.udp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_follow_rport_or_the_via_port() {
        let src = Flow::udp("192.0.2.1:40000".parse().unwrap());
        let with_rport = Message::parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(response_flow(&with_rport, &src).remote, src.remote);
        let without = Message::parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(
            response_flow(&without, &src).remote,
            "192.0.2.1:5062".parse().unwrap()
        );
    }

    #[test]
    fn sharding_is_stable_and_spreads() {
        assert_eq!(shard_of("abc@host", 4), shard_of("abc@host", 4));
        let used: std::collections::HashSet<_> = (0..100)
            .map(|i| shard_of(&format!("call-{i}"), 4))
            .collect();
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn malformed_requests_get_an_answer_and_bad_responses_are_dropped() {
        let bad = Bytes::from_static(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n");
        match ingest(bad) {
            Ingested::Reply(r) => assert!(r.starts_with(b"SIP/2.0 400")),
            _ => panic!("expected a 400"),
        }
        assert!(matches!(
            ingest(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")),
            Ingested::Dropped(_)
        ));
        assert!(matches!(
            ingest(Bytes::from_static(b"\x16\x03\x01garbage")),
            Ingested::Dropped(_)
        ));
    }
}
