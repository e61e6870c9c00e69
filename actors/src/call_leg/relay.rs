//! Requests inside a dialog the switch record-routed (re-INVITE, BYE, UPDATE, INFO, REFER,
//! NOTIFY, ...): relayed along their Route set (RFC 3261 §16.12) to the next hop, resolved
//! first when it is a name.
//!
//! Guarantees: a request whose Route set does not name us is refused with 481 (we are not
//! part of that dialog); a BYE ends the call for its parties' presence as it passes, and goes
//! on only once the call's record is durable (`crate::cdr`: within the commit interval plus
//! one fsync), so no phone sees a call end whose record a crash could still lose.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::flow::Flow;
use switchboard_engine::proxy::route;
use switchboard_engine::sip::{reason_phrase, Message as SipMessage, Uri};

use super::CallLeg;
use crate::clock::now;
use crate::transport::{flow_for_uri, resolve};

impl CallLeg {
    /// A request inside a dialog: relayed along its Route set (§16.12).
    pub(super) fn in_dialog(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        let i = self.new_txn(msg, flow, false);
        if self.txns[i].refused_hop(t) {
            return;
        }
        let Some(hop) = route::next_hop(self.txns[i].ctx.request(), &self.shared.local) else {
            return;
        };
        if !hop.pop_route {
            // not routed through us: we are not part of this dialog
            return self.txns[i].ctx.respond(t, 481, reason_phrase(481), &[]);
        }
        if let Some((d, ..)) = self.dialog.as_mut() {
            d.saw_request(self.txns[i].ctx.request());
        }
        if self.anchor_in_dialog(i) {
            return;
        }
        if self.txns[i].is_bye() {
            let by = match (
                self.txns[i].ctx.request().from_tag(),
                self.call.caller_tag(),
            ) {
                (Some(f), Some(c)) if f == c => "hung up by the caller",
                _ => "hung up by the callee",
            };
            let written = self.record_written();
            self.end_call(by);
            // the BYE goes on once the call's record is durable: the phones see the call end
            // (the 200 to their BYE) only when its record would survive a crash
            if !written && self.record_written() {
                if let Some(durable) = self.shared.cdrs.durable() {
                    let key = self.txns[i].key.clone();
                    ctx.spawn(
                        async move {
                            let _ = durable.await;
                        }
                        .into_actor(self)
                        .map(move |(), act, ctx| {
                            if let Some(i) = act.txns.index_of(&key) {
                                act.relay_to(i, hop.uri, ctx);
                            }
                            act.after(ctx);
                        }),
                    );
                    return;
                }
            }
        }
        self.relay_to(i, hop.uri, ctx);
    }

    /// Relays transaction `i`'s request to `uri` (the next hop), resolved first when it is a
    /// name.
    fn relay_to(&mut self, i: usize, uri: String, ctx: &mut Context<Self>) {
        match Uri::parse(&uri).ok().and_then(|u| flow_for_uri(&u)) {
            Some(dest) => self.txns[i].relay(now(), dest),
            None => {
                let key = self.txns[i].key.clone();
                ctx.spawn(resolve(uri).into_actor(self).map(move |dest, act, ctx| {
                    if let Some(i) = act.txns.index_of(&key) {
                        match dest {
                            Some(d) => act.txns[i].relay(now(), d),
                            None => {
                                act.txns[i]
                                    .ctx
                                    .respond(now(), 404, "Next Hop Not Resolvable", &[])
                            }
                        }
                    }
                    act.after(ctx);
                }));
            }
        }
    }
}
