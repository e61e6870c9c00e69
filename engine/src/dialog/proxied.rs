//! What a record-routing proxy knows of a dialog it is in, enough to end it itself: the
//! switch hangs up both sides of a call whose media died (no RTP for `media.timeout_secs`),
//! as Kamailio's dialog module does.
//!
//! Learnt from the initial INVITE and its 2xx (RFC 3261 §12.1): each side's tag, URI and
//! remote target (Contact), and the route set each side uses, of which only the part beyond
//! this proxy matters for a request the proxy sends. Requests inside the dialog raise each
//! side's highest CSeq (`saw_request`), so a BYE the switch sends carries a CSeq above
//! anything that side has sent (§12.2.1.1). The BYE carries a Reason header (RFC 3326)
//! saying why.
//!
//! Sans-IO: messages in, request bytes out; the caller sends them in client transactions.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::media::Side;
use crate::proxy::local::uri_ip;
use crate::proxy::Local;
use crate::sip::{HeaderName, Message, RequestBuilder};

/// One side of the dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Party {
    /// Its From (caller) or To (callee) header value, with its tag.
    address: String,
    tag: String,
    /// Its remote target: the Contact URI it gave.
    target: String,
    /// The highest CSeq it sent in this dialog.
    cseq: u32,
}

/// A dialog the switch record-routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedDialog {
    call_id: String,
    caller: Party,
    callee: Party,
    /// Route values toward the callee beyond this proxy (the caller's route set after us).
    to_callee: Vec<String>,
    /// Route values toward the caller beyond this proxy (the callee's route set after us).
    to_caller: Vec<String>,
}

/// A request the switch sends into the dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub bytes: Bytes,
    /// Where it goes first: the first Route value beyond us, else the side's target.
    pub next_hop: String,
}

impl ProxiedDialog {
    /// The dialog of `invite` (as received from the caller) established by `ok` (its 2xx as
    /// received from the callee). `None` when either lacks what a dialog needs (tags, a
    /// Contact).
    pub fn new(invite: &Message, ok: &Message, local: &Local) -> Option<ProxiedDialog> {
        let from = invite.from()?;
        let to = ok.to()?;
        let caller = Party {
            address: invite.header(HeaderName::From)?.trim().to_owned(),
            tag: from.tag()?.to_owned(),
            target: invite.contacts().next()?.uri().as_str().to_owned(),
            cseq: invite.cseq()?.seq,
        };
        let callee = Party {
            address: ok.header(HeaderName::To)?.trim().to_owned(),
            tag: to.tag()?.to_owned(),
            target: ok.contacts().next()?.uri().as_str().to_owned(),
            cseq: 0,
        };
        // the Record-Route of the 2xx, top first, runs from the callee's side toward the
        // caller's (each proxy put its own on top on the way to the callee): the values
        // before ours lead to the callee, those after it to the caller
        let rr: Vec<String> = ok
            .record_routes()
            .map(|r| format!("<{}>", r.uri().as_str()))
            .collect();
        let ours = ok.record_routes().position(|r| local.is_us(r.uri()));
        let (to_callee, to_caller) = match ours {
            Some(i) => {
                // RFC 5658 double record-routing: our second value sits right below the first
                let mut after = i + 1;
                while ok
                    .record_routes()
                    .nth(after)
                    .is_some_and(|r| local.is_us(r.uri()))
                {
                    after += 1;
                }
                let mut to_callee: Vec<String> = rr[..i].to_vec();
                to_callee.reverse();
                (to_callee, rr[after..].to_vec())
            }
            None => (Vec::new(), Vec::new()),
        };
        Some(ProxiedDialog {
            call_id: invite.call_id()?.to_owned(),
            caller,
            callee,
            to_callee,
            to_caller,
        })
    }

    /// A request inside the dialog passed through: the CSeq of the side that sent it is
    /// remembered.
    pub fn saw_request(&mut self, req: &Message) {
        let (Some(tag), Some(cseq)) = (req.from_tag(), req.cseq()) else {
            return;
        };
        let party = if tag == self.caller.tag {
            &mut self.caller
        } else if tag == self.callee.tag {
            &mut self.callee
        } else {
            return;
        };
        party.cseq = party.cseq.max(cseq.seq);
    }

    /// The BYE the switch sends to `side` on behalf of the other, with `branch` for its Via
    /// and `reason` for its Reason header (RFC 3326: `SIP;cause=...;text="..."`).
    pub fn bye(&mut self, side: Side, local: &Local, branch: &str, reason: &str) -> Outgoing {
        let (to, from, route) = match side {
            Side::Callee => (&self.callee, &mut self.caller, &self.to_callee),
            Side::Caller => (&self.caller, &mut self.callee, &self.to_caller),
        };
        // a CSeq above anything the side we speak for sent, so the other side takes it
        from.cseq = from.cseq.saturating_add(1).max(1);
        let mut b = RequestBuilder::new("BYE", &to.target);
        let next_hop = route.first().map_or(&to.target, |r| r);
        let transport = transport_of(next_hop);
        b.push_header("Via", &local.via_to(transport, uri_ip(next_hop), branch));
        b.push_header("Max-Forwards", "70");
        for r in route {
            b.push_header("Route", r);
        }
        b.push_header("From", &from.address);
        b.push_header("To", &to.address);
        b.push_header("Call-ID", &self.call_id);
        let mut cseq = String::new();
        let _ = write!(cseq, "{} BYE", from.cseq);
        b.push_header("CSeq", &cseq);
        b.push_header("Reason", reason);
        let next_hop = route
            .first()
            .map(|r| r.trim_matches(['<', '>']).to_owned())
            .unwrap_or_else(|| to.target.clone());
        Outgoing {
            bytes: b.build(None),
            next_hop,
        }
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }
}

