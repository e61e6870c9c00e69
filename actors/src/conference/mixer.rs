//! The mixer thread (`mixer`): the real-time loop that mixes every active conference, one
//! 20 ms tick at a time, and ticks only while some conference has a participant.
//!
//! Bridges steer it with [`MixerHandle`] commands over a crossbeam channel (open a room, a
//! participant joins with its rings, leaves, is muted, a join or leave tone for the room, the
//! mix is recorded, a status for the API). Each tick, for every room: pop each participant's
//! newest voice frame from its ring (`rings::VoiceReader`), run the engine's `Mixer::tick`
//! (N-1, per-rate buses, shared and private encodes, the room's announcement over the mix),
//! push each participant's payload into its mix ring (`rings::MixWriter`), and give the full
//! mix to the room's recording sink, if any; then ring the feed bell of each participant's
//! media thread (one wake-up per thread), which sends the payloads at once. Each tick's cost
//! goes into the metrics (busy time, longest tick, ticks begun more than 10 ms late, voice
//! frames that missed their tick). After setup (a join allocates the participant's buffers) a
//! tick allocates, locks and logs nothing; commands are handled between ticks.
//!
//! Timing: the thread ticks on a fixed 20 ms grid ([`MixerHandle::clock`], from the thread's
//! start), and every participant's session follows it: its frame tick, which decodes the
//! voice frame the mixer takes, falls [`LEAD`] before each mixer tick. A voice frame so waits
//! that lead for the mixer, and the mix none for the media thread: the bridge adds its input
//! jitter buffer's wait, the lead and the mix (about 10-30 ms) instead of two rings' and two
//! unaligned clocks' waits.
//!
//! A participant whose call closed its session (its voice ring's writer is gone) is taken
//! out at the next tick, so a bridge that failed before it heard of the leave cannot leave a
//! dead participant in the mix.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use switchboard_engine::conference::{Format, Mixer, MixerConfig, MixerError, ParticipantId};
use switchboard_engine::media::session::MixerClock;
use switchboard_engine::media::tone::Tone;
use switchboard_engine::media::{Codec, FrameSink, SampleRate, Side, FRAME, MAX_FRAME_SAMPLES};
use tokio::sync::oneshot;

use super::rings::{MixerEnds, RingCounters};
use crate::metrics::Metrics;

/// A room on the mixer thread, numbered by the conference directory.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey(pub u64);

/// Ticks the loop may fall behind before it skips ahead instead of catching up.
const MAX_LAG: u32 = 3;

/// How long before each mixer tick the participants' sessions make their voice frames: a
/// media thread's wake-up is late by up to a millisecond (its poll's resolution) plus its
/// other sessions' frames and the machine's scheduling.
pub const LEAD: Duration = Duration::from_millis(5);

/// What one participant looks like from the mixer, for the API.
#[derive(Clone, Debug, PartialEq)]
pub struct PartStatus {
    pub id: ParticipantId,
    pub talking: bool,
    /// In the mix now (one of the loudest talkers).
    pub in_mix: bool,
    pub muted: bool,
    pub level_dbfs: f32,
    /// Voice frames that did not reach the mix (dropped or skipped).
    pub voice_lost: u64,
    /// Ticks with no voice frame of the participant waiting.
    pub voice_missing: u64,
}

enum Command {
    Open {
        room: RoomKey,
        capacity: usize,
    },
    Join {
        room: RoomKey,
        id: ParticipantId,
        codec: Codec,
        ends: Box<MixerEnds>,
        reply: oneshot::Sender<Result<(), MixerError>>,
    },
    Leave {
        room: RoomKey,
        id: ParticipantId,
    },
    Mute {
        room: RoomKey,
        id: ParticipantId,
        muted: bool,
    },
    Announce {
        room: RoomKey,
        tone: Tone,
    },
    Record {
        room: RoomKey,
        sink: Option<(SampleRate, Box<dyn FrameSink>)>,
    },
    Status {
        room: RoomKey,
        reply: oneshot::Sender<Vec<PartStatus>>,
    },
    Close {
        room: RoomKey,
    },
    Stop,
}

/// The way to the mixer thread: cheap to clone.
#[derive(Clone)]
pub struct MixerHandle {
    tx: Sender<Command>,
    clock: MixerClock,
    join: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for MixerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MixerHandle")
    }
}

impl MixerHandle {
    /// Starts the mixer thread.
    pub fn spawn(metrics: Arc<Metrics>) -> std::io::Result<MixerHandle> {
        let (tx, rx) = channel::unbounded();
        let clock = MixerClock {
            epoch: Instant::now(),
            lead: LEAD,
        };
        let join = std::thread::Builder::new()
            .name("mixer".into())
            .spawn(move || Loop::new(rx, clock, metrics).run())?;
        Ok(MixerHandle {
            tx,
            clock,
            join: Arc::new(std::sync::Mutex::new(Some(join))),
        })
    }

