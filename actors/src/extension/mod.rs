//! The Extension actor: one per address of record while it is active. It is the single
//! writer of its registrations and the keeper of its digest replay window; its durable state
//! is in the store, so it can stop when idle and start again on the next request. It is also
//! the notifier of its number's presence (`presence`) and of its mailbox's message waiting
//! (`mwi`), which follow its registrations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Recipient};
use switchboard_engine::auth::{self, AuthOutcome, Checked, ReplayWindow};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::forwarding::ForwardingRecord;
use switchboard_engine::numbering::Aor;
use switchboard_engine::registrar::repeat::{self, Admission, RecentRegisters};
use switchboard_engine::registrar::{self, write_behind::Write, write_behind::WriteBehind};
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{HeaderName, Message as SipMessage};
use switchboard_engine::store::{AccountRecord, BindingRecord, OtpRecord};
use switchboard_engine::txn::Timers;

mod bindings;
mod delivery;
pub mod directory;
pub mod mailbox_feed;
mod messages;
mod mwi;
mod presence;
mod unsolicited;
mod watchers;

use delivery::{Delivery, DeliveryEnded, DeliveryStart, Kick, Targets};
pub use messages::Command;
use messages::Retire;

/// The running delivery of queued messages (at most one per address).
struct Running {
    id: u64,
    addr: Addr<Delivery>,
}

use tracing::{debug, info, warn};

use crate::api::extension::{ExtCommand, Located, RegisterReply, MAX_OTP_FAILURES};
use crate::clock::{now, unix_now, Timer};
use crate::guard::guarded;
use crate::ownership::{OwnerId, Stop};
use crate::shared::Shared;

pub struct Extension {
    aor: Aor,
    id: OwnerId,
    /// The worker whose arbiter this runs on (its deliveries use Call-IDs that worker owns).
    shard: usize,
    shared: Arc<Shared>,
    directory: Recipient<Retire>,
    account: Option<AccountRecord>,
    /// A one-time password accepted besides the account's own.
    otps: Vec<OtpRecord>,
    /// Wrong answers to a one-time password in a row (they are revoked at `MAX_OTP_FAILURES`).
    otp_failures: u32,
    bindings: Vec<BindingRecord>,
    /// When the bindings reach the store (`bindings`).
    writes: WriteBehind,
    write_timer: Timer,
    delivery: Option<Running>,
    /// Ids of this Extension's deliveries.
    deliveries: u64,
    replay: ReplayWindow,
    /// The REGISTERs applied within 64*T1: a late retransmission of one, whose nonce count
    /// the replay window has seen, is answered again (`registrar::repeat`).
    recent: RecentRegisters,
    /// Publications, calls and watchers (single writer of this number's presence).
    presence: watchers::PresenceState,
    /// The mailbox's summary, its watchers and the unsolicited NOTIFYs.
    mwi: mwi::Mwi,
    /// Entity tags of publications.
    etags: Entropy,
    processed: u64,
    last_active: Instant,
}

impl Extension {
    pub fn new(
        aor: Aor,
        id: OwnerId,
        shard: usize,
        shared: Arc<Shared>,
        directory: Recipient<Retire>,
    ) -> Extension {
        let mailbox = format!("sip:{aor}@{}", shared.local.domain);
        let hold = Duration::from_secs(shared.config.registrar.refresh_write_secs);
        Extension {
            mwi: mwi::Mwi::new(mailbox),
            aor,
            id,
            shard,
            shared,
            directory,
            account: None,
            otps: Vec::new(),
            otp_failures: 0,
            bindings: Vec::new(),
            writes: WriteBehind::new(hold),
            write_timer: Timer::default(),
            delivery: None,
            deliveries: 0,
            replay: ReplayWindow::default(),
            recent: RecentRegisters::new(Timers::default().timeout()),
            presence: watchers::PresenceState::new(),
            etags: Entropy::seeded(rand::random()),
            processed: 0,
            last_active: now(),
        }
    }

    fn idle_timeout(&self) -> Duration {
        let configured = Duration::from_secs(self.shared.config.extension.idle_timeout_secs);
        configured.max(self.shared.nonces.lifetime())
    }

    /// Nothing worth keeping in memory: unknown number without registrations.
    fn is_empty(&self) -> bool {
        self.account.is_none() && self.bindings.is_empty() && !self.is_busy()
    }

    /// Presence or message waiting keeps the Extension (watchers, publications, a call, a
    /// question to the mailbox store): they live in memory only.
    fn is_busy(&self) -> bool {
        self.presence.is_busy() || self.mwi.is_busy()
    }

    fn retire_if(&mut self, cond: bool) {
        if cond {
            // the next Extension of this address loads what this one knew
            self.write_pending();
            self.directory.do_send(Retire {
                aor: self.aor.clone(),
                id: self.id,
                processed: self.processed,
            });
        }
    }

