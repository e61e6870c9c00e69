use std::time::Duration;

use super::*;
use crate::dialog::event::{EndReason, NORMAL_CLEARING};
use crate::media::dtmf::{Digit, InfoDigit};
use crate::sip::via::MAGIC_COOKIE;
use crate::sip::{validate, HeaderName, Method, ResponseBuilder};

const OFFER: &str = "v=0\r\no=kim 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=sendrecv\r\n";
const ANSWER: &str = "v=0\r\no=switchboard 7 7 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=sendrecv\r\n";
const HOLD: &str = "v=0\r\no=kim 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=sendonly\r\n";
const HELD: &str = "v=0\r\no=switchboard 7 8 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=recvonly\r\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn local() -> Local {
    Local::new("127.0.0.1", 5060, "sb.example")
}

/// A request from the caller (Kim at 192.0.2.1), `to_tag` empty outside the dialog.
fn request(
    method: &str,
    to_tag: &str,
    cseq: u32,
    branch: &str,
    extra: &str,
    body: &str,
) -> Message {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let ctype = if body.is_empty() || extra.contains("Content-Type") {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    let s = format!(
        "{method} sip:conf-a@sb.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\n\
Record-Route: <sip:edge.example;lr>\r\n\
From: \"Kim\" <sip:1001@sb.example>;tag=kim\r\n\
To: <sip:conf-a@sb.example>{to_tag}\r\n\
Call-ID: party-1\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:1001@192.0.2.1:5062>\r\n\
{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Message::parse(Bytes::from(s)).unwrap()
}

fn invite(body: &str) -> Message {
    request("INVITE", "", 7, "inv", "", body)
}

fn start(now: Instant, body: &str, early: Option<Provisional>) -> PartyDialog {
    PartyDialog::new(
        now,
        &invite(body),
        Transport::Udp,
        None,
        &local(),
        Entropy::seeded(1),
        PartyAnswer {
            sdp: ANSWER,
            reason: "OK",
            early,
        },
    )
}

/// What the dialog sent, parsed back, each checked for what every message of ours must
/// carry: responses our tag, requests a fresh RFC 3261 branch, the CSeq of their method,
/// our tag in From, the caller's in To, and a next hop along the route set.
fn sent(d: &mut PartyDialog) -> Vec<Message> {
    let tag = d.local_tag().to_owned();
    let mut v = Vec::new();
    while let Some(o) = d.poll_output() {
        let m = match o {
            DialogOutput::Reply(b) => {
                let m = Message::parse(b).unwrap();
                if m.status() != Some(481) {
                    assert_eq!(m.to_tag(), Some(tag.as_str()), "our tag on our responses");
                }
                assert_eq!(m.from_tag(), Some("kim"));
                m
            }
            DialogOutput::Request { bytes, next_hop } => {
                let m = Message::parse(bytes).unwrap();
                assert_eq!(validate::request(&m), Ok(()));
                let branch = m.top_via().unwrap().branch().unwrap().to_owned();
                assert!(branch.starts_with(MAGIC_COOKIE), "{branch}");
                assert_eq!(m.cseq().unwrap().method_str, m.method_str().unwrap());
                assert_eq!(m.from_tag(), Some(tag.as_str()));
                assert_eq!(m.to_tag(), Some("kim"));
                assert_eq!(next_hop, "sip:edge.example;lr", "the caller's route set");
                assert_eq!(m.header(HeaderName::Route), Some("<sip:edge.example;lr>"));
                m
            }
        };
        assert_eq!(m.call_id(), Some("party-1"));
        v.push(m);
    }
    v
}

fn events(d: &mut PartyDialog) -> Vec<CallEvent> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

fn statuses(v: &[Message]) -> Vec<u16> {
    v.iter().map(|m| m.status().unwrap_or(0)).collect()
}

/// `m` with the Contact of the phone at its new address.
fn moved(m: Message) -> Message {
    let text = String::from_utf8_lossy(m.as_bytes()).replace(
        "Contact: <sip:1001@192.0.2.1:5062>",
        "Contact: <sip:1001@192.0.2.99:5062>",
    );
    Message::parse(Bytes::from(text)).unwrap()
}

/// The caller's ACK of our 2xx to the INVITE with CSeq `cseq`.
fn ack(d: &PartyDialog, cseq: u32, body: &str) -> Message {
    request("ACK", d.local_tag(), cseq, &format!("ack{cseq}"), "", body)
}

/// Answered and acknowledged.
fn confirmed(t0: Instant) -> PartyDialog {
    let mut d = start(t0, OFFER, None);
    sent(&mut d);
    d.handle_request(t0, &ack(&d, 7, ""), None);
    assert_eq!(events(&mut d), [CallEvent::Acked { sdp: None }]);
    d
}

#[test]
fn the_200_is_retransmitted_on_t1_doubling_up_to_t2_until_the_ack() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, None);
    let ok = sent(&mut d).remove(0);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.cseq().unwrap().method, Method::Invite);
    assert_eq!(ok.body(), ANSWER.as_bytes());
    let contact: Vec<_> = ok.contacts().map(|c| c.uri().as_str().to_owned()).collect();
    assert_eq!(contact, ["sip:127.0.0.1:5060"]);
    assert_eq!(
        ok.header(HeaderName::RecordRoute),
        Some("<sip:edge.example;lr>"),
        "the dialog-creating 200 keeps the route set (§12.1.1)"
    );
    let mut at = t0;
    let mut gaps = Vec::new();
    for _ in 0..5 {
        let next = d.poll_timeout().unwrap();
        gaps.push((next - at).as_millis());
        at = next;
        d.handle_timeout(at);
        assert_eq!(statuses(&sent(&mut d)), [200], "the 200 again");
    }
    assert_eq!(gaps, [500, 1000, 2000, 4000, 4000]);

    // the INVITE again: the 200 again at once
    d.handle_request(at, &invite(OFFER), None);
    assert_eq!(statuses(&sent(&mut d)), [200]);

    d.handle_request(at, &ack(&d, 7, ""), None);
    assert_eq!(events(&mut d), [CallEvent::Acked { sdp: None }]);
    d.handle_request(at, &ack(&d, 7, ""), None);
    assert!(events(&mut d).is_empty(), "a repeated ACK is nothing new");
    // what is left is the INVITE transaction's own end (Timer L), with nothing to send
    while let Some(t) = d.poll_timeout() {
        d.handle_timeout(t);
        assert!(sent(&mut d).is_empty(), "no 200 after the ACK");
    }
}

