//! Every answer the switch gives inside a dialog of its own, each through a server
//! transaction (RFC 3261 §17.2): an INVITE's (`answered::AnsweredInvite`, our 2xx repeated
//! until its ACK) and any other request's (`ServerNonInvite`), so a retransmitted request
//! gets the same answer again and is never taken twice.
//!
//! Responses carry our tag, our Contact on 1xx/2xx (§12.1.1), what we allow on 2xx, and the
//! INVITE's Record-Route on the responses that create the dialog.

use std::time::Instant;

use bytes::Bytes;

use super::answered::{AnsweredInvite, OkTimer};
use super::event::Queues;
use super::state::ALLOW;
use crate::sip::{reason_phrase, Message, Method, ResponseBuilder, ViaFix};
use crate::txn::{self, ServerKey, ServerNonInvite, Timers};

/// A request from the peer other than an INVITE, kept for its retransmissions (Timer J).
#[derive(Debug)]
struct AnsweredRequest {
    key: Option<ServerKey>,
    request: Message,
    via_fix: Option<ViaFix>,
    txn: ServerNonInvite,
}

/// What a due timer of ours did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Expired {
    /// A 2xx of ours got no ACK within 64*T1 (§13.3.1.4).
    pub(super) gave_up: bool,
}

/// The server side of one dialog of ours.
#[derive(Debug)]
pub(super) struct Answers {
    tag: String,
    contact: String,
    reliable: bool,
    timers: Timers,
    invites: Vec<AnsweredInvite>,
    requests: Vec<AnsweredRequest>,
}

impl Answers {
    /// Answers with `tag` (ours) and `contact`, over a `reliable` transport or not.
    pub(super) fn new(tag: &str, contact: String, reliable: bool, timers: Timers) -> Answers {
        Answers {
            tag: tag.to_owned(),
            contact,
            reliable,
            timers,
            invites: Vec::new(),
            requests: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.invites.is_empty() && self.requests.is_empty()
    }

    /// The INVITE that creates a party's dialog.
    pub(super) fn receive_initial(&mut self, now: Instant, invite: &Message, via: Option<ViaFix>) {
        let inv = AnsweredInvite::new(now, invite, via, true, self.reliable, self.timers);
        self.invites.push(inv);
    }

    /// Whether the initial INVITE still waits for its final response.
    pub(super) fn initial_pending(&self) -> bool {
        self.invites.iter().any(|i| i.initial && i.is_pending())
    }

    /// Whether our 2xx to the initial INVITE waits for its ACK.
    pub(super) fn initial_unacked(&self) -> bool {
        self.invites
            .iter()
            .any(|i| i.initial && i.unacked().is_some())
    }

    /// Whether an INVITE waits for our final response.
    pub(super) fn invite_pending(&self) -> bool {
        self.invites.iter().any(AnsweredInvite::is_pending)
    }

    /// Whether a 2xx of ours waits for its ACK (`offer_only`: one that carried our offer).
    pub(super) fn unacked(&self, offer_only: bool) -> bool {
        self.invites
            .iter()
            .any(|i| i.unacked().is_some_and(|offer| offer || !offer_only))
    }

    /// The INVITE `key` if we answer it: whether it still waits for its final, and whether
    /// it is the initial one.
    pub(super) fn invite(&self, key: &Option<ServerKey>) -> Option<(bool, bool)> {
        self.invites
            .iter()
            .find(|i| i.matches(key))
            .map(|i| (i.is_pending(), i.initial))
    }

    /// A request we answered already: the same answer again (and our 2xx for an INVITE).
    /// `false` when it is new.
    pub(super) fn absorb(
        &mut self,
        now: Instant,
        req: &Message,
        key: &Option<ServerKey>,
        q: &mut Queues,
    ) -> bool {
        if req.method() == Some(Method::Invite) {
            let Some(i) = self.invites.iter().position(|i| i.matches(key)) else {
                return false;
            };
            if let Some(ok) = self.invites[i].handle_retransmission(now) {
                q.reply(ok);
            }
            self.drain_invite(i, q);
            return true;
        }
        let Some(r) = self
            .requests
            .iter_mut()
            .find(|r| r.key.is_some() && &r.key == key)
        else {
            return false;
        };
        let _ = r.txn.handle_request(now);
        drain_request(r, q);
        true
    }

    /// The ACK of a non-2xx of ours: hop by hop, the INVITE's own transaction takes it
    /// (§17.1.1.3). `false` when it is no such ACK.
    pub(super) fn absorb_ack(
        &mut self,
        now: Instant,
        ack: &Message,
        key: &Option<ServerKey>,
        q: &mut Queues,
    ) -> bool {
        let Some(i) = self
            .invites
            .iter()
            .position(|i| i.matches(key) && i.final_code().is_some_and(|c| c >= 300))
        else {
            return false;
        };
        self.invites[i].handle_ack(now, ack);
        self.drain_invite(i, q);
        true
    }

    /// The ACK of our 2xx to the INVITE with CSeq `seq`: its retransmission stops.
    /// `Some(offered)` (whether the 2xx carried our offer) when one waited for it.
    pub(super) fn acked(&mut self, seq: u32) -> Option<bool> {
        self.invites
            .iter_mut()
            .find(|i| i.seq == seq && i.unacked().is_some())
            .and_then(AnsweredInvite::acked)
    }

    /// Answers a request that has no transaction yet (an INVITE gets one that repeats a
    /// non-2xx and takes its ACK).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn respond_new(
        &mut self,
        now: Instant,
        req: &Message,
        key: Option<ServerKey>,
        via_fix: Option<ViaFix>,
        code: u16,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        q: &mut Queues,
    ) {
        if req.method() == Some(Method::Invite) {
            let i = self.push_invite(now, req, via_fix);
            return self.respond_invite(now, i, code, reason_phrase(code), headers, body, q);
        }
        let mut r = AnsweredRequest {
            key,
            request: req.clone(),
            via_fix,
            txn: ServerNonInvite::new(now, self.reliable, self.timers),
        };
        let reason = reason_phrase(code);
        let bytes = self.response(&r.request, r.via_fix, code, reason, headers, body, false);
        let _ = r.txn.respond(now, code, bytes);
        drain_request(&mut r, q);
        self.requests.push(r);
    }

