//! Voicemail callers in the schedule: caller k first calls at `join × k / callers` from the
//! start of the first phase that runs voicemail, and again [`REDIAL_PAUSE`] after each call's
//! hold time (a phase without voicemail puts the call off to the next phase with it). A call
//! is made only while its longest hold and [`SETTLE`] still fit in the run, so every call ends
//! with the caller's BYE before the run does and every message is whole. Hold times are drawn
//! in order of the calls. Phase factors do not scale voicemail.

use super::{between, Schedule, Source};
use crate::core::scenario::Behaviour;
use crate::core::Action;

/// A caller calls again this long (seconds) after hanging up.
pub const REDIAL_PAUSE: f64 = 1.0;

/// Time (seconds) left at the end of the run besides the longest hold: the call's setup and
/// its BYE.
pub const SETTLE: f64 = 2.0;

impl Schedule {
    /// Queues every caller's first call.
    pub(super) fn queue_voicemail(&mut self) {
        let Some(v) = self.sc.behaviours.voicemail.clone() else {
            return;
        };
        let Some(t0) = self.voicemail_phase_from(0.0) else {
            return;
        };
        for k in 0..v.callers {
            let t = t0 + v.join.as_secs_f64() * f64::from(k) / f64::from(v.callers);
            self.queue_voicemail_call(k, t);
        }
    }

    /// Caller k calls at `t`, with a hold time; its next call is queued for after it hung up.
    pub(super) fn voicemail(&mut self, k: u32, t: f64) -> Action {
        // present: calls are queued only for a scenario with voicemail
        let v = self.sc.behaviours.voicemail.clone().expect("voicemail");
        let hold = between(&mut self.voicemail_holds, v.hold.min, v.hold.max);
        self.queue_voicemail_call(k, t + hold.as_secs_f64() + REDIAL_PAUSE);
        Action::Voicemail {
            caller: k,
            mailbox: self.sc.voicemail_mailbox(k),
            hold,
        }
    }

    /// Queues caller k's call at `t` (or at the start of the next phase running voicemail),
    /// if a call of the longest hold still fits in the run.
    fn queue_voicemail_call(&mut self, k: u32, t: f64) {
        let Some(v) = &self.sc.behaviours.voicemail else {
            return;
        };
        let longest = v.hold.max.as_secs_f64();
        let Some(t) = self.voicemail_phase_from(t) else {
            return;
        };
        let end = self.ends.last().copied().unwrap_or(0.0);
        if t + longest + SETTLE <= end {
            self.push(t, Source::Voicemail(k));
        }
    }

    /// `t`, or the start of the first phase after it that runs voicemail; `None` if none does.
    fn voicemail_phase_from(&self, t: f64) -> Option<f64> {
        let i = self.phase_index(t)?;
        let j =
            (i..self.sc.phases.len()).find(|&j| self.sc.phases[j].runs(Behaviour::Voicemail))?;
        Some(if j == i { t } else { self.start(j) })
    }
}
