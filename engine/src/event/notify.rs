//! The NOTIFY requests of a subscription (RFC 6665 §4.2.2), the unsolicited NOTIFY of a
//! device that did not subscribe, and the header values around them.
//!
//! The fuzz target `subscribe` checks that the NOTIFY built from any dialog a SUBSCRIBE made
//! parses back with the same dialog, whatever the subscriber's tags, Contact and routes.

use bytes::Bytes;

use super::subscription::{Dialog, State};
use crate::sip::RequestBuilder;

/// One NOTIFY of a subscription.
#[derive(Debug, Clone, Copy)]
pub struct Notify<'a> {
    pub dialog: &'a Dialog,
    /// Our Via value, branch included.
    pub via: &'a str,
    /// Our Contact value (where in-dialog requests reach us).
    pub contact: &'a str,
    pub cseq: u32,
    pub state: State,
    pub expires_in: u32,
    /// A resource list NOTIFY (RFC 4662 §5.2: it carries `Require: eventlist`).
    pub eventlist: bool,
}

/// The `Subscription-State` value (RFC 6665 §8.2.3).
pub fn subscription_state(state: State, expires_in: u32) -> String {
    match state {
        State::Active => format!("active;expires={expires_in}"),
        State::Pending => format!("pending;expires={expires_in}"),
        State::Terminated(reason) => format!("terminated;reason={reason}"),
    }
}

/// The NOTIFY request, with `body` (content type and bytes) when it carries state.
pub fn request(n: &Notify<'_>, body: Option<(&str, &[u8])>) -> Bytes {
    let d = n.dialog;
    let from = format!("{};tag={}", d.local_uri, d.local_tag);
    let to = format!("{};tag={}", d.remote_uri, d.remote_tag);
    let cseq = format!("{} NOTIFY", n.cseq);
    let event = match &d.event_id {
        Some(id) => format!("{};id={id}", d.event),
        None => d.event.clone(),
    };
    let state = subscription_state(n.state, n.expires_in);
    let mut b = RequestBuilder::new("NOTIFY", &d.remote_target)
        .header("Via", n.via)
        .header("Max-Forwards", "70");
    for r in &d.route_set {
        b.push_header("Route", r);
    }
    let mut b = b
        .header("From", &from)
        .header("To", &to)
        .header("Call-ID", &d.call_id)
        .header("CSeq", &cseq)
        .header("Contact", n.contact)
        .header("Event", &event)
        .header("Subscription-State", &state);
    if n.eventlist {
        b = b.header("Require", "eventlist");
    }
    b.build(body)
}

/// A NOTIFY outside any subscription: the state of a resource sent to a device that did not
/// subscribe to it, as voicemail systems tell phones of their messages (RFC 3842 §3.9 leaves
/// this to local policy; RFC 6665 §4.2.2 asks every NOTIFY for `Subscription-State`).
///
/// It carries `Subscription-State: active` without an expiry, as Asterisk's unsolicited
/// message waiting does (phones that take unsolicited NOTIFYs expect it; one built on
/// pjsip or libre refuses a NOTIFY without the header as malformed).
#[derive(Debug, Clone, Copy)]
pub struct Unsolicited<'a> {
    /// The device's registered Contact URI.
    pub request_uri: &'a str,
    /// Our Via value, branch included.
    pub via: &'a str,
    /// The resource's name-addr (without a tag): From and To both name it.
    pub resource: &'a str,
    pub from_tag: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// Our Contact value.
    pub contact: &'a str,
    /// The event package.
    pub event: &'a str,
    /// The packages the switch serves (Allow-Events).
    pub allow_events: &'a str,
}

/// The unsolicited NOTIFY request with its body (content type and bytes).
pub fn unsolicited(n: &Unsolicited<'_>, body: (&str, &[u8])) -> Bytes {
    let from = format!("{};tag={}", n.resource, n.from_tag);
    let cseq = format!("{} NOTIFY", n.cseq);
    let mut b = RequestBuilder::new("NOTIFY", n.request_uri)
        .header("Via", n.via)
        .header("Max-Forwards", "70")
        .header("From", &from)
        .header("To", n.resource)
        .header("Call-ID", n.call_id)
        .header("CSeq", &cseq)
        .header("Contact", n.contact)
        .header("Event", n.event)
        .header("Subscription-State", "active");
    if !n.allow_events.is_empty() {
        b = b.header("Allow-Events", n.allow_events);
    }
    b.build(Some(body))
}

/// Whether an Accept header value allows `content_type` (no Accept: the package default,
/// PIDF for presence, is accepted).
pub fn accepts(accept: Option<&str>, content_type: &str) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    let (ty, _) = content_type.split_once('/').unwrap_or((content_type, ""));
    accept.split(',').any(|a| {
        let a = a.split(';').next().unwrap_or("").trim();
        a.eq_ignore_ascii_case(content_type)
            || a == "*/*"
            || a.strip_suffix("/*")
                .is_some_and(|t| t.eq_ignore_ascii_case(ty))
    })
}

