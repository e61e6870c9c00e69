//! Where a relayed MESSAGE goes once its checks passed (RFC 3261 §16.5-§16.7, the steps a
//! CallLeg takes in `call_leg/routing.rs` and `call_leg/message.rs` for the same request):
//! the callee's devices (the locations table, or the Extension when the table does not know
//! the number), the phones signed in as the callee by hot desk, the routing plugin's decision,
//! then the queue or a fork to every device, and the queue again when no device took it.
//!
//! Guarantees: a message is not delivered ahead of older ones still queued for the same number
//! (it is queued behind them); the sender hears 202 only once the message is on disk; the
//! plugin is asked once per request (a decision the relay does not carry out goes to a CallLeg
//! with it).

use std::rc::Rc;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::numbering::Aor;
use switchboard_engine::routing::{
    CalleeState, Decided, Decision, Fallbacks, RouteRequest, Routed, Router,
};
use switchboard_engine::sip::Method;
use switchboard_engine::store::BindingRecord;
use tokio::sync::oneshot;
use tracing::warn;

use super::Worker;
use crate::api::extension::{ExtCommand, Located};
use crate::call_leg::{fork_devices, Devices};
use crate::clock::{now, unix_now};
use crate::locations::Location;
use crate::metrics::VersionLabel;
use crate::offline;
use crate::store::writer::{EnqueueResult, Reply};

/// The bindings of `bindings` live at Unix time `unix`.
fn live(bindings: &[BindingRecord], unix: u64) -> usize {
    bindings.iter().filter(|b| b.expires_at > unix).count()
}

/// What the routing decision leaves the relay to do.
enum Next {
    /// Deliver to the callee: the queue or its devices.
    Deliver,
    /// Answer with this.
    Respond(u16, String),
    /// A CallLeg carries the decision out.
    HandOver(Rc<dyn Router>),
}