#[test]
fn no_ack_within_64_t1_gives_up_with_an_event_and_the_owner_hangs_up() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, None);
    sent(&mut d);
    let mut now;
    let mut retransmissions = 0;
    loop {
        now = d.poll_timeout().unwrap();
        d.handle_timeout(now);
        retransmissions += sent(&mut d).len();
        let e = events(&mut d);
        if !e.is_empty() {
            assert_eq!(e, [CallEvent::AckTimedOut]);
            break;
        }
    }
    assert_eq!(now - t0, Duration::from_secs(32), "64*T1");
    assert_eq!(
        retransmissions, 10,
        "0.5, 1.5, 3.5, 7.5, then every 4 s to 31.5"
    );

    d.hang_up(now, NORMAL_CLEARING);
    let bye = sent(&mut d).remove(0);
    assert_eq!(bye.method(), Some(Method::Bye));
    assert_eq!(bye.header_by_name("Reason"), Some(NORMAL_CLEARING));
    let ok = Message::parse(ResponseBuilder::new(&bye, 200, "OK").build()).unwrap();
    assert!(d.owns_response(&ok));
    assert!(d.handle_response(now, ok));
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::HungUp)]);
}

#[test]
fn our_hang_up_is_a_bye_with_a_reason_ended_when_answered() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    d.hang_up(t0, "Q.850;cause=16");
    let bye = sent(&mut d).remove(0);
    assert_eq!(bye.method(), Some(Method::Bye));
    assert_eq!(
        bye.request_uri_str(),
        Some("sip:1001@192.0.2.1:5062"),
        "the caller's Contact"
    );
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert_eq!(bye.header_by_name("Reason"), Some("Q.850;cause=16"));
    assert!(events(&mut d).is_empty(), "not over until answered");
    // lost once: Timer E
    let e = d.poll_timeout().unwrap();
    assert_eq!(e - t0, ms(500));
    d.handle_timeout(e);
    assert_eq!(sent(&mut d)[0].method(), Some(Method::Bye));
    let ok = Message::parse(ResponseBuilder::new(&bye, 200, "OK").build()).unwrap();
    d.handle_response(e, ok);
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::HungUp)]);
    assert!(d.is_ended());
    // the BYE's transaction ends with Timer K, then nothing is left
    while let Some(t) = d.poll_timeout() {
        d.handle_timeout(t);
    }
    assert!(d.is_done());
}

