//! Route processing for requests this switch forwards (RFC 3261 §16.4, §16.12).

use crate::flow::Transport;
use crate::sip::{Message, Uri};

use super::local::Local;

/// Where a request goes next and what to remove on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The URI whose host, port and transport say where to send.
    pub uri: String,
    /// Remove the first Route value (it names us).
    pub pop_route: bool,
}

/// The next hop of a request that follows its own route (in-dialog requests, or any request
/// with a Route set): the first Route after ours, else the Request-URI.
pub fn next_hop(req: &Message, local: &Local) -> Option<NextHop> {
    let mut routes = req.routes();
    let (pop_route, next) = match routes.next() {
        Some(first) if local.is_us(first.uri()) => (true, routes.next()),
        Some(first) => (false, Some(first)),
        None => (false, None),
    };
    let uri = match next {
        Some(r) => r.uri().as_str().to_owned(),
        None => req.request_uri_str()?.to_owned(),
    };
    Some(NextHop { uri, pop_route })
}

/// Whether the request's first Route names us.
pub fn first_route_is_us(req: &Message, local: &Local) -> bool {
    req.routes().next().is_some_and(|r| local.is_us(r.uri()))
}

/// Host, port and transport to send to for a URI (maddr and transport parameters honoured;
/// transport defaults to UDP for `sip:` and TLS for `sips:`, RFC 3261 §26.2.2; port to 5060, or
/// 5061 for TLS, §19.1.2).
pub fn destination(uri: &Uri<'_>) -> (String, u16, Transport) {
    let host = uri.param("maddr").unwrap_or(uri.host());
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let transport = uri.transport().and_then(Transport::parse).unwrap_or(
        if uri.scheme() == crate::sip::Scheme::Sips {
            Transport::Tls
        } else {
            Transport::Udp
        },
    );
    // a `sips:` URI asking for another transport still means TLS (RFC 5630 §3.1.3)
    let transport = if uri.scheme() == crate::sip::Scheme::Sips {
        Transport::Tls
    } else {
        transport
    };
    (
        host,
        uri.port().unwrap_or(transport.default_port()),
        transport,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bye(routes: &[&str]) -> Message {
        let mut s = String::from(
            "BYE sip:callee@192.0.2.7:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
To: <sip:1001@sb>;tag=t\r\nFrom: <sip:1002@sb>;tag=f\r\nCall-ID: c\r\nCSeq: 2 BYE\r\n",
        );
        for r in routes {
            s.push_str(&format!("Route: {r}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(Bytes::from(s)).unwrap()
    }

    #[test]
    fn our_route_is_popped_and_the_request_uri_is_next() {
        let l = Local::new("127.0.0.1", 5060, "sb");
        let hop = next_hop(&bye(&["<sip:127.0.0.1:5060;lr>"]), &l).unwrap();
        assert_eq!(
            hop,
            NextHop {
                uri: "sip:callee@192.0.2.7:5062".into(),
                pop_route: true
            }
        );
    }

    #[test]
    fn the_next_route_wins_over_the_request_uri() {
        let l = Local::new("127.0.0.1", 5060, "sb");
        let hop = next_hop(&bye(&["<sip:127.0.0.1;lr>", "<sip:192.0.2.50;lr>"]), &l).unwrap();
        assert_eq!(
            hop,
            NextHop {
                uri: "sip:192.0.2.50;lr".into(),
                pop_route: true
            }
        );
        let hop = next_hop(&bye(&["<sip:192.0.2.50;lr>"]), &l).unwrap();
        assert!(!hop.pop_route);
    }

    #[test]
    fn destinations_honour_transport_and_maddr() {
        let u = Uri::parse("sip:a@192.0.2.7:5070;transport=TCP").unwrap();
        assert_eq!(destination(&u), ("192.0.2.7".into(), 5070, Transport::Tcp));
        let u = Uri::parse("sip:a@example.com;maddr=192.0.2.8").unwrap();
        assert_eq!(destination(&u), ("192.0.2.8".into(), 5060, Transport::Udp));
        let u = Uri::parse("sip:[2001:db8::1]:5070").unwrap();
        assert_eq!(destination(&u).0, "2001:db8::1");
    }

    #[test]
    fn sips_and_transport_tls_go_over_tls_on_5061_by_default() {
        let u = Uri::parse("sips:a@192.0.2.7").unwrap();
        assert_eq!(destination(&u), ("192.0.2.7".into(), 5061, Transport::Tls));
        let u = Uri::parse("sips:a@192.0.2.7:5071;transport=tcp").unwrap();
        assert_eq!(destination(&u), ("192.0.2.7".into(), 5071, Transport::Tls));
        let u = Uri::parse("sip:a@192.0.2.7;transport=tls").unwrap();
        assert_eq!(destination(&u), ("192.0.2.7".into(), 5061, Transport::Tls));
    }
}
