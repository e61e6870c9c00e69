use std::time::Duration;

use super::*;
use crate::auth::{challenge_values, verify, AuthOutcome, Nonces, ReplayWindow};
use crate::sip::digest::{ha1, Algorithm, Credentials};
use crate::sip::via::MAGIC_COOKIE;
use crate::sip::{validate, Method};
use crate::store::{AccountRecord, Credential};

const OFFER: &str = "v=0\r\no=switchboard 3 3 IN IP4 192.0.2.1\r\ns=-\r\n\
c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=sendrecv\r\n";
const ANSWER: &str = "v=0\r\no=bob 9 9 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=sendrecv\r\n";
const FROM: &str = "\"team-a\" <sip:conf-team-a@sb.example>";
const TARGET: &str = "sip:1002@192.0.2.50:5070";

fn local() -> Local {
    Local::new("192.0.2.1", 5060, "sb.example")
}

fn dial<'a>(route: &'a [&'a str], credentials: Option<&'a TrunkCredentials>) -> Dial<'a> {
    Dial {
        request_uri: TARGET,
        route,
        from: FROM,
        to: "<sip:1002@sb.example>",
        sdp: OFFER,
        headers: &[("Subject", "team-a")],
        credentials,
        transport: Transport::Udp,
        call_id: None,
    }
}

fn start(now: Instant) -> OutboundCall {
    OutboundCall::new(now, dial(&[], None), &local(), Entropy::seeded(5)).unwrap()
}

/// What the call sent, parsed back: requests with their next hop, each checked for what
/// every request of ours carries (a valid request, a fresh RFC 3261 branch, the CSeq of its
/// method, the room as From with our tag, the call's Call-ID).
fn sent(c: &mut OutboundCall) -> Vec<(Message, String)> {
    let mut v = Vec::new();
    while let Some(o) = c.poll_output() {
        match o {
            DialogOutput::Request { bytes, next_hop } => {
                let m = Message::parse(bytes).unwrap();
                assert_eq!(validate::request(&m), Ok(()));
                let branch = m.top_via().unwrap().branch().unwrap().to_owned();
                assert!(branch.starts_with(MAGIC_COOKIE), "{branch}");
                assert_eq!(m.cseq().unwrap().method_str, m.method_str().unwrap());
                let from = m.from().unwrap();
                assert_eq!(from.display(), Some("\"team-a\""));
                assert_eq!(from.uri().as_str(), "sip:conf-team-a@sb.example");
                assert!(from.tag().is_some());
                assert_eq!(m.call_id(), Some(c.call_id()));
                v.push((m, next_hop));
            }
            DialogOutput::Reply(b) => v.push((Message::parse(b).unwrap(), String::new())),
        }
    }
    v
}

fn methods(v: &[(Message, String)]) -> Vec<&str> {
    v.iter()
        .map(|(m, _)| m.method_str().unwrap_or("response"))
        .collect()
}

fn events(c: &mut OutboundCall) -> Vec<CallEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The callee's response to `req` (as it arrived there), its tag `tag`.
fn response(req: &Message, code: u16, tag: &str, extra: &[(&str, &str)], body: &str) -> Message {
    let mut b = ResponseBuilder::new(req, code, reason_phrase(code)).to_tag(tag);
    for (n, v) in extra {
        b = b.header(n, v);
    }
    if !body.is_empty() {
        b = b.body("application/sdp", body.as_bytes());
    }
    Message::parse(b.build()).unwrap()
}

/// The callee's 200 through two proxies (p2 nearest it), its Contact at 192.0.2.50.
fn ok(invite: &Message, tag: &str) -> Message {
    response(
        invite,
        200,
        tag,
        &[
            ("Record-Route", "<sip:p2.example;lr>, <sip:p1.example;lr>"),
            ("Contact", "<sip:1002@192.0.2.50:5070>"),
        ],
        ANSWER,
    )
}

