//! A subscription to a subscriber's own mailbox (`message-summary`, RFC 3842): its
//! Request-URI is the subscriber's own number or the voicemail number, and only the
//! mailbox's owner, authenticated, may make it (`start` answers anyone else the same 403
//! whether the number has a mailbox or not). The owner's Extension answers the watch with the
//! summary it knows and sends each change as a `MailboxNote`; versions order them.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::event::subscription::State;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::txn::ServerKey;
use switchboard_engine::voicemail::mwi::Device;
use tokio::sync::oneshot;

use super::{Subscription, Target};
use crate::api::extension::{ExtCommand, MailboxNote};

/// Watches `mailbox` (the subscriber's own) at its Extension, then accepts.
pub(super) fn start(
    sub: &mut Subscription,
    key: ServerKey,
    req: SipMessage,
    flow: Flow,
    mailbox: Aor,
    expires: u32,
    ctx: &mut Context<Subscription>,
) {
    let Some(me) = sub.me.clone() else { return };
    let device = Device {
        contact: req
            .contacts()
            .next()
            .map(|c| c.uri().as_str().to_owned())
            .unwrap_or_default(),
        source: flow.remote,
    };
    // notes may come before the answer is read: the target takes them
    sub.target = Target::Mailbox { summary: None };
    let (tx, rx) = oneshot::channel();
    sub.shared.to_extension(
        mailbox.clone(),
        ExtCommand::WatchMailbox {
            id: sub.id,
            device,
            to: me.recipient(),
            reply: tx,
        },
    );
    sub.watching.push(mailbox);
    sub.starting = true;
    ctx.spawn(rx.into_actor(sub).map(move |res, act, ctx| {
        act.starting = false;
        let Ok((version, summary)) = res else {
            // the Extension failed before it answered
            return act.fail(&key, &req, &flow, 500, "Server Internal Error", &[], ctx);
        };
        if let Target::Mailbox { summary: known } = &mut act.target {
            if known.as_ref().is_none_or(|(v, _)| *v < version) {
                *known = Some((version, summary));
            }
        }
        act.accepted(key, req, flow, expires, State::Active, ctx);
    }));
}

impl Subscription {
    /// What the mailbox owner's Extension said: a newer summary, or that it stopped.
    pub(super) fn on_mailbox_note(&mut self, note: MailboxNote, ctx: &mut Context<Self>) {
        let Target::Mailbox { summary: known } = &mut self.target else {
            return;
        };
        match note {
            MailboxNote::Summary { version, summary } => {
                if known.as_ref().is_none_or(|(v, _)| *v < version) {
                    *known = Some((version, summary));
                    if let Some(m) = &mut self.machine {
                        m.changed();
                    }
                }
            }
            // RFC 6665 §4.1.3: the subscriber may subscribe again at once (while starting,
            // the watch's answer never comes, which fails the start)
            MailboxNote::Deactivated => {
                if let Some(m) = &mut self.machine {
                    m.terminate("deactivated");
                }
            }
        }
        self.drive(ctx);
    }
}
