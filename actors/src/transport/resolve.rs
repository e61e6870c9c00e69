//! Where a request goes: a URI's host and port (IP literals at once, host names through the
//! system resolver), and the flow that reaches a registered contact.

use std::net::{IpAddr, SocketAddr};

use switchboard_engine::flow::{ConnId, Flow, Transport};
use switchboard_engine::proxy::route;
use switchboard_engine::sip::Uri;
use switchboard_engine::store::BindingRecord;

/// Where a URI resolves to, when its host is an IP literal (the common case for contacts and
/// Record-Route values); host names are resolved with `resolve`.
pub fn flow_for_uri(uri: &Uri<'_>) -> Option<Flow> {
    let (host, port, transport) = route::destination(uri);
    let ip: IpAddr = host.parse().ok()?;
    Some(Flow {
        transport,
        remote: SocketAddr::new(ip, port),
        conn: None,
    })
}

/// Resolves a URI's host with the system resolver.
pub async fn resolve(uri_text: String) -> Option<Flow> {
    let uri = Uri::parse(&uri_text).ok()?;
    if let Some(f) = flow_for_uri(&uri) {
        return Some(f);
    }
    let (host, port, transport) = route::destination(&uri);
    let mut addrs = tokio::net::lookup_host((host.as_str(), port)).await.ok()?;
    addrs.next().map(|remote| Flow {
        transport,
        remote,
        conn: None,
    })
}

/// Whether a device registered from behind NAT: its contact's address is not the one its
/// REGISTER came from. On UDP the port counts too; a stream device connects from a port of
/// its own choosing, so there only the IP does. A contact with a host name says nothing
/// either way (false).
pub fn behind_nat(b: &BindingRecord) -> bool {
    let Some(contact) = Uri::parse(&b.uri).ok().as_ref().and_then(flow_for_uri) else {
        return false;
    };
    match b.transport {
        Transport::Udp => contact.remote != b.source,
        _ => contact.remote.ip() != b.source.ip(),
    }
}

/// Where to send a request for a registered contact (RFC 3261 §10, with the flow reuse of
/// RFC 5626 when the device asked for it or is evidently behind NAT):
/// - a device that registered with `reg-id` (outbound), or whose contact is exactly the
///   address it registered from, is reached through that flow (its connection, for TCP);
/// - a contact on the same host as the REGISTER but another port is reached as written (a
///   TCP phone listens on another port than it connected from);
/// - a contact on another address (a private one behind NAT) is reached through the flow;
/// - a device registered over TLS is always reached through its connection: phones do not
///   accept TLS connections (they have no server certificate), and RFC 5626 §5.3 reuse is
///   what keeps the request on TLS.
pub fn flow_for_binding(b: &BindingRecord) -> Flow {
    let uri = Uri::parse(&b.uri).ok();
    let transport = uri
        .as_ref()
        .and_then(|u| u.transport())
        .and_then(Transport::parse)
        .unwrap_or(b.transport);
    let via_flow = Flow {
        transport: b.transport,
        remote: b.source,
        conn: b.conn.map(ConnId),
    };
    let direct = uri
        .as_ref()
        .and_then(flow_for_uri)
        .map(|f| Flow { transport, ..f });
    match direct {
        _ if b.reg_id.is_some() || b.transport == Transport::Tls => via_flow,
        Some(d) if d.remote == b.source && transport == b.transport => via_flow,
        Some(d) if d.remote.ip() == b.source.ip() => d,
        _ => via_flow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(uri: &str, transport: Transport, source: &str) -> BindingRecord {
        BindingRecord {
            uri: uri.into(),
            q: None,
            expires_at: 1,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport,
            source: source.parse().unwrap(),
            conn: Some(7),
            caps: switchboard_engine::presence::caps::Caps::AUDIO,
        }
    }

    #[test]
    fn a_contact_elsewhere_than_the_source_is_behind_nat() {
        let udp = Transport::Udp;
        let private = binding("sip:a@10.0.0.7:5060", udp, "198.51.100.4:31544");
        assert!(behind_nat(&private));
        assert_eq!(flow_for_binding(&private).remote, private.source);
        assert!(!behind_nat(&binding(
            "sip:a@198.51.100.4:31544",
            udp,
            "198.51.100.4:31544"
        )));
        assert!(behind_nat(&binding(
            "sip:a@198.51.100.4:5060",
            udp,
            "198.51.100.4:31544"
        )));
        let v6 = binding("sip:a@[2001:db8::7]:5060", udp, "[2001:db8::7]:5060");
        assert!(!behind_nat(&v6));
        // a stream phone connects from a port of its own: only the address counts
        let tcp = Transport::Tcp;
        let t = binding("sip:a@192.0.2.1:5060;transport=tcp", tcp, "192.0.2.1:40111");
        assert!(!behind_nat(&t));
        assert!(!behind_nat(&binding(
            "sip:a@phone.example",
            udp,
            "192.0.2.1:5060"
        )));
    }

    #[test]
    fn a_device_registered_over_tls_is_reached_on_its_connection() {
        // the contact names a listening port of its own, as phones write it: over TCP that
        // port is dialled, over TLS the registering connection is reused
        let tls = binding(
            "sip:1001@192.0.2.5:5062;transport=tls",
            Transport::Tls,
            "192.0.2.5:40123",
        );
        assert_eq!(
            flow_for_binding(&tls),
            Flow::tls("192.0.2.5:40123".parse().unwrap(), Some(ConnId(7)))
        );
        let tcp = binding(
            "sip:1001@192.0.2.5:5062;transport=tcp",
            Transport::Tcp,
            "192.0.2.5:40123",
        );
        assert_eq!(
            flow_for_binding(&tcp).remote,
            "192.0.2.5:5062".parse().unwrap()
        );
    }
}
