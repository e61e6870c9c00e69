//! Building the messages Switchboard originates: responses to received requests
//! (RFC 3261 §8.2.6), new requests, and the CANCEL and non-2xx ACK derived from an INVITE
//! (§9.1, §17.1.1.3).
//!
//! Headers copied from a request (Via, From, To, Call-ID, CSeq) are copied as written, so a
//! phone sees its own bytes back.

use std::fmt::Write as _;
use std::net::IpAddr;

use bytes::Bytes;

use super::header::HeaderName;
use super::lex;
use super::message::Message;
use super::via::Via;

/// What the receiving transport learned about the sender, written into the top Via of
/// responses and forwarded requests (RFC 3261 §18.2.1, RFC 3581 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaFix {
    pub source_ip: IpAddr,
    pub source_port: u16,
}

impl ViaFix {
    /// The top Via value rewritten with `received`/`rport`, or `None` when it needs no change.
    pub fn apply(&self, via_text: &str) -> Option<String> {
        self.apply_parsed(&Via::parse(via_text).ok()?, via_text)
    }

    /// `apply` to `via`, already parsed from `via_text`.
    fn apply_parsed(&self, via: &Via<'_>, via_text: &str) -> Option<String> {
        let wants_rport = via.rport() == Some(None);
        let host_matches = via.host().parse::<IpAddr>().ok() == Some(self.source_ip)
            || super::uri::parse_host_ip(via.host()) == Some(self.source_ip);
        if !wants_rport && host_matches {
            return None;
        }
        let head_len = via_text.len() - via.params().len();
        let mut out = String::with_capacity(via_text.len() + 40);
        out.push_str(lex::trim(&via_text[..head_len]));
        let _ = lex::parse_params(via.params(), |p| {
            if p.name.eq_ignore_ascii_case("received") {
                return;
            }
            if p.name.eq_ignore_ascii_case("rport") {
                let _ = write!(out, ";rport={}", self.source_port);
                return;
            }
            out.push(';');
            out.push_str(p.name);
            if let Some(v) = p.value {
                out.push('=');
                out.push_str(v);
            }
        });
        match self.source_ip {
            IpAddr::V4(ip) => {
                let _ = write!(out, ";received={ip}");
            }
            IpAddr::V6(ip) => {
                let _ = write!(out, ";received=[{ip}]");
            }
        }
        Some(out)
    }
}

/// Builds a response to a received request.
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    code: u16,
    reason: &'a str,
    to_tag: Option<&'a str>,
    via_fix: Option<ViaFix>,
    copy_record_route: bool,
    extra: String,
    body: Option<(&'a str, &'a [u8])>,
}

impl<'a> ResponseBuilder<'a> {
    pub fn new(req: &'a Message, code: u16, reason: &'a str) -> Self {
        ResponseBuilder {
            req,
            code,
            reason,
            to_tag: None,
            via_fix: None,
            copy_record_route: false,
            extra: String::new(),
            body: None,
        }
    }

    /// Adds `;tag=` to To unless the request already carries one (§8.2.6.2). Ignored for 100.
    pub fn to_tag(mut self, tag: &'a str) -> Self {
        self.to_tag = Some(tag);
        self
    }

    pub fn via_fix(mut self, fix: Option<ViaFix>) -> Self {
        self.via_fix = fix;
        self
    }

    /// Copies Record-Route (a UAS answering a dialog-creating request, §12.1.1).
    pub fn record_route(mut self) -> Self {
        self.copy_record_route = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.extra.push_str(name);
        self.extra.push_str(": ");
        self.extra.push_str(value);
        self.extra.push_str("\r\n");
        self
    }

