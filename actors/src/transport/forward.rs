//! Stateless forwarding (RFC 3261 §16.11): the ACK for a 2xx and stray 2xx retransmissions,
//! which belong to no transaction of this switch.

use std::net::{IpAddr, SocketAddr};

use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::proxy::{branch, route, Local};
use switchboard_engine::sip::{Forward, Message, Uri, ViaFix};

use super::resolve::{flow_for_uri, resolve};
use super::Transports;

/// Forwards an ACK (for a 2xx) along its route; `body` replaces its body (an answer pointed
/// at the media relay).
pub fn forward_ack(
    ack: &Message,
    local: &Local,
    transports: &Transports,
    fix: Option<ViaFix>,
    body: Option<(&str, &[u8])>,
) {
    let Some(hop) = route::next_hop(ack, local) else {
        return;
    };
    if !hop.pop_route && ack.request_uri().is_some_and(|u| local.is_us(&u)) {
        return; // addressed to us and routed nowhere: nothing to forward
    }
    let Ok(uri) = Uri::parse(&hop.uri) else {
        return;
    };
    let (host, _, transport) = route::destination(&uri);
    let toward = host.parse::<IpAddr>().ok();
    let via = local.via_to(transport, toward, &branch::stateless(ack, &local.realm));
    let mut fwd = Forward::request().push_via(&via).fix_via(fix);
    if hop.pop_route {
        fwd = fwd.pop_route();
    }
    if let Some((content_type, body)) = body {
        fwd = fwd.body(content_type, body);
    }
    let bytes = fwd.to_bytes(ack);
    match flow_for_uri(&uri) {
        Some(flow) => transports.send(&flow, bytes),
        None => {
            let t = transports.clone();
            actix_rt::spawn(async move {
                if let Some(flow) = resolve(hop.uri).await {
                    t.send(&flow, bytes);
                }
            });
        }
    }
}

/// Forwards a response that matches no transaction (a 2xx retransmission after the INVITE
/// transaction ended) to the next Via, never to a broadcast or multicast address
/// (RFC 4475 §3.3.11).
pub fn forward_response(resp: &Message, local: &Local, transports: &Transports) {
    let mut vias = resp.vias();
    let Some(top) = vias.next() else { return };
    if !local.is_our_sent_by(top.host(), top.port()) {
        return;
    }
    let Some(next) = vias.next() else { return };
    let ip = next
        .received()
        .or_else(|| next.host().trim_matches(['[', ']']).parse().ok());
    let Some(ip) = ip else { return };
    let unsafe_target = match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    };
    if unsafe_target {
        return;
    }
    let transport = Transport::parse(next.transport()).unwrap_or(Transport::Udp);
    let port = next
        .rport()
        .flatten()
        .or(next.port())
        .unwrap_or(transport.default_port());
    let flow = Flow {
        transport,
        remote: SocketAddr::new(ip, port),
        conn: None,
    };
    transports.send(&flow, Forward::response().to_bytes(resp));
}