    fn register(&mut self, req: SipMessage, flow: Flow, ctx: &mut Context<Self>) -> RegisterReply {
        let now_unix = unix_now();
        let auth = self.shared.auth_enabled();
        if auth {
            let checked = self.check(&req, HeaderName::Authorization, now_unix);
            match repeat::admit(checked, &req, &self.recent, now()) {
                Admission::Apply => {}
                // a retransmission of a REGISTER applied (its answer lost, the worker's ring
                // no longer holding it): the same 200, applying nothing
                Admission::AnswerAgain => {
                    return RegisterReply::Ok {
                        contacts: registrar::contact_values(&self.bindings, now_unix),
                    }
                }
                Admission::Refuse(AuthOutcome::Challenge { stale }) => {
                    return RegisterReply::Challenge { stale }
                }
                Admission::Refuse(_) => return RegisterReply::Forbidden,
            }
        }
        // the bindings before, to find the devices this REGISTER brings (message waiting);
        // only needed while new messages wait or the mailbox's summary is not known yet, so
        // a refresh of a mailbox with nothing new copies nothing
        let mwi_may_notify = !matches!(self.mwi.state.summary(), Some((_, s)) if !s.waiting);
        let before = if self.shared.config.voicemail.unsolicited_mwi && mwi_may_notify {
            self.bindings.clone()
        } else {
            Vec::new()
        };
        match registrar::apply(
            &req,
            &mut self.bindings,
            now_unix,
            &self.shared.policy,
            &flow,
        ) {
            Ok(applied) => {
                if auth {
                    self.recent.record(&req, now());
                }
                match self
                    .writes
                    .handle_applied(now_unix, applied, &self.bindings)
                {
                    Write::Now => {
                        if let Err(e) = self.write_bindings() {
                            warn!(error = %e, "binding write failed");
                            return RegisterReply::Error {
                                code: 500,
                                reason: "Server Internal Error",
                                min_expires: None,
                            };
                        }
                    }
                    Write::Later => self.write_later(ctx),
                    Write::Nothing => {}
                }
                match applied {
                    registrar::Applied::Changed => {
                        self.presence_changed(ctx);
                        self.mailbox_registered(&before, ctx);
                    }
                    registrar::Applied::Refreshed => self.presence_refreshed(ctx),
                    registrar::Applied::Unchanged => {}
                }
                RegisterReply::Ok {
                    contacts: registrar::contact_values(&self.bindings, now_unix),
                }
            }
            Err(e) => {
                let (code, reason) = e.status();
                let min_expires = match e {
                    registrar::RegisterError::TooBrief { min } => Some(min),
                    _ => None,
                };
                RegisterReply::Error {
                    code,
                    reason,
                    min_expires,
                }
            }
        }
    }

    /// Digest check of `header` in `req`; the credentials must be for this address. A right
    /// digest whose nonce count was seen is refused like any replay.
    fn verify(&mut self, req: &SipMessage, header: HeaderName, now_unix: u64) -> AuthOutcome {
        self.check(req, header, now_unix).outcome()
    }

    /// `verify`, telling a right digest that only the replay window refuses apart (for a
    /// REGISTER's retransmission, `registrar::repeat`).
    fn check(&mut self, req: &SipMessage, header: HeaderName, now_unix: u64) -> Checked {
        let value = req.header(header);
        let creds = value.and_then(|v| Credentials::parse(v).ok());
        if let Some(c) = &creds {
            let same = self
                .shared
                .plan
                .canonical(c.username)
                .is_ok_and(|a| a == self.aor);
            if !same {
                return Checked::Decided(AuthOutcome::Forbidden);
            }
        }
        self.replay.prune(now_unix, self.shared.nonces.lifetime());
        let method = req.method_str().unwrap_or("");
        let outcome = auth::check(
            creds.as_ref(),
            method,
            &self.shared.realm,
            &self.shared.algorithms,
            self.account.as_ref(),
            &self.shared.nonces,
            &mut self.replay,
            now_unix,
        );
        if outcome != Checked::Decided(AuthOutcome::Forbidden) || self.account.is_none() {
            return outcome;
        }
        // not the account's own password: perhaps a one-time password
        let live: Vec<AccountRecord> = self
            .otps
            .iter()
            .filter(|o| o.expires_unix > now_unix)
            .map(|o| o.as_account(&self.shared.realm))
            .collect();
        if live.is_empty() {
            return outcome;
        }
        for otp in &live {
            let outcome = auth::check(
                creds.as_ref(),
                method,
                &self.shared.realm,
                &self.shared.algorithms,
                Some(otp),
                &self.shared.nonces,
                &mut self.replay,
                now_unix,
            );
            // a right one-time password replayed is no wrong guess: refused, not counted
            if matches!(outcome, Checked::Replayed { .. }) {
                return outcome;
            }
            if matches!(outcome, Checked::Decided(AuthOutcome::Authenticated { .. })) {
                self.otp_failures = 0;
                // the owner holds the number: a dynamic account is theirs for good now
                if self.shared.db.claim(&self.aor).unwrap_or(false) {
                    self.shared.metrics.dynamic_accounts.dec();
                    info!(number = %self.aor.redacted(), "dynamic account claimed by its owner");
                }
                return outcome;
            }
        }
        // a short code must not be guessed: after a few wrong answers it is revoked (its
        // owner asks for a new one)
        self.otp_failures += 1;
        if self.otp_failures >= MAX_OTP_FAILURES {
            warn!(number = %self.aor.redacted(), "one-time passwords revoked after repeated wrong answers");
            self.otps.clear();
            self.otp_failures = 0;
            if let Err(e) = self.shared.db.remove_otp(&self.aor) {
                warn!(error = %e, "one-time password removal failed");
            }
        }
        outcome
    }

