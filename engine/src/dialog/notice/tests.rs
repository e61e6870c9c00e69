use std::time::Duration;

use super::*;
use crate::numbering::NumberFormat;
use crate::sip::{reason_phrase, HeaderName, Method, ResponseBuilder};
use crate::trunk::Trunk;

const OFFER: &str = "v=0\r\no=switchboard 3 3 IN IP4 192.0.2.1\r\ns=-\r\n\
c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=sendrecv\r\n";
const ANSWER: &str = "v=0\r\no=gw 9 9 IN IP4 192.0.2.80\r\ns=-\r\nc=IN IP4 192.0.2.80\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n";
const LANDLINE: &str = "+82221234567";
const RING: Duration = Duration::from_secs(30);

fn local() -> Local {
    Local::new("192.0.2.1", 5060, "sb.example")
}

fn trunks() -> Trunks {
    let trunk = |name: &str, addr: &str, strip_plus: bool| Trunk {
        name: name.into(),
        group: "pstn".into(),
        remote: addr.parse().unwrap(),
        transport: Transport::Udp,
        credentials: None,
        format: NumberFormat {
            strip_plus,
            ..NumberFormat::default()
        },
        no_response: Duration::from_secs(5),
    };
    Trunks::new(vec![
        trunk("gw-a", "192.0.2.80:5060", true),
        trunk("gw-b", "192.0.2.81:5060", false),
    ])
}

fn start(t0: Instant) -> NoticeCall {
    let dial = NoticeDial {
        from: "\"+82 10-9999-0000\" <sip:+821099990000@sb.example>",
        to: "<sip:+82221234567@sb.example>",
        sdp: OFFER,
        call_id: "notice-1@192.0.2.1",
        ring: RING,
    };
    let routes = NoticeRoute::through(&trunks(), "pstn", LANDLINE);
    NoticeCall::new(t0, dial, routes, &local(), Entropy::seeded(3)).unwrap()
}

/// The requests the call sent (responses of ours left out).
fn requests(n: &mut NoticeCall) -> Vec<Message> {
    let mut v = Vec::new();
    while let Some(o) = n.poll_output() {
        if let DialogOutput::Request { bytes, .. } = o {
            let m = Message::parse(bytes).unwrap();
            assert_eq!(m.call_id(), Some("notice-1@192.0.2.1"));
            v.push(m);
        }
    }
    v
}

fn methods(v: &[Message]) -> Vec<&str> {
    v.iter().map(|m| m.method_str().unwrap()).collect()
}

fn events(n: &mut NoticeCall) -> Vec<NoticeEvent> {
    std::iter::from_fn(|| n.poll_event()).collect()
}

fn response(req: &Message, code: u16, body: &str) -> Message {
    let mut b = ResponseBuilder::new(req, code, reason_phrase(code)).to_tag("gw");
    if code == 200 && req.method() == Some(Method::Invite) {
        b = b.header("Contact", "<sip:gw@192.0.2.80:5060>");
    }
    if !body.is_empty() {
        b = b.body("application/sdp", body.as_bytes());
    }
    Message::parse(b.build()).unwrap()
}

fn failed(cause: Cause, code: u16) -> NoticeEvent {
    NoticeEvent::Finished(AttemptResult::Failed(Failure::new(cause, code)))
}

/// Runs every deadline until the machine has nothing left.
fn settle(n: &mut NoticeCall) {
    while let Some(t) = n.poll_timeout() {
        n.handle_timeout(t);
        requests(n);
    }
}

/// Called, rung and answered through the first trunk: the INVITE and the 200.
fn answered(t0: Instant) -> (NoticeCall, Message, Message) {
    let mut n = start(t0);
    let invite = requests(&mut n).remove(0);
    n.handle_response(t0, response(&invite, 180, ""));
    let ok = response(&invite, 200, ANSWER);
    n.handle_response(t0, ok.clone());
    assert_eq!(
        events(&mut n),
        [
            NoticeEvent::Trying { route: 0 },
            NoticeEvent::Answered {
                sdp: Bytes::from_static(ANSWER.as_bytes())
            }
        ]
    );
    assert_eq!(methods(&requests(&mut n)), ["ACK"]);
    (n, invite, ok)
}

#[test]
fn an_answered_call_is_read_out_then_hung_up_and_delivers_the_notice() {
    let t0 = Instant::now();
    let (mut n, invite, _) = answered(t0);
    assert_eq!(
        invite.request_uri_str(),
        Some("sip:82221234567@192.0.2.80:5060;user=phone"),
        "the first trunk, in its number format"
    );
    assert_eq!(invite.body(), OFFER.as_bytes());
    assert_eq!(
        invite.from().unwrap().uri().as_str(),
        "sip:+821099990000@sb.example"
    );
    // reading for a minute: no ring limit or silence ends an answered call
    let t1 = t0 + Duration::from_secs(60);
    n.handle_timeout(t1);
    assert!(requests(&mut n).is_empty());
    assert!(events(&mut n).is_empty());
    n.read_out(t1);
    assert_eq!(
        events(&mut n),
        [NoticeEvent::Finished(AttemptResult::Delivered)]
    );
    let bye = requests(&mut n).remove(0);
    assert_eq!(bye.method(), Some(Method::Bye));
    assert_eq!(bye.request_uri_str(), Some("sip:gw@192.0.2.80:5060"));
    assert_eq!(bye.header_by_name("Reason"), Some(NORMAL_CLEARING));
    assert!(!n.is_done(), "the BYE waits for its answer");
    n.handle_response(t1, response(&bye, 200, ""));
    settle(&mut n);
    assert!(n.is_done());
    assert!(events(&mut n).is_empty(), "one Finished");
}

