//! The workers' MESSAGE relay: a MESSAGE (RFC 3428) outside any dialog for one of our
//! subscribers, carried by the worker that owns its Call-ID, without a CallLeg actor. A
//! MESSAGE is a non-INVITE transaction: it needs a server transaction, a client transaction per
//! device and the best answer upstream (RFC 3261 §16), which is the engine's `ProxyContext`,
//! not a dialog-capable leg with its own mailbox, timer and 32-second life.
//!
//! What it carries (`admit.rs` decides, before anything is sent): a MESSAGE to a number of
//! ours that the numbering plan alone maps to a subscriber (no plugin rewrite hook; not a room,
//! a conference, a hot-desk code, an enterprise number or an outside number of a member) with
//! Max-Forwards left, no Proxy-Require and no loop; everything else goes to a CallLeg as
//! before. Then, in the order a CallLeg checks: the body (413, 400, 415) and the caller (407,
//! the digest through the caller's Extension, 403; `admit.rs`), the callee's devices from the
//! locations table without a hop (its Extension only when the table does not know the
//! number), the routing plugin's decision, and the queue when no device is registered or
//! earlier messages still wait (so order is kept), a fork to every device otherwise, the queue
//! again when no device took it (408, 480, 5xx; `deliver.rs`). A decision it does not carry
//! out itself (a forward, a trunk, fallbacks) hands the request to a CallLeg with the caller
//! and the decision taken (`call_leg::Handover`), so neither is asked twice.
//!
//! Once the answer went upstream only the server transaction is kept, in the worker's
//! `LocalTxns` until Timer J, and it answers the request's retransmissions; the devices' other
//! branches are given up (`ProxyContext::into_answered`).
//!
//! Timers: the contexts' deadlines (Timer E retransmissions to a device, Timer F) wait in a
//! heap, and one actor timer is armed at the earliest of them, at a 20 ms resolution.

mod admit;
mod deliver;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, SpawnHandle};
use rustc_hash::FxHashMap;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::proxy::{ContextEvent, Output, ProxyContext};
use switchboard_engine::routing::Router;
use switchboard_engine::sip::{Message as SipMessage, Method};
use switchboard_engine::store::BindingRecord;
use switchboard_engine::txn::{ClientKey, ServerKey};
use tracing::warn;

use super::Worker;
use crate::call_leg::{CallLeg, Handover};
use crate::clock::now;
use crate::locations::Location;
use crate::store::writer::{AckSink, EnqueueResult};
use crate::transport::{response_flow, via_fix};

/// A page older than this is forgotten by the sweep (a bug left it; nothing waits so long).
const MAX_AGE: Duration = Duration::from_secs(120);
/// How often the sweep looks for pages older than `MAX_AGE`.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// The resolution of the relay's timers (Timer E starts at 500 ms).
const TICK: Duration = Duration::from_millis(20);

/// The MESSAGE transactions a worker relays.
#[derive(Default)]
pub(super) struct Pager {
    pages: FxHashMap<u64, Box<Page>>,
    by_key: FxHashMap<ServerKey, u64>,
    by_branch: FxHashMap<ClientKey, u64>,
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u64,
    armed: Option<(Instant, SpawnHandle)>,
    last_sweep: Option<Instant>,
    /// Where the queue writer hands this worker the answers of a group commit (`Stored`),
    /// set when the worker starts.
    acks: Option<AckSink>,
}

/// The queue writer's answers of one group commit for pages of a worker: (page, answer).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(super) struct Stored(pub(super) Vec<(u64, EnqueueResult)>);

/// The sink the queue writer hands a worker's answers to: one actor message per commit.
pub(super) fn ack_sink(addr: actix::Addr<Worker>) -> AckSink {
    Arc::new(move |acks| addr.do_send(Stored(acks)))
}

/// One MESSAGE being relayed.
struct Page {
    key: ServerKey,
    ctx: ProxyContext,
    /// The flow the request came on (a CallLeg taking it over gets it as it came).
    flow: Flow,
    /// Where the answers go.
    upstream: Flow,
    /// Where each branch goes, in branch order.
    branches: Vec<Flow>,
    callee: Aor,
    dialed: String,
    destination: Destination,
    /// The router of the plugin version current when the request came.
    router: Rc<dyn Router>,
    from_trunk: bool,
    /// Who sends (authenticated, or From in lab mode without authentication): set once the
    /// caller checks passed.
    caller: Option<Aor>,
    /// The member number the caller's phone presents (hot desk).
    presented: Option<Aor>,
    /// What the callee's lookup found: an account and its bindings, and the devices that
    /// ring with it (phones signed in by hot desk).
    account: bool,
    location: Option<Arc<Location>>,
    extra: Vec<BindingRecord>,
    /// The devices rang (a failure may queue the message).
    forked: bool,
    /// Handed to the queue writer: what its answer sets off.
    kept: Option<crate::offline::Kept>,
    /// The deadline last put in the heap.
    due: Option<Instant>,
    born: Instant,
}

