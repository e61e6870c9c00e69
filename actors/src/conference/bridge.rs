//! The ConferenceBridge actor: one per active conference, the single owner of its
//! participants' state (who, role, muted, since when) and of its settings. It never touches
//! audio: it steers the mixer thread (`MixerHandle`: joins, leaves, mutes, and the join and
//! leave tones, which the mixer plays to the whole room over the conversation), hands each
//! joining call the media ends of its rings and the mixer's clock, and tells calls what to
//! play to them alone or when to hang up (`ConferenceNote`).
//!
//! Supervision: every command runs under `guard::guarded`; the state after each command is
//! kept as the bridge's snapshot. A command that fails (panics) is dropped and the state
//! goes back to the snapshot: the bridge goes on as it was before that command, and the
//! participants' calls never notice (their sessions keep their sockets and the mixer thread
//! keeps mixing; the mixer takes out by itself a participant whose call closed).
//!
//! Lifetime: started by the directory on the first command for its name, with the settings
//! the operator stored (then it is kept when empty) or defaults (then it retires once the
//! last participant leaves, through the directory's race-free `retire`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Recipient, WrapFuture,
};
use switchboard_engine::chat::VoiceState;
use switchboard_engine::conference::{Command, ConferenceName, ParticipantId, Role};
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::RecordingId;
use tracing::{info, warn};

use super::messages::{BridgeMsg, BridgeStopped, DirectoryHandle, RetireBridge, VoiceSink};
use super::mixer::{MixerHandle, PartStatus, RoomKey, STATUS_TIMEOUT};
use super::rings;
use crate::api::conference::{
    Admission, ConferenceCommand, ConferenceNote, ConferenceRefused, ConferenceSettings,
    ConferenceView, JoinRequest, Joined, ParticipantView,
};
use crate::clock::unix_now_ms;
use crate::guard::guarded;
use crate::metrics::Metrics;
use crate::ownership::{OwnerId, Stop};
use crate::recording::{Recorder, RecordingMeta};

/// How long an empty bridge waits before asking to retire (a caller who redials at once
/// finds it still there).
const RETIRE_AFTER: Duration = Duration::from_secs(2);

/// How often the chat room hears who is talking.
const TALKERS_EVERY: Duration = Duration::from_secs(1);

/// What the bridge knows of a participant.
#[derive(Clone, Debug)]
struct Participant {
    who: String,
    role: Role,
    muted: bool,
    codec: Codec,
    joined_unix_ms: u64,
    leg: Recipient<ConferenceNote>,
}

/// Everything a command may change: kept as the snapshot after each command.
#[derive(Clone, Debug)]
struct State {
    settings: ConferenceSettings,
    /// Made (or configured) by the operator: kept when empty.
    persistent: bool,
    participants: BTreeMap<ParticipantId, Participant>,
    /// In joining order (for "remove the last one").
    order: Vec<ParticipantId>,
    next_id: u32,
    /// Closed by the operator: refuses joins until it stops.
    closed: bool,
    /// The recording of the mix while anyone is in (`settings.record`).
    recording: Option<RecordingId>,
}

pub struct ConferenceBridge {
    name: ConferenceName,
    id: OwnerId,
    key: RoomKey,
    mixer: MixerHandle,
    metrics: Arc<Metrics>,
    directory: DirectoryHandle,
    state: State,
    snapshot: State,
    processed: u64,
    voice: VoiceSink,
    /// What the chat room was last told.
    told: Vec<(String, VoiceState)>,
    recorder: Option<Recorder>,
}

/// How a bridge starts.
pub struct BridgeStart {
    pub name: ConferenceName,
    pub id: OwnerId,
    pub key: RoomKey,
    pub mixer: MixerHandle,
    pub metrics: Arc<Metrics>,
    pub directory: DirectoryHandle,
    /// The operator's settings, if the conference was made over HTTP.
    pub stored: Option<ConferenceSettings>,
    /// Participants at most, whatever the settings say (the mixer's room is this big).
    pub ceiling: usize,
    /// Where it tells who is in the conference (the chat room of the same name).
    pub voice: VoiceSink,
    /// Where the mix is recorded when the settings ask for it.
    pub recorder: Option<Recorder>,
}

