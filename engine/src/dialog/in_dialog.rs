//! A dialog the switch is a party to, once it exists: what both `PartyDialog` (the switch
//! answered) and `OutboundCall` (the switch called) do inside it.
//!
//! Requests from the peer (RFC 3261 §12.2.2): a BYE is answered 200 and ends the call; a
//! re-INVITE or UPDATE with an offer becomes `CallEvent::Offer` and waits for the owner's
//! answer (`answer_offer`, or 488 from `refuse_offer`); a re-INVITE without one gets our
//! current description as the offer in its 2xx, and the ACK brings the answer (§14.2); an
//! INFO with `application/dtmf-relay` or `application/dtmf` becomes `CallEvent::Digit`; an
//! OPTIONS gets 200 with what we allow; a CANCEL ends a pending INVITE with 487 (§9.2).
//! Requests of another dialog (a wrong tag) get 481, a CSeq below one seen gets 500, an offer
//! while one is open gets 500 with Retry-After or 491 (§14.2, RFC 3311 §5.2). Every answer
//! goes through a server transaction (`answers`), so retransmitted requests get the same
//! answer and produce no second event.
//!
//! Our own hang-up is a BYE with a Reason header (RFC 3326) in a client transaction; the call
//! ends when it is answered or times out. A party never sends it before the ACK of its 2xx
//! (§15): asked earlier, it waits for the ACK or the 64*T1 give-up.
//!
//! The switch may ask the peer to call someone else (RFC 3515 REFER, one at a time, only in a
//! confirmed dialog): its final answer becomes `CallEvent::ReferAnswered` (408 when none
//! came), and the NOTIFYs of the implicit `refer` subscription (§2.4.4) get 200 while the
//! dialog lasts.
//!
//! Invariant: `CallEvent::Ended` is emitted once and nothing follows it.

use std::time::Instant;

use bytes::Bytes;

use super::answers::Answers;
use super::event::{CallEvent, DialogError, EndReason, Queues};
use super::state::{DialogState, ALLOW};
use crate::entropy::Entropy;
use crate::media::dtmf::{self, InfoDigit};
use crate::proxy::branch;
use crate::sip::{reason_phrase, HeaderName, Message, Method, ViaFix};
use crate::txn::{self, ClientKey, ClientNonInvite, ServerKey, Timers};

/// Where our hang-up stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hangup {
    No,
    /// Asked for before the ACK of our 2xx; the BYE follows the ACK (§15) with this Reason.
    Wanted(String),
    /// Our BYE is out.
    Sent,
}

/// A dialog of ours and everything in flight inside it.
#[derive(Debug)]
pub(super) struct InDialog {
    state: DialogState,
    entropy: Entropy,
    timers: Timers,
    /// Our current session description (what our last answer or offer said).
    sdp: Bytes,
    answers: Answers,
    /// Our BYE, with where it goes.
    ours: Vec<(ClientNonInvite, String)>,
    /// Our REFER in flight, with where it goes.
    refer: Option<(ClientNonInvite, String)>,
    /// A REFER of ours was accepted or is in flight: its NOTIFYs are taken.
    referred: bool,
    /// The request whose offer the owner has to answer.
    owed: Option<ServerKey>,
    hangup: Hangup,
    /// What our hang-up ends the call as.
    end_as: EndReason,
    ended: bool,
}

/// A request being handled: what every answer to it needs.
struct Incoming<'a> {
    req: &'a Message,
    key: Option<ServerKey>,
    via_fix: Option<ViaFix>,
}

impl InDialog {
    pub(super) fn new(state: DialogState, sdp: Bytes, entropy: Entropy, timers: Timers) -> Self {
        let reliable = state.transport().is_reliable();
        InDialog {
            answers: Answers::new(state.local_tag(), state.contact(), reliable, timers),
            state,
            entropy,
            timers,
            sdp,
            ours: Vec::new(),
            refer: None,
            referred: false,
            owed: None,
            hangup: Hangup::No,
            end_as: EndReason::HungUp,
            ended: false,
        }
    }

