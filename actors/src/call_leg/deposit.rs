//! A caller leaving a message, a part of the leg: the switch answered the INVITE itself (the
//! engine's `PartyDialog`) with a media session for the caller, and the engine's `Deposit`
//! machine says what happens: the greeting (the subscriber's own, or prompt clips that speak
//! the number), the beep, the recording until hang-up, `#`, silence or the length limit, the
//! goodbye.
//!
//! It needs no actor: it owns the dialog, the media session handle and the machine, plays
//! what the machine asks (each item of a playback one after another, the next on the media
//! session's `PlayFinished`), starts and stops the recording through the message writer
//! (`mailbox::Writer`: the media session's frame sink is a ring the writer drains), and feeds
//! the machine the caller's digits (RFC 4733 or SIP INFO), how loud the caller is (the
//! writer's `VoiceHeard` notes) and time.
//!
//! Guarantees: the 200 goes upstream through the INVITE's own server transaction; the
//! greeting starts with the ACK; every recording started is stopped exactly once (with what
//! to keep, or nothing), also when the call fails or the media dies; the switch's BYE follows
//! the machine's `HangUp`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix::Recipient;
use bytes::Bytes;
use switchboard_engine::dialog::{CallEvent, DialogOutput, PartyAnswer, PartyDialog};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::{SampleRate, Side};
use switchboard_engine::numbering::Aor;
use switchboard_engine::proxy::Local;
use switchboard_engine::sip::{Message as SipMessage, Method, ViaFix};
use switchboard_engine::txn::ServerKey;
use switchboard_engine::voicemail::{
    Audio, Deposit, DepositAction, DepositConfig, Greeting, PlayId, Stopped,
};
use tracing::{debug, info, trace};

use super::party::{Drained, OwnMedia};
use super::txn::Txn;
use crate::api::media::MediaSessionId;
use crate::api::voicemail::{DepositId, VoiceHeard};
use crate::mailbox::{StartDeposit, Writer};
use crate::media::MediaSession;
use crate::prompts::PromptSet;

/// The Reason of our BYE when the media died.
const REASON_TIMEOUT: &str = "SIP;cause=408;text=\"Media Timeout\"";
/// The Reason of our BYE when the message is done.
const REASON_DONE: &str = "SIP;cause=200;text=\"Message Recorded\"";

/// Who is leaving a message where, and how.
pub(super) struct DepositSetup {
    pub(super) mailbox: Aor,
    /// The caller as stored (a canonical number or `anonymous`).
    pub(super) caller: String,
    pub(super) config: DepositConfig,
    /// The subscriber's greetings the machine may ask for, loaded.
    pub(super) greetings: Vec<(Greeting, SampleRate, Arc<[i16]>)>,
    pub(super) writer: Writer,
    /// Where the writer's `VoiceHeard` notes go (the leg).
    pub(super) heard: Recipient<VoiceHeard>,
}

/// The call of a caller leaving a message.
pub(super) struct DepositCall {
    dialog: Box<PartyDialog>,
    upstream: Flow,
    invite: ServerKey,
    via_fix: Option<ViaFix>,
    media: MediaSession,
    setup: DepositSetup,
    /// Made at the ACK.
    machine: Option<Deposit>,
    /// What is left of the playback playing, and its id.
    queue: VecDeque<Audio>,
    playing: Option<PlayId>,
    /// The recording in progress.
    recording: Option<DepositId>,
    hung_up: bool,
}

impl DepositCall {
    /// Answers the INVITE of `txn` with 200 and the switch's answer on `media`; `None` when
    /// the caller hung up meanwhile.
    pub(super) fn answer(
        now: Instant,
        txn: &mut Txn,
        local: &Local,
        entropy: &mut Entropy,
        media: OwnMedia,
        setup: DepositSetup,
    ) -> Option<DepositCall> {
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
        Some(DepositCall {
            dialog: Box::new(dialog),
            upstream: txn.upstream(),
            invite: txn.key.clone(),
            via_fix: txn.via_fix(),
            media: media.session,
            setup,
            machine: None,
            queue: VecDeque::new(),
            playing: None,
            recording: None,
            hung_up: false,
        })
    }