impl Pager {
    fn add(&mut self, page: Page) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.by_key.insert(page.key.clone(), id);
        self.pages.insert(id, Box::new(page));
        id
    }

    fn remove(&mut self, id: u64) -> Option<Box<Page>> {
        let p = self.pages.remove(&id)?;
        self.by_key.remove(&p.key);
        for b in 0..p.branches.len() {
            if let Some(k) = p.ctx.branch_key(b) {
                self.by_branch.remove(k);
            }
        }
        Some(p)
    }
}

impl Worker {
    /// Lets the queue writer answer this worker's pages in batches.
    pub(super) fn start_pager(&mut self, ctx: &mut Context<Self>) {
        self.pager.acks = Some(ack_sink(ctx.address()));
    }

    /// A MESSAGE outside any dialog whose Call-ID no actor owns: the relay takes it (a new
    /// request, or a retransmission of one it carries or answered), or gives it back for a
    /// CallLeg.
    pub(super) fn page(
        &mut self,
        m: SipMessage,
        flow: Flow,
        ctx: &mut Context<Self>,
    ) -> Option<(SipMessage, Flow)> {
        let Some(key) = ServerKey::from_request(&m) else {
            return Some((m, flow));
        };
        let t = now();
        if let Some(&id) = self.pager.by_key.get(&key) {
            if let Some(p) = self.pager.pages.get_mut(&id) {
                p.ctx.handle_request(t, &m);
            }
            self.drain_page(id, ctx);
            return None;
        }
        if let Some((txn, to)) = self.txns.get_mut(&key) {
            // answered already: the same answer again
            let _ = txn.handle_request(t);
            let to = *to;
            self.drain_txn(&key, &to);
            return None;
        }
        let router = self.shared.plugins.router();
        let Some(target) = admit::candidate(&self.shared, &m, router.as_ref()) else {
            return Some((m, flow));
        };
        let from_trunk = self.shared.trunks.by_source(flow.remote).is_some();
        let upstream = response_flow(&m, &flow);
        let entropy = Entropy::seeded(self.entropy.next_u64());
        let local = self.shared.local.clone();
        let pctx = ProxyContext::new(
            t,
            m,
            flow.transport,
            via_fix(&flow),
            local,
            entropy,
            self.shared.context,
        );
        let id = self.pager.add(Page {
            key,
            ctx: pctx,
            flow,
            upstream,
            branches: Vec::new(),
            callee: target.callee,
            dialed: target.dialed,
            destination: target.destination,
            router,
            from_trunk,
            caller: None,
            presented: None,
            account: false,
            location: None,
            extra: Vec::new(),
            forked: false,
            kept: None,
            due: None,
            born: t,
        });
        self.page_checks(id, ctx);
        self.drain_page(id, ctx);
        None
    }

    /// A response to a branch of a relayed MESSAGE; given back when it is not one.
    pub(super) fn page_response(
        &mut self,
        m: SipMessage,
        ctx: &mut Context<Self>,
    ) -> Option<SipMessage> {
        if self.pager.by_branch.is_empty() || m.cseq().is_none_or(|c| c.method != Method::Message) {
            return Some(m);
        }
        let Some(key) = ClientKey::from_response(&m) else {
            return Some(m);
        };
        let Some(&id) = self.pager.by_branch.get(&key) else {
            return Some(m);
        };
        if let Some(p) = self.pager.pages.get_mut(&id) {
            p.ctx.handle_response_to(now(), &key, m);
        }
        self.drain_page(id, ctx);
        None
    }

    /// Answers the MESSAGE of page `id` itself (`extra`: header name and value pairs).
    fn page_respond(&mut self, id: u64, code: u16, reason: &str, extra: &[(&str, &str)]) {
        if let Some(p) = self.pager.pages.get_mut(&id) {
            p.ctx.respond(now(), code, reason, extra);
        }
    }

