//! Forking, CANCEL, timers and best-response selection, run on protocol time (sequential
//! stages in `stages`, an answered MESSAGE's context in `message`).

use super::*;
use crate::flow::Transport;
use crate::sip::reason_phrase;

mod message;
mod stages;

const INVITE: &str = "INVITE sip:1001@sb.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKcaller1;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:1001@sb.example>\r\n\
From: <sip:1002@sb.example>;tag=caller\r\n\
Call-ID: call-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1002@192.0.2.1:5062>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

struct Run {
    ctx: ProxyContext,
    now: Instant,
    up: Vec<Message>,
    down: Vec<(BranchId, Message)>,
    events: Vec<ContextEvent>,
}

impl Run {
    fn new(raw: &str) -> Run {
        let now = Instant::now();
        let req = Message::parse(Bytes::from(raw.to_owned())).unwrap();
        let local = Arc::new(Local::new("127.0.0.1", 5060, "sb.example"));
        let fix = ViaFix {
            source_ip: "192.0.2.1".parse().unwrap(),
            source_port: 5062,
        };
        let ctx = ProxyContext::new(
            now,
            req,
            Transport::Udp,
            Some(fix),
            local,
            Entropy::seeded(3),
            ContextConfig {
                ring_timeout: Duration::from_secs(60),
                ..Default::default()
            },
        );
        let mut r = Run {
            ctx,
            now,
            up: vec![],
            down: vec![],
            events: vec![],
        };
        r.drain();
        r
    }