/// A request from the callee inside the dialog `ok` made.
fn from_callee(ok: &Message, method: &str, cseq: u32, extra: &str, body: &str) -> Message {
    let s = format!(
        "{method} sip:192.0.2.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKc{method}{cseq}\r\n\
Max-Forwards: 70\r\n\
From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\
Contact: <sip:1002@192.0.2.50:5070>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        ok.header(HeaderName::To).unwrap(),
        ok.header(HeaderName::From).unwrap(),
        ok.call_id().unwrap(),
        body.len()
    );
    Message::parse(Bytes::from(s)).unwrap()
}

/// Started, rung, answered: the INVITE as sent and the 200.
fn answered(t0: Instant) -> (OutboundCall, Message, Message) {
    let mut c = start(t0);
    let (invite, _) = sent(&mut c).remove(0);
    let ok = ok(&invite, "bob");
    c.handle_response(t0, ok.clone());
    sent(&mut c);
    assert!(matches!(events(&mut c)[..], [CallEvent::Answered { .. }]));
    (c, invite, ok)
}

#[test]
fn an_answered_call_is_acked_along_the_reversed_record_route() {
    let t0 = Instant::now();
    let mut c = start(t0);
    let (invite, hop) = sent(&mut c).remove(0);
    assert_eq!(hop, TARGET, "no route: straight to the Request-URI");
    assert_eq!(invite.method(), Some(Method::Invite));
    assert_eq!(invite.request_uri_str(), Some(TARGET));
    assert_eq!(invite.to().unwrap().uri().as_str(), "sip:1002@sb.example");
    assert_eq!(invite.to_tag(), None);
    let contact = invite.contacts().next().unwrap();
    assert_eq!(contact.uri().as_str(), "sip:192.0.2.1:5060");
    assert_eq!(invite.header_by_name("Subject"), Some("team-a"));
    assert_eq!(invite.body(), OFFER.as_bytes());
    assert_eq!(
        invite.header(HeaderName::ContentType),
        Some("application/sdp")
    );

    // lost once: Timer A
    let a = c.poll_timeout().unwrap();
    assert_eq!(a - t0, Duration::from_millis(500));
    c.handle_timeout(a);
    assert_eq!(methods(&sent(&mut c)), ["INVITE"]);

    c.handle_response(a, response(&invite, 100, "", &[], ""));
    assert!(events(&mut c).is_empty(), "100 is no ringing");
    c.handle_response(a, response(&invite, 180, "bob", &[], ""));
    c.handle_response(a, response(&invite, 183, "bob", &[], ANSWER));
    assert_eq!(
        events(&mut c),
        [
            CallEvent::Ringing {
                code: 180,
                sdp: None
            },
            CallEvent::Ringing {
                code: 183,
                sdp: Some(Bytes::from_static(ANSWER.as_bytes()))
            }
        ]
    );

    let ok = ok(&invite, "bob");
    c.handle_response(a, ok.clone());
    assert_eq!(
        events(&mut c),
        [CallEvent::Answered {
            sdp: Bytes::from_static(ANSWER.as_bytes())
        }]
    );
    let (ack, hop) = sent(&mut c).remove(0);
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(
        ack.request_uri_str(),
        Some("sip:1002@192.0.2.50:5070"),
        "the Contact"
    );
    let routes: Vec<&str> = ack.routes().map(|r| r.uri().as_str()).collect();
    assert_eq!(routes, ["sip:p1.example;lr", "sip:p2.example;lr"]);
    assert_eq!(hop, "sip:p1.example;lr");
    assert_eq!(ack.cseq().unwrap().seq, 1, "the INVITE's number");
    assert_eq!(ack.to_tag(), Some("bob"));
    assert_eq!(ack.from_tag(), invite.from_tag());
    assert_ne!(
        ack.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch(),
        "the ACK of a 2xx is a transaction of its own"
    );
    assert!(c.is_answered());

    // the 200 again: our ACK was lost; the same ACK again
    c.handle_response(a, ok.clone());
    let again = sent(&mut c);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0.as_bytes(), ack.as_bytes());
    assert!(events(&mut c).is_empty());

    // the callee hangs up
    c.handle_request(a, &from_callee(&ok, "BYE", 1, "", ""), None);
    let answer = sent(&mut c);
    assert_eq!(answer[0].0.status(), Some(200));
    assert_eq!(events(&mut c), [CallEvent::Ended(EndReason::PeerHungUp)]);
}