    /// The thread's 20 ms clock, for the participants' sessions to follow.
    pub fn clock(&self) -> MixerClock {
        self.clock
    }

    /// A room for up to `capacity` participants (again: nothing changes).
    pub fn open(&self, room: RoomKey, capacity: usize) {
        let _ = self.tx.send(Command::Open { room, capacity });
    }

    /// A participant joins with its mixer-side ring ends; the answer says whether the room
    /// took it (it is full, or the id is taken).
    pub fn join(
        &self,
        room: RoomKey,
        id: ParticipantId,
        codec: Codec,
        ends: MixerEnds,
    ) -> oneshot::Receiver<Result<(), MixerError>> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Join {
            room,
            id,
            codec,
            ends: Box::new(ends),
            reply,
        });
        rx
    }

    pub fn leave(&self, room: RoomKey, id: ParticipantId) {
        let _ = self.tx.send(Command::Leave { room, id });
    }

    pub fn mute(&self, room: RoomKey, id: ParticipantId, muted: bool) {
        let _ = self.tx.send(Command::Mute { room, id, muted });
    }

    /// Plays `tone` to everyone in the room over the conversation (someone joined or left).
    pub fn announce(&self, room: RoomKey, tone: Tone) {
        let _ = self.tx.send(Command::Announce { room, tone });
    }

    /// Gives the room's full mix at `rate`, one frame per tick, to `sink` (as both sides, so a
    /// call recorder writes it on both channels); `None` stops.
    pub fn record(&self, room: RoomKey, sink: Option<(SampleRate, Box<dyn FrameSink>)>) {
        let _ = self.tx.send(Command::Record { room, sink });
    }

    /// What the mixer knows of each participant of the room (empty for an unknown room).
    pub fn status(&self, room: RoomKey) -> oneshot::Receiver<Vec<PartStatus>> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Status { room, reply });
        rx
    }

    /// The room and its participants go.
    pub fn close(&self, room: RoomKey) {
        let _ = self.tx.send(Command::Close { room });
    }

    /// Stops the thread and waits for it.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
        let join = self.join.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(j) = join {
            let _ = j.join();
        }
    }
}

struct Part {
    id: ParticipantId,
    ends: Box<MixerEnds>,
}

struct Room {
    mixer: Mixer,
    parts: Vec<Part>,
    record: Option<(SampleRate, Box<dyn FrameSink>)>,
}

struct Loop {
    rx: Receiver<Command>,
    clock: MixerClock,
    metrics: Arc<Metrics>,
    rooms: HashMap<RoomKey, Room>,
    /// One frame at any rate, for the voice read.
    frame: Box<[i16; MAX_FRAME_SAMPLES]>,
    /// Silence for a recording when the room's mix has no bus at its rate.
    silence: Box<[i16; MAX_FRAME_SAMPLES]>,
    next_tick: Option<Instant>,
}

impl Loop {
    fn new(rx: Receiver<Command>, clock: MixerClock, metrics: Arc<Metrics>) -> Loop {
        Loop {
            rx,
            clock,
            metrics,
            rooms: HashMap::new(),
            frame: Box::new([0; MAX_FRAME_SAMPLES]),
            silence: Box::new([0; MAX_FRAME_SAMPLES]),
            next_tick: None,
        }
    }

