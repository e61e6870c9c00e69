//! The switch as the called party (RFC 3261 UAS core): it answers an INVITE itself with its
//! own SDP, for a conference, a voicemail box or a feature code's prompt.
//!
//! `new` answers at once with 200, or first with a 180/183 carrying the same SDP (early
//! media: a prompt before the answer) and the 200 on `answer`. The 200 is retransmitted
//! (T1, doubling up to T2) until its ACK (`CallEvent::Acked`); none within 64*T1 gives
//! `CallEvent::AckTimedOut` and the owner hangs up (§13.3.1.4). A CANCEL before the 200 gets
//! 200, the INVITE 487, and the call ends (`Ended(Cancelled)`). Inside the dialog it does what
//! `in_dialog` says: re-INVITE/UPDATE offers as events answered by the owner, INFO digits,
//! OPTIONS, BYE either way (ours with a Reason header, RFC 3326), 481 for other dialogs.
//! An INVITE without an offer gets our SDP as the offer in the 200; its ACK brings the
//! answer (`Acked { sdp }`), and the early provisional then goes without SDP (§13.2.1).
//!
//! Drive it like a transaction: `handle_request`/`handle_response`/`handle_timeout` with
//! `now`, then drain `poll_output` (responses go back where their request came from, our
//! requests toward their next hop) and `poll_event`, and arm `poll_timeout`. Every request
//! of the call's Call-ID goes to `handle_request`, the INVITE's retransmissions too.
//!
//! Invariant: `CallEvent::Ended` is emitted once, last. The machine may still answer
//! retransmissions after it (`is_done` says when nothing is left).

use std::time::Instant;

use bytes::Bytes;

use super::event::{CallEvent, DialogError, DialogOutput, Queues};
use super::in_dialog::InDialog;
use super::state::DialogState;
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::proxy::Local;
use crate::sip::{reason_phrase, Message, ViaFix};
use crate::txn::Timers;

/// The provisional response that opens early media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisional {
    /// 180 Ringing.
    Ringing,
    /// 183 Session Progress.
    SessionProgress,
}

impl Provisional {
    pub fn code(self) -> u16 {
        match self {
            Provisional::Ringing => 180,
            Provisional::SessionProgress => 183,
        }
    }
}

/// How the switch answers.
#[derive(Debug, Clone, Copy)]
pub struct PartyAnswer<'a> {
    /// Our SDP: the answer to the INVITE's offer, or our offer when it had none.
    pub sdp: &'a str,
    /// The 200's reason phrase (`OK`; a feature code says what it did).
    pub reason: &'a str,
    /// Early media first: this provisional with `sdp` now, the 200 on `answer`.
    pub early: Option<Provisional>,
}

/// A call the switch answered.
#[derive(Debug)]
pub struct PartyDialog {
    dialog: InDialog,
    q: Queues,
    reason: String,
}

impl PartyDialog {
    /// Answers `invite` (validated, outside any dialog) that came over `upstream`, whose
    /// transport learnt `via_fix` of the sender. Tags and branches come from `entropy`.
    pub fn new(
        now: Instant,
        invite: &Message,
        upstream: Transport,
        via_fix: Option<ViaFix>,
        local: &Local,
        mut entropy: Entropy,
        answer: PartyAnswer<'_>,
    ) -> PartyDialog {
        let tag = entropy.token(10);
        let state = DialogState::uas(invite, &tag, local, upstream);
        let sdp = Bytes::copy_from_slice(answer.sdp.as_bytes());
        let mut dialog = InDialog::new(state, sdp, entropy, Timers::default());
        dialog.receive_initial(now, invite, via_fix);
        let mut d = PartyDialog {
            dialog,
            q: Queues::default(),
            reason: answer.reason.to_owned(),
        };
        match answer.early {
            Some(p) => {
                let code = p.code();
                d.dialog
                    .answer_initial(now, code, reason_phrase(code), &mut d.q);
            }
            None => d.answer(now),
        }
        d
    }

    /// Sends the 200 (after early media); nothing if the INVITE has its final response.
    pub fn answer(&mut self, now: Instant) {
        self.dialog
            .answer_initial(now, 200, &self.reason, &mut self.q);
    }

    /// The switch hangs up with `reason` (a Reason header value, RFC 3326, such as
    /// `event::NORMAL_CLEARING`): a BYE, held back until the ACK of our 200 (§15); before
    /// the 200, the INVITE is refused with 480.
    pub fn hang_up(&mut self, now: Instant, reason: &str) {
        self.dialog.hang_up(now, reason, &mut self.q);
    }

    /// Asks the caller's phone to call `refer_to` instead (RFC 3515 REFER; `referred_by`: who
    /// asks, RFC 3892). The answer comes as `CallEvent::ReferAnswered`; refused before the
    /// ACK of our 200, once hanging up, or while another REFER waits.
    pub fn refer(
        &mut self,
        now: Instant,
        refer_to: &str,
        referred_by: Option<&str>,
    ) -> Result<(), DialogError> {
        self.dialog.refer(now, refer_to, referred_by, &mut self.q)
    }

    /// A request with this call's Call-ID, `via_fix` from the transport it came over.
    pub fn handle_request(&mut self, now: Instant, req: &Message, via_fix: Option<ViaFix>) {
        self.dialog.handle_request(now, req, via_fix, &mut self.q);
    }

    /// A response; `false` when it answers none of our requests.
    pub fn handle_response(&mut self, now: Instant, resp: Message) -> bool {
        self.dialog.handle_response(now, resp, &mut self.q)
    }

    /// The answer to the peer's `CallEvent::Offer`; it becomes our current SDP.
    pub fn answer_offer(&mut self, now: Instant, sdp: &str) -> Result<(), DialogError> {
        self.dialog.answer_offer(now, sdp.as_bytes(), &mut self.q)
    }

    /// Refuses the peer's offer with 488; the session stays as it was.
    pub fn refuse_offer(&mut self, now: Instant) -> Result<(), DialogError> {
        self.dialog.refuse_offer(now, &mut self.q)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.dialog.handle_timeout(now, &mut self.q);
    }

    pub fn poll_output(&mut self) -> Option<DialogOutput> {
        self.q.poll_output()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.q.poll_event()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.dialog.poll_timeout()
    }

    pub fn call_id(&self) -> &str {
        self.dialog.state().call_id()
    }

    /// Our To tag.
    pub fn local_tag(&self) -> &str {
        self.dialog.state().local_tag()
    }

    /// Whether a request is inside this dialog (its Call-ID, our tag, the caller's tag).
    pub fn owns(&self, req: &Message) -> bool {
        self.dialog.state().owns_request(req)
    }

    /// Whether a response answers one of our requests (our BYE).
    pub fn owns_response(&self, resp: &Message) -> bool {
        self.dialog.owns_response(resp)
    }

    /// Whether the INVITE still waits for our final response (early media playing).
    pub fn is_early(&self) -> bool {
        self.dialog.initial_pending()
    }

    pub fn is_ended(&self) -> bool {
        self.dialog.is_ended()
    }

    /// Ended, and no retransmission is left to answer.
    pub fn is_done(&self) -> bool {
        self.dialog.is_done()
    }
}

#[cfg(test)]
mod tests;