#[test]
fn our_hang_up_after_the_answer_is_a_bye_along_the_route_set() {
    let t0 = Instant::now();
    let (mut c, _, _) = answered(t0);
    c.hang_up(t0, NORMAL_CLEARING);
    let (bye, hop) = sent(&mut c).remove(0);
    assert_eq!(bye.method(), Some(Method::Bye));
    assert_eq!(bye.cseq().unwrap().seq, 2, "after the INVITE's");
    assert_eq!(bye.header_by_name("Reason"), Some(NORMAL_CLEARING));
    assert_eq!(bye.routes().count(), 2);
    assert_eq!(hop, "sip:p1.example;lr");
    assert!(events(&mut c).is_empty());
    c.handle_response(t0, response(&bye, 200, "bob", &[], ""));
    assert_eq!(events(&mut c), [CallEvent::Ended(EndReason::HungUp)]);
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
    }
    assert!(c.is_done());
}

#[test]
fn a_busy_callee_fails_the_call_with_its_code_and_the_transaction_acks_it() {
    let t0 = Instant::now();
    let mut c = start(t0);
    let (invite, _) = sent(&mut c).remove(0);
    c.handle_response(t0, response(&invite, 486, "bob", &[], ""));
    let (ack, hop) = sent(&mut c).remove(0);
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(hop, TARGET);
    assert_eq!(
        ack.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch(),
        "the ACK of a non-2xx is hop by hop, in the INVITE's transaction"
    );
    assert_eq!(
        events(&mut c),
        [CallEvent::Failed {
            code: 486,
            reason: "Busy Here".into()
        }]
    );
    assert!(c.is_ended() && !c.is_answered());
    c.cancel(t0);
    assert!(sent(&mut c).is_empty(), "nothing to cancel any more");
    let d = c.poll_timeout().unwrap();
    assert_eq!(d - t0, Duration::from_secs(32), "Timer D");
    c.handle_timeout(d);
    assert!(c.is_done());
}

