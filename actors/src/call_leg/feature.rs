//! Feature codes dialed from a phone (`*72 1002`, `*73`, `*90`/`*91`, `*92`/`*93`, `*97`):
//! the switch changes the caller's forwarding itself and confirms by answering the call and
//! hanging up (`ConfirmDialog`). The change is flushed to disk before the phone hears the
//! answer.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::dialog::{ConfirmDialog, ConfirmOutput};
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::{Aor, Feature};
use switchboard_engine::sip::{Message as SipMessage, Method};
use switchboard_engine::txn::ServerKey;
use tracing::info;

use super::CallLeg;
use crate::clock::now;
use crate::store::api::ApplyFeature;

/// A call the switch answered itself.
pub(super) struct Confirm {
    pub(super) dialog: ConfirmDialog,
    upstream: Flow,
    invite: ServerKey,
    via_fix: Option<switchboard_engine::sip::ViaFix>,
}

impl Confirm {
    pub(super) fn owns_response(&self, resp: &SipMessage) -> bool {
        self.dialog.owns_response(resp)
    }

    /// Takes a request that belongs to the answered dialog (the INVITE again, its ACK, a BYE);
    /// `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, t: std::time::Instant) -> bool {
        let method = msg.method();
        if method == Some(Method::Invite)
            && msg.to_tag().is_none()
            && ServerKey::from_request(msg).as_ref() == Some(&self.invite)
        {
            self.dialog.handle_invite_retransmission();
            return true;
        }
        if !self.dialog.owns(msg) {
            return false;
        }
        match method {
            Some(Method::Ack) => self.dialog.handle_ack(t),
            Some(Method::Bye) => self.dialog.handle_bye(msg, self.via_fix),
            // nothing else is meant for a dialog that is about to end
            _ => return false,
        }
        true
    }
}

impl CallLeg {
    /// A feature code dialed by `caller`.
    pub(super) fn feature(
        &mut self,
        i: usize,
        method: Method,
        caller: Option<Aor>,
        feature: Feature,
        ctx: &mut Context<Self>,
    ) {
        let t = now();
        if method != Method::Invite {
            return self.txns[i].ctx.respond(t, 404, "Not Found", &[]);
        }
        let Some(caller) = caller else {
            return self.txns[i]
                .ctx
                .respond(t, 403, "Feature Codes Are For Subscribers", &[]);
        };
        let reason = match &feature {
            Feature::Voicemail => {
                return self.txns[i]
                    .ctx
                    .respond(t, 480, "Voicemail Not Available", &[])
            }
            Feature::SetForward { .. } => "Forwarding Set",
            Feature::ClearForward(_) => "Forwarding Cleared",
        };
        let key = self.txns[i].key.clone();
        let fut = self.shared.store.feature.send(ApplyFeature {
            aor: caller.clone(),
            feature,
        });
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.index_of(&key) else { return };
            match res {
                Ok(Ok(_)) => {
                    info!(caller = %caller.redacted(), reason, "feature code applied");
                    act.confirm(i, reason);
                }
                Ok(Err((code, why))) => act.txns[i].ctx.respond(now(), code, why, &[]),
                Err(_) => act.txns[i]
                    .ctx
                    .respond(now(), 500, "Server Internal Error", &[]),
            }
            act.after(ctx);
        }));
    }

    /// Answers transaction `i` ourselves and hangs up once the caller acknowledged.
    fn confirm(&mut self, i: usize, reason: &str) {
        let t = now();
        let x = &mut self.txns[i];
        if x.ctx.is_finished() {
            // the caller hung up (CANCEL, 487) while the change was written
            return;
        }
        let mut dialog = ConfirmDialog::new(
            t,
            x.ctx.request(),
            x.upstream.transport,
            x.via_fix,
            &self.shared.local,
            &mut self.entropy,
            reason,
        );
        // the 200 goes through the transaction, so it stops answering by itself
        let Some(ConfirmOutput::Send(ok)) = dialog.poll_output() else {
            return;
        };
        self.confirm = Some(Confirm {
            dialog,
            upstream: x.upstream,
            invite: x.key.clone(),
            via_fix: x.via_fix,
        });
        x.ctx.respond_with(t, 200, ok);
    }

    /// Sends what the answered dialog produced; ends the call when it is over.
    pub(super) fn drain_confirm(&mut self) {
        let Some(c) = self.confirm.as_mut() else {
            return;
        };
        let mut done = false;
        while let Some(o) = c.dialog.poll_output() {
            match o {
                ConfirmOutput::Send(b) => self.transports.send(&c.upstream, b),
                ConfirmOutput::Done => done = true,
            }
        }
        if done {
            self.confirm = None;
            self.end_call();
        }
    }
}