    fn run(mut self) {
        loop {
            let got = match self.next_tick {
                Some(at) => self.rx.recv_deadline(at),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match got {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(c) => self.handle(c),
                Err(RecvTimeoutError::Timeout) => self.tick(Instant::now()),
            }
            self.schedule();
        }
    }

    /// Ticks run while any room has a participant (or records).
    fn schedule(&mut self) {
        let busy = self
            .rooms
            .values()
            .any(|r| !r.parts.is_empty() || r.record.is_some());
        self.next_tick = match (busy, self.next_tick) {
            (false, _) => None,
            (true, Some(t)) => Some(t),
            (true, None) => Some(self.clock.mixer_tick_at_or_after(Instant::now())),
        };
        let n: usize = self.rooms.values().map(|r| r.parts.len()).sum();
        self.metrics.conference_participants.set(n as i64);
    }

    fn handle(&mut self, c: Command) {
        match c {
            Command::Open { room, capacity } => {
                self.rooms.entry(room).or_insert_with(|| Room {
                    mixer: Mixer::new(MixerConfig::new(capacity)),
                    parts: Vec::with_capacity(capacity),
                    record: None,
                });
            }
            Command::Join {
                room,
                id,
                codec,
                ends,
                reply,
            } => {
                let r = match self.rooms.get_mut(&room) {
                    Some(r) => r.mixer.add(id, Format::of(codec)).map(|()| {
                        r.parts.push(Part { id, ends });
                    }),
                    None => Err(MixerError::Full { capacity: 0 }),
                };
                let _ = reply.send(r);
            }
            Command::Leave { room, id } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.remove(id);
                }
            }
            Command::Mute { room, id, muted } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.mixer.set_muted(id, muted);
                }
            }
            Command::Announce { room, tone } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.mixer.announce(tone);
                }
            }
            Command::Record { room, sink } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.record = sink;
                }
            }
            Command::Status { room, reply } => {
                let status = self
                    .rooms
                    .get(&room)
                    .map(|r| r.status())
                    .unwrap_or_default();
                let _ = reply.send(status);
            }
            Command::Close { room } => {
                self.rooms.remove(&room);
            }
            Command::Stop => {}
        }
    }

    fn tick(&mut self, now: Instant) {
        let Some(due) = self.next_tick else {
            return;
        };
        let behind = now.saturating_duration_since(due);
        let at = tick_time(&self.clock, due, now);
        let frame = &mut self.frame[..];
        let silence = &self.silence[..];
        let mut missing = 0;
        let number = self.clock.tick_number(at);
        for room in self.rooms.values_mut() {
            missing += room.tick(frame, silence, number);
        }
        // the tick's cost (the mix, before the media threads it wakes may take the core) and
        // lateness: two clock reads and three atomic updates, no lock
        let busy = now.elapsed().as_secs_f64();
        // the payloads are all written: each media thread concerned wakes once and sends
        for room in self.rooms.values() {
            for p in &room.parts {
                p.ends.mix.ring();
            }
        }
        let m = &self.metrics;
        m.conference_ticks.inc();
        m.conference_tick_busy.inc_by(busy);
        if missing > 0 {
            m.conference_voice_missing.inc_by(missing);
        }
        if busy > m.conference_tick_max.get() {
            // only this thread sets it
            m.conference_tick_max.set(busy);
        }
        if behind > FRAME / 2 {
            m.conference_late_ticks.inc();
        }
        // on the grid the sessions follow, even after a stall
        self.next_tick = Some(at + FRAME);
    }
}

/// The grid time a tick due at `due` and run at `now` counts as: its own, or after a stall
/// of more than [`MAX_LAG`] ticks (the ticks missed are skipped rather than burst out) the
/// latest of the grid, so the mix it makes is numbered, and timed by the phones, as made now.
fn tick_time(clock: &MixerClock, due: Instant, now: Instant) -> Instant {
    if now.saturating_duration_since(due) > FRAME * MAX_LAG {
        clock.mixer_tick_at_or_before(now)
    } else {
        due
    }
}

impl Room {
    fn remove(&mut self, id: ParticipantId) {
        self.mixer.remove(id);
        self.parts.retain(|p| p.id != id);
    }

    /// The room's part of the mixer's tick number `number`; how many participants had no
    /// voice frame waiting.
    fn tick(&mut self, frame: &mut [i16], silence: &[i16], number: u64) -> u64 {
        // a participant whose session closed leaves (no allocation: retain moves in place)
        if self.parts.iter().any(|p| p.ends.voice.is_closed()) {
            let mixer = &mut self.mixer;
            self.parts.retain(|p| {
                let open = !p.ends.voice.is_closed();
                if !open {
                    mixer.remove(p.id);
                }
                open
            });
        }
        if self.parts.is_empty() && self.record.is_none() {
            return 0;
        }
        let mut missing = 0;
        for p in &mut self.parts {
            if p.ends.voice.read(frame) {
                let n = self
                    .mixer
                    .format(p.id)
                    .map_or(0, |f| f.rate.frame_samples());
                self.mixer.input(p.id, &frame[..n]);
            } else {
                missing += 1;
            }
        }
        self.mixer.tick();
        for p in &mut self.parts {
            p.ends.mix.write(number, self.mixer.output(p.id));
        }
        if let Some((rate, sink)) = &mut self.record {
            let mix = self
                .mixer
                .mix(*rate)
                .unwrap_or(&silence[..rate.frame_samples()]);
            // the mix on both channels: a stereo recording that plays the room on each side
            sink.frame(Side::Caller, *rate, mix);
            sink.frame(Side::Callee, *rate, mix);
        }
        missing
    }

    fn status(&self) -> Vec<PartStatus> {
        self.parts
            .iter()
            .map(|p| {
                let c = &p.ends.counters;
                PartStatus {
                    id: p.id,
                    talking: self.mixer.talking(p.id),
                    in_mix: self.mixer.in_mix(p.id),
                    muted: self.mixer.is_muted(p.id),
                    level_dbfs: self.mixer.level_dbfs(p.id),
                    voice_lost: RingCounters::get(&c.voice_dropped)
                        + RingCounters::get(&c.voice_skipped),
                    voice_missing: RingCounters::get(&c.voice_missing),
                }
            })
            .collect()
    }
}

/// How long a status request may wait for the thread before the API gives up.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests;
