//! A call the switch answered for voicemail, the part both voicemail calls share (a caller
//! leaving a message, `deposit.rs`; a subscriber listening, `listen.rs`): the engine's
//! `PartyDialog` with the switch's own media session for the caller, and the playback of
//! what the voicemail machines ask to hear (each item of a `Playback` one after another, the
//! next on the media session's `PlayFinished`).
//!
//! It needs no actor and knows no machine: its owner gives it the call's requests, responses
//! and time, takes its `CallEvent`s (a new offer is refused here: one codec for the whole
//! call), and says how each `Audio` item sounds (`resolve`, as a media `Source`).
//!
//! Guarantees: the 200 goes upstream through the INVITE's own server transaction; the
//! switch's BYE goes once; a `PlayFinished` that arrives within [`STALE`] of the item playing
//! (the late end of an item a new playback replaced) does not skip it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::dialog::{CallEvent, DialogError, DialogOutput, PartyAnswer, PartyDialog};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::Side;
use switchboard_engine::proxy::Local;
use switchboard_engine::sip::{Message as SipMessage, Method, ViaFix};
use switchboard_engine::txn::ServerKey;
use switchboard_engine::voicemail::{Audio, PlayId, Playback};

use super::super::party::{Drained, OwnMedia};
use super::super::txn::Txn;
use crate::api::media::MediaSessionId;
use crate::media::MediaSession;

/// A `PlayFinished` sooner than this after an item started is the end of the one before it
/// (no prompt clip, beep, greeting or message is this short).
pub(super) const STALE: Duration = Duration::from_millis(60);

/// The dialog, media and playback of a call the switch answered.
pub(super) struct Answered {
    dialog: Box<PartyDialog>,
    upstream: Flow,
    invite: ServerKey,
    via_fix: Option<ViaFix>,
    media: MediaSession,
    /// What is left of the playback playing, its id, and when its current item started.
    queue: VecDeque<Audio>,
    playing: Option<PlayId>,
    item_started: Option<Instant>,
    hung_up: bool,
}

impl Answered {
    /// Answers the INVITE of `txn` with 200 and the switch's answer on `media`; `None` when
    /// the caller hung up meanwhile.
    pub(super) fn answer(
        now: Instant,
        txn: &mut Txn,
        local: &Local,
        entropy: &mut Entropy,
        media: OwnMedia,
    ) -> Option<Answered> {
        if txn.ctx.is_finished() {
            return None;
        }
        let mut dialog = PartyDialog::new(
            now,
            txn.ctx.request(),
            txn.upstream().transport,
            txn.via_fix(),
            local,
            Entropy::seeded(entropy.next_u64()),
            PartyAnswer {
                sdp: &media.sdp,
                reason: "OK",
                early: None,
            },
        );
        let Some(DialogOutput::Reply(ok)) = dialog.poll_output() else {
            return None;
        };
        txn.ctx.respond_with(now, 200, ok);
        media.session.activate();
        Some(Answered {
            dialog: Box::new(dialog),
            upstream: txn.upstream(),
            invite: txn.key.clone(),
            via_fix: txn.via_fix(),
            media: media.session,
            queue: VecDeque::new(),
            playing: None,
            item_started: None,
            hung_up: false,
        })
    }

    pub(super) fn session_id(&self) -> MediaSessionId {
        self.media.id()
    }

    pub(super) fn media(&self) -> &MediaSession {
        &self.media
    }

