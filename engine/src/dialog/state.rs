//! The state of a dialog the switch is a party to (RFC 3261 §12.1): its identifiers, the
//! remote target and route set our requests follow, and both CSeq spaces; and the requests
//! the switch sends inside it (§12.2.1.1), the ACK of a 2xx among them (§13.2.2.4).
//!
//! Built from the INVITE the switch answers (`uas`, §12.1.1) or from the 2xx to the INVITE it
//! sent (`uac`, §12.1.2). Requests from the peer are matched (`owns_request`), their CSeq
//! checked for order (`accept_remote_seq`, §12.2.2), and target-refresh requests move the
//! remote target (`refresh_target`).

use std::fmt::Write as _;

use bytes::Bytes;

use crate::flow::Transport;
use crate::proxy::Local;
use crate::sip::{HeaderName, Message, NameAddr, RequestBuilder};

/// The methods the switch takes inside its own dialogs (Allow, RFC 3261 §20.5).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// One dialog, from our side.
#[derive(Debug, Clone)]
pub(super) struct DialogState {
    call_id: String,
    local_tag: String,
    remote_tag: String,
    /// The From of our requests: our address with our tag.
    local_address: String,
    /// The To of our requests: the peer's address with its tag.
    remote_address: String,
    /// Where our requests go (the peer's Contact), unless a route set says first.
    remote_target: String,
    /// Route values (`<uri>`), the first hop first.
    route_set: Vec<String>,
    /// The CSeq of our last request (0: none yet; the first is 1).
    local_seq: u32,
    /// The highest CSeq the peer used.
    remote_seq: Option<u32>,
    local: Local,
    transport: Transport,
}

impl DialogState {
    /// The dialog our 1xx or 2xx with `local_tag` creates for `invite` (§12.1.1): the route
    /// set is its Record-Route in order, the remote target its Contact.
    pub(super) fn uas(
        invite: &Message,
        local_tag: &str,
        local: &Local,
        transport: Transport,
    ) -> DialogState {
        let mut local_address = invite
            .header(HeaderName::To)
            .unwrap_or("")
            .trim()
            .to_owned();
        let _ = write!(local_address, ";tag={local_tag}");
        DialogState {
            call_id: invite.call_id().unwrap_or("").to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: invite.from_tag().unwrap_or("").to_owned(),
            local_address,
            remote_address: invite
                .header(HeaderName::From)
                .unwrap_or("")
                .trim()
                .to_owned(),
            remote_target: target_of(invite)
                .or_else(|| invite.from().map(|f| f.uri().as_str().to_owned()))
                .unwrap_or_default(),
            route_set: invite.record_routes().map(|r| bracketed(&r)).collect(),
            local_seq: 0,
            remote_seq: invite.cseq().map(|c| c.seq),
            local: local.clone(),
            transport,
        }
    }

    /// The dialog `ok` (a 2xx to `invite`, the INVITE as we sent it) creates (§12.1.2): the
    /// route set is the 2xx's Record-Route reversed, the remote target its Contact.
    pub(super) fn uac(
        invite: &Message,
        ok: &Message,
        local: &Local,
        transport: Transport,
    ) -> DialogState {
        let mut route_set: Vec<String> = ok.record_routes().map(|r| bracketed(&r)).collect();
        route_set.reverse();
        DialogState {
            call_id: invite.call_id().unwrap_or("").to_owned(),
            local_tag: invite.from_tag().unwrap_or("").to_owned(),
            remote_tag: ok.to_tag().unwrap_or("").to_owned(),
            local_address: invite
                .header(HeaderName::From)
                .unwrap_or("")
                .trim()
                .to_owned(),
            remote_address: ok.header(HeaderName::To).unwrap_or("").trim().to_owned(),
            // a 2xx without Contact breaks §12.1.2; the Request-URI is the best guess left
            remote_target: target_of(ok)
                .unwrap_or_else(|| invite.request_uri_str().unwrap_or("").to_owned()),
            route_set,
            local_seq: invite.cseq().map_or(1, |c| c.seq),
            remote_seq: None,
            local: local.clone(),
            transport,
        }
    }

    pub(super) fn call_id(&self) -> &str {
        &self.call_id
    }

    pub(super) fn local_tag(&self) -> &str {
        &self.local_tag
    }