    /// Tells the locations table what this Extension knows now (its account and bindings),
    /// so a MESSAGE finds the devices without asking (`locations`).
    fn publish_location(&self) {
        let location = crate::locations::Location {
            account: self.account.is_some(),
            bindings: self.bindings.clone(),
        };
        self.shared.locations.publish(&self.aor, location);
    }

    /// Starts the delivery of queued messages when a device is registered and something
    /// waits; tells a running one about new messages or devices. The Delivery runs on this
    /// arbiter, under Call-IDs its worker owns, so the devices' answers come straight to it.
    fn deliver(&mut self, ctx: &mut Context<Self>, devices_changed: bool) {
        let now_unix = unix_now();
        let live = |bindings: &[BindingRecord]| -> Vec<BindingRecord> {
            bindings
                .iter()
                .filter(|b| b.expires_at > now_unix)
                .cloned()
                .collect()
        };
        match &self.delivery {
            Some(d) if d.addr.connected() => {
                if devices_changed {
                    d.addr.do_send(Targets(live(&self.bindings)));
                } else {
                    d.addr.do_send(Kick);
                }
                return;
            }
            // it stopped without our hearing of it: start afresh
            _ => self.delivery = None,
        }
        // the devices are copied only when there is something to deliver to them
        if !self.bindings.iter().any(|b| b.expires_at > now_unix)
            || !self.shared.queue.has_messages(&self.aor)
        {
            return;
        }
        let live = live(&self.bindings);
        let Some(transports) = self.shared.transports(self.shard) else {
            return;
        };
        debug!(aor = %self.aor.redacted(), devices = live.len(), "delivery of queued messages starts");
        self.deliveries += 1;
        let id = self.deliveries;
        let start = DeliveryStart {
            id,
            shard: self.shard,
            shards: self.shared.shards(),
            aor: self.aor.clone(),
            targets: live,
            owner: ctx.address().recipient(),
            seed: self.etags.next_u64(),
        };
        let addr = Delivery::new(start, self.shared.clone(), transports).start();
        self.delivery = Some(Running { id, addr });
    }
}

impl Actor for Extension {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared.metrics.extensions_active.inc();
        // the durable state, read before any command is handled (a memory read for anything
        // the store touched recently)
        let loaded = self
            .shared
            .db
            .account(&self.aor)
            .and_then(|a| Ok((a, self.shared.db.bindings(&self.aor)?)));
        match loaded {
            Ok((account, bindings)) => {
                self.account = account;
                self.writes.handle_written(&bindings);
                self.bindings = bindings;
                self.otps = self.shared.db.otps(&self.aor).unwrap_or_default();
                self.publish_location();
            }
            Err(e) => {
                warn!(error = %e, "extension load failed");
                ctx.stop();
                return;
            }
        }
        let tick =
            (self.idle_timeout() / 4).clamp(Duration::from_millis(500), Duration::from_secs(30));
        ctx.run_interval(tick, |act, _| {
            // what is past the retransmission window is no longer held
            act.recent.expire(now());
            let idle = now().saturating_duration_since(act.last_active) >= act.idle_timeout();
            // a running delivery keeps its Extension: a second one would deliver twice; so
            // do watchers, publications and calls (presence lives in memory only)
            let busy = act.delivery.is_some() || act.is_busy();
            act.retire_if(!busy && (idle || act.is_empty()));
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // stopped without retiring (a failed handler): what it held back is not lost
        self.write_pending();
        self.shared.locations.stopped(&self.aor);
        self.presence_stopped();
        self.mwi_stopped();
        self.shared.metrics.extensions_active.dec();
    }
}

impl Handler<Command> for Extension {
    type Result = ();

