//! A subscription to a subscriber's own buddy list (`sip:buddies-<number>@domain`, RFC 4662):
//! one watch per buddy, one NOTIFY carrying all of them (full state first and after a
//! refresh or a list change, then only the buddies that changed).

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::event::subscription::State;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::txn::ServerKey;
use tokio::sync::oneshot;
use tracing::warn;

use super::resources::Resource;
use super::{Subscription, Target};
use crate::api::extension::{ExtCommand, WatchReply, WatchRequest};

/// Watches every buddy of `owner` (and `owner` itself, for list changes), then accepts.
pub(super) fn start(
    sub: &mut Subscription,
    key: ServerKey,
    req: SipMessage,
    flow: Flow,
    owner: Aor,
    expires: u32,
    ctx: &mut Context<Subscription>,
) {
    let buddies = match sub.shared.db.buddies(&owner) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "buddy list read failed");
            sub.starting = false;
            return sub.fail(&key, &req, &flow, 500, "Server Internal Error", &[], ctx);
        }
    };
    let Some(me) = sub.me.clone() else { return };
    let (tx, _owner_rx) = oneshot::channel();
    sub.shared.to_extension(
        owner.clone(),
        ExtCommand::Watch {
            req: WatchRequest {
                watcher: owner.clone(),
                id: sub.id,
                to: me.clone().recipient(),
                list: true,
            },
            reply: tx,
        },
    );
    sub.watching.push(owner.clone());
    let domain = sub.shared.local.domain.clone();
    let max = sub.shared.config.presence.max_buddies;
    let mut resources = Vec::new();
    let mut replies = Vec::new();
    for (aor, rec) in buddies.into_iter().take(max) {
        replies.push(sub.watch_one(&aor, &owner, &me));
        resources.push(Resource::new(aor, rec.display, &domain));
    }
    sub.target = Target::List { owner, resources };
    let all = async move {
        let mut out = Vec::with_capacity(replies.len());
        for rx in replies {
            out.push(rx.await.ok());
        }
        out
    };
    ctx.spawn(all.into_actor(sub).map(move |answers, act, ctx| {
        act.starting = false;
        if let Target::List { resources, .. } = &mut act.target {
            for (r, a) in resources.iter_mut().zip(answers) {
                r.answer(a);
            }
        }
        act.accepted(key, req, flow, expires, State::Active, ctx);
    }));
}

impl Subscription {
    fn watch_one(
        &mut self,
        buddy: &Aor,
        owner: &Aor,
        me: &actix::Addr<Subscription>,
    ) -> oneshot::Receiver<WatchReply> {
        let (tx, rx) = oneshot::channel();
        self.shared.to_extension(
            buddy.clone(),
            ExtCommand::Watch {
                req: WatchRequest {
                    watcher: owner.clone(),
                    id: self.id,
                    to: me.clone().recipient(),
                    list: false,
                },
                reply: tx,
            },
        );
        if !self.watching.contains(buddy) {
            self.watching.push(buddy.clone());
        }
        rx
    }

    /// Watches one buddy again (its Extension stopped and a fresh one takes the watch).
    pub(super) fn rewatch(&mut self, buddy: Aor, ctx: &mut Context<Self>) {
        let Target::List { owner, .. } = &self.target else {
            return;
        };
        let owner = owner.clone();
        let Some(me) = self.me.clone() else { return };
        let rx = self.watch_one(&buddy, &owner, &me);
        ctx.spawn(rx.into_actor(self).map(move |a, act, ctx| {
            if let Target::List { resources, .. } = &mut act.target {
                if let Some(r) = resources.iter_mut().find(|r| r.aor == buddy) {
                    r.answer(a.ok());
                }
            }
            if let Some(m) = &mut act.machine {
                m.changed();
            }
            act.drive(ctx);
        }));
    }

    /// The owner's buddy list changed: watch the new buddies, leave the removed ones, and
    /// send the full list next.
    pub(super) fn reread_list(&mut self, ctx: &mut Context<Self>) {
        let Target::List { owner, .. } = &self.target else {
            return;
        };
        let owner = owner.clone();
        let Ok(buddies) = self.shared.db.buddies(&owner) else {
            return;
        };
        let Some(me) = self.me.clone() else { return };
        let max = self.shared.config.presence.max_buddies;
        let wanted: Vec<_> = buddies.into_iter().take(max).collect();
        let domain = self.shared.local.domain.clone();
        let mut gone = Vec::new();
        let mut added = Vec::new();
        if let Target::List { resources, .. } = &mut self.target {
            resources.retain(|r| {
                let keep = wanted.iter().any(|(a, _)| a == &r.aor);
                if !keep {
                    gone.push(r.aor.clone());
                }
                keep
            });
            for (aor, rec) in &wanted {
                match resources.iter_mut().find(|r| &r.aor == aor) {
                    Some(r) => r.name = rec.display.clone(),
                    None => {
                        resources.push(Resource::new(aor.clone(), rec.display.clone(), &domain));
                        added.push(aor.clone());
                    }
                }
            }
        }
        for aor in gone {
            self.watching.retain(|a| a != &aor);
            self.shared
                .to_extension(aor, ExtCommand::Unwatch { id: self.id });
        }
        for aor in added {
            let rx = self.watch_one(&aor, &owner, &me);
            ctx.spawn(rx.into_actor(self).map(move |a, act, ctx| {
                if let Target::List { resources, .. } = &mut act.target {
                    if let Some(r) = resources.iter_mut().find(|r| r.aor == aor) {
                        r.answer(a.ok());
                    }
                }
                if let Some(m) = &mut act.machine {
                    m.resync();
                }
                act.drive(ctx);
            }));
        }
        if let Some(m) = &mut self.machine {
            m.resync();
        }
    }
}
