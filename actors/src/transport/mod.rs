//! SIP transports: UDP sockets per worker and stream connections (TCP, TLS), with ingress
//! checks shared by all (parse, validate, answer what is malformed) and a send handle for the
//! actors.

pub mod forward;
pub mod ingress;
pub mod resolve;
pub mod spread;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::sip::{Message, ViaFix};

use crate::metrics::Metrics;

pub use ingress::{ingest, register_aor, route, Ingested, Ingress};
pub use resolve::{behind_nat, flow_for_binding, flow_for_uri, resolve};
pub use tcp::TcpHub;

/// Whether UDP responses go back to the source address even without `rport` (symmetric
/// response routing, `[sip] symmetric_responses`); set once at start, on by default.
static SYMMETRIC_RESPONSES: AtomicBool = AtomicBool::new(true);

/// Sets how UDP responses to requests without `rport` are routed (see `response_flow`).
pub fn set_symmetric_responses(on: bool) {
    SYMMETRIC_RESPONSES.store(on, Ordering::Relaxed);
}

/// Where responses to a request go: back on the connection for streams; for UDP to the
/// source address, as Kamailio and Asterisk do, so a phone behind NAT or one sending from
/// another port than its Via names hears them. With symmetric responses off, RFC 3261
/// §18.2.2 to the letter: the source address when `rport` was asked for (RFC 3581 §4), else
/// the source IP and the Via port.
pub fn response_flow(req: &Message, from: &Flow) -> Flow {
    response_flow_with(req, from, SYMMETRIC_RESPONSES.load(Ordering::Relaxed))
}

/// `response_flow` with the setting given.
pub fn response_flow_with(req: &Message, from: &Flow, symmetric: bool) -> Flow {
    if from.transport != Transport::Udp || symmetric {
        return *from;
    }
    match req.top_via() {
        Some(v) if v.rport().is_none() => {
            Flow::udp(SocketAddr::new(from.remote.ip(), v.port().unwrap_or(5060)))
        }
        _ => *from,
    }
}

/// Where the answer ingress made for a malformed request goes: the answer carries the
/// request's Via (when it could be read), so it follows `response_flow` like any other.
pub fn reply_flow(reply: &Bytes, from: &Flow) -> Flow {
    match Message::parse(reply.clone()) {
        Ok(m) => response_flow(&m, from),
        Err(_) => *from,
    }
}

/// The received/rport information for a request's top Via.
pub fn via_fix(from: &Flow) -> Option<ViaFix> {
    Some(ViaFix {
        source_ip: from.remote.ip(),
        source_port: from.remote.port(),
    })
}

/// Sends SIP messages from one worker: its UDP sockets (one per SIP address), and the
/// shared TCP connections.
#[derive(Clone)]
pub struct Transports {
    /// Each socket with whether it is an IPv6 one.
    udp: Arc<[(bool, Arc<tokio::net::UdpSocket>)]>,
    tcp: Arc<TcpHub>,
    metrics: Arc<Metrics>,
}

impl Transports {
    /// `udp` holds at least one socket.
    pub fn new(
        udp: Vec<Arc<tokio::net::UdpSocket>>,
        tcp: Arc<TcpHub>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let udp: Vec<_> = udp
            .into_iter()
            .map(|s| (s.local_addr().is_ok_and(|l| l.is_ipv6()), s))
            .collect();
        Transports {
            udp: udp.into(),
            tcp,
            metrics,
        }
    }

    pub fn send(&self, flow: &Flow, bytes: Bytes) {
        self.metrics.sent(&bytes);
        match flow.transport {
            Transport::Udp => {
                udp::send(self.udp_for(flow.remote), flow.remote, bytes, &self.metrics)
            }
            Transport::Tcp | Transport::Tls => self.tcp.send(flow, bytes),
        }
    }

    /// The UDP socket that reaches `remote`: the first of its address family (dual-stack
    /// flows: an IPv6 peer hears from the IPv6 address), else the first.
    pub fn udp_for(&self, remote: SocketAddr) -> &Arc<tokio::net::UdpSocket> {
        self.udp
            .iter()
            .find(|(v6, _)| *v6 == remote.is_ipv6())
            .map_or(&self.udp[0].1, |(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_go_to_the_source_unless_symmetric_routing_is_off() {
        let src = Flow::udp("192.0.2.1:40000".parse().unwrap());
        let without = Message::parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(response_flow_with(&without, &src, true), src);
        let tcp = Flow::tcp("192.0.2.1:40000".parse().unwrap(), None);
        assert_eq!(response_flow_with(&without, &tcp, false), tcp);
    }

    #[test]
    fn responses_follow_rport_or_the_via_port() {
        let src = Flow::udp("192.0.2.1:40000".parse().unwrap());
        let with_rport = Message::parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bK1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(
            response_flow_with(&with_rport, &src, false).remote,
            src.remote
        );
        let without = Message::parse(Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(
            response_flow_with(&without, &src, false).remote,
            "192.0.2.1:5062".parse().unwrap()
        );
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