#[test]
fn an_unanswered_bye_still_ends_the_call_when_it_times_out() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    d.hang_up(t0, NORMAL_CLEARING);
    let mut now = t0;
    let mut byes = 0;
    while !d.is_ended() {
        now = d.poll_timeout().unwrap();
        d.handle_timeout(now);
        byes += sent(&mut d).len();
    }
    assert_eq!(now - t0, Duration::from_secs(32), "Timer F");
    assert!(byes >= 8, "{byes}");
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::HungUp)]);
}

#[test]
fn a_hang_up_before_the_ack_waits_for_it() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, None);
    sent(&mut d);
    d.hang_up(t0, NORMAL_CLEARING);
    assert!(sent(&mut d).is_empty(), "no BYE before the ACK (§15)");
    d.handle_request(t0 + ms(100), &ack(&d, 7, ""), None);
    assert_eq!(sent(&mut d)[0].method(), Some(Method::Bye));
}

#[test]
fn a_bye_from_the_caller_is_answered_once_and_ends_the_call() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    let bye = request("BYE", d.local_tag(), 8, "bye", "", "");
    d.handle_request(t0, &bye, None);
    let ok = sent(&mut d);
    assert_eq!(statuses(&ok), [200]);
    assert_eq!(ok[0].cseq().unwrap().method, Method::Bye);
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::PeerHungUp)]);
    // retransmitted: the same answer, nothing new
    d.handle_request(t0 + ms(500), &bye, None);
    assert_eq!(statuses(&sent(&mut d)), [200]);
    assert!(events(&mut d).is_empty());
    // anything after it belongs to no dialog
    let info = request("INFO", d.local_tag(), 9, "late", "", "");
    d.handle_request(t0 + ms(600), &info, None);
    assert_eq!(statuses(&sent(&mut d)), [481]);
    d.hang_up(t0 + ms(700), NORMAL_CLEARING);
    assert!(sent(&mut d).is_empty(), "no BYE after the call ended");
}

#[test]
fn a_re_invite_for_hold_is_an_offer_and_the_owners_answer_goes_in_the_200() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    // the phone moved: its new Contact is the target from now on (a target refresh, §12.2.2)
    let reinvite = moved(request("INVITE", d.local_tag(), 8, "re", "", HOLD));
    d.handle_request(t0, &reinvite, None);
    assert!(sent(&mut d).is_empty(), "the owner answers");
    assert_eq!(
        events(&mut d),
        [CallEvent::Offer {
            sdp: Bytes::from_static(HOLD.as_bytes())
        }]
    );
    d.answer_offer(t0, HELD).unwrap();
    let ok = sent(&mut d).remove(0);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.cseq().unwrap().seq, 8);
    assert_eq!(ok.body(), HELD.as_bytes());
    assert!(ok.contacts().next().is_some());
    assert_eq!(
        ok.header(HeaderName::RecordRoute),
        None,
        "a re-INVITE keeps the route set"
    );
    assert_eq!(d.answer_offer(t0, HELD), Err(DialogError::NoOffer));
    // retransmitted until its ACK like the first
    let t = d.poll_timeout().unwrap();
    assert_eq!(t - t0, ms(500));
    d.handle_timeout(t);
    assert_eq!(statuses(&sent(&mut d)), [200]);
    d.handle_request(t, &ack(&d, 8, ""), None);
    assert_eq!(events(&mut d), [CallEvent::Acked { sdp: None }]);
    // an in-dialog INVITE without an offer now gets HELD as ours (§14.2)
    d.handle_request(
        t,
        &moved(request("INVITE", d.local_tag(), 9, "re2", "", "")),
        None,
    );
    let ok = sent(&mut d).remove(0);
    assert_eq!(ok.body(), HELD.as_bytes());
    d.handle_request(t, &ack(&d, 9, ANSWER), None);
    assert_eq!(
        events(&mut d),
        [CallEvent::Acked {
            sdp: Some(Bytes::from_static(ANSWER.as_bytes()))
        }],
        "the answer to our offer comes in the ACK"
    );
    d.hang_up(t, NORMAL_CLEARING);
    let bye = sent(&mut d).remove(0);
    assert_eq!(bye.request_uri_str(), Some("sip:1001@192.0.2.99:5062"));
    assert_eq!(bye.cseq().unwrap().seq, 1);
}

