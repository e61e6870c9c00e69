//! The pace of a session's 20 ms frame clock: its own (the frame path starts it when it is
//! first needed), or a mixer's ([`MixerClock`]), for a conference participant whose voice
//! frames the mixer takes each tick: then each frame tick falls a little before a tick of
//! the mixer, so a decoded frame waits for the mixer only that long, however the two threads'
//! wake-ups fall.

use std::time::{Duration, Instant};

use crate::media::FRAME;

/// A mixer's 20 ms clock: the mixer ticks at `epoch + k × FRAME`, and a session following it
/// ticks `lead` earlier.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MixerClock {
    pub epoch: Instant,
    /// How far ahead of the mixer's tick the session makes its frame: enough for a media
    /// thread's late wake-up and the frames of its other sessions.
    pub lead: Duration,
}

impl MixerClock {
    /// The mixer's first tick at or after `now`.
    pub fn mixer_tick_at_or_after(&self, now: Instant) -> Instant {
        grid_at_or_after(self.epoch, now)
    }

    /// The time of the mixer's tick number `k`.
    pub fn mixer_tick(&self, k: u64) -> Instant {
        self.epoch + Duration::from_nanos(k.saturating_mul(FRAME.as_nanos() as u64))
    }

    /// The number of the mixer's tick nearest `at`.
    pub fn tick_number(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch).as_nanos();
        let frame = FRAME.as_nanos();
        ((since + frame / 2) / frame) as u64
    }

    /// The mixer's last tick at or before `now` (its first, before the epoch).
    pub fn mixer_tick_at_or_before(&self, now: Instant) -> Instant {
        grid_at_or_before(self.epoch, now)
    }

    /// A following session's first frame tick at or after `now`.
    pub fn frame_tick_at_or_after(&self, now: Instant) -> Instant {
        grid_at_or_after(self.epoch, now + self.lead) - self.lead
    }

    /// A following session's last frame tick at or before `now`.
    pub fn frame_tick_at_or_before(&self, now: Instant) -> Instant {
        grid_at_or_before(self.epoch, now + self.lead) - self.lead
    }
}

/// The last of `epoch + k × FRAME` (k ≥ 0) at or before `now` (`epoch` before it).
fn grid_at_or_before(epoch: Instant, now: Instant) -> Instant {
    let since = now.saturating_duration_since(epoch).as_nanos();
    let frame = FRAME.as_nanos();
    epoch + Duration::from_nanos((since / frame * frame) as u64)
}

/// The first of `epoch + k × FRAME` (k ≥ 0) at or after `now`.
fn grid_at_or_after(epoch: Instant, now: Instant) -> Instant {
    let since = now.saturating_duration_since(epoch).as_nanos();
    let frame = FRAME.as_nanos();
    let k = since.div_ceil(frame);
    epoch + Duration::from_nanos((k * frame) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ticks_fall_on_the_mixer_s_grid_and_a_lead_before_it() {
        let epoch = Instant::now();
        let c = MixerClock { epoch, lead: ms(5) };
        assert_eq!(c.mixer_tick_at_or_after(epoch), epoch);
        assert_eq!(c.mixer_tick_at_or_after(epoch + ms(1)), epoch + ms(20));
        assert_eq!(c.mixer_tick_at_or_after(epoch + ms(40)), epoch + ms(40));
        assert_eq!(c.tick_number(epoch + ms(49)), 2);
        assert_eq!(c.tick_number(epoch + ms(51)), 3);
        assert_eq!(c.mixer_tick(3), epoch + ms(60));
        assert_eq!(c.frame_tick_at_or_after(epoch + ms(1)), epoch + ms(15));
        assert_eq!(c.frame_tick_at_or_after(epoch + ms(15)), epoch + ms(15));
        assert_eq!(c.frame_tick_at_or_after(epoch + ms(16)), epoch + ms(35));
        assert_eq!(c.mixer_tick_at_or_before(epoch + ms(39)), epoch + ms(20));
        assert_eq!(c.mixer_tick_at_or_before(epoch + ms(40)), epoch + ms(40));
        assert_eq!(c.frame_tick_at_or_before(epoch + ms(34)), epoch + ms(15));
        assert_eq!(c.frame_tick_at_or_before(epoch + ms(35)), epoch + ms(35));
        let hour = Duration::from_secs(3600);
        assert_eq!(
            c.frame_tick_at_or_after(epoch + hour + ms(7)),
            epoch + hour + ms(15)
        );
    }
}
