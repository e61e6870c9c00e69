//! An INVITE the switch answers as a user agent (the one a party answers, a re-INVITE in any
//! dialog of ours): its server transaction, and our 2xx retransmitted until its ACK (RFC 3261
//! §13.3.1.4: T1, doubling up to T2, given up at 64*T1).
//!
//! The transaction (`txn::ServerInvite`) repeats provisionals and non-2xx finals and absorbs
//! their ACK; the 2xx is ours to repeat, since its ACK is a transaction of its own that only
//! the dialog recognises (by its CSeq).

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::{Message, ViaFix};
use crate::txn::{self, ServerInvite, ServerKey, Timers};

/// What a due 2xx timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OkTimer {
    Nothing,
    /// The 2xx again.
    Resend,
    /// No ACK within 64*T1: retransmission stopped.
    GaveUp,
}

/// One INVITE we answer.
#[derive(Debug)]
pub(super) struct AnsweredInvite {
    /// Its transaction key (none for a request without a usable Via, which validation stops).
    pub(super) key: Option<ServerKey>,
    pub(super) request: Message,
    pub(super) via_fix: Option<ViaFix>,
    pub(super) seq: u32,
    /// The INVITE that created the dialog (a party's), as opposed to a re-INVITE.
    pub(super) initial: bool,
    txn: ServerInvite,
    ok: Option<Unacked>,
}

/// A 2xx waiting for its ACK.
#[derive(Debug)]
struct Unacked {
    bytes: Bytes,
    /// None on reliable transports: only the give-up time runs.
    next: Option<Instant>,
    interval: Duration,
    give_up: Instant,
    /// The 2xx carried our offer (the INVITE had none): the ACK brings the answer.
    offer: bool,
}

impl AnsweredInvite {
    pub(super) fn new(
        now: Instant,
        request: &Message,
        via_fix: Option<ViaFix>,
        initial: bool,
        reliable: bool,
        timers: Timers,
    ) -> AnsweredInvite {
        AnsweredInvite {
            key: ServerKey::from_request(request),
            request: request.clone(),
            via_fix,
            seq: request.cseq().map_or(0, |c| c.seq),
            initial,
            txn: ServerInvite::new(now, reliable, timers),
            ok: None,
        }
    }

    pub(super) fn matches(&self, key: &Option<ServerKey>) -> bool {
        self.key.is_some() && &self.key == key
    }

    /// The final response sent, if any.
    pub(super) fn final_code(&self) -> Option<u16> {
        self.txn.final_code()
    }

    /// Whether the INVITE still waits for its final response.
    pub(super) fn is_pending(&self) -> bool {
        self.txn.final_code().is_none() && !self.txn.is_terminated()
    }

    /// Whether our 2xx waits for its ACK; `Some(true)` when it carried our offer.
    pub(super) fn unacked(&self) -> Option<bool> {
        self.ok.as_ref().map(|o| o.offer)
    }

    pub(super) fn is_over(&self) -> bool {
        self.txn.is_terminated() && self.ok.is_none()
    }

    /// Sends `bytes`, a response with status `code`; a 2xx is then repeated until
    /// `acked` (on unreliable transports) or given up on.
    pub(super) fn respond(
        &mut self,
        now: Instant,
        code: u16,
        bytes: Bytes,
        reliable: bool,
        timers: Timers,
    ) {
        if self.txn.respond(now, code, bytes.clone()).is_err() {
            return; // already final: nothing more to say on this INVITE
        }
        if (200..300).contains(&code) {
            self.ok = Some(Unacked {
                bytes,
                next: (!reliable).then(|| now + timers.t1),
                interval: timers.t1,
                give_up: now + timers.timeout(),
                offer: self.request.body().is_empty(),
            });
        }
    }

    /// The INVITE again: the transaction repeats what it sent, and our 2xx goes again.
    pub(super) fn handle_retransmission(&mut self, now: Instant) -> Option<Bytes> {
        let _ = self.txn.handle_request(now, &self.request);
        self.ok.as_ref().map(|o| o.bytes.clone())
    }

    /// The hop-by-hop ACK of our non-2xx final.
    pub(super) fn handle_ack(&mut self, now: Instant, ack: &Message) {
        let _ = self.txn.handle_request(now, ack);
    }

    /// The ACK of our 2xx: retransmission stops. Whether our 2xx carried an offer.
    pub(super) fn acked(&mut self) -> Option<bool> {
        self.ok.take().map(|o| o.offer)
    }

    /// Stops repeating the 2xx (the dialog ended).
    pub(super) fn forget_ok(&mut self) {
        self.ok = None;
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, timers: Timers) -> OkTimer {
        self.txn.handle_timeout(now);
        let Some(ok) = self.ok.as_mut() else {
            return OkTimer::Nothing;
        };
        if now >= ok.give_up {
            self.ok = None;
            return OkTimer::GaveUp;
        }
        match ok.next {
            Some(t) if t <= now => {
                ok.interval = (ok.interval * 2).min(timers.t2);
                ok.next = Some(now + ok.interval);
                OkTimer::Resend
            }
            _ => OkTimer::Nothing,
        }
    }

    /// The 2xx to repeat.
    pub(super) fn ok_bytes(&self) -> Option<Bytes> {
        self.ok.as_ref().map(|o| o.bytes.clone())
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let ok = self
            .ok
            .as_ref()
            .map(|o| o.next.map_or(o.give_up, |n| n.min(o.give_up)));
        [self.txn.poll_timeout(), ok].into_iter().flatten().min()
    }

    /// What the transaction sends.
    pub(super) fn poll_transmit(&mut self) -> Option<Bytes> {
        while let Some(o) = self.txn.poll_output() {
            if let txn::Output::Transmit(b) = o {
                return Some(b);
            }
        }
        None
    }
}
