//! The CallLeg actor: one per call (Call-ID) on the worker that owns it. It runs the proxy
//! response contexts (RFC 3261 §16) of the call's transactions: the initial INVITE, then
//! re-INVITE, BYE, UPDATE, INFO, REFER, NOTIFY... following the Record-Route it inserted. It
//! authenticates the caller, routes the call (numbering plan, routing plugin, forwarding,
//! trunks) and relays the rest; a feature code dialed from a phone is answered by the switch
//! itself, a MESSAGE may be stored for later or posted to a chat room.
//!
//! The leg is made of parts that own their data, each a struct whose methods need no actor:
//! the call's transactions (`txns.rs`, one of them in `txn.rs`), the routing state of a request
//! outside any dialog (`setup.rs`), the call itself (`call.rs`) and the switch's own answer to
//! a feature code (`confirm.rs`). The files that need the actor context (lookups in other
//! actors, store writes, room commands) add `impl CallLeg` blocks and carry out what the parts
//! decide: `caller.rs` (checks, digest authentication), `routing.rs` (what was dialed, the
//! plugin, the sequence's steps), `branches.rs` (devices, trunks, other domains), `relay.rs`
//! (in-dialog requests), `feature.rs`, `message.rs` and `room.rs`; the calls the switch
//! answers for voicemail (leaving a message, listening to one's mailbox) are `voicemail/`.
//! This file is the actor:
//! its lifecycle, the handlers, where each message goes, the drain of what the parts produced
//! and its one timer (the earliest deadline of the parts, or the idle limit).
//!
//! A panic while handling one call answers 500 (if the call was not answered yet) and ends
//! that call only; the arbiter and every other call keep running.

mod anchoring;
mod branches;
mod call;
mod caller;
mod conference;
mod confirm;
mod credit;
mod feature;
mod filing;
mod hangup;
mod media;
mod media_notes;
mod members;
mod message;
mod notice;
mod party;
mod record;
mod refusal;
mod relay;
mod room;
mod routing;
mod setup;
mod txn;
mod txns;
mod voicemail;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler};
use switchboard_engine::dialog::ProxiedDialog;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::sip::{reason_phrase, Message as SipMessage, Method};
use switchboard_engine::txn::{ClientKey, ServerKey};
use tracing::{info, warn};

use self::call::Call;
use self::confirm::Confirm;
use self::hangup::Hangup;
use self::media::CallMedia;
use self::party::{Party, Step};
pub(crate) use self::txn::{fork_devices, Devices};
use self::txn::{Report, Txn};
use self::txns::Txns;
use crate::api::extension::ExtCommand;
pub use crate::api::leg::FromNetwork;
use crate::calls::CallNo;
use crate::clock::{now, Timer};
use crate::metrics::OutcomeLabel;
use crate::ownership::{owners, Stop};
use crate::shared::Shared;
use crate::transport::{forward, via_fix, Transports};

pub struct CallLeg {
    id: u64,
    call_id: Box<str>,
    shared: Arc<Shared>,
    transports: Transports,
    entropy: Entropy,
    txns: Txns,
    call: Call,
    /// The switch answered this call itself (a feature code).
    confirm: Option<Confirm>,
    /// The switch answered this call as a conference participant's.
    party: Option<Party>,
    /// Who that participant is (a subscriber's address, or "anonymous").
    party_who: Option<String>,
    /// The subscriber in the conference, if it is one.
    party_caller: Option<switchboard_engine::numbering::Aor>,
    /// The switch calls a landline to read a text message out (a voice notice).
    notice: Option<notice::Notice>,
    /// The switch answered this call for voicemail: a caller leaving a message, or a
    /// subscriber listening to their mailbox.
    voicemail: Option<voicemail::VoicemailCall>,
    /// Looking up who to call (a dial-out) before the call exists.
    dialing: bool,
    /// The call's media, when the switch anchors it.
    media: Option<CallMedia>,
    /// The offer the callee's branches carry (the relay's), once anchored.
    callee_offer: Option<String>,
    /// The answered dialog of an anchored or metered call (to end it itself) and where each
    /// side is reached: the caller's flow, the callee's.
    dialog: Option<(ProxiedDialog, Flow, Flow)>,
    /// The switch's own BYEs in flight.
    hangup: Hangup,
    /// The call in the live calls table.
    call_no: Option<CallNo>,
    /// The call's detail record, from its INVITE until it is written.
    record: Option<record::Draft>,
    /// A prepaid caller's off-net call: its account and when its credit runs out.
    credit: Option<credit::Metered>,
    /// The call is refused after an announcement (early media, then the error).
    refusal: Option<refusal::Refusal>,
    me: Option<Addr<CallLeg>>,
    timer: Timer,
    span: tracing::Span,
    /// Messages handled, for race-free retirement (`ownership::Registry::retire`).
    processed: u64,
    retiring: bool,
    /// What the worker's MESSAGE relay settled before it handed the first request over.
    handover: Option<Handover>,
}

