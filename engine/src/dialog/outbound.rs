//! The switch as the caller (RFC 3261 UAC core): a call it places itself, such as a
//! conference dialling its members.
//!
//! `new` sends an INVITE with our SDP offer to a Request-URI, From the given address (a
//! room's, with a display name) with our tag, Contact us, through an INVITE client
//! transaction. Provisionals other than 100 give `CallEvent::Ringing` (with the early SDP); a
//! 2xx gives `Answered` with the callee's answer and is acknowledged by us (§13.2.2.4: the
//! route set is the 2xx's Record-Route reversed, the ACK is repeated for every retransmitted
//! 2xx); a final above 299 gives `Failed` (its ACK is the transaction's). A 401 or 407 is
//! answered once with the credentials given (a new CSeq and branch, §22.2); a second
//! challenge fails the call. A 2xx from a second fork is acknowledged and hung up at once.
//!
//! `cancel` gives up before the answer: a CANCEL once a provisional came (§9.1: never
//! before one, so it waits for one), and the call ends `Ended(Cancelled)` whatever final
//! follows; a 2xx crossing the CANCEL is acknowledged and hung up. With no final 64*T1 after
//! the CANCEL the INVITE is abandoned. After the answer, `cancel` and `hang_up` send a BYE.
//! Inside the dialog the peer's requests are handled as in `in_dialog` (BYE, re-INVITE,
//! UPDATE, INFO digits, OPTIONS).
//!
//! Sans-IO: our requests come out of `poll_output` with their next hop (the first Route, else
//! the Request-URI, which the owner resolves to a flow), responses to the peer's requests
//! go back where those came from.
//!
//! Invariant: exactly one of `Failed` and `Ended` is emitted, last.

use std::time::Instant;

use bytes::Bytes;

use self::invite::InviteParts;
use super::event::{CallEvent, DialogError, DialogOutput, EndReason, Queues, NORMAL_CLEARING};
use super::in_dialog::InDialog;
use super::state::DialogState;
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::proxy::{branch, Local};
use crate::sip::builder::cancel_for;
use crate::sip::digest::answer_challenge;
use crate::sip::{reason_phrase, HeaderName, Message, Method, ResponseBuilder, ViaFix};
use crate::trunk::TrunkCredentials;
use crate::txn::{self, ClientInvite, ClientKey, ClientNonInvite, Timers};

/// The call to place.
#[derive(Debug, Clone, Copy)]
pub struct Dial<'a> {
    /// Who is called: the Request-URI.
    pub request_uri: &'a str,
    /// Route values for the INVITE (`<sip:proxy;lr>`: an outbound proxy, a trunk), first hop
    /// first; empty to send straight toward the Request-URI.
    pub route: &'a [&'a str],
    /// From without a tag, a name-addr: `"team-a" <sip:conf-team-a@sb.example>`.
    pub from: &'a str,
    /// To: the callee, a name-addr.
    pub to: &'a str,
    /// Our SDP offer.
    pub sdp: &'a str,
    /// More headers for the INVITE, `(name, value)`.
    pub headers: &'a [(&'a str, &'a str)],
    /// For a 401/407 from the far end, answered once.
    pub credentials: Option<&'a TrunkCredentials>,
    /// The transport toward the next hop (our Via; UDP retransmits).
    pub transport: Transport,
    /// The Call-ID to use (the owner routes the call's messages by it); `None`: a fresh one
    /// from the entropy.
    pub call_id: Option<&'a str>,
}

/// Where our CANCEL stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// Asked for before any provisional: sent when one comes (§9.1).
    Wanted,
    Sent,
}

/// A dialog a second fork's 2xx made, acknowledged and hung up; its events go nowhere.
#[derive(Debug)]
struct Stray {
    dialog: InDialog,
    q: Queues,
    ack: Bytes,
}

