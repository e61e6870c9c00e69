//! The agent's flows against scripted answers and against each other (a caller and a callee
//! wired back to back, as through a proxy that passes everything on).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::sip::{reason_phrase, Method, ResponseBuilder};

use super::*;
use crate::core::{CallMedia, CallPlan};

mod anchored;
mod request;

fn ep(port: u16) -> Endpoint {
    Endpoint {
        server: "127.0.0.1:5060".into(),
        domain: "sb.test".into(),
        local: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

fn id(n: &str) -> Identity {
    Identity {
        number: n.into(),
        password: format!("pw-{n}"),
        contact_user: format!("{n}-d0"),
    }
}

fn sent(out: &[Out]) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            Out::Send(b) => Some(Message::parse(b.clone()).expect("what the agent sends parses")),
            _ => None,
        })
        .collect()
}

fn done(out: &[Out]) -> Vec<(Kind, Outcome)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Done { kind, outcome, .. } => Some((*kind, *outcome)),
            _ => None,
        })
        .collect()
}

const CHALLENGE: &str = "Digest realm=\"sb.test\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"";

fn reply(req: &Message, code: u16, challenge: Option<(&str, &str)>) -> Message {
    let mut b = ResponseBuilder::new(req, code, reason_phrase(code)).to_tag("srv");
    if let Some((n, v)) = challenge {
        b = b.header(n, v);
    }
    Message::parse(b.build()).unwrap()
}

#[test]
fn a_register_answers_the_challenge_once_and_reports_its_outcome() {
    let t = Instant::now();
    let mut e = Entropy::seeded(1);
    let mut out = Vec::new();
    let spec = RequestSpec {
        kind: Kind::Register,
        method: "REGISTER",
        uri: "sip:sb.test".into(),
        to: "<sip:1001@sb.test>".into(),
        call_id: "reg-1".into(),
        cseq: 7,
        headers: vec![("Contact".into(), "<sip:1001@127.0.0.1:6000>".into())],
        body: None,
        message_id: None,
    };
    let mut r = Request::start(t, spec, id("1001"), ep(6000), &mut e, &mut out);
    let first = sent(&out).remove(0);
    assert_eq!(first.cseq().unwrap().seq, 7);
    out.clear();
    r.on_response(
        t,
        reply(&first, 401, Some(("WWW-Authenticate", CHALLENGE))),
        &mut e,
        &mut out,
    );
    let second = sent(&out).remove(0);
    assert!(second
        .header(HeaderName::Authorization)
        .unwrap()
        .contains("username=\"1001\""));
    assert_eq!(second.cseq().unwrap().seq, 8);
    assert!(done(&out).is_empty());
    out.clear();
    r.on_response(
        t + Duration::from_millis(3),
        reply(&second, 200, None),
        &mut e,
        &mut out,
    );
    assert_eq!(done(&out), [(Kind::Register, Outcome::Ok(200))]);
    assert!(r.is_done());
    assert_eq!(r.cseq(), 8);
}

#[test]
fn a_second_challenge_is_a_failure_and_silence_a_timeout() {
    let t = Instant::now();
    let mut e = Entropy::seeded(2);
    let mut out = Vec::new();
    let spec = RequestSpec {
        kind: Kind::Message,
        method: "MESSAGE",
        uri: "sip:1002@127.0.0.1:5060".into(),
        to: "<sip:1002@sb.test>".into(),
        call_id: "m-1".into(),
        cseq: 1,
        headers: vec![],
        body: Some(("text/plain".into(), b"hi".to_vec())),
        message_id: Some(9),
    };
    let mut r = Request::start(t, spec.clone(), id("1001"), ep(6000), &mut e, &mut out);
    let first = sent(&out).remove(0);
    out.clear();
    r.on_response(
        t,
        reply(&first, 407, Some(("Proxy-Authenticate", CHALLENGE))),
        &mut e,
        &mut out,
    );
    let second = sent(&out).remove(0);
    out.clear();
    r.on_response(
        t,
        reply(&second, 407, Some(("Proxy-Authenticate", CHALLENGE))),
        &mut e,
        &mut out,
    );
    assert_eq!(done(&out), [(Kind::Message, Outcome::Failed(407))]);

    // nobody answers: retransmissions, then a timeout (Timer F, 32 s)
    out.clear();
    let mut r = Request::start(t, spec, id("1001"), ep(6000), &mut e, &mut out);
    let mut now = t;
    while !r.is_done() {
        now = r.poll_timeout().expect("a timer while waiting");
        r.on_timeout(now, &mut out);
    }
    assert!(sent(&out).len() > 5, "retransmitted over UDP");
    assert_eq!(done(&out), [(Kind::Message, Outcome::Timeout)]);
    assert!(now - t >= Duration::from_secs(31));
    assert!(!out.contains(&Out::MessageAcked(9)));
}