    fn handle(&mut self, Command(cmd): Command, ctx: &mut Context<Self>) {
        let metrics = self.shared.metrics.clone();
        // a failure drops the command's reply channel, so its requester answers 500
        if guarded("extension command", &metrics, || self.command(cmd, ctx)).is_none() {
            ctx.stop();
        }
    }
}

impl Extension {
    fn command(&mut self, cmd: ExtCommand, ctx: &mut Context<Self>) {
        self.processed += 1;
        self.last_active = now();
        match cmd {
            ExtCommand::Register { req, flow, reply } => {
                let r = self.register(req, flow, ctx);
                debug!(aor = %self.aor.redacted(), reply = ?std::mem::discriminant(&r), "register");
                let ok = matches!(r, RegisterReply::Ok { .. });
                // a refused digest changed nothing; any other answer may have (an Error can
                // follow a change the store refused to keep, still held here)
                let unchanged = matches!(
                    r,
                    RegisterReply::Challenge { .. } | RegisterReply::Forbidden
                );
                let _ = reply.send(r);
                if !unchanged {
                    self.publish_location();
                }
                if ok {
                    self.deliver(ctx, true);
                }
            }
            ExtCommand::Deliver => self.deliver(ctx, false),
            ExtCommand::Watch { req, reply } => {
                let r = self.watch(req, ctx);
                let _ = reply.send(r);
            }
            ExtCommand::Unwatch { id } => {
                self.unwatch(id);
                self.unwatch_mailbox(id);
            }
            ExtCommand::WatchMailbox {
                id,
                device,
                to,
                reply,
            } => self.watch_mailbox(id, device, to, reply, ctx),
            ExtCommand::MailboxChanged(summary) => self.mailbox_changed(summary),
            ExtCommand::Publish { req, reply } => {
                let r = self.publish(&req, ctx);
                let _ = reply.send(r);
            }
            ExtCommand::CallState { call, up, note } => self.call_state(call, up, note, ctx),
            ExtCommand::Presence { reply } => {
                // a binding may have expired since the last change
                self.presence_changed(ctx);
                let _ = reply.send(self.snapshot());
            }
            ExtCommand::Locate { reply } => {
                let now_unix = unix_now();
                let live = self
                    .bindings
                    .iter()
                    .filter(|b| b.expires_at > now_unix)
                    .cloned()
                    .collect();
                // forwarding is read where it is kept (written through by the store actor, a
                // memory read for anything recent), so a change applies to the next call
                let forwarding = match self.account {
                    Some(_) => self.shared.db.forwarding(&self.aor).unwrap_or_else(|e| {
                        warn!(error = %e, "forwarding read failed");
                        ForwardingRecord::default()
                    }),
                    None => ForwardingRecord::default(),
                };
                let _ = reply.send(Located {
                    account: self.account.is_some(),
                    bindings: live,
                    forwarding,
                });
            }
            ExtCommand::Authenticate { req, reply } => {
                let out = self.verify(&req, HeaderName::ProxyAuthorization, unix_now());
                let _ = reply.send(out);
            }
            ExtCommand::AccountChanged => match self.shared.db.account(&self.aor) {
                Ok(acc) => {
                    // a new password starts a new replay window; a one-time password issued
                    // (anyone can ask for a reset) keeps the window, so nothing can be replayed
                    if acc != self.account {
                        self.replay = ReplayWindow::default();
                    }
                    self.account = acc;
                    self.otps = self.shared.db.otps(&self.aor).unwrap_or_default();
                    self.otp_failures = 0;
                    self.publish_location();
                    // an account made or removed changes who may watch it (its list and
                    // grants go with it)
                    self.authorization_changed();
                    self.buddies_changed();
                }
                Err(e) => warn!(error = %e, "account reload failed"),
            },
            ExtCommand::WriteHeldBack { done } => {
                self.write_pending();
                let _ = done.send(());
            }
            ExtCommand::AuthorizationChanged => self.authorization_changed(),
            ExtCommand::BuddiesChanged => self.buddies_changed(),
        }
        // unknown numbers do not keep an actor alive
        self.retire_if(self.is_empty() && self.delivery.is_none());
    }
}

impl Handler<DeliveryEnded> for Extension {
    type Result = ();
    fn handle(&mut self, m: DeliveryEnded, ctx: &mut Context<Self>) {
        if self.delivery.as_ref().is_some_and(|d| d.id == m.id) {
            self.delivery = None;
            // a message queued while it was finishing is not left waiting
            self.deliver(ctx, false);
        }
    }
}

impl Handler<Stop> for Extension {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
