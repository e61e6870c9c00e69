//! A recording in progress (a message or a greeting): when it stops by itself, and how much
//! of it is kept.
//!
//! It stops at its length limit, or after a stretch of silence: frames whose level stays at
//! or below `silence_dbfs` for `silence` (levels are fed by the owner, one per 20 ms frame;
//! no frames at all count as silence). Kept is the audio from the start to the stop, less
//! the silence that ended it (but for [`TAIL`] of it); a recording shorter than `min_length`
//! after that is not kept.

use std::time::{Duration, Instant};

/// Silence kept after the last sound when silence ended a recording.
pub const TAIL: Duration = Duration::from_millis(500);

/// When recordings stop by themselves and which are kept.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct CaptureLimits {
    /// The longest recording.
    pub max_length: Duration,
    /// Recordings shorter than this are not kept.
    pub min_length: Duration,
    /// Silence this long stops a recording; `None`: only the limit, a key or a hang-up do.
    pub silence: Option<Duration>,
    /// Frames at or below this level are silence.
    pub silence_dbfs: f64,
}

impl Default for CaptureLimits {
    /// 3 minutes at most, 1 s at least, stopped by 5 s at or below -45 dBFS.
    fn default() -> CaptureLimits {
        CaptureLimits {
            max_length: Duration::from_secs(180),
            min_length: Duration::from_secs(1),
            silence: Some(Duration::from_secs(5)),
            silence_dbfs: -45.0,
        }
    }
}

/// Why a recording stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The caller hung up.
    HangUp,
    /// The caller pressed `#`.
    Key,
    /// Nothing was said for the silence time.
    Silence,
    /// The length limit was reached.
    Limit,
}

/// How a recording ended: whether to keep it, and how much of it from its start.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    pub reason: StopReason,
    pub keep: bool,
    pub length: Duration,
}

/// One recording in progress.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    started: Instant,
    last_sound: Instant,
    limits: CaptureLimits,
}

impl Capture {
    pub(crate) fn new(now: Instant, limits: CaptureLimits) -> Capture {
        Capture {
            started: now,
            last_sound: now,
            limits,
        }
    }

    /// A frame's level at `now`.
    pub(crate) fn level(&mut self, now: Instant, dbfs: f64) {
        if dbfs > self.limits.silence_dbfs && now > self.last_sound {
            self.last_sound = now;
        }
    }

    fn limit_at(&self) -> Instant {
        self.started + self.limits.max_length
    }

    fn silence_at(&self) -> Option<Instant> {
        self.limits.silence.map(|s| self.last_sound + s)
    }

    /// When the recording stops by itself unless a sound comes first.
    pub(crate) fn deadline(&self) -> Instant {
        match self.silence_at() {
            Some(s) => s.min(self.limit_at()),
            None => self.limit_at(),
        }
    }

    /// Whether the recording has stopped by itself by `now`, and why and when.
    pub(crate) fn due(&self, now: Instant) -> Option<(StopReason, Instant)> {
        let limit = self.limit_at();
        match self.silence_at() {
            Some(s) if s < limit && now >= s => Some((StopReason::Silence, s)),
            _ if now >= limit => Some((StopReason::Limit, limit)),
            _ => None,
        }
    }

    /// The recording stopped at `at` for `reason`.
    pub(crate) fn stop(&self, at: Instant, reason: StopReason) -> Stopped {
        let mut length = at
            .saturating_duration_since(self.started)
            .min(self.limits.max_length);
        if reason == StopReason::Silence {
            let sound = self.last_sound.saturating_duration_since(self.started);
            length = length.min(sound + TAIL);
        }
        Stopped {
            reason,
            keep: length >= self.limits.min_length,
            length,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);
    const FRAME: Duration = Duration::from_millis(20);

    /// Feeds frames of `dbfs` from `*at` for `d`.
    fn frames(c: &mut Capture, at: &mut Instant, d: Duration, dbfs: f64) {
        let end = *at + d;
        while *at < end {
            *at += FRAME;
            c.level(*at, dbfs);
        }
    }

    #[test]
    fn silence_after_speech_stops_the_recording_and_is_cut_but_for_the_tail() {
        let t0 = Instant::now();
        let mut at = t0;
        let mut c = Capture::new(t0, CaptureLimits::default());
        frames(&mut c, &mut at, 3 * SEC, -20.0);
        assert_eq!(c.deadline(), t0 + 8 * SEC);
        frames(&mut c, &mut at, 4 * SEC, -60.0);
        assert_eq!(c.due(at), None);
        let (why, when) = c.due(t0 + 8 * SEC).unwrap();
        assert_eq!((why, when), (StopReason::Silence, t0 + 8 * SEC));
        let s = c.stop(when, why);
        assert_eq!(s.length, 3 * SEC + TAIL);
        assert!(s.keep);
    }

    #[test]
    fn a_recording_of_only_silence_is_not_kept() {
        let t0 = Instant::now();
        let c = Capture::new(t0, CaptureLimits::default());
        let (why, when) = c.due(t0 + 6 * SEC).unwrap();
        assert_eq!((why, when), (StopReason::Silence, t0 + 5 * SEC));
        assert_eq!(
            c.stop(when, why),
            Stopped {
                reason: StopReason::Silence,
                keep: false,
                length: TAIL
            }
        );
    }

    #[test]
    fn the_level_at_the_threshold_is_silence() {
        let t0 = Instant::now();
        let mut at = t0;
        let mut c = Capture::new(t0, CaptureLimits::default());
        frames(&mut c, &mut at, 2 * SEC, -45.0);
        assert_eq!(c.deadline(), t0 + 5 * SEC);
        frames(&mut c, &mut at, FRAME, -44.9);
        assert_eq!(c.deadline(), at + 5 * SEC);
    }

    #[test]
    fn the_length_limit_stops_a_recording_that_never_falls_silent() {
        let t0 = Instant::now();
        let limits = CaptureLimits {
            max_length: 4 * SEC,
            ..CaptureLimits::default()
        };
        let mut at = t0;
        let mut c = Capture::new(t0, limits);
        frames(&mut c, &mut at, 3 * SEC, -10.0);
        assert_eq!(c.deadline(), t0 + 4 * SEC);
        assert_eq!(c.due(t0 + 5 * SEC), Some((StopReason::Limit, t0 + 4 * SEC)));
        let s = c.stop(t0 + 5 * SEC, StopReason::Limit);
        assert_eq!((s.length, s.keep), (4 * SEC, true));
    }

    #[test]
    fn without_silence_detection_only_the_limit_stops_it() {
        let t0 = Instant::now();
        let c = Capture::new(
            t0,
            CaptureLimits {
                silence: None,
                ..CaptureLimits::default()
            },
        );
        assert_eq!(c.deadline(), t0 + 180 * SEC);
        assert_eq!(c.due(t0 + 179 * SEC), None);
    }

    #[test]
    fn a_stop_by_key_or_hang_up_keeps_everything_from_one_second_on() {
        let t0 = Instant::now();
        let c = Capture::new(t0, CaptureLimits::default());
        let short = c.stop(t0 + Duration::from_millis(999), StopReason::HangUp);
        assert_eq!(
            (short.keep, short.length),
            (false, Duration::from_millis(999))
        );
        let s = c.stop(t0 + SEC, StopReason::Key);
        assert_eq!((s.keep, s.length), (true, SEC));
        // silence frames do not shorten a stop by key
        let s = c.stop(t0 + 3 * SEC, StopReason::HangUp);
        assert_eq!((s.keep, s.length), (true, 3 * SEC));
    }
}
