//! The switch asks the caller's phone to call someone else (RFC 3515 REFER).

use super::*;

/// Our REFER, sent once the dialog is confirmed.
fn referred(t0: Instant) -> (PartyDialog, Message) {
    let mut d = confirmed(t0);
    d.refer(t0, "sip:1002@sb.example", Some("sip:*98@sb.example"))
        .unwrap();
    let mut out = sent(&mut d);
    assert_eq!(out.len(), 1);
    (d, out.remove(0))
}

fn notify(d: &PartyDialog, cseq: u32, event: &str) -> Message {
    let extra = format!(
        "Event: {event}\r\nSubscription-State: active;expires=60\r\n\
         Content-Type: message/sipfrag;version=2.0\r\n"
    );
    request(
        "NOTIFY",
        d.local_tag(),
        cseq,
        &format!("n{cseq}"),
        &extra,
        "SIP/2.0 100 Trying\r\n",
    )
}

#[test]
fn a_refer_names_the_target_and_who_asks_and_its_answer_is_told_once() {
    let t0 = Instant::now();
    let (mut d, refer) = referred(t0);
    assert_eq!(refer.method(), Some(Method::Refer));
    assert_eq!(refer.request_uri_str(), Some("sip:1001@192.0.2.1:5062"));
    assert_eq!(
        refer.header_by_name("Refer-To"),
        Some("<sip:1002@sb.example>")
    );
    assert_eq!(
        refer.header_by_name("Referred-By"),
        Some("<sip:*98@sb.example>")
    );
    assert!(events(&mut d).is_empty());
    let accepted = Message::parse(ResponseBuilder::new(&refer, 202, "Accepted").build()).unwrap();
    d.handle_response(t0 + ms(30), accepted.clone());
    assert_eq!(events(&mut d), [CallEvent::ReferAnswered { code: 202 }]);
    d.handle_response(t0 + ms(40), accepted);
    assert!(events(&mut d).is_empty(), "a repeated answer tells nothing");
    assert!(!d.is_ended(), "the call goes on until someone hangs up");
}

#[test]
fn the_phones_notifies_of_the_refer_get_200_and_other_notifies_do_not() {
    let t0 = Instant::now();
    let mut d = confirmed(t0);
    d.handle_request(t0, &notify(&d, 8, "refer"), None);
    assert_eq!(statuses(&sent(&mut d)), [405], "no REFER of ours yet");
    d.refer(t0, "sip:1002@sb.example", None).unwrap();
    let refer = sent(&mut d).remove(0);
    assert_eq!(refer.header_by_name("Referred-By"), None);
    d.handle_request(t0, &notify(&d, 9, "refer;id=1"), None);
    assert_eq!(statuses(&sent(&mut d)), [200]);
    d.handle_request(t0, &notify(&d, 10, "dialog"), None);
    assert_eq!(statuses(&sent(&mut d)), [405]);
    assert!(events(&mut d).is_empty());
}

#[test]
fn a_refused_refer_is_told_and_one_never_answered_times_out_as_408() {
    let t0 = Instant::now();
    let (mut d, refer) = referred(t0);
    let no = Message::parse(ResponseBuilder::new(&refer, 501, "Not Implemented").build()).unwrap();
    d.handle_response(t0, no);
    assert_eq!(events(&mut d), [CallEvent::ReferAnswered { code: 501 }]);

    let (mut d, _) = referred(t0);
    let mut now = t0;
    let mut told = Vec::new();
    while told.is_empty() {
        now = d.poll_timeout().unwrap();
        d.handle_timeout(now);
        sent(&mut d);
        told = events(&mut d);
    }
    assert_eq!(now - t0, Duration::from_secs(32), "Timer F");
    assert_eq!(told, [CallEvent::ReferAnswered { code: 408 }]);
    assert!(!d.is_ended());
}

#[test]
fn no_refer_before_the_ack_while_one_waits_or_once_hanging_up() {
    let t0 = Instant::now();
    let mut d = start(t0, OFFER, None);
    sent(&mut d);
    assert_eq!(
        d.refer(t0, "sip:1002@sb.example", None),
        Err(DialogError::NotReady)
    );
    let (mut d, _) = referred(t0);
    assert_eq!(
        d.refer(t0, "sip:1003@sb.example", None),
        Err(DialogError::NotReady)
    );
    let mut d2 = confirmed(t0);
    d2.hang_up(t0, NORMAL_CLEARING);
    assert_eq!(
        d2.refer(t0, "sip:1002@sb.example", None),
        Err(DialogError::NotReady)
    );
    // the REFER of a call that ends is not told after the end
    d.handle_request(t0, &request("BYE", d.local_tag(), 8, "bye", "", ""), None);
    assert_eq!(events(&mut d), [CallEvent::Ended(EndReason::PeerHungUp)]);
    while let Some(t) = d.poll_timeout() {
        d.handle_timeout(t);
        sent(&mut d);
    }
    assert!(events(&mut d).is_empty());
    assert!(d.is_done());
}