    fn drain(&mut self) {
        while let Some(o) = self.ctx.poll_output() {
            match o {
                Output::Upstream(b) => self.up.push(Message::parse(b).unwrap()),
                Output::Downstream { branch, bytes } => {
                    self.down.push((branch, Message::parse(bytes).unwrap()))
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    fn fork(&mut self, n: usize) {
        for i in 0..n {
            let uri = format!("sip:1001@192.0.2.{}:5060", 10 + i);
            self.ctx.add_branch(
                self.now,
                BranchSpec {
                    request_uri: Some(&uri),
                    transport: Transport::Udp,
                    remote: None,
                    record_route: true,
                    pop_route: false,
                    extra_headers: "",
                    no_response: None,
                    drop_history: false,
                    body: None,
                },
            );
        }
        self.ctx.seal(self.now);
        self.drain();
    }

    /// The latest request sent on `branch` with `method`.
    fn sent(&self, branch: BranchId, method: &str) -> Message {
        self.down
            .iter()
            .rev()
            .find(|(b, m)| *b == branch && m.method_str() == Some(method))
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no {method} on branch {branch}"))
    }

    fn answer(&mut self, branch: BranchId, code: u16) {
        let req = self.sent(branch, "INVITE");
        let tag = format!("callee{branch}");
        let resp = ResponseBuilder::new(&req, code, reason_phrase(code))
            .to_tag(&tag)
            .build();
        assert!(self
            .ctx
            .handle_response(self.now, Message::parse(resp).unwrap()));
        self.drain();
    }

    fn answer_cancel(&mut self, branch: BranchId) {
        let cancel = self.sent(branch, "CANCEL");
        let ok = ResponseBuilder::new(&cancel, 200, "OK").to_tag("x").build();
        assert!(self
            .ctx
            .handle_response(self.now, Message::parse(ok).unwrap()));
        self.drain();
    }

    fn advance_to_end(&mut self) {
        while let Some(t) = self.ctx.poll_timeout() {
            self.now = self.now.max(t);
            self.ctx.handle_timeout(self.now);
            self.drain();
        }
    }

    fn up_codes(&self) -> Vec<u16> {
        self.up.iter().filter_map(|m| m.status()).collect()
    }

    fn finished(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ContextEvent::Finished { code } => Some(*code),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn invite_gets_100_trying_at_once_with_received_and_rport() {
    let r = Run::new(INVITE);
    assert_eq!(r.up_codes(), [100]);
    let via = r.up[0].top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(5062)));
}

#[test]
fn forwarded_request_carries_our_via_record_route_and_the_contact_uri() {
    let mut r = Run::new(INVITE);
    r.fork(1);
    let inv = r.sent(0, "INVITE");
    assert_eq!(inv.request_uri_str(), Some("sip:1001@192.0.2.10:5060"));
    let vias: Vec<_> = inv.vias().map(|v| v.host().to_owned()).collect();
    assert_eq!(vias, ["127.0.0.1", "192.0.2.1"]);
    assert!(inv
        .top_via()
        .unwrap()
        .branch()
        .unwrap()
        .starts_with("z9hG4bKsb"));
    assert_eq!(inv.record_routes().count(), 1);
    assert_eq!(inv.max_forwards(), Some(69));
    assert_eq!(inv.body(), b"v=0\n", "SDP passes untouched");
}

#[test]
fn first_2xx_wins_and_the_other_branches_are_cancelled() {
    let mut r = Run::new(INVITE);
    r.fork(2);
    r.answer(0, 180);
    r.answer(1, 180);
    r.answer(0, 200);
    assert_eq!(r.up_codes(), [100, 180, 180, 200]);
    assert_eq!(r.up.last().unwrap().to_tag(), Some("callee0"));
    assert_eq!(r.up.last().unwrap().vias().count(), 1, "our Via removed");
    let cancel = r.sent(1, "CANCEL");
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        r.sent(1, "INVITE").top_via().unwrap().branch()
    );
    r.answer_cancel(1);
    r.answer(1, 487);
    assert!(
        r.sent(1, "ACK").to_tag().is_some(),
        "the 487 is acknowledged hop by hop"
    );
    assert_eq!(
        r.up_codes(),
        [100, 180, 180, 200],
        "no second final upstream"
    );
    assert_eq!(r.finished(), [200]);
    r.advance_to_end();
    assert!(matches!(r.events.last(), Some(ContextEvent::Terminated)));
}

#[test]
fn when_every_branch_fails_the_best_final_goes_up_once_all_answered() {
    let mut r = Run::new(INVITE);
    r.fork(2);
    r.answer(0, 480);
    assert_eq!(r.up_codes(), [100], "waits for the other branch");
    r.answer(1, 486);
    assert_eq!(r.up_codes(), [100, 486]);
    assert_eq!(r.sent(0, "ACK").method_str(), Some("ACK"));
    assert_eq!(r.sent(1, "ACK").method_str(), Some("ACK"));
}

#[test]
fn a_503_from_the_only_branch_goes_up_as_500() {
    let mut r = Run::new(INVITE);
    r.fork(1);
    r.answer(0, 503);
    assert_eq!(r.up_codes(), [100, 500]);
}

#[test]
fn caller_cancel_is_answered_and_propagated_and_487_goes_up() {
    let mut r = Run::new(INVITE);
    r.fork(2);
    r.answer(0, 180);
    let cancel = Message::parse(crate::sip::builder::cancel_for(r.ctx.request())).unwrap();
    r.ctx.handle_cancel(r.now, &cancel);
    r.drain();
    assert_eq!(r.up_codes(), [100, 180, 200], "CANCEL answered with 200");
    assert_eq!(r.up.last().unwrap().cseq().unwrap().method_str, "CANCEL");
    r.sent(0, "CANCEL");
    assert!(
        r.down
            .iter()
            .all(|(b, m)| !(*b == 1 && m.method_str() == Some("CANCEL"))),
        "branch 1 sent no provisional yet, so no CANCEL (§9.1)"
    );
    r.answer(1, 100);
    r.sent(1, "CANCEL");
    r.answer(0, 487);
    r.answer(1, 487);
    assert_eq!(r.up_codes(), [100, 180, 200, 487]);
    r.ctx.handle_cancel(r.now, &cancel);
    r.drain();
    assert_eq!(
        r.up_codes(),
        [100, 180, 200, 487, 200],
        "retransmitted CANCEL gets the same 200"
    );
}

#[test]
fn a_silent_branch_times_out_with_408_after_timer_b() {
    let mut r = Run::new(INVITE);
    let t0 = r.now;
    r.fork(1);
    r.advance_to_end();
    let mut codes = r.up_codes();
    codes.dedup();
    assert_eq!(
        codes,
        [100, 408],
        "the 408 repeats on Timer G since no ACK comes"
    );
    assert_eq!(r.finished(), [408]);
    let invites = r
        .down
        .iter()
        .filter(|(_, m)| m.method_str() == Some("INVITE"))
        .count();
    assert_eq!(invites, 7, "sent at 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
    assert!(r.now - t0 >= Duration::from_secs(32));
}

#[test]
fn ringing_too_long_is_cancelled_and_reported_as_no_answer() {
    let mut r = Run::new(INVITE);
    r.fork(1);
    r.answer(0, 180);
    let c = r.ctx.poll_timeout().unwrap();
    assert_eq!(c - r.now, Duration::from_secs(60), "Timer C");
    r.now = c;
    r.ctx.handle_timeout(c);
    r.drain();
    r.sent(0, "CANCEL");
    r.answer(0, 487);
    assert_eq!(r.up_codes(), [100, 180, 480]);
    assert_eq!(r.up.last().unwrap().reason(), Some("No Answer"));
}

#[test]
fn forked_answers_are_all_forwarded() {
    let mut r = Run::new(INVITE);
    r.fork(2);
    r.answer(0, 180);
    r.answer(1, 180);
    r.answer(0, 200);
    r.answer(1, 200);
    assert_eq!(r.up_codes(), [100, 180, 180, 200, 200]);
    let answered = r
        .events
        .iter()
        .filter(|e| matches!(e, ContextEvent::Answered { .. }))
        .count();
    assert_eq!(answered, 2);
}

#[test]
fn retransmitted_invite_repeats_the_last_provisional() {
    let mut r = Run::new(INVITE);
    r.fork(1);
    r.answer(0, 180);
    let inv = r.ctx.request().clone();
    r.ctx.handle_request(r.now, &inv);
    r.drain();
    assert_eq!(r.up_codes(), [100, 180, 180]);
}

#[test]
fn local_answers_end_the_request_without_branches() {
    let mut r = Run::new(INVITE);
    r.ctx.respond(r.now, 404, "Not Found", &[]);
    r.drain();
    assert_eq!(r.up_codes(), [100, 404]);
    assert_eq!(r.up[1].to_tag(), Some(r.ctx.to_tag()));
    r.ctx.respond(r.now, 500, "Again", &[]);
    r.drain();
    assert_eq!(r.up_codes(), [100, 404], "only one final");
}

#[test]
fn an_owners_early_answer_goes_up_and_the_error_after_it_keeps_its_to_tag() {
    let mut r = Run::new(INVITE);
    let tag = r.ctx.to_tag().to_owned();
    let early = crate::sip::ResponseBuilder::new(r.ctx.request(), 183, "Session Progress")
        .to_tag(&tag)
        .body("application/sdp", b"v=0\n")
        .build();
    r.ctx.provisional_with(r.now, 183, early.clone());
    r.ctx.provisional_with(r.now, 200, early.clone());
    r.drain();
    assert_eq!(
        r.up_codes(),
        [100, 183],
        "a final code is not a provisional"
    );
    assert_eq!(r.up[1].body(), b"v=0\n");
    // a retransmitted INVITE hears the 183 again
    let inv = r.ctx.request().clone();
    r.ctx.handle_request(r.now, &inv);
    r.ctx.respond(r.now, 402, "Insufficient Credit", &[]);
    r.ctx.provisional_with(r.now, 183, early);
    r.drain();
    assert_eq!(
        r.up_codes(),
        [100, 183, 183, 402],
        "nothing after the final"
    );
    assert_eq!(
        r.up[3].to_tag(),
        Some(tag.as_str()),
        "the early dialog's tag"
    );
    assert_eq!(r.finished(), [402]);
}

#[test]
fn cancel_before_any_branch_answers_487_and_blocks_new_branches() {
    let mut r = Run::new(INVITE);
    let cancel = Message::parse(crate::sip::builder::cancel_for(r.ctx.request())).unwrap();
    r.ctx.handle_cancel(r.now, &cancel);
    r.drain();
    assert_eq!(r.up_codes(), [100, 200, 487]);
    let spec = BranchSpec {
        request_uri: None,
        transport: Transport::Udp,
        remote: None,
        record_route: true,
        pop_route: false,
        extra_headers: "",
        no_response: None,
        drop_history: false,
        body: None,
    };
    assert_eq!(r.ctx.add_branch(r.now, spec), None);
}

#[test]
fn sealing_without_branches_answers_480() {
    let mut r = Run::new(INVITE);
    r.ctx.seal(r.now);
    r.drain();
    assert_eq!(r.up_codes(), [100, 480]);
}

#[test]
fn in_dialog_bye_is_relayed_along_the_route() {
    let bye = "BYE sip:1001@192.0.2.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKbye1\r\n\
Max-Forwards: 70\r\n\
Route: <sip:127.0.0.1:5060;lr>\r\n\
To: <sip:1001@sb.example>;tag=callee0\r\n\
From: <sip:1002@sb.example>;tag=caller\r\n\
Call-ID: call-1\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n";
    let mut r = Run::new(bye);
    assert!(r.up.is_empty(), "no 100 for non-INVITE");
    r.ctx.add_branch(
        r.now,
        BranchSpec {
            request_uri: None,
            transport: Transport::Udp,
            remote: None,
            record_route: false,
            pop_route: true,
            extra_headers: "",
            no_response: None,
            drop_history: false,
            body: None,
        },
    );
    r.ctx.seal(r.now);
    r.drain();
    let fwd = r.sent(0, "BYE");
    assert_eq!(fwd.routes().count(), 0, "our Route removed");
    assert_eq!(fwd.request_uri_str(), Some("sip:1001@192.0.2.10:5060"));
    let ok = ResponseBuilder::new(&fwd, 200, "OK").build();
    assert!(r.ctx.handle_response(r.now, Message::parse(ok).unwrap()));
    r.drain();
    assert_eq!(r.up_codes(), [200]);
}

#[test]
fn challenges_from_several_branches_are_combined() {
    let mut r = Run::new(INVITE);
    r.fork(2);
    for (i, realm) in [(0, "a"), (1, "b")] {
        let req = r.sent(i, "INVITE");
        let resp = ResponseBuilder::new(&req, 407, "Proxy Authentication Required")
            .to_tag("t")
            .header(
                "Proxy-Authenticate",
                &format!("Digest realm=\"{realm}\", nonce=\"n\""),
            )
            .build();
        r.ctx.handle_response(r.now, Message::parse(resp).unwrap());
        r.drain();
    }
    let last = r.up.last().unwrap();
    assert_eq!(last.status(), Some(407));
    assert_eq!(last.header_lines(HeaderName::ProxyAuthenticate).count(), 2);
}

#[test]
fn responses_of_other_transactions_are_not_claimed() {
    let mut r = Run::new(INVITE);
    r.fork(1);
    let other = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKsbother.1\r\n\
To: <sip:a@b>;tag=1\r\nFrom: <sip:c@d>;tag=2\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    assert!(!r.ctx.handle_response(
        r.now,
        Message::parse(Bytes::from_static(other.as_bytes())).unwrap()
    ));
}