    pub(super) fn session_id(&self) -> MediaSessionId {
        self.media.id()
    }

    pub(super) fn recording(&self) -> Option<DepositId> {
        self.recording
    }

    /// Takes a request of the answered dialog (the INVITE again, its ACK, a BYE, a
    /// re-INVITE, INFO); `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, now: Instant) -> bool {
        let retransmission = msg.method() == Some(Method::Invite)
            && msg.to_tag().is_none()
            && ServerKey::from_request(msg).as_ref() == Some(&self.invite);
        if !retransmission && !self.dialog.owns(msg) {
            return false;
        }
        self.dialog.handle_request(now, msg, self.via_fix);
        self.react(now);
        true
    }

    /// Takes a response to our BYE; gives back any other.
    pub(super) fn take_response(&mut self, now: Instant, resp: SipMessage) -> Option<SipMessage> {
        if !self.dialog.owns_response(&resp) {
            return Some(resp);
        }
        self.dialog.handle_response(now, resp);
        self.react(now);
        None
    }

    /// A digit the caller pressed (RFC 4733 on its media, or SIP INFO).
    pub(super) fn digit(&mut self, now: Instant, digit: Digit) {
        if let Some(m) = self.machine.as_mut() {
            m.handle_digit(now, digit);
        }
        self.act(now);
    }

    /// The caller's audio was above the silence level.
    pub(super) fn heard(&mut self, now: Instant, dbfs: f64) {
        if let Some(m) = self.machine.as_mut() {
            m.handle_frame_level(now, dbfs);
        }
        self.act(now);
    }

    /// What played to the caller ended: the next item, or the end of the playback.
    pub(super) fn play_finished(&mut self, now: Instant) {
        if self.play_next() {
            return;
        }
        if let (Some(id), Some(m)) = (self.playing.take(), self.machine.as_mut()) {
            m.handle_play_finished(now, id);
        }
        self.act(now);
    }

    /// The media died: the recording stops where it was, and the switch hangs up.
    pub(super) fn media_died(&mut self, now: Instant) {
        self.caller_gone(now);
        if !self.hung_up {
            self.hung_up = true;
            self.dialog.hang_up(now, REASON_TIMEOUT);
        }
        self.react(now);
    }

    /// Something failed in the call: the recording stops (keeping what it has) and the
    /// switch hangs up.
    pub(super) fn abort(&mut self, now: Instant, reason: &str) {
        self.caller_gone(now);
        if !self.hung_up {
            self.hung_up = true;
            self.dialog.hang_up(now, reason);
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let machine = self.machine.as_ref().and_then(Deposit::poll_timeout);
        [self.dialog.poll_timeout(), machine]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.dialog.poll_timeout().is_some_and(|t| t <= now) {
            self.dialog.handle_timeout(now);
        }
        if let Some(m) = self.machine.as_mut() {
            if m.poll_timeout().is_some_and(|t| t <= now) {
                m.handle_timeout(now);
            }
        }
        self.react(now);
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

    /// The caller is gone (or the call failed): the machine stops the recording.
    fn caller_gone(&mut self, now: Instant) {
        if let Some(m) = self.machine.as_mut() {
            if !m.is_done() {
                m.handle_hangup(now);
            }
        }
        self.act(now);
        // a recording the machine did not stop (none made yet): keep what it has
        if let Some(id) = self.recording.take() {
            self.media.set_sink(None);
            self.setup.writer.stop(id, Some(std::time::Duration::MAX));
        }
    }

    /// Takes what the dialog reports, then what the machine asks.
    fn react(&mut self, now: Instant) {
        while let Some(e) = self.dialog.poll_event() {
            match e {
                CallEvent::Acked { .. } if self.machine.is_none() => {
                    let config = self.setup.config.clone();
                    info!(
                        mailbox = %self.setup.mailbox.redacted(),
                        full = config.full,
                        "caller leaving a message"
                    );
                    self.machine = Some(Deposit::new(now, config));
                }
                CallEvent::AckTimedOut => {
                    self.abort(now, switchboard_engine::dialog::NORMAL_CLEARING)
                }
                // one codec for the whole call: a new offer is refused, the call goes on
                CallEvent::Offer { .. } => {
                    let _ = self.dialog.refuse_offer(now);
                }
                CallEvent::Digit(d) => {
                    if let Some(m) = self.machine.as_mut() {
                        m.handle_digit(now, d.digit);
                    }
                }
                CallEvent::Ended(_) => {
                    self.hung_up = true;
                    if let Some(m) = self.machine.as_mut() {
                        if !m.is_done() {
                            m.handle_hangup(now);
                        }
                    }
                }
                _ => {}
            }
        }
        self.act(now);
    }

    /// Carries out what the machine asks.
    fn act(&mut self, now: Instant) {
        loop {
            let Some(action) = self.machine.as_mut().and_then(Deposit::poll_action) else {
                return;
            };
            match action {
                DepositAction::Play(p) => {
                    // the clips spell the mailbox's number: trace only
                    trace!(items = ?p.describe(), "deposit plays");
                    self.queue = p.items.into();
                    self.playing = Some(p.id);
                    if !self.play_next() {
                        // nothing of it could play: it is over at once
                        self.playing = None;
                        if let Some(m) = self.machine.as_mut() {
                            m.handle_play_finished(now, p.id);
                        }
                    }
                }
                DepositAction::StartRecording => self.start_recording(),
                DepositAction::StopRecording(s) => self.stop_recording(s),
                DepositAction::HangUp => {
                    self.media.stop_play(Side::Caller);
                    if !self.hung_up {
                        self.hung_up = true;
                        self.dialog.hang_up(now, REASON_DONE);
                    }
                }
            }
        }
    }

    /// Plays the next item of the playback that has a sound; `false` when none is left.
    fn play_next(&mut self) -> bool {
        while let Some(item) = self.queue.pop_front() {
            let source = match item {
                Audio::Clip(c) => PromptSet::embedded().clip(c.name()),
                Audio::Greeting(g) => self.setup.greetings.iter().find(|(k, _, _)| *k == g).map(
                    |(_, rate, samples)| Source::Pcm {
                        samples: samples.clone(),
                        rate: *rate,
                    },
                ),
                Audio::Beep => Some(Source::Tone(Tone::BEEP)),
                // not asked for by a deposit
                Audio::NewGreeting | Audio::Message(_) => None,
            };
            if let Some(source) = source {
                self.media.play(Side::Caller, source);
                return true;
            }
        }
        false
    }

    fn start_recording(&mut self) {
        if self.recording.is_some() {
            return;
        }
        let (tap, reader) = crate::recording::tap::channel();
        self.media.set_sink(Some(Box::new(tap)));
        let id = self.setup.writer.start(StartDeposit {
            mailbox: self.setup.mailbox.clone(),
            caller: self.setup.caller.clone(),
            received: SystemTime::now(),
            reader,
            heard: Some(self.setup.heard.clone()),
            silence_dbfs: self.setup.config.capture.silence_dbfs,
        });
        self.recording = Some(id);
    }

    fn stop_recording(&mut self, s: Stopped) {
        let Some(id) = self.recording.take() else {
            return;
        };
        // the tap goes with the sink: the writer sees the ring end after its last frames
        self.media.set_sink(None);
        debug!(deposit = %id, reason = ?s.reason, keep = s.keep, length_ms = s.length.as_millis() as u64, "recording stopped");
        self.setup.writer.stop(id, s.keep.then_some(s.length));
    }
}
