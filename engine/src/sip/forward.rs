//! Rewriting a received message for forwarding (RFC 3261 §16.6 requests, §16.7 responses).
//!
//! Only the parts a proxy must change are rewritten; every other header line, the body and
//! the line order are copied byte for byte, so what Switchboard forwards is what it received
//! plus its own Via and Record-Route. The one exception is a body the switch rewrites (SDP
//! pointed at its media relay): then Content-Type and Content-Length are written anew.

use std::fmt::Write as _;

use bytes::Bytes;

use super::builder::{copy_line, write_fixed_via, Cursor, ViaFix};
use super::header::HeaderName;
use super::lex;
use super::message::{Header, Message};

/// Edits applied while copying a message. Build with the setters, then `write`.
#[derive(Debug, Default)]
pub struct Forward<'a> {
    request_uri: Option<&'a str>,
    push_via: Option<&'a str>,
    fix_via: Option<ViaFix>,
    pop_via: bool,
    pop_route: bool,
    decrement_max_forwards: bool,
    record_route: [Option<&'a str>; 2],
    extra: Option<&'a str>,
    consumed_realm: Option<&'a str>,
    drop_history: bool,
    body: Option<(&'a str, &'a [u8])>,
}

impl<'a> Forward<'a> {
    /// Edits for forwarding a request: Max-Forwards decremented (70 added if absent).
    pub fn request() -> Self {
        Forward {
            decrement_max_forwards: true,
            ..Default::default()
        }
    }

    /// Edits for forwarding a response upstream: the top Via (ours) is removed.
    pub fn response() -> Self {
        Forward {
            pop_via: true,
            ..Default::default()
        }
    }

    /// Replaces the Request-URI (§16.6 step 2).
    pub fn request_uri(mut self, uri: &'a str) -> Self {
        self.request_uri = Some(uri);
        self
    }

    /// Inserts a Via value on top (§16.6 step 8).
    pub fn push_via(mut self, via: &'a str) -> Self {
        self.push_via = Some(via);
        self
    }

    /// Records `received`/`rport` in the previous hop's Via (§18.2.1, RFC 3581).
    pub fn fix_via(mut self, fix: Option<ViaFix>) -> Self {
        self.fix_via = fix;
        self
    }

    /// Removes the first Route value (it named this proxy, §16.4).
    pub fn pop_route(mut self) -> Self {
        self.pop_route = true;
        self
    }

    /// Inserts a Record-Route value on top (§16.6 step 4); call twice for double record-routing
    /// (RFC 5658) when the transport changes; the first value is written topmost.
    pub fn record_route(mut self, rr: &'a str) -> Self {
        if self.record_route[0].is_none() {
            self.record_route[0] = Some(rr);
        } else {
            self.record_route[1] = Some(rr);
        }
        self
    }

    /// Leaves out Proxy-Authorization credentials for `realm`: this proxy consumed them, and
    /// nobody downstream (a trunk, another provider) may see a subscriber's digest (§22.3).
    pub fn drop_credentials(mut self, realm: &'a str) -> Self {
        self.consumed_realm = Some(realm);
        self
    }

    /// Leaves out History-Info and Diversion: the request's history is rewritten by us, or
    /// came from a source whose claims about it are not to be passed on (a phone could claim
    /// any redirecting number to a carrier).
    pub fn drop_history(mut self) -> Self {
        self.drop_history = true;
        self
    }

    /// Replaces the body (and its Content-Type and Content-Length) with `body` of type
    /// `content_type`.
    pub fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Extra header lines (each terminated by CRLF) added after the copied headers.
    pub fn extra_headers(mut self, lines: &'a str) -> Self {
        self.extra = Some(lines);
        self
    }