    pub fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    /// Bytes the response takes at most (a little more when `received`/`rport` grow past the
    /// room left for them): the buffer is made this large at once, and a response kept for
    /// retransmissions (a registrar's recent answers) holds no slack for the request's
    /// headers it does not copy (its Contact, Expires, User-Agent...).
    fn size_hint(&self) -> usize {
        let req = self.req;
        let copied: usize = req
            .headers()
            .iter()
            .filter(|h| match h.name {
                HeaderName::Via
                | HeaderName::From
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::To => true,
                HeaderName::RecordRoute => self.copy_record_route,
                _ => false,
            })
            .map(|h| h.line_span().len() + 2)
            .sum();
        let status = "SIP/2.0 000 \r\n".len() + self.reason.len();
        let tag = self.to_tag.map_or(0, |t| ";tag=".len() + t.len());
        // received=<IPv6 address>;rport=<port>
        let via = if self.via_fix.is_some() { 64 } else { 0 };
        let end = match self.body {
            Some((ctype, b)) => ctype.len() + b.len() + 48,
            None => "Content-Length: 0\r\n\r\n".len(),
        };
        status + copied + tag + via + self.extra.len() + end
    }

    pub fn build(self) -> Bytes {
        let req = self.req;
        let mut out = Vec::with_capacity(self.size_hint());
        let _ = write!(
            Cursor(&mut out),
            "SIP/2.0 {} {}\r\n",
            self.code,
            self.reason
        );
        let mut first_via = true;
        for h in req.headers() {
            match h.name {
                HeaderName::Via => {
                    if first_via {
                        first_via = false;
                        if let Some(fix) = self.via_fix {
                            write_fixed_via(req, h, &fix, &mut out);
                            continue;
                        }
                    }
                    copy_line(req, h, &mut out);
                }
                HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    copy_line(req, h, &mut out)
                }
                HeaderName::RecordRoute if self.copy_record_route => copy_line(req, h, &mut out),
                HeaderName::To => {
                    let v = req.value_of(h);
                    match self.to_tag {
                        Some(tag) if self.code > 100 && req.to_tag().is_none() => {
                            out.extend_from_slice(b"To: ");
                            out.extend_from_slice(v.as_bytes());
                            out.extend_from_slice(b";tag=");
                            out.extend_from_slice(tag.as_bytes());
                            out.extend_from_slice(b"\r\n");
                        }
                        _ => copy_line(req, h, &mut out),
                    }
                }
                _ => {}
            }
        }
        out.extend_from_slice(self.extra.as_bytes());
        finish(&mut out, self.body);
        Bytes::from(out)
    }
}

/// Builds a request Switchboard originates (test agents, the load runner, notifications).
pub struct RequestBuilder {
    out: Vec<u8>,
}

impl RequestBuilder {
    pub fn new(method: &str, uri: &str) -> Self {
        let mut out = Vec::with_capacity(512);
        let _ = write!(Cursor(&mut out), "{method} {uri} SIP/2.0\r\n");
        RequestBuilder { out }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.push_header(name, value);
        self
    }

    pub fn push_header(&mut self, name: &str, value: &str) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Finishes with Content-Length and an optional typed body.
    pub fn build(mut self, body: Option<(&str, &[u8])>) -> Bytes {
        finish(&mut self.out, body);
        Bytes::from(self.out)
    }
}

/// The CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To,
/// CSeq number and top Via; Route copied.
pub fn cancel_for(invite: &Message) -> Bytes {
    derived_request(invite, "CANCEL", None)
}

/// The hop-by-hop ACK for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3): To comes
/// from the response so it carries the tag.
pub fn ack_for(invite: &Message, response: &Message) -> Bytes {
    derived_request(invite, "ACK", Some(response))
}