impl Worker {
    /// Routes page `id` for `caller` (checks passed): finds the callee's devices.
    pub(super) fn page_route(&mut self, id: u64, caller: Option<Aor>, ctx: &mut Context<Self>) {
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return;
        };
        // a phone signed in by hot desk texts as the member
        if let Some(phone) = &caller {
            match self.shared.db.hotdesk_of_phone(phone, unix_now()) {
                Ok(Some(s)) => p.presented = Some(Aor::from_canonical(&s.number)),
                Ok(None) => {}
                Err(e) => warn!(error = %e, "hot-desk lookup failed"),
            }
        }
        p.caller = caller;
        self.shared
            .metrics
            .plugin_routed
            .get_or_create(&VersionLabel {
                version: p.router.version(),
            })
            .inc();
        let callee = p.callee.clone();
        if let Some(l) = self.shared.locations.get(&callee) {
            return self.page_located(id, l);
        }
        // the table does not know the number: its Extension reads the store (and tells the
        // table, for the next message)
        let (tx, rx) = oneshot::channel();
        self.shared
            .to_extension(callee, ExtCommand::Locate { reply: tx });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(Located {
                    account, bindings, ..
                }) => {
                    let l = Arc::new(Location { account, bindings });
                    act.page_located(id, l);
                }
                Err(_) => act.page_respond(id, 500, "Server Internal Error", &[]),
            }
            act.drain_page(id, ctx);
        }));
    }

    /// The callee of page `id` was found (`l`): the plugin decides, and the relay carries a
    /// delivery to the callee out or refuses; any other decision goes to a CallLeg.
    fn page_located(&mut self, id: u64, l: Arc<Location>) {
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return;
        };
        let shared = &self.shared;
        let unix = unix_now();
        // phones signed in as the callee by hot desk ring with its own
        let extra = shared.db.hotdesk_devices(&p.callee, &[], unix, &l.bindings);
        let devices = live(&l.bindings, unix) + live(&extra, unix);
        let forwarding = match l.account {
            // read where it is kept, so a change applies to the next message
            true => shared.db.forwarding(&p.callee).unwrap_or_else(|e| {
                warn!(error = %e, "forwarding read failed");
                Default::default()
            }),
            false => Default::default(),
        };
        let voicemail = l.account
            && shared.config.voicemail.enabled
            && shared
                .mailboxes
                .enabled(&p.callee)
                .inspect_err(|e| warn!(error = %e, "voicemail settings not readable"))
                .unwrap_or(false);
        let state = CalleeState {
            aor: Some(p.callee.clone()),
            account: l.account,
            devices,
            forwarding,
            voicemail,
        };
        let req = RouteRequest {
            method: Method::Message,
            dialed: &p.dialed,
            destination: &p.destination,
            caller: p.presented.as_ref().or(p.caller.as_ref()),
            time: unix,
            callee: Some(&state),
            history: &[],
        };
        let next = match p.router.route(&req) {
            Err(e) => {
                shared.plugins.count_failure(&e);
                warn!(
                    kind = %e.kind,
                    error = %e.message,
                    version = p.router.version(),
                    "routing plugin failed; this request fails alone"
                );
                let (code, reason) = e.status();
                Next::Respond(code, reason.to_owned())
            }
            Ok(Routed {
                decision: Decision::Deliver { aor, otherwise },
                ..
            }) if aor == p.callee && otherwise == Fallbacks::default() => Next::Deliver,
            Ok(Routed {
                decision: Decision::Reject { code, reason },
                ..
            }) => Next::Respond(code, reason),
            Ok(routed) => {
                let decided = Decided::new(p.router.clone(), &req, routed);
                Next::HandOver(Rc::new(decided))
            }
        };
        match next {
            Next::Deliver => {
                p.account = l.account;
                p.location = Some(l);
                p.extra = extra;
                self.page_deliver(id, devices)
            }
            Next::Respond(code, reason) => self.page_respond(id, code, &reason, &[]),
            Next::HandOver(router) => self.hand_over(id, router),
        }
    }

    /// Page `id` goes to its callee (`devices` registered): the queue when no device is
    /// registered or older messages wait (order), else a fork.
    fn page_deliver(&mut self, id: u64, devices: usize) {
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return;
        };
        let (callee, mut account) = (p.callee.clone(), p.account);
        let shared = &self.shared;
        if shared.may_queue_for(&callee, account)
            && (devices == 0 || shared.queue.has_messages(&callee))
        {
            return self.page_store(id, devices > 0);
        }
        let source = Some(p.upstream.remote.ip());
        if !account
            && shared.allows_dynamic(&callee)
            && shared.security.abuse.dynamic_account(source).is_ok()
        {
            // a number of ours nobody signed up gets its account (the sender hears that it is
            // unavailable, not that it does not exist)
            let expires = unix_now() + shared.config.accounts.dynamic_expiry_days * 86_400;
            match shared
                .db
                .create_dynamic(&callee, &shared.realm, unix_now(), expires)
            {
                Ok(made) => {
                    if made {
                        shared.metrics.dynamic_accounts.inc();
                        shared.to_extension(callee.clone(), ExtCommand::AccountChanged);
                    }
                    account = true;
                    p.account = true;
                }
                Err(e) => warn!(error = %e, "dynamic account not created"),
            }
        }
        if devices > 0 && self.page_fork(id) {
            return;
        }
        match account {
            true => self.page_respond(id, 480, "Temporarily Unavailable", &[]),
            false => self.page_respond(id, 404, "Not Found", &[]),
        }
    }

    /// Rings every device of the callee of page `id`; `false` when none could be rung.
    fn page_fork(&mut self, id: u64) -> bool {
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return false;
        };
        let local = &self.shared.local;
        // RFC 3325 §9.1: the identity the switch asserts for a phone signed in as a member
        let headers = match &p.presented {
            Some(aor) => format!(
                "P-Asserted-Identity: <sip:{}@{}>\r\n",
                aor.as_str(),
                local.domain
            ),
            None => String::new(),
        };
        let own = p.location.as_ref().map_or(&[][..], |l| &l.bindings[..]);
        // the callee's own bindings as published; with a hot-desk phone's, a copy of both
        let joined: Vec<BindingRecord>;
        let bindings = if p.extra.is_empty() {
            own
        } else {
            joined = own.iter().chain(&p.extra).cloned().collect();
            &joined[..]
        };
        let devices = Devices {
            bindings,
            unix: unix_now(),
            headers: &headers,
            // a request's own History-Info and Diversion are kept from a trunk only
            drop_history: !p.from_trunk,
            record_route: false,
            body: None,
        };
        let flows = fork_devices(&mut p.ctx, now(), local, devices);
        for (i, _) in flows.iter().enumerate() {
            if let Some(k) = p.ctx.branch_key(i) {
                self.pager.by_branch.insert(k.clone(), id);
            }
        }
        p.forked = !flows.is_empty();
        p.branches = flows;
        p.forked
    }

    /// Every device of page `id` failed with best `code`: the queue takes the message when a
    /// device may take it later (408, 480, 5xx), else the best answer goes upstream.
    pub(super) fn page_exhausted(&mut self, id: u64, code: u16) {
        let Some(p) = self.pager.pages.get_mut(&id) else {
            return;
        };
        let later = matches!(code, 408 | 480 | 500 | 503 | 504);
        if p.forked && later && self.shared.may_queue_for(&p.callee, p.account) {
            // no device took it now: it waits in the queue, whose delivery tries the
            // registered devices again with backoff (no SMS: the number is online)
            return self.page_store(id, true);
        }
        p.ctx.seal(now());
    }

    /// Writes the MESSAGE of page `id` to its callee's queue; 202 once it is on disk (the
    /// writer's answer comes with the others of its group commit, `stored`).
    /// `online`: a device is registered (it gets the message from the queue's delivery).
    fn page_store(&mut self, id: u64, online: bool) {
        let Some(p) = self.pager.pages.get(&id) else {
            return;
        };
        let Some(sink) = self.pager.acks.clone() else {
            return self.page_respond(id, 503, "Message Store Unavailable", &[]);
        };
        let queued = offline::enqueue(
            &self.shared,
            p.ctx.request(),
            // the member a hot-desk phone texts as
            p.presented.as_ref().or(p.caller.as_ref()),
            &p.callee,
            p.account,
            p.upstream.remote.ip(),
            online,
            Reply::Sink(sink, id),
        );
        match queued {
            Ok(kept) => {
                if let Some(p) = self.pager.pages.get_mut(&id) {
                    p.kept = Some(kept);
                }
            }
            Err(a) => self.page_answer(id, a),
        }
    }

    /// The queue writer's answers of one group commit, for pages of this worker: each
    /// sender hears its status (202 once on disk), and retransmissions meet the answer.
    pub(in crate::worker) fn stored(
        &mut self,
        acks: Vec<(u64, EnqueueResult)>,
        ctx: &mut Context<Self>,
    ) {
        for (id, res) in acks {
            let Some(kept) = self.pager.pages.get_mut(&id).and_then(|p| p.kept.take()) else {
                // forgotten by the sweep meanwhile
                continue;
            };
            let a = offline::answered(&self.shared, kept, Ok(res));
            self.page_answer(id, a);
            self.drain_page(id, ctx);
        }
    }

    fn page_answer(&mut self, id: u64, a: offline::Answer) {
        match &a.header {
            Some((name, value)) => self.page_respond(id, a.code, a.reason, &[(name, value)]),
            None => self.page_respond(id, a.code, a.reason, &[]),
        }
    }
}