/// What the worker's MESSAGE relay (`worker::pager`) settled before handing a MESSAGE to a
/// CallLeg because its routing decision is more than the relay carries out (a forward, a
/// trunk, fallbacks): the caller, authenticated once (a digest's nonce count is good for one
/// request), and the router of the request with its decision already taken, so the plugin is
/// asked once.
pub struct Handover {
    pub caller: Option<switchboard_engine::numbering::Aor>,
    pub router: std::rc::Rc<dyn switchboard_engine::routing::Router>,
}

impl CallLeg {
    pub fn new(
        id: u64,
        call_id: Box<str>,
        shared: Arc<Shared>,
        transports: Transports,
        seed: u64,
    ) -> CallLeg {
        let span = tracing::info_span!("call", call_id = %call_id);
        let call = Call::new(&call_id, id, now());
        CallLeg {
            id,
            call_id,
            shared,
            transports,
            entropy: Entropy::seeded(seed),
            txns: Txns::default(),
            call,
            confirm: None,
            party: None,
            party_who: None,
            party_caller: None,
            notice: None,
            voicemail: None,
            dialing: false,
            media: None,
            callee_offer: None,
            dialog: None,
            hangup: Hangup::default(),
            call_no: None,
            record: None,
            credit: None,
            refusal: None,
            me: None,
            timer: Timer::default(),
            span,
            processed: 0,
            retiring: false,
            handover: None,
        }
    }

    /// The leg of a MESSAGE the worker's relay hands over (`Handover`).
    pub fn handed_over(mut self, h: Handover) -> CallLeg {
        self.handover = Some(h);
        self
    }

    fn on_network(&mut self, msg: SipMessage, flow: Flow, ctx: &mut Context<Self>) {
        let t = now();
        if msg.status().is_some() {
            let Some(key) = ClientKey::from_response(&msg) else {
                return;
            };
            if msg.status().is_some_and(|c| c == 180 || c == 183)
                && msg.cseq().is_some_and(|c| c.method == Method::Invite)
            {
                self.record_ringing();
            }
            let Some(msg) = self.hangup.take_response(t, &key, msg) else {
                return;
            };
            let msg = self.anchor_response(msg, &flow);
            let Some(msg) = self.txns.take_response(t, &key, msg) else {
                return;
            };
            let msg = match self.confirm.as_mut() {
                Some(c) => match c.take_response(t, msg) {
                    Some(msg) => msg,
                    None => return,
                },
                None => msg,
            };
            let msg = match self.party.as_mut() {
                Some(p) => match p.take_response(t, msg) {
                    Some(msg) => msg,
                    None => return,
                },
                None => msg,
            };
            let msg = match self.notice.as_mut() {
                Some(n) => match n.take_response(t, msg) {
                    Some(msg) => msg,
                    None => return,
                },
                None => msg,
            };
            let msg = match self.voicemail.as_mut() {
                Some(d) => match d.take_response(t, msg) {
                    Some(msg) => msg,
                    None => return,
                },
                None => msg,
            };
            let is_invite_2xx = msg.status().is_some_and(|c| (200..300).contains(&c))
                && msg.cseq().is_some_and(|c| c.method == Method::Invite);
            if is_invite_2xx {
                forward::forward_response(&msg, &self.shared.local, &self.transports);
            }
            return;
        }
        if let Some(c) = self.confirm.as_mut() {
            if c.take(&msg, t) {
                return;
            }
        }
        if let Some(p) = self.party.as_mut() {
            if p.take(&msg, t) {
                return;
            }
        }
        if let Some(n) = self.notice.as_mut() {
            if n.take(&msg, via_fix(&flow), t) {
                return;
            }
        }
        if let Some(d) = self.voicemail.as_mut() {
            if d.take(&msg, t) {
                return;
            }
        }
        match msg.method() {
            Some(Method::Ack) => {
                // the ACK of a non-2xx belongs to our server transaction; the ACK of a 2xx is
                // end to end and follows the route
                if !self.txns.take_ack(t, &msg) {
                    let fix = via_fix(&flow);
                    let body = self.anchor_ack(&msg);
                    let body = body.as_deref().map(|b| ("application/sdp", b.as_bytes()));
                    forward::forward_ack(&msg, &self.shared.local, &self.transports, fix, body);
                }
            }
            Some(Method::Cancel) => {
                if !self.txns.take_cancel(t, &msg) {
                    let i = self.new_txn(msg, flow, false);
                    self.txns[i].ctx.respond(t, 481, reason_phrase(481), &[]);
                }
            }
            _ => {
                if self.txns.take_retransmission(t, &msg) {
                    // a retransmission: its transaction answered it
                } else if msg.to_tag().is_some() {
                    self.in_dialog(msg, flow, ctx);
                } else {
                    self.new_request(msg, flow, ctx);
                }
            }
        }
    }

