//! A MESSAGE's context once answered: reduced to its server transaction, which repeats the
//! answer (never an INVITE's, never with output still to send).

use super::*;

const MESSAGE: &str = "MESSAGE sip:1001@sb.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKcaller2;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:1001@sb.example>\r\n\
From: <sip:1002@sb.example>;tag=caller\r\n\
Call-ID: msg-1\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain\r\n\
Content-Length: 2\r\n\r\nhi";

impl Run {
    /// Answers the MESSAGE sent on `branch`.
    fn answer_message(&mut self, branch: BranchId, code: u16) {
        let req = self.sent(branch, "MESSAGE");
        let resp = ResponseBuilder::new(&req, code, reason_phrase(code))
            .to_tag("dev")
            .build();
        assert!(self
            .ctx
            .handle_response(self.now, Message::parse(resp).unwrap()));
        self.drain();
    }
}

/// Reduces the context of `r` (`into_answered`), putting it back when it stays whole.
fn reduce(r: &mut Run) -> Option<crate::txn::ServerNonInvite> {
    let placeholder = Run::new(MESSAGE).ctx;
    match std::mem::replace(&mut r.ctx, placeholder).into_answered() {
        Ok(server) => Some(server),
        Err(whole) => {
            r.ctx = *whole;
            None
        }
    }
}

#[test]
fn an_answered_message_shrinks_to_its_server_transaction_which_repeats_the_answer() {
    let mut r = Run::new(MESSAGE);
    r.fork(2);
    assert!(
        reduce(&mut r).is_none(),
        "no answer yet: the context stays whole"
    );
    r.answer_message(1, 200);
    assert_eq!(r.up_codes(), [200]);
    let mut server = reduce(&mut r).expect("answered: only the server transaction is left");
    server.handle_request(r.now).unwrap();
    let again = match server.poll_output() {
        Some(crate::txn::Output::Transmit(b)) => Message::parse(b).unwrap(),
        other => panic!("the answer again, not {other:?}"),
    };
    assert_eq!(again.status(), Some(200));
    assert_eq!(
        again.to_tag(),
        Some("dev"),
        "the device's answer, as forwarded"
    );
    let j = server.poll_timeout().expect("Timer J runs");
    server.handle_timeout(j);
    assert!(server.is_terminated());
}

#[test]
fn an_invite_context_is_never_reduced() {
    let mut r = Run::new(INVITE);
    r.ctx.respond(r.now, 486, "Busy Here", &[]);
    r.drain();
    assert!(reduce(&mut r).is_none(), "an INVITE waits for its ACK");
}

#[test]
fn a_context_with_output_not_drained_is_not_reduced() {
    let mut r = Run::new(MESSAGE);
    r.ctx.respond(r.now, 404, "Not Found", &[]);
    assert!(reduce(&mut r).is_none(), "the 404 is still to be sent");
    r.drain();
    assert_eq!(r.up_codes(), [404]);
    assert!(reduce(&mut r).is_some(), "drained: reduced");
}