#[test]
fn a_second_offer_while_one_is_open_is_refused_and_an_update_offer_can_be_refused() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    d.handle_request(
        t0,
        &request("UPDATE", d.local_tag(), 8, "up", "", HOLD),
        None,
    );
    assert!(matches!(events(&mut d)[..], [CallEvent::Offer { .. }]));
    d.handle_request(
        t0,
        &request("INVITE", d.local_tag(), 9, "re", "", OFFER),
        None,
    );
    let busy = sent(&mut d).remove(0);
    assert_eq!(busy.status(), Some(500), "we owe an answer (§14.2)");
    let after: u32 = busy.header_by_name("Retry-After").unwrap().parse().unwrap();
    assert!(after <= 10);
    assert!(events(&mut d).is_empty());
    d.refuse_offer(t0).unwrap();
    let refused = sent(&mut d).remove(0);
    assert_eq!(refused.status(), Some(488));
    assert_eq!(refused.cseq().unwrap().method, Method::Update);
    assert_eq!(d.refuse_offer(t0), Err(DialogError::NoOffer));
}

#[test]
fn info_digits_become_events_once_and_other_bodies_get_415() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    let relay = "Content-Type: application/dtmf-relay\r\n";
    let info = request(
        "INFO",
        d.local_tag(),
        8,
        "i1",
        relay,
        "Signal=5\r\nDuration=160\r\n",
    );
    d.handle_request(t0, &info, None);
    assert_eq!(statuses(&sent(&mut d)), [200]);
    let five = InfoDigit {
        digit: Digit::from_char('5').unwrap(),
        duration: Some(ms(160)),
    };
    assert_eq!(events(&mut d), [CallEvent::Digit(five)]);
    d.handle_request(t0, &info, None);
    assert_eq!(
        statuses(&sent(&mut d)),
        [200],
        "a retransmission: the same answer"
    );
    assert!(events(&mut d).is_empty(), "and no second digit");

    let plain = "Content-Type: application/dtmf\r\n";
    d.handle_request(
        t0,
        &request("INFO", d.local_tag(), 9, "i2", plain, "#"),
        None,
    );
    assert_eq!(statuses(&sent(&mut d)), [200]);
    let hash = events(&mut d);
    assert!(matches!(&hash[..], [CallEvent::Digit(d)] if d.digit.as_char() == '#'));

    let text = "Content-Type: text/plain\r\n";
    d.handle_request(
        t0,
        &request("INFO", d.local_tag(), 10, "i3", text, "hi"),
        None,
    );
    let r = sent(&mut d).remove(0);
    assert_eq!(r.status(), Some(415));
    assert!(r.header(HeaderName::Accept).unwrap().contains("dtmf-relay"));
    d.handle_request(
        t0,
        &request("INFO", d.local_tag(), 11, "i4", relay, "Signal=x"),
        None,
    );
    assert_eq!(statuses(&sent(&mut d)), [400]);
    d.handle_request(t0, &request("INFO", d.local_tag(), 12, "i5", "", ""), None);
    assert_eq!(
        statuses(&sent(&mut d)),
        [200],
        "an empty INFO is a keep-alive"
    );
    assert!(events(&mut d).is_empty());
}

#[test]
fn options_in_the_dialog_get_200_with_what_we_allow() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    d.handle_request(t0, &request("OPTIONS", d.local_tag(), 8, "o", "", ""), None);
    let ok = sent(&mut d).remove(0);
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(HeaderName::Allow).unwrap().contains("INFO"));
    d.handle_request(t0, &request("REFER", d.local_tag(), 9, "r", "", ""), None);
    assert_eq!(statuses(&sent(&mut d)), [405]);
}

