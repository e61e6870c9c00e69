//! The VoiceNotices actor: text messages to landlines, read out by calls
//! (`messaging::voice`).
//!
//! A CallLeg whose MESSAGE routing sent to the PSTN group for a landline hands it here
//! (`ReadOut`). The notice is written to the store and the store actor flushes before the
//! sender is answered with its Message-ID (so a 202 is never lost); then the text is spoken on
//! a blocking thread (`Shared::speech`), once per notice, and played twice by each call. The
//! engine's `NoticeAttempts` decides when to call and call again; each call is a CallLeg
//! started on the worker that owns its fresh Call-ID (`Shared::place_notice`), which reports
//! back with `AttemptEnded`. Every step is written to the notice's record: the calls made, the
//! last failure, and at the end the outcome (flushed), which the messages API shows the
//! sender.
//!
//! At start the notices still pending in the store are picked up again with the calls they
//! had made; a call in progress when the switch stopped is not counted, so it is made again.
//!
//! A secret text (a member's verification code, `ReadOut::secret`) goes through the same
//! calls and retries but is never written: it is accepted at once, lives in memory until its
//! last call, and a restart drops it (the member asks for a new code; the code itself is
//! stored only hashed, in the member's record).

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Recipient, WrapFuture};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::SampleRate;
use switchboard_engine::messaging::voice::{
    read_twice, Cause, Failure, NoticeAction, NoticeAttempts, NoticeState, Retries,
    VoiceNoticeRecord, MAX_SPOKEN_TEXT, TOO_LONG,
};
use switchboard_engine::messaging::{message_id, Refusal};
use switchboard_engine::numbering::{Aor, AorKind};
use tracing::{info, warn};

use crate::api::voice_notices::{AttemptEnded, NoticeCallSpec, ReadOut};
use crate::clock::{now, unix_now_ms, Timer};
use crate::metrics::OutcomeLabel;
use crate::shared::Shared;
use crate::store::api::Flush;

/// A notice being delivered.
struct Live {
    rec: VoiceNoticeRecord,
    attempts: NoticeAttempts,
    /// What each call plays, once spoken.
    audio: Option<(SampleRate, Arc<[i16]>)>,
    /// Kept in memory only (`ReadOut::secret`).
    secret: bool,
}

pub struct VoiceNotices {
    shared: Arc<Shared>,
    retries: Retries,
    live: HashMap<u64, Live>,
    entropy: Entropy,
    timer: Timer,
    me: Option<Recipient<AttemptEnded>>,
}

impl VoiceNotices {
    pub fn new(shared: Arc<Shared>) -> VoiceNotices {
        VoiceNotices {
            retries: shared.config.voicemail.notice_retries(),
            shared,
            live: HashMap::new(),
            entropy: Entropy::seeded(rand::random()),
            timer: Timer::default(),
            me: None,
        }
    }

    /// Keeps the text for `m.to` and answers once it is on disk; then reads it out.
    fn accept(&mut self, m: ReadOut, ctx: &mut Context<Self>) {
        let unavailable = Refusal {
            code: 503,
            reason: "Message Store Unavailable",
        };
        if m.text.len() > MAX_SPOKEN_TEXT {
            let (code, reason) = TOO_LONG;
            let _ = m.reply.send(Err(Refusal { code, reason }));
            return;
        }
        let Ok(seq) = self.shared.db.next_message_seq() else {
            let _ = m.reply.send(Err(unavailable));
            return;
        };
        let at = unix_now_ms();
        let rec = VoiceNoticeRecord {
            id: message_id(seq, &self.entropy.token(10), &self.shared.local.domain),
            to: m.to.as_str().to_owned(),
            group: m.group,
            sender: m.sender,
            text: m.text,
            accepted_unix_ms: at,
            attempts: 0,
            state: NoticeState::Pending { last: None },
            updated_unix_ms: at,
        };
        if m.secret {
            info!(number = %m.to.redacted(), seq, "code to be read out");
            let _ = m.reply.send(Ok(rec.id.clone()));
            return self.start(seq, rec, true, ctx);
        }
        if let Err(e) = self.shared.db.put_notice(seq, &rec) {
            warn!(error = %e, "voice notice not written");
            let _ = m.reply.send(Err(unavailable));
            return;
        }
        let reply = m.reply;
        let flushed = self.shared.store.flush.send(Flush);
        ctx.spawn(flushed.into_actor(self).map(move |res, act, ctx| {
            if matches!(res, Ok(Ok(_))) {
                info!(number = %m.to.redacted(), seq, "text to a landline accepted; to be read out");
                let _ = reply.send(Ok(rec.id.clone()));
                act.start(seq, rec, false, ctx);
            } else {
                warn!(seq, "voice notice not flushed; refused");
                // never called: the sender was not told it was taken
                let mut rec = rec;
                rec.state = NoticeState::Failed(Failure::new(Cause::Unplaceable, 503));
                let _ = act.shared.db.put_notice(seq, &rec);
                let _ = reply.send(Err(unavailable));
            }
        }));
    }

