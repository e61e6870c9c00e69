//! Checks a parsed message before any layer acts on it (RFC 3261 §8.2, §16.3, §18.1.2).
//!
//! A request that fails is answered with the returned status and reason; a response that
//! fails is dropped (RFC 4475 §3.1.2.5, §3.1.2.19). Only the headers every element relies on
//! are checked (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route): everything else
//! stays lazily typed.

use super::header::HeaderName;
use super::lex;
use super::message::{CSeq, Message};
use super::name_addr::NameAddr;
use super::via::Via;

/// A request that must be refused, with the status and reason phrase to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
}

const fn bad(reason: &'static str) -> Reject {
    Reject { code: 400, reason }
}

/// Validates a request. On error the caller answers with `code reason` (it can, since the
/// headers needed to build a response were checked first).
pub fn request(m: &Message) -> Result<(), Reject> {
    for (name, label) in [
        (HeaderName::CallId, bad("Missing or repeated Call-ID")),
        (HeaderName::CSeq, bad("Missing or repeated CSeq")),
        (HeaderName::From, bad("Missing or repeated From")),
        (HeaderName::To, bad("Missing or repeated To")),
    ] {
        if m.count(name) != 1 {
            return Err(label);
        }
    }
    if m.count(HeaderName::Via) == 0 {
        return Err(bad("Missing Via"));
    }
    // the top Via through the message, which keeps it for every later reader
    m.top_via().ok_or(bad("Malformed Via"))?;
    for v in m.header_values(HeaderName::Via).skip(1) {
        Via::parse(v).map_err(|_| bad("Malformed Via"))?;
    }
    let call_id = m.call_id().unwrap_or("");
    if !valid_call_id(call_id) {
        return Err(bad("Malformed Call-ID"));
    }
    let cseq = m.header(HeaderName::CSeq).unwrap_or("");
    let cseq = CSeq::parse(cseq).map_err(|_| bad("Malformed CSeq"))?;
    if Some(cseq.method_str) != m.method_str() {
        return Err(bad("CSeq method does not match request method"));
    }
    // through the message, which keeps them for every later reader
    m.from().ok_or(bad("Malformed From"))?;
    m.to().ok_or(bad("Malformed To"))?;
    if m.count(HeaderName::MaxForwards) > 1 {
        return Err(bad("Repeated Max-Forwards"));
    }
    if let Some(v) = m.header(HeaderName::MaxForwards) {
        lex::parse_decimal(lex::trim(v), 255).ok_or(bad("Malformed Max-Forwards"))?;
    }
    for v in m.header_values(HeaderName::Contact) {
        if v == "*" {
            continue;
        }
        NameAddr::parse(v).map_err(|_| bad("Malformed Contact"))?;
    }
    for name in [HeaderName::Route, HeaderName::RecordRoute] {
        for v in m.header_values(name) {
            let na = NameAddr::parse(v).map_err(|_| bad("Malformed Route"))?;
            if !na.is_bracketed() {
                return Err(bad("Malformed Route"));
            }
        }
    }
    Ok(())
}

/// Validates a response; `false` means drop it.
pub fn response(m: &Message) -> bool {
    m.top_via().is_some()
        && m.header_values(HeaderName::Via)
            .skip(1)
            .all(|v| Via::parse(v).is_ok())
        && m.count(HeaderName::CSeq) == 1
        && m.cseq().is_some()
        && m.count(HeaderName::CallId) == 1
        && m.count(HeaderName::From) == 1
        && m.count(HeaderName::To) == 1
        && m.from().is_some()
        && m.to().is_some()
}

/// Call-ID = word [ "@" word ] (RFC 3261 §25.1).
pub fn valid_call_id(s: &str) -> bool {
    let mut parts = s.splitn(2, '@');
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_char);
    parts.next().is_some_and(word) && parts.next().is_none_or(word)
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~()<>:\\\"/[]?{}".contains(&c)
}

/// The option tags a request lists in `header` (Require or Proxy-Require), comma-joined, when
/// there are any (RFC 3261 §8.2.2.3, §16.3 step 5): Switchboard implements no option tag a
/// request may insist on yet, so any listed tag is unsupported.
pub fn required_extensions(m: &Message, header: HeaderName) -> Option<String> {
    let tags: Vec<&str> = m.header_values(header).filter(|t| !t.is_empty()).collect();
    (!tags.is_empty()).then(|| tags.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    const OK: &str = "OPTIONS sip:user@example.com SIP/2.0\n\
Via: SIP/2.0/UDP h;branch=z9hG4bK1\n\
To: <sip:user@example.com>\n\
From: <sip:c@example.com>;tag=1\n\
Call-ID: abc@h\n\
CSeq: 1 OPTIONS\n\
Max-Forwards: 70\n\n";

    #[test]
    fn a_well_formed_request_passes() {
        assert_eq!(request(&req(OK)), Ok(()));
    }

    #[test]
    fn cseq_method_must_match() {
        let r = request(&req(&OK.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")));
        assert_eq!(r.unwrap_err().code, 400);
    }

    #[test]
    fn missing_and_repeated_headers_are_rejected() {
        let r = request(&req(&OK.replace("Call-ID: abc@h\n", "")));
        assert_eq!(r.unwrap_err().reason, "Missing or repeated Call-ID");
        let r = request(&req(&OK.replace(
            "To: <sip:user@example.com>\n",
            "To: <sip:a@b>\nTo: <sip:c@d>\n",
        )));
        assert_eq!(r.unwrap_err().reason, "Missing or repeated To");
    }

    #[test]
    fn max_forwards_over_255_is_rejected() {
        let r = request(&req(&OK.replace("Max-Forwards: 70", "Max-Forwards: 300")));
        assert_eq!(r.unwrap_err().reason, "Malformed Max-Forwards");
    }

    #[test]
    fn call_ids_allow_the_word_alphabet() {
        assert!(valid_call_id(
            "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        ));
        assert!(!valid_call_id("has space@h"));
        assert!(!valid_call_id("a@b@c"));
        assert!(!valid_call_id(""));
    }

    #[test]
    fn required_extensions_lists_every_tag_a_request_insists_on() {
        let m = Message::parse(bytes::Bytes::from_static(
            b"OPTIONS sip:a@b SIP/2.0\r\nRequire: 100rel, timer\r\nProxy-Require: foo\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(
            required_extensions(&m, HeaderName::Require).as_deref(),
            Some("100rel, timer")
        );
        assert_eq!(
            required_extensions(&m, HeaderName::ProxyRequire).as_deref(),
            Some("foo")
        );
        assert_eq!(required_extensions(&m, HeaderName::Supported), None);
    }
}