    pub(super) fn remote_tag(&self) -> &str {
        &self.remote_tag
    }

    pub(super) fn transport(&self) -> Transport {
        self.transport
    }

    /// Our Contact (the target the peer sends its requests to).
    pub(super) fn contact(&self) -> String {
        contact_of(&self.local, self.transport)
    }

    /// Whether a request from the peer belongs to this dialog (§12.2.2: Call-ID, our tag in
    /// To, its tag in From).
    pub(super) fn owns_request(&self, req: &Message) -> bool {
        req.call_id() == Some(self.call_id.as_str())
            && req.to_tag() == Some(self.local_tag.as_str())
            && req.from_tag().unwrap_or("") == self.remote_tag
    }

    /// Whether the CSeq of a new request from the peer is in order (§12.2.2: lower than one
    /// already seen is refused with 500), remembering it when it is.
    pub(super) fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq.is_some_and(|r| seq < r) {
            return false;
        }
        self.remote_seq = Some(seq);
        true
    }

    /// A target refresh request (re-INVITE, UPDATE) moves the remote target to its Contact
    /// (§12.2.2).
    pub(super) fn refresh_target(&mut self, req: &Message) {
        if let Some(t) = target_of(req) {
            self.remote_target = t;
        }
    }

    /// Where our requests go first: the first route, else the remote target (§8.1.2).
    pub(super) fn next_hop(&self) -> String {
        match self.route_set.first() {
            Some(r) => strip_brackets(r).to_owned(),
            None => self.remote_target.clone(),
        }
    }

    /// A new request of ours (§12.2.1.1), with the next CSeq, `branch` in our Via, `extra`
    /// headers and `body`; and where it goes first.
    pub(super) fn request(
        &mut self,
        method: &str,
        branch: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> (Bytes, String) {
        self.local_seq = self.local_seq.saturating_add(1);
        let mut b = self.head(method, self.local_seq, branch);
        for (name, value) in extra {
            b.push_header(name, value);
        }
        (b.build(body), self.next_hop())
    }

    /// The ACK of the 2xx to our INVITE with CSeq `seq` (§13.2.2.4): a transaction of its
    /// own (a new branch), the INVITE's CSeq number, its credentials in `extra`.
    pub(super) fn ack(&self, seq: u32, branch: &str, extra: &[(&str, &str)]) -> (Bytes, String) {
        let mut b = self.head("ACK", seq, branch);
        for (name, value) in extra {
            b.push_header(name, value);
        }
        (b.build(None), self.next_hop())
    }

    /// Request line and the headers every request in the dialog carries.
    fn head(&self, method: &str, seq: u32, branch: &str) -> RequestBuilder {
        // §12.2.1.1: a strict router first in the route set takes the Request-URI, and the
        // remote target goes last in Route
        let strict = self
            .route_set
            .first()
            .is_some_and(|r| NameAddr::parse(r).is_ok_and(|n| !n.uri().is_loose_route()));
        let (uri, routes) = if strict {
            (strip_brackets(&self.route_set[0]), &self.route_set[1..])
        } else {
            (self.remote_target.as_str(), &self.route_set[..])
        };
        let mut b = RequestBuilder::new(method, uri);
        b.push_header("Via", &self.local.via(self.transport, branch));
        b.push_header("Max-Forwards", "70");
        for r in routes {
            b.push_header("Route", r);
        }
        if strict {
            b.push_header("Route", &format!("<{}>", self.remote_target));
        }
        b.push_header("From", &self.local_address);
        b.push_header("To", &self.remote_address);
        b.push_header("Call-ID", &self.call_id);
        b.push_header("CSeq", &format!("{seq} {method}"));
        b
    }
}

/// Our Contact for `transport`: the address we listen on.
pub(super) fn contact_of(local: &Local, transport: Transport) -> String {
    local.contact(transport)
}

/// The URI inside `<...>` (a Route value), or the value itself.
pub(super) fn strip_brackets(v: &str) -> &str {
    let v = v.trim();
    match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    }
}

/// A route value from a Record-Route entry: its URI in brackets (header parameters left).
fn bracketed(r: &NameAddr<'_>) -> String {
    format!("<{}>", r.uri().as_str())
}

