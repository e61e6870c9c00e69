//! One transaction of the call being proxied (RFC 3261 §16): the proxy response context of a
//! received request, where its responses go back (the flow it came from, §18.2.2, with its
//! top Via's received/rport fix, RFC 3581), where each of its branches goes, and, outside any
//! dialog, how it is being routed (`Setup`).
//!
//! Besides holding them, it runs the §16.3 checks and adds the branches a routing step asks
//! for: the registered devices of a subscriber (a fork), a trunk (with our credentials once
//! it challenged, §22.2, §22.3), a URI of another domain, or the next hop of an in-dialog
//! request's Route set (§16.12). Time comes in as `now`; nothing is sent from here: the context queues
//! it and `drain` hands each send to the caller with its flow, and reports what the leg acts
//! on.
//!
//! Guarantees: a branch's flow is kept exactly when the context took the branch, so branch
//! ids and flows stay in step; a request that fails the §16.3 checks is answered, never
//! forwarded.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::{Flow, Transport};
use switchboard_engine::proxy::{
    route, BranchSpec, ContextConfig, ContextEvent, Local, Output, ProxyContext,
};
use switchboard_engine::registrar;
use switchboard_engine::routing::Step;
use switchboard_engine::sip::digest::{answer_challenge, Challenge};
use switchboard_engine::sip::validate::required_extensions;
use switchboard_engine::sip::{
    reason_phrase, HeaderName, Message as SipMessage, Method, Scheme, ViaFix,
};
use switchboard_engine::store::BindingRecord;
use switchboard_engine::trunk::{Trunk, TrunkId, Trunks};
use switchboard_engine::txn::ServerKey;

use super::setup::Setup;
use crate::transport::{flow_for_binding, response_flow, via_fix};

/// One transaction of the call.
pub(super) struct Txn {
    pub(super) key: ServerKey,
    pub(super) ctx: ProxyContext,
    upstream: Flow,
    via_fix: Option<ViaFix>,
    /// Where each branch goes, in branch order.
    branches: Vec<Flow>,
    initial: bool,
    bye: bool,
    /// How a request outside any dialog is being routed (none for in-dialog relays).
    pub(super) setup: Option<Box<Setup>>,
    /// The SDP its branches carry instead of the request's (pointed at the media relay).
    sdp: Option<String>,
}

/// What a transaction's context reported that the leg acts on.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Report {
    /// A 2xx went upstream: `initial` for the call's INVITE, `routed` while a sequence
    /// routes the request.
    Answered { initial: bool, routed: bool },
    /// Every branch of the current stage failed; `code` is the stage's best.
    Exhausted(u16),
    /// The final response went upstream: `initial` for the call's INVITE, `bye` for a BYE,
    /// `canceled` when the caller hung up first, `version` the plugin version routing it.
    Finished {
        code: u16,
        initial: bool,
        bye: bool,
        canceled: bool,
        version: Option<u64>,
    },
}

/// An attempt through a trunk, as the routing sequence asked for it.
pub(super) struct TrunkStep<'a> {
    pub(super) id: TrunkId,
    /// The Request-URI in the trunk's number format.
    pub(super) request_uri: &'a str,
    /// Answer the trunk's challenge with its credentials.
    pub(super) authenticate: bool,
}

/// What became of an attempt through a trunk.
pub(super) enum TrunkAttempt {
    /// The request is on its way to the trunk.
    Sent,
    /// Nothing went out: the request was answered already, or is not being routed.
    Nothing,
    /// The trunk's challenge cannot be answered: as if our credentials were refused, the
    /// sequence's next step.
    Failed(Step),
}

