//! This switch as it appears in Via, Record-Route and Route headers.
//!
//! A dual-stack switch has two addresses: toward a peer reached over IPv6 it names its IPv6
//! one (in brackets, RFC 5118 §4), toward the others its first one. Headers naming either
//! are ours. A message leaving over TLS names the TLS port (RFC 3261 §26.2), on either
//! address.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::flow::Transport;
use crate::sip::Uri;

/// The addresses Switchboard listens on and the domain it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Host written in Via and Record-Route (an IP literal, IPv6 in brackets).
    pub host: String,
    /// The UDP and TCP port.
    pub port: u16,
    /// Our IPv6 host (in brackets) and port, when the switch listens on IPv6 as well.
    pub v6: Option<(String, u16)>,
    /// The TLS port, when SIP over TLS is on (5061 unless configured).
    pub tls_port: Option<u16>,
    /// The SIP domain (a name Route headers and From hosts may use for us).
    pub domain: String,
    /// The digest realm our subscribers authenticate in.
    pub realm: String,
}

impl Local {
    /// Our identity; the realm is the domain until `with_realm` says otherwise.
    pub fn new(host: impl Into<String>, port: u16, domain: impl Into<String>) -> Local {
        let domain = domain.into();
        Local {
            host: host.into(),
            port,
            v6: None,
            tls_port: None,
            realm: domain.clone(),
            domain,
        }
    }

    pub fn with_realm(mut self, realm: impl Into<String>) -> Local {
        self.realm = realm.into();
        self
    }

    /// Listens for SIP over TLS on `port` as well.
    pub fn with_tls_port(mut self, port: u16) -> Local {
        self.tls_port = Some(port);
        self
    }

    /// Our identity from the addresses the switch listens on: the first IPv4 one names us
    /// toward IPv4 peers (the first address when there is none), the first IPv6 one toward
    /// IPv6 peers.
    pub fn listening(addrs: &[SocketAddr], domain: impl Into<String>) -> Local {
        let v4 = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first());
        let (host, port) = v4.map_or(("127.0.0.1".to_owned(), 5060), host_port);
        let mut local = Local::new(host, port, domain);
        local.v6 = addrs.iter().find(|a| a.is_ipv6()).map(host_port);
        local
    }

    /// The host and UDP/TCP port that name us to a peer at `remote` (unknown: our first
    /// address).
    pub fn facing(&self, remote: Option<IpAddr>) -> (&str, u16) {
        match &self.v6 {
            Some((h, p)) if remote.is_some_and(|r| r.is_ipv6()) => (h, *p),
            _ => (&self.host, self.port),
        }
    }

    /// The host and port that name us to a peer at `remote` for a message leaving by
    /// `transport` (TLS: the TLS port).
    fn facing_by(&self, transport: Transport, remote: Option<IpAddr>) -> (&str, u16) {
        let (host, port) = self.facing(remote);
        match (transport, self.tls_port) {
            (Transport::Tls, Some(p)) => (host, p),
            _ => (host, port),
        }
    }

    /// The port we listen on for `transport` on our first address: what our Via,
    /// Record-Route and Contact name when a message leaves by it.
    pub fn port_for(&self, transport: Transport) -> u16 {
        self.facing_by(transport, None).1
    }

    /// Our Contact for `transport` on our first address.
    pub fn contact(&self, transport: Transport) -> String {
        self.contact_to(transport, None)
    }

    /// Our Contact value toward a peer at `remote`.
    pub fn contact_to(&self, transport: Transport, remote: Option<IpAddr>) -> String {
        let (host, port) = self.facing_by(transport, remote);
        match transport {
            Transport::Udp => format!("<sip:{host}:{port}>"),
            t => format!("<sip:{host}:{port};transport={}>", t.param()),
        }
    }

    /// `via` toward a peer at `remote`.
    pub fn via_to(&self, transport: Transport, remote: Option<IpAddr>, branch: &str) -> String {
        let (host, port) = self.facing_by(transport, remote);
        via_value(transport, host, port, branch)
    }

    /// `record_route` toward a peer at `remote`.
    pub fn record_route_to(&self, transport: Transport, remote: Option<IpAddr>) -> String {
        let (host, port) = self.facing_by(transport, remote);
        record_route_value(transport, host, port)
    }

    /// Our Via value for `transport` with `branch`; `rport` asks the next hop to record our
    /// source port (RFC 3581).
    pub fn via(&self, transport: Transport, branch: &str) -> String {
        self.via_to(transport, None, branch)
    }

    /// Our Record-Route value for the side of the call that uses `transport`.
    pub fn record_route(&self, transport: Transport) -> String {
        self.record_route_to(transport, None)
    }

    /// Our addresses: the first, and the IPv6 one, each with its UDP/TCP port.
    fn addresses(&self) -> impl Iterator<Item = (&str, u16)> {
        std::iter::once((self.host.as_str(), self.port))
            .chain(self.v6.iter().map(|(h, p)| (h.as_str(), *p)))
    }

    /// Whether `host:port` is one of our addresses (the TLS port on any of them).
    fn is_our_address(&self, host: &str, port: u16) -> bool {
        self.addresses()
            .any(|(h, p)| (p == port || Some(port) == self.tls_port) && same_host(host, h))
    }

    /// Whether we listen on `port` (for UDP and TCP, or for TLS).
    fn is_our_port(&self, port: u16) -> bool {
        self.addresses().any(|(_, p)| p == port) || Some(port) == self.tls_port
    }

    /// Whether a Route or Request-URI names this switch.
    pub fn is_us(&self, uri: &Uri<'_>) -> bool {
        // the port a URI means without one: 5061 for sips: and transport=tls (RFC 3261
        // §19.1.2; `route::destination` says the same, and imports this module)
        let tls = uri.scheme() == crate::sip::Scheme::Sips
            || uri
                .transport()
                .is_some_and(|t| Transport::parse(t) == Some(Transport::Tls));
        let by = if tls { Transport::Tls } else { Transport::Udp };
        let port = uri.port().unwrap_or(by.default_port());
        let host = uri.host();
        (self.is_our_port(port) && host.eq_ignore_ascii_case(&self.domain))
            || self.is_our_address(host, port)
    }

    /// Whether a host in a From or Request-URI names this switch: its domain, its address, a
    /// loopback name, or any IP literal (phones configured with the switch's address put it
    /// there; only a foreign domain name marks another provider's user).
    pub fn is_our_host(&self, host: &str) -> bool {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        // any IP literal counts, so it is tried before comparing with each address
        h.eq_ignore_ascii_case(&self.domain)
            || h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>().is_ok()
            || self.addresses().any(|(ours, _)| same_host(h, ours))
    }

    /// Whether a host names this switch exactly: its domain, its own address, `localhost`.
    /// For addresses a routing decision gives, where another IP literal is another switch.
    pub fn names_us(&self, host: &str) -> bool {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case(&self.domain)
            || self.addresses().any(|(ours, _)| same_host(h, ours))
            || h.eq_ignore_ascii_case("localhost")
    }

    /// Whether a Via sent-by is ours.
    pub fn is_our_sent_by(&self, host: &str, port: Option<u16>) -> bool {
        self.is_our_address(host, port.unwrap_or(5060))
    }
}

