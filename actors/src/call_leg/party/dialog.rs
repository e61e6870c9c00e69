//! A participant's dialog either way: the switch answered its INVITE (`PartyDialog`) or
//! called it (`OutboundCall`, a chat room's `/call`). One set of calls for the part to use.

use std::time::Instant;

use switchboard_engine::dialog::{CallEvent, DialogError, DialogOutput, OutboundCall, PartyDialog};
use switchboard_engine::sip::{Message as SipMessage, ViaFix};

/// The call's dialog: the participant called in, or the switch called the participant.
pub(super) enum Dialog {
    Answering(Box<PartyDialog>),
    Calling(Box<OutboundCall>),
}

impl Dialog {
    pub(super) fn owns(&self, msg: &SipMessage) -> bool {
        match self {
            Dialog::Answering(d) => d.owns(msg),
            // the leg's Call-ID is this call's alone
            Dialog::Calling(c) => msg.call_id() == Some(c.call_id()),
        }
    }

    pub(super) fn owns_response(&self, resp: &SipMessage) -> bool {
        match self {
            Dialog::Answering(d) => d.owns_response(resp),
            Dialog::Calling(c) => resp.call_id() == Some(c.call_id()),
        }
    }

    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        req: &SipMessage,
        via_fix: Option<ViaFix>,
    ) {
        match self {
            Dialog::Answering(d) => d.handle_request(now, req, via_fix),
            Dialog::Calling(c) => c.handle_request(now, req, via_fix),
        }
    }

    pub(super) fn handle_response(&mut self, now: Instant, resp: SipMessage) {
        match self {
            Dialog::Answering(d) => drop(d.handle_response(now, resp)),
            Dialog::Calling(c) => drop(c.handle_response(now, resp)),
        }
    }

    pub(super) fn hang_up(&mut self, now: Instant, reason: &str) {
        match self {
            Dialog::Answering(d) => d.hang_up(now, reason),
            // before the answer: CANCEL; after it: BYE
            Dialog::Calling(c) if c.is_answered() => c.hang_up(now, reason),
            Dialog::Calling(c) => c.cancel(now),
        }
    }

    pub(super) fn answer_offer(&mut self, now: Instant, sdp: &str) -> Result<(), DialogError> {
        match self {
            Dialog::Answering(d) => d.answer_offer(now, sdp),
            Dialog::Calling(c) => c.answer_offer(now, sdp),
        }
    }

    pub(super) fn refuse_offer(&mut self, now: Instant) -> Result<(), DialogError> {
        match self {
            Dialog::Answering(d) => d.refuse_offer(now),
            Dialog::Calling(c) => c.refuse_offer(now),
        }
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Dialog::Answering(d) => d.handle_timeout(now),
            Dialog::Calling(c) => c.handle_timeout(now),
        }
    }

    pub(super) fn poll_output(&mut self) -> Option<DialogOutput> {
        match self {
            Dialog::Answering(d) => d.poll_output(),
            Dialog::Calling(c) => c.poll_output(),
        }
    }

    pub(super) fn poll_event(&mut self) -> Option<CallEvent> {
        match self {
            Dialog::Answering(d) => d.poll_event(),
            Dialog::Calling(c) => c.poll_event(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Dialog::Answering(d) => d.poll_timeout(),
            Dialog::Calling(c) => c.poll_timeout(),
        }
    }

    pub(super) fn is_done(&self) -> bool {
        match self {
            Dialog::Answering(d) => d.is_done(),
            Dialog::Calling(c) => c.is_done(),
        }
    }

    pub(super) fn is_ended(&self) -> bool {
        match self {
            Dialog::Answering(d) => d.is_ended(),
            Dialog::Calling(c) => c.is_ended(),
        }
    }
}

/// Where a participant's call stands after a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::call_leg) enum Drained {
    /// Up (or being set up).
    Live,
    /// Ended; retransmissions may still need answers.
    Ended,
    /// Nothing is left.
    Done,
}
