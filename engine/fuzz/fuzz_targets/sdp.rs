//! The SDP reader on arbitrary bytes: it must answer without panicking, and every description
//! it accepts writes to a body it reads again as the same description (unless the written
//! form outgrows the size limit, bare LF having become CRLF: then it must say so). Answering
//! it, reading that answer back as the answer to it, and pointing it at a relay must not
//! panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::sdp::negotiate::{self, CodecPolicy, LocalEndpoint};
use switchboard_engine::sdp::rewrite::{self, RelayPort};
use switchboard_engine::sdp::{Origin, Sdp, SdpError, MAX_BODY};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = Sdp::parse(data) else {
        return;
    };
    let out = sdp.to_string();
    match Sdp::parse(out.as_bytes()) {
        Ok(again) => assert_eq!(again, sdp, "{out}"),
        Err(SdpError::TooLarge { .. }) => assert!(out.len() > MAX_BODY),
        Err(e) => panic!("writing of an accepted description refused: {e}\n{out}"),
    }

    let relay = "203.0.113.1".parse().unwrap();
    let local = LocalEndpoint::new(relay, 30000);
    let policy = CodecPolicy::default();
    if let Ok(answer) = negotiate::answer(&sdp, &local, &policy, Origin::new(1, 1, relay)) {
        assert!(!answer.streams.is_empty());
        assert_eq!(answer.sdp.media.len(), sdp.media.len());
        let text = answer.sdp.to_string();
        let written = Sdp::parse(text.as_bytes()).expect("our answer reads back");
        assert_eq!(written, answer.sdp);
        let _ = negotiate::accept_answer(&sdp, &written);
    }
    let _ = negotiate::is_hold(&sdp);

    let mut relayed = sdp.clone();
    let ports: Vec<RelayPort> = rewrite::relayed(&relayed)
        .map(|i| RelayPort::new(30000 + 2 * i as u16))
        .collect();
    rewrite::rewrite_endpoints(&mut relayed, &ports, relay).expect("one port per stream");
    let _ = rewrite::replace_codecs(&mut relayed, &policy.codecs);
    let _ = Sdp::parse(relayed.to_string().as_bytes());
});
