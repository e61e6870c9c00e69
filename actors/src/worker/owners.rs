//! The actors that own a Call-ID on this worker: started for a new request (a CallLeg, a
//! Subscription) or adopted (a Delivery's fresh Call-ID), and filed so every later message
//! of the Call-ID reaches them.

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message};
use switchboard_engine::flow::Flow;
use switchboard_engine::sip::Message as SipMessage;

use super::{LegEntry, Worker};
use crate::call_leg::{FromNetwork, StopLeg};

impl Worker {
    /// Starts the actor that owns the Call-ID of `m` from now on (a CallLeg, a
    /// Subscription), hands it `m` and files it under the Call-ID.
    pub(super) fn start_owner<A>(
        &mut self,
        m: SipMessage,
        flow: Flow,
        ctx: &mut Context<Self>,
        start: impl FnOnce(&Self, u64, Box<str>, Addr<Worker>, u64) -> Addr<A>,
    ) where
        A: Actor<Context = Context<A>> + Handler<FromNetwork> + Handler<StopLeg>,
    {
        let call_id: Box<str> = m.call_id().unwrap_or("").into();
        let id = self.next_leg;
        self.next_leg += 1;
        let seed = self.entropy.next_u64();
        let owner = start(self, id, call_id.clone(), ctx.address(), seed);
        owner.do_send(FromNetwork { msg: m, flow });
        self.calls.insert(call_id, LegEntry::of(id, owner, 1));
    }
}

/// Routes the answers to requests with `call_id` (one this worker owns) to a Delivery.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Adopt {
    pub call_id: Box<str>,
    pub id: u64,
    pub addr: Addr<crate::delivery::Delivery>,
}

impl Handler<Adopt> for Worker {
    type Result = ();
    fn handle(&mut self, m: Adopt, _: &mut Context<Self>) {
        self.calls.insert(m.call_id, LegEntry::of(m.id, m.addr, 0));
    }
}