/// The URI of the first Contact of a message.
fn target_of(m: &Message) -> Option<String> {
    m.contacts().next().map(|c| c.uri().as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace("\r\n", "\n").replace('\n', "\r\n"))).unwrap()
    }

    const INVITE: &str = "INVITE sip:conf-a@sb.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKi1
Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>
From: \"Kim\" <sip:1001@sb.example>;tag=k1
To: <sip:conf-a@sb.example>
Call-ID: d1
CSeq: 10 INVITE
Contact: <sip:1001@192.0.2.1:5062>
Content-Length: 0

";

    #[test]
    fn a_uas_dialog_routes_by_the_record_route_in_order_and_counts_its_own_cseq() {
        let local = Local::new("127.0.0.1", 5060, "sb.example");
        let inv = msg(INVITE);
        let mut d = DialogState::uas(&inv, "us", &local, Transport::Udp);
        let (bye, hop) = d.request("BYE", "z9hG4bKsbx", &[("Reason", "SIP;cause=200")], None);
        let bye = Message::parse(bye).unwrap();
        assert_eq!(hop, "sip:p2.example;lr");
        assert_eq!(bye.request_uri_str(), Some("sip:1001@192.0.2.1:5062"));
        let routes: Vec<&str> = bye.routes().map(|r| r.uri().as_str()).collect();
        assert_eq!(routes, ["sip:p2.example;lr", "sip:p1.example;lr"]);
        assert_eq!((bye.from_tag(), bye.to_tag()), (Some("us"), Some("k1")));
        assert_eq!(bye.cseq().unwrap().seq, 1);
        assert_eq!(crate::sip::validate::request(&bye), Ok(()));
        let (again, _) = d.request("BYE", "z9hG4bKsby", &[], None);
        assert_eq!(Message::parse(again).unwrap().cseq().unwrap().seq, 2);
        assert!(d.accept_remote_seq(11));
        assert!(!d.accept_remote_seq(10), "lower than seen: out of order");
    }

    #[test]
    fn a_uac_dialog_reverses_the_record_route_and_a_strict_router_takes_the_request_uri() {
        let local = Local::new("127.0.0.1", 5060, "sb.example");
        let inv = msg(&INVITE
            .replace(
                "Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\n",
                "",
            )
            .replace("tag=k1", "tag=ours"));
        let ok = msg("SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKi1
Record-Route: <sip:p2.example>, <sip:p1.example;lr>
From: \"Kim\" <sip:1001@sb.example>;tag=ours
To: <sip:conf-a@sb.example>;tag=far
Call-ID: d1
CSeq: 10 INVITE
Contact: <sip:a@192.0.2.7>
Content-Length: 0

");
        let d = DialogState::uac(&inv, &ok, &local, Transport::Udp);
        let (ack, hop) = d.ack(10, "z9hG4bKsba", &[]);
        let ack = Message::parse(ack).unwrap();
        assert_eq!(hop, "sip:p1.example;lr");
        assert_eq!(ack.request_uri_str(), Some("sip:a@192.0.2.7"));
        let routes: Vec<&str> = ack.routes().map(|r| r.uri().as_str()).collect();
        assert_eq!(routes, ["sip:p1.example;lr", "sip:p2.example"]);
        assert_eq!(ack.cseq().unwrap().seq, 10);
        assert_eq!(ack.to_tag(), Some("far"));

        // the peer's route set, reversed, with a strict router first (§12.2.1.1)
        let ok = msg(&String::from_utf8_lossy(ok.as_bytes()).replace(
            "<sip:p2.example>, <sip:p1.example;lr>",
            "<sip:p1.example;lr>, <sip:p2.example>",
        ));
        let mut d = DialogState::uac(&inv, &ok, &local, Transport::Udp);
        let (bye, hop) = d.request("BYE", "z9hG4bKsbb", &[], None);
        let bye = Message::parse(bye).unwrap();
        assert_eq!(bye.request_uri_str(), Some("sip:p2.example"));
        assert_eq!(hop, "sip:p2.example");
        let routes: Vec<&str> = bye.routes().map(|r| r.uri().as_str()).collect();
        assert_eq!(routes, ["sip:p1.example;lr", "sip:a@192.0.2.7"]);
        assert_eq!(bye.cseq().unwrap().seq, 11, "after the INVITE's");
    }
}