    /// Speaks the text of notice `seq` (off the actor thread), then calls; a `secret` one is
    /// never written.
    fn start(&mut self, seq: u64, rec: VoiceNoticeRecord, secret: bool, ctx: &mut Context<Self>) {
        let last = match rec.state {
            NoticeState::Pending { last } => last,
            _ => return,
        };
        let text = rec.text.clone();
        let attempts = NoticeAttempts::new(self.retries, rec.attempts, last);
        self.live.insert(
            seq,
            Live {
                rec,
                attempts,
                audio: None,
                secret,
            },
        );
        let speech = self.shared.speech.clone();
        let spoken = tokio::task::spawn_blocking(move || {
            speech
                .speak(&text)
                .map(|(rate, samples)| (rate, Arc::<[i16]>::from(read_twice(&samples, rate))))
        });
        ctx.spawn(spoken.into_actor(self).map(move |res, act, ctx| {
            let Some(live) = act.live.get_mut(&seq) else {
                return;
            };
            match res {
                Ok(Ok(audio)) => {
                    live.audio = Some(audio);
                    live.attempts.begin(now());
                }
                Ok(Err(e)) => {
                    warn!(seq, error = %e, "voice notice: the text could not be spoken");
                    live.attempts.give_up(Failure::new(Cause::NotSpoken, 0));
                }
                Err(e) => {
                    warn!(seq, error = %e, "voice notice: the speech thread failed");
                    live.attempts.give_up(Failure::new(Cause::NotSpoken, 0));
                }
            }
            act.drive(seq);
            act.schedule(ctx);
        }));
    }

    /// Carries out what notice `seq`'s attempts decided.
    fn drive(&mut self, seq: u64) {
        loop {
            let Some(live) = self.live.get_mut(&seq) else {
                return;
            };
            let Some(action) = live.attempts.poll_action() else {
                return;
            };
            match action {
                NoticeAction::Dial { attempt } => {
                    if !self.dial(seq, attempt) {
                        let failure = Failure::new(Cause::Unplaceable, 503);
                        if let Some(live) = self.live.get_mut(&seq) {
                            live.attempts.handle_result(
                                now(),
                                attempt,
                                switchboard_engine::messaging::voice::AttemptResult::Failed(
                                    failure,
                                ),
                            );
                        }
                    }
                }
                NoticeAction::Waiting { attempts, last } => {
                    live.rec.attempts = attempts;
                    live.rec.state = NoticeState::Pending { last: Some(last) };
                    live.rec.updated_unix_ms = unix_now_ms();
                    // written behind: a crash costs at most one call more
                    if live.secret {
                        continue;
                    }
                    if let Err(e) = self.shared.db.put_notice(seq, &live.rec) {
                        warn!(seq, error = %e, "voice notice progress not written");
                    }
                }
                NoticeAction::Finished { state, attempts } => {
                    let Some(mut live) = self.live.remove(&seq) else {
                        return;
                    };
                    live.rec.attempts = attempts;
                    live.rec.state = state;
                    live.rec.updated_unix_ms = unix_now_ms();
                    self.finished(seq, &live.rec, live.secret);
                }
            }
        }
    }

