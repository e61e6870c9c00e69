//! Conference participants in the schedule: each slot's first dial, its hold time, its next
//! dial (see the schedule's module doc).

use std::time::Duration;

use switchboard_engine::media::Codec;

use super::{between, Schedule, Source};
use crate::core::conference::{Participant, Voice};
use crate::core::scenario::{Behaviour, ConferencesB};
use crate::core::Action;

impl Schedule {
    /// Queues every participant slot's first dial.
    pub(super) fn queue_conferences(&mut self) {
        if let Some(c) = self.sc.behaviours.conferences.clone() {
            let first =
                (0..self.sc.phases.len()).find(|&i| self.sc.phases[i].runs(Behaviour::Conferences));
            if let Some(i) = first {
                let t0 = self.start(i);
                let slots = c.rooms * c.participants;
                for k in 0..slots {
                    let t = t0 + c.join.as_secs_f64() * f64::from(k) / f64::from(slots);
                    self.push(t, Source::Conference(k));
                }
            }
        }
    }

    /// Conference slot k dials at `t`: its participant, with a hold time; its next dial is
    /// queued for when it has hung up.
    pub(super) fn conference(&mut self, k: u32, t: f64) -> Action {
        // present: slots are queued only for a scenario with conferences
        let c = self.sc.behaviours.conferences.clone().expect("conferences");
        let end = self.ends.last().copied().unwrap_or(0.0);
        let hold = match c.hold {
            Some(h) => between(&mut self.conference_holds, h.min, h.max)
                .as_secs_f64()
                .min(end - t),
            None => end - t,
        };
        let (room, index) = (k % c.rooms, k / c.rooms);
        let mut next = t + hold;
        if let Some(i) = self.phase_index(next) {
            let later =
                (i..self.sc.phases.len()).find(|&j| self.sc.phases[j].runs(Behaviour::Conferences));
            if let Some(j) = later {
                next = next.max(self.start(j));
                self.push(next, Source::Conference(k));
            }
        }
        Action::Conference(Participant {
            room,
            index,
            user: self.sc.conference_user(room, index),
            codec: codec_of(&c, room, index),
            voice: voice_of(&c, index),
            talkers: c.talkers,
            probe: c.probe,
            probe_settle: c.probe_settle,
            hold: Duration::from_secs_f64(hold.max(0.0)),
        })
    }
}

/// The codec of participant `index` of room `room`: the point `frac(room × 0.7549 + index ×
/// 0.6180)` (a low-discrepancy sequence) on the codecs' cumulative shares, so every room gets
/// close to the shares and a participant keeps its codec when it dials again.
fn codec_of(c: &ConferencesB, room: u32, index: u32) -> Codec {
    let u = (f64::from(room) * 0.754_877_666 + f64::from(index) * 0.618_033_989).fract();
    let mut acc = 0.0;
    for &(codec, share) in &c.codecs {
        acc += share;
        if u < acc {
            return codec;
        }
    }
    // the shares sum to 1 (validated): only rounding gets here
    c.codecs
        .iter()
        .rev()
        .find(|(_, s)| *s > 0.0)
        .map_or(Codec::Pcmu, |(c, _)| *c)
}

/// What participant `index` of a room says: talkers first, the probe last.
fn voice_of(c: &ConferencesB, index: u32) -> Voice {
    if index < c.talkers {
        Voice::Talker(index)
    } else if c.probe && index == c.participants - 1 {
        Voice::Probe
    } else {
        Voice::Silent
    }
}