    /// Opens the transaction of request `msg` received on `flow`; `initial`: the call's
    /// INVITE.
    fn new_txn(&mut self, msg: SipMessage, flow: Flow, initial: bool) -> usize {
        let txn = Txn::new(
            now(),
            msg,
            flow,
            initial,
            self.shared.local.clone(),
            Entropy::seeded(self.entropy.next_u64()),
            self.shared.context,
        );
        self.txns.open(txn)
    }

    /// Sends what the machines produced, acts on what they reported and re-arms the timer.
    fn after(&mut self, ctx: &mut Context<Self>) {
        let r = catch_unwind(AssertUnwindSafe(|| {
            // acting on a report (the next stage of a forwarded call) produces more output
            loop {
                let transports = &self.transports;
                let reports = self.txns.drain(|flow, bytes| transports.send(flow, bytes));
                if reports.is_empty() {
                    break;
                }
                self.on_reports(reports, ctx);
            }
            self.drain_confirm();
            self.refusal_over();
            self.party_steps(ctx);
            self.drain_party();
            self.drain_notice();
            self.drain_voicemail();
            let transports = &self.transports;
            self.hangup
                .drain(|flow, bytes| transports.send(flow, bytes));
        }));
        if r.is_err() {
            return self.fail(ctx);
        }
        // a call lives until it ends; a leg that only relayed requests, until they are done
        let idle = self.txns.is_empty()
            && self.confirm.is_none()
            && self.party.is_none()
            && self.notice.is_none()
            && self.voicemail.is_none()
            && self.refusal.is_none()
            && !self.dialing
            && self.hangup.is_idle();
        if idle && self.call.is_over() {
            self.timer.set(ctx, None, |a| &mut a.timer, Self::on_timer);
            self.retire();
            return;
        }
        let at = self.poll_timeout();
        self.timer
            .set(ctx, Some(at), |a| &mut a.timer, Self::on_timer);
    }

