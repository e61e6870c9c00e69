//! Fuzz target for the SIP message layer: arbitrary bytes as a datagram and as a stream
//! chunk; everything that parses is validated, answered, forwarded and re-parsed. Nothing may
//! panic, what Switchboard itself writes must always parse back, the views a message keeps
//! (top Via, Request-URI) equal a fresh parse of their text, and a URI's user part as a call
//! record keeps it holds no control character.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_engine::cdr;
use switchboard_engine::sip::digest::{Challenge, Credentials};
use switchboard_engine::sip::{
    framing, malformed, validate, Forward, Message, NameAddr, ResponseBuilder, Uri, Via,
};

fuzz_target!(|data: &[u8]| {
    let _ = framing::next_frame(data, 65_535);
    match Message::parse(Bytes::copy_from_slice(data)) {
        Err(e) => {
            if let Some(answer) = malformed::answer(data, &e) {
                // our 400 is built from the sender's own header lines
                let _ = Message::parse(answer);
            }
        }
        Ok(m) => {
            use switchboard_engine::sip::HeaderName;
            let first_via = m.header_values(HeaderName::Via).next();
            for _ in 0..2 {
                // the first call keeps the view, the second rebuilds it
                assert_eq!(m.top_via(), first_via.and_then(|v| Via::parse(v).ok()));
                assert_eq!(
                    m.request_uri(),
                    m.request_uri_str().and_then(|s| Uri::parse(s).ok())
                );
            }
            let _ = (
                m.cseq(),
                m.top_via(),
                m.from(),
                m.to(),
                m.request_uri(),
                m.max_forwards(),
                m.expires(),
            );
            let _ = (
                m.contacts().count(),
                m.routes().count(),
                m.record_routes().count(),
                m.vias().count(),
            );
            if m.is_request() && validate::request(&m).is_ok() {
                let resp = ResponseBuilder::new(&m, 486, "Busy Here")
                    .to_tag("fz")
                    .build();
                let r = Message::parse(resp).expect("a response we build parses");
                assert!(validate::response(&r), "a response we build validates");
                let fwd = Forward::request()
                    .push_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsbfuzz.00000000;rport")
                    .record_route("<sip:127.0.0.1:5060;lr>")
                    .to_bytes(&m);
                let f = Message::parse(fwd).expect("a request we forward parses");
                assert_eq!(f.body(), m.body());
                assert_eq!(f.call_id(), m.call_id());
                assert_eq!(f.vias().count(), m.vias().count() + 1);
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(u) = Uri::parse(s) {
            // a call record's party: decoded, yet one line with nothing unprintable
            let party = cdr::party(&u);
            assert!(!party.contains(char::is_control), "{party:?}");
        }
        let _ = (Uri::parse(s), NameAddr::parse(s), Via::parse(s));
        let _ = (Credentials::parse(s), Challenge::parse(s));
    }
});
