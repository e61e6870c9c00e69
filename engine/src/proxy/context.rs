//! The response context of a stateful proxy (RFC 3261 §16.5–§16.10).
//!
//! One `ProxyContext` owns the server transaction of a received request and a client
//! transaction per branch it forwards to. It forwards provisional responses upstream, sends
//! the first 2xx at once and CANCELs the other branches, holds non-2xx finals until every
//! branch has answered and then sends the best one (§16.7), answers and propagates CANCEL
//! (§16.10), and runs Timer C for INVITE branches (§16.6 step 11).
//!
//! Drive it like a transaction: `handle_*` with `now`, then drain `poll_output` and arm a
//! timer at `poll_timeout`. Upstream sends go to the flow the request came from; downstream
//! sends name the branch, whose address the owner chose in `add_branch`.
//!
//! Attempts in sequence (forwarding on busy or no answer, trunk failover): until the owner
//! seals the context, a set of branches that all failed is reported as
//! `ContextEvent::Exhausted` instead of answered; the owner then starts a `new_stage` and adds
//! the next branches, or seals, and the best answer of the last stage goes upstream.
//!
//! Invariant: exactly one final response per request goes upstream except further 2xx to an
//! INVITE (forked answers), and `ContextEvent::Terminated` is emitted once, last.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use self::branches::{Branch, Client};
use super::best;
use super::branch;
use super::local::Local;
use crate::entropy::Entropy;
use crate::flow::Transport;
use crate::sip::{Forward, HeaderName, Message, Method, ResponseBuilder, ViaFix};
use crate::txn::{self, ClientInvite, ClientKey, ClientNonInvite, ServerInvite, ServerNonInvite};

/// Index of a branch within its context.
pub type BranchId = usize;

/// Tunables of a response context.
#[derive(Debug, Clone, Copy)]
pub struct ContextConfig {
    pub timers: txn::Timers,
    /// Timer C: how long an INVITE branch may ring (reset by each provisional).
    pub ring_timeout: Duration,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            timers: txn::Timers::default(),
            ring_timeout: Duration::from_secs(180),
        }
    }
}

/// How to forward the request on one branch.
#[derive(Debug, Clone, Copy)]
pub struct BranchSpec<'a> {
    /// New Request-URI (a registered contact); `None` keeps the request's.
    pub request_uri: Option<&'a str>,
    /// Transport of the branch (Via, Record-Route and retransmission rules follow it).
    pub transport: Transport,
    /// The address the branch goes to: a dual-stack switch names itself in the Via and
    /// Record-Route by that address's family. `None`: the first address.
    pub remote: Option<IpAddr>,
    /// Insert Record-Route (dialog-creating requests).
    pub record_route: bool,
    /// Remove the first Route value, which names us.
    pub pop_route: bool,
    /// Header lines (each ending in CRLF) added to this branch's request: History-Info,
    /// Diversion, credentials for a trunk.
    pub extra_headers: &'a str,
    /// How long the branch may stay silent (no provisional, no final) before it counts as a
    /// 408; `None`: the ring timeout (Timer C) alone.
    pub no_response: Option<Duration>,
    /// Leave out the request's History-Info and Diversion (ours, if any, are in
    /// `extra_headers`).
    pub drop_history: bool,
    /// A body replacing the request's (content type, bytes): the offer pointed at the
    /// switch's media relay.
    pub body: Option<(&'a str, &'a [u8])>,
}

/// What the context asks its owner to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send to the requester.
    Upstream(Bytes),
    /// Send to a branch's destination.
    Downstream {
        branch: BranchId,
        bytes: Bytes,
    },
    Event(ContextEvent),
}

/// Call-level events.
#[derive(Debug, Clone)]
pub enum ContextEvent {
    /// A 180/183 came from a branch and went upstream.
    Provisional { branch: BranchId, code: u16 },
    /// A 2xx from a branch went upstream.
    Answered { branch: BranchId, response: Message },
    /// The first final response went upstream with this code.
    Finished { code: u16 },
    /// Every branch of the current stage ended without a 2xx, and the context is not
    /// sealed: add the next stage's branches (after `new_stage`) or `seal`. `code` is the
    /// stage's best.
    Exhausted { code: u16 },
    /// Every transaction of the context ended; nothing more will be emitted.
    Terminated,
}

/// The server transaction of the request: INVITE or not, driven alike.
enum Server {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl Server {
    fn handle_request(&mut self, now: Instant, req: &Message) {
        let _ = match self {
            Server::Invite(s) => s.handle_request(now, req),
            Server::NonInvite(s) => s.handle_request(now),
        };
    }

