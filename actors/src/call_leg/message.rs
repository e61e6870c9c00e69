//! MESSAGE (RFC 3428) to our numbers, beyond the fork that delivers it to registered devices
//! (`branches.rs`): the body checks, and storing it in the number's durable queue when no
//! device is registered, when earlier messages still wait (so order is kept), or when no
//! device took it.
//!
//! A text message that routing sends to the PSTN trunk group for a landline (a fixed-line
//! number, `messaging::voice::landline_target`) is read out by a call instead when a speech
//! backend is configured: it goes to the VoiceNotices actor, which keeps it and answers.
//!
//! Messages for a number nobody signed up (no account, or a dynamic one nobody claimed) are
//! limited per source address and per number per hour, and the dynamic accounts a source
//! makes per hour (`Shared::admit_stored`); past a limit the sender hears 503 Too Many
//! Messages with Retry-After.
//!
//! Storing is `offline` (shared with the workers' relay, which carries most MESSAGEs without a
//! CallLeg, `worker::pager`).
//!
//! Guarantees: the sender hears 202 only after the group commit put the message on disk (for
//! a landline, after the notice's record was flushed); a refusal of the queue (its caps) or an
//! unavailable store is answered, never dropped.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::messaging::voice::landline_target;
use switchboard_engine::messaging::{check_body, is_text_plain, wire};
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::HeaderName;
use switchboard_engine::txn::ServerKey;
use tokio::sync::oneshot;

use super::CallLeg;
use crate::api::voice_notices::ReadOut;
use crate::clock::now;
use crate::offline;

impl CallLeg {
    /// Refuses a MESSAGE whose body cannot be taken; `true` when it was answered.
    pub(super) fn refused_body(&mut self, i: usize) -> bool {
        let req = self.txns[i].ctx.request();
        let ct = req.header(HeaderName::ContentType).unwrap_or("text/plain");
        let max = self.shared.config.messaging.max_body_bytes;
        let Err(e) = check_body(ct, req.body(), max) else {
            return false;
        };
        let (code, reason) = e.status();
        self.count("refused_body");
        self.txns[i].ctx.respond(now(), code, reason, &[]);
        true
    }

    /// Whether the MESSAGE of transaction `i`, for `aor` just looked up, is stored instead of
    /// delivered now.
    pub(super) fn stores_instead(
        &self,
        i: usize,
        aor: &Aor,
        account: bool,
        devices: usize,
    ) -> bool {
        let is_message = self.txns[i].setup.as_ref().is_some_and(|s| s.is_message());
        is_message
            && self.shared.may_queue_for(aor, account)
            && (devices == 0 || self.shared.queue.has_messages(aor))
    }

    /// Whether a MESSAGE no device took (`code`) is stored for later instead of answered.
    pub(super) fn stores_after_failure(&self, i: usize, code: u16) -> Option<Aor> {
        let (aor, account) = self.txns[i].setup.as_ref()?.queues_after(code)?;
        self.shared.may_queue_for(aor, account).then(|| aor.clone())
    }

    /// Writes the MESSAGE of `key` to the queue of `aor`; answers 202 once it is on disk.
    /// `online`: a device is registered (it gets the message from the queue's delivery).
    pub(super) fn store(
        &mut self,
        key: ServerKey,
        aor: Aor,
        online: bool,
        ctx: &mut Context<Self>,
    ) {
        let Some(i) = self.txns.index_of(&key) else {
            return;
        };
        let caller = self.txns[i]
            .setup
            .as_ref()
            .and_then(|s| s.caller().cloned());
        let account = self.txns[i]
            .setup
            .as_ref()
            .and_then(|s| s.location())
            .is_some_and(|(_, l)| l.account);
        let source = self.txns[i].upstream().remote.ip();
        let req = self.txns[i].ctx.request();
        let (tx, rx) = oneshot::channel();
        let queued = offline::enqueue(
            &self.shared,
            req,
            caller.as_ref(),
            &aor,
            account,
            source,
            online,
            tx.into(),
        );
        let kept = match queued {
            Ok(q) => q,
            Err(a) => return respond(&mut self.txns[i].ctx, a),
        };
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let a = offline::answered(&act.shared, kept, res);
            respond(&mut act.txns[i].ctx, a);
            act.after(ctx);
        }));
    }

    /// The landline, trunk group and text of the MESSAGE of transaction `i` when it is read
    /// out rather than sent: routing chose the PSTN group for a fixed-line number, the body is
    /// text to speak, and the switch speaks.
    pub(super) fn landline_text(&self, i: usize) -> Option<(Aor, String, String)> {
        if !self.shared.reads_out_to_landlines() {
            return None;
        }
        let setup = self.txns[i].setup.as_ref()?;
        let (group, number) = setup.message_trunk()?;
        let to = landline_target(&self.shared.plan, group, number)?;
        let req = self.txns[i].ctx.request();
        let ct = req.header(HeaderName::ContentType).unwrap_or("text/plain");
        if !is_text_plain(ct) {
            return None;
        }
        let text = std::str::from_utf8(req.body()).ok()?.trim();
        (!text.is_empty()).then(|| (to, group.to_owned(), text.to_owned()))
    }

    /// Hands the MESSAGE of `key` to the VoiceNotices actor to read `text` out to `to`
    /// through `group`; answers 202 with its Message-ID once the notice is on disk.
    pub(super) fn read_out(
        &mut self,
        key: ServerKey,
        to: Aor,
        group: String,
        text: String,
        ctx: &mut Context<Self>,
    ) {
        let Some(i) = self.txns.index_of(&key) else {
            return;
        };
        let Some(notices) = self.shared.voice_notices.get() else {
            return self.txns[i]
                .ctx
                .respond(now(), 503, "Voice Notices Unavailable", &[]);
        };
        let caller = self.txns[i]
            .setup
            .as_ref()
            .and_then(|s| s.caller().cloned());
        let sender = self
            .shared
            .sender_of(self.txns[i].ctx.request(), caller.as_ref());
        let (reply, rx) = oneshot::channel();
        notices.read_out.do_send(ReadOut {
            to,
            group,
            sender,
            text,
            secret: false,
            reply,
        });
        ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            let t = now();
            match res {
                Ok(Ok(id)) => {
                    act.count("voice_notice");
                    act.txns[i]
                        .ctx
                        .respond(t, 202, "Accepted", &[(wire::MESSAGE_ID, &id)]);
                }
                Ok(Err(refusal)) => {
                    act.txns[i]
                        .ctx
                        .respond(t, refusal.code, refusal.reason, &[]);
                }
                Err(_) => act.txns[i]
                    .ctx
                    .respond(t, 503, "Voice Notices Unavailable", &[]),
            }
            act.after(ctx);
        }));
    }

    fn count(&self, outcome: &'static str) {
        offline::count(&self.shared, outcome);
    }
}

/// Sends the answer of the queue (or of its limits) through the request's context.
fn respond(ctx: &mut switchboard_engine::proxy::ProxyContext, a: offline::Answer) {
    match &a.header {
        Some((name, value)) => ctx.respond(now(), a.code, a.reason, &[(name, value)]),
        None => ctx.respond(now(), a.code, a.reason, &[]),
    }
}