    /// Takes a request whose answer comes later (`respond_to`): a re-INVITE, an UPDATE.
    pub(super) fn hold(
        &mut self,
        now: Instant,
        req: &Message,
        key: Option<ServerKey>,
        via_fix: Option<ViaFix>,
    ) {
        if req.method() == Some(Method::Invite) {
            self.push_invite(now, req, via_fix);
        } else {
            self.requests.push(AnsweredRequest {
                key,
                request: req.clone(),
                via_fix,
                txn: ServerNonInvite::new(now, self.reliable, self.timers),
            });
        }
    }

    /// Answers the request `key` taken with `hold` (or any INVITE we answer).
    pub(super) fn respond_to(
        &mut self,
        now: Instant,
        key: &ServerKey,
        code: u16,
        sdp: Option<&[u8]>,
        q: &mut Queues,
    ) {
        let key = Some(key.clone());
        if let Some(i) = self.invites.iter().position(|i| i.matches(&key)) {
            return self.respond_invite(now, i, code, reason_phrase(code), &[], sdp, q);
        }
        if let Some(i) = self.requests.iter().position(|r| r.key == key) {
            let (request, via_fix) = (&self.requests[i].request, self.requests[i].via_fix);
            let reason = reason_phrase(code);
            let bytes = self.response(request, via_fix, code, reason, &[], sdp, false);
            let r = &mut self.requests[i];
            let _ = r.txn.respond(now, code, bytes);
            drain_request(r, q);
        }
    }

