//! A refusal the caller hears before it ends: the switch gives the INVITE a 183 Session
//! Progress carrying its own SDP answer (early media, RFC 3261 §13.3.1.1; the gateway model
//! of RFC 3960: an announcement, then the error), plays a spoken prompt on it, and then
//! answers the final error (402 for a prepaid caller without credit) through the same server
//! transaction, with the 183's To tag. This is what Asterisk's `Progress()` + `Playback()` +
//! hang-up cause and FreeSWITCH's `pre_answer` + `playback` + `respond` do for a refused call.
//!
//! The leg starts it (`CallLeg::refuse_announced`), routes its media session's events to it
//! (`on_media`: the prompt finished) and its deadline (`poll_timeout`, `handle_timeout`: the
//! prompt's length and a margin, so a lost event still ends it), and drops it once its
//! transaction has answered (`is_over`): the media session closes with it.
//!
//! Guarantees: the error goes once, after the prompt or at the deadline, whichever comes
//! first; a caller that hangs up during the prompt gets the transaction's 487 and hears
//! nothing more; an INVITE without an offer (or a switch without a free media port) gets the
//! error at once, unannounced, as before.

use std::time::{Duration, Instant};

use switchboard_engine::media::session::Event;
use switchboard_engine::media::Side;
use switchboard_engine::prompt::Clip;
use switchboard_engine::sip::ResponseBuilder;
use switchboard_engine::txn::ServerKey;
use tracing::info;

use super::party::OwnMedia;
use super::CallLeg;
use crate::api::media::MediaSessionId;
use crate::clock::now;
use crate::media::MediaSession;
use crate::prompts::PromptSet;

/// How long past its prompt's length the error waits for the prompt's end.
const MARGIN: Duration = Duration::from_secs(2);

/// A call being refused after an announcement.
pub(super) struct Refusal {
    invite: ServerKey,
    session: MediaSession,
    code: u16,
    reason: &'static str,
    /// The error goes at the latest then.
    until: Instant,
    /// The prompt played to its end.
    played: bool,
}

impl Refusal {
    /// The media session of the announcement.
    pub(super) fn session_id(&self) -> MediaSessionId {
        self.session.id()
    }

    /// When the error goes if the prompt's end is not heard of.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        (!self.played).then_some(self.until)
    }
}

impl CallLeg {
    /// Refuses transaction `i` with `code` and `reason` once the caller heard `clip` as early
    /// media; `Step::Respond` (the error at once) when the INVITE has no offer to answer or
    /// the prompt cannot play.
    pub(super) fn refuse_announced(
        &mut self,
        i: usize,
        code: u16,
        reason: &'static str,
        clip: Clip,
    ) -> switchboard_engine::routing::Step {
        let at_once = switchboard_engine::routing::Step::Respond {
            code,
            reason: reason.into(),
        };
        let set = PromptSet::embedded();
        let (Some(prompt), Some(length)) = (set.clip(clip.name()), set.duration(clip.name()))
        else {
            return at_once;
        };
        let Some(offer) = super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            return at_once;
        };
        let Some(OwnMedia { session, sdp, .. }) = self.own_media(&offer) else {
            return at_once;
        };
        let t = now();
        let x = &mut self.txns[i];
        let contact = self.shared.local.contact(x.upstream().transport);
        let early = ResponseBuilder::new(x.ctx.request(), 183, "Session Progress")
            .to_tag(x.ctx.to_tag())
            .via_fix(x.via_fix())
            .header("Contact", &contact)
            .body("application/sdp", sdp.as_bytes())
            .build();
        x.ctx.provisional_with(t, 183, early);
        session.play(Side::Caller, prompt);
        info!(code, clip = clip.name(), "refusal announced");
        self.refusal = Some(Refusal {
            invite: x.key.clone(),
            session,
            code,
            reason,
            until: t + length + MARGIN,
            played: false,
        });
        switchboard_engine::routing::Step::Wait
    }

    /// An event of the announcement's media session.
    pub(super) fn refusal_media(&mut self, event: Event) {
        if let Event::PlayFinished { .. } = event {
            self.refuse_now();
        }
    }

    /// The announcement's deadline, if it passed by `t`.
    pub(super) fn refusal_timeout(&mut self, t: Instant) {
        if self
            .refusal
            .as_ref()
            .and_then(Refusal::poll_timeout)
            .is_some_and(|at| at <= t)
        {
            self.refuse_now();
        }
    }

    /// The prompt is over: the error goes (unless the caller left meanwhile).
    fn refuse_now(&mut self) {
        let Some(r) = self.refusal.as_mut() else {
            return;
        };
        r.played = true;
        let (code, reason) = (r.code, r.reason);
        if let Some(i) = self.txns.index_of(&r.invite) {
            self.txns[i].ctx.respond(now(), code, reason, &[]);
        }
    }

    /// Drops the announcement once its transaction answered (the error, or 487 to a
    /// CANCEL) or is gone: its media session closes.
    pub(super) fn refusal_over(&mut self) {
        let over = self.refusal.as_ref().is_some_and(|r| {
            self.txns
                .index_of(&r.invite)
                .is_none_or(|i| self.txns[i].ctx.is_finished())
        });
        if over {
            self.refusal = None;
        }
    }
}