/// The transport a URI asks for (`transport=` parameter, TLS for `sips:`), UDP by default.
fn transport_of(uri: &str) -> crate::flow::Transport {
    let lower = uri.to_ascii_lowercase();
    if lower.contains("transport=tls") || lower.trim_start_matches('<').starts_with("sips:") {
        crate::flow::Transport::Tls
    } else if lower.contains("transport=tcp") {
        crate::flow::Transport::Tcp
    } else {
        crate::flow::Transport::Udp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn local() -> Arc<Local> {
        Arc::new(Local::new("192.0.2.1", 5060, "example.com"))
    }

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKa
Max-Forwards: 70
From: \"Alice\" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c1@host
CSeq: 5 INVITE
Contact: <sip:alice@10.0.0.7:5060>
Content-Length: 0

";

    fn ok(rr: &str) -> Message {
        msg(&format!(
            "SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKa
{rr}From: \"Alice\" <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b2
Call-ID: c1@host
CSeq: 5 INVITE
Contact: <sip:bob@192.0.2.50:5070>
Content-Length: 0

"
        ))
    }

    #[test]
    fn a_bye_to_each_side_speaks_for_the_other_with_a_higher_cseq() {
        let l = local();
        let mut d = ProxiedDialog::new(
            &msg(INVITE),
            &ok("Record-Route: <sip:192.0.2.1:5060;lr>\n"),
            &l,
        )
        .unwrap();
        let to_callee = d.bye(
            Side::Callee,
            &l,
            "z9hG4bKx",
            "SIP;cause=408;text=\"RTP timeout\"",
        );
        let m = Message::parse(to_callee.bytes.clone()).unwrap();
        assert_eq!(m.method_str(), Some("BYE"));
        assert_eq!(m.request_uri().unwrap().as_str(), "sip:bob@192.0.2.50:5070");
        assert_eq!(m.from_tag(), Some("a1"));
        assert_eq!(m.to_tag(), Some("b2"));
        assert_eq!(m.cseq().unwrap().seq, 6);
        assert_eq!(m.header(HeaderName::Route), None, "nothing beyond us");
        assert!(m
            .header_by_name("Reason")
            .is_some_and(|r| r.contains("RTP timeout")));
        assert_eq!(to_callee.next_hop, "sip:bob@192.0.2.50:5070");
        let to_caller = d.bye(Side::Caller, &l, "z9hG4bKy", "SIP;cause=408");
        let m = Message::parse(to_caller.bytes).unwrap();
        assert_eq!(m.request_uri().unwrap().as_str(), "sip:alice@10.0.0.7:5060");
        assert_eq!(m.from_tag(), Some("b2"));
        assert_eq!(m.to_tag(), Some("a1"));
        assert_eq!(m.cseq().unwrap().seq, 1, "the callee sent nothing yet");
    }

    #[test]
    fn requests_seen_raise_the_senders_cseq() {
        let l = local();
        let mut d = ProxiedDialog::new(
            &msg(INVITE),
            &ok("Record-Route: <sip:192.0.2.1:5060;lr>\n"),
            &l,
        )
        .unwrap();
        d.saw_request(&msg("BYE sip:alice@10.0.0.7 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKb
From: <sip:bob@example.com>;tag=b2
To: <sip:alice@example.com>;tag=a1
Call-ID: c1@host
CSeq: 41 INFO
Content-Length: 0

"));
        let m = Message::parse(d.bye(Side::Caller, &l, "z9hG4bKz", "SIP").bytes).unwrap();
        assert_eq!(m.cseq().unwrap().seq, 42);
    }

    #[test]
    fn proxies_beyond_us_stay_in_the_route() {
        let l = local();
        // callee-side proxy P3 on top, us, then the caller-side proxy P1
        let rr = "Record-Route: <sip:p3.example.net;lr>, <sip:192.0.2.1:5060;lr>\n\
                  Record-Route: <sip:p1.example.org;lr>\n";
        let mut d = ProxiedDialog::new(&msg(INVITE), &ok(rr), &l).unwrap();
        let to_callee = d.bye(Side::Callee, &l, "z9hG4bK1", "SIP");
        let m = Message::parse(to_callee.bytes).unwrap();
        assert_eq!(m.header(HeaderName::Route), Some("<sip:p3.example.net;lr>"));
        assert_eq!(to_callee.next_hop, "sip:p3.example.net;lr");
        let to_caller = d.bye(Side::Caller, &l, "z9hG4bK2", "SIP");
        let m = Message::parse(to_caller.bytes).unwrap();
        assert_eq!(m.header(HeaderName::Route), Some("<sip:p1.example.org;lr>"));
    }

    #[test]
    fn a_2xx_without_a_contact_or_tag_makes_no_dialog() {
        let l = local();
        let bad = msg("SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKa
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c1@host
CSeq: 5 INVITE
Content-Length: 0

");
        assert!(ProxiedDialog::new(&msg(INVITE), &bad, &l).is_none());
    }
}
