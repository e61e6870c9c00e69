//! Calls whose phones write a NAT address in their SDP, and calls through a stand-in proxy
//! that anchors the media as the switch does (SDP pointed at its relay): what each side
//! writes, and where each side sends its audio and expects it from.

use super::*;
use crate::core::agent::sdp::audio_target;

const NAT: &str = "10.255.255.1";

fn answer(hold_ms: u64) -> CallPlan {
    CallPlan::Answer {
        ring: Duration::from_millis(100),
        hold: Duration::from_millis(hold_ms),
        callee_hangs_up: false,
    }
}

fn nat_audio() -> Audio {
    Audio {
        socket: CALLER_RTP.parse().unwrap(),
        media: CallMedia::Nat(NAT.parse().unwrap()),
    }
}

fn media_starts(out: &[Out]) -> Vec<(SocketAddr, Option<SocketAddr>)> {
    out.iter()
        .filter_map(|o| match o {
            Out::MediaStart { remote, peer } => Some((*remote, *peer)),
            _ => None,
        })
        .collect()
}

/// The body of the first message `out` sent that `pick` chooses.
fn body_of(out: &[Out], pick: impl Fn(&Message) -> bool) -> (Message, String) {
    let m = sent(out)
        .into_iter()
        .find(|m| pick(m))
        .expect("that message");
    let body = String::from_utf8(m.body().to_vec()).unwrap();
    (m, body)
}

fn is_answer(m: &Message) -> bool {
    m.status() == Some(200) && m.cseq().is_some_and(|c| c.method == Method::Invite)
}

#[test]
fn nat_phones_write_the_nat_address_with_their_real_port_and_name_their_socket_apart() {
    let (a, b) = through(answer(500), false, Some(nat_audio()), Proxy::Passes);
    // the caller's offer (the authenticated INVITE, as the callee got it)
    let (invite, offer) = body_of(&a, |m| {
        m.method() == Some(Method::Invite) && m.header(HeaderName::ProxyAuthorization).is_some()
    });
    assert!(offer.contains("c=IN IP4 10.255.255.1\r\n"), "{offer}");
    assert!(offer.contains("o=load ") && offer.contains(" IN IP4 10.255.255.1\r\n"));
    assert!(offer.contains("m=audio 40000 RTP/AVP 0\r\n"), "{offer}");
    assert!(
        !offer.contains("127.0.0.1"),
        "the SDP names only the NAT address: {offer}"
    );
    assert_eq!(invite.header_by_name(MEDIA_HEADER), Some(CALLER_RTP));
    let plan = invite.header_by_name(PLAN_HEADER).unwrap();
    assert!(plan.ends_with(";rtp=1;nat=10.255.255.1"), "{plan}");
    assert_eq!(plan_media(plan), Some(CallMedia::Nat(NAT.parse().unwrap())));
    // the callee follows the plan: its answer names the NAT address too, with its own port
    let (ok, answer_sdp) = body_of(&b, is_answer);
    assert_eq!(
        audio_target(answer_sdp.as_bytes()),
        Some(SocketAddr::new(NAT.parse().unwrap(), 40002))
    );
    assert_eq!(ok.header_by_name(MEDIA_HEADER), Some(CALLEE_RTP));
    // with nobody anchoring, each sends to the other's NAT address, where nothing listens,
    // and knows the other's real socket
    let nat = |port| SocketAddr::new(NAT.parse().unwrap(), port);
    assert_eq!(media_starts(&a), [(nat(40002), CALLEE_RTP.parse().ok())]);
    assert_eq!(media_starts(&b), [(nat(40000), CALLER_RTP.parse().ok())]);
}

#[test]
fn through_an_anchoring_proxy_both_sides_send_to_their_side_of_the_relay() {
    let caller_side: SocketAddr = "127.0.0.1:20000".parse().unwrap();
    let callee_side: SocketAddr = "127.0.0.1:20002".parse().unwrap();
    for audio in [Some(nat_audio()), {
        let mut direct = nat_audio();
        direct.media = CallMedia::Direct;
        Some(direct)
    }] {
        let proxy = Proxy::Anchors {
            caller_side,
            callee_side,
        };
        let (a, b) = through(answer(500), false, audio, proxy);
        assert_eq!(
            done(&a),
            [
                (Kind::Call, Outcome::Ok(200)),
                (Kind::Bye, Outcome::Ok(200))
            ]
        );
        // the caller learns the relay from the rewritten 200, the callee from the rewritten
        // INVITE; each still knows where the other phone really is
        assert_eq!(media_starts(&a), [(caller_side, CALLEE_RTP.parse().ok())]);
        assert_eq!(media_starts(&b), [(callee_side, CALLER_RTP.parse().ok())]);
    }
}

#[test]
fn an_offer_answered_in_the_180_is_used_when_the_200_has_no_sdp() {
    let caller_side: SocketAddr = "127.0.0.1:20000".parse().unwrap();
    let proxy = Proxy::AnchorsEarly {
        caller_side,
        callee_side: "127.0.0.1:20002".parse().unwrap(),
    };
    let (a, _) = through(answer(300), false, Some(nat_audio()), proxy);
    assert_eq!(media_starts(&a), [(caller_side, CALLEE_RTP.parse().ok())]);
}

#[test]
fn a_call_without_audio_says_nothing_of_media() {
    let (a, b) = through(answer(300), false, None, Proxy::Passes);
    let (invite, offer) = body_of(&a, |m| m.method() == Some(Method::Invite));
    assert!(offer.contains("m=audio 9 "), "the discard port: {offer}");
    assert_eq!(invite.header_by_name(MEDIA_HEADER), None);
    assert_eq!(
        plan_media(invite.header_by_name(PLAN_HEADER).unwrap()),
        None
    );
    let (ok, _) = body_of(&b, is_answer);
    assert_eq!(ok.header_by_name(MEDIA_HEADER), None);
    assert!(media_starts(&a).is_empty() && media_starts(&b).is_empty());
}

#[test]
fn plan_media_reads_audio_and_the_nat_address() {
    assert_eq!(plan_media("answer;ring=1;hold=2;by=caller"), None);
    assert_eq!(
        plan_media("answer;ring=1;hold=2;by=caller;rtp=1"),
        Some(CallMedia::Direct)
    );
    assert_eq!(
        plan_media("busy;ring=1;rtp=1;nat=fd00::7"),
        Some(CallMedia::Nat("fd00::7".parse().unwrap()))
    );
    // a NAT address without audio means nothing
    assert_eq!(plan_media("answer;nat=10.0.0.1"), None);
}
