//! Sequential stages: branches added one stage at a time, each stage's failure reported,
//! the caller answered from the last stage; CANCEL between and during stages.

use super::*;

impl Run {
    /// Adds one branch without sealing (a stage of a sequence of attempts).
    fn branch(&mut self, uri: &str, extra: &str, no_response: Option<Duration>) -> BranchId {
        let id = self
            .ctx
            .add_branch(
                self.now,
                BranchSpec {
                    request_uri: Some(uri),
                    transport: Transport::Udp,
                    remote: None,
                    record_route: true,
                    pop_route: false,
                    extra_headers: extra,
                    no_response,
                    drop_history: false,
                    body: None,
                },
            )
            .unwrap();
        self.drain();
        id
    }

    fn exhausted(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ContextEvent::Exhausted { code } => Some(*code),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_failed_stage_is_reported_and_the_next_stage_can_answer() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    r.answer(a, 486);
    assert_eq!(r.exhausted(), [486]);
    assert_eq!(r.up_codes(), [100], "nothing final goes up before the seal");
    r.ctx.respond(r.now, 181, "Call Is Being Forwarded", &[]);
    r.ctx.new_stage();
    let b = r.branch(
        "sip:1002@192.0.2.11",
        "Diversion: <sip:1001@sb.example>;reason=user-busy\r\n",
        None,
    );
    let inv = r.sent(b, "INVITE");
    assert_eq!(
        inv.header_by_name("Diversion"),
        Some("<sip:1001@sb.example>;reason=user-busy")
    );
    r.answer(b, 200);
    assert_eq!(r.up_codes(), [100, 181, 200]);
    assert_eq!(r.finished(), [200]);
}

#[test]
fn the_caller_hears_the_last_stage_not_the_best_of_all() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    r.answer(a, 486);
    r.ctx.new_stage();
    let b = r.branch("sip:1002@192.0.2.11", "", None);
    r.answer(b, 404);
    assert_eq!(r.exhausted(), [486, 404]);
    r.ctx.seal(r.now);
    r.drain();
    assert_eq!(r.up_codes(), [100, 404]);
}

#[test]
fn pending_branches_can_be_cancelled_without_answering() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    r.answer(a, 180);
    r.ctx.cancel_pending(r.now);
    r.drain();
    r.sent(a, "CANCEL");
    r.answer_cancel(a);
    r.answer(a, 487);
    assert_eq!(r.exhausted(), [487]);
    assert_eq!(r.up_codes(), [100, 180]);
}

#[test]
fn a_silent_branch_times_out_after_its_no_response_time() {
    let mut r = Run::new(INVITE);
    r.branch("sip:gw@192.0.2.30", "", Some(Duration::from_secs(3)));
    let t = r.ctx.poll_timeout().unwrap();
    assert!(t <= r.now + Duration::from_secs(3));
    r.now += Duration::from_secs(3);
    r.ctx.handle_timeout(r.now);
    r.drain();
    assert_eq!(r.exhausted(), [408], "silence counts as a 408");
    r.ctx.new_stage();
    let b = r.branch("sip:gw@192.0.2.31", "", Some(Duration::from_secs(3)));
    r.answer(b, 100);
    r.now += Duration::from_secs(4);
    r.ctx.handle_timeout(r.now);
    r.drain();
    assert_eq!(
        r.exhausted(),
        [408],
        "a trunk that answered 100 is not silent"
    );
}

#[test]
fn a_cancel_during_a_sequence_ends_it() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    r.answer(a, 180);
    let cancel = Message::parse(crate::sip::builder::cancel_for(r.ctx.request())).unwrap();
    r.ctx.handle_cancel(r.now, &cancel);
    r.drain();
    r.answer_cancel(a);
    r.answer(a, 487);
    assert!(r.exhausted().is_empty());
    assert_eq!(r.up_codes(), [100, 180, 200, 487]);
}

#[test]
fn challenges_of_the_stage_are_kept_for_the_owner() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:gw@192.0.2.30", "", None);
    let req = r.sent(a, "INVITE");
    let resp = ResponseBuilder::new(&req, 407, "Proxy Authentication Required")
        .to_tag("gw")
        .header("Proxy-Authenticate", "Digest realm=\"gw\", nonce=\"n1\"")
        .build();
    r.ctx.handle_response(r.now, Message::parse(resp).unwrap());
    r.drain();
    assert_eq!(r.exhausted(), [407]);
    assert_eq!(
        r.ctx.challenge(),
        Some((
            HeaderName::ProxyAuthenticate,
            "Digest realm=\"gw\", nonce=\"n1\""
        ))
    );
    r.ctx.new_stage();
    assert_eq!(r.ctx.challenge(), None);
}

#[test]
fn a_cancel_between_two_stages_is_answered_487() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    r.answer(a, 486);
    assert_eq!(r.exhausted(), [486]);
    // the owner is looking the forward target up when the caller gives up
    let cancel = Message::parse(crate::sip::builder::cancel_for(r.ctx.request())).unwrap();
    r.ctx.handle_cancel(r.now, &cancel);
    r.drain();
    assert_eq!(r.up_codes(), [100, 200, 487]);
    assert_eq!(r.finished(), [487]);
    assert!(r
        .ctx
        .add_branch(
            r.now,
            BranchSpec {
                request_uri: Some("sip:1002@192.0.2.11"),
                transport: Transport::Udp,
                remote: None,
                record_route: true,
                pop_route: false,
                extra_headers: "",
                no_response: None,
                drop_history: false,
                body: None,
            }
        )
        .is_none());
}

#[test]
fn a_silent_branch_is_given_up_at_once_when_pending_branches_are_cancelled() {
    let mut r = Run::new(INVITE);
    let a = r.branch("sip:1001@192.0.2.10", "", None);
    let b = r.branch("sip:1001@192.0.2.11", "", None);
    r.answer(a, 180);
    assert!(!r.ctx.stage_is_empty());
    r.ctx.cancel_pending(r.now);
    r.drain();
    r.sent(a, "CANCEL");
    assert!(
        r.down
            .iter()
            .all(|(br, m)| *br != b || m.method_str() != Some("CANCEL")),
        "no CANCEL before a provisional (9.1)"
    );
    r.answer_cancel(a);
    r.answer(a, 487);
    assert_eq!(
        r.exhausted().len(),
        1,
        "the silent branch did not hold the stage up"
    );
    r.ctx.new_stage();
    assert!(r.ctx.stage_is_empty());
}
