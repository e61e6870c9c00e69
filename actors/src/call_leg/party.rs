//! A conference participant's call, a part of the leg: the switch answered the INVITE itself
//! (the engine's `PartyDialog`), or called the participant in (`OutboundCall`, a chat room's
//! `/call`), with its own media session, asks for the PIN when the
//! conference has one (`PinEntry`, tones as prompts, digits by RFC 4733 or SIP INFO), then
//! is in the conference: its voice goes to the mixer and it hears the mix (the session's
//! sink and feed, set by the leg once the bridge let it in), and its digits become commands
//! (`CommandCollector`: `*6` mute, moderator `*7` `*8` `*9`).
//!
//! It needs no actor: it owns the dialog, the media session handle and the PIN/command
//! machines, and says what the leg must do next ([`Step`]: join, leave, a command for the
//! bridge). The leg gives it the call's requests and responses, its media notes and time.
//!
//! Guarantees: the 200 goes upstream through the INVITE's own server transaction; the
//! participant joins only after the ACK and the PIN; a call that ends (either side's BYE, no
//! ACK, media timeout) gives one `Step::Leave` if it had joined.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use switchboard_engine::conference::{
    Command, CommandCollector, ConferenceName, ParticipantId, PinConfig, PinEntry, PinOutcome, Role,
};
use switchboard_engine::dialog::{
    CallEvent, DialogOutput, OutboundCall, PartyAnswer, PartyDialog, NORMAL_CLEARING,
};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Flow;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::{MixerClock, Source};
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed, Side};
use switchboard_engine::proxy::Local;
use switchboard_engine::sip::{Message as SipMessage, Method, ViaFix};
use switchboard_engine::txn::ServerKey;

pub(super) use self::dialog::Drained;
use super::txn::Txn;
use crate::api::media::MediaSessionId;
use crate::media::{FeedBell, MediaSession};
use dialog::Dialog;

mod dialog;

/// The Reason of our BYE when the PIN was wrong too often.
const REASON_PIN: &str = "SIP;cause=403;text=\"Wrong PIN\"";
/// The Reason of our BYE when the media died.
const REASON_TIMEOUT: &str = "SIP;cause=408;text=\"Media Timeout\"";

/// What the leg must do for the participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Ask the bridge to let it in.
    Join(Role),
    /// It had joined and its call ended.
    Leave(ParticipantId),
    /// A command it keyed in.
    Command(ParticipantId, Command),
}

#[derive(Debug)]
enum Stage {
    /// Calling the participant; waiting for the answer (its SDP answers our offer).
    Calling,
    /// Answered; waiting for the ACK.
    Answered,
    /// Keying in the PIN; `wrong`: the wrong-PIN tone plays before the prompt again.
    Pin {
        entry: Box<PinEntry>,
        wrong: bool,
    },
    /// Asked the bridge.
    Joining,
    In(ParticipantId),
    /// Hung up or left: nothing more to do but end the dialog.
    Over,
}

/// A participant's call.
pub(super) struct Party {
    dialog: Dialog,
    upstream: Flow,
    /// The INVITE's transaction, when the participant called in.
    invite: Option<ServerKey>,
    via_fix: Option<ViaFix>,
    media: MediaSession,
    codec: Codec,
    name: ConferenceName,
    pins: PinConfig,
    stage: Stage,
    commands: CommandCollector,
    steps: VecDeque<Step>,
    /// The `o=` session id of our SDP, and its version (one more per answer, RFC 3264 §8).
    origin: (u64, u64),
    /// Our offer, while the switch calls the participant.
    offer: Option<switchboard_engine::sdp::Sdp>,
    /// It joined at some point.
    ever_joined: bool,
}

/// The switch's media for a participant: the session, its SDP answer and what it agreed.
pub(super) struct OwnMedia {
    pub(super) session: MediaSession,
    pub(super) sdp: String,
    pub(super) codec: Codec,
    /// The `o=` session id of `sdp` (version 1).
    pub(super) origin: u64,
}

