//! Adaptive jitter buffer for the frame path (transcoding, recording, prompts, the mixer).
//!
//! Packets go in as they arrive (`push`, with the arrival time), frames come out once per
//! 20 ms tick (`pop`): a frame's payload, [`Playout::Missing`] when the caller must conceal
//! (see [`Concealment`]), or [`Playout::Idle`] when nothing is playing (before the first
//! packet has waited out the delay, or after the stream paused). Frames are placed by RTP
//! timestamp, so reordering within the window is undone and gaps are seen as gaps;
//! duplicates and packets whose frame has already been played (late) are dropped and
//! counted. Each packet carries one 20 ms frame, the packetization the switch negotiates.
//!
//! The delay adapts: an estimate of the arrival jitter (peak-following: it rises at once,
//! decays over seconds) sets a target of `jitter + one frame` within `min_delay..=max_delay`.
//! The buffer level (frames waiting behind the one being played, smoothed over ~300 ms) is
//! steered to the target: below it by more than a frame, `pop` inserts a `Missing` without
//! consuming a frame (the delay grows by 20 ms); above it by more than half a frame for
//! 200 ms, `pop` skips a frame position (it shrinks by 20 ms). When the buffer runs dry, `pop`
//! waits three frames (returning `Missing` without losing its place, so a late burst still
//! plays) and then goes idle; the next packet starts a new playout after the target delay. A
//! new SSRC, a timestamp jump beyond the window, or a marked packet (talkspurt start, RFC 3551
//! §4.1) arriving while the buffer is dry start over the same way.
//!
//! A low-latency input (a conference participant's voice, whose frames the mixer takes at
//! once) steers by slack instead ([`Steering::Slack`], `jitter/slack.rs`): each frame plays at
//! the first tick at least `guard` plus the measured jitter after it arrived, with no
//! floor of whole frames; a frame that misses its tick stretches the delay by one frame as
//! above, and the delay shrinks by one frame once every frame of a 200 ms window waited more
//! than a frame beyond that target. On a clean network a frame so waits 2-22 ms (about 12 ms
//! on average) instead of 40-60 ms; under jitter the target rises with the estimate.
//!
//! Storage is allocated once in `new`: a slot per frame of capacity and the payload bytes
//! behind them; `push` copies the payload in, `pop` lends it out. Neither allocates.
//!
//! Invariants: a frame is played at most once and in timestamp order; every frame position
//! the playout passes is exactly one of played, concealed or skipped.

mod conceal;
mod config;
mod estimate;
mod playout;
mod slack;

pub use conceal::Concealment;
pub use config::{JitterConfig, Steering};
pub use playout::{Frame, JitterStats, PacketMeta, Playout, Pushed};

use estimate::JitterEstimate;

use std::time::{Duration, Instant};

use super::rtp::{RtpTimestamp, Seq, Ssrc};
use super::FRAME;

/// Pops that `pop` keeps its place through an empty buffer before going idle.
const DRY_POPS_BEFORE_IDLE: u32 = 3;
/// Pops the level must stay above target before a frame is skipped (200 ms).
const SHRINK_HOLD_POPS: u32 = 10;
/// Fixed-point scale of the smoothed level.
const Q: i64 = 256;
/// Smoothing of the level: each pop moves it 1/16 of the way (about 320 ms).
const LEVEL_SMOOTHING: i64 = 16;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum SlotState {
    Empty,
    Filled,
    Played,
    /// Passed by the playout without being played (concealed or skipped).
    Passed,
}

#[derive(Copy, Clone, Debug)]
struct Slot {
    state: SlotState,
    ts: RtpTimestamp,
    seq: Seq,
    len: u16,
    /// When its packet arrived (while `Filled`).
    arrived: Option<Instant>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Buffering { start_at: Instant },
    Playing,
}

