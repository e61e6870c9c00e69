//! The conference directory: one actor owning every ConferenceBridge, started on demand by
//! name (an `ownership::Registry`) and retired once empty. It owns the mixer thread's handle
//! and numbers the mixer's rooms, and starts a bridge with the settings the operator stored
//! for its name (read from the store), if any.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler};
use switchboard_engine::conference::ConferenceName;

use super::bridge::{BridgeStart, ConferenceBridge};
pub use super::messages::VoiceSink;
use super::messages::{BridgeMsg, BridgeStopped, DirectoryHandle, RetireBridge};
use super::mixer::{MixerHandle, RoomKey};
use crate::api::conference::{ConferenceSettings, ToConference};
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

impl Actor for ConferenceDirectory {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.mixer.stop();
    }
}

impl Handler<ToConference> for ConferenceDirectory {
    type Result = ();

    fn handle(&mut self, m: ToConference, ctx: &mut Context<Self>) {
        let directory = DirectoryHandle {
            retire: ctx.address().recipient(),
            stopped: ctx.address().recipient(),
        };
        let key = RoomKey(self.next_key);
        let (mixer, metrics, settings, ceiling) =
            (&self.mixer, &self.metrics, &self.settings, self.ceiling);
        let voice = self.voice.clone();
        let recorder = self.recorder.clone();
        let mut started = false;
        self.bridges.send(&m.name, BridgeMsg(m.cmd), |id| {
            started = true;
            let stored = settings(&m.name).map(|mut s| {
                s.limits.max_participants = s.limits.max_participants.min(ceiling);
                s
            });
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
        if started {
            self.next_key += 1;
            self.metrics
                .conferences_active
                .set(self.bridges.len() as i64);
        }
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