/// Whether a list header (Supported, Require) names `tag`.
pub fn lists_tag<'a>(mut values: impl Iterator<Item = &'a str>, tag: &str) -> bool {
    values.any(|v| v.trim().eq_ignore_ascii_case(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::PIDF;
    use crate::sip::{HeaderName, Message};

    fn dialog() -> Dialog {
        Dialog {
            call_id: "c1@watcher".into(),
            local_tag: "srv1".into(),
            local_uri: "<sip:+15551230001@sb.test>".into(),
            remote_uri: "\"Ann\" <sip:+15551230002@sb.test>".into(),
            remote_tag: "w1".into(),
            remote_target: "sip:ann@127.0.0.1:5070".into(),
            route_set: vec!["<sip:edge.test;lr>".into()],
            event: "presence".into(),
            event_id: Some("7".into()),
        }
    }

    #[test]
    fn a_notify_parses_and_carries_the_dialog_state_and_body() {
        let d = dialog();
        let n = Notify {
            dialog: &d,
            via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn1",
            contact: "<sip:127.0.0.1:5060>",
            cseq: 3,
            state: State::Active,
            expires_in: 599,
            eventlist: false,
        };
        let m = Message::parse(request(&n, Some((PIDF, b"<presence/>")))).unwrap();
        assert_eq!(m.request_uri_str(), Some("sip:ann@127.0.0.1:5070"));
        assert_eq!(m.from_tag(), Some("srv1"));
        assert_eq!(m.to_tag(), Some("w1"));
        assert_eq!(m.call_id(), Some("c1@watcher"));
        assert_eq!(m.header(HeaderName::Event), Some("presence;id=7"));
        assert_eq!(
            m.header_by_name("Subscription-State"),
            Some("active;expires=599")
        );
        assert_eq!(m.header(HeaderName::Route), Some("<sip:edge.test;lr>"));
        assert_eq!(m.header(HeaderName::ContentType), Some(PIDF));
        assert_eq!(m.body(), b"<presence/>");
        assert!(m.header(HeaderName::Require).is_none());
    }

    #[test]
    fn a_final_notify_gives_its_reason_and_a_list_notify_requires_eventlist() {
        let d = dialog();
        let n = Notify {
            dialog: &d,
            via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn2",
            contact: "<sip:127.0.0.1:5060>",
            cseq: 4,
            state: State::Terminated("rejected"),
            expires_in: 0,
            eventlist: true,
        };
        let m = Message::parse(request(&n, None)).unwrap();
        assert_eq!(
            m.header_by_name("Subscription-State"),
            Some("terminated;reason=rejected")
        );
        assert_eq!(m.header(HeaderName::Require), Some("eventlist"));
        assert!(m.body().is_empty());
    }

    #[test]
    fn a_notify_names_the_package_of_its_dialog() {
        let mut d = dialog();
        d.event = "message-summary".into();
        d.event_id = None;
        let n = Notify {
            dialog: &d,
            via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn3",
            contact: "<sip:127.0.0.1:5060>",
            cseq: 1,
            state: State::Active,
            expires_in: 3600,
            eventlist: false,
        };
        let body = b"Messages-Waiting: no\r\n";
        let ct = "application/simple-message-summary";
        let m = Message::parse(request(&n, Some((ct, body)))).unwrap();
        assert_eq!(m.header(HeaderName::Event), Some("message-summary"));
        assert_eq!(m.header(HeaderName::ContentType), Some(ct));
    }

    #[test]
    fn an_unsolicited_notify_is_a_request_outside_any_dialog_with_the_state() {
        let n = Unsolicited {
            request_uri: "sip:1002@127.0.0.9:5070;transport=udp",
            via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKu1",
            resource: "<sip:1002@sb.test>",
            from_tag: "mw1",
            call_id: "mwi-1",
            cseq: 1,
            contact: "<sip:127.0.0.1:5060>",
            event: "message-summary",
            allow_events: "presence, message-summary",
        };
        let body = "Messages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\n";
        let ct = "application/simple-message-summary";
        let m = Message::parse(unsolicited(&n, (ct, body.as_bytes()))).unwrap();
        assert_eq!(m.method(), Some(crate::sip::Method::Notify));
        assert_eq!(m.request_uri_str(), Some(n.request_uri));
        assert_eq!(m.from_tag(), Some("mw1"));
        assert_eq!(m.to_tag(), None, "no dialog: the To has no tag");
        assert_eq!(m.header(HeaderName::Event), Some("message-summary"));
        assert_eq!(m.header_by_name("Subscription-State"), Some("active"));
        assert_eq!(
            m.header(HeaderName::AllowEvents),
            Some("presence, message-summary")
        );
        assert_eq!(m.header(HeaderName::ContentType), Some(ct));
        assert_eq!(m.body(), body.as_bytes());
    }

    #[test]
    fn accept_headers_allow_what_they_name_or_match_by_wildcard() {
        assert!(accepts(None, PIDF));
        assert!(accepts(Some("application/pidf+xml"), PIDF));
        assert!(accepts(Some("text/plain, application/*"), PIDF));
        assert!(accepts(Some("*/*;q=0.1"), PIDF));
        assert!(!accepts(Some("application/xpidf+xml"), PIDF));
        assert!(lists_tag(["100rel", " eventlist"].into_iter(), "eventlist"));
        assert!(!lists_tag(["100rel"].into_iter(), "eventlist"));
    }
}