/// The caller's and callee's RTP sockets in the back-to-back calls.
const CALLER_RTP: &str = "127.0.0.1:40000";
const CALLEE_RTP: &str = "127.0.0.1:40002";

/// What the stand-in proxy between the two sides does with SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proxy {
    /// Passes everything on untouched (signalling only, media direct).
    Passes,
    /// Anchors the call as the switch does: the INVITE's SDP pointed at `callee_side`, the
    /// 200's at `caller_side` (the engine's own rewrite), everything else untouched.
    Anchors {
        caller_side: SocketAddr,
        callee_side: SocketAddr,
    },
    /// Anchors, but answers the offer in the 180 (to play ringback) and sends the 200
    /// without SDP.
    AnchorsEarly {
        caller_side: SocketAddr,
        callee_side: SocketAddr,
    },
}

/// `m` with its SDP pointed at `relay` (as the switch rewrites it; one of the relay's own
/// when `m` had none, as the switch adds to a 180 to play ringback), or without a body.
fn rewrite_sdp(m: &Message, relay: Option<SocketAddr>) -> Message {
    use switchboard_engine::sdp::rewrite::{rewrite_endpoints, RelayPort};
    use switchboard_engine::sdp::Sdp;
    let mut body = String::new();
    if let (Some(relay), true) = (relay, m.body().is_empty()) {
        body = String::from_utf8(sdp::pcmu(relay, 1)).unwrap();
    } else if let Some(relay) = relay {
        let mut sdp = Sdp::parse(m.body()).expect("the agent writes valid SDP");
        rewrite_endpoints(&mut sdp, &[RelayPort::new(relay.port())], relay.ip()).unwrap();
        sdp.write_to(&mut body);
    }
    let fwd = switchboard_engine::sip::Forward::default().body("application/sdp", body.as_bytes());
    Message::parse(fwd.to_bytes(m)).unwrap()
}

/// Runs a caller and a callee back to back until both are done or `limit` passes; returns
/// everything both emitted.
fn back_to_back(plan: CallPlan, drop_first_ok: bool) -> (Vec<Out>, Vec<Out>) {
    let audio = Audio {
        socket: CALLER_RTP.parse().unwrap(),
        media: CallMedia::Direct,
    };
    through(plan, drop_first_ok, Some(audio), Proxy::Passes)
}

