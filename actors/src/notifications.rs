//! The Notifications actor: tells the owner of an offline number that messages wait, and
//! sends password-reset codes, through the configured notifier gateway.
//!
//! A voice message left in a mailbox is told at once, one SMS per message (who called, when,
//! how long), to a mailbox that is a mobile number.
//!
//! Queued messages are coalesced per number (`messaging::Coalescer`: one SMS per burst, at
//! most one per number per `notify.min_interval_secs`). When a notice is due, the store actor
//! issues a fresh one-time password if the number is a dynamic account nobody claimed yet
//! (never for an account whose owner set a password), the text is written, and the SMS goes to
//! the gateway thread, which alone blocks on the network. One-time passwords are limited per
//! number (`accounts.otp_*`, `security::Abuse::otp`): past the limit a notice carries no new
//! code. A landline cannot take an SMS: with
//! a speech backend (`[voicemail] tts`) the same text, its numbers spelled digit by digit, is
//! read out by a call through the PSTN trunk group (`crate::voice_notices`); without one the
//! notice is only recorded (counted as `voice_pending` and logged).

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use crossbeam::channel::{self, Sender};
use switchboard_engine::messaging::voice::spell_digits;
use switchboard_engine::messaging::{Coalescer, Notice, SmsText};
use switchboard_engine::numbering::Aor;
use switchboard_engine::routing::PSTN_GROUP;
use switchboard_engine::store::OtpPurpose;
use tracing::{debug, info, warn};

use crate::api::extension::ExtCommand;
use crate::api::notifications::{Queued, SendCode, SendReset, VoicemailLeft};
use crate::api::voice_notices::ReadOut;
use crate::clock::{now, Timer};
use crate::metrics::OutcomeLabel;
use crate::notifier::{Gateway, Sms};
use crate::shared::Shared;
use crate::store::api::IssueOtp;

pub struct Notifications {
    shared: Arc<Shared>,
    coalescer: Coalescer,
    text: SmsText,
    gateway: Sender<Sms>,
    timer: Timer,
}

impl Notifications {
    /// Starts the gateway thread with `gateway`; the actor is started by the caller.
    pub fn new(shared: Arc<Shared>, gateway: Box<dyn Gateway>) -> Notifications {
        let n = &shared.config.notify;
        let coalescer = Coalescer::new(
            Duration::from_millis(n.coalesce_ms),
            Duration::from_secs(n.min_interval_secs),
            n.sms_max_chars + 1,
        );
        let text = SmsText {
            max_chars: n.sms_max_chars,
            preview_chars: n.preview_chars,
        };
        let (tx, rx) = channel::unbounded::<Sms>();
        let metrics = shared.metrics.clone();
        std::thread::Builder::new()
            .name("notifier".into())
            .spawn(move || {
                let mut gateway = gateway;
                for sms in rx {
                    let outcome = send_with_retries(gateway.as_mut(), &sms);
                    metrics
                        .notifications
                        .get_or_create(&OutcomeLabel { outcome })
                        .inc();
                }
            })
            .expect("spawn the notifier thread");
        Notifications {
            shared,
            coalescer,
            text,
            gateway: tx,
            timer: Timer::default(),
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self.coalescer.poll_timeout();
        self.timer.set(ctx, next, |a| &mut a.timer, Self::on_timer);
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        for n in self.coalescer.due(now()) {
            self.notify(n, ctx);
        }
        self.schedule(ctx);
    }

    fn notify(&mut self, n: Notice, ctx: &mut Context<Self>) {
        let plan = &self.shared.plan;
        let landline = plan.is_landline(&n.aor);
        if landline && !self.shared.reads_out_to_landlines() {
            info!(number = %n.aor.redacted(), messages = n.count, "landline: a voice notice would be placed (no speech backend)");
            self.count("voice_pending");
            return;
        }
        let sender = Aor::from_canonical(&n.sender);
        let sender = if sender.kind() == switchboard_engine::numbering::AorKind::E164 {
            plan.display(&sender)
        } else {
            n.sender.clone()
        };
        let aor = n.aor.clone();
        let deliver = move |act: &mut Self, otp: Option<String>| {
            if landline {
                let otp = otp.map(|p| spell_digits(&p));
                let text = act.text.compose(&n, &spell_digits(&sender), otp.as_deref());
                // a notice carrying a sign-in password is never written to the store
                act.read_out(n.aor, text, otp.is_some());
            } else {
                let text = act.text.compose(&n, &sender, otp.as_deref());
                act.send(&n.aor, text);
            }
        };
        // a sign-in code is issued only to a dynamic account nobody claimed; past the number's
        // one-time-password limit the notice goes without a new code (the last one works)
        let unclaimed = self.shared.db.dynamic(&aor).ok().flatten().is_some();
        if unclaimed && self.shared.security.abuse.otp(&aor).is_err() {
            self.count("otp_limited");
            return deliver(self, None);
        }
        self.issue_then(aor, OtpPurpose::SignIn, ctx, deliver);
    }

    /// Asks the store actor for a one-time password for `aor`, then calls `then` with it
    /// (`None`: none was issued); a running Extension learns of a new one first.
    fn issue_then(
        &mut self,
        aor: Aor,
        purpose: OtpPurpose,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, Option<String>) + 'static,
    ) {
        let issue = IssueOtp {
            aor: aor.clone(),
            purpose,
        };
        let fut = self
            .shared
            .store
            .otp
            .send(issue)
            .into_actor(self)
            .map(move |otp, act, _| {
                let otp = otp.ok().flatten();
                if otp.is_some() {
                    act.shared.to_extension(aor, ExtCommand::AccountChanged);
                }
                then(act, otp);
            });
        ctx.spawn(fut);
    }

