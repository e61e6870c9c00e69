//! Telling the final callee where a forwarded call came from: History-Info (RFC 7044, with
//! RFC 4458 cause codes) and Diversion (RFC 5806, still what most gateways and PBXes read).
//!
//! The switch writes both for every forwarded request: one History-Info entry per address the
//! call was routed to (the first one dialed, then each forwarding target as a child of the one
//! before, carrying the cause of the retarget and `mp` pointing at its parent), and one
//! Diversion value per address the call left, most recent first. Addresses are canonical
//! numbers, names or checked URIs, so they are written without further escaping but `#`.

use std::fmt::Write as _;

use super::Hop;

/// The header lines (each ending in CRLF) for a request that reaches `current` after `hops`.
/// Empty when the call was not forwarded.
pub fn headers(hops: &[Hop], current: &str, domain: &str) -> String {
    let mut out = String::new();
    if hops.is_empty() {
        return out;
    }
    // History-Info: index 1, 1.1, 1.1.1, ...
    out.push_str("History-Info: ");
    let mut index = String::from("1");
    for (i, h) in hops.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let cause = (i > 0).then(|| hops[i - 1].reason.cause());
        entry(&mut out, &h.address, domain, cause, &index, i > 0);
        index.push_str(".1");
    }
    out.push_str(", ");
    let cause = hops.last().map(|h| h.reason.cause());
    entry(&mut out, current, domain, cause, &index, true);
    out.push_str("\r\n");
    // Diversion: most recent first
    out.push_str("Diversion: ");
    for (i, h) in hops.iter().rev().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('<');
        address_uri(&mut out, &h.address, domain);
        let _ = write!(out, ">;reason={};counter=1", h.reason.as_str());
    }
    out.push_str("\r\n");
    out
}

fn entry(out: &mut String, address: &str, domain: &str, cause: Option<u16>, index: &str, mp: bool) {
    out.push('<');
    address_uri(out, address, domain);
    if let Some(c) = cause {
        let _ = write!(out, ";cause={c}");
    }
    let _ = write!(out, ">;index={index}");
    if mp {
        // the parent of "1.1.1" is "1.1"
        let parent = &index[..index.len() - 2];
        let _ = write!(out, ";mp={parent}");
    }
}

/// A SIP URI for an address on the chain.
fn address_uri(out: &mut String, address: &str, domain: &str) {
    if address.starts_with("sip:") || address.starts_with("sips:") {
        out.push_str(address);
        return;
    }
    out.push_str("sip:");
    if address.contains('@') {
        out.push_str(address);
        return;
    }
    for c in address.chars() {
        if c == '#' {
            out.push_str("%23");
        } else {
            out.push(c);
        }
    }
    out.push('@');
    out.push_str(domain);
    if address.starts_with('+') {
        out.push_str(";user=phone");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::DiversionReason;
    use crate::sip::Message;

    fn hop(a: &str, r: DiversionReason) -> Hop {
        Hop {
            address: a.into(),
            reason: r,
        }
    }

    #[test]
    fn nothing_is_written_for_a_call_that_was_not_forwarded() {
        assert_eq!(headers(&[], "1001", "sb.example"), "");
    }

    #[test]
    fn each_hop_gets_an_entry_and_a_diversion() {
        let h = headers(
            &[
                hop("1001", DiversionReason::Unconditional),
                hop("+82111234567", DiversionReason::UserBusy),
            ],
            "1003",
            "sb.example",
        );
        assert_eq!(
            h,
            "History-Info: <sip:1001@sb.example>;index=1, \
             <sip:+82111234567@sb.example;user=phone;cause=302>;index=1.1;mp=1, \
             <sip:1003@sb.example;cause=486>;index=1.1.1;mp=1.1\r\n\
             Diversion: <sip:+82111234567@sb.example;user=phone>;reason=user-busy;counter=1, \
             <sip:1001@sb.example>;reason=unconditional;counter=1\r\n"
        );
    }

    #[test]
    fn the_headers_parse_in_a_request() {
        let h = headers(
            &[hop("62006200#082", DiversionReason::NoAnswer)],
            "sip:bob@other.example",
            "sb.example",
        );
        assert!(h.contains("<sip:62006200%23082@sb.example>;index=1"), "{h}");
        assert!(
            h.contains("<sip:bob@other.example;cause=408>;index=1.1;mp=1"),
            "{h}"
        );
        let text = format!(
            "INVITE sip:bob@other.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{h}\
             Content-Length: 0\r\n\r\n"
        );
        let m = Message::parse(bytes::Bytes::from(text)).unwrap();
        assert!(m.header_by_name("History-Info").is_some());
        assert!(m.header_by_name("Diversion").is_some());
    }
}