/// [`back_to_back`] with the caller's audio and a proxy of choice.
fn through(
    plan: CallPlan,
    drop_first_ok: bool,
    audio: Option<Audio>,
    proxy: Proxy,
) -> (Vec<Out>, Vec<Out>) {
    let t = Instant::now();
    let mut e = Entropy::seeded(3);
    let mut a_out = Vec::new();
    let mut b_out = Vec::new();
    let mut caller = Caller::start(
        t,
        id("1001"),
        "1002",
        plan,
        audio,
        ep(6000),
        &mut e,
        &mut a_out,
    );
    let mut callee: Option<Callee> = None;
    let (mut a_seen, mut b_seen) = (0, 0);
    let mut now = t;
    let mut dropped = false;
    for _ in 0..10_000 {
        // deliver everything sent since last time to the other side
        let from_a: Vec<Message> = sent(&a_out[a_seen..]);
        a_seen = a_out.len();
        for m in from_a {
            if m.method() == Some(Method::Invite)
                && m.header(HeaderName::ProxyAuthorization).is_none()
            {
                // the proxy challenges the first INVITE
                caller.on_message(
                    now,
                    reply(&m, 407, Some(("Proxy-Authenticate", CHALLENGE))),
                    &mut e,
                    &mut a_out,
                );
                continue;
            }
            let m = match proxy {
                Proxy::Anchors { callee_side, .. } | Proxy::AnchorsEarly { callee_side, .. }
                    if m.method() == Some(Method::Invite) =>
                {
                    rewrite_sdp(&m, Some(callee_side))
                }
                _ => m,
            };
            match &mut callee {
                None if m.method() == Some(Method::Invite) => {
                    callee = Some(Callee::start(
                        now,
                        m,
                        id("1002"),
                        CALLEE_RTP.parse().unwrap(),
                        ep(6002),
                        &mut e,
                        &mut b_out,
                    ));
                }
                Some(c) => c.on_message(now, m, &mut b_out),
                None => {}
            }
        }
        let from_b: Vec<Message> = sent(&b_out[b_seen..]);
        b_seen = b_out.len();
        for m in from_b {
            if drop_first_ok
                && !dropped
                && m.status() == Some(200)
                && m.cseq().is_some_and(|c| c.method == Method::Invite)
            {
                dropped = true;
                continue;
            }
            let invite_answer = m.cseq().is_some_and(|c| c.method == Method::Invite);
            let m = match (proxy, m.status()) {
                (Proxy::Anchors { caller_side, .. }, Some(200)) if invite_answer => {
                    rewrite_sdp(&m, Some(caller_side))
                }
                (Proxy::AnchorsEarly { caller_side, .. }, Some(180)) => {
                    rewrite_sdp(&m, Some(caller_side))
                }
                (Proxy::AnchorsEarly { .. }, Some(200)) if invite_answer => rewrite_sdp(&m, None),
                _ => m,
            };
            caller.on_message(now, m, &mut e, &mut a_out);
        }
        if caller.is_done()
            && callee.as_ref().is_none_or(|c| c.is_done())
            && a_seen == a_out.len()
            && b_seen == b_out.len()
        {
            break;
        }
        if a_seen == a_out.len() && b_seen == b_out.len() {
            let next = [
                caller.poll_timeout(),
                callee.as_ref().and_then(|c| c.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { break };
            now = next.max(now);
            caller.on_timeout(now, &mut e, &mut a_out);
            if let Some(c) = &mut callee {
                c.on_timeout(now, &mut e, &mut b_out);
            }
        }
    }
    assert!(caller.is_done(), "the caller finished");
    (a_out, b_out)
}

#[test]
fn an_answered_call_rings_talks_and_the_caller_hangs_up() {
    let plan = CallPlan::Answer {
        ring: Duration::from_millis(500),
        hold: Duration::from_secs(2),
        callee_hangs_up: false,
    };
    let (a, b) = back_to_back(plan, false);
    assert_eq!(
        done(&a),
        [
            (Kind::Call, Outcome::Ok(200)),
            (Kind::Bye, Outcome::Ok(200))
        ]
    );
    let (caller_rtp, callee_rtp) = (CALLER_RTP.parse().ok(), CALLEE_RTP.parse().ok());
    assert!(a.iter().any(|o| *o
        == Out::MediaStart {
            remote: callee_rtp.unwrap(),
            peer: callee_rtp,
        }));
    assert!(b.iter().any(|o| *o
        == Out::MediaStart {
            remote: caller_rtp.unwrap(),
            peer: caller_rtp,
        }));
    assert!(a.contains(&Out::MediaStop) && b.contains(&Out::MediaStop));
    let setup = a
        .iter()
        .find_map(|o| match o {
            Out::Done {
                kind: Kind::Call,
                latency,
                ..
            } => Some(*latency),
            _ => None,
        })
        .unwrap();
    assert!(
        setup >= Duration::from_millis(500),
        "the ring time is in the setup time"
    );
}

#[test]
fn the_callee_hangs_up_when_its_plan_says() {
    let plan = CallPlan::Answer {
        ring: Duration::ZERO,
        hold: Duration::from_secs(1),
        callee_hangs_up: true,
    };
    let (a, b) = back_to_back(plan, false);
    assert_eq!(done(&a), [(Kind::Call, Outcome::Ok(200))]);
    assert_eq!(done(&b), [(Kind::Bye, Outcome::Ok(200))]);
}

#[test]
fn a_busy_plan_expects_486_and_a_no_answer_plan_cancels_and_expects_487() {
    let (a, _) = back_to_back(
        CallPlan::Busy {
            ring: Duration::from_millis(200),
        },
        false,
    );
    assert_eq!(done(&a), [(Kind::Call, Outcome::Ok(486))]);
    let (a, b) = back_to_back(
        CallPlan::NoAnswer {
            ring: Duration::from_secs(1),
        },
        false,
    );
    assert_eq!(done(&a), [(Kind::Call, Outcome::Ok(487))]);
    assert!(sent(&a).iter().any(|m| m.method() == Some(Method::Cancel)));
    assert!(sent(&b).iter().any(|m| m.status() == Some(487)));
}

#[test]
fn a_lost_200_is_sent_again_until_the_ack_comes() {
    let plan = CallPlan::Answer {
        ring: Duration::ZERO,
        hold: Duration::from_millis(300),
        callee_hangs_up: false,
    };
    let (a, b) = back_to_back(plan, true);
    assert_eq!(
        done(&a),
        [
            (Kind::Call, Outcome::Ok(200)),
            (Kind::Bye, Outcome::Ok(200))
        ]
    );
    let oks = sent(&b)
        .iter()
        .filter(|m| m.status() == Some(200) && m.cseq().is_some_and(|c| c.method == Method::Invite))
        .count();
    assert!(oks >= 2, "{oks}");
}

#[test]
fn plans_survive_their_header_and_sdp_gives_the_audio_target() {
    for plan in [
        CallPlan::Answer {
            ring: Duration::from_millis(1500),
            hold: Duration::from_secs(30),
            callee_hangs_up: true,
        },
        CallPlan::Busy {
            ring: Duration::from_millis(10),
        },
        CallPlan::NoAnswer {
            ring: Duration::from_secs(4),
        },
    ] {
        assert_eq!(plan::parse_plan(&plan::plan_value(&plan)), Some(plan));
    }
    assert_eq!(plan::parse_plan("ring=5"), None);
    let body = sdp::pcmu("10.1.2.3:4000".parse().unwrap(), 1);
    assert_eq!(
        sdp::audio_target(&body),
        Some("10.1.2.3:4000".parse().unwrap())
    );
    assert_eq!(
        sdp::audio_target(b"v=0\r\nm=audio 0 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n"),
        None
    );
}

#[test]
fn a_notify_stamp_gives_the_latency_from_its_publication() {
    let epoch = Instant::now();
    let body = format!("<note>load 3 load-t={}</note>", 1_500_000);
    let at = epoch + Duration::from_millis(1_520);
    assert_eq!(
        stamped_latency(body.as_bytes(), epoch, at),
        Some(Duration::from_millis(20))
    );
    assert_eq!(stamped_latency(b"<note>x</note>", epoch, at), None);
    assert_eq!(stamp(epoch, epoch + Duration::from_micros(42)), 42);
    let _ = Bytes::new();
}

#[test]
fn only_a_notify_with_a_new_publication_stamp_reports_a_latency() {
    let epoch = Instant::now();
    let t = epoch + Duration::from_secs(10);
    let mut e = Entropy::seeded(4);
    let mut out = Vec::new();
    let mut s = Subscriber::start(
        t,
        epoch,
        id("1001"),
        "1002",
        Duration::from_secs(60),
        ep(6000),
        &mut e,
        &mut out,
    );
    let sub = sent(&out).remove(0);
    out.clear();
    s.on_message(t, reply(&sub, 200, None), &mut e, &mut out);
    assert_eq!(done(&out), [(Kind::Subscribe, Outcome::Ok(200))]);
    let (tag, call_id) = (s.tag().to_owned(), s.call_id().to_owned());
    let notify = |cseq: u32, stamp_us: u64| {
        let text = format!(
            "NOTIFY sip:1001-d0@127.0.0.1:6000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn{cseq}\r\n\
             From: <sip:1002@sb.test>;tag=srv\r\nTo: <sip:1001@sb.test>;tag={}\r\nCall-ID: {}\r\n\
             CSeq: {cseq} NOTIFY\r\nSubscription-State: active;expires=50\r\nContent-Length: 0\r\n\r\n<note>load 1 load-t={stamp_us}</note>",
            tag, call_id
        );
        let fixed = text.replace(
            "Content-Length: 0",
            &format!(
                "Content-Length: {}",
                text.split("\r\n\r\n").nth(1).unwrap().len()
            ),
        );
        Message::parse(Bytes::from(fixed)).unwrap()
    };
    let latencies = |out: &[Out]| -> Vec<Option<Duration>> {
        out.iter()
            .filter_map(|o| match o {
                Out::Notified { latency } => Some(*latency),
                _ => None,
            })
            .collect()
    };
    out.clear();
    // the first NOTIFY carries the state as it was: an old publication, no latency
    s.on_message(t, notify(1, 1_000_000), &mut e, &mut out);
    // a new publication, sent at 9.990 s, seen at 10.000 s
    s.on_message(t, notify(2, 9_990_000), &mut e, &mut out);
    // its retransmission is answered but not reported again; a refresh's full state neither
    s.on_message(t, notify(2, 9_990_000), &mut e, &mut out);
    s.on_message(t, notify(3, 9_990_000), &mut e, &mut out);
    assert_eq!(
        latencies(&out),
        [None, Some(Duration::from_millis(10)), None]
    );
    assert_eq!(
        sent(&out)
            .iter()
            .filter(|m| m.status() == Some(200))
            .count(),
        4,
        "every NOTIFY answered"
    );
}

#[test]
fn requests_are_written_byte_for_byte_as_the_engines_builder_writes_them() {
    use switchboard_engine::sip::RequestBuilder;
    let head = Head {
        method: "REGISTER",
        uri: "sip:127.0.0.1:5060",
        via: "SIP/2.0/UDP 10.1.2.3:40000;branch=z9hG4bKabc;rport",
        from: "<sip:100@sb.test>;tag=x",
        to: "<sip:100@sb.test>",
        call_id: "lr-1-0-abc",
        cseq: 4_294_967_295,
    };
    let engine = |body| {
        RequestBuilder::new(head.method, head.uri)
            .header("Via", head.via)
            .header("Max-Forwards", "70")
            .header("From", head.from)
            .header("To", head.to)
            .header("Call-ID", head.call_id)
            .header("CSeq", &format!("{} {}", head.cseq, head.method))
            .header("Contact", "<sip:u1d0@10.1.2.3:40000>")
            .header("Expires", "0")
            .build(body)
    };
    let extra = [("Contact", "<sip:u1d0@10.1.2.3:40000>"), ("Expires", "0")];
    assert_eq!(build(&head, &extra, None), engine(None));
    let body = Some(("text/plain", &b"load-msg-7"[..]));
    assert_eq!(build(&head, &extra, body), engine(body));
    let mut s = String::new();
    push_addr(&mut s, SocketAddr::from(([10, 0, 255, 1], 65535)));
    assert_eq!(s, "10.0.255.1:65535");
    let v6: SocketAddr = "[::1]:5060".parse().unwrap();
    s.clear();
    push_addr(&mut s, v6);
    assert_eq!(s, v6.to_string());
    assert_eq!(id("7").contact(&ep(5)), "<sip:7-d0@127.0.0.1:5>");
    assert_eq!(id("7").aor(&ep(5)), "sip:7@sb.test");
}