impl ConferenceBridge {
    pub fn new(s: BridgeStart) -> ConferenceBridge {
        let persistent = s.stored.is_some();
        let mut settings = s.stored.unwrap_or_default();
        settings.limits.max_participants = settings.limits.max_participants.min(s.ceiling);
        let state = State {
            settings,
            persistent,
            participants: BTreeMap::new(),
            order: Vec::new(),
            next_id: 1,
            closed: false,
            recording: None,
        };
        s.mixer.open(s.key, s.ceiling);
        ConferenceBridge {
            name: s.name,
            id: s.id,
            key: s.key,
            mixer: s.mixer,
            metrics: s.metrics,
            directory: s.directory,
            snapshot: state.clone(),
            state,
            processed: 0,
            voice: s.voice,
            told: Vec::new(),
            recorder: s.recorder,
        }
    }

    fn on_command(&mut self, cmd: ConferenceCommand, ctx: &mut Context<Self>) {
        match cmd {
            ConferenceCommand::Admission { reply } => {
                let s = &self.state;
                let _ = reply.send(Admission {
                    pins: s.settings.pins,
                    full: s.closed || s.settings.limits.admit(s.participants.len()).is_err(),
                });
            }
            ConferenceCommand::Join(j) => self.join(*j),
            ConferenceCommand::Leave { id } => self.leave(id),
            ConferenceCommand::Dtmf { id, command } => self.dtmf(id, command),
            ConferenceCommand::Create { settings, reply } => {
                self.state.settings = settings;
                self.state.persistent = true;
                self.state.closed = false;
                self.view(ctx, move |v| {
                    let _ = reply.send(Ok(v));
                });
            }
            ConferenceCommand::View { reply } => {
                if !self.exists() {
                    let _ = reply.send(None);
                    return;
                }
                self.view(ctx, move |v| {
                    let _ = reply.send(Some(v));
                });
            }
            ConferenceCommand::SetMuted { id, muted, reply } => {
                if !self.state.participants.contains_key(&id) {
                    let _ = reply.send(Err(self.missing()));
                    return;
                }
                self.set_muted(id, muted);
                self.view(ctx, move |v| {
                    let p = v.participants.into_iter().find(|p| p.id == id.0);
                    let _ = reply.send(p.ok_or(ConferenceRefused::NoParticipant));
                });
            }
            ConferenceCommand::Remove { id, reply } => {
                let r = if self.state.participants.contains_key(&id) {
                    self.remove(id, "removed by the operator");
                    Ok(())
                } else {
                    Err(self.missing())
                };
                let _ = reply.send(r);
            }
            ConferenceCommand::Close { reply } => {
                if !self.exists() {
                    let _ = reply.send(Err(ConferenceRefused::NotFound));
                    return;
                }
                let ids: Vec<_> = self.state.participants.keys().copied().collect();
                for id in ids {
                    self.remove(id, "conference closed");
                }
                self.state.persistent = false;
                self.state.closed = true;
                let _ = reply.send(Ok(()));
            }
            #[cfg(debug_assertions)]
            ConferenceCommand::Fail => {
                // half a change, then a failure: the snapshot must undo the half
                self.state.next_id += 1000;
                self.state.participants.clear();
                panic!("conference bridge failure injected for a test");
            }
        }
    }

    /// Whether the conference exists for the API: made by the operator or someone is in it.
    fn exists(&self) -> bool {
        !self.state.closed && (self.state.persistent || !self.state.participants.is_empty())
    }

    fn missing(&self) -> ConferenceRefused {
        if self.exists() {
            ConferenceRefused::NoParticipant
        } else {
            ConferenceRefused::NotFound
        }
    }

    fn join(&mut self, j: JoinRequest) {
        let s = &mut self.state;
        if s.closed {
            let _ = j.reply.send(Err(ConferenceRefused::NotFound));
            return;
        }
        if let Err(e) = s.settings.limits.admit(s.participants.len()) {
            let max = match e {
                switchboard_engine::conference::ConferenceError::Full { max } => max,
                _ => s.settings.limits.max_participants,
            };
            let _ = j.reply.send(Err(ConferenceRefused::Full { max }));
            return;
        }
        let id = ParticipantId(s.next_id);
        s.next_id += 1;
        let (leg_ends, mixer_ends) = rings::pair(j.codec, j.bell);
        // the room was opened with the ceiling and the limit is below it, and ids are new:
        // the mixer takes it; its answer is not waited for
        drop(self.mixer.join(self.key, id, j.codec, mixer_ends));
        let others = s.participants.len();
        // everyone, the newcomer too, hears the join tone over the conversation
        self.mixer.announce(self.key, Tone::JOINED);
        s.participants.insert(
            id,
            Participant {
                who: j.who,
                role: j.role,
                muted: false,
                codec: j.codec,
                joined_unix_ms: unix_now_ms(),
                leg: j.leg,
            },
        );
        s.order.push(id);
        info!(conference = %self.name, participant = %id, others, "joined");
        let _ = j.reply.send(Ok(Joined {
            id,
            voice: Box::new(leg_ends.voice),
            mix: Box::new(leg_ends.mix),
            clock: self.mixer.clock(),
            others,
        }));
    }

