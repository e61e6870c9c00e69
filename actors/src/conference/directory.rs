//! The conference directory: one actor owning every ConferenceBridge, started on demand by
//! name (an `ownership::Registry`) and retired once empty. It owns the mixer thread's handle
//! and numbers the mixer's rooms, and starts a bridge with the settings the operator stored
//! for its name (read from the store), if any.
//!
//! Only a caller starts a bridge (admission, join) and the debug fault hook: a command of
//! the API for a name with no running bridge (view, create, mute, remove, close) is answered
//! here from the stored settings, and a leave or DTMF command of a participant whose bridge
//! is gone is dropped, so reading or changing an idle conference costs no actor and a
//! stored conference nobody called keeps no bridge.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler};
use switchboard_engine::conference::ConferenceName;

use super::bridge::{BridgeStart, ConferenceBridge};
pub use super::messages::VoiceSink;
use super::messages::{BridgeMsg, BridgeStopped, DirectoryHandle, RetireBridge};
use super::mixer::{MixerHandle, RoomKey};
use crate::api::conference::{
    ConferenceCommand, ConferenceRefused, ConferenceSettings, ConferenceView, RunningConferences,
    ToConference,
};
use crate::metrics::Metrics;
use crate::ownership::Registry;
use crate::recording::Recorder;

/// Where the directory reads the operator's settings of a conference.
pub type SettingsSource = Box<dyn Fn(&ConferenceName) -> Option<ConferenceSettings>>;

pub struct ConferenceDirectory {
    bridges: Registry<ConferenceName, BridgeMsg>,
    mixer: MixerHandle,
    metrics: Arc<Metrics>,
    settings: SettingsSource,
    voice: VoiceSink,
    recorder: Option<Recorder>,
    ceiling: usize,
    next_key: u64,
}

impl ConferenceDirectory {
    /// `ceiling`: participants per conference at most, whatever a conference's settings say.
    pub fn new(
        mixer: MixerHandle,
        metrics: Arc<Metrics>,
        settings: SettingsSource,
        voice: VoiceSink,
        recorder: Option<Recorder>,
        ceiling: usize,
    ) -> ConferenceDirectory {
        ConferenceDirectory {
            bridges: Registry::default(),
            mixer,
            metrics,
            settings,
            voice,
            recorder,
            ceiling,
            next_key: 1,
        }
    }
}

impl ConferenceDirectory {
    /// The operator's settings of `name`, within the ceiling.
    fn stored(&self, name: &ConferenceName) -> Option<ConferenceSettings> {
        (self.settings)(name).map(|mut s| {
            s.limits.max_participants = s.limits.max_participants.min(self.ceiling);
            s
        })
    }

    /// Answers `cmd` for `name`, which has no running bridge, when it needs none; gives it
    /// back when it does (a caller's admission or join, the fault hook).
    fn idle(&self, name: &ConferenceName, cmd: ConferenceCommand) -> Option<ConferenceCommand> {
        let refused = |stored: bool| {
            if stored {
                ConferenceRefused::NoParticipant
            } else {
                ConferenceRefused::NotFound
            }
        };
        match cmd {
            ConferenceCommand::View { reply } => {
                let view = self
                    .stored(name)
                    .map(|s| ConferenceView::new(name, &s, true, Vec::new()));
                let _ = reply.send(view);
            }
            ConferenceCommand::Create { settings, reply } => {
                // stored before it was sent: a bridge started later reads it
                let _ = reply.send(Ok(ConferenceView::new(name, &settings, true, Vec::new())));
            }
            ConferenceCommand::SetMuted { reply, .. } => {
                let _ = reply.send(Err(refused(self.stored(name).is_some())));
            }
            ConferenceCommand::Remove { reply, .. } => {
                let _ = reply.send(Err(refused(self.stored(name).is_some())));
            }
            ConferenceCommand::Close { reply } => {
                // nobody to hang up
                let r = match self.stored(name) {
                    Some(_) => Ok(()),
                    None => Err(ConferenceRefused::NotFound),
                };
                let _ = reply.send(r);
            }
            // the participant's bridge is gone, and the participant with it
            ConferenceCommand::Leave { .. } | ConferenceCommand::Dtmf { .. } => {}
            other => return Some(other),
        }
        None
    }
}

impl Actor for ConferenceDirectory {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.mixer.stop();
    }
}

impl Handler<ToConference> for ConferenceDirectory {
    type Result = ();

    fn handle(&mut self, m: ToConference, ctx: &mut Context<Self>) {
        let cmd = match self.bridges.deliver(&m.name, BridgeMsg(m.cmd)) {
            Ok(()) => return,
            Err(BridgeMsg(cmd)) => cmd,
        };
        let Some(cmd) = self.idle(&m.name, cmd) else {
            return;
        };
        let directory = DirectoryHandle {
            retire: ctx.address().recipient(),
            stopped: ctx.address().recipient(),
        };
        let key = RoomKey(self.next_key);
        self.next_key += 1;
        let stored = self.stored(&m.name);
        let (mixer, metrics, ceiling) = (&self.mixer, &self.metrics, self.ceiling);
        let voice = self.voice.clone();
        let recorder = self.recorder.clone();
        self.bridges.send(&m.name, BridgeMsg(cmd), |id| {
            ConferenceBridge::new(BridgeStart {
                name: m.name.clone(),
                id,
                key,
                mixer: mixer.clone(),
                metrics: metrics.clone(),
                directory,
                stored,
                ceiling,
                voice,
                recorder,
            })
            .start()
        });
        self.metrics
            .conferences_active
            .set(self.bridges.len() as i64);
    }
}

impl Handler<RunningConferences> for ConferenceDirectory {
    type Result = Vec<ConferenceName>;

    fn handle(&mut self, _: RunningConferences, _: &mut Context<Self>) -> Vec<ConferenceName> {
        self.bridges.keys().cloned().collect()
    }
}

impl Handler<RetireBridge> for ConferenceDirectory {
    type Result = ();

    fn handle(&mut self, m: RetireBridge, _: &mut Context<Self>) {
        self.bridges.retire(&m.name, m.id, m.processed);
        self.metrics
            .conferences_active
            .set(self.bridges.len() as i64);
    }
}

impl Handler<BridgeStopped> for ConferenceDirectory {
    type Result = ();

    fn handle(&mut self, m: BridgeStopped, _: &mut Context<Self>) {
        self.bridges.remove(&m.name, m.id);
        self.metrics
            .conferences_active
            .set(self.bridges.len() as i64);
        if self.bridges.is_empty() {
            self.bridges.shrink();
        }
    }
}