    /// Sends what the context of page `id` produced and acts on its reports; a page whose
    /// answer went upstream shrinks to its server transaction, the others wait for their next
    /// deadline.
    fn drain_page(&mut self, id: u64, ctx: &mut Context<Self>) {
        loop {
            let Some(p) = self.pager.pages.get_mut(&id) else {
                return;
            };
            let Some(transports) = self.transports.as_ref() else {
                return;
            };
            let mut exhausted = None;
            while let Some(o) = p.ctx.poll_output() {
                match o {
                    Output::Upstream(b) => transports.send(&p.upstream, b),
                    Output::Downstream { branch, bytes } => {
                        if let Some(f) = p.branches.get(branch) {
                            transports.send(f, bytes);
                        }
                    }
                    Output::Event(ContextEvent::Exhausted { code }) => exhausted = Some(code),
                    Output::Event(_) => {}
                }
            }
            match exhausted {
                Some(code) => self.page_exhausted(id, code),
                None => break,
            }
        }
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return;
        };
        if p.ctx.is_finished() {
            self.page_answered(id);
            return;
        }
        let at = p.ctx.poll_timeout();
        if at.is_some() && at != p.due {
            p.due = at;
            if let Some(at) = at {
                self.pager.due.push(Reverse((at, id)));
                self.arm_pager(ctx);
            }
        }
    }

    /// The answer of page `id` went upstream: its server transaction joins the worker's
    /// (retransmissions get the same answer until Timer J), the rest is dropped.
    fn page_answered(&mut self, id: u64) {
        let Some(p) = self.pager.remove(id) else {
            return;
        };
        let Page {
            key, ctx, upstream, ..
        } = *p;
        match ctx.into_answered() {
            Ok(server) => {
                // reliable transports need no Timer J: nothing to keep
                if let Some(j) = server.poll_timeout() {
                    self.txns.wake_at(j, key.clone());
                    self.txns.insert(key, (server, upstream));
                }
            }
            Err(_) => warn!("relayed message answered with output left; dropped"),
        }
    }

    /// Hands page `id` to a new CallLeg (a decision the relay does not carry out): the
    /// request as it came, the caller and the router with its decision.
    fn hand_over(&mut self, id: u64, router: Rc<dyn Router>) {
        let Some(p) = self.pager.remove(id) else {
            return;
        };
        let Page {
            ctx, flow, caller, ..
        } = *p;
        let m = ctx.request().clone();
        let h = Handover { caller, router };
        self.start_owner(m, flow, |w, id, call_id, seed| {
            CallLeg::new(id, call_id, w.shared.clone(), w.transports().clone(), seed)
                .handed_over(h)
                .start()
        });
    }

    /// Arms the actor timer at the earliest deadline of the pages, unless it is armed sooner.
    fn arm_pager(&mut self, ctx: &mut Context<Self>) {
        let Some(&Reverse((at, _))) = self.pager.due.peek() else {
            return;
        };
        if let Some((armed, h)) = self.pager.armed {
            if armed <= at {
                return;
            }
            ctx.cancel_future(h);
        }
        // no sooner than a tick from now: most deadlines in the heap belong to pages answered
        // since (their first Timer E), and one wake-up a tick serves them all
        let wait = at.saturating_duration_since(now()).max(TICK);
        let h = ctx.run_later(wait, |act, ctx| {
            act.pager.armed = None;
            act.pager_timeouts(ctx);
        });
        self.pager.armed = Some((at, h));
    }

    /// Runs the deadlines that passed.
    fn pager_timeouts(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        while let Some(&Reverse((at, id))) = self.pager.due.peek() {
            if at > t {
                break;
            }
            self.pager.due.pop();
            let Some(p) = self.pager.pages.get_mut(&id) else {
                continue;
            };
            if p.due != Some(at) {
                // a later deadline replaced this one
                continue;
            }
            p.due = None;
            p.ctx.handle_timeout(t);
            self.drain_page(id, ctx);
        }
        self.arm_pager(ctx);
    }

    /// Forgets pages older than `MAX_AGE` (only a bug leaves one: every wait ends sooner),
    /// at most every `SWEEP_EVERY`.
    pub(super) fn pager_sweep(&mut self, t: Instant) {
        if self
            .pager
            .last_sweep
            .is_some_and(|l| t.saturating_duration_since(l) < SWEEP_EVERY)
        {
            return;
        }
        self.pager.last_sweep = Some(t);
        let old: Vec<u64> = self
            .pager
            .pages
            .iter()
            .filter(|(_, p)| t.saturating_duration_since(p.born) > MAX_AGE)
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            warn!("relayed message left unanswered; forgotten");
            self.pager.remove(id);
        }
        crate::ownership::shrink(&mut self.pager.pages);
        crate::ownership::shrink(&mut self.pager.by_key);
        crate::ownership::shrink(&mut self.pager.by_branch);
    }
}