    fn leave(&mut self, id: ParticipantId) {
        if self.state.participants.remove(&id).is_none() {
            return;
        }
        self.state.order.retain(|&o| o != id);
        self.mixer.leave(self.key, id);
        self.mixer.announce(self.key, Tone::LEFT);
        info!(conference = %self.name, participant = %id, "left");
    }

    /// Takes a participant out and hangs up its call.
    fn remove(&mut self, id: ParticipantId, reason: &'static str) {
        if let Some(p) = self.state.participants.get(&id) {
            p.leg.do_send(ConferenceNote::Hangup { reason });
        }
        self.leave(id);
    }

    fn set_muted(&mut self, id: ParticipantId, muted: bool) {
        let Some(p) = self.state.participants.get_mut(&id) else {
            return;
        };
        if p.muted == muted {
            return;
        }
        p.muted = muted;
        self.mixer.mute(self.key, id, muted);
        let tone = if muted { Tone::MUTED } else { Tone::UNMUTED };
        p.leg.do_send(ConferenceNote::Play(tone));
    }

    fn dtmf(&mut self, id: ParticipantId, command: Command) {
        let Some(p) = self.state.participants.get(&id) else {
            return;
        };
        if self
            .state
            .settings
            .limits
            .authorize(p.role, command)
            .is_err()
        {
            p.leg.do_send(ConferenceNote::Play(Tone::PIN_WRONG));
            return;
        }
        match command {
            Command::ToggleMute => {
                let muted = !p.muted;
                self.set_muted(id, muted);
            }
            Command::MuteAll | Command::UnmuteAll => {
                let muted = command == Command::MuteAll;
                let ids: Vec<_> = self
                    .state
                    .participants
                    .iter()
                    .filter(|(_, p)| p.role != Role::Moderator)
                    .map(|(&i, _)| i)
                    .collect();
                for i in ids {
                    self.set_muted(i, muted);
                }
            }
            Command::RemoveLast => {
                let last = self.state.order.iter().rev().find(|&&o| o != id).copied();
                if let Some(last) = last {
                    self.remove(last, "removed by the moderator");
                }
            }
        }
    }

    /// Builds the API's view once the mixer said who is talking, then `done` with it.
    fn view(&mut self, ctx: &mut Context<Self>, done: impl FnOnce(ConferenceView) + 'static) {
        let status = self.mixer.status(self.key);
        let fut = async move {
            tokio::time::timeout(STATUS_TIMEOUT, status)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default()
        };
        ctx.spawn(fut.into_actor(self).map(move |status, me, _| {
            done(me.make_view(&status));
        }));
    }

    fn make_view(&self, status: &[PartStatus]) -> ConferenceView {
        let s = &self.state;
        let participants = s
            .participants
            .iter()
            .map(|(id, p)| {
                let st = status.iter().find(|x| x.id == *id);
                ParticipantView {
                    id: id.0,
                    who: p.who.clone(),
                    moderator: p.role == Role::Moderator,
                    muted: p.muted,
                    talking: st.is_some_and(|x| x.talking),
                    codec: p.codec.to_string(),
                    rate_hz: p.codec.sample_rate().hz(),
                    level_dbfs: st.map_or(-96.0, |x| x.level_dbfs),
                    frames_lost: st.map_or(0, |x| x.voice_lost),
                    joined_unix_ms: p.joined_unix_ms,
                }
            })
            .collect();
        ConferenceView::new(&self.name, &s.settings, s.persistent, participants)
    }