    /// The earliest deadline of the call's parts, or when it is forgotten if nothing more is
    /// heard of it.
    fn poll_timeout(&self) -> Instant {
        let idle = self.call.idle_deadline(self.max_idle());
        let confirm = self.confirm.as_ref().and_then(Confirm::poll_timeout);
        let party = self.party.as_ref().and_then(Party::poll_timeout);
        let notice = self.notice.as_ref().and_then(notice::Notice::poll_timeout);
        let voicemail = self.voicemail.as_ref().and_then(|d| d.poll_timeout());
        [
            self.txns.poll_timeout(),
            confirm,
            party,
            notice,
            voicemail,
            self.hangup.poll_timeout(),
            self.credit_deadline(),
            self.refusal
                .as_ref()
                .and_then(refusal::Refusal::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .fold(idle, Instant::min)
    }

    fn max_idle(&self) -> Duration {
        Duration::from_secs(self.shared.config.calls.max_idle_secs)
    }

    /// Acts on what the transactions reported: first what the call itself learns, in the
    /// order reported, then the routing steps the reports start.
    fn on_reports(&mut self, reports: Vec<(ServerKey, Report)>, ctx: &mut Context<Self>) {
        for (_, r) in &reports {
            match *r {
                Report::Answered { initial: true, .. } => {
                    self.call.answered();
                    self.record_answered();
                    self.credit_answered();
                    if let Some(no) = self.call_no {
                        let at = crate::clock::unix_now_ms();
                        self.shared.calls.update(no, |v| {
                            v.state = "answered";
                            v.answered_unix_ms.get_or_insert(at);
                        });
                    }
                }
                Report::Finished {
                    code,
                    initial,
                    bye,
                    canceled,
                    version,
                } => {
                    let own = if self.confirm.is_some() {
                        Some("feature")
                    } else if self.party.is_some() {
                        Some("conference")
                    } else {
                        self.voicemail.as_ref().map(voicemail::VoicemailCall::kind)
                    };
                    let finish = self.call.finished(code, initial, bye, canceled, own);
                    if initial {
                        // a challenge too: the record waits for the attempt with credentials
                        self.record_final(code, version);
                    }
                    if let Some(outcome) = finish.outcome {
                        self.shared
                            .metrics
                            .calls
                            .get_or_create(&OutcomeLabel { outcome })
                            .inc();
                        info!(
                            code,
                            outcome,
                            plugin_version = version,
                            "call setup finished"
                        );
                    }
                    if finish.end {
                        let reason = match finish.outcome {
                            _ if bye => "hung up".to_owned(),
                            Some("canceled") if canceled => "canceled by the caller".to_owned(),
                            Some(outcome) => format!("{} ({code})", outcome.replace('_', " ")),
                            None => format!("ended ({code})"),
                        };
                        self.end_call(&reason);
                    }
                }
                _ => {}
            }
        }
        for (key, r) in reports {
            match r {
                Report::Exhausted(code) => self.on_exhausted(&key, code, ctx),
                Report::Answered { routed: true, .. } => self.on_answered(&key),
                _ => {}
            }
        }
    }

    /// Leaves the owners table, and stops, once every message sent to this leg is handled
    /// (otherwise the next one finds it still there).
    fn retire(&mut self) {
        if !self.retiring {
            self.retiring = owners(|o| o.retire(&*self.call_id, self.id, self.processed));
        }
    }

    /// The call is over (`reason` is kept with its record in the calls table): its parties
    /// are off the phone, and it is no longer counted active.
    fn end_call(&mut self, reason: &str) {
        // the media session closes (its ports are free again, a recording ends)
        self.record_end(reason);
        self.credit_ended();
        self.media = None;
        self.callee_offer = None;
        if let Some(no) = self.call_no.take() {
            self.shared
                .calls
                .end(no, crate::clock::unix_now_ms(), reason.to_owned());
        }
        let ended = self.call.end();
        let call = self.call.presence_id();
        for aor in ended.off_the_phone {
            self.shared.to_extension(
                aor,
                ExtCommand::CallState {
                    call,
                    up: false,
                    note: None,
                },
            );
        }
        if ended.was_active {
            self.shared.metrics.active_calls.dec();
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        if self.call.is_idle(t, self.max_idle()) {
            tracing::debug!("call idle, forgetting it");
            self.end_call("idle");
            self.retire();
            return;
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            self.txns.handle_timeout(t);
            if let Some(c) = self.confirm.as_mut() {
                c.handle_timeout(t);
            }
            if let Some(p) = self.party.as_mut() {
                p.handle_timeout(t);
            }
            if let Some(n) = self.notice.as_mut() {
                n.handle_timeout(t);
            }
            if let Some(d) = self.voicemail.as_mut() {
                d.handle_timeout(t);
            }
            self.hangup.handle_timeout(t);
            self.credit_check(t);
            self.refusal_timeout(t);
            self.setup_timers(t, ctx);
        }));
        if r.is_err() {
            return self.fail(ctx);
        }
        self.after(ctx);
    }

    /// Something inside this call panicked: answer 500 if the caller still waits, then end
    /// this call alone.
    fn fail(&mut self, ctx: &mut Context<Self>) {
        self.shared.metrics.call_failures.inc();
        warn!("call failed internally; answering 500");
        if let Some((flow, resp)) = self.call.failure_answer() {
            self.transports.send(&flow, resp);
        }
        self.txns.clear();
        self.confirm = None;
        self.refusal = None;
        if let Some(mut n) = self.notice.take() {
            // its notice must not wait for a call that is gone
            n.abandon();
        }
        if let Some(mut p) = self.party.take() {
            // the bridge must not keep a participant whose call is gone
            p.hang_up(now(), "SIP;cause=500;text=\"Internal Failure\"");
            if let Some(Step::Leave(id)) = p.poll_step() {
                self.shared.to_conference(
                    p.name().clone(),
                    crate::api::conference::ConferenceCommand::Leave { id },
                );
            }
        }
        if let Some(mut d) = self.voicemail.take() {
            // a message being left keeps what it has
            d.abort(now(), "SIP;cause=500;text=\"Internal Failure\"");
        }
        self.end_call("internal failure");
        ctx.stop();
    }
}

impl Actor for CallLeg {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.end_call("switch stopping");
        owners(|o| o.remove(&*self.call_id, self.id));
    }
}

impl Handler<FromNetwork> for CallLeg {
    type Result = ();

    fn handle(&mut self, m: FromNetwork, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _g = span.enter();
        self.processed += 1;
        self.retiring = false;
        self.call.touched(now());
        let r = catch_unwind(AssertUnwindSafe(|| self.on_network(m.msg, m.flow, ctx)));
        if r.is_err() {
            return self.fail(ctx);
        }
        self.after(ctx);
    }
}

impl Handler<Stop> for CallLeg {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