    pub(super) fn state(&self) -> &DialogState {
        &self.state
    }

    /// Whether `resp` answers a request of ours in this dialog.
    pub(super) fn owns_response(&self, resp: &Message) -> bool {
        let key = ClientKey::from_response(resp);
        key.is_some()
            && self
                .ours
                .iter()
                .chain(&self.refer)
                .any(|(t, _)| ClientKey::from_request(t.request()) == key)
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }

    /// Nothing left to send or absorb.
    pub(super) fn is_done(&self) -> bool {
        self.ended && self.answers.is_empty() && self.ours.is_empty() && self.refer.is_none()
    }

    /// Our hang-up ends the call as `reason` instead of `HungUp` (a 2xx crossed our CANCEL).
    pub(super) fn end_as(&mut self, reason: EndReason) {
        self.end_as = reason;
    }

    /// The INVITE that creates a party's dialog, answered with `answer_initial`.
    pub(super) fn receive_initial(&mut self, now: Instant, invite: &Message, via: Option<ViaFix>) {
        self.answers.receive_initial(now, invite, via);
    }

    /// Whether the initial INVITE still waits for its final response.
    pub(super) fn initial_pending(&self) -> bool {
        self.answers.initial_pending()
    }

    /// Responds to the initial INVITE: a provisional (with our SDP when the INVITE had an
    /// offer), the 2xx with our SDP, or a refusal.
    pub(super) fn answer_initial(&mut self, now: Instant, code: u16, reason: &str, q: &mut Queues) {
        let sdp = self.sdp.clone();
        let sdp = (code < 300).then_some(&sdp[..]);
        self.answers.answer_initial(now, code, reason, sdp, q);
    }

