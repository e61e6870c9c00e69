//! The message waiting part of an Extension (RFC 3842): the notifier of its number's mailbox.
//!
//! The mailbox store tells it of each change (`api::mwi::MailboxChanged`, passed on by the
//! Directory as `ExtCommand::MailboxChanged`); the engine's `MessageWaiting` keeps the
//! summary and decides who hears: the Subscriptions watching the mailbox get a
//! `MailboxNote` (and send the NOTIFY in their dialog), every other registered device an
//! unsolicited NOTIFY through the `Unsolicited` actor (`[voicemail] unsolicited_mwi`). A device
//! that registers anew gets one when messages wait. When no summary is known yet (a fresh
//! Extension), the store is asked once (`Shared::mailbox_summary`) and whoever needs it waits.

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Recipient, WrapFuture};
use switchboard_engine::store::BindingRecord;
use switchboard_engine::voicemail::mwi::{fresh_devices, Device, MessageWaiting};
use switchboard_engine::voicemail::MessageSummary;
use tokio::sync::oneshot;
use tracing::debug;

use super::unsolicited::{Notice, Unsolicited, UnsolicitedStart};
use super::Extension;
use crate::api::extension::MailboxNote;
use crate::clock::unix_now;

/// What waits for the mailbox's summary while the store is asked.
enum Waiter {
    /// A Subscription's watch: its answer.
    Watch(oneshot::Sender<(u64, MessageSummary)>),
    /// Devices that just registered: told if messages wait.
    Registered(Vec<BindingRecord>),
}

/// The message waiting state an Extension keeps.
pub(super) struct Mwi {
    pub(super) state: MessageWaiting,
    /// Where each watching Subscription hears of changes (ids as in `state`).
    notes: Vec<(u64, Recipient<MailboxNote>)>,
    /// The store was asked and has not answered yet.
    asking: bool,
    waiters: Vec<Waiter>,
    /// Sends the unsolicited NOTIFYs (started on first use; it stops when dropped and done).
    unsolicited: Option<Addr<Unsolicited>>,
}

impl Mwi {
    pub(super) fn new(account: String) -> Mwi {
        Mwi {
            state: MessageWaiting::new(account),
            notes: Vec::new(),
            asking: false,
            waiters: Vec::new(),
            unsolicited: None,
        }
    }

    /// Whether message waiting keeps the Extension alive (a subscription, or a question out).
    pub(super) fn is_busy(&self) -> bool {
        self.state.has_subscribers() || self.asking
    }
}

impl Extension {
    /// A Subscription of this number's owner watches its mailbox.
    pub(super) fn watch_mailbox(
        &mut self,
        id: u64,
        device: Device,
        to: Recipient<MailboxNote>,
        reply: oneshot::Sender<(u64, MessageSummary)>,
        ctx: &mut Context<Self>,
    ) {
        self.mwi.state.subscribe(id, device);
        self.mwi.notes.retain(|(i, _)| *i != id);
        self.mwi.notes.push((id, to));
        match self.mwi.state.summary() {
            Some((version, s)) => {
                let _ = reply.send((version, s.clone()));
            }
            None => self.wait_for_summary(Waiter::Watch(reply), ctx),
        }
    }

    /// A Subscription ended (it may have been one of the mailbox's).
    pub(super) fn unwatch_mailbox(&mut self, id: u64) {
        if self.mwi.state.unsubscribe(id) {
            self.mwi.notes.retain(|(i, _)| *i != id);
        }
    }

    /// The mailbox changed: its watchers and the other devices hear of it.
    pub(super) fn mailbox_changed(&mut self, summary: MessageSummary) {
        let Some(version) = self.mwi.state.change(summary) else {
            return;
        };
        let Some((_, s)) = self.mwi.state.summary() else {
            return;
        };
        let s = s.clone();
        debug!(number = %self.aor.redacted(), version, waiting = s.waiting, "mailbox changed");
        self.mwi.notes.retain(|(_, to)| to.connected());
        for (_, to) in &self.mwi.notes {
            to.do_send(MailboxNote::Summary {
                version,
                summary: s.clone(),
            });
        }
        let targets: Vec<BindingRecord> = self
            .mwi
            .state
            .unsolicited(&self.bindings, unix_now())
            .into_iter()
            .cloned()
            .collect();
        self.send_unsolicited(targets, s);
    }

    /// A REGISTER changed the bindings from `before`: a device that registered anew gets the
    /// summary when messages wait (and it did not subscribe).
    pub(super) fn mailbox_registered(&mut self, before: &[BindingRecord], ctx: &mut Context<Self>) {
        if !self.shared.config.voicemail.unsolicited_mwi {
            return;
        }
        let fresh: Vec<BindingRecord> = fresh_devices(before, &self.bindings, unix_now())
            .into_iter()
            .filter(|b| !self.mwi.state.is_subscribed(b))
            .collect();
        if fresh.is_empty() {
            return;
        }
        match self.mwi.state.summary() {
            Some((_, s)) if s.waiting => {
                let s = s.clone();
                self.send_unsolicited(fresh, s);
            }
            Some(_) => {}
            None => self.wait_for_summary(Waiter::Registered(fresh), ctx),
        }
    }

    /// The Extension stops: its mailbox's watchers hear so (their phones subscribe again).
    pub(super) fn mwi_stopped(&mut self) {
        for (_, to) in self.mwi.notes.drain(..) {
            to.do_send(MailboxNote::Deactivated);
        }
    }

    /// Asks the store for the summary (once, whoever else waits) and serves `w` with it.
    fn wait_for_summary(&mut self, w: Waiter, ctx: &mut Context<Self>) {
        self.mwi.waiters.push(w);
        if self.mwi.asking {
            return;
        }
        self.mwi.asking = true;
        let ask = self.shared.mailbox_summary(self.aor.clone());
        ctx.spawn(ask.into_actor(self).map(|summary, act, _| {
            act.mwi.asking = false;
            let (version, s) = act.mwi.state.learned(summary);
            let s = s.clone();
            let mut devices = Vec::new();
            for w in std::mem::take(&mut act.mwi.waiters) {
                match w {
                    Waiter::Watch(reply) => {
                        let _ = reply.send((version, s.clone()));
                    }
                    Waiter::Registered(b) => devices.extend(b),
                }
            }
            // a device that subscribed meanwhile hears through its subscription
            devices.retain(|b| !act.mwi.state.is_subscribed(b));
            if s.waiting && !devices.is_empty() {
                act.send_unsolicited(devices, s);
            }
        }));
    }

    /// Sends `summary` to `targets` outside any subscription, if the switch does so.
    fn send_unsolicited(&mut self, targets: Vec<BindingRecord>, summary: MessageSummary) {
        if targets.is_empty() || !self.shared.config.voicemail.unsolicited_mwi {
            return;
        }
        let running = self.mwi.unsolicited.as_ref().filter(|a| a.connected());
        let addr = match running {
            Some(a) => a.clone(),
            None => {
                let Some(transports) = self.shared.transports(self.shard) else {
                    return;
                };
                let start = UnsolicitedStart {
                    shard: self.shard,
                    shards: self.shared.shards(),
                    aor: self.aor.clone(),
                    seed: self.etags.next_u64(),
                };
                let a = Unsolicited::new(start, self.shared.clone(), transports).start();
                self.mwi.unsolicited = Some(a.clone());
                a
            }
        };
        addr.do_send(Notice { targets, summary });
    }
}
