//! What the switch's own dialogs (`PartyDialog`, `OutboundCall`) ask of their owner: messages
//! to send (`DialogOutput`) and what happened in the call (`CallEvent`).
//!
//! Both machines speak the same events, so an owner that has calls of both kinds (a
//! conference with members who called in and members it dialled) handles them alike. Each
//! machine documents which events it emits.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::media::dtmf::InfoDigit;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogOutput {
    /// A response to a request of the peer: back where that request came from (RFC 3261
    /// §18.2.2; for the 2xx of an INVITE, where the INVITE came from).
    Reply(Bytes),
    /// A request of ours, toward `next_hop`: the URI of the first Route value, else the
    /// Request-URI (RFC 3261 §8.1.2). The owner resolves it to a flow; a party whose peer
    /// called in may send it on the flow the INVITE came from instead (the peer may sit
    /// behind a NAT and only that flow reaches it).
    Request { bytes: Bytes, next_hop: String },
}

/// What happened in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// `OutboundCall`: a provisional response other than 100 (180, 183), with the SDP of the
    /// early session when it carried one.
    Ringing { code: u16, sdp: Option<Bytes> },
    /// `OutboundCall`: the callee answered; `sdp` is its answer to our offer (empty when the
    /// 2xx carried none).
    Answered { sdp: Bytes },
    /// `OutboundCall`: the call was not answered: a final response above 299, no response at
    /// all (408), or a second challenge (the 401/407 itself). Ends the call.
    Failed { code: u16, reason: String },
    /// The ACK of a 2xx we sent to an INVITE arrived (the first one confirms the dialog).
    /// `sdp` is the peer's answer when that 2xx carried our offer (an INVITE without SDP,
    /// RFC 3261 §13.2.1, §14.2).
    Acked { sdp: Option<Bytes> },
    /// No ACK came for a 2xx of ours within 64*T1 (RFC 3261 §13.3.1.4): the session should
    /// end; the owner hangs up.
    AckTimedOut,
    /// The peer offers a new session description in a re-INVITE or an UPDATE (hold, resume,
    /// another codec or address). The owner answers with `answer_offer` or `refuse_offer`.
    Offer { sdp: Bytes },
    /// A DTMF digit the peer sent in an INFO (`application/dtmf-relay` or
    /// `application/dtmf`).
    Digit(InfoDigit),
    /// The peer's final answer to our REFER (RFC 3515): 2xx accepted (it calls the target
    /// now), anything else refused; 408 when no answer came.
    ReferAnswered { code: u16 },
    /// The call is over. Emitted once, last (`Failed` is the other last event).
    Ended(EndReason),
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The peer hung up: a BYE.
    PeerHungUp,
    /// The call was given up before it was answered: the caller's CANCEL (or its BYE on the
    /// early dialog), or our `cancel` of an `OutboundCall`.
    Cancelled,
    /// The switch hung up: our BYE was answered or timed out (or, before our answer, the
    /// INVITE was refused).
    HungUp,
}

/// Misuse of a dialog machine: a call its state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    #[error("no offer waits for an answer")]
    NoOffer,
    #[error("the {0} given is no valid SIP")]
    Invalid(&'static str),
    #[error("the dialog is not confirmed, is ending, or has a request of ours in flight")]
    NotReady,
}

/// The Reason header value (RFC 3326) for a call the switch ends normally.
pub const NORMAL_CLEARING: &str = "Q.850;cause=16;text=\"Normal call clearing\"";

/// The output and event queues of one machine, shared with the dialog it drives.
#[derive(Debug, Default)]
pub(super) struct Queues {
    out: VecDeque<DialogOutput>,
    events: VecDeque<CallEvent>,
}

impl Queues {
    pub(super) fn reply(&mut self, bytes: Bytes) {
        self.out.push_back(DialogOutput::Reply(bytes));
    }

    pub(super) fn request(&mut self, bytes: Bytes, next_hop: &str) {
        self.out.push_back(DialogOutput::Request {
            bytes,
            next_hop: next_hop.to_owned(),
        });
    }

    pub(super) fn event(&mut self, e: CallEvent) {
        self.events.push_back(e);
    }

    pub(super) fn poll_output(&mut self) -> Option<DialogOutput> {
        self.out.pop_front()
    }

    pub(super) fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// Moves the outputs of `other` here, dropping its events (a dialog the owner never
    /// hears of: a second 2xx of a forked INVITE).
    pub(super) fn take_outputs(&mut self, other: &mut Queues) {
        self.out.append(&mut other.out);
        other.events.clear();
    }
}
