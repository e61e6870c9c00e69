//! Feature codes dialed from a phone (`*72 1002`, `*73`, `*90`/`*91`, `*92`/`*93`): the
//! switch changes the caller's forwarding itself and confirms by answering the call and
//! hanging up (`confirm.rs`, RFC 3261 §13.3.1.4 and §15.1). `*97` alone opens the caller's
//! mailbox (`voicemail/open.rs`).
//!
//! Guarantees: feature codes are for subscribers (a trunk or another domain hears 403) and
//! only an INVITE dials one; the change is flushed to disk before the phone hears the
//! answer, and a caller who hung up meanwhile hears no answer (the change stays made).

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::numbering::{Aor, Feature};
use switchboard_engine::sip::Method;
use tracing::info;

use super::confirm::Confirm;
use super::CallLeg;
use crate::clock::now;
use crate::store::api::ApplyFeature;

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
            // one's own mailbox, to listen
            Feature::Voicemail => return self.listen(i, Some(caller)),
            Feature::SetForward { .. } => "Forwarding Set",
            Feature::ClearForward(_) => "Forwarding Cleared",
        };
        let key = self.txns[i].key.clone();
        let fut = self.shared.store.feature.send(ApplyFeature {
            aor: caller.clone(),
            feature,
        });
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
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
    pub(super) fn confirm(&mut self, i: usize, reason: &str) {
        // with an offer from the phone, the switch answers with its own media and a chime
        let media = super::anchoring::sdp_of(self.txns[i].ctx.request())
            .and_then(|offer| self.prompt_media(&offer));
        let local = &self.shared.local;
        let answered = Confirm::answer(
            now(),
            &mut self.txns[i],
            local,
            &mut self.entropy,
            reason,
            media,
        );
        if answered.is_some() {
            self.confirm = answered;
        }
    }
}