impl Party {
    /// Answers the INVITE of `txn` with 200 and `sdp` (the switch's answer on `media`);
    /// `None` when the caller hung up meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer(
        now: Instant,
        txn: &mut Txn,
        local: &Local,
        entropy: &mut Entropy,
        name: ConferenceName,
        pins: PinConfig,
        media: OwnMedia,
    ) -> Option<Party> {
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
        // the 200 goes through the transaction, so it stops answering by itself
        let Some(DialogOutput::Reply(ok)) = dialog.poll_output() else {
            return None;
        };
        txn.ctx.respond_with(now, 200, ok);
        media.session.activate();
        Some(Party {
            dialog: Dialog::Answering(Box::new(dialog)),
            upstream: txn.upstream(),
            invite: Some(txn.key.clone()),
            via_fix: txn.via_fix(),
            media: media.session,
            codec: media.codec,
            name,
            pins,
            stage: Stage::Answered,
            commands: CommandCollector::default(),
            steps: VecDeque::new(),
            origin: (media.origin, 1),
            offer: None,
            ever_joined: false,
        })
    }

    /// The switch calls a participant in: `call` carries `offer` (made on `media`) and goes
    /// out on `flow`; once answered the participant joins without a PIN (the room invited
    /// it).
    pub(super) fn calling(
        call: OutboundCall,
        flow: Flow,
        name: ConferenceName,
        media: OwnMedia,
        offer: switchboard_engine::sdp::Sdp,
    ) -> Party {
        Party {
            dialog: Dialog::Calling(Box::new(call)),
            upstream: flow,
            invite: None,
            via_fix: None,
            media: media.session,
            codec: media.codec,
            name,
            pins: PinConfig::default(),
            stage: Stage::Calling,
            commands: CommandCollector::default(),
            steps: VecDeque::new(),
            origin: (media.origin, 1),
            offer: Some(offer),
            ever_joined: false,
        }
    }

    pub(super) fn name(&self) -> &ConferenceName {
        &self.name
    }

    pub(super) fn codec(&self) -> Codec {
        self.codec
    }

    pub(super) fn session_id(&self) -> MediaSessionId {
        self.media.id()
    }

    /// Takes a request of the answered dialog (the INVITE again, its ACK, a BYE, a
    /// re-INVITE, INFO); `false` for anything else.
    pub(super) fn take(&mut self, msg: &SipMessage, now: Instant) -> bool {
        let retransmission = self.invite.is_some()
            && msg.method() == Some(Method::Invite)
            && msg.to_tag().is_none()
            && ServerKey::from_request(msg) == self.invite;
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
        match &mut self.stage {
            Stage::Pin { entry, .. } => {
                // the prompt stops at the first digit
                self.media.stop_play(Side::Caller);
                entry.handle_digit(now, digit);
            }
            Stage::In(_) => self.commands.handle_digit(now, digit),
            _ => {}
        }
        self.react(now);
    }

    /// What played to the caller ended.
    pub(super) fn play_finished(&mut self, now: Instant) {
        if let Stage::Pin { wrong, .. } = &mut self.stage {
            if std::mem::take(wrong) {
                self.media
                    .play(Side::Caller, Source::Tone(Tone::PIN_PROMPT));
            }
        }
        self.react(now);
    }

    /// The bridge let it in: its session follows the mixer's clock, its voice goes to the
    /// mixer, the mix to it (with the join tone the mixer plays to the room).
    pub(super) fn joined(
        &mut self,
        id: ParticipantId,
        voice: Box<dyn FrameSink>,
        mix: Box<dyn PayloadFeed>,
        clock: MixerClock,
    ) {
        if !matches!(self.stage, Stage::Joining) {
            // hung up meanwhile: the bridge hears the leave
            self.steps.push_back(Step::Leave(id));
            return;
        }
        self.stage = Stage::In(id);
        self.ever_joined = true;
        // the clock first, so the voice's jitter buffer is made for the mixer
        self.media.set_mixer_clock(Some(clock));
        self.media.set_sink(Some(voice));
        self.media.set_feed(Side::Caller, Some(mix));
    }

    /// The bell of its media thread, for the mixer to ring.
    pub(super) fn feed_bell(&self) -> FeedBell {
        self.media.feed_bell()
    }

    /// Plays a tone to the participant alone, in place of the mix (muted, unmuted, refused).
    pub(super) fn play(&self, tone: Tone) {
        self.media.play(Side::Caller, Source::Tone(tone));
    }

    /// The switch hangs up (`reason`: a Reason header value).
    pub(super) fn hang_up(&mut self, now: Instant, reason: &str) {
        self.leave();
        self.dialog.hang_up(now, reason);
        self.react(now);
    }

    /// Hangs up for `why` said plainly (removed, closed, refused).
    pub(super) fn hang_up_because(&mut self, now: Instant, why: &str) {
        let reason = format!("SIP;cause=200;text=\"{}\"", why.replace('"', "'"));
        self.hang_up(now, &reason);
    }

    /// The media died.
    pub(super) fn media_died(&mut self, now: Instant) {
        self.hang_up(now, REASON_TIMEOUT);
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let pin = match &self.stage {
            Stage::Pin { entry, .. } => entry.poll_timeout(),
            _ => None,
        };
        [
            self.dialog.poll_timeout(),
            pin,
            self.commands.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if self.dialog.poll_timeout().is_some_and(|t| t <= now) {
            self.dialog.handle_timeout(now);
        }
        if let Stage::Pin { entry, .. } = &mut self.stage {
            if entry.poll_timeout().is_some_and(|t| t <= now) {
                entry.handle_timeout(now);
            }
        }
        if self.commands.poll_timeout().is_some_and(|t| t <= now) {
            self.commands.handle_timeout(now);
        }
        self.react(now);
    }

    /// The next thing the leg must do.
    pub(super) fn poll_step(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// Hands each send to `send` with its flow; says whether the call ended, and whether
    /// anything is left to answer.
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

    /// Leaves the conference (once).
    fn leave(&mut self) {
        if let Stage::In(id) = self.stage {
            self.steps.push_back(Step::Leave(id));
        }
        if !matches!(self.stage, Stage::Over) {
            self.media.set_feed(Side::Caller, None);
            self.media.set_sink(None);
            self.media.set_mixer_clock(None);
        }
        self.stage = Stage::Over;
    }

    /// Takes what the dialog and the PIN and command machines decided.
    fn react(&mut self, now: Instant) {
        while let Some(e) = self.dialog.poll_event() {
            match e {
                CallEvent::Acked { .. } if matches!(self.stage, Stage::Answered) => {
                    if self.pins.asks() {
                        self.media
                            .play(Side::Caller, Source::Tone(Tone::PIN_PROMPT));
                        self.stage = Stage::Pin {
                            entry: Box::new(PinEntry::new(now, self.pins)),
                            wrong: false,
                        };
                    } else {
                        self.stage = Stage::Joining;
                        self.steps.push_back(Step::Join(Role::Participant));
                    }
                }
                CallEvent::Answered { sdp } if matches!(self.stage, Stage::Calling) => {
                    self.called_answered(now, &sdp)
                }
                CallEvent::Failed { .. } => self.stage = Stage::Over,
                CallEvent::AckTimedOut => {
                    self.leave();
                    self.dialog.hang_up(now, NORMAL_CLEARING);
                }
                CallEvent::Offer { sdp } => self.offered(now, &sdp),
                CallEvent::Digit(d) => self.digit(now, d.digit),
                CallEvent::Ended(_) => self.leave(),
                _ => {}
            }
        }
        if let Stage::Pin { entry, wrong } = &mut self.stage {
            while let Some(outcome) = entry.poll_outcome() {
                match outcome {
                    PinOutcome::Participant | PinOutcome::Moderator => {
                        let role = if outcome == PinOutcome::Moderator {
                            Role::Moderator
                        } else {
                            Role::Participant
                        };
                        self.media.stop_play(Side::Caller);
                        self.stage = Stage::Joining;
                        self.steps.push_back(Step::Join(role));
                        break;
                    }
                    PinOutcome::Retry => {
                        *wrong = true;
                        self.media.play(Side::Caller, Source::Tone(Tone::PIN_WRONG));
                    }
                    PinOutcome::Refused => {
                        self.media.play(Side::Caller, Source::Tone(Tone::PIN_WRONG));
                        self.stage = Stage::Over;
                        self.dialog.hang_up(now, REASON_PIN);
                        break;
                    }
                }
            }
        }
        if let Stage::In(id) = self.stage {
            while let Some(c) = self.commands.poll_command() {
                self.steps.push_back(Step::Command(id, c));
            }
        }
    }

    /// The participant answered our call: its answer sets up the media and it joins.
    fn called_answered(&mut self, now: Instant, sdp: &Bytes) {
        let streams = match (&self.offer, switchboard_engine::sdp::Sdp::parse(sdp)) {
            (Some(offer), Ok(answer)) => {
                switchboard_engine::sdp::negotiate::accept_answer(offer, &answer).ok()
            }
            _ => None,
        };
        match streams.and_then(|s| s.into_iter().next()) {
            Some(stream) => {
                self.codec = stream.codec;
                self.media
                    .configure(Side::Caller, super::media::stream(&stream, None));
                self.media.activate();
                self.stage = Stage::Joining;
                self.steps.push_back(Step::Join(Role::Participant));
            }
            None => {
                // an answer we cannot use: the call goes
                self.stage = Stage::Over;
                self.dialog
                    .hang_up(now, "SIP;cause=488;text=\"Not Acceptable Here\"");
            }
        }
    }

    /// Whether the call ended before the participant ever joined (not answered, refused).
    pub(super) fn failed_before_joining(&self) -> bool {
        !self.ever_joined
    }

    /// A re-INVITE's offer (hold, a new address): the same codec keeps its place in the mix;
    /// another one is refused (488) and the call goes on as it was.
    fn offered(&mut self, now: Instant, sdp: &Bytes) {
        let answer = switchboard_engine::sdp::Sdp::parse(sdp)
            .ok()
            .and_then(|offer| self.reanswer(&offer));
        match answer {
            Some((body, stream)) if stream.codec == self.codec => {
                if self.dialog.answer_offer(now, &body).is_ok() {
                    self.media
                        .configure(Side::Caller, super::media::stream(&stream, None));
                }
            }
            _ => {
                let _ = self.dialog.refuse_offer(now);
            }
        }
    }

    fn reanswer(
        &mut self,
        offer: &switchboard_engine::sdp::Sdp,
    ) -> Option<(String, switchboard_engine::sdp::negotiate::Negotiated)> {
        use switchboard_engine::sdp::negotiate::{answer, CodecPolicy, LocalEndpoint};
        let local = self.media.local(Side::Caller)?;
        let endpoint = LocalEndpoint::new(local.rtp.ip(), local.rtp.port());
        let policy = CodecPolicy {
            codecs: vec![self.codec],
            ..CodecPolicy::default()
        };
        self.origin.1 += 1;
        let origin =
            switchboard_engine::sdp::Origin::new(self.origin.0, self.origin.1, local.rtp.ip());
        let a = answer(offer, &endpoint, &policy, origin).ok()?;
        let stream = a.streams.into_iter().next()?;
        Some((a.sdp.to_string(), stream))
    }
}

impl super::CallLeg {
    /// Sends what the participant's dialog produced; the call ends when its dialog does
    /// (the part stays until no retransmission is left to answer).
    pub(super) fn drain_party(&mut self) {
        let Some(p) = self.party.as_mut() else {
            return;
        };
        let transports = &self.transports;
        let drained = p.drain(|flow, bytes| transports.send(flow, bytes));
        if drained == Drained::Live {
            return;
        }
        let failed = p.failed_before_joining();
        if drained == Drained::Done {
            self.party = None;
            self.party_who = None;
            self.party_caller = None;
        }
        // once: the calls table and presence hear of the end when the dialog ends
        if !self.call.is_ended() {
            self.end_call(if failed {
                "not answered"
            } else {
                "left the conference"
            });
        }
    }
}