#[test]
fn the_callee_hanging_up_before_the_reading_ended_is_a_hang_up() {
    let t0 = Instant::now();
    let (mut n, _, ok) = answered(t0);
    let bye = format!(
        "BYE sip:192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.80:5060;branch=z9hG4bKgwbye\r\n\
         Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        ok.header(HeaderName::To).unwrap(),
        ok.header(HeaderName::From).unwrap(),
        ok.call_id().unwrap()
    );
    n.handle_request(t0, &Message::parse(Bytes::from(bye)).unwrap(), None);
    assert_eq!(events(&mut n), [failed(Cause::HungUp, 0)]);
    let mut replies = Vec::new();
    while let Some(o) = n.poll_output() {
        replies.push(o);
    }
    assert!(
        matches!(replies[..], [DialogOutput::Reply(_)]),
        "200 to the BYE"
    );
    n.read_out(t0);
    assert!(events(&mut n).is_empty(), "too late: nothing more");
}

#[test]
fn busy_ends_the_call_without_trying_the_next_trunk() {
    let t0 = Instant::now();
    let mut n = start(t0);
    let invite = requests(&mut n).remove(0);
    n.handle_response(t0, response(&invite, 486, ""));
    assert_eq!(
        events(&mut n),
        [NoticeEvent::Trying { route: 0 }, failed(Cause::Busy, 486)]
    );
    assert_eq!(methods(&requests(&mut n)), ["ACK"]);
    settle(&mut n);
    assert!(n.is_done());
}

#[test]
fn a_failing_trunk_and_a_silent_one_hand_the_call_on_until_none_is_left() {
    let t0 = Instant::now();
    let mut n = start(t0);
    let first = requests(&mut n).remove(0);
    n.handle_response(t0, response(&first, 503, ""));
    assert_eq!(
        events(&mut n),
        [
            NoticeEvent::Trying { route: 0 },
            NoticeEvent::Trying { route: 1 }
        ]
    );
    let sent = requests(&mut n);
    assert_eq!(
        methods(&sent),
        ["ACK", "INVITE"],
        "the 503 acknowledged, gw-b called"
    );
    assert_eq!(
        sent[1].request_uri_str(),
        Some("sip:+82221234567@192.0.2.81:5060;user=phone")
    );
    assert_eq!(n.route().trunk, TrunkId(1));
    assert_ne!(sent[1].from_tag(), first.from_tag(), "a new call");

    // gw-b says nothing at all: given up after its silence time, and no trunk is left
    let mut t = t0;
    let outcome = loop {
        if let Some(e) = n.poll_event() {
            break e;
        }
        t = n.poll_timeout().unwrap();
        n.handle_timeout(t);
        assert!(
            methods(&requests(&mut n)).iter().all(|m| *m == "INVITE"),
            "retransmissions only"
        );
    };
    assert_eq!(outcome, failed(Cause::TrunkFailed, 408));
    assert_eq!(t - t0, Duration::from_secs(5));
    assert!(n.is_finished());
    assert!(events(&mut n).is_empty(), "nothing follows the failure");
    settle(&mut n);
    assert!(n.is_done());
}

#[test]
fn a_silent_first_trunk_fails_over_and_its_result_is_the_second_ones() {
    let t0 = Instant::now();
    let mut n = start(t0);
    requests(&mut n);
    let t5 = t0 + Duration::from_secs(5);
    n.handle_timeout(t5);
    assert_eq!(
        events(&mut n),
        [
            NoticeEvent::Trying { route: 0 },
            NoticeEvent::Trying { route: 1 }
        ]
    );
    let invite = requests(&mut n).remove(0);
    assert_eq!(invite.method(), Some(Method::Invite));
    n.handle_response(t5, response(&invite, 404, ""));
    assert_eq!(events(&mut n), [failed(Cause::Rejected, 404)]);
}

#[test]
fn the_ring_limit_cancels_the_call_and_counts_as_no_answer() {
    let t0 = Instant::now();
    let mut n = start(t0);
    let invite = requests(&mut n).remove(0);
    n.handle_response(t0, response(&invite, 180, ""));
    let limit = n.poll_timeout().unwrap();
    // Timer A stops at the provisional: the next deadline is the ring limit
    assert_eq!(limit - t0, RING);
    n.handle_timeout(limit);
    let cancel = requests(&mut n).remove(0);
    assert_eq!(cancel.method(), Some(Method::Cancel));
    n.handle_response(limit, response(&cancel, 200, ""));
    n.handle_response(limit, response(&invite, 487, ""));
    assert_eq!(
        events(&mut n),
        [
            NoticeEvent::Trying { route: 0 },
            failed(Cause::NoAnswer, 487)
        ]
    );
    settle(&mut n);
    assert!(n.is_done());
}

#[test]
fn an_answer_whose_media_cannot_be_used_is_hung_up_as_refused() {
    let t0 = Instant::now();
    let (mut n, _, _) = answered(t0);
    n.unusable_answer(t0);
    assert_eq!(events(&mut n), [failed(Cause::Rejected, 488)]);
    let bye = requests(&mut n).remove(0);
    assert_eq!(bye.header_by_name("Reason"), Some(REASON_UNUSABLE));
}

#[test]
fn no_trunk_in_the_group_is_refused_at_the_start() {
    let dial = NoticeDial {
        from: "<sip:notice@sb.example>",
        to: "<sip:+82221234567@sb.example>",
        sdp: OFFER,
        call_id: "c@h",
        ring: RING,
    };
    let routes = NoticeRoute::through(&trunks(), "carrier-z", LANDLINE);
    assert!(routes.is_empty());
    let r = NoticeCall::new(Instant::now(), dial, routes, &local(), Entropy::seeded(1));
    assert!(matches!(r, Err(DialogError::Invalid("route"))));
}
