//! Leaving a message: the caller of a subscriber who did not answer (or was busy) hears a
//! greeting and a beep, and is recorded.
//!
//! ```text
//!  greeting --end or #--> beep --end--> recording --#, silence, limit--> goodbye --end--> HangUp
//!     \ mailbox full: greeting, "mailbox full", goodbye --end--> HangUp
//!  the caller hangs up anywhere: done (a recording stops and is kept from one second on)
//! ```
//!
//! The greeting is the subscriber's own for the reason ([`Reason`]), else their recorded name
//! with "is not available" / "is busy", else "The person at <number> ...", each followed by
//! "please leave a message after the tone". A recording stops at the caller's hang-up, `#`,
//! a stretch of silence or the length limit ([`CaptureLimits`]); it is kept when it is at
//! least `min_length` long ([`StopRecording`](Action::StopRecording) says so, and how much
//! of it to keep).
//!
//! Drive it with `handle_*` and `now`, take [`Action`]s from `poll_action` after each call
//! and call `handle_timeout` at `poll_timeout`. A playback ends when the owner says so with
//! its id (`handle_play_finished`). Invariants: `StartRecording` comes at most once and every
//! one is followed by exactly one `StopRecording`; `HangUp` comes at most once, last; after
//! the caller hangs up nothing but the `StopRecording` of a recording in progress follows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::capture::{Capture, CaptureLimits, StopReason, Stopped};
use super::play::{say, Audio, PlayId, Playback, Player};
use super::record::{Greeting, Greetings};
use crate::media::dtmf::Digit;
use crate::prompt::{clip, voicemail as sentences};

/// Why the call came to the mailbox.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not answered, or the subscriber could not be reached.
    Unavailable,
    /// The subscriber was busy.
    Busy,
}

/// How a message is left.
#[derive(Clone, Debug, PartialEq)]
pub struct DepositConfig {
    pub reason: Reason,
    /// The mailbox's number, said by the default greetings.
    pub number: String,
    /// The greetings the subscriber recorded.
    pub greetings: Greetings,
    /// The mailbox takes no more messages: the caller hears so, and nothing is recorded.
    pub full: bool,
    pub capture: CaptureLimits,
    /// The longest the whole call may take; then the switch hangs up (a recording stops).
    pub max_call: Duration,
    /// How long the goodbye may take before the switch hangs up anyway.
    pub goodbye_grace: Duration,
}

impl Default for DepositConfig {
    /// Unavailable, default greetings, 6 minutes a call, 5 s for the goodbye.
    fn default() -> DepositConfig {
        DepositConfig {
            reason: Reason::Unavailable,
            number: String::new(),
            greetings: Greetings::default(),
            full: false,
            capture: CaptureLimits::default(),
            max_call: Duration::from_secs(360),
            goodbye_grace: Duration::from_secs(5),
        }
    }
}

/// What the machine asks its owner to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Play these items to the caller, replacing what plays.
    Play(Playback),
    /// Start recording the caller (the message starts now).
    StartRecording,
    /// Stop recording; keep the first `length` of it, or nothing when `keep` is false.
    StopRecording(Stopped),
    /// Hang up the call.
    HangUp,
}

#[derive(Clone, Debug)]
enum Stage {
    Greeting,
    Beep,
    Recording(Capture),
    /// The last words play; then the switch hangs up (at `until` at the latest, if set).
    Closing {
        until: Option<Instant>,
    },
    Done,
}

/// One caller leaving a message.
#[derive(Clone, Debug)]
pub struct Deposit {
    config: DepositConfig,
    stage: Stage,
    player: Player,
    actions: VecDeque<Action>,
    ends: Instant,
    stopped: Option<Stopped>,
}

/// The greeting a caller hears for `reason`, before the beep.
pub fn greeting(reason: Reason, greetings: Greetings, number: &str) -> Vec<Audio> {
    let (own, state, default) = match reason {
        Reason::Unavailable => (
            Greeting::Unavailable,
            clip::IS_NOT_AVAILABLE,
            sentences::not_available(number),
        ),
        Reason::Busy => (Greeting::Busy, clip::IS_BUSY, sentences::busy(number)),
    };
    let mut items = Vec::with_capacity(16);
    if greetings.has(own) {
        items.push(Audio::Greeting(own));
    } else if greetings.has(Greeting::Name) {
        items.extend([Audio::Greeting(Greeting::Name), Audio::Clip(state)]);
    } else {
        say(&mut items, &default);
    }
    items
}