    /// A request from the peer (`via_fix`: what its transport learnt of the sender).
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        req: &Message,
        via_fix: Option<ViaFix>,
        q: &mut Queues,
    ) {
        let Some(method) = req.method() else { return };
        let key = ServerKey::from_request(req);
        if method == Method::Ack {
            return self.ack(now, req, &key, q);
        }
        if self.answers.absorb(now, req, &key, q) {
            return; // a retransmission
        }
        let r = Incoming { req, key, via_fix };
        if method == Method::Cancel {
            return self.cancel(now, r, q);
        }
        let glare_bye = method == Method::Bye && self.hangup == Hangup::Sent;
        if !self.state.owns_request(req) || (self.ended && !glare_bye) {
            return self.respond(now, r, 481, &[], q);
        }
        if glare_bye {
            // both hung up at once: theirs is answered; ours ends the call when answered
            return self.respond(now, r, 200, &[], q);
        }
        if self.hangup == Hangup::Sent {
            return self.respond(now, r, 481, &[], q);
        }
        if !self
            .state
            .accept_remote_seq(req.cseq().map_or(0, |c| c.seq))
        {
            return self.respond(now, r, 500, &[], q);
        }
        match method {
            Method::Bye => {
                self.respond(now, r, 200, &[], q);
                // a BYE on the early dialog: the caller gave up before our answer (§15.1.2)
                let reason = if self.answers.initial_pending() {
                    EndReason::Cancelled
                } else {
                    EndReason::PeerHungUp
                };
                self.end(now, reason, q);
            }
            Method::Invite | Method::Update => self.offer(now, r, q),
            Method::Info => self.info(now, r, q),
            Method::Notify if self.referred && is_refer_event(req) => {
                self.respond(now, r, 200, &[], q)
            }
            Method::Options => {
                let headers = [("Allow", ALLOW), ("Accept", "application/sdp")];
                self.respond(now, r, 200, &headers, q)
            }
            Method::Other => self.respond(now, r, 501, &[], q),
            _ => self.respond(now, r, 405, &[("Allow", ALLOW)], q),
        }
    }

    /// The owner's answer to the peer's offer; it becomes our current description.
    pub(super) fn answer_offer(
        &mut self,
        now: Instant,
        sdp: &[u8],
        q: &mut Queues,
    ) -> Result<(), DialogError> {
        let key = self.owed.take().ok_or(DialogError::NoOffer)?;
        self.sdp = Bytes::copy_from_slice(sdp);
        self.answers.respond_to(now, &key, 200, Some(sdp), q);
        Ok(())
    }

    /// The owner cannot take the peer's offer: 488, the session stays as it was (§14.2).
    pub(super) fn refuse_offer(&mut self, now: Instant, q: &mut Queues) -> Result<(), DialogError> {
        let key = self.owed.take().ok_or(DialogError::NoOffer)?;
        self.answers.respond_to(now, &key, 488, None, q);
        Ok(())
    }

    /// The switch hangs up with `reason` (a Reason header value, RFC 3326): before a party's
    /// answer the INVITE is refused with 480; before the ACK of its 2xx the BYE waits (§15).
    pub(super) fn hang_up(&mut self, now: Instant, reason: &str, q: &mut Queues) {
        if self.ended || self.hangup != Hangup::No {
            return;
        }
        if self.answers.initial_pending() {
            self.answer_initial(now, 480, reason_phrase(480), q);
            return self.end(now, EndReason::HungUp, q);
        }
        if self.answers.initial_unacked() {
            self.hangup = Hangup::Wanted(reason.to_owned());
            return;
        }
        self.send_bye(now, reason, q);
    }

    /// Asks the peer to call `refer_to` (a URI, RFC 3515 §2.1), saying `referred_by` asked
    /// (RFC 3892, when given). Refused while the dialog is not confirmed (our 2xx waits for
    /// its ACK), is ending, or a REFER of ours waits for its answer.
    pub(super) fn refer(
        &mut self,
        now: Instant,
        refer_to: &str,
        referred_by: Option<&str>,
        q: &mut Queues,
    ) -> Result<(), DialogError> {
        if self.ended
            || self.hangup != Hangup::No
            || self.refer.is_some()
            || self.answers.initial_pending()
            || self.answers.initial_unacked()
        {
            return Err(DialogError::NotReady);
        }
        let b = branch::originated(&mut self.entropy);
        let to = format!("<{refer_to}>");
        let by = referred_by.map(|u| format!("<{u}>"));
        let mut headers = vec![("Refer-To", to.as_str())];
        if let Some(by) = &by {
            headers.push(("Referred-By", by.as_str()));
        }
        let (bytes, hop) = self.state.request("REFER", &b, &headers, None);
        let refer = Message::parse(bytes).map_err(|_| DialogError::Invalid("refer-to"))?;
        let reliable = self.state.transport().is_reliable();
        self.refer = Some((ClientNonInvite::new(now, refer, reliable, self.timers), hop));
        self.referred = true;
        self.drain_refer(q);
        Ok(())
    }

    /// A response from the peer; `false` when it answers none of our requests.
    pub(super) fn handle_response(&mut self, now: Instant, resp: Message, q: &mut Queues) -> bool {
        let key = ClientKey::from_response(&resp);
        if let Some((t, _)) = self
            .refer
            .as_mut()
            .filter(|(t, _)| key.is_some() && ClientKey::from_request(t.request()) == key)
        {
            let _ = t.handle_response(now, resp);
            self.drain_refer(q);
            return true;
        }
        let Some(i) = self
            .ours
            .iter()
            .position(|(t, _)| key.is_some() && ClientKey::from_request(t.request()) == key)
        else {
            return false;
        };
        let _ = self.ours[i].0.handle_response(now, resp);
        self.drain_ours(now, q);
        true
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, q: &mut Queues) {
        if self.answers.handle_timeout(now, q).gave_up {
            // §13.3.1.4: the dialog stands but the session should end, with a BYE
            if let Hangup::Wanted(reason) = self.hangup.clone() {
                self.send_bye(now, &reason, q);
            } else if !self.ended && self.hangup == Hangup::No {
                q.event(CallEvent::AckTimedOut);
            }
        }
        for (t, _) in self.ours.iter_mut().chain(&mut self.refer) {
            t.handle_timeout(now);
        }
        self.drain_ours(now, q);
        self.drain_refer(q);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let ours = self
            .ours
            .iter()
            .chain(&self.refer)
            .filter_map(|(t, _)| t.poll_timeout());
        ours.chain(self.answers.poll_timeout()).min()
    }

    fn ack(&mut self, now: Instant, ack: &Message, key: &Option<ServerKey>, q: &mut Queues) {
        if self.answers.absorb_ack(now, ack, key, q) || !self.state.owns_request(ack) {
            return;
        }
        let seq = ack.cseq().map_or(0, |c| c.seq);
        // none waiting: a retransmission of an ACK already taken
        let Some(offered) = self.answers.acked(seq) else {
            return;
        };
        if self.ended {
            return;
        }
        let sdp = (offered && !ack.body().is_empty()).then(|| Bytes::copy_from_slice(ack.body()));
        q.event(CallEvent::Acked { sdp });
        if let Hangup::Wanted(reason) = self.hangup.clone() {
            self.send_bye(now, &reason, q);
        }
    }

    /// §9.2: the CANCEL is answered 200 when it matches an INVITE we answer, and a pending
    /// one ends with 487 (the initial INVITE: the call ends).
    fn cancel(&mut self, now: Instant, r: Incoming<'_>, q: &mut Queues) {
        let target = ServerKey::cancel_target(r.req);
        let Some((pending, initial)) = self.answers.invite(&target) else {
            return self.respond(now, r, 481, &[], q);
        };
        self.respond(now, r, 200, &[], q);
        let Some(target) = target.filter(|_| pending) else {
            return;
        };
        if self.owed.as_ref() == Some(&target) {
            self.owed = None;
        }
        self.answers.respond_to(now, &target, 487, None, q);
        if initial {
            self.end(now, EndReason::Cancelled, q);
        }
    }

    /// A re-INVITE or an UPDATE (§14.2, RFC 3311 §5.2).
    fn offer(&mut self, now: Instant, r: Incoming<'_>, q: &mut Queues) {
        let invite = r.req.method() == Some(Method::Invite);
        if self.owed.is_some() || (invite && self.answers.invite_pending()) {
            // we owe an answer: the peer tries again later
            let after = (self.entropy.next_u64() % 11).to_string();
            return self.respond(now, r, 500, &[("Retry-After", after.as_str())], q);
        }
        if self.answers.unacked(!invite) {
            // our offer (or an INVITE) waits for its ACK
            return self.respond(now, r, 491, &[], q);
        }
        self.state.refresh_target(r.req);
        let body = r.req.body();
        if body.is_empty() && !invite {
            return self.respond(now, r, 200, &[], q); // a target refresh only
        }
        let Some(key) = r.key.clone() else {
            return self.respond(now, r, 400, &[], q);
        };
        self.answers.hold(now, r.req, r.key, r.via_fix);
        if body.is_empty() {
            // §14.2: no offer in the re-INVITE: ours goes in the 2xx, the answer in the ACK
            let sdp = self.sdp.clone();
            return self.answers.respond_to(now, &key, 200, Some(&sdp), q);
        }
        self.owed = Some(key);
        q.event(CallEvent::Offer {
            sdp: Bytes::copy_from_slice(body),
        });
    }

    /// INFO: DTMF digits (the bodies `media::dtmf` reads); an empty INFO (a keep-alive) gets
    /// 200, another package 415.
    fn info(&mut self, now: Instant, r: Incoming<'_>, q: &mut Queues) {
        if r.req.body().is_empty() {
            return self.respond(now, r, 200, &[], q);
        }
        let ctype = r
            .req
            .header(HeaderName::ContentType)
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .unwrap_or("");
        let body = std::str::from_utf8(r.req.body()).unwrap_or("");
        let digit = if ctype.eq_ignore_ascii_case(dtmf::DTMF_RELAY_CONTENT_TYPE) {
            dtmf::parse_dtmf_relay(body)
        } else if ctype.eq_ignore_ascii_case(dtmf::DTMF_CONTENT_TYPE) {
            dtmf::parse_dtmf(body).map(|digit| InfoDigit {
                digit,
                duration: None,
            })
        } else {
            let accept = [("Accept", "application/dtmf-relay, application/dtmf")];
            return self.respond(now, r, 415, &accept, q);
        };
        match digit {
            Ok(d) => {
                self.respond(now, r, 200, &[], q);
                q.event(CallEvent::Digit(d));
            }
            Err(_) => self.respond(now, r, 400, &[], q),
        }
    }

    fn respond(
        &mut self,
        now: Instant,
        r: Incoming<'_>,
        code: u16,
        headers: &[(&str, &str)],
        q: &mut Queues,
    ) {
        let Incoming { req, key, via_fix } = r;
        self.answers
            .respond_new(now, req, key, via_fix, code, headers, None, q);
    }

    fn send_bye(&mut self, now: Instant, reason: &str, q: &mut Queues) {
        let b = branch::originated(&mut self.entropy);
        let (bytes, hop) = self.state.request("BYE", &b, &[("Reason", reason)], None);
        let Ok(bye) = Message::parse(bytes) else {
            // the peer's values made no request (a target that is no URI): nothing to send
            self.hangup = Hangup::Sent;
            return self.end(now, self.end_as, q);
        };
        let reliable = self.state.transport().is_reliable();
        self.ours
            .push((ClientNonInvite::new(now, bye, reliable, self.timers), hop));
        self.hangup = Hangup::Sent;
        self.drain_ours(now, q);
    }

    /// The call is over: pending requests get 487 (§15.1.2), our 2xx stop.
    fn end(&mut self, now: Instant, reason: EndReason, q: &mut Queues) {
        if self.ended {
            return;
        }
        self.ended = true;
        if let Some(key) = self.owed.take() {
            self.answers.respond_to(now, &key, 487, None, q);
        }
        self.answers.end(now, q);
        q.event(CallEvent::Ended(reason));
    }

    /// Sends what our REFER's transaction sends; its final answer (or its timeout, as 408)
    /// is told once.
    fn drain_refer(&mut self, q: &mut Queues) {
        let Some((t, hop)) = &mut self.refer else {
            return;
        };
        let mut answered = None;
        while let Some(o) = t.poll_output() {
            match o {
                txn::Output::Transmit(b) => q.request(b, hop),
                txn::Output::Event(txn::Event::Timeout) => answered = answered.or(Some(408)),
                txn::Output::Event(txn::Event::Response(r)) => {
                    let code = r.status().unwrap_or(0);
                    if code >= 200 {
                        answered = answered.or(Some(code));
                    }
                }
                txn::Output::Event(_) => {}
            }
        }
        if let Some(code) = answered {
            self.referred &= (200..300).contains(&code);
            if !self.ended {
                q.event(CallEvent::ReferAnswered { code });
            }
        }
        if t.is_terminated() {
            self.refer = None;
        }
    }

    /// Sends what our transactions send; a final answer to our BYE (or its timeout) ends the
    /// call.
    fn drain_ours(&mut self, now: Instant, q: &mut Queues) {
        let mut over = false;
        for (t, hop) in &mut self.ours {
            while let Some(o) = t.poll_output() {
                match o {
                    txn::Output::Transmit(b) => q.request(b, hop),
                    txn::Output::Event(txn::Event::Timeout) => over = true,
                    txn::Output::Event(txn::Event::Response(r)) => {
                        over |= r.status().unwrap_or(0) >= 200;
                    }
                    txn::Output::Event(_) => {}
                }
            }
        }
        if over {
            self.end(now, self.end_as, q);
        }
        self.ours.retain(|(t, _)| !t.is_terminated());
    }
}

/// Whether a NOTIFY belongs to a REFER's implicit subscription (RFC 3515 §2.4.4: `Event:
/// refer`, with an `id` parameter after the first REFER of a dialog).
fn is_refer_event(req: &Message) -> bool {
    req.header(HeaderName::Event).is_some_and(|e| {
        e.split(';')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("refer"))
    })
}