    /// Writes the edited message into `out` (cleared first).
    pub fn write(&self, m: &Message, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(m.as_bytes().len() + 256);
        match (self.request_uri, m.method_str()) {
            (Some(uri), Some(method)) => {
                let _ = write!(Cursor(out), "{method} {uri} SIP/2.0\r\n");
            }
            _ => {
                let sl = m.bytes(m.start_line_span());
                out.extend_from_slice(sl);
                if !sl.ends_with(b"\r\n") {
                    out.pop();
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if let Some(via) = self.push_via {
            out.extend_from_slice(b"Via: ");
            out.extend_from_slice(via.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for rr in self.record_route.iter().flatten() {
            out.extend_from_slice(b"Record-Route: ");
            out.extend_from_slice(rr.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let mut first_via = true;
        let mut first_route = true;
        let mut saw_max_forwards = false;
        for h in m.headers() {
            match h.name {
                HeaderName::Via if first_via => {
                    first_via = false;
                    if self.pop_via {
                        write_rest_of_list(m, h, "Via", out);
                    } else if let Some(fix) = &self.fix_via {
                        write_fixed_via(m, h, fix, out);
                    } else {
                        copy_line(m, h, out);
                    }
                }
                HeaderName::Route if first_route && self.pop_route => {
                    first_route = false;
                    write_rest_of_list(m, h, "Route", out);
                }
                HeaderName::ProxyAuthorization
                    if self.consumed_realm.is_some_and(|r| {
                        super::digest::Credentials::parse(m.value_of(h)).is_ok_and(|c| c.realm == r)
                    }) => {}
                HeaderName::Other
                    if self.drop_history && {
                        let n = m.name_of(h);
                        n.eq_ignore_ascii_case("History-Info")
                            || n.eq_ignore_ascii_case("Diversion")
                    } => {}
                HeaderName::ContentLength | HeaderName::ContentType if self.body.is_some() => {}
                HeaderName::MaxForwards if self.decrement_max_forwards => {
                    saw_max_forwards = true;
                    let n = lex::parse_decimal(m.value_of(h), 255).unwrap_or(70);
                    let _ = write!(Cursor(out), "Max-Forwards: {}\r\n", n.saturating_sub(1));
                }
                _ => copy_line(m, h, out),
            }
        }
        if self.decrement_max_forwards && !saw_max_forwards {
            out.extend_from_slice(b"Max-Forwards: 70\r\n");
        }
        if let Some(extra) = self.extra {
            out.extend_from_slice(extra.as_bytes());
        }
        match self.body {
            Some((content_type, body)) => {
                let _ = write!(
                    Cursor(out),
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                out.extend_from_slice(body);
            }
            None => {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(m.body());
            }
        }
    }

    /// Convenience: the edited message as `Bytes`.
    pub fn to_bytes(&self, m: &Message) -> Bytes {
        let mut out = Vec::new();
        self.write(m, &mut out);
        Bytes::from(out)
    }
}

/// Writes a list header line without its first value (nothing if it had only one).
fn write_rest_of_list(m: &Message, h: &Header, name: &str, out: &mut Vec<u8>) {
    let value = m.value_of(h);
    let mut values = lex::split_commas(value);
    values.next();
    let rest: Vec<&str> = values.collect();
    if rest.is_empty() {
        return;
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    for (i, v) in rest.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Message {
        Message::parse(Bytes::copy_from_slice(s)).unwrap()
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
max-forwards: 70\r\n\
t: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Route: <sip:proxy.example.com;lr>, <sip:next.example.com;lr>\r\n\
X-Odd:   spaced   value  \r\n\
Subject: folded\r\n   over lines\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\
\r\n\
v=0\r\n";

    #[test]
    fn untouched_headers_are_copied_byte_for_byte() {
        let m = parse(INVITE.as_bytes());
        let out = Forward::request()
            .request_uri("sip:bob@192.0.2.7:5062")
            .push_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsb1")
            .record_route("<sip:127.0.0.1:5060;lr>")
            .pop_route()
            .to_bytes(&m);
        let text = std::str::from_utf8(&out).unwrap();
        for line in [
            "t: Bob <sip:bob@biloxi.com>\r\n",
            "X-Odd:   spaced   value  \r\n",
            "Subject: folded\r\n   over lines\r\n",
            "Call-ID: a84b4c76e66710\r\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
        let f = parse(&out);
        assert_eq!(f.request_uri_str(), Some("sip:bob@192.0.2.7:5062"));
        assert_eq!(f.max_forwards(), Some(69));
        assert_eq!(f.vias().count(), 2);
        assert_eq!(f.top_via().unwrap().branch(), Some("z9hG4bKsb1"));
        let routes: Vec<_> = f.routes().map(|r| r.uri().host().to_owned()).collect();
        assert_eq!(routes, ["next.example.com"]);
        assert_eq!(f.record_routes().count(), 1);
        assert_eq!(f.body(), m.body());
    }

    #[test]
    fn forwarding_with_no_edits_reproduces_the_message() {
        let m = parse(INVITE.as_bytes());
        let out = Forward::default().to_bytes(&m);
        assert_eq!(&out[..], m.as_bytes());
    }

    #[test]
    fn response_forwarding_pops_only_our_via() {
        let resp = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsb1, SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        let m = parse(resp.as_bytes());
        let f = parse(&Forward::response().to_bytes(&m));
        let vias: Vec<_> = f.vias().map(|v| v.host().to_owned()).collect();
        assert_eq!(vias, ["pc33.atlanta.com"]);
        assert_eq!(f.status(), Some(180));
        assert_eq!(f.to_tag(), Some("a6c85cf"));
    }

    #[test]
    fn credentials_for_our_realm_are_not_forwarded() {
        let m = parse(
            INVITE
                .replace(
                    "X-Odd",
                    "Proxy-Authorization: Digest username=\"1001\", realm=\"sb\", nonce=\"n\", uri=\"sip:x\", response=\"r\"\r\n\
Proxy-Authorization: Digest username=\"a\", realm=\"next\", nonce=\"n\", uri=\"sip:x\", response=\"r\"\r\nX-Odd",
                )
                .as_bytes(),
        );
        let f = parse(&Forward::request().drop_credentials("sb").to_bytes(&m));
        let left: Vec<&str> = f.header_lines(HeaderName::ProxyAuthorization).collect();
        assert_eq!(left.len(), 1);
        assert!(left[0].contains("realm=\"next\""), "{left:?}");
    }

    #[test]
    fn history_claims_can_be_left_out() {
        let m = parse(
            INVITE
                .replace(
                    "X-Odd",
                    "Diversion: <sip:+19005550100@evil.example>;reason=unconditional\r\n\
history-info: <sip:x@evil.example>;index=1\r\nX-Odd",
                )
                .as_bytes(),
        );
        let kept = parse(&Forward::request().to_bytes(&m));
        assert!(kept.header_by_name("Diversion").is_some());
        let f = parse(&Forward::request().drop_history().to_bytes(&m));
        assert!(f.header_by_name("Diversion").is_none());
        assert!(f.header_by_name("History-Info").is_none());
        assert!(f.header_by_name("X-Odd").is_some());
    }

    #[test]
    fn missing_max_forwards_is_added() {
        let m = parse(INVITE.replace("max-forwards: 70\r\n", "").as_bytes());
        let f = parse(&Forward::request().to_bytes(&m));
        assert_eq!(f.max_forwards(), Some(70));
    }

    #[test]
    fn a_rewritten_body_gets_its_own_content_type_and_length() {
        let m = Message::parse(Bytes::from_static(
            b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nl: 5\r\nc: text/plain\r\nCall-ID: x\r\n\r\nhello",
        ))
        .unwrap();
        let out = Forward::default()
            .body("application/sdp", b"v=0\r\n")
            .to_bytes(&m);
        let f = Message::parse(out).unwrap();
        assert_eq!(f.body(), b"v=0\r\n");
        assert_eq!(f.header(HeaderName::ContentType), Some("application/sdp"));
        assert_eq!(f.header(HeaderName::ContentLength), Some("5"));
        assert_eq!(f.header_values(HeaderName::ContentLength).count(), 1);
        assert_eq!(f.call_id(), Some("x"));
    }
}
