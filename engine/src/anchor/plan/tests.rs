//! The anchored call's offer/answer plan, step by step: relay addresses per family, codecs
//! kept or transcoded, hold, re-offers, late offers and what the relay refuses.

use super::*;
use std::net::SocketAddr;

fn relay() -> Relay {
    Relay {
        address: ["192.0.2.1".parse().unwrap(); 2],
        caller: RelayPort::new(30000),
        callee: RelayPort::new(30002),
    }
}

fn call() -> AnchoredCall {
    let origin = Origin::new(42, 1, "192.0.2.1".parse().unwrap());
    AnchoredCall::new(relay(), CodecPolicy::default(), origin)
}

fn sdp(addr: &str, port: u16, fmts: &str, extra: &str) -> Sdp {
    let mut body = format!(
        "v=0\r\no=p 7 7 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {fmts}\r\n"
    );
    for pt in fmts.split(' ') {
        let line = match pt {
            "0" => "a=rtpmap:0 PCMU/8000\r\n",
            "8" => "a=rtpmap:8 PCMA/8000\r\n",
            "9" => "a=rtpmap:9 G722/8000\r\n",
            "101" => "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
            "111" => "a=rtpmap:111 opus/48000/2\r\n",
            _ => "",
        };
        body.push_str(line);
    }
    body.push_str(extra);
    Sdp::parse(body.as_bytes()).unwrap()
}

