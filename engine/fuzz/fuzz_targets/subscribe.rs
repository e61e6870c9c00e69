//! A SUBSCRIBE as the notifier reads it: whatever ingress lets through (parsed and
//! validated) goes through the dialog, Event and Contact capability readers without
//! panicking, and the NOTIFY built from an accepted dialog parses again with the same
//! Call-ID, tags and body (so a subscriber's header values cannot break our requests or
//! inject header lines).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_engine::event::notify::{self, Notify};
use switchboard_engine::event::subscription::{event_package, event_param, Dialog, State};
use switchboard_engine::event::{Registry, MESSAGE_SUMMARY, PRESENCE};
use switchboard_engine::presence::caps::Caps;
use switchboard_engine::presence::PIDF;
use switchboard_engine::sip::{validate, HeaderName, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    // what ingress lets through to a Subscription
    if validate::request(&m).is_err() {
        return;
    }
    if let Some(e) = m.header(HeaderName::Event) {
        let _ = event_package(e);
        let _ = event_param(e, "id");
    }
    let registry = Registry::new([&PRESENCE, &MESSAGE_SUMMARY]);
    if let Some(p) = registry.find(m.header(HeaderName::Event)) {
        let _ = p.accepts(m.header(HeaderName::Accept));
    }
    for c in m.header_values(HeaderName::Contact) {
        let caps = Caps::from_contact(c);
        assert_eq!(caps.0 & !0x1f, 0, "only defined bits");
    }
    let Ok(d) = Dialog::from_subscribe(&m, "srv1") else {
        return;
    };
    let n = Notify {
        dialog: &d,
        via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfuzz",
        contact: "<sip:127.0.0.1:5060>",
        cseq: 1,
        state: State::Active,
        expires_in: 60,
        eventlist: false,
    };
    let bytes = notify::request(&n, Some((PIDF, b"<presence/>")));
    let back = Message::parse(bytes).expect("the NOTIFY of an accepted dialog parses");
    assert_eq!(back.call_id(), Some(d.call_id.as_str()));
    assert_eq!(back.from_tag(), Some("srv1"));
    assert_eq!(back.body(), b"<presence/>");
    assert_eq!(
        back.header(HeaderName::Event).map(event_package),
        Some(d.event.clone()),
        "the NOTIFY names the package of its SUBSCRIBE"
    );
});