impl Txn {
    /// Takes over request `msg` (validated) received on `flow`; `initial`: the call's INVITE.
    pub(super) fn new(
        now: Instant,
        msg: SipMessage,
        flow: Flow,
        initial: bool,
        local: Arc<Local>,
        entropy: Entropy,
        config: ContextConfig,
    ) -> Txn {
        let key = ServerKey::from_request(&msg).expect("validated requests have a Via");
        let upstream = response_flow(&msg, &flow);
        let bye = msg.method() == Some(Method::Bye);
        let fix = via_fix(&flow);
        let ctx = ProxyContext::new(now, msg, flow.transport, fix, local, entropy, config);
        Txn {
            key,
            ctx,
            upstream,
            via_fix: fix,
            branches: Vec::new(),
            initial,
            bye,
            setup: None,
            sdp: None,
        }
    }

    /// The branches added from now on carry `sdp` instead of the request's body.
    pub(super) fn replace_sdp(&mut self, sdp: String) {
        self.sdp = Some(sdp);
    }

    /// Where responses to the request go.
    pub(super) fn upstream(&self) -> Flow {
        self.upstream
    }

    /// The received/rport fix of the request's top Via.
    pub(super) fn via_fix(&self) -> Option<ViaFix> {
        self.via_fix
    }

    /// The call's INVITE (not one relayed inside its dialog).
    pub(super) fn is_initial(&self) -> bool {
        self.initial
    }

    pub(super) fn is_bye(&self) -> bool {
        self.bye
    }

    /// The checks every proxied request passes (§16.3): Max-Forwards left, and no
    /// Proxy-Require extension we lack. `true` when the request was answered instead.
    pub(super) fn refused_hop(&mut self, now: Instant) -> bool {
        let req = self.ctx.request();
        let refusal = if req.max_forwards() == Some(0) {
            Some((483, None))
        } else {
            required_extensions(req, HeaderName::ProxyRequire).map(|tags| (420, Some(tags)))
        };
        match refusal {
            Some((code, None)) => self.ctx.respond(now, code, reason_phrase(code), &[]),
            Some((code, Some(tags))) => {
                self.ctx
                    .respond(now, code, reason_phrase(code), &[("Unsupported", &tags)])
            }
            None => return false,
        }
        true
    }