#[test]
fn a_cancel_before_the_answer_gets_200_and_the_invite_487() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, Some(Provisional::SessionProgress));
    let progress = sent(&mut d).remove(0);
    assert_eq!(progress.status(), Some(183));
    assert_eq!(progress.body(), ANSWER.as_bytes(), "early media");
    assert!(
        progress.contacts().next().is_some(),
        "an early dialog has a target"
    );
    assert!(d.is_early());
    assert_eq!(d.poll_timeout(), None, "nothing to repeat while early");

    // the CANCEL shares the INVITE's branch (§9.1)
    d.handle_request(t0, &request("CANCEL", "", 7, "inv", "", ""), None);
    let out = sent(&mut d);
    assert_eq!(statuses(&out), [200, 487]);
    assert_eq!(out[0].cseq().unwrap().method, Method::Cancel);
    assert_eq!(out[1].cseq().unwrap().method, Method::Invite);
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::Cancelled)]);

    // the 487 is repeated (Timer G) until its ACK, which shares the INVITE's branch
    let g = d.poll_timeout().unwrap();
    assert_eq!(g - t0, ms(500));
    d.handle_timeout(g);
    assert_eq!(statuses(&sent(&mut d)), [487]);
    let ack = request("ACK", d.local_tag(), 7, "inv", "", "");
    d.handle_request(g, &ack, None);
    assert!(sent(&mut d).is_empty());
    d.answer(g);
    assert!(sent(&mut d).is_empty(), "no 200 after the 487");
    while let Some(t) = d.poll_timeout() {
        d.handle_timeout(t);
        assert!(sent(&mut d).is_empty(), "acknowledged: no more 487");
    }
    assert!(d.is_done());
}

#[test]
fn early_media_then_the_200_with_the_same_sdp_on_answer() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, Some(Provisional::Ringing));
    let ringing = sent(&mut d).remove(0);
    assert_eq!(ringing.status(), Some(180));
    d.answer(t0 + Duration::from_secs(3));
    let ok = sent(&mut d).remove(0);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.body(), ringing.body());
    assert_eq!(ok.to_tag(), ringing.to_tag(), "one dialog");
    d.answer(t0 + Duration::from_secs(3));
    assert!(sent(&mut d).is_empty(), "answered once");

    // without an offer in the INVITE, the 180 goes without SDP and the 200 offers
    let mut d = start(t0, "", Some(Provisional::Ringing));
    assert!(sent(&mut d)[0].body().is_empty());
    d.answer(t0);
    assert_eq!(sent(&mut d)[0].body(), ANSWER.as_bytes());
}

#[test]
fn hanging_up_before_the_answer_refuses_the_invite() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, Some(Provisional::SessionProgress));
    sent(&mut d);
    d.hang_up(t0, NORMAL_CLEARING);
    assert_eq!(statuses(&sent(&mut d)), [480]);
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::HungUp)]);
}

#[test]
fn requests_of_another_dialog_get_481_and_out_of_order_ones_500() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    let stray = request("BYE", "someone-else", 8, "b1", "", "");
    assert!(!d.owns(&stray));
    d.handle_request(t0, &stray, None);
    let r = sent(&mut d);
    assert_eq!(statuses(&r), [481]);
    assert!(events(&mut d).is_empty(), "the call goes on");
    let old = request("INFO", d.local_tag(), 6, "b2", "", "");
    d.handle_request(t0, &old, None);
    assert_eq!(
        statuses(&sent(&mut d)),
        [500],
        "CSeq below the INVITE's (§12.2.2)"
    );
    let stray_invite = request("INVITE", "someone-else", 9, "b3", "", OFFER);
    d.handle_request(t0, &stray_invite, None);
    assert_eq!(statuses(&sent(&mut d)), [481]);
    // the 481 to an INVITE is a final the transaction repeats until its ACK
    let g = d.poll_timeout().unwrap();
    d.handle_timeout(g);
    assert_eq!(statuses(&sent(&mut d)), [481]);
}

mod refer;
