//! SIP transports: UDP sockets per worker and stream connections (TCP, TLS), with ingress
//! checks shared by all (parse, validate, answer what is malformed) and a send handle for the
//! actors.

pub mod forward;
pub mod ingress;
pub mod resolve;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::sip::{Message, ViaFix};

use crate::metrics::Metrics;

pub use ingress::{ingest, register_aor, route, Ingested, Ingress};
pub use resolve::{flow_for_binding, flow_for_uri, resolve};
pub use tcp::TcpHub;

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
            Transport::Tcp | Transport::Tls => self.tcp.send(flow, bytes),
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