/// A call the switch places.
#[derive(Debug)]
pub struct OutboundCall {
    entropy: Entropy,
    timers: Timers,
    q: Queues,
    parts: InviteParts,
    credentials: Option<TrunkCredentials>,
    invite: ClientInvite,
    /// The INVITE a challenge ended, kept to acknowledge the challenge's retransmissions.
    challenged: Option<ClientInvite>,
    /// The credentials our INVITE carries (its ACK carries them too, §13.2.2.4).
    auth: Option<(&'static str, String)>,
    cancel: Cancel,
    cancel_txn: Option<ClientNonInvite>,
    /// 64*T1 after our CANCEL: the INVITE is abandoned if no final came (§9.1).
    cancel_deadline: Option<Instant>,
    dialog: Option<InDialog>,
    /// The ACK of our 2xx, repeated for each retransmission of it.
    ack: Option<(Bytes, String)>,
    strays: Vec<Stray>,
    /// `Failed` or `Ended` emitted before there was a dialog.
    finished: bool,
}

impl OutboundCall {
    /// Sends the INVITE. Fails when `dial` holds a value that is no SIP (a Request-URI, From
    /// or To that does not parse, a header that breaks the message).
    pub fn new(
        now: Instant,
        dial: Dial<'_>,
        local: &Local,
        mut entropy: Entropy,
    ) -> Result<OutboundCall, DialogError> {
        let parts = InviteParts::new(&dial, local, &mut entropy)?;
        let branch = branch::originated(&mut entropy);
        let invite = parts
            .invite(1, &branch, None)
            .ok_or(DialogError::Invalid("headers"))?;
        let timers = Timers::default();
        let mut call = OutboundCall {
            timers,
            q: Queues::default(),
            parts,
            credentials: dial.credentials.cloned(),
            invite: ClientInvite::new(now, invite, dial.transport.is_reliable(), timers),
            challenged: None,
            auth: None,
            cancel: Cancel::No,
            cancel_txn: None,
            cancel_deadline: None,
            dialog: None,
            ack: None,
            strays: Vec::new(),
            finished: false,
            entropy,
        };
        call.drain_invite(now);
        Ok(call)
    }

    /// Gives up on the call: before the answer a CANCEL (once a provisional came), after it
    /// a BYE.
    pub fn cancel(&mut self, now: Instant) {
        if let Some(d) = self.dialog.as_mut() {
            d.hang_up(now, NORMAL_CLEARING, &mut self.q);
            return;
        }
        if self.finished || self.cancel != Cancel::No {
            return;
        }
        if self.invite.is_proceeding() {
            self.send_cancel(now);
        } else {
            self.cancel = Cancel::Wanted;
        }
    }

    /// Hangs up with `reason` (a Reason header value, RFC 3326) once answered; before, as
    /// `cancel`.
    pub fn hang_up(&mut self, now: Instant, reason: &str) {
        match self.dialog.as_mut() {
            Some(d) => d.hang_up(now, reason, &mut self.q),
            None => self.cancel(now),
        }
    }

    /// A response with this call's Call-ID; `false` when it answers none of our requests.
    pub fn handle_response(&mut self, now: Instant, resp: Message) -> bool {
        let Some(key) = ClientKey::from_response(&resp) else {
            return false;
        };
        if ClientKey::from_request(self.invite.request()).as_ref() == Some(&key) {
            let _ = self.invite.handle_response(now, resp);
            self.drain_invite(now);
            return true;
        }
        if let Some(t) = self.challenged.as_mut() {
            if ClientKey::from_request(t.request()).as_ref() == Some(&key) {
                let _ = t.handle_response(now, resp);
                self.drain_challenged();
                return true;
            }
        }
        if let Some(t) = self.cancel_txn.as_mut() {
            if ClientKey::from_request(t.request()).as_ref() == Some(&key) {
                let _ = t.handle_response(now, resp);
                self.drain_cancel();
                return true;
            }
        }
        if let Some(d) = self.dialog.as_mut() {
            if d.owns_response(&resp) {
                return d.handle_response(now, resp, &mut self.q);
            }
        }
        for s in &mut self.strays {
            if s.dialog.owns_response(&resp) {
                s.dialog.handle_response(now, resp, &mut s.q);
                self.q.take_outputs(&mut s.q);
                return true;
            }
        }
        false
    }

    /// A request from the callee, `via_fix` from the transport it came over.
    pub fn handle_request(&mut self, now: Instant, req: &Message, via_fix: Option<ViaFix>) {
        if let Some(s) = self
            .strays
            .iter_mut()
            .find(|s| s.dialog.state().owns_request(req))
        {
            s.dialog.handle_request(now, req, via_fix, &mut s.q);
            self.q.take_outputs(&mut s.q);
            return;
        }
        match self.dialog.as_mut() {
            Some(d) => d.handle_request(now, req, via_fix, &mut self.q),
            None if req.method() != Some(Method::Ack) => {
                // nothing inside an early dialog is taken: no dialog yet
                let b = ResponseBuilder::new(req, 481, reason_phrase(481))
                    .via_fix(via_fix)
                    .build();
                self.q.reply(b);
            }
            None => {}
        }
    }

    /// The answer to the callee's `CallEvent::Offer`.
    pub fn answer_offer(&mut self, now: Instant, sdp: &str) -> Result<(), DialogError> {
        let d = self.dialog.as_mut().ok_or(DialogError::NoOffer)?;
        d.answer_offer(now, sdp.as_bytes(), &mut self.q)
    }

