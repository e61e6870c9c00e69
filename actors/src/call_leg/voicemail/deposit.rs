//! A caller leaving a message, a part of the leg: the switch answered the INVITE itself
//! (`answered.rs`: the engine's `PartyDialog` and a media session for the caller), and the
//! engine's `Deposit` machine says what happens: the greeting (the subscriber's own, or prompt
//! clips that speak the number), the beep, the recording until hang-up, `#`, silence or the
//! length limit, the goodbye.
//!
//! It needs no actor: it plays what the machine asks, starts and stops the recording through
//! the message writer (`mailbox::Writer`: the media session's frame sink is a ring the writer
//! drains), and feeds the machine the caller's digits (RFC 4733 or SIP INFO), how loud the
//! caller is (the writer's `VoiceHeard` notes) and time.
//!
//! Guarantees: the greeting starts with the ACK; every recording started is stopped exactly
//! once (with what to keep, or nothing), also when the call fails or the media dies; the
//! switch's BYE follows the machine's `HangUp`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix::Recipient;
use switchboard_engine::dialog::CallEvent;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::proxy::Local;
use switchboard_engine::voicemail::{
    Audio, Deposit, DepositAction, DepositConfig, Greeting, Stopped,
};
use tracing::{debug, info, trace};

use super::super::party::OwnMedia;
use super::super::txn::Txn;
use super::answered::Answered;
use crate::api::voicemail::{DepositId, VoiceHeard};
use crate::mailbox::{StartDeposit, Writer};
use crate::prompts::PromptSet;

/// The Reason of our BYE when the media died.
pub(super) const REASON_TIMEOUT: &str = "SIP;cause=408;text=\"Media Timeout\"";
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
    call: Answered,
    setup: DepositSetup,
    /// Made at the ACK.
    machine: Option<Deposit>,
    /// The recording in progress.
    recording: Option<DepositId>,
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
        Some(DepositCall {
            call: Answered::answer(now, txn, local, entropy, media)?,
            setup,
            machine: None,
            recording: None,
        })
    }

    pub(super) fn call(&mut self) -> &mut Answered {
        &mut self.call
    }

    pub(super) fn session_id(&self) -> crate::api::media::MediaSessionId {
        self.call.session_id()
    }

    pub(super) fn recording(&self) -> Option<DepositId> {
        self.recording
    }

    /// The dialog took something: what it reports, then what the machine asks.
    pub(super) fn react(&mut self, now: Instant) {
        while let Some(e) = self.call.poll_event(now) {
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
                CallEvent::Digit(d) => {
                    if let Some(m) = self.machine.as_mut() {
                        m.handle_digit(now, d.digit);
                    }
                }
                CallEvent::Ended(_) => {
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
        let greetings = &self.setup.greetings;
        let ended = self.call.play_finished(now, |a| sound(a, greetings));
        if let (Some(id), Some(m)) = (ended, self.machine.as_mut()) {
            m.handle_play_finished(now, id);
        }
        self.act(now);
    }

    /// The media died: the recording stops where it was, and the switch hangs up.
    pub(super) fn media_died(&mut self, now: Instant) {
        self.abort(now, REASON_TIMEOUT);
        self.react(now);
    }

    /// Something failed in the call: the recording stops (keeping what it has) and the
    /// switch hangs up.
    pub(super) fn abort(&mut self, now: Instant, reason: &str) {
        self.caller_gone(now);
        self.call.hang_up(now, reason);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let machine = self.machine.as_ref().and_then(Deposit::poll_timeout);
        [self.call.poll_timeout(), machine]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        self.call.handle_timeout(now);
        if let Some(m) = self.machine.as_mut() {
            if m.poll_timeout().is_some_and(|t| t <= now) {
                m.handle_timeout(now);
            }
        }
        self.react(now);
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
            self.call.media().set_sink(None);
            self.setup.writer.stop(id, Some(std::time::Duration::MAX));
        }
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
                    let greetings = &self.setup.greetings;
                    if let Some(id) = self.call.play(now, p, |a| sound(a, greetings)) {
                        if let Some(m) = self.machine.as_mut() {
                            m.handle_play_finished(now, id);
                        }
                    }
                }
                DepositAction::StartRecording => self.start_recording(),
                DepositAction::StopRecording(s) => self.stop_recording(s),
                DepositAction::HangUp => self.call.hang_up(now, REASON_DONE),
            }
        }
    }

    fn start_recording(&mut self) {
        if self.recording.is_some() {
            return;
        }
        let (tap, reader) = crate::recording::tap::channel();
        self.call.media().set_sink(Some(Box::new(tap)));
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
        self.call.media().set_sink(None);
        debug!(deposit = %id, reason = ?s.reason, keep = s.keep, length_ms = s.length.as_millis() as u64, "recording stopped");
        self.setup.writer.stop(id, s.keep.then_some(s.length));
    }
}

/// How an item of a deposit's playback sounds.
fn sound(item: Audio, greetings: &[(Greeting, SampleRate, Arc<[i16]>)]) -> Option<Source> {
    match item {
        Audio::Clip(c) => PromptSet::embedded().clip(c.name()),
        Audio::Greeting(g) => {
            greetings
                .iter()
                .find(|(k, _, _)| *k == g)
                .map(|(_, rate, samples)| Source::Pcm {
                    samples: samples.clone(),
                    rate: *rate,
                })
        }
        Audio::Beep => Some(Source::Tone(Tone::BEEP)),
        // not asked for by a deposit
        Audio::NewGreeting | Audio::Message(_) => None,
    }
}