fn parse(body: &str) -> Sdp {
    Sdp::parse(body.as_bytes()).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn the_callee_is_offered_the_relay_with_only_codecs_the_switch_handles() {
    let mut c = call();
    let offer = sdp("10.0.0.7", 4000, "111 0 101", "");
    let out = parse(&c.caller_offered(&offer, false).unwrap());
    let m = &out.media[0];
    assert_eq!(m.port, 30002);
    assert_eq!(
        out.connection_of(m).unwrap().address.to_string(),
        "192.0.2.1"
    );
    let codecs: Vec<Codec> = m.codecs().map(|(_, c)| c).collect();
    assert_eq!(
        codecs,
        vec![Codec::Pcmu],
        "opus goes: the relay could not carry it"
    );
    assert!(m.telephone_events().any(|te| te.payload_type == 101));
}

#[test]
fn a_same_codec_answer_relays_and_the_caller_hears_the_relay() {
    let mut c = call();
    let offer = sdp("10.0.0.7", 4000, "0 8 101", "");
    c.caller_offered(&offer, false).unwrap();
    let answer = sdp("127.0.0.5", 5000, "8 101", "");
    let a = c.callee_answered(&answer).unwrap();
    assert_eq!(a.callee.codec, Codec::Pcma);
    assert_eq!(a.callee.remote_rtp, addr("127.0.0.5:5000"));
    assert_eq!(
        a.caller.codec,
        Codec::Pcma,
        "the callee's codec, offered by the caller"
    );
    assert_eq!(a.caller.remote_rtp, addr("10.0.0.7:4000"));
    assert!(!c.transcodes());
    let body = parse(&a.body);
    assert_eq!(body.media[0].port, 30000);
    assert_eq!(
        body.connection_of(&body.media[0])
            .unwrap()
            .address
            .to_string(),
        "192.0.2.1"
    );
    // the 2xx retransmitted, or a forked 18x before it: the same answer
    assert_eq!(c.callee_answered(&answer).unwrap().body, a.body);
}

#[test]
fn an_ipv4_caller_and_an_ipv6_callee_each_get_the_relay_in_their_own_family() {
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let relay = Relay {
        address: ["192.0.2.1".parse().unwrap(), v6],
        ..relay()
    };
    let origin = Origin::new(42, 1, "192.0.2.1".parse().unwrap());
    let mut c = AnchoredCall::new(relay, CodecPolicy::default(), origin);
    c.caller_offered(&sdp("10.0.0.7", 4000, "0", ""), false)
        .unwrap();
    let to_callee = parse(&c.callee_offer_for_test());
    assert!(
        to_callee.to_string().contains("c=IN IP6 2001:db8::1\r\n"),
        "{to_callee}"
    );
    let answer = parse(
        "v=0\r\no=b 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
    );
    let a = c.callee_answered(&answer).unwrap();
    assert_eq!(a.callee.remote_rtp, addr("[2001:db8::9]:5000"));
    assert_eq!(a.caller.remote_rtp, addr("10.0.0.7:4000"));
    assert!(a.body.contains("c=IN IP4 192.0.2.1\r\n"), "{}", a.body);
    assert!(!a.body.contains("IP6 2001:db8::1"), "{}", a.body);
}

#[test]
fn a_g722_caller_and_a_pcmu_callee_are_transcoded() {
    let mut c = call();
    let offer = sdp("127.0.0.1", 4000, "9 101", "");
    let out = parse(&c.caller_offered(&offer, true).unwrap());
    let offered: Vec<Codec> = out.media[0].codecs().map(|(_, c)| c).collect();
    assert_eq!(offered, vec![Codec::G722, Codec::Pcmu, Codec::Pcma]);
    let answer = sdp("127.0.0.1", 5000, "0", "");
    let a = c.callee_answered(&answer).unwrap();
    assert_eq!(a.callee.codec, Codec::Pcmu);
    assert_eq!(a.caller.codec, Codec::G722);
    assert!(c.transcodes());
}

#[test]
fn an_early_answer_fixes_the_callers_codec_for_the_call() {
    let mut c = call();
    let offer = sdp("127.0.0.1", 4000, "9 0", "");
    c.caller_offered(&offer, false).unwrap();
    let (early, stream) = c.caller_answer().unwrap();
    assert_eq!(stream.codec, Codec::G722, "the switch's preference");
    let answer = sdp("127.0.0.1", 5000, "0", "");
    let a = c.callee_answered(&answer).unwrap();
    assert_eq!(a.body, early, "the final answer is the early one");
    assert_eq!(a.caller.codec, Codec::G722);
    assert!(c.transcodes());
}

#[test]
fn hold_from_the_caller_reaches_the_callee_and_the_answer_mirrors_it() {
    let mut c = call();
    c.caller_offered(&sdp("127.0.0.1", 4000, "0", ""), false)
        .unwrap();
    c.callee_answered(&sdp("127.0.0.2", 5000, "0", "")).unwrap();
    let hold = sdp("127.0.0.1", 4000, "0", "a=sendonly\r\n");
    let to_callee = parse(&c.offered(Side::Caller, &hold).unwrap());
    assert_eq!(to_callee.media[0].port, 30002);
    assert_eq!(
        to_callee.direction_of(&to_callee.media[0]),
        Direction::SendOnly
    );
    let r = c
        .answered(&sdp("127.0.0.2", 5000, "0", "a=recvonly\r\n"))
        .unwrap();
    assert_eq!(r.offerer, Side::Caller);
    let to_caller = parse(&r.body);
    assert_eq!(to_caller.media[0].port, 30000);
    assert_eq!(
        to_caller.direction_of(&to_caller.media[0]),
        Direction::RecvOnly
    );
    assert!(r.caller.direction.receives() && !r.caller.direction.sends());
    assert!(r.callee.remote_hold || !r.callee.direction.receives());
    assert!(!c.is_pending());
}

#[test]
fn a_reoffer_keeps_each_sides_codec_while_transcoding() {
    let mut c = call();
    c.caller_offered(&sdp("127.0.0.1", 4000, "9", ""), true)
        .unwrap();
    c.callee_answered(&sdp("127.0.0.2", 5000, "0", "")).unwrap();
    // the callee re-offers (new port): the caller is offered only its G.722
    let out = parse(
        &c.offered(Side::Callee, &sdp("127.0.0.2", 5010, "0 8", ""))
            .unwrap(),
    );
    let offered: Vec<Codec> = out.media[0].codecs().map(|(_, c)| c).collect();
    assert_eq!(offered, vec![Codec::G722]);
    assert_eq!(out.media[0].port, 30000);
    let r = c.answered(&sdp("127.0.0.1", 4000, "9", "")).unwrap();
    assert_eq!(r.offerer, Side::Callee);
    assert_eq!(r.callee.codec, Codec::Pcmu);
    assert_eq!(r.caller.codec, Codec::G722);
    assert_eq!(r.caller.remote_rtp, addr("127.0.0.1:4000"));
}

#[test]
fn a_late_offer_comes_from_the_callee_and_is_answered_in_the_ack() {
    let mut c = call();
    let to_caller = parse(
        &c.offered(Side::Callee, &sdp("127.0.0.2", 5000, "0 8", ""))
            .unwrap(),
    );
    assert_eq!(to_caller.media[0].port, 30000);
    let r = c.answered(&sdp("127.0.0.1", 4000, "8", "")).unwrap();
    assert_eq!(r.caller.codec, Codec::Pcma);
    assert_eq!(r.callee.codec, Codec::Pcma);
    assert_eq!(r.callee.remote_rtp, addr("127.0.0.2:5000"));
    assert_eq!(parse(&r.body).media[0].port, 30002);
}

#[test]
fn what_the_relay_cannot_carry_is_refused() {
    let mut c = call();
    let two = parse(
        "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\n",
    );
    assert_eq!(c.caller_offered(&two, false), Err(PlanError::Streams(2)));
    let only_opus = sdp("127.0.0.1", 4000, "111", "");
    assert!(c.caller_offered(&only_opus, false).is_err());
    assert_eq!(
        c.callee_answered(&sdp("127.0.0.1", 5000, "0", ""))
            .unwrap_err(),
        PlanError::NoOffer
    );
    assert_eq!(
        c.answered(&sdp("127.0.0.1", 5000, "0", "")).unwrap_err(),
        PlanError::NoOffer
    );
}