    /// Refuses the callee's offer with 488.
    pub fn refuse_offer(&mut self, now: Instant) -> Result<(), DialogError> {
        let d = self.dialog.as_mut().ok_or(DialogError::NoOffer)?;
        d.refuse_offer(now, &mut self.q)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.invite.handle_timeout(now);
        self.drain_invite(now);
        if let Some(t) = self.challenged.as_mut() {
            t.handle_timeout(now);
            self.drain_challenged();
        }
        if let Some(t) = self.cancel_txn.as_mut() {
            t.handle_timeout(now);
            self.drain_cancel();
        }
        if self.cancel_deadline.is_some_and(|d| d <= now) {
            self.cancel_deadline = None;
            if !self.invite.is_final() {
                self.invite.terminate();
                self.drain_invite(now);
                self.finish(CallEvent::Ended(EndReason::Cancelled));
            }
        }
        if let Some(d) = self.dialog.as_mut() {
            d.handle_timeout(now, &mut self.q);
        }
        for s in &mut self.strays {
            s.dialog.handle_timeout(now, &mut s.q);
            self.q.take_outputs(&mut s.q);
        }
        self.strays.retain(|s| !s.dialog.is_done());
    }

    pub fn poll_output(&mut self) -> Option<DialogOutput> {
        self.q.poll_output()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.q.poll_event()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.invite.poll_timeout(),
            self.challenged
                .as_ref()
                .and_then(ClientInvite::poll_timeout),
            self.cancel_txn
                .as_ref()
                .and_then(ClientNonInvite::poll_timeout),
            self.cancel_deadline,
            self.dialog.as_ref().and_then(InDialog::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .chain(self.strays.iter().filter_map(|s| s.dialog.poll_timeout()))
        .min()
    }

    pub fn call_id(&self) -> &str {
        &self.parts.call_id
    }

    /// Whether the callee answered.
    pub fn is_answered(&self) -> bool {
        self.dialog.is_some()
    }

    /// Whether anything came back for our INVITE yet (a provisional, a challenge, a final):
    /// a far end still silent may be gone.
    pub fn is_heard(&self) -> bool {
        self.invite.is_proceeding()
            || self.invite.is_final()
            || self.auth.is_some()
            || self.dialog.is_some()
            || self.finished
    }

    /// `Failed` or `Ended` was emitted.
    pub fn is_ended(&self) -> bool {
        self.finished || self.dialog.as_ref().is_some_and(InDialog::is_ended)
    }

    /// Ended, and no transaction is left to finish.
    pub fn is_done(&self) -> bool {
        self.is_ended()
            && self.invite.is_terminated()
            && self.challenged.is_none()
            && self.cancel_txn.is_none()
            && self.dialog.as_ref().is_none_or(InDialog::is_done)
            && self.strays.is_empty()
    }

    fn drain_invite(&mut self, now: Instant) {
        let mut responses = Vec::new();
        while let Some(o) = self.invite.poll_output() {
            match o {
                txn::Output::Transmit(b) => self.q.request(b, self.parts.next_hop()),
                txn::Output::Event(txn::Event::Response(r)) => responses.push(r),
                txn::Output::Event(txn::Event::Timeout) => {
                    self.unanswered(408, reason_phrase(408));
                }
                txn::Output::Event(_) => {}
            }
        }
        for r in responses {
            self.on_response(now, r);
        }
    }

    fn on_response(&mut self, now: Instant, r: Message) {
        let code = r.status().unwrap_or(0);
        match code {
            100..=199 => {
                // any provisional, 100 too, lets a CANCEL go (§9.1)
                if self.cancel == Cancel::Wanted {
                    self.send_cancel(now);
                }
                if code > 100 && self.cancel == Cancel::No && !self.finished {
                    let sdp = (!r.body().is_empty()).then(|| Bytes::copy_from_slice(r.body()));
                    self.q.event(CallEvent::Ringing { code, sdp });
                }
            }
            200..=299 => self.on_2xx(now, &r),
            401 | 407 if self.auth.is_none() && self.cancel == Cancel::No => {
                if !self.answer_challenge(now, &r) {
                    self.unanswered(code, r.reason().unwrap_or(""));
                }
            }
            _ => self.unanswered(code, r.reason().unwrap_or("")),
        }
    }

    /// The INVITE again with credentials for the challenge in `r` (§22.2, §22.3): a new CSeq
    /// and branch. `false` without credentials or a challenge we can read.
    fn answer_challenge(&mut self, now: Instant, r: &Message) -> bool {
        let Some(creds) = self.credentials.as_ref() else {
            return false;
        };
        let name = if r.status() == Some(401) {
            HeaderName::WwwAuthenticate
        } else {
            HeaderName::ProxyAuthenticate
        };
        let cnonce = self.entropy.token(12);
        let (user, password) = (&creds.username, &creds.password);
        let uri = &self.parts.request_uri;
        let Some(auth) = r
            .header_lines(name)
            .find_map(|c| answer_challenge(name, c, "INVITE", uri, user, password, &cnonce))
        else {
            return false;
        };
        let seq = self.invite.request().cseq().map_or(1, |c| c.seq) + 1;
        let branch = branch::originated(&mut self.entropy);
        let Some(invite) = self.parts.invite(seq, &branch, Some(&auth)) else {
            return false;
        };
        self.auth = Some(auth);
        let reliable = self.parts.transport.is_reliable();
        let old = std::mem::replace(
            &mut self.invite,
            ClientInvite::new(now, invite, reliable, self.timers),
        );
        self.challenged = Some(old);
        self.drain_invite(now);
        true
    }

    fn on_2xx(&mut self, now: Instant, r: &Message) {
        let tag = r.to_tag().unwrap_or("");
        if let Some(d) = &self.dialog {
            if d.state().remote_tag() == tag {
                // the 2xx again: our ACK was lost (§13.2.2.4)
                if let Some((ack, hop)) = &self.ack {
                    self.q.request(ack.clone(), hop);
                }
                return;
            }
            // another fork answered too: acknowledge and hang up that dialog (§13.2.2.4)
            if let Some(s) = self
                .strays
                .iter()
                .find(|s| s.dialog.state().remote_tag() == tag)
            {
                let hop = s.dialog.state().next_hop();
                self.q.request(s.ack.clone(), &hop);
                return;
            }
            let (mut dialog, ack, hop) = self.dialog_of(r);
            let mut q = Queues::default();
            q.request(ack.clone(), &hop);
            dialog.hang_up(now, NORMAL_CLEARING, &mut q);
            self.q.take_outputs(&mut q);
            self.strays.push(Stray { dialog, q, ack });
            return;
        }
        if self.finished {
            return; // after the INVITE was abandoned: nothing to take up
        }
        let (mut dialog, ack, hop) = self.dialog_of(r);
        self.q.request(ack.clone(), &hop);
        self.ack = Some((ack, hop));
        self.cancel_deadline = None;
        if self.cancel == Cancel::No {
            self.q.event(CallEvent::Answered {
                sdp: Bytes::copy_from_slice(r.body()),
            });
        } else {
            // the 2xx crossed our CANCEL: the call is taken down at once
            dialog.end_as(EndReason::Cancelled);
            dialog.hang_up(now, NORMAL_CLEARING, &mut self.q);
        }
        self.dialog = Some(dialog);
    }

    /// The dialog a 2xx makes, its ACK and the ACK's next hop.
    fn dialog_of(&mut self, ok: &Message) -> (InDialog, Bytes, String) {
        let state = DialogState::uac(
            self.invite.request(),
            ok,
            &self.parts.local,
            self.parts.transport,
        );
        let seq = self.invite.request().cseq().map_or(1, |c| c.seq);
        let branch = branch::originated(&mut self.entropy);
        let auth: Vec<(&str, &str)> = self.auth.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (ack, hop) = state.ack(seq, &branch, &auth);
        let entropy = Entropy::seeded(self.entropy.next_u64());
        (
            InDialog::new(state, self.parts.sdp.clone(), entropy, self.timers),
            ack,
            hop,
        )
    }

    /// The INVITE ended without an answer.
    fn unanswered(&mut self, code: u16, reason: &str) {
        self.cancel_deadline = None;
        if self.cancel == Cancel::No {
            self.finish(CallEvent::Failed {
                code,
                reason: reason.to_owned(),
            });
        } else {
            self.finish(CallEvent::Ended(EndReason::Cancelled));
        }
    }

    fn send_cancel(&mut self, now: Instant) {
        // built from the INVITE as sent, so it parses as that did
        let cancel = Message::parse(cancel_for(self.invite.request())).expect("our CANCEL parses");
        self.cancel_txn = Some(ClientNonInvite::new(
            now,
            cancel,
            self.parts.transport.is_reliable(),
            self.timers,
        ));
        self.cancel = Cancel::Sent;
        self.cancel_deadline = Some(now + self.timers.timeout());
        self.drain_cancel();
    }

    fn drain_cancel(&mut self) {
        if let Some(t) = self.cancel_txn.as_mut() {
            while let Some(o) = t.poll_output() {
                if let txn::Output::Transmit(b) = o {
                    self.q.request(b, self.parts.next_hop());
                }
            }
            if t.is_terminated() {
                self.cancel_txn = None;
            }
        }
    }

    fn drain_challenged(&mut self) {
        if let Some(t) = self.challenged.as_mut() {
            while let Some(o) = t.poll_output() {
                if let txn::Output::Transmit(b) = o {
                    self.q.request(b, self.parts.next_hop());
                }
            }
            if t.is_terminated() {
                self.challenged = None;
            }
        }
    }

    fn finish(&mut self, e: CallEvent) {
        if !self.finished && self.dialog.is_none() {
            self.finished = true;
            self.q.event(e);
        }
    }
}

mod invite;
#[cfg(test)]
mod tests;