fn derived_request(invite: &Message, method: &str, response: Option<&Message>) -> Bytes {
    let uri = invite.request_uri_str().unwrap_or("");
    let mut out = Vec::with_capacity(invite.head_end());
    let _ = write!(Cursor(&mut out), "{method} {uri} SIP/2.0\r\n");
    if let Some(top) = invite.header_values(HeaderName::Via).next() {
        out.extend_from_slice(b"Via: ");
        out.extend_from_slice(top.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for h in invite.headers() {
        match h.name {
            HeaderName::From | HeaderName::CallId | HeaderName::Route => {
                copy_line(invite, h, &mut out)
            }
            HeaderName::To => match response.and_then(|r| r.header(HeaderName::To)) {
                Some(to) => {
                    out.extend_from_slice(b"To: ");
                    out.extend_from_slice(to.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                None => copy_line(invite, h, &mut out),
            },
            HeaderName::CSeq => {
                let seq = invite.cseq().map_or(1, |c| c.seq);
                let _ = write!(Cursor(&mut out), "CSeq: {seq} {method}\r\n");
            }
            _ => {}
        }
    }
    out.extend_from_slice(b"Max-Forwards: 70\r\n");
    finish(&mut out, None);
    Bytes::from(out)
}

/// Copies one header line byte for byte, terminator included (normalized to CRLF).
pub(crate) fn copy_line(m: &Message, h: &super::message::Header, out: &mut Vec<u8>) {
    let line = m.bytes(h.line_span());
    out.extend_from_slice(line);
    if !line.ends_with(b"\r\n") {
        if line.ends_with(b"\n") {
            out.pop();
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes the first Via line with `fix` applied to its first value; later values on the same
/// line are kept.
pub(crate) fn write_fixed_via(
    m: &Message,
    h: &super::message::Header,
    fix: &ViaFix,
    out: &mut Vec<u8>,
) {
    let value = m.value_of(h);
    let mut values = lex::split_commas(value);
    let first = values.next().unwrap_or("");
    // `h` is the first Via line, so its first value is the message's top Via, parsed once
    let fixed = match m.top_via() {
        Some(via) => fix.apply_parsed(&via, first),
        None => fix.apply(first),
    };
    match fixed {
        Some(fixed) => {
            out.extend_from_slice(b"Via: ");
            out.extend_from_slice(fixed.as_bytes());
            out.extend_from_slice(b"\r\n");
            for rest in values {
                out.extend_from_slice(b"Via: ");
                out.extend_from_slice(rest.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        None => copy_line(m, h, out),
    }
}

/// Appends Content-Type (when there is a body), Content-Length, the empty line and the body.
fn finish(out: &mut Vec<u8>, body: Option<(&str, &[u8])>) {
    match body {
        Some((ctype, b)) => {
            let _ = write!(
                Cursor(out),
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                b.len()
            );
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
    }
}

/// `fmt::Write` over a byte vector.
pub(crate) struct Cursor<'a>(pub &'a mut Vec<u8>);

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;rport\n\
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710\n\
CSeq: 314159 INVITE\n\
Route: <sip:p1.example.com;lr>\n\
Contact: <sip:alice@pc33.atlanta.com>\n\
Content-Length: 0\n\n";

    /// The buffer is made as large as the response at once (it never grows while written),
    /// and holds little more: a response kept for retransmissions keeps no room for the
    /// request's headers it leaves out.
    #[test]
    fn response_buffer_is_sized_to_the_response() {
        let req = parse(INVITE);
        let v6 = ViaFix {
            source_ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe".parse().unwrap(),
            source_port: 65535,
        };
        let cases = [
            ResponseBuilder::new(&req, 100, "Trying"),
            ResponseBuilder::new(&req, 200, "OK")
                .to_tag("a8f3c2d9e1")
                .via_fix(Some(v6))
                .header("Contact", "<sip:alice@192.0.2.1:5060>;expires=3600")
                .header("Date", "Mon, 07 Dec 2026 10:00:00 GMT"),
            ResponseBuilder::new(&req, 180, "Ringing")
                .record_route()
                .body("application/sdp", b"v=0\r\n"),
        ];
        for b in cases {
            let hint = b.size_hint();
            let len = b.build().len();
            assert!(hint >= len, "hint {hint} < response {len}");
            assert!(hint <= len + 80, "hint {hint} for a response of {len}");
        }
        // the request's own head is larger than what is copied from it
        assert!(req.head_end() > ResponseBuilder::new(&req, 100, "Trying").size_hint());
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_to_tag() {
        let req = parse(INVITE);
        let fix = ViaFix {
            source_ip: "192.0.2.4".parse().unwrap(),
            source_port: 5062,
        };
        let resp = ResponseBuilder::new(&req, 486, "Busy Here")
            .to_tag("x1")
            .via_fix(Some(fix))
            .header("Retry-After", "60")
            .build();
        let r = Message::parse(resp).unwrap();
        assert_eq!(r.status(), Some(486));
        assert_eq!(r.reason(), Some("Busy Here"));
        assert_eq!(r.to_tag(), Some("x1"));
        assert_eq!(r.from_tag(), Some("1928301774"));
        assert_eq!(r.call_id(), Some("a84b4c76e66710"));
        let top = r.top_via().unwrap();
        assert_eq!(top.rport(), Some(Some(5062)));
        assert_eq!(top.received(), Some("192.0.2.4".parse().unwrap()));
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.header_by_name("retry-after"), Some("60"));
        assert!(r.header(HeaderName::Contact).is_none());
    }

    #[test]
    fn via_fix_adds_received_only_when_the_host_differs() {
        let fix = ViaFix {
            source_ip: "192.0.2.4".parse().unwrap(),
            source_port: 5060,
        };
        assert_eq!(
            fix.apply("SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK1"),
            None
        );
        assert_eq!(
            fix.apply("SIP/2.0/UDP host.example;branch=z9hG4bK1")
                .as_deref(),
            Some("SIP/2.0/UDP host.example;branch=z9hG4bK1;received=192.0.2.4")
        );
        assert_eq!(
            fix.apply("SIP/2.0/UDP 192.0.2.4;rport;branch=z9hG4bK1")
                .as_deref(),
            Some("SIP/2.0/UDP 192.0.2.4;rport=5060;branch=z9hG4bK1;received=192.0.2.4")
        );
    }

    #[test]
    fn cancel_matches_the_invite_transaction() {
        let inv = parse(INVITE);
        let c = Message::parse(cancel_for(&inv)).unwrap();
        assert_eq!(c.method_str(), Some("CANCEL"));
        assert_eq!(c.request_uri_str(), inv.request_uri_str());
        assert_eq!(c.vias().count(), 1);
        assert_eq!(c.top_via().unwrap().branch(), Some("z9hG4bKnashds8"));
        let cseq = c.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method_str), (314159, "CANCEL"));
        assert_eq!(c.routes().count(), 1);
        assert_eq!(super::super::validate::request(&c), Ok(()));
    }

    #[test]
    fn ack_takes_to_from_the_response() {
        let inv = parse(INVITE);
        let resp = Message::parse(
            ResponseBuilder::new(&inv, 404, "Not Found")
                .to_tag("t9")
                .build(),
        )
        .unwrap();
        let ack = Message::parse(ack_for(&inv, &resp)).unwrap();
        assert_eq!(ack.method_str(), Some("ACK"));
        assert_eq!(ack.to_tag(), Some("t9"));
        assert_eq!(ack.cseq().unwrap().method_str, "ACK");
        assert_eq!(super::super::validate::request(&ack), Ok(()));
    }

    #[test]
    fn request_builder_sets_content_length() {
        let r = RequestBuilder::new("MESSAGE", "sip:bob@b")
            .header("Via", "SIP/2.0/UDP a;branch=z9hG4bK1")
            .header("Call-ID", "x")
            .build(Some(("text/plain", b"hello")));
        let m = Message::parse(r).unwrap();
        assert_eq!(m.body(), b"hello");
        assert_eq!(m.header(HeaderName::ContentType), Some("text/plain"));
    }
}
