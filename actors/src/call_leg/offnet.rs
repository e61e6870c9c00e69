//! Requests leaving the switch: through a trunk (its number format, its silence timer, our
//! credentials when it challenges) or to a URI of another domain, and who may send them there
//! (no open relay).

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::proxy::{route, BranchSpec};
use switchboard_engine::routing::Step;
use switchboard_engine::sip::digest::Challenge;
use switchboard_engine::sip::{HeaderName, Method, Uri};
use switchboard_engine::trunk::TrunkId;
use switchboard_engine::txn::ServerKey;

use super::CallLeg;
use crate::clock::now;
use crate::metrics::TrunkLabel;
use crate::transport::{flow_for_uri, resolve};

impl CallLeg {
    /// Whether this request may leave the switch (a trunk, another domain): it comes from one
    /// of our subscribers, or one of them forwarded it, or it is trunk-to-trunk transit and
    /// the operator allowed that.
    pub(super) fn may_leave(&self, i: usize) -> bool {
        self.txns[i].setup.as_ref().is_some_and(|s| {
            s.caller.is_some()
                || !s.seq.history().is_empty()
                || (s.from_trunk && self.shared.config.calls.trunk_transit)
        })
    }

    /// Sends the request out through a trunk; the step that follows when it cannot.
    pub(super) fn send_to_trunk(
        &mut self,
        i: usize,
        id: TrunkId,
        request_uri: &str,
        authenticate: bool,
    ) -> Step {
        let t = now();
        let local = &self.shared.local;
        let trunks = &self.shared.trunks;
        let trunk = trunks.get(id);
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_mut() else {
            return Step::Wait;
        };
        let mut extra = s.seq.history_headers(&local.domain);
        if authenticate {
            let code = match x.ctx.challenge() {
                Some((HeaderName::ProxyAuthenticate, _)) => 407,
                _ => 401,
            };
            let answer = x.ctx.challenge().and_then(|(name, value)| {
                let creds = trunk.credentials.as_ref()?;
                let ch = Challenge::parse(value).ok()?;
                let cnonce = self.entropy.token(12);
                let header = if name == HeaderName::WwwAuthenticate {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                let method = x.ctx.request().method_str().unwrap_or("INVITE");
                let v = ch.answer(
                    method,
                    request_uri,
                    &creds.username,
                    &creds.password,
                    &cnonce,
                    // a fresh nonce per challenge, used once
                    1,
                );
                Some(format!("{header}: {v}\r\n"))
            });
            match answer {
                Some(line) => extra.push_str(&line),
                // a challenge we cannot read: as if our credentials were refused (the next
                // trunk, or 500); the caller never sees the trunk's challenge
                None => return s.seq.failed(code, trunks),
            }
        }
        s.trunk = Some(id);
        x.ctx.new_stage();
        let flow = switchboard_engine::flow::Flow {
            transport: trunk.transport,
            remote: trunk.remote,
            conn: None,
        };
        let spec = BranchSpec {
            request_uri: Some(request_uri),
            transport: trunk.transport,
            record_route: s.method == Method::Invite,
            pop_route: route::first_route_is_us(x.ctx.request(), local),
            extra_headers: &extra,
            no_response: Some(trunk.no_response),
            drop_history: s.drop_history(),
        };
        if x.ctx.add_branch(t, spec).is_some() {
            x.branches.push(flow);
            self.shared
                .metrics
                .trunk_attempts
                .get_or_create(&TrunkLabel {
                    trunk: trunk.name.clone(),
                    outcome: "sent",
                })
                .inc();
        }
        Step::Wait
    }

    /// Forwards to a URI of another domain.
    pub(super) fn external(&mut self, key: ServerKey, uri: String, ctx: &mut Context<Self>) {
        let direct = Uri::parse(&uri).ok().and_then(|u| flow_for_uri(&u));
        match direct {
            Some(flow) => {
                if let Some(i) = self.index_of(&key) {
                    self.send_external(i, &uri, flow);
                }
            }
            None => {
                ctx.spawn(
                    resolve(uri.clone())
                        .into_actor(self)
                        .map(move |dest, act, ctx| {
                            if let Some(i) = act.index_of(&key) {
                                match dest {
                                    Some(flow) => act.send_external(i, &uri, flow),
                                    None => act.txns[i].ctx.respond(
                                        now(),
                                        404,
                                        "Forwarding Target Not Resolvable",
                                        &[],
                                    ),
                                }
                            }
                            act.after(ctx);
                        }),
                );
            }
        }
    }

    pub(super) fn send_external(
        &mut self,
        i: usize,
        uri: &str,
        flow: switchboard_engine::flow::Flow,
    ) {
        let t = now();
        let local = &self.shared.local;
        let x = &mut self.txns[i];
        let Some(s) = x.setup.as_ref() else { return };
        let extra = s.seq.history_headers(&local.domain);
        x.ctx.new_stage();
        let spec = BranchSpec {
            request_uri: Some(uri),
            transport: flow.transport,
            record_route: s.method == Method::Invite,
            pop_route: route::first_route_is_us(x.ctx.request(), local),
            extra_headers: &extra,
            no_response: None,
            drop_history: s.drop_history(),
        };
        if x.ctx.add_branch(t, spec).is_some() {
            x.branches.push(flow);
        }
    }
}
