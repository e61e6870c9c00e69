//! Requests inside a dialog the switch record-routed (re-INVITE, BYE, UPDATE, INFO, REFER,
//! NOTIFY, ...): relayed along their Route set (RFC 3261 §16.12), and where a registered
//! contact is reached.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::flow::Flow;
use switchboard_engine::proxy::{route, BranchSpec};
use switchboard_engine::sip::{reason_phrase, Message as SipMessage, Uri};

use super::CallLeg;
use crate::clock::now;
use crate::transport::{flow_for_uri, resolve};

impl CallLeg {
    /// A request inside a dialog: relayed along its Route set (§16.12).
    pub(super) fn in_dialog(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        let i = self.new_txn(msg, flow, false);
        let req = self.txns[i].ctx.request().clone();
        if self.refused_hop(i, &req) {
            return;
        }
        let Some(hop) = route::next_hop(&req, &self.shared.local) else {
            return;
        };
        if !hop.pop_route {
            // not routed through us: we are not part of this dialog
            return self.txns[i].ctx.respond(t, 481, reason_phrase(481), &[]);
        }
        if self.txns[i].bye {
            self.end_call();
        }
        match Uri::parse(&hop.uri).ok().and_then(|u| flow_for_uri(&u)) {
            Some(dest) => self.relay(i, dest),
            None => {
                let key = self.txns[i].key.clone();
                ctx.spawn(
                    resolve(hop.uri)
                        .into_actor(self)
                        .map(move |dest, act, ctx| {
                            if let Some(i) = act.index_of(&key) {
                                match dest {
                                    Some(d) => act.relay(i, d),
                                    None => act.txns[i].ctx.respond(
                                        now(),
                                        404,
                                        "Next Hop Not Resolvable",
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

    fn relay(&mut self, i: usize, dest: Flow) {
        let t = now();
        let x = &mut self.txns[i];
        let spec = BranchSpec {
            request_uri: None,
            transport: dest.transport,
            record_route: false,
            pop_route: true,
            extra_headers: "",
            no_response: None,
            drop_history: false,
        };
        if x.ctx.add_branch(t, spec).is_some() {
            x.branches.push(dest);
        }
        x.ctx.seal(t);
    }
}