    /// The earliest deadline of the context and of the routing sequence.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let setup = self.setup.as_ref().and_then(|s| s.poll_timeout());
        [self.ctx.poll_timeout(), setup].into_iter().flatten().min()
    }

    /// Hands each send of the context to `send` with its flow and adds what the leg acts on
    /// to `reports`; `true` once the context is terminated (nothing more will come).
    pub(super) fn drain(
        &mut self,
        send: &mut impl FnMut(&Flow, Bytes),
        reports: &mut Vec<(ServerKey, Report)>,
    ) -> bool {
        let mut terminated = false;
        while let Some(o) = self.ctx.poll_output() {
            match o {
                Output::Upstream(b) => send(&self.upstream, b),
                Output::Downstream { branch, bytes } => {
                    if let Some(f) = self.branches.get(branch) {
                        send(f, bytes);
                    }
                }
                Output::Event(ContextEvent::Answered { .. }) => {
                    let routed = self.setup.is_some();
                    if self.initial || routed {
                        let initial = self.initial;
                        reports.push((self.key.clone(), Report::Answered { initial, routed }));
                    }
                }
                Output::Event(ContextEvent::Exhausted { code }) => {
                    reports.push((self.key.clone(), Report::Exhausted(code)));
                }
                Output::Event(ContextEvent::Finished { code }) => {
                    let finished = Report::Finished {
                        code,
                        initial: self.initial,
                        bye: self.bye,
                        canceled: self.ctx.is_canceled(),
                        version: self.setup.as_ref().map(|s| s.version()),
                    };
                    reports.push((self.key.clone(), finished));
                }
                Output::Event(ContextEvent::Terminated) => terminated = true,
                Output::Event(ContextEvent::Provisional { .. }) => {}
            }
        }
        terminated
    }

    /// Every branch of the current attempt failed with best `code`: the routing sequence's
    /// next step (a trunk that calls our credentials' nonce stale, RFC 2617 §3.2.1, is
    /// answered once more); a request not being routed is sealed, and its best answer goes
    /// upstream.
    pub(super) fn exhausted(&mut self, now: Instant, code: u16, trunks: &Trunks) -> Step {
        let Some(s) = self.setup.as_mut() else {
            self.ctx.seal(now);
            return Step::Wait;
        };
        let stale = (code == 401 || code == 407)
            && self
                .ctx
                .challenge()
                .and_then(|(_, v)| Challenge::parse(v).ok())
                .is_some_and(|c| c.stale);
        s.failed(code, stale, trunks)
    }

    /// Rings every device registered (at Unix time `unix`) to the subscriber just located;
    /// when none can be rung after all (a binding expired meanwhile), the subscriber is
    /// unreachable and the sequence's next step says what follows.
    pub(super) fn fork(&mut self, now: Instant, local: &Local, unix: u64) -> Step {
        let Some(s) = self.setup.as_mut() else {
            return Step::Wait;
        };
        let Some((_, located)) = s.location() else {
            return Step::Wait;
        };
        let headers = s.history_headers(&local.domain);
        self.ctx.new_stage();
        let devices = Devices {
            bindings: &located.bindings,
            unix,
            headers: &headers,
            drop_history: s.drop_history(),
            record_route: s.is_call(),
            body: self
                .sdp
                .as_deref()
                .map(|b| ("application/sdp", b.as_bytes())),
        };
        let flows = fork_devices(&mut self.ctx, now, local, devices);
        self.branches.extend(flows);
        if self.ctx.stage_is_empty() && !self.ctx.is_finished() {
            let account = located.account;
            return s.located(now, account, 0);
        }
        Step::Wait
    }

    /// Sends the request out through the trunk of `attempt` (its credentials answer the
    /// trunk's challenge with a fresh cnonce from `entropy` when asked to).
    pub(super) fn branch_to_trunk(
        &mut self,
        now: Instant,
        local: &Local,
        trunks: &Trunks,
        attempt: TrunkStep<'_>,
        entropy: &mut Entropy,
    ) -> TrunkAttempt {
        let TrunkStep {
            id,
            request_uri,
            authenticate,
        } = attempt;
        let Some(s) = self.setup.as_mut() else {
            return TrunkAttempt::Nothing;
        };
        let trunk = trunks.get(id);
        let mut extra = s.history_headers(&local.domain);
        if authenticate {
            let code = match self.ctx.challenge() {
                Some((HeaderName::ProxyAuthenticate, _)) => 407,
                _ => 401,
            };
            // a challenge we cannot read: as if our credentials were refused (the next
            // trunk, or 500); the caller never sees the trunk's challenge
            let Some(line) = credentials(&self.ctx, trunk, request_uri, entropy) else {
                return TrunkAttempt::Failed(s.failed(code, false, trunks));
            };
            extra.push_str(&line);
        }
        s.set_trunk(id);
        self.ctx.new_stage();
        let flow = Flow {
            transport: trunk.transport,
            remote: trunk.remote,
            conn: None,
        };
        let spec = BranchSpec {
            request_uri: Some(request_uri),
            transport: trunk.transport,
            remote: Some(trunk.remote.ip()),
            record_route: s.is_call(),
            pop_route: route::first_route_is_us(self.ctx.request(), local),
            extra_headers: &extra,
            no_response: Some(trunk.no_response),
            drop_history: s.drop_history(),
            body: self
                .sdp
                .as_deref()
                .map(|b| ("application/sdp", b.as_bytes())),
        };
        if self.ctx.add_branch(now, spec).is_none() {
            return TrunkAttempt::Nothing;
        }
        self.branches.push(flow);
        TrunkAttempt::Sent
    }

    /// Forwards the request to `uri` of another domain, reached through `flow`.
    pub(super) fn branch_to_external(
        &mut self,
        now: Instant,
        local: &Local,
        uri: &str,
        flow: Flow,
    ) {
        let Some(s) = self.setup.as_ref() else { return };
        let extra = s.history_headers(&local.domain);
        self.ctx.new_stage();
        let spec = BranchSpec {
            request_uri: Some(uri),
            transport: flow.transport,
            remote: Some(flow.remote.ip()),
            record_route: s.is_call(),
            pop_route: route::first_route_is_us(self.ctx.request(), local),
            extra_headers: &extra,
            no_response: None,
            drop_history: s.drop_history(),
            body: self
                .sdp
                .as_deref()
                .map(|b| ("application/sdp", b.as_bytes())),
        };
        if self.ctx.add_branch(now, spec).is_some() {
            self.branches.push(flow);
        }
    }

    /// Relays an in-dialog request to the next hop of its Route set, reached through `dest`
    /// (§16.12): one branch, and the context is sealed.
    pub(super) fn relay(&mut self, now: Instant, dest: Flow) {
        let spec = BranchSpec {
            request_uri: None,
            transport: dest.transport,
            remote: Some(dest.remote.ip()),
            record_route: false,
            pop_route: true,
            extra_headers: "",
            no_response: None,
            drop_history: false,
            body: self
                .sdp
                .as_deref()
                .map(|b| ("application/sdp", b.as_bytes())),
        };
        if self.ctx.add_branch(now, spec).is_some() {
            self.branches.push(dest);
        }
        self.ctx.seal(now);
    }
}