/// The address a URI (a Request-URI, a Route value with or without angle brackets) leads
/// to, when its host (or maddr) is an IP literal.
pub fn uri_ip(uri: &str) -> Option<IpAddr> {
    let inner = match uri.trim().strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or(""),
        None => uri.trim(),
    };
    let u = Uri::parse(inner).ok()?;
    match u.param("maddr") {
        Some(m) => crate::sip::uri::parse_host_ip(m),
        None => u.host_ip(),
    }
}

/// `host` and `port` as a URI or Via writes them (IPv6 in brackets).
fn host_port(a: &SocketAddr) -> (String, u16) {
    match a {
        SocketAddr::V4(v4) => (v4.ip().to_string(), v4.port()),
        SocketAddr::V6(v6) => (format!("[{}]", v6.ip()), v6.port()),
    }
}

/// Whether two hosts are the same: names case-insensitively, IP literals by value (IPv6 with
/// or without brackets, in any spelling, RFC 5118 §4.1).
fn same_host(a: &str, b: &str) -> bool {
    fn bare(h: &str) -> &str {
        h.trim_start_matches('[').trim_end_matches(']')
    }
    let (a, b) = (bare(a), bare(b));
    match (a.parse::<IpAddr>().ok(), b.parse::<IpAddr>().ok()) {
        (Some(x), Some(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

fn via_value(transport: Transport, host: &str, port: u16, branch: &str) -> String {
    let mut s = String::with_capacity(64 + branch.len());
    let _ = write!(
        s,
        "SIP/2.0/{} {}:{};branch={};rport",
        transport, host, port, branch
    );
    s
}

fn record_route_value(transport: Transport, host: &str, port: u16) -> String {
    match transport {
        Transport::Udp => format!("<sip:{host}:{port};lr>"),
        t => format!("<sip:{host}:{port};transport={};lr>", t.param()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_hosts_are_the_domain_the_address_and_ip_literals() {
        let l = Local::new("127.0.0.1", 5060, "sb.example");
        for h in [
            "sb.example",
            "SB.EXAMPLE",
            "127.0.0.1",
            "localhost",
            "[::1]",
            "192.0.2.9",
        ] {
            assert!(l.is_our_host(h), "{h}");
        }
        assert!(!l.is_our_host("other.example"));
        assert!(l.names_us("127.0.0.1") && l.names_us("SB.example"));
        assert!(
            !l.names_us("10.1.2.3"),
            "another switch's address is not us"
        );
    }

    #[test]
    fn routes_naming_our_address_or_domain_are_ours() {
        let l = Local::new("127.0.0.1", 5060, "sb.example");
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1;lr").unwrap()));
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1:5060;transport=tcp;lr").unwrap()));
        assert!(l.is_us(&Uri::parse("sip:SB.example;lr").unwrap()));
        assert!(!l.is_us(&Uri::parse("sip:127.0.0.1:5070;lr").unwrap()));
        assert!(!l.is_us(&Uri::parse("sip:10.0.0.1;lr").unwrap()));
    }

    #[test]
    fn a_dual_stack_switch_names_the_address_of_the_peer_family() {
        let addrs: Vec<SocketAddr> = vec![
            "[::1]:5070".parse().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
        ];
        let l = Local::listening(&addrs, "sb");
        assert_eq!((l.host.as_str(), l.port), ("127.0.0.1", 5060));
        let v6: Option<IpAddr> = "::1".parse().ok();
        let v4: Option<IpAddr> = "127.0.0.2".parse().ok();
        assert_eq!(
            l.via_to(Transport::Udp, v6, "z9hG4bKx"),
            "SIP/2.0/UDP [::1]:5070;branch=z9hG4bKx;rport"
        );
        assert_eq!(
            l.record_route_to(Transport::Tcp, v6),
            "<sip:[::1]:5070;transport=tcp;lr>"
        );
        assert_eq!(
            l.record_route_to(Transport::Udp, v4),
            "<sip:127.0.0.1:5060;lr>"
        );
        assert_eq!(l.facing(uri_ip("<sip:a@[::1]:5000;lr>")), ("[::1]", 5070));
        assert_eq!(l.facing(uri_ip("sip:a@example.com")), ("127.0.0.1", 5060));
        assert_eq!(l.contact_to(Transport::Udp, v6), "<sip:[::1]:5070>");
        // either address, in any spelling, is ours
        assert!(l.is_us(&Uri::parse("sip:[0:0::1]:5070;lr").unwrap()));
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1;lr").unwrap()));
        assert!(!l.is_us(&Uri::parse("sip:[::1];lr").unwrap()));
        assert!(l.is_our_sent_by("[::1]", Some(5070)));
        assert!(l.names_us("[::1]"));
        let only6 = Local::listening(&addrs[..1], "sb");
        assert_eq!(only6.host, "[::1]");
        assert_eq!(
            only6.via_to(Transport::Udp, v4, "b"),
            "SIP/2.0/UDP [::1]:5070;branch=b;rport"
        );
    }

    #[test]
    fn record_route_names_the_transport_except_udp() {
        let l = Local::new("127.0.0.1", 5080, "sb");
        assert_eq!(l.record_route(Transport::Udp), "<sip:127.0.0.1:5080;lr>");
        assert_eq!(
            l.record_route(Transport::Tcp),
            "<sip:127.0.0.1:5080;transport=tcp;lr>"
        );
        assert_eq!(
            l.via(Transport::Tcp, "z9hG4bKx"),
            "SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bKx;rport"
        );
    }

    #[test]
    fn tls_names_the_tls_port_in_via_record_route_and_contact() {
        let l = Local::new("127.0.0.1", 5060, "sb").with_tls_port(5061);
        assert_eq!(
            l.via(Transport::Tls, "z9hG4bKx"),
            "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKx;rport"
        );
        assert_eq!(
            l.record_route(Transport::Tls),
            "<sip:127.0.0.1:5061;transport=tls;lr>"
        );
        assert_eq!(
            l.contact(Transport::Tls),
            "<sip:127.0.0.1:5061;transport=tls>"
        );
        assert_eq!(l.contact(Transport::Udp), "<sip:127.0.0.1:5060>");
        assert!(l.is_us(&Uri::parse("sip:127.0.0.1:5061;transport=tls;lr").unwrap()));
        assert!(l.is_us(&Uri::parse("sips:127.0.0.1;lr").unwrap()));
        assert!(l.is_our_sent_by("127.0.0.1", Some(5061)));
        assert!(!l.is_our_sent_by("127.0.0.1", Some(5062)));
    }
}
