//! Transport flows: which transport and peer a message came from or goes to.
//!
//! Plain values the engine can reason about without sockets: the actors map a `ConnId` to a
//! live connection.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport. `Tls` is TCP with TLS on top (RFC 3261 §26.2, RFC 5630): a stream like
/// TCP, the only transport a `sips:` request may leave by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Stream transports are reliable: no retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token used in Via headers.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The `transport=` URI parameter value.
    pub fn param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// Whether a connection-oriented stream carries it (TCP or TLS): framing by
    /// Content-Length and connection reuse apply.
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// The port a URI or Via without one means (RFC 3261 §19.1.2): 5061 for TLS.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            _ => 5060,
        }
    }

    /// From a Via token or `transport=` parameter.
    pub fn parse(s: &str) -> Option<Transport> {
        if s.eq_ignore_ascii_case("udp") {
            Some(Transport::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Some(Transport::Tcp)
        } else if s.eq_ignore_ascii_case("tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one stream connection for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a message came from, or where to send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub transport: Transport,
    pub remote: SocketAddr,
    /// The stream connection, when the message arrived on (or must leave by) one.
    pub conn: Option<ConnId>,
}

impl Flow {
    pub fn udp(remote: SocketAddr) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote,
            conn: None,
        }
    }

    pub fn tcp(remote: SocketAddr, conn: Option<ConnId>) -> Flow {
        Flow {
            transport: Transport::Tcp,
            remote,
            conn,
        }
    }

    pub fn tls(remote: SocketAddr, conn: Option<ConnId>) -> Flow {
        Flow {
            transport: Transport::Tls,
            remote,
            conn,
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.param(), self.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_a_reliable_stream_with_its_own_token_and_port() {
        let t = Transport::parse("TLS").unwrap();
        assert_eq!(t, Transport::Tls);
        assert!(t.is_reliable() && t.is_stream());
        assert_eq!(
            (t.via_token(), t.param(), t.default_port()),
            ("TLS", "tls", 5061)
        );
        assert!(!Transport::Udp.is_stream());
        assert_eq!(Transport::parse("tls"), Some(Transport::Tls));
        assert_eq!(Transport::parse("sctp"), None);
    }
}