/// The devices a fork rings and how their branches are built.
pub(crate) struct Devices<'a> {
    /// The subscriber's bindings (expired ones are skipped).
    pub(crate) bindings: &'a [BindingRecord],
    /// Unix time now, for the bindings' expiry.
    pub(crate) unix: u64,
    /// Header lines every branch gets (History-Info, Diversion, P-Asserted-Identity).
    pub(crate) headers: &'a str,
    pub(crate) drop_history: bool,
    /// Insert Record-Route (calls).
    pub(crate) record_route: bool,
    /// A body replacing the request's (the relay's SDP offer).
    pub(crate) body: Option<(&'a str, &'a [u8])>,
}

/// Adds to `ctx` a branch per device registered now, in `registrar::targets` order (a
/// `sips:` request reaches only devices registered over TLS, RFC 3261 §26.2.2, RFC 5630
/// §3.1.3); the flow of each branch added, in branch order.
pub(crate) fn fork_devices(
    ctx: &mut ProxyContext,
    now: Instant,
    local: &Local,
    d: Devices<'_>,
) -> Vec<Flow> {
    let pop_route = route::first_route_is_us(ctx.request(), local);
    let secure = ctx
        .request()
        .request_uri()
        .is_some_and(|u| u.scheme() == Scheme::Sips);
    let mut flows = Vec::new();
    for b in registrar::targets(d.bindings, d.unix) {
        let flow = flow_for_binding(b);
        if secure && flow.transport != Transport::Tls {
            continue;
        }
        let spec = BranchSpec {
            request_uri: Some(&b.uri),
            transport: flow.transport,
            remote: Some(flow.remote.ip()),
            record_route: d.record_route,
            pop_route,
            extra_headers: d.headers,
            no_response: None,
            drop_history: d.drop_history,
            body: d.body,
        };
        if ctx.add_branch(now, spec).is_some() {
            flows.push(flow);
        }
    }
    flows
}

/// The header line that answers the challenge in `ctx` with `trunk`'s credentials (RFC 3261
/// §22.2, §22.3), if it has credentials and the challenge can be read.
fn credentials(
    ctx: &ProxyContext,
    trunk: &Trunk,
    request_uri: &str,
    entropy: &mut Entropy,
) -> Option<String> {
    let (name, value) = ctx.challenge()?;
    let creds = trunk.credentials.as_ref()?;
    let method = ctx.request().method_str().unwrap_or("INVITE");
    let (header, v) = answer_challenge(
        name,
        value,
        method,
        request_uri,
        &creds.username,
        &creds.password,
        &entropy.token(12),
    )?;
    Some(format!("{header}: {v}\r\n"))
}
