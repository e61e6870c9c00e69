//! Slack steering ([`super::Steering::Slack`]): how long the frames played lately waited
//! between their arrival and their tick, and when that says the delay may shrink.
//!
//! The window is [`WINDOW_POPS`] frames played in a row (200 ms). At its end the delay
//! shrinks by one frame when the frame that waited least still waited more than the target
//! plus a frame plus [`HYSTERESIS`]: after the shrink every frame of the window would still
//! have waited more than the target. A concealed frame, a dry tick or a new playout starts
//! the window over, so the delay never shrinks right after a frame came too late. Growing
//! needs nothing here: a frame that misses its tick leaves the buffer dry, and a dry tick
//! keeps its place (the delay grows by one frame).

use std::time::Duration;

use crate::media::FRAME;

/// Frames played in a row before the window says anything.
pub(super) const WINDOW_POPS: u32 = 10;

/// Margin above the target plus one frame before a shrink, so a frame's wait that sits at
/// the edge does not shrink and stretch in turn.
pub(super) const HYSTERESIS: Duration = Duration::from_millis(3);

/// The least wait over the current window.
#[derive(Clone, Debug, Default)]
pub(super) struct Window {
    least: Option<Duration>,
    pops: u32,
}

impl Window {
    /// A frame played after waiting `slack`.
    pub(super) fn played(&mut self, slack: Duration) {
        self.least = Some(self.least.map_or(slack, |l| l.min(slack)));
        self.pops += 1;
    }

    /// Starts the window over (a concealed frame, a dry tick, a new playout).
    pub(super) fn restart(&mut self) {
        self.least = None;
        self.pops = 0;
    }

    /// At the end of a window: whether every frame of it waited long enough that one frame
    /// less delay still leaves each above `target`. The window starts over either way.
    pub(super) fn shrinks(&mut self, target: Duration) -> bool {
        if self.pops < WINDOW_POPS {
            return false;
        }
        let least = self.least.unwrap_or(Duration::ZERO);
        self.restart();
        least > target + FRAME + HYSTERESIS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_window_of_long_waits_shrinks_once_and_starts_over() {
        let mut w = Window::default();
        for _ in 0..WINDOW_POPS - 1 {
            w.played(ms(30));
        }
        assert!(!w.shrinks(ms(5)), "not before the window is full");
        w.played(ms(29));
        assert!(w.shrinks(ms(5)), "29 ms > 5 + 20 + 3");
        assert!(!w.shrinks(ms(5)), "a new window");
    }

    #[test]
    fn one_short_wait_or_a_restart_keeps_the_delay() {
        let mut w = Window::default();
        for k in 0..WINDOW_POPS {
            w.played(if k == 4 { ms(27) } else { ms(40) });
        }
        assert!(
            !w.shrinks(ms(5)),
            "27 ms is within a frame and the margin of 5 ms"
        );
        for _ in 0..WINDOW_POPS - 1 {
            w.played(ms(40));
        }
        w.restart();
        w.played(ms(40));
        assert!(!w.shrinks(ms(5)), "a restart empties the window");
    }
}
