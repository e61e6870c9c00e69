//! What a MESSAGE brings is stored and delivered again: arbitrary From values, content types
//! and bodies go through the body checks, the tag removal and the delivery request builder.
//! Whatever the checks accept must make a request that parses back with the same body,
//! content type and Message-ID, and a stored record must decode to itself.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_engine::messaging::wire::{self, Delivery};
use switchboard_engine::messaging::{check_body, StoredMessage};
use switchboard_engine::sip::Message;
use switchboard_engine::store;

fuzz_target!(|data: &[u8]| {
    // three parts: From value, Content-Type, body
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let (Some(from), Some(ct), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(from), Ok(ct)) = (std::str::from_utf8(from), std::str::from_utf8(ct)) else {
        return;
    };
    // header values as a parsed message holds them: one line, no NUL
    let one_line = |s: &str| !s.is_empty() && !s.contains(['\r', '\n', '\0']) && s.trim() == s;
    if !one_line(from) || !one_line(ct) {
        return;
    }
    if check_body(ct, body, 60_000).is_err() {
        return;
    }
    let stripped = wire::without_tag(from);
    assert!(!stripped.contains(['\r', '\n']));
    let m = StoredMessage {
        id: "1f.abcdefghij@switchboard.local".into(),
        from: stripped,
        sender: "x".into(),
        content_type: ct.to_owned(),
        body: body.to_vec(),
        accepted_unix_ms: 1_796_118_524_000,
        expires_unix: 0,
    };
    let rec = store::encode(&m);
    assert_eq!(store::decode::<StoredMessage>(&rec).unwrap(), m);
    let d = Delivery {
        request_uri: "sip:phone@127.0.0.1:5062",
        via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfuzz;rport",
        to: "<sip:1001@switchboard.local>",
        call_id: "dlv-fuzz",
        cseq: 1,
        from_tag: "t1",
    };
    let bytes = wire::request(&d, &m);
    // a From the parser would not take makes a request it does not take either; when it
    // parses, it must say what was stored
    if let Ok(parsed) = Message::parse(Bytes::from(bytes.to_vec())) {
        assert_eq!(parsed.body(), body);
        assert_eq!(parsed.header_by_name("Message-ID"), Some(m.id.as_str()));
        assert_eq!(parsed.call_id(), Some("dlv-fuzz"));
    }
});
