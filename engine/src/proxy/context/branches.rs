//! The branches of a response context: one client transaction per target the request was
//! forwarded to, its responses, its CANCEL and its Timer C (RFC 3261 §16.7, §16.8, §9.1).

use std::time::Instant;

use super::{Best, BranchId, ContextEvent, Output, ProxyContext};
use crate::sip::builder::cancel_for;
use crate::sip::{Forward, HeaderName, Message, Method};
use crate::txn::{self, ClientInvite, ClientKey, ClientNonInvite};

/// A branch's client transaction: INVITE or not, driven alike.
pub(super) enum Client {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

impl Client {
    pub(super) fn is_invite(&self) -> bool {
        matches!(self, Client::Invite(_))
    }

    pub(super) fn handle_response(&mut self, now: Instant, resp: Message) {
        let _ = match self {
            Client::Invite(c) => c.handle_response(now, resp),
            Client::NonInvite(c) => c.handle_response(now, resp),
        };
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Client::Invite(c) => c.handle_timeout(now),
            Client::NonInvite(c) => c.handle_timeout(now),
        }
    }

    pub(super) fn terminate(&mut self) {
        match self {
            Client::Invite(c) => c.terminate(),
            Client::NonInvite(c) => c.terminate(),
        }
    }

    pub(super) fn poll_output(&mut self) -> Option<txn::Output> {
        match self {
            Client::Invite(c) => c.poll_output(),
            Client::NonInvite(c) => c.poll_output(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Client::Invite(c) => c.poll_timeout(),
            Client::NonInvite(c) => c.poll_timeout(),
        }
    }

    pub(super) fn is_terminated(&self) -> bool {
        match self {
            Client::Invite(c) => c.is_terminated(),
            Client::NonInvite(c) => c.is_terminated(),
        }
    }
}

pub(super) struct Branch {
    pub(super) key: ClientKey,
    /// The key of its CANCEL's responses (an INVITE branch's only).
    pub(super) cancel_key: Option<ClientKey>,
    pub(super) client: Client,
    pub(super) cancel: Option<ClientNonInvite>,
    pub(super) cancel_wanted: bool,
    pub(super) final_code: Option<u16>,
    pub(super) got_provisional: bool,
    pub(super) timer_c: Option<Instant>,
    pub(super) ring_timed_out: bool,
}

impl ProxyContext {
    /// A response from downstream. Returns `false` when it matches no branch of this context.
    pub fn handle_response(&mut self, now: Instant, resp: Message) -> bool {
        let Some(key) = ClientKey::from_response(&resp) else {
            return false;
        };
        self.handle_response_to(now, &key, resp)
    }

    /// `handle_response` for an owner that found this context by the response's key
    /// (`ClientKey::from_response`), so it is not worked out twice.
    pub fn handle_response_to(&mut self, now: Instant, key: &ClientKey, resp: Message) -> bool {
        let Some(i) = self
            .branches
            .iter()
            .position(|b| &b.key == key || b.cancel_key.as_ref() == Some(key))
        else {
            return false;
        };
        if self.branches[i].cancel_key.as_ref() == Some(key) {
            if let Some(c) = &mut self.branches[i].cancel {
                let _ = c.handle_response(now, resp);
                while c.poll_output().is_some() {}
            }
        } else {
            self.branches[i].client.handle_response(now, resp);
            self.drain_branch(now, i);
        }
        self.maybe_finish(now);
        self.check_terminated();
        true
    }

    /// Whether a response with this key belongs to one of this context's branches.
    pub fn owns(&self, key: &ClientKey) -> bool {
        self.branches
            .iter()
            .any(|b| &b.key == key || b.cancel_key.as_ref() == Some(key))
    }

    /// The client transaction key of branch `id` (its responses carry it), for an owner
    /// that finds the context of a response by its branch.
    pub fn branch_key(&self, id: BranchId) -> Option<&ClientKey> {
        self.branches.get(id).map(|b| &b.key)
    }

    /// Ends a branch that never answered as if a 408 had come (§16.8).
    pub(super) fn give_up_branch(&mut self, i: BranchId) {
        let b = &mut self.branches[i];
        b.client.terminate();
        b.timer_c = None;
        b.final_code = Some(408);
        self.consider(Best::Local(408));
    }