    /// Responds to the initial INVITE: a provisional (with `sdp` only when the INVITE had an
    /// offer: an offer goes in a 2xx, §13.2.1), a 2xx with `sdp`, or a refusal.
    pub(super) fn answer_initial(
        &mut self,
        now: Instant,
        code: u16,
        reason: &str,
        sdp: Option<&[u8]>,
        q: &mut Queues,
    ) {
        let Some(i) = self
            .invites
            .iter()
            .position(|i| i.initial && i.is_pending())
        else {
            return;
        };
        let offered = !self.invites[i].request.body().is_empty();
        let sdp = sdp.filter(|_| code >= 200 || offered);
        self.respond_invite(now, i, code, reason, &[], sdp, q);
    }

    /// The dialog ended: every INVITE still waiting gets 487 (§15.1.2), our 2xx stop.
    pub(super) fn end(&mut self, now: Instant, q: &mut Queues) {
        for i in 0..self.invites.len() {
            if self.invites[i].is_pending() {
                self.respond_invite(now, i, 487, reason_phrase(487), &[], None, q);
            }
            self.invites[i].forget_ok();
        }
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, q: &mut Queues) -> Expired {
        let mut expired = Expired::default();
        for i in 0..self.invites.len() {
            match self.invites[i].handle_timeout(now, self.timers) {
                OkTimer::Nothing => {}
                OkTimer::Resend => {
                    if let Some(b) = self.invites[i].ok_bytes() {
                        q.reply(b);
                    }
                }
                OkTimer::GaveUp => expired.gave_up = true,
            }
            self.drain_invite(i, q);
        }
        for r in &mut self.requests {
            r.txn.handle_timeout(now);
            drain_request(r, q);
        }
        self.invites.retain(|i| !i.is_over());
        self.requests.retain(|r| !r.txn.is_terminated());
        expired
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let invites = self.invites.iter().filter_map(AnsweredInvite::poll_timeout);
        let requests = self.requests.iter().filter_map(|r| r.txn.poll_timeout());
        invites.chain(requests).min()
    }

    fn push_invite(&mut self, now: Instant, req: &Message, via_fix: Option<ViaFix>) -> usize {
        let inv = AnsweredInvite::new(now, req, via_fix, false, self.reliable, self.timers);
        self.invites.push(inv);
        self.invites.len() - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn respond_invite(
        &mut self,
        now: Instant,
        i: usize,
        code: u16,
        reason: &str,
        headers: &[(&str, &str)],
        sdp: Option<&[u8]>,
        q: &mut Queues,
    ) {
        let inv = &self.invites[i];
        // the dialog-creating responses carry the INVITE's Record-Route (§12.1.1)
        let rr = inv.initial && code > 100 && code < 300;
        let bytes = self.response(&inv.request, inv.via_fix, code, reason, headers, sdp, rr);
        self.invites[i].respond(now, code, bytes, self.reliable, self.timers);
        self.drain_invite(i, q);
    }

    /// A response of ours to `req`, with the request's Record-Route when `rr`.
    #[allow(clippy::too_many_arguments)]
    fn response(
        &self,
        req: &Message,
        via_fix: Option<ViaFix>,
        code: u16,
        reason: &str,
        headers: &[(&str, &str)],
        sdp: Option<&[u8]>,
        rr: bool,
    ) -> Bytes {
        let mut b = ResponseBuilder::new(req, code, reason)
            .to_tag(&self.tag)
            .via_fix(via_fix);
        if rr {
            b = b.record_route();
        }
        if code > 100 && code < 300 {
            b = b.header("Contact", &self.contact);
        }
        if (200..300).contains(&code) {
            b = b.header("Allow", ALLOW);
        }
        for (name, value) in headers {
            b = b.header(name, value);
        }
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp);
        }
        b.build()
    }

    fn drain_invite(&mut self, i: usize, q: &mut Queues) {
        while let Some(b) = self.invites[i].poll_transmit() {
            q.reply(b);
        }
    }
}

fn drain_request(r: &mut AnsweredRequest, q: &mut Queues) {
    while let Some(o) = r.txn.poll_output() {
        if let txn::Output::Transmit(b) = o {
            q.reply(b);
        }
    }
}
