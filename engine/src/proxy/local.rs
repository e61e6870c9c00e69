//! This switch as it appears in Via, Record-Route and Route headers.

use std::fmt::Write as _;

use crate::flow::Transport;
use crate::sip::Uri;

/// The addresses Switchboard listens on and the domain it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Host written in Via and Record-Route (an IP literal, IPv6 in brackets).
    pub host: String,
    /// The UDP and TCP port.
    pub port: u16,
    /// The TLS port, when SIP over TLS is on (RFC 3261 §26.2; 5061 unless configured).
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

    /// The port we listen on for `transport`: what our Via, Record-Route and Contact name
    /// when a message leaves by it.
    pub fn port_for(&self, transport: Transport) -> u16 {
        match (transport, self.tls_port) {
            (Transport::Tls, Some(p)) => p,
            _ => self.port,
        }
    }

    /// Our Contact for `transport`: the address we listen on, with a `transport` parameter
    /// unless UDP.
    pub fn contact(&self, transport: Transport) -> String {
        let port = self.port_for(transport);
        match transport {
            Transport::Udp => format!("<sip:{}:{}>", self.host, port),
            t => format!("<sip:{}:{};transport={}>", self.host, port, t.param()),
        }
    }

    /// Our Via value for `transport` with `branch`; `rport` asks the next hop to record our
    /// source port (RFC 3581).
    pub fn via(&self, transport: Transport, branch: &str) -> String {
        let mut s = String::with_capacity(64 + branch.len());
        let _ = write!(
            s,
            "SIP/2.0/{} {}:{};branch={};rport",
            transport,
            self.host,
            self.port_for(transport),
            branch
        );
        s
    }

    /// Our Record-Route value for the side of the call that uses `transport`.
    pub fn record_route(&self, transport: Transport) -> String {
        let port = self.port_for(transport);
        match transport {
            Transport::Udp => format!("<sip:{}:{};lr>", self.host, port),
            t => format!("<sip:{}:{};transport={};lr>", self.host, port, t.param()),
        }
    }

    /// Whether a Route or Request-URI names this switch.
    pub fn is_us(&self, uri: &Uri<'_>) -> bool {
        let (_, port, _) = super::route::destination(uri);
        self.is_our_port(port)
            && (uri.host().eq_ignore_ascii_case(&self.host)
                || uri.host().eq_ignore_ascii_case(&self.domain))
    }

    /// Whether a host in a From or Request-URI names this switch: its domain, its address, a
    /// loopback name, or any IP literal (phones configured with the switch's address put it
    /// there; only a foreign domain name marks another provider's user).
    pub fn is_our_host(&self, host: &str) -> bool {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case(&self.domain)
            || h.eq_ignore_ascii_case(&self.host)
            || h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>().is_ok()
    }

    /// Whether a host names this switch exactly: its domain, its own address, `localhost`.
    /// For addresses a routing decision gives, where another IP literal is another switch.
    pub fn names_us(&self, host: &str) -> bool {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case(&self.domain)
            || h.eq_ignore_ascii_case(&self.host)
            || h.eq_ignore_ascii_case("localhost")
    }

    /// Whether a Via sent-by is ours.
    pub fn is_our_sent_by(&self, host: &str, port: Option<u16>) -> bool {
        self.is_our_port(port.unwrap_or(5060)) && host.eq_ignore_ascii_case(&self.host)
    }

    /// Whether we listen on `port` (for UDP and TCP, or for TLS).
    fn is_our_port(&self, port: u16) -> bool {
        port == self.port || Some(port) == self.tls_port
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