    /// Moves a branch's transaction outputs to ours and acts on its events.
    pub(super) fn drain_branch(&mut self, now: Instant, i: BranchId) {
        let mut events = Vec::new();
        while let Some(o) = self.branches[i].client.poll_output() {
            match o {
                txn::Output::Transmit(bytes) => {
                    self.out.push_back(Output::Downstream { branch: i, bytes })
                }
                txn::Output::Event(e) => events.push(e),
            }
        }
        for e in events {
            match e {
                txn::Event::Response(r) => self.on_branch_response(now, i, r),
                txn::Event::Timeout => {
                    let b = &mut self.branches[i];
                    if b.final_code.is_none() {
                        b.final_code = Some(408);
                        self.consider(Best::Local(408));
                    }
                }
                txn::Event::Acked | txn::Event::Terminated => {}
            }
        }
    }

    pub(super) fn on_branch_response(&mut self, now: Instant, i: BranchId, r: Message) {
        let code = r.status().unwrap_or(500);
        let b = &mut self.branches[i];
        if code < 200 {
            b.got_provisional = true;
            if b.final_code.is_none() && self.method == Method::Invite {
                b.timer_c = Some(now + self.config.ring_timeout);
            }
            if b.cancel_wanted && b.cancel.is_none() {
                self.cancel_branch(now, i);
            }
            if code > 100 && !self.finished {
                let bytes = Forward::response().to_bytes(&r);
                self.server_respond(now, code, bytes);
                self.out
                    .push_back(Output::Event(ContextEvent::Provisional { branch: i, code }));
            }
            return;
        }
        let first_final = b.final_code.is_none();
        b.final_code = Some(code);
        b.timer_c = None;
        if (200..300).contains(&code) {
            if self.method != Method::Invite && (self.finished || !first_final) {
                return; // only one final per non-INVITE request
            }
            let bytes = Forward::response().to_bytes(&r);
            self.server_respond(now, code, bytes);
            self.out.push_back(Output::Event(ContextEvent::Answered {
                branch: i,
                response: r,
            }));
            if !self.finished {
                self.finished = true;
                self.emit_finished(code);
            }
            self.cancel_all(now);
            return;
        }
        if !first_final {
            return;
        }
        if code == 401 || code == 407 {
            let name = if code == 401 {
                HeaderName::WwwAuthenticate
            } else {
                HeaderName::ProxyAuthenticate
            };
            for v in r.header_lines(name) {
                self.challenges.push((name, v.to_owned()));
            }
        }
        if code >= 600 {
            self.cancel_all(now);
        }
        let b = &self.branches[i];
        let candidate = if b.ring_timed_out {
            Best::Local(480)
        } else {
            Best::Response(r)
        };
        self.consider(candidate);
    }

    /// CANCELs every branch still ringing.
    pub(super) fn cancel_all(&mut self, now: Instant) {
        if self.method != Method::Invite {
            return;
        }
        for i in 0..self.branches.len() {
            if self.branches[i].final_code.is_none() {
                self.cancel_branch(now, i);
            }
        }
    }

    /// CANCELs one branch, or marks it to be cancelled once it sends a provisional (§9.1).
    pub(super) fn cancel_branch(&mut self, now: Instant, i: BranchId) {
        let b = &mut self.branches[i];
        if b.cancel.is_some() || b.final_code.is_some() {
            return;
        }
        if !b.got_provisional {
            b.cancel_wanted = true;
            return;
        }
        let Client::Invite(c) = &b.client else { return };
        let cancel = Message::parse(cancel_for(c.request())).expect("generated CANCEL parses");
        let reliable = c.request().top_via().is_some_and(|v| v.is_reliable());
        let mut tx = ClientNonInvite::new(now, cancel, reliable, self.config.timers);
        while let Some(o) = tx.poll_output() {
            if let txn::Output::Transmit(bytes) = o {
                self.out.push_back(Output::Downstream { branch: i, bytes });
            }
        }
        b.cancel = Some(tx);
    }
}
