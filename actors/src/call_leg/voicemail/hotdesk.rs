//! The hot-desk voice menu, a part of the leg: `*55` dialed alone from a registered phone. The
//! switch answers the INVITE itself (`answered.rs`, as for voicemail) and the engine's
//! `HotDeskMenu` asks for the number and the PIN by prompt clips, reading the keys (RFC 4733
//! or SIP INFO). The sign-in it asks for is the one `*55<number>*<pin>` makes
//! (`members::sign_in`: the member's PIN, its lockout, the session); the store actor flushes
//! it, and only then does the phone hear that it is signed in (a `HotDeskFlushed` note to the
//! leg). Then the switch says goodbye and hangs up.
//!
//! Guarantees: the menu starts with the ACK; a sign-in is confirmed only once it is on disk;
//! the switch's BYE follows the machine's `HangUp` or a media timeout.

use std::time::Instant;

use actix::Recipient;
use switchboard_engine::dialog::CallEvent;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::Source;
use switchboard_engine::members::{HotDeskAction, HotDeskMenu, HotDeskMenuConfig, SignInOutcome};
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::Audio;
use tracing::info;

use super::super::members::sign_in;
use super::super::CallLeg;
use super::answered::Answered;
use super::deposit::REASON_TIMEOUT;
use super::VoicemailCall;
use crate::api::leg::HotDeskFlushed;
use crate::clock::now;
use crate::prompts::PromptSet;
use crate::shared::Shared;
use crate::store::api::Flush;

/// The Reason of our BYE when the menu is over.
const REASON_DONE: &str = "SIP;cause=200;text=\"Hot Desk Menu Done\"";

/// A phone in the hot-desk menu.
pub(super) struct HotDeskCall {
    call: Answered,
    /// The phone that dialed: the one signed in.
    phone: Aor,
    shared: std::sync::Arc<Shared>,
    /// Where the store's word on a sign-in's flush goes (the leg).
    flushed: Recipient<HotDeskFlushed>,
    /// Made at the ACK.
    machine: Option<HotDeskMenu>,
}

impl HotDeskCall {
    pub(super) fn call(&mut self) -> &mut Answered {
        &mut self.call
    }

    pub(super) fn session_id(&self) -> crate::api::media::MediaSessionId {
        self.call.session_id()
    }

    /// The dialog took something: what it reports, then what the machine asks.
    pub(super) fn react(&mut self, now: Instant) {
        while let Some(e) = self.call.poll_event(now) {
            match e {
                CallEvent::Acked { .. } if self.machine.is_none() => {
                    info!(phone = %self.phone.redacted(), "hot-desk menu answered");
                    self.machine = Some(HotDeskMenu::new(now, HotDeskMenuConfig::default()));
                }
                CallEvent::AckTimedOut => {
                    self.call
                        .hang_up(now, switchboard_engine::dialog::NORMAL_CLEARING);
                }
                CallEvent::Digit(d) => {
                    if let Some(m) = self.machine.as_mut() {
                        m.handle_digit(now, d.digit);
                    }
                }
                _ => {}
            }
        }
        self.act(now);
    }

    /// A key the caller pressed (RFC 4733 on its media).
    pub(super) fn digit(&mut self, now: Instant, digit: Digit) {
        if let Some(m) = self.machine.as_mut() {
            m.handle_digit(now, digit);
        }
        self.act(now);
    }

    /// What played to the caller ended: the next item, or the end of the playback.
    pub(super) fn play_finished(&mut self, now: Instant) {
        let ended = self.call.play_finished(now, sound);
        if let (Some(id), Some(m)) = (ended, self.machine.as_mut()) {
            m.handle_play_finished(now, id);
        }
        self.act(now);
    }

    /// The sign-in asked for is on disk (`ok`), or it could not be made durable.
    pub(super) fn flushed(&mut self, now: Instant, ok: bool) {
        if let Some(m) = self.machine.as_mut() {
            let outcome = if ok {
                SignInOutcome::SignedIn
            } else {
                SignInOutcome::Failed
            };
            m.handle_sign_in(now, outcome);
        }
        self.act(now);
    }

    pub(super) fn media_died(&mut self, now: Instant) {
        self.abort(now, REASON_TIMEOUT);
    }

    pub(super) fn abort(&mut self, now: Instant, reason: &str) {
        self.call.hang_up(now, reason);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let machine = self.machine.as_ref().and_then(HotDeskMenu::poll_timeout);
        [self.call.poll_timeout(), machine]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        self.call.handle_timeout(now);
        if let Some(m) = self.machine.as_mut() {
            m.handle_timeout(now);
        }
        self.react(now);
    }

    /// Carries out what the machine asks.
    fn act(&mut self, now: Instant) {
        loop {
            let Some(action) = self.machine.as_mut().and_then(HotDeskMenu::poll_action) else {
                return;
            };
            match action {
                HotDeskAction::Play(p) => {
                    if let Some(id) = self.call.play(now, p, sound) {
                        if let Some(m) = self.machine.as_mut() {
                            m.handle_play_finished(now, id);
                        }
                    }
                }
                HotDeskAction::StopPlaying => self.call.stop_playing(),
                HotDeskAction::SignIn { number, pin } => {
                    match sign_in(&self.shared, &self.phone, &number, &pin) {
                        Ok(()) => self.flush(),
                        Err(e) => {
                            if let Some(m) = self.machine.as_mut() {
                                m.handle_sign_in(now, e.outcome());
                            }
                        }
                    }
                }
                HotDeskAction::HangUp => self.call.hang_up(now, REASON_DONE),
            }
        }
    }

    /// Has the store actor flush the sign-in; the leg hears when it is done.
    fn flush(&self) {
        let done = self.shared.store.flush.send(Flush);
        let to = self.flushed.clone();
        actix::spawn(async move {
            let ok = matches!(done.await, Ok(Ok(_)));
            to.do_send(HotDeskFlushed { ok });
        });
    }
}

/// How an item of the menu sounds: only prompt clips are asked for.
fn sound(item: Audio) -> Option<Source> {
    match item {
        Audio::Clip(c) => PromptSet::embedded().clip(c.name()),
        _ => None,
    }
}

impl CallLeg {
    /// The INVITE of transaction `i` dials `*55` alone from `phone`: the switch answers with
    /// the hot-desk menu.
    pub(in crate::call_leg) fn hot_desk_menu(&mut self, i: usize, phone: Aor) {
        let t = now();
        let Some(offer) = super::super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            // the switch answers with its own media, so it needs the phone's offer
            return self.txns[i].ctx.respond(t, 488, "Offer Required", &[]);
        };
        let Some(me) = self.me.clone() else {
            return self.txns[i]
                .ctx
                .respond(t, 500, "Server Internal Error", &[]);
        };
        let Some(media) = self.own_media(&offer) else {
            return self.txns[i].ctx.respond(t, 488, "Not Acceptable Here", &[]);
        };
        self.file_call(Some(&phone), "*55");
        let local = self.shared.local.clone();
        let call = Answered::answer(t, &mut self.txns[i], &local, &mut self.entropy, media);
        if let Some(call) = call {
            self.voicemail = Some(VoicemailCall::hot_desk(HotDeskCall {
                call,
                phone,
                shared: self.shared.clone(),
                flushed: me.recipient(),
                machine: None,
            }));
        }
    }
}
