//! Where a routed request goes (RFC 3261 §16.6, forwarding on a branch): every registered
//! device of a subscriber (a fork), a trunk (its number format, its silence timer, our
//! credentials when it challenges), or a URI of another domain, resolved first when it names
//! a host; and who may send a request off the switch at all (no open relay).
//!
//! The transaction builds each branch (`txn.rs`); this file supplies what only the actor has:
//! the configuration, the call's entropy, the trunk counters and the spawned resolution.
//!
//! Guarantees: nothing leaves the switch through a trunk or to another domain unless it
//! comes from one of our subscribers, was forwarded by one, or is transit the operator
//! allowed.

use std::net::IpAddr;

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::flow::Flow;
use switchboard_engine::registrar;
use switchboard_engine::routing::Step;
use switchboard_engine::sip::Uri;
use switchboard_engine::trunk::TrunkId;
use switchboard_engine::txn::ServerKey;

use super::txn::{TrunkAttempt, TrunkStep};
use super::CallLeg;
use crate::clock::{now, unix_now};
use crate::metrics::TrunkLabel;
use crate::transport::{flow_for_binding, flow_for_uri, resolve};

impl CallLeg {
    /// Rings every registered device of the subscriber just located; the sequence's next
    /// step when none can be rung after all.
    pub(super) fn fork(&mut self, i: usize) -> Step {
        let unix = unix_now();
        // each device's contact host against where it registered from: NAT shows there;
        // and the flow its branch goes out on (TLS or not, IPv4 or IPv6)
        let (callees, flows) = self.txns[i]
            .setup
            .as_ref()
            .and_then(|s| s.location())
            .map(|(_, located)| {
                let targets = registrar::targets(&located.bindings, unix);
                let callees = targets
                    .iter()
                    .filter_map(|b| {
                        let uri = Uri::parse(&b.uri).ok()?;
                        let host: IpAddr = uri.host().trim_matches(['[', ']']).parse().ok()?;
                        Some((host, b.source.ip()))
                    })
                    .collect();
                let flows: Vec<Flow> = targets.into_iter().map(flow_for_binding).collect();
                (callees, flows)
            })
            .unwrap_or_default();
        self.anchor_branches(i, callees, &flows);
        self.txns[i].fork(now(), &self.shared.local, unix)
    }

    /// Whether the request of transaction `i` may leave the switch (a trunk, another
    /// domain).
    pub(super) fn may_leave(&self, i: usize) -> bool {
        let transit = self.shared.config.calls.trunk_transit;
        self.txns[i]
            .setup
            .as_ref()
            .is_some_and(|s| s.may_leave(transit))
    }

    /// Sends the request out through a trunk; the step that follows when it cannot.
    pub(super) fn send_to_trunk(
        &mut self,
        i: usize,
        id: TrunkId,
        request_uri: &str,
        authenticate: bool,
    ) -> Step {
        self.anchor_branches(i, Vec::new(), &[]);
        let attempt = TrunkStep {
            id,
            request_uri,
            authenticate,
        };
        let trunks = &self.shared.trunks;
        let sent = self.txns[i].branch_to_trunk(
            now(),
            &self.shared.local,
            trunks,
            attempt,
            &mut self.entropy,
        );
        match sent {
            TrunkAttempt::Sent => {
                let name = trunks.get(id).name.clone();
                self.shared
                    .metrics
                    .trunk_attempts
                    .get_or_create(&TrunkLabel {
                        trunk: name.clone(),
                        outcome: "sent",
                    })
                    .inc();
                self.record_trunk(&name);
                Step::Wait
            }
            TrunkAttempt::Nothing => Step::Wait,
            TrunkAttempt::Failed(step) => step,
        }
    }

    /// Forwards to a URI of another domain.
    pub(super) fn external(&mut self, key: ServerKey, uri: String, ctx: &mut Context<Self>) {
        let direct = Uri::parse(&uri).ok().and_then(|u| flow_for_uri(&u));
        match direct {
            Some(flow) => {
                if let Some(i) = self.txns.index_of(&key) {
                    self.send_external(i, &uri, flow);
                }
            }
            None => {
                ctx.spawn(
                    resolve(uri.clone())
                        .into_actor(self)
                        .map(move |dest, act, ctx| {
                            if let Some(i) = act.txns.index_of(&key) {
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

    fn send_external(&mut self, i: usize, uri: &str, flow: Flow) {
        self.anchor_branches(i, Vec::new(), &[]);
        self.txns[i].branch_to_external(now(), &self.shared.local, uri, flow);
    }
}
