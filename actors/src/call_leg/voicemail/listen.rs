//! A subscriber listening to their mailbox by phone, a part of the leg: the switch answered
//! the INVITE itself (`answered.rs`), and the engine's `Menu` machine says what happens: the
//! PIN, the main menu, the messages, the greetings, a new PIN, a call back.
//!
//! The session's mailbox is the caller's own, or none (the access number) until the menu asks
//! for another (`OpenMailbox`): `open.rs` reads it, and from then on the session is that
//! mailbox's: a wrong PIN is counted in its settings, and once its PIN is accepted its
//! messages play and its changes are written. A number that opens nothing leaves the session
//! without a mailbox, and nothing is written.
//!
//! It needs no actor: it plays what the machine asks (prompt clips; a message's PCM from the
//! mailbox store, played at its own rate and resampled by the media session to the call's
//! codec; the greeting just recorded), records greetings through the message writer (into
//! memory, handed back by a `GreetingRecorded` note), and hands every change of the mailbox
//! (heard, saved, deleted, the PIN's count, a new PIN, a greeting kept) to the writer's
//! thread, so the store publishes it and the phone's message lamp follows. It feeds the
//! machine the subscriber's digits (RFC 4733 or SIP INFO), how loud they are while a greeting
//! is recorded, the ends of playbacks and time.
//!
//! A call back (`Action::CallBack`) asks the subscriber's phone to call the number itself
//! (RFC 3515 REFER, `Refer-To: sip:<number>@<domain>`): its new INVITE is routed like any
//! call the subscriber dials (authentication, forwarding, trunks), and the switch hangs up the
//! menu once the phone accepted. A phone that refuses (or never answers) hears that the
//! caller cannot be called back, and goodbye.
//!
//! A message is read from its file when it is first played (a few MB at most: the longest
//! message at 16 kHz), on the leg's arbiter like a deposit's greetings, and kept while it is
//! the one at hand.
//!
//! Guarantees: the menu starts with the ACK; every greeting recording started is stopped once;
//! a greeting is stored only when the subscriber keeps it (also when the writer hands it back
//! after the key); the switch's BYE follows the machine's `HangUp`, a call back, or a
//! refused one's goodbye.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use switchboard_engine::dialog::CallEvent;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::Source;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::prompt::clip;
use switchboard_engine::proxy::Local;
use switchboard_engine::voicemail::{
    Audio, Folder, Greeting, Menu, MenuAction, MenuConfig, PinLockout, PlayId, Playback, Stopped,
    VoicemailId, VoicemailRecord,
};
use tracing::{debug, info, trace, warn};

use super::super::party::OwnMedia;
use super::super::txn::Txn;
use super::answered::Answered;
use super::deposit::REASON_TIMEOUT;
use crate::api::voicemail::{DepositId, GreetingRecorded, VoiceHeard};
use crate::clock::unix_now;
use crate::mailbox::{Change, StartGreeting, Writer};
use crate::prompts::PromptSet;
use crate::shared::Shared;

/// The Reason of our BYE when the subscriber is done.
const REASON_DONE: &str = "SIP;cause=200;text=\"Mailbox Closed\"";
/// The Reason of our BYE once the phone calls back.
const REASON_CALL_BACK: &str = "SIP;cause=200;text=\"Calling Back\"";
/// How long the last words after a refused call back may take.
const CLOSING: Duration = Duration::from_secs(15);

/// Whose mailbox, and how the session runs.
pub(super) struct ListenSetup {
    /// `None` until the caller of the access number keyed one that opened.
    pub(super) mailbox: Option<Aor>,
    pub(super) config: MenuConfig,
    pub(super) messages: Vec<VoicemailRecord>,
    /// Where mailboxes are opened and messages read from.
    pub(super) shared: Arc<Shared>,
    /// Where changes and greeting recordings go.
    pub(super) writer: Writer,
    pub(super) lockout: PinLockout,
    /// The level above which the subscriber speaks (greetings).
    pub(super) silence_dbfs: f64,
    /// The host of the call back's target (`sip:<number>@<domain>`).
    pub(super) domain: String,
    /// Where the writer's notes go (the leg).
    pub(super) heard: Recipient<VoiceHeard>,
    pub(super) greetings: Recipient<GreetingRecorded>,
}