    /// Takes a request of the answered dialog (the INVITE again, its ACK, a BYE, a
    /// re-INVITE, INFO, NOTIFY); `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, now: Instant) -> bool {
        let retransmission = msg.method() == Some(Method::Invite)
            && msg.to_tag().is_none()
            && ServerKey::from_request(msg).as_ref() == Some(&self.invite);
        if !retransmission && !self.dialog.owns(msg) {
            return false;
        }
        self.dialog.handle_request(now, msg, self.via_fix);
        true
    }

    /// Takes a response to our BYE or REFER; gives back any other.
    pub(super) fn take_response(&mut self, now: Instant, resp: SipMessage) -> Option<SipMessage> {
        if !self.dialog.owns_response(&resp) {
            return Some(resp);
        }
        self.dialog.handle_response(now, resp);
        None
    }

    /// What happened in the call (a new offer was refused meanwhile: one codec for the whole
    /// call, and the call goes on).
    pub(super) fn poll_event(&mut self, now: Instant) -> Option<CallEvent> {
        loop {
            match self.dialog.poll_event()? {
                CallEvent::Offer { .. } => {
                    let _ = self.dialog.refuse_offer(now);
                }
                e => {
                    if matches!(e, CallEvent::Ended(_)) {
                        self.hung_up = true;
                    }
                    return Some(e);
                }
            }
        }
    }

    /// The switch hangs up (once) with `reason`, a Reason header value; what plays stops.
    pub(super) fn hang_up(&mut self, now: Instant, reason: &str) {
        self.stop_playing();
        if !self.hung_up {
            self.hung_up = true;
            self.dialog.hang_up(now, reason);
        }
    }

    /// Asks the caller's phone to call `refer_to` (RFC 3515); the answer comes as
    /// `CallEvent::ReferAnswered`.
    pub(super) fn refer(
        &mut self,
        now: Instant,
        refer_to: &str,
        referred_by: Option<&str>,
    ) -> Result<(), DialogError> {
        self.dialog.refer(now, refer_to, referred_by)
    }

    /// The dialog's next deadline.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.dialog.poll_timeout()
    }

    /// Runs the dialog's timers that are due.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.dialog.poll_timeout().is_some_and(|t| t <= now) {
            self.dialog.handle_timeout(now);
        }
    }

    /// Hands each send to `send`; says whether the call ended, and whether anything is left
    /// to answer.
    pub(super) fn drain(&mut self, mut send: impl FnMut(&Flow, Bytes)) -> Drained {
        while let Some(o) = self.dialog.poll_output() {
            let (DialogOutput::Reply(b) | DialogOutput::Request { bytes: b, .. }) = o;
            send(&self.upstream, b);
        }
        if self.dialog.is_done() {
            Drained::Done
        } else if self.dialog.is_ended() {
            Drained::Ended
        } else {
            Drained::Live
        }
    }

    /// Plays `p` to the caller, replacing what plays; each item sounds as `resolve` says (an
    /// item without a sound is skipped). `Some(id)` when nothing of it could play: it is over
    /// at once.
    pub(super) fn play(
        &mut self,
        now: Instant,
        p: Playback,
        resolve: impl FnMut(Audio) -> Option<Source>,
    ) -> Option<PlayId> {
        self.queue = p.items.into();
        self.playing = Some(p.id);
        if self.play_next(now, resolve) {
            return None;
        }
        self.playing.take()
    }

    /// What played to the caller ended: the next item plays. `Some(id)` when that was the
    /// last item of playback `id`.
    pub(super) fn play_finished(
        &mut self,
        now: Instant,
        resolve: impl FnMut(Audio) -> Option<Source>,
    ) -> Option<PlayId> {
        if self
            .item_started
            .is_some_and(|t| now.saturating_duration_since(t) < STALE)
        {
            return None;
        }
        if self.playing.is_none() || self.play_next(now, resolve) {
            return None;
        }
        self.playing.take()
    }

    /// Stops what plays (its end is never reported).
    pub(super) fn stop_playing(&mut self) {
        self.queue.clear();
        if self.playing.take().is_some() {
            self.item_started = None;
            self.media.stop_play(Side::Caller);
        }
    }

    /// Plays the next item that has a sound; `false` when none is left.
    fn play_next(
        &mut self,
        now: Instant,
        mut resolve: impl FnMut(Audio) -> Option<Source>,
    ) -> bool {
        while let Some(item) = self.queue.pop_front() {
            if let Some(source) = resolve(item) {
                self.media.play(Side::Caller, source);
                self.item_started = Some(now);
                return true;
            }
        }
        self.item_started = None;
        false
    }
}