    /// Asks a worker to place call `attempt` of notice `seq`; false when it cannot go.
    fn dial(&mut self, seq: u64, attempt: u32) -> bool {
        let (Some(live), Some(report)) = (self.live.get(&seq), self.me.clone()) else {
            return false;
        };
        let Some((rate, audio)) = live.audio.clone() else {
            return false;
        };
        let to = Aor::from_canonical(&live.rec.to);
        info!(number = %to.redacted(), seq, attempt, "voice notice: calling");
        let call = NoticeCallSpec {
            seq,
            attempt,
            from: self.caller_id(&live.rec.sender),
            to,
            group: live.rec.group.clone(),
            audio,
            rate,
            ring: self.shared.config.voicemail.notice_ring(),
            report,
        };
        self.shared.place_notice(call)
    }

    /// Who the landline sees calling: the sender's number when it has one.
    fn caller_id(&self, sender: &str) -> String {
        let domain = &self.shared.local.domain;
        let aor = Aor::from_canonical(sender);
        if aor.kind() == AorKind::E164 {
            let shown = self.shared.plan.display(&aor).replace('"', "");
            format!("\"{shown}\" <sip:{sender}@{domain}>")
        } else {
            format!("\"Message\" <sip:notice@{domain}>")
        }
    }

    /// Notice `seq` is over: its outcome is counted, and written and flushed unless the
    /// notice is `secret`.
    fn finished(&mut self, seq: u64, rec: &VoiceNoticeRecord, secret: bool) {
        let outcome = match rec.state {
            NoticeState::Delivered => "delivered",
            NoticeState::Failed(f) => f.cause.as_str(),
            NoticeState::Pending { .. } => return,
        };
        info!(
            number = %Aor::from_canonical(&rec.to).redacted(),
            seq,
            outcome,
            calls = rec.attempts,
            "voice notice finished"
        );
        self.count_outcome(outcome);
        if secret {
            return;
        }
        if let Err(e) = self.shared.db.put_notice(seq, rec) {
            warn!(seq, error = %e, "voice notice outcome not written");
            return;
        }
        self.shared.store.flush.do_send(Flush);
    }

    fn count_outcome(&self, outcome: &'static str) {
        self.shared
            .metrics
            .voice_notices
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .live
            .values()
            .filter_map(|l| l.attempts.poll_timeout())
            .min();
        self.timer.set(ctx, next, |a| &mut a.timer, Self::on_timer);
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let t = now();
        let due: Vec<u64> = self
            .live
            .iter_mut()
            .filter(|(_, l)| l.attempts.poll_timeout().is_some_and(|at| at <= t))
            .map(|(seq, l)| {
                l.attempts.handle_timeout(t);
                *seq
            })
            .collect();
        for seq in due {
            self.drive(seq);
        }
        self.schedule(ctx);
    }
}

impl Actor for VoiceNotices {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address().recipient());
        let pending = match self.shared.db.pending_notices() {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "pending voice notices not read");
                return;
            }
        };
        if !pending.is_empty() {
            info!(notices = pending.len(), "voice notices picked up again");
        }
        for (seq, rec) in pending {
            self.start(seq, rec, false, ctx);
        }
    }
}

impl Handler<ReadOut> for VoiceNotices {
    type Result = ();
    fn handle(&mut self, m: ReadOut, ctx: &mut Context<Self>) {
        self.accept(m, ctx);
    }
}

impl Handler<AttemptEnded> for VoiceNotices {
    type Result = ();
    fn handle(&mut self, m: AttemptEnded, ctx: &mut Context<Self>) {
        let outcome = match m.result {
            switchboard_engine::messaging::voice::AttemptResult::Delivered => "delivered",
            switchboard_engine::messaging::voice::AttemptResult::Failed(f) => f.cause.as_str(),
        };
        self.shared
            .metrics
            .voice_notice_calls
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        if let Some(live) = self.live.get_mut(&m.seq) {
            live.attempts.handle_result(now(), m.attempt, m.result);
        }
        self.drive(m.seq);
        self.schedule(ctx);
    }
}