    fn respond(&mut self, now: Instant, code: u16, bytes: Bytes) {
        let _ = match self {
            Server::Invite(s) => s.respond(now, code, bytes),
            Server::NonInvite(s) => s.respond(now, code, bytes),
        };
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Server::Invite(s) => s.handle_timeout(now),
            Server::NonInvite(s) => s.handle_timeout(now),
        }
    }

    fn poll_output(&mut self) -> Option<txn::Output> {
        match self {
            Server::Invite(s) => s.poll_output(),
            Server::NonInvite(s) => s.poll_output(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Server::Invite(s) => s.poll_timeout(),
            Server::NonInvite(s) => s.poll_timeout(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Server::Invite(s) => s.is_terminated(),
            Server::NonInvite(s) => s.is_terminated(),
        }
    }
}

enum Best {
    Response(Message),
    Local(u16),
}

impl Best {
    fn code(&self) -> u16 {
        match self {
            Best::Response(m) => m.status().unwrap_or(500),
            Best::Local(c) => *c,
        }
    }
}

/// A stateful proxy response context.
pub struct ProxyContext {
    request: Message,
    method: Method,
    upstream: Transport,
    via_fix: Option<ViaFix>,
    local: Arc<Local>,
    entropy: Entropy,
    config: ContextConfig,
    server: Server,
    cancel_server: Option<ServerNonInvite>,
    branches: Vec<Branch>,
    best: Option<Best>,
    challenges: Vec<(HeaderName, String)>,
    finished: bool,
    final_code: Option<u16>,
    sealed: bool,
    /// The current stage was reported `Exhausted`.
    exhausted: bool,
    /// Index of the current stage's first branch.
    stage_start: usize,
    canceled: bool,
    terminated: bool,
    to_tag: String,
    out: VecDeque<Output>,
}

impl ProxyContext {
    /// Takes over a received request (already validated). An INVITE gets 100 Trying at once.
    pub fn new(
        now: Instant,
        request: Message,
        upstream: Transport,
        via_fix: Option<ViaFix>,
        local: Arc<Local>,
        mut entropy: Entropy,
        config: ContextConfig,
    ) -> ProxyContext {
        let method = request.method().unwrap_or(Method::Other);
        let reliable = upstream.is_reliable();
        let server = if method == Method::Invite {
            Server::Invite(ServerInvite::new(now, reliable, config.timers))
        } else {
            Server::NonInvite(ServerNonInvite::new(now, reliable, config.timers))
        };
        let to_tag = entropy.token(10);
        let mut ctx = ProxyContext {
            request,
            method,
            upstream,
            via_fix,
            local,
            entropy,
            config,
            server,
            cancel_server: None,
            branches: Vec::new(),
            best: None,
            challenges: Vec::new(),
            finished: false,
            final_code: None,
            sealed: false,
            exhausted: false,
            stage_start: 0,
            canceled: false,
            terminated: false,
            to_tag,
            out: VecDeque::new(),
        };
        if method == Method::Invite {
            let trying = ResponseBuilder::new(&ctx.request, 100, "Trying")
                .via_fix(via_fix)
                .build();
            ctx.server_respond(now, 100, trying);
        }
        ctx
    }

    /// The request as received.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The To tag this context uses for responses it generates itself.
    pub fn to_tag(&self) -> &str {
        &self.to_tag
    }

    /// Whether a final response went upstream.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The first final response that went upstream.
    pub fn final_code(&self) -> Option<u16> {
        self.final_code
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }

    /// Answers the request itself (404, 480, 407 with a challenge, ...). `extra` holds
    /// complete header lines, each ending in CRLF. A provisional code sends a provisional.
    pub fn respond(&mut self, now: Instant, code: u16, reason: &str, extra: &[(&str, &str)]) {
        if self.finished && code >= 200 {
            return;
        }
        let mut b = ResponseBuilder::new(&self.request, code, reason)
            .to_tag(&self.to_tag)
            .via_fix(self.via_fix);
        for (n, v) in extra {
            b = b.header(n, v);
        }
        let bytes = b.build();
        if code >= 200 {
            self.finished = true;
            self.sealed = true;
            self.cancel_all(now);
            self.emit_finished(code);
        }
        self.server_respond(now, code, bytes);
        self.check_terminated();
    }

    /// Sends a final response the owner built itself (the 2xx of a dialog the switch answers
    /// as a user agent, with its own Contact and body). Nothing else goes upstream after it.
    pub fn respond_with(&mut self, now: Instant, code: u16, bytes: Bytes) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.sealed = true;
        self.cancel_all(now);
        self.emit_finished(code);
        self.server_respond(now, code, bytes);
        self.check_terminated();
    }

    /// Sends a provisional response the owner built itself (a 183 carrying the switch's own
    /// early media, before it answers an error with [`Context::respond`] and the same To
    /// tag). Nothing goes once a final response went upstream, and a code outside 101-199
    /// is not sent.
    pub fn provisional_with(&mut self, now: Instant, code: u16, bytes: Bytes) {
        if self.finished || !(101..200).contains(&code) {
            return;
        }
        self.server_respond(now, code, bytes);
    }

    /// Forwards the request on a new branch and returns its id; `None` when a final response
    /// already went upstream (the caller cancelled, or the owner answered itself).
    pub fn add_branch(&mut self, now: Instant, spec: BranchSpec<'_>) -> Option<BranchId> {
        if self.finished {
            return None;
        }
        let id = self.branches.len();
        let branch_param = branch::generate(&mut self.entropy, &self.request, &self.local.realm);
        // toward each side, the address of its family (RFC 5118): the caller's from its source
        let up = self.via_fix.map(|f| f.source_ip);
        let via = self
            .local
            .via_to(spec.transport, spec.remote, &branch_param);
        // a request that makes no dialog (a MESSAGE) records no route: nothing to build
        let (rr_down, rr_up) = if spec.record_route {
            (
                self.local.record_route_to(spec.transport, spec.remote),
                self.local.record_route_to(self.upstream, up),
            )
        } else {
            (String::new(), String::new())
        };
        let family_changes = self.local.facing(spec.remote) != self.local.facing(up);
        let mut fwd = Forward::request()
            .push_via(&via)
            .fix_via(self.via_fix)
            .drop_credentials(&self.local.realm);
        if let Some(uri) = spec.request_uri {
            fwd = fwd.request_uri(uri);
        }
        if spec.pop_route {
            fwd = fwd.pop_route();
        }
        if !spec.extra_headers.is_empty() {
            fwd = fwd.extra_headers(spec.extra_headers);
        }
        if spec.drop_history {
            fwd = fwd.drop_history();
        }
        if let Some((content_type, body)) = spec.body {
            fwd = fwd.body(content_type, body);
        }
        if spec.record_route {
            // RFC 5658 double record-routing when the transport or the address family
            // changes: the top value faces the callee, the lower one the caller
            fwd = fwd.record_route(&rr_down);
            if spec.transport != self.upstream || family_changes {
                fwd = fwd.record_route(&rr_up);
            }
        }
        let bytes = fwd.to_bytes(&self.request);
        // the forwarded request is built from a validated one, so it parses
        let forwarded = Message::parse(bytes).expect("forwarded request parses");
        let method_str = self.request.method_str().unwrap_or("INVITE");
        let key = ClientKey::new(&branch_param, method_str);
        // only an INVITE branch is ever cancelled (§9.1)
        let cancel_key =
            (self.method == Method::Invite).then(|| ClientKey::new(&branch_param, "CANCEL"));
        let reliable = spec.transport.is_reliable();
        let client = if self.method == Method::Invite {
            Client::Invite(ClientInvite::new(
                now,
                forwarded,
                reliable,
                self.config.timers,
            ))
        } else {
            Client::NonInvite(ClientNonInvite::new(
                now,
                forwarded,
                reliable,
                self.config.timers,
            ))
        };
        let timer_c = match spec.no_response {
            Some(d) => Some(now + d.min(self.config.ring_timeout)),
            None => (self.method == Method::Invite).then(|| now + self.config.ring_timeout),
        };
        self.branches.push(Branch {
            key,
            cancel_key,
            client,
            cancel: None,
            cancel_wanted: false,
            final_code: None,
            got_provisional: false,
            timer_c,
            ring_timed_out: false,
        });
        self.drain_branch(now, id);
        Some(id)
    }

    /// No more branches will be added: once they have all answered, the best final goes
    /// upstream. With no branches at all the caller gets 480.
    pub fn seal(&mut self, now: Instant) {
        self.sealed = true;
        if self.branches.is_empty() && !self.finished {
            self.respond(now, 480, "Temporarily Unavailable", &[]);
        }
        self.maybe_finish(now);
    }

    /// Starts the next stage of attempts after `Exhausted`: the best answer so far is
    /// forgotten, so the caller hears how the new attempts end.
    pub fn new_stage(&mut self) {
        self.best = None;
        self.challenges.clear();
        self.exhausted = false;
        self.stage_start = self.branches.len();
    }

    /// CANCELs every branch still ringing, without answering upstream (no-answer forwarding:
    /// the branches end with 487 and the stage is reported `Exhausted`). A branch that never
    /// sent a provisional cannot be cancelled yet (§9.1); it ends at once as a 408, as Timer C
    /// would end it (§16.8), so the next stage does not wait for Timer B.
    pub fn cancel_pending(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        for i in 0..self.branches.len() {
            if self.branches[i].final_code.is_some() {
                continue;
            }
            if self.branches[i].got_provisional {
                self.cancel_branch(now, i);
            } else {
                self.give_up_branch(i);
            }
        }
        self.maybe_finish(now);
        self.check_terminated();
    }

    /// Whether the current stage has no branch at all (nothing could be forked).
    pub fn stage_is_empty(&self) -> bool {
        self.branches.len() == self.stage_start
    }

    /// The first challenge (WWW- or Proxy-Authenticate) of the current stage's 401/407s.
    pub fn challenge(&self) -> Option<(HeaderName, &str)> {
        self.challenges.first().map(|(n, v)| (*n, v.as_str()))
    }

    /// A request matching the server transaction: a retransmission or the ACK for a non-2xx.
    pub fn handle_request(&mut self, now: Instant, req: &Message) {
        self.server.handle_request(now, req);
        self.drain_server();
        self.check_terminated();
    }

    /// A CANCEL for this (INVITE) request: answered with 200, and every pending branch is
    /// cancelled (§16.10). Retransmitted CANCELs get the same 200.
    pub fn handle_cancel(&mut self, now: Instant, cancel: &Message) {
        let first = self.cancel_server.is_none();
        let server = self.cancel_server.get_or_insert_with(|| {
            ServerNonInvite::new(now, self.upstream.is_reliable(), self.config.timers)
        });
        if first {
            let ok = ResponseBuilder::new(cancel, 200, "OK")
                .to_tag(&self.to_tag)
                .via_fix(self.via_fix)
                .build();
            let _ = server.respond(now, 200, ok);
        } else {
            let _ = server.handle_request(now);
        }
        while let Some(o) = server.poll_output() {
            if let txn::Output::Transmit(b) = o {
                self.out.push_back(Output::Upstream(b));
            }
        }
        if first && !self.finished {
            self.canceled = true;
            // the caller gave up: no further stage starts
            self.sealed = true;
            self.cancel_all(now);
            if self.branches.iter().all(|b| b.final_code.is_some()) {
                // cancelled before any branch was forked, or between two stages of a
                // sequence: nothing will answer 487 for us
                self.respond(now, 487, "Request Terminated", &[]);
            }
        }
        self.maybe_finish(now);
        self.check_terminated();
    }

    /// Whether the caller cancelled the request.
    pub fn is_canceled(&self) -> bool {
        self.canceled
    }

    /// Fires whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
        self.drain_server();
        if let Some(s) = &mut self.cancel_server {
            s.handle_timeout(now);
            while s.poll_output().is_some() {}
        }
        for i in 0..self.branches.len() {
            let b = &mut self.branches[i];
            b.client.handle_timeout(now);
            if let Some(c) = &mut b.cancel {
                c.handle_timeout(now);
                while let Some(o) = c.poll_output() {
                    if let txn::Output::Transmit(bytes) = o {
                        self.out.push_back(Output::Downstream { branch: i, bytes });
                    }
                }
            }
            let b = &mut self.branches[i];
            if b.timer_c.is_some_and(|t| t <= now) {
                b.timer_c = None;
                if b.final_code.is_none() {
                    b.ring_timed_out = true;
                    if b.got_provisional && b.client.is_invite() {
                        self.cancel_branch(now, i);
                    } else {
                        // §16.8: no provisional yet, so behave as if a 408 arrived
                        self.give_up_branch(i);
                    }
                }
            }
            self.drain_branch(now, i);
        }
        self.maybe_finish(now);
        self.check_terminated();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.server.poll_timeout();
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |x| x.min(d)));
            }
        };
        consider(self.cancel_server.as_ref().and_then(|s| s.poll_timeout()));
        for b in &self.branches {
            consider(b.client.poll_timeout());
            consider(b.cancel.as_ref().and_then(|c| c.poll_timeout()));
            consider(b.timer_c);
        }
        t
    }

    fn server_respond(&mut self, now: Instant, code: u16, bytes: Bytes) {
        self.server.respond(now, code, bytes);
        self.drain_server();
    }

    fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            if let txn::Output::Transmit(b) = o {
                self.out.push_back(Output::Upstream(b));
            }
        }
    }
}

mod branches;
mod finish;
#[cfg(test)]
mod tests;