impl Deposit {
    /// A caller reaches the mailbox at `now`: the greeting starts.
    pub fn new(now: Instant, config: DepositConfig) -> Deposit {
        let mut d = Deposit {
            ends: now + config.max_call,
            config,
            stage: Stage::Greeting,
            player: Player::default(),
            actions: VecDeque::new(),
            stopped: None,
        };
        let mut items = greeting(d.config.reason, d.config.greetings, &d.config.number);
        if d.config.full {
            items.extend([clip::MAILBOX_FULL, clip::GOODBYE].map(Audio::Clip));
            // no grace time: the greeting before the notice may be long
            d.stage = Stage::Closing { until: None };
        } else {
            items.push(Audio::Clip(clip::LEAVE_MESSAGE));
        }
        d.play(items);
        d
    }

    /// The playback `id` has ended.
    pub fn handle_play_finished(&mut self, now: Instant, id: PlayId) {
        self.handle_timeout(now);
        if !self.player.finished(id) {
            return;
        }
        match self.stage {
            Stage::Greeting => self.beep(),
            Stage::Beep => {
                self.stage = Stage::Recording(Capture::new(now, self.config.capture));
                self.actions.push_back(Action::StartRecording);
            }
            Stage::Closing { .. } => self.hang_up(),
            Stage::Recording(_) | Stage::Done => {}
        }
    }

    /// The caller pressed `digit`: `#` skips the greeting, or ends the recording.
    pub fn handle_digit(&mut self, now: Instant, digit: Digit) {
        self.handle_timeout(now);
        if digit.as_char() != '#' {
            return;
        }
        match &self.stage {
            Stage::Greeting => self.beep(),
            Stage::Recording(c) => {
                let s = c.stop(now, StopReason::Key);
                self.stop(now, s);
            }
            _ => {}
        }
    }

    /// The level of the caller's latest 20 ms frame (`media::tone::block_dbfs`).
    pub fn handle_frame_level(&mut self, now: Instant, dbfs: f64) {
        // silence that ran out before this frame ends the recording first
        self.handle_timeout(now);
        if let Stage::Recording(c) = &mut self.stage {
            c.level(now, dbfs);
        }
    }

    /// The caller hung up.
    pub fn handle_hangup(&mut self, now: Instant) {
        // nothing is said to a caller who is gone; a recording stops where it would have
        // stopped by itself, if that came first
        let now = now.min(self.ends);
        if let Stage::Recording(c) = &self.stage {
            let s = match c.due(now) {
                Some((why, at)) => c.stop(at, why),
                None => c.stop(now, StopReason::HangUp),
            };
            self.stopped = Some(s);
            self.actions.push_back(Action::StopRecording(s));
        }
        self.player.stop();
        self.stage = Stage::Done;
    }

    /// Acts on what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.stage, Stage::Done) {
            return;
        }
        if let Stage::Recording(c) = &self.stage {
            if let Some((why, at)) = c.due(now.min(self.ends)) {
                let s = c.stop(at, why);
                self.stop(now, s);
            }
        }
        if now >= self.ends {
            if let Stage::Recording(c) = &self.stage {
                let s = c.stop(self.ends, StopReason::Limit);
                self.stopped = Some(s);
                self.actions.push_back(Action::StopRecording(s));
            }
            self.hang_up();
            return;
        }
        if let Stage::Closing { until: Some(until) } = self.stage {
            if now >= until {
                self.hang_up();
            }
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` has something to do; `None` once done.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = match &self.stage {
            Stage::Done => return None,
            Stage::Recording(c) => Some(c.deadline()),
            Stage::Closing { until } => *until,
            Stage::Greeting | Stage::Beep => None,
        };
        Some(own.map_or(self.ends, |t| t.min(self.ends)))
    }

    /// Whether the call is over for the machine (hung up by either side).
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// How the recording ended, once it has.
    pub fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    fn play(&mut self, items: Vec<Audio>) {
        let p = self.player.start(items);
        self.actions.push_back(Action::Play(p));
    }

    fn beep(&mut self) {
        self.stage = Stage::Beep;
        self.play(vec![Audio::Beep]);
    }

    /// The recording stopped (not by a hang-up): say so and say goodbye.
    fn stop(&mut self, now: Instant, s: Stopped) {
        self.stopped = Some(s);
        self.actions.push_back(Action::StopRecording(s));
        let mut items = Vec::with_capacity(2);
        if s.keep {
            items.push(Audio::Clip(clip::MESSAGE_RECORDED));
        }
        items.push(Audio::Clip(clip::GOODBYE));
        self.stage = Stage::Closing {
            until: Some(now + self.config.goodbye_grace),
        };
        self.play(items);
    }

    fn hang_up(&mut self) {
        self.player.stop();
        self.stage = Stage::Done;
        self.actions.push_back(Action::HangUp);
    }
}

#[cfg(test)]
mod tests;
