//! The SDP reader on arbitrary bytes: it must answer without panicking, and every description
//! it accepts writes to a body it reads again as the same description (unless the written
//! form outgrows the size limit, bare LF having become CRLF: then it must say so). Answering
//! it, reading that answer back as the answer to it, and pointing it at a relay must not
//! panic either. Every `a=crypto` line that parses writes to one that parses the same, and an
//! anchored call that ends SRTP answers whatever it takes with at most one crypto line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::anchor::{AnchoredCall, Relay, SrtpPolicy};
use switchboard_engine::media::srtp::MasterKey;
use switchboard_engine::sdp::crypto::Crypto;
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

    for m in &sdp.media {
        for c in m.cryptos() {
            let again = Crypto::parse(&c.to_string()).expect("a written crypto line reads back");
            assert_eq!(again, c);
        }
    }
    // the callee's side on IPv6 now and then: a call bridging the two families
    let callee_address = if data.len() % 3 == 0 {
        "2001:db8::1".parse().unwrap()
    } else {
        relay
    };
    let relay = Relay {
        address: [relay, callee_address],
        caller: RelayPort::new(30000),
        callee: RelayPort::new(30002),
    };
    let srtp = SrtpPolicy {
        accept: [true, true],
        offer_callee: data.len() % 2 == 0,
    };
    let keys = [MasterKey::from_bytes(&[1; 30]), MasterKey::from_bytes(&[2; 30])];
    let mut call = AnchoredCall::new(relay, policy, Origin::new(1, 1, relay.address[0]))
        .with_srtp(srtp, keys);
    if call.caller_offered(&sdp, false).is_ok() {
        if let Ok((answer, _)) = call.caller_answer() {
            let answer = Sdp::parse(answer.as_bytes()).expect("our answer reads back");
            assert!(answer.media.iter().all(|m| m.cryptos().count() <= 1));
        }
    }
});