/// The greeting recorded in this call, for review.
#[derive(Default)]
enum Held {
    #[default]
    Nothing,
    /// Stopped and kept; the writer has not handed it back yet. `keep`: the subscriber kept it
    /// meanwhile, as this kind.
    Waiting {
        recording: DepositId,
        keep: Option<Greeting>,
    },
    Ready(SampleRate, Arc<[i16]>),
}

/// After the menu.
enum After {
    /// The menu runs.
    Menu,
    /// The phone was asked to call back; its answer is awaited.
    Referring,
    /// The last words play; then the switch hangs up.
    Closing { until: Instant },
}

/// The call of a subscriber listening.
pub(super) struct ListenCall {
    call: Answered,
    setup: ListenSetup,
    /// Made at the ACK.
    machine: Option<Menu>,
    /// The greeting recording in progress.
    recording: Option<DepositId>,
    held: Held,
    /// The message last played, read.
    loaded: Option<(VoicemailId, SampleRate, Arc<[i16]>)>,
    after: After,
}

impl ListenCall {
    /// Answers the INVITE of `txn` with 200 and the switch's answer on `media`; `None` when
    /// the caller hung up meanwhile.
    pub(super) fn answer(
        now: Instant,
        txn: &mut Txn,
        local: &Local,
        entropy: &mut Entropy,
        media: OwnMedia,
        setup: ListenSetup,
    ) -> Option<ListenCall> {
        Some(ListenCall {
            call: Answered::answer(now, txn, local, entropy, media)?,
            setup,
            machine: None,
            recording: None,
            held: Held::Nothing,
            loaded: None,
            after: After::Menu,
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
                    info!(
                        mailbox = %redacted(self.setup.mailbox.as_ref()),
                        trusted = self.setup.config.trusted,
                        "subscriber listening to the mailbox"
                    );
                    let messages = std::mem::take(&mut self.setup.messages);
                    self.machine = Some(Menu::new(now, self.setup.config.clone(), messages));
                }
                CallEvent::AckTimedOut => {
                    self.abort(now, switchboard_engine::dialog::NORMAL_CLEARING)
                }
                CallEvent::Digit(d) => {
                    if let Some(m) = self.machine.as_mut() {
                        m.handle_digit(now, d.digit);
                    }
                }
                CallEvent::ReferAnswered { code } => self.referred(now, code),
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

    /// A digit the subscriber pressed (RFC 4733 on its media, or SIP INFO).
    pub(super) fn digit(&mut self, now: Instant, digit: Digit) {
        if let Some(m) = self.machine.as_mut() {
            m.handle_digit(now, digit);
        }
        self.act(now);
    }

    /// The subscriber's audio was above the silence level (a greeting is recorded).
    pub(super) fn heard(&mut self, now: Instant, dbfs: f64) {
        if let Some(m) = self.machine.as_mut() {
            m.handle_frame_level(now, dbfs);
        }
        self.act(now);
    }

    /// The writer handed back the greeting recorded (`None`: nothing of it was kept).
    pub(super) fn greeting_recorded(&mut self, m: GreetingRecorded) {
        let Held::Waiting { recording, keep } = self.held else {
            return;
        };
        if recording != m.recording {
            return;
        }
        self.held = match (m.audio, keep) {
            (Some((rate, samples)), Some(kind)) => {
                self.store_greeting(kind, rate, samples);
                Held::Nothing
            }
            (Some((rate, samples)), None) => Held::Ready(rate, samples),
            (None, _) => Held::Nothing,
        };
    }

    /// What played to the subscriber ended: the next item, or the end of the playback.
    pub(super) fn play_finished(&mut self, now: Instant) {
        let ended = {
            let (setup, loaded, held) = (&self.setup, &mut self.loaded, &self.held);
            self.call
                .play_finished(now, |a| sound(a, setup, loaded, held))
        };
        let Some(id) = ended else {
            return;
        };
        match self.after {
            After::Menu => {
                if let Some(m) = self.machine.as_mut() {
                    m.handle_play_finished(now, id);
                }
                self.act(now);
            }
            After::Closing { .. } => self.call.hang_up(now, REASON_DONE),
            After::Referring => {}
        }
    }

    /// The media died: a greeting being recorded is dropped, and the switch hangs up.
    pub(super) fn media_died(&mut self, now: Instant) {
        self.abort(now, REASON_TIMEOUT);
        self.react(now);
    }

    /// Something failed in the call: the session ends and the switch hangs up.
    pub(super) fn abort(&mut self, now: Instant, reason: &str) {
        if let Some(m) = self.machine.as_mut() {
            if !m.is_done() {
                m.handle_hangup(now);
            }
        }
        self.act(now);
        if let Some(id) = self.recording.take() {
            self.call.media().set_sink(None);
            self.setup.writer.stop(id, None);
        }
        self.call.hang_up(now, reason);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let machine = self.machine.as_ref().and_then(Menu::poll_timeout);
        let closing = match self.after {
            After::Closing { until } => Some(until),
            _ => None,
        };
        [self.call.poll_timeout(), machine, closing]
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
        if matches!(self.after, After::Closing { until } if until <= now) {
            self.call.hang_up(now, REASON_DONE);
        }
        self.react(now);
    }

    /// Carries out what the machine asks.
    fn act(&mut self, now: Instant) {
        loop {
            let Some(action) = self.machine.as_mut().and_then(Menu::poll_action) else {
                return;
            };
            match action {
                MenuAction::Play(p) => {
                    // the clips may spell numbers (callers, the mailbox): trace only
                    trace!(items = ?p.describe(), "menu plays");
                    if let Some(id) = self.play(now, p) {
                        if let Some(m) = self.machine.as_mut() {
                            m.handle_play_finished(now, id);
                        }
                    }
                }
                MenuAction::StopPlaying => self.call.stop_playing(),
                MenuAction::PinAccepted => self.change(Change::PinAccepted),
                MenuAction::PinFailed => {
                    info!(mailbox = %redacted(self.setup.mailbox.as_ref()), "wrong mailbox PIN");
                    self.change(Change::PinFailed {
                        now_unix: unix_now(),
                        rules: self.setup.lockout,
                    });
                }
                MenuAction::Save(id) => self.change(Change::Folder(id, Folder::Saved)),
                MenuAction::Delete(id) => {
                    if self.loaded.as_ref().is_some_and(|(l, _, _)| *l == id) {
                        self.loaded = None;
                    }
                    self.change(Change::Delete(id));
                }
                MenuAction::CallBack(number) => self.call_back(now, &number),
                MenuAction::RecordGreeting(_) => self.start_greeting(),
                MenuAction::StopRecording(s) => self.stop_greeting(s),
                MenuAction::KeepGreeting(kind) => self.keep_greeting(kind),
                MenuAction::DiscardGreeting => self.held = Held::Nothing,
                MenuAction::SetPin(pin) => self.change(Change::SetPin {
                    pin,
                    now_unix: unix_now(),
                }),
                MenuAction::OpenMailbox(number) => self.open_mailbox(now, &number),
                MenuAction::HangUp => self.call.hang_up(now, REASON_DONE),
            }
        }
    }

    fn play(&mut self, now: Instant, p: Playback) -> Option<PlayId> {
        let (setup, loaded, held) = (&self.setup, &mut self.loaded, &self.held);
        self.call.play(now, p, |a| sound(a, setup, loaded, held))
    }

    fn change(&self, change: Change) {
        match &self.setup.mailbox {
            Some(mailbox) => self.setup.writer.change(mailbox.clone(), change),
            None => debug!("no mailbox for the change"),
        }
    }

    /// The caller keyed `number` at the mailbox prompt: the session is now that mailbox's (or
    /// no one's), and the menu asks its PIN.
    fn open_mailbox(&mut self, now: Instant, number: &str) {
        let (mailbox, opened) = super::keyed::other_mailbox(&self.setup.shared, number).unzip();
        info!(
            mailbox = %redacted(mailbox.as_ref()),
            "signing in to a mailbox from another phone"
        );
        self.setup.mailbox = mailbox;
        self.loaded = None;
        if let Some(m) = self.machine.as_mut() {
            m.handle_mailbox(now, opened);
        }
    }

    /// Asks the phone to call `number` itself.
    fn call_back(&mut self, now: Instant, number: &str) {
        let domain = &self.setup.domain;
        let target = format!("sip:{number}@{domain}");
        let by = self
            .setup
            .mailbox
            .as_ref()
            .map(|m| format!("sip:{}@{domain}", m.as_str()));
        match self.call.refer(now, &target, by.as_deref()) {
            Ok(()) => {
                info!(mailbox = %redacted(self.setup.mailbox.as_ref()), "call back: the phone is asked to call");
                self.after = After::Referring;
            }
            Err(e) => {
                debug!(error = %e, "call back: no REFER");
                self.cannot_call_back(now);
            }
        }
    }

    /// The phone's answer to our REFER.
    fn referred(&mut self, now: Instant, code: u16) {
        if !matches!(self.after, After::Referring) {
            return;
        }
        if (200..300).contains(&code) {
            info!(code, "call back: the phone calls");
            self.call.hang_up(now, REASON_CALL_BACK);
        } else {
            info!(code, "call back: the phone refused to call");
            self.cannot_call_back(now);
        }
    }

    /// Says the caller cannot be called back, and goodbye; then hangs up.
    fn cannot_call_back(&mut self, now: Instant) {
        self.after = After::Closing {
            until: now + CLOSING,
        };
        let p = Playback {
            id: PlayId(u32::MAX),
            items: vec![
                Audio::Clip(clip::CANNOT_CALL_BACK),
                Audio::Clip(clip::GOODBYE),
            ],
        };
        if self.play(now, p).is_some() {
            self.call.hang_up(now, REASON_DONE);
        }
    }

    fn start_greeting(&mut self) {
        if self.recording.is_some() {
            return;
        }
        self.held = Held::Nothing;
        let (tap, reader) = crate::recording::tap::channel();
        self.call.media().set_sink(Some(Box::new(tap)));
        let id = self.setup.writer.start_greeting(StartGreeting {
            reader,
            heard: Some(self.setup.heard.clone()),
            silence_dbfs: self.setup.silence_dbfs,
            to: self.setup.greetings.clone(),
        });
        self.recording = Some(id);
    }

    fn stop_greeting(&mut self, s: Stopped) {
        let Some(id) = self.recording.take() else {
            return;
        };
        self.call.media().set_sink(None);
        debug!(recording = %id, reason = ?s.reason, keep = s.keep, length_ms = s.length.as_millis() as u64, "greeting recording stopped");
        self.setup.writer.stop(id, s.keep.then_some(s.length));
        if s.keep {
            self.held = Held::Waiting {
                recording: id,
                keep: None,
            };
        }
    }

    fn keep_greeting(&mut self, kind: Greeting) {
        match std::mem::take(&mut self.held) {
            Held::Ready(rate, samples) => self.store_greeting(kind, rate, samples),
            Held::Waiting { recording, .. } => {
                self.held = Held::Waiting {
                    recording,
                    keep: Some(kind),
                }
            }
            Held::Nothing => warn!("no greeting held to keep"),
        }
    }

    fn store_greeting(&self, kind: Greeting, rate: SampleRate, samples: Arc<[i16]>) {
        info!(mailbox = %redacted(self.setup.mailbox.as_ref()), greeting = kind.as_str(), "greeting recorded by phone");
        self.change(Change::Greeting(kind, rate, samples));
    }
}

/// How an item of the menu's playback sounds.
fn sound(
    item: Audio,
    setup: &ListenSetup,
    loaded: &mut Option<(VoicemailId, SampleRate, Arc<[i16]>)>,
    held: &Held,
) -> Option<Source> {
    match item {
        Audio::Clip(c) => PromptSet::embedded().clip(c.name()),
        Audio::Beep => Some(Source::Tone(Tone::BEEP)),
        Audio::NewGreeting => match held {
            Held::Ready(rate, samples) => Some(Source::Pcm {
                samples: samples.clone(),
                rate: *rate,
            }),
            _ => None,
        },
        Audio::Message(id) => {
            let mailbox = setup.mailbox.as_ref()?;
            if loaded.as_ref().is_none_or(|(l, _, _)| *l != id) {
                *loaded = match setup.shared.mailboxes.samples(mailbox, id) {
                    Ok(Some((rate, samples))) => Some((id, rate, samples.into())),
                    Ok(None) => None,
                    Err(e) => {
                        warn!(voicemail = %id, error = %e, "message not readable");
                        None
                    }
                };
            }
            loaded.as_ref().map(|(_, rate, samples)| Source::Pcm {
                samples: samples.clone(),
                rate: *rate,
            })
        }
        // a menu plays no greeting of the mailbox's own
        Audio::Greeting(_) => None,
    }
}

/// A mailbox as logs show it ("none" before one is opened).
fn redacted(mailbox: Option<&Aor>) -> String {
    mailbox.map_or_else(|| "none".to_owned(), |m| m.redacted().to_string())
}
