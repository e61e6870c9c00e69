//! A request's retransmissions over UDP (RFC 3261 §17.1.2) with its transaction machine made
//! only when first needed.

use super::*;

fn register(e: &mut Entropy, t: Instant, out: &mut Vec<Out>) -> Request {
    let spec = RequestSpec {
        kind: Kind::Register,
        method: "REGISTER",
        uri: "sip:sb.test".into(),
        to: "<sip:1001@sb.test>".into(),
        call_id: "reg-r".into(),
        cseq: 1,
        headers: vec![("Contact".into(), "<sip:1001@127.0.0.1:6000>".into())],
        body: None,
        message_id: None,
    };
    Request::start(t, spec, id("1001"), ep(6000), e, out)
}

/// Runs the request's timers until it is done or `until`; the times of its sends (offsets
/// from `t`, the first send's included) and its outcomes.
fn run(r: &mut Request, t: Instant, until: Duration, out: &mut Vec<Out>) -> Vec<Duration> {
    let mut sends = vec![Duration::ZERO];
    while let Some(at) = r.poll_timeout().filter(|at| *at - t <= until) {
        let before = sent(out).len();
        r.on_timeout(at, out);
        sends.extend((before..sent(out).len()).map(|_| at - t));
    }
    sends
}

#[test]
fn an_unanswered_request_is_resent_at_t1_doubling_to_t2_and_times_out_at_64_t1() {
    let t = Instant::now();
    let (mut e, mut out) = (Entropy::seeded(3), Vec::new());
    let mut r = register(&mut e, t, &mut out);
    let first = out.clone();
    let sends = run(&mut r, t, Duration::from_secs(60), &mut out);
    let ms: Vec<u128> = sends.iter().map(Duration::as_millis).collect();
    assert_eq!(&ms[..6], [0, 500, 1500, 3500, 7500, 11500]);
    assert!(ms.windows(2).skip(4).all(|w| w[1] - w[0] == 4000), "{ms:?}");
    assert!(r.is_done());
    assert_eq!(done(&out), [(Kind::Register, Outcome::Timeout)]);
    // every retransmission is the first request's bytes
    let Out::Send(b) = &first[0] else {
        panic!("the first send")
    };
    assert!(out.iter().all(|o| !matches!(o, Out::Send(x) if x != b)));
}

#[test]
fn a_provisional_answer_holds_retransmissions_at_t2_and_a_final_answer_ends_the_request() {
    let t = Instant::now();
    let (mut e, mut out) = (Entropy::seeded(4), Vec::new());
    let mut r = register(&mut e, t, &mut out);
    let req = sent(&out).remove(0);
    // answered at once: one send, the outcome, no timer left
    let mut q_out = Vec::new();
    let mut quick = register(&mut e, t, &mut q_out);
    let q_req = sent(&q_out).remove(0);
    quick.on_response(t, reply(&q_req, 200, None), &mut e, &mut q_out);
    assert_eq!(sent(&q_out).len(), 1);
    assert_eq!(done(&q_out), [(Kind::Register, Outcome::Ok(200))]);
    assert_eq!(quick.poll_timeout(), None);
    // an answer to another branch is not this request's
    let mut other = req.as_bytes().to_vec();
    let at = other.windows(7).position(|w| w == b"z9hG4bK").unwrap() + 7;
    other[at] = if other[at] == b'x' { b'y' } else { b'x' };
    let other = Message::parse(Bytes::from(other)).unwrap();
    r.on_response(t, reply(&other, 200, None), &mut e, &mut out);
    assert!(done(&out).is_empty() && !r.is_done());
    // 100 Trying at 100 ms: retransmissions every T2 from Timer E's next firing
    out.clear();
    r.on_response(
        t + Duration::from_millis(100),
        reply(&req, 100, None),
        &mut e,
        &mut out,
    );
    let sends = run(&mut r, t, Duration::from_secs(10), &mut out);
    let ms: Vec<u128> = sends.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 500, 4500, 8500]);
    r.on_response(
        t + Duration::from_secs(10),
        reply(&req, 200, None),
        &mut e,
        &mut out,
    );
    assert_eq!(done(&out), [(Kind::Register, Outcome::Ok(200))]);
    assert!(r.is_done() && r.poll_timeout().is_none());
}