    fn send(&self, aor: &Aor, text: String) {
        debug!(number = %aor.redacted(), "notice to the gateway");
        let _ = self.gateway.send(Sms {
            to: aor.to_string(),
            text,
        });
    }

    /// Has the notice `text` read out to the landline `aor` by a call (its outcome is the
    /// VoiceNotices actor's to keep and count); a `secret` one (it carries a one-time
    /// password) is kept in memory only, so a restart before its call loses it (the next
    /// notice brings a fresh password).
    fn read_out(&self, aor: Aor, text: String, secret: bool) {
        let Some(notices) = self.shared.voice_notices.get() else {
            return self.count("voice_pending");
        };
        debug!(number = %aor.redacted(), "notice to be read out");
        // nobody waits for the answer: the notice is the switch's own
        let (reply, _) = tokio::sync::oneshot::channel();
        notices.read_out.do_send(ReadOut {
            to: aor,
            group: PSTN_GROUP.to_owned(),
            sender: String::new(),
            text,
            secret,
            reply,
        });
        self.count("voice");
    }

    fn count(&self, outcome: &'static str) {
        self.shared
            .metrics
            .notifications
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}

/// Hands an SMS to the gateway, trying again twice (after 1 s and 2 s) when it was out of
/// reach; a refusal is final.
fn send_with_retries(g: &mut dyn Gateway, sms: &Sms) -> &'static str {
    for attempt in 0..3u32 {
        match g.send(sms) {
            Ok(()) => return "sent",
            Err(crate::notifier::GatewayError::Refused(why)) => {
                warn!(gateway = g.kind(), error = %why, "SMS refused by the gateway");
                return "refused";
            }
            Err(e) => {
                warn!(gateway = g.kind(), error = %e, attempt, "SMS not handed over");
                std::thread::sleep(Duration::from_secs(1 << attempt));
            }
        }
    }
    "failed"
}

impl Actor for Notifications {
    type Context = Context<Self>;
}

impl Handler<Queued> for Notifications {
    type Result = ();
    fn handle(&mut self, q: Queued, ctx: &mut Context<Self>) {
        self.coalescer
            .queued(now(), &q.aor, &q.sender, q.text.as_deref());
        self.schedule(ctx);
    }
}

impl Handler<SendReset> for Notifications {
    type Result = ();
    fn handle(&mut self, m: SendReset, ctx: &mut Context<Self>) {
        if self.shared.plan.is_landline(&m.aor)
            || m.aor.kind() != switchboard_engine::numbering::AorKind::E164
        {
            self.count("reset_unreachable");
            return;
        }
        let valid_minutes = self.shared.config.accounts.reset_valid_secs / 60;
        let aor = m.aor.clone();
        self.issue_then(aor, OtpPurpose::Reset, ctx, move |act, code| {
            // no account: nothing is sent, and the caller was answered the same already
            let Some(code) = code else { return };
            let text = act.text.reset(&code, valid_minutes.max(1));
            act.send(&m.aor, text);
        });
    }
}

impl Handler<SendCode> for Notifications {
    type Result = ();
    fn handle(&mut self, m: SendCode, _: &mut Context<Self>) {
        info!(number = %m.to.redacted(), "verification code");
        self.send(&m.to, m.text);
    }
}

impl Handler<VoicemailLeft> for Notifications {
    type Result = ();
    fn handle(&mut self, m: VoicemailLeft, _: &mut Context<Self>) {
        // an SMS needs a mobile number: names, extensions and landlines get none
        if m.mailbox.kind() != switchboard_engine::numbering::AorKind::E164
            || self.shared.plan.is_landline(&m.mailbox)
        {
            debug!(number = %m.mailbox.redacted(), "voicemail notice: no phone to text");
            self.count("no_phone");
            return;
        }
        let caller = Aor::from_canonical(&m.caller);
        let caller = if caller.kind() == switchboard_engine::numbering::AorKind::E164 {
            self.shared.plan.display(&caller)
        } else {
            m.caller.clone()
        };
        let text = self.text.voicemail(&caller, m.received_unix, m.duration_ms);
        info!(number = %m.mailbox.redacted(), duration_ms = m.duration_ms, "voicemail notice");
        self.send(&m.mailbox, text);
    }
}