    /// Records the mix while anyone is in and the settings ask for it; ends the recording
    /// when the last one leaves (or recording is turned off).
    fn reconcile_recording(&mut self) {
        let want = self.state.settings.record && !self.state.participants.is_empty();
        match (want, self.state.recording) {
            (true, None) => {
                let Some(recorder) = &self.recorder else {
                    return;
                };
                let room = Aor::from_canonical(&self.name.user());
                let meta = RecordingMeta {
                    caller: room.clone(),
                    callee: room,
                    call_id: format!("conference {}", self.name),
                    started: std::time::SystemTime::now(),
                };
                match recorder.start(meta) {
                    Ok((id, tap)) => {
                        self.mixer
                            .record(self.key, Some((SampleRate::WIDE, Box::new(tap))));
                        self.state.recording = Some(id);
                        info!(conference = %self.name, recording = %id, "mix recorded");
                    }
                    Err(e) => warn!(conference = %self.name, error = %e, "mix not recorded"),
                }
            }
            (false, Some(id)) => {
                self.mixer.record(self.key, None);
                if let Some(r) = &self.recorder {
                    r.finish(id);
                }
                self.state.recording = None;
            }
            _ => {}
        }
    }

    /// Tells the chat room who is in the conference and how, when that changed (`talking`:
    /// who the mixer hears now).
    fn tell_room(&mut self, talking: &[ParticipantId]) {
        let states: Vec<(String, VoiceState)> = self
            .state
            .participants
            .iter()
            .filter(|(_, p)| p.who != "anonymous")
            .map(|(id, p)| {
                let v = if p.muted {
                    VoiceState::Muted
                } else if talking.contains(id) {
                    VoiceState::Talking
                } else {
                    VoiceState::InVoice
                };
                (p.who.clone(), v)
            })
            .collect();
        if states != self.told {
            (self.voice)(&self.name, states.clone());
            self.told = states;
        }
    }

    /// Every second while anyone is in: who talks now, for the chat room.
    fn watch_talkers(&mut self, ctx: &mut Context<Self>) {
        if self.state.participants.is_empty() {
            return;
        }
        let status = self.mixer.status(self.key);
        let fut = async move {
            tokio::time::timeout(STATUS_TIMEOUT, status)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default()
        };
        ctx.spawn(fut.into_actor(self).map(|status, me, _| {
            let talking: Vec<ParticipantId> =
                status.iter().filter(|s| s.talking).map(|s| s.id).collect();
            me.tell_room(&talking);
        }));
    }

    /// An empty bridge nobody keeps asks to retire, a little later.
    fn maybe_retire(&mut self, ctx: &mut Context<Self>) {
        if !self.state.participants.is_empty() || self.state.persistent {
            return;
        }
        let processed = self.processed;
        ctx.run_later(RETIRE_AFTER, move |me, _| {
            if me.processed == processed && me.state.participants.is_empty() && !me.state.persistent
            {
                me.directory.retire.do_send(RetireBridge {
                    name: me.name.clone(),
                    id: me.id,
                    processed,
                });
            }
        });
    }
}

impl Actor for ConferenceBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(TALKERS_EVERY, |me, ctx| me.watch_talkers(ctx));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let (Some(id), Some(r)) = (self.state.recording, &self.recorder) {
            r.finish(id);
        }
        self.mixer.close(self.key);
        self.directory.stopped.do_send(BridgeStopped {
            name: self.name.clone(),
            id: self.id,
        });
    }
}

impl Handler<BridgeMsg> for ConferenceBridge {
    type Result = ();

    fn handle(&mut self, m: BridgeMsg, ctx: &mut Context<Self>) {
        self.processed += 1;
        let metrics = self.metrics.clone();
        let ok = guarded("conference bridge", &metrics, || self.on_command(m.0, ctx));
        match ok {
            Some(()) => self.snapshot = self.state.clone(),
            None => {
                self.state = self.snapshot.clone();
                self.metrics.conference_restarts.inc();
                warn!(conference = %self.name, "bridge failed; went back to its last snapshot");
            }
        }
        let talking: Vec<ParticipantId> = self
            .told
            .iter()
            .filter(|(_, v)| *v == VoiceState::Talking)
            .filter_map(|(who, _)| {
                self.state
                    .participants
                    .iter()
                    .find(|(_, p)| &p.who == who)
                    .map(|(id, _)| *id)
            })
            .collect();
        self.tell_room(&talking);
        self.reconcile_recording();
        self.snapshot.recording = self.state.recording;
        self.maybe_retire(ctx);
    }
}

impl Handler<Stop> for ConferenceBridge {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