#[test]
fn no_response_at_all_fails_the_call_with_408() {
    let t0 = Instant::now();
    let mut c = start(t0);
    assert_eq!(methods(&sent(&mut c)), ["INVITE"]);
    let mut invites = 0;
    while !c.is_ended() {
        let t = c.poll_timeout().unwrap();
        c.handle_timeout(t);
        invites += sent(&mut c).len();
        if c.is_ended() {
            assert_eq!(t - t0, Duration::from_secs(32), "Timer B");
        }
    }
    assert_eq!(invites, 6, "Timer A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
    assert!(matches!(
        events(&mut c)[..],
        [CallEvent::Failed { code: 408, .. }]
    ));
}

fn account(password: &str) -> AccountRecord {
    AccountRecord {
        realm: "carrier.example".into(),
        credentials: vec![Credential {
            username: "sb-trunk".into(),
            md5: ha1(Algorithm::Md5, "sb-trunk", "carrier.example", password)
                .try_into()
                .unwrap(),
            sha256: ha1(Algorithm::Sha256, "sb-trunk", "carrier.example", password)
                .try_into()
                .unwrap(),
        }],
        created_unix: 0,
    }
}

/// A challenge as the engine's own authenticator issues it (SHA-256 first, MD5 too): a 401
/// with WWW-Authenticate (a registrar, a UAS) or a 407 with Proxy-Authenticate.
fn challenge(invite: &Message, nonces: &Nonces, code: u16) -> Message {
    let values = challenge_values(
        "carrier.example",
        &nonces.issue(1000),
        false,
        &[Algorithm::Sha256, Algorithm::Md5],
    );
    let name = if code == 401 {
        "WWW-Authenticate"
    } else {
        "Proxy-Authenticate"
    };
    let extra: Vec<(&str, &str)> = values.iter().map(|v| (name, v.as_str())).collect();
    response(invite, code, "carrier", &extra, "")
}

#[test]
fn a_401_or_407_is_answered_once_with_a_new_cseq_and_credentials_the_verifier_accepts() {
    let creds = TrunkCredentials {
        username: "sb-trunk".into(),
        password: "s3cret".into(),
    };
    let route = ["<sip:trunk.example;lr>"];
    for (code, answer) in [
        (401, HeaderName::Authorization),
        (407, HeaderName::ProxyAuthorization),
    ] {
        let t0 = Instant::now();
        let dial = dial(&route, Some(&creds));
        let mut c = OutboundCall::new(t0, dial, &local(), Entropy::seeded(9)).unwrap();
        let (first, hop) = sent(&mut c).remove(0);
        assert_eq!(hop, "sip:trunk.example;lr", "the first Route");
        assert_eq!(
            first.header(HeaderName::Route),
            Some("<sip:trunk.example;lr>")
        );
        let nonces = Nonces::new([7; 32], Duration::from_secs(300));
        c.handle_response(t0, challenge(&first, &nonces, code));
        let out = sent(&mut c);
        assert_eq!(
            methods(&out),
            ["ACK", "INVITE"],
            "the {code} acknowledged, the INVITE again"
        );
        assert!(
            events(&mut c).is_empty(),
            "a challenge answered is no failure"
        );
        let second = &out[1].0;
        assert_eq!(second.cseq().unwrap().seq, 2, "a new CSeq (§22.2)");
        assert_ne!(
            second.top_via().unwrap().branch(),
            first.top_via().unwrap().branch()
        );
        assert_eq!(second.from_tag(), first.from_tag());
        assert_eq!(second.call_id(), first.call_id());
        assert_eq!(
            second.header(HeaderName::Authorization).is_some(),
            code == 401
        );
        let value = second.header(answer).unwrap();
        let cred = Credentials::parse(value).unwrap();
        assert_eq!(
            cred.algorithm,
            Algorithm::Sha256,
            "the first challenge we read"
        );
        assert_eq!(cred.uri, TARGET);
        let outcome = |password: &str| {
            verify(
                Some(&cred),
                "INVITE",
                "carrier.example",
                &[Algorithm::Sha256, Algorithm::Md5],
                Some(&account(password)),
                &nonces,
                &mut ReplayWindow::default(),
                1001,
            )
        };
        assert_eq!(
            outcome("s3cret"),
            AuthOutcome::Authenticated {
                username: "sb-trunk".into()
            }
        );
        assert_eq!(
            outcome("other"),
            AuthOutcome::Forbidden,
            "it is the password that made it"
        );

        // the challenge again (our ACK was lost): acknowledged again by the first transaction
        c.handle_response(t0, challenge(&first, &nonces, code));
        assert_eq!(methods(&sent(&mut c)), ["ACK"]);

        // answered: the ACK carries the same credentials (§13.2.2.4)
        c.handle_response(t0, ok(second, "carrier"));
        let (ack, _) = sent(&mut c).remove(0);
        assert_eq!(ack.header(answer), Some(value));
        assert_eq!(ack.cseq().unwrap().seq, 2);
        assert!(matches!(events(&mut c)[..], [CallEvent::Answered { .. }]));
    }
}

#[test]
fn a_second_challenge_fails_the_call() {
    let t0 = Instant::now();
    let creds = TrunkCredentials {
        username: "sb-trunk".into(),
        password: "wrong".into(),
    };
    let mut c =
        OutboundCall::new(t0, dial(&[], Some(&creds)), &local(), Entropy::seeded(9)).unwrap();
    let (first, _) = sent(&mut c).remove(0);
    let nonces = Nonces::new([7; 32], Duration::from_secs(300));
    c.handle_response(t0, challenge(&first, &nonces, 407));
    let second = sent(&mut c).remove(1).0;
    c.handle_response(t0, challenge(&second, &nonces, 407));
    assert_eq!(methods(&sent(&mut c)), ["ACK"]);
    assert_eq!(
        events(&mut c),
        [CallEvent::Failed {
            code: 407,
            reason: "Proxy Authentication Required".into()
        }]
    );

    // without credentials the first challenge fails it already
    let mut c = start(t0);
    let (first, _) = sent(&mut c).remove(0);
    c.handle_response(t0, challenge(&first, &nonces, 407));
    assert!(matches!(
        events(&mut c)[..],
        [CallEvent::Failed { code: 407, .. }]
    ));
}

#[test]
fn a_cancel_before_any_provisional_waits_for_one() {
    let t0 = Instant::now();
    let mut c = start(t0);
    let (invite, _) = sent(&mut c).remove(0);
    c.cancel(t0);
    assert!(
        sent(&mut c).is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    c.handle_response(t0, response(&invite, 100, "", &[], ""));
    let (cancel, hop) = sent(&mut c).remove(0);
    assert_eq!(cancel.method(), Some(Method::Cancel));
    assert_eq!(hop, TARGET, "where the INVITE went");
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch(),
        "the INVITE's branch"
    );
    c.handle_response(t0, response(&cancel, 200, "bob", &[], ""));
    c.handle_response(t0, response(&invite, 180, "bob", &[], ""));
    assert!(events(&mut c).is_empty(), "no ringing once given up");
    c.handle_response(t0, response(&invite, 487, "bob", &[], ""));
    assert_eq!(methods(&sent(&mut c)), ["ACK"]);
    assert_eq!(events(&mut c), [CallEvent::Ended(EndReason::Cancelled)]);
}

#[test]
fn a_cancel_after_a_provisional_goes_at_once_and_a_silent_callee_is_abandoned() {
    let t0 = Instant::now();
    let mut c = start(t0);
    let (invite, _) = sent(&mut c).remove(0);
    c.handle_response(t0, response(&invite, 180, "bob", &[], ""));
    events(&mut c);
    c.cancel(t0);
    assert_eq!(methods(&sent(&mut c)), ["CANCEL"]);
    c.cancel(t0);
    assert!(sent(&mut c).is_empty(), "one CANCEL");
    // nothing ever answers: 64*T1 later the INVITE is given up (§9.1)
    let mut now = t0;
    while !c.is_ended() {
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
        assert!(methods(&sent(&mut c)).iter().all(|m| *m == "CANCEL"));
    }
    assert_eq!(now - t0, Duration::from_secs(32));
    assert_eq!(events(&mut c), [CallEvent::Ended(EndReason::Cancelled)]);
}

#[test]
fn a_2xx_crossing_our_cancel_gets_its_ack_then_a_bye() {
    let t0 = Instant::now();
    let mut c = start(t0);
    let (invite, _) = sent(&mut c).remove(0);
    c.handle_response(t0, response(&invite, 180, "bob", &[], ""));
    events(&mut c);
    c.cancel(t0);
    let (cancel, _) = sent(&mut c).remove(0);
    c.handle_response(t0, ok(&invite, "bob"));
    c.handle_response(t0, response(&cancel, 200, "bob", &[], ""));
    let out = sent(&mut c);
    assert_eq!(methods(&out), ["ACK", "BYE"]);
    assert_eq!(out[1].0.to_tag(), Some("bob"));
    assert!(events(&mut c).is_empty(), "never answered for the owner");
    c.handle_response(t0, response(&out[1].0, 200, "bob", &[], ""));
    assert_eq!(events(&mut c), [CallEvent::Ended(EndReason::Cancelled)]);
}

#[test]
fn the_callees_re_invite_and_info_are_handled_as_a_partys() {
    let t0 = Instant::now();
    let (mut c, _, ok) = answered(t0);
    let hold = ANSWER.replace("a=sendrecv", "a=sendonly");
    let sdp = "Content-Type: application/sdp\r\n";
    c.handle_request(t0, &from_callee(&ok, "INVITE", 1, sdp, &hold), None);
    assert_eq!(
        events(&mut c),
        [CallEvent::Offer {
            sdp: Bytes::from(hold)
        }]
    );
    let held = OFFER.replace("a=sendrecv", "a=recvonly");
    c.answer_offer(t0, &held).unwrap();
    let (resp, _) = sent(&mut c).remove(0);
    assert_eq!(resp.status(), Some(200));
    assert_eq!(resp.body(), held.as_bytes());
    assert_eq!(
        resp.to_tag(),
        ok.from_tag(),
        "our tag: we are the To of their requests"
    );

    let relay = "Content-Type: application/dtmf-relay\r\n";
    c.handle_request(
        t0,
        &from_callee(&ok, "INFO", 2, relay, "Signal=*\r\n"),
        None,
    );
    assert_eq!(sent(&mut c)[0].0.status(), Some(200));
    assert!(matches!(&events(&mut c)[..], [CallEvent::Digit(d)] if d.digit.as_char() == '*'));
}

#[test]
fn a_second_fork_answering_is_acked_and_hung_up_unseen() {
    let t0 = Instant::now();
    let (mut c, invite, _) = answered(t0);
    let other = response(
        &invite,
        200,
        "alice",
        &[("Contact", "<sip:1002@192.0.2.60:5070>")],
        ANSWER,
    );
    c.handle_response(t0, other.clone());
    let out = sent(&mut c);
    assert_eq!(methods(&out), ["ACK", "BYE"]);
    assert!(out
        .iter()
        .all(|(m, hop)| m.to_tag() == Some("alice") && hop == "sip:1002@192.0.2.60:5070"));
    assert!(events(&mut c).is_empty(), "the owner hears of one answer");
    c.handle_response(t0, other);
    assert_eq!(
        methods(&sent(&mut c)),
        ["ACK"],
        "its 200 again: its ACK again"
    );
    c.handle_response(t0, response(&out[1].0, 200, "alice", &[], ""));
    assert!(events(&mut c).is_empty());
    assert!(!c.is_ended(), "the answered call goes on");
}

#[test]
fn values_that_are_no_sip_are_refused() {
    let t0 = Instant::now();
    let mut d = dial(&[], None);
    d.from = "team-a <sip:conf-team-a@sb.example";
    let r = OutboundCall::new(t0, d, &local(), Entropy::seeded(1));
    assert_eq!(r.err(), Some(DialogError::Invalid("From")));
    let mut d = dial(&[], None);
    d.headers = &[("Subject", "a\r\n\r\nbroken")];
    let r = OutboundCall::new(t0, d, &local(), Entropy::seeded(1));
    assert_eq!(r.err(), Some(DialogError::Invalid("headers")));
}

#[test]
fn the_owner_may_choose_the_call_id_and_a_bad_one_is_refused() {
    let t0 = Instant::now();
    let mut d = dial(&[], None);
    d.call_id = Some("dialout-7@sb.example");
    let call = OutboundCall::new(t0, d, &local(), Entropy::seeded(5)).unwrap();
    assert_eq!(call.call_id(), "dialout-7@sb.example");
    for bad in ["", "a b", "a\r\nX: y"] {
        let mut d = dial(&[], None);
        d.call_id = Some(bad);
        assert!(
            OutboundCall::new(t0, d, &local(), Entropy::seeded(5)).is_err(),
            "{bad:?}"
        );
    }
}