/// An adaptive jitter buffer for one stream.
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: Box<[Slot]>,
    payloads: Box<[u8]>,
    phase: Phase,
    /// The stream whose frames the slots hold; `None` before the first packet.
    ssrc: Option<Ssrc>,
    /// Timestamp of the next frame to play, and its slot.
    next_ts: RtpTimestamp,
    /// The first frame no playout of this stream has passed yet; earlier ones are late.
    floor: Option<RtpTimestamp>,
    next_slot: usize,
    /// Highest timestamp stored since the playout (re)started.
    newest_ts: RtpTimestamp,
    /// Slots in the `Filled` state.
    buffered: usize,
    dry_pops: u32,
    shrink_hold: u32,
    /// Smoothed level in frames, times `Q`.
    level: i64,
    jitter: JitterEstimate,
    /// The slack of the frames played lately (`Steering::Slack`).
    slack: slack::Window,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer with all its storage allocated.
    pub fn new(cfg: JitterConfig) -> JitterBuffer {
        let cfg = JitterConfig {
            capacity: cfg.capacity.max(2),
            frame_units: cfg.frame_units.max(1),
            clock_rate: cfg.clock_rate.max(1),
            max_payload: cfg.max_payload.min(usize::from(u16::MAX)),
            max_delay: cfg.max_delay.max(cfg.min_delay),
            ..cfg
        };
        let empty = Slot {
            state: SlotState::Empty,
            ts: RtpTimestamp(0),
            seq: Seq(0),
            len: 0,
            arrived: None,
        };
        JitterBuffer {
            slots: vec![empty; cfg.capacity].into_boxed_slice(),
            payloads: vec![0; cfg.capacity * cfg.max_payload].into_boxed_slice(),
            phase: Phase::Idle,
            ssrc: None,
            next_ts: RtpTimestamp(0),
            floor: None,
            next_slot: 0,
            newest_ts: RtpTimestamp(0),
            buffered: 0,
            dry_pops: 0,
            shrink_hold: 0,
            level: 0,
            jitter: JitterEstimate::new(cfg.clock_rate),
            slack: slack::Window::default(),
            stats: JitterStats::default(),
            cfg,
        }
    }

    /// Takes a packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, meta: PacketMeta, payload: &[u8]) -> Pushed {
        self.stats.received += 1;
        if payload.len() > self.cfg.max_payload {
            self.stats.dropped += 1;
            return Pushed::TooLarge;
        }
        let f = self.offset(meta.timestamp);
        let pushed = self.place(now, meta, payload, f);
        // the estimate learns from every packet that says something about the network:
        // stored and late ones, not copies, and not the first after a jump or a new source
        let near = self.ssrc == Some(meta.ssrc) && f.abs() < self.cfg.capacity as i64;
        match pushed {
            Pushed::Stored | Pushed::Late if near => {
                self.jitter
                    .on_arrival(now, meta.timestamp, self.cfg.max_delay)
            }
            Pushed::Stored | Pushed::Resynced => self.jitter.restart(now, meta.timestamp),
            _ => {}
        }
        pushed
    }

    /// Puts a packet `f` frames from the playout point where it belongs.
    fn place(&mut self, now: Instant, meta: PacketMeta, payload: &[u8], f: i64) -> Pushed {
        let cap = self.cfg.capacity as i64;
        if self.ssrc != Some(meta.ssrc) || f < -cap {
            return self.resync(now, meta, payload);
        }
        if f < 0 {
            return self.before_playout_point(now, f, meta, payload);
        }
        let dry = self.buffered == 0;
        if self.phase == Phase::Idle || (meta.marker && dry && self.phase == Phase::Playing) {
            // a talkspurt after a pause starts a new playout with the current target
            self.begin(now, meta, f);
            self.store(now, 0, meta, payload);
            return Pushed::Stored;
        }
        if f >= cap {
            let newest = if dry { 0 } else { self.offset(self.newest_ts) };
            if meta.marker || f - newest > cap / 2 {
                return self.resync(now, meta, payload);
            }
            self.stats.dropped += 1;
            return Pushed::Overflow;
        }
        if self.slots[self.slot_at(f)].state == SlotState::Filled {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.store(now, f, meta, payload);
        Pushed::Stored
    }

    /// The frame for the tick at `now` (call once per 20 ms).
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        match self.phase {
            Phase::Idle => return Playout::Idle,
            Phase::Buffering { start_at } if now < start_at => return Playout::Idle,
            Phase::Buffering { .. } => {
                self.phase = Phase::Playing;
                self.level = self.current_level() * Q;
                self.shrink_hold = 0;
            }
            Phase::Playing => {}
        }
        if self.buffered == 0 {
            self.dry_pops += 1;
            if self.dry_pops > DRY_POPS_BEFORE_IDLE {
                self.phase = Phase::Idle;
                return Playout::Idle;
            }
            // keep the place: a delayed burst still plays, 20 ms later
            self.stats.stretched += 1;
            self.slack.restart();
            return Playout::Missing;
        }
        self.dry_pops = 0;
        let level = self.current_level();
        self.level += (level * Q - self.level) / LEVEL_SMOOTHING;
        let grow = match self.cfg.steering {
            Steering::Level => self.steer_by_level(level),
            Steering::Slack { .. } => {
                if level >= 1 && self.slack.shrinks(self.target_delay()) {
                    self.level -= Q;
                    self.stats.skipped += 1;
                    self.pass_next();
                }
                false
            }
        };
        if grow {
            // grow: play a concealment frame and keep the next one for the next tick
            self.stats.stretched += 1;
            return Playout::Missing;
        }
        let idx = self.next_slot;
        let slot = self.slots[idx];
        if slot.state == SlotState::Filled && slot.ts == self.next_ts {
            if let Some(arrived) = slot.arrived {
                self.slack.played(now.saturating_duration_since(arrived));
            }
            self.slots[idx].state = SlotState::Played;
            self.buffered -= 1;
            self.advance();
            self.stats.played += 1;
            let at = idx * self.cfg.max_payload;
            return Playout::Frame(Frame {
                seq: slot.seq,
                timestamp: slot.ts,
                payload: &self.payloads[at..at + usize::from(slot.len)],
            });
        }
        self.stats.concealed += 1;
        self.slack.restart();
        self.pass_next();
        Playout::Missing
    }

    /// Steers the level to `jitter + one frame` in whole frames: skips a frame position once
    /// the level stayed above the target for 200 ms; true when the buffer must grow instead
    /// (play a concealment frame without consuming one).
    fn steer_by_level(&mut self, level: i64) -> bool {
        let target = self.target_frames();
        if self.level > target * Q + Q / 2 {
            self.shrink_hold += 1;
        } else {
            self.shrink_hold = 0;
        }
        if self.shrink_hold >= SHRINK_HOLD_POPS && level >= 1 {
            // shrink: pass over the next frame position (a hole costs nothing to skip)
            self.shrink_hold = 0;
            self.level -= Q;
            self.stats.skipped += 1;
            self.pass_next();
            false
        } else if self.level + Q < target * Q {
            self.level += Q;
            true
        } else {
            false
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The buffering delay now: frames waiting behind the one being played, smoothed.
    pub fn delay(&self) -> Duration {
        Duration::from_micros((self.level.max(0) * FRAME.as_micros() as i64 / Q) as u64)
    }

    /// The delay the buffer steers to.
    pub fn target_delay(&self) -> Duration {
        let jitter = self.jitter.estimate();
        let want = match self.cfg.steering {
            Steering::Level => jitter + FRAME,
            Steering::Slack { guard } => guard + jitter,
        };
        want.clamp(self.cfg.min_delay, self.cfg.max_delay)
    }

    /// The arrival jitter estimate that sets the target.
    pub fn jitter(&self) -> Duration {
        self.jitter.estimate()
    }

    /// Frames stored and not yet played.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Forgets the stream (counters stay): the next packet starts afresh.
    pub fn reset(&mut self) {
        self.flush();
        self.ssrc = None;
        self.floor = None;
        self.phase = Phase::Idle;
        self.jitter.forget();
    }

    /// Drops everything and starts a new playout with this packet (the jitter estimate keeps
    /// its value).
    fn resync(&mut self, now: Instant, meta: PacketMeta, payload: &[u8]) -> Pushed {
        let counted = self.ssrc.is_some();
        if counted {
            self.stats.resyncs += 1;
        }
        self.flush();
        self.ssrc = Some(meta.ssrc);
        self.floor = None;
        // no history to place this packet against: it starts the slot numbering
        self.next_ts = meta.timestamp;
        self.begin(now, meta, 0);
        self.store(now, 0, meta, payload);
        if counted {
            Pushed::Resynced
        } else {
            Pushed::Stored
        }
    }

    /// Starts filling at `meta`'s frame, `f` frames after the current playout point (the
    /// slots in between are empty).
    fn begin(&mut self, now: Instant, meta: PacketMeta, f: i64) {
        self.next_slot = self.slot_at(f);
        self.next_ts = meta.timestamp;
        self.newest_ts = meta.timestamp;
        self.dry_pops = 0;
        self.slack.restart();
        self.phase = Phase::Buffering {
            start_at: now + self.target_delay(),
        };
    }

    fn flush(&mut self) {
        for s in self.slots.iter_mut() {
            if s.state == SlotState::Filled {
                self.stats.dropped += 1;
            }
            s.state = SlotState::Empty;
        }
        self.buffered = 0;
    }

    /// A packet `f` (< 0, within the window) frames before the playout point.
    fn before_playout_point(
        &mut self,
        now: Instant,
        f: i64,
        meta: PacketMeta,
        payload: &[u8],
    ) -> Pushed {
        if let Phase::Buffering { .. } = self.phase {
            // not playing yet: an earlier frame moves the start back if it fits the window
            // and was never passed over by an earlier playout
            let unplayed = match self.floor {
                Some(fl) => fl.distance_to(meta.timestamp) >= 0,
                None => true,
            };
            let newest = self.offset(self.newest_ts);
            if unplayed && newest - f < self.cfg.capacity as i64 {
                self.next_slot = self.slot_at(f);
                self.next_ts = meta.timestamp;
                self.store(now, 0, meta, payload);
                return Pushed::Stored;
            }
        }
        let slot = &self.slots[self.slot_at(f)];
        if slot.state == SlotState::Played && slot.ts == meta.timestamp {
            self.stats.duplicates += 1;
            Pushed::Duplicate
        } else {
            self.stats.late += 1;
            Pushed::Late
        }
    }

    fn store(&mut self, now: Instant, f: i64, meta: PacketMeta, payload: &[u8]) {
        let idx = self.slot_at(f);
        if self.slots[idx].state == SlotState::Filled {
            // a frame off the 20 ms grid of this one (timestamps that moved by part of a
            // frame) can share its slot: the older one goes, counted
            self.buffered -= 1;
            self.stats.dropped += 1;
        }
        let at = idx * self.cfg.max_payload;
        self.payloads[at..at + payload.len()].copy_from_slice(payload);
        self.slots[idx] = Slot {
            state: SlotState::Filled,
            // frames are addressed by their 20 ms position from the playout point
            ts: meta.timestamp,
            seq: meta.seq,
            len: payload.len() as u16,
            arrived: Some(now),
        };
        self.buffered += 1;
        if f > self.offset(self.newest_ts) {
            self.newest_ts = meta.timestamp;
        }
    }

    /// Moves the playout point over the next position without playing it. A frame there whose
    /// timestamp is not the position's (a stream that moved by part of a frame) could never
    /// play: it is counted dropped.
    fn pass_next(&mut self) {
        let idx = self.next_slot;
        if self.slots[idx].state == SlotState::Filled {
            self.buffered -= 1;
            if self.slots[idx].ts != self.next_ts {
                self.stats.dropped += 1;
            }
        }
        self.slots[idx] = Slot {
            state: SlotState::Passed,
            ts: self.next_ts,
            seq: Seq(0),
            len: 0,
            arrived: None,
        };
        self.advance();
    }

    fn advance(&mut self) {
        self.next_ts = self.next_ts.wrapping_add(self.cfg.frame_units);
        self.next_slot = (self.next_slot + 1) % self.cfg.capacity;
        self.floor = Some(self.next_ts);
    }

    /// Whole frames from the playout point to `ts` (negative when behind).
    fn offset(&self, ts: RtpTimestamp) -> i64 {
        i64::from(self.next_ts.distance_to(ts)).div_euclid(i64::from(self.cfg.frame_units))
    }

    fn slot_at(&self, f: i64) -> usize {
        (self.next_slot as i64 + f).rem_euclid(self.cfg.capacity as i64) as usize
    }

    /// Frames stored behind the next one to play (the newest frame's distance from it).
    fn current_level(&self) -> i64 {
        if self.buffered == 0 {
            0
        } else {
            self.offset(self.newest_ts).max(0)
        }
    }

    fn target_frames(&self) -> i64 {
        let t = self.target_delay().as_micros() as i64;
        let frame = FRAME.as_micros() as i64;
        (t + frame - 1) / frame
    }
}

#[cfg(test)]
mod tests;
