//! Packet indexes and replay protection per source (RFC 3711 §3.3.1, §3.3.2, Appendix A).
//!
//! An SRTP packet's 48-bit index is `2^16 * ROC + SEQ`; the rollover counter is not sent, so
//! it is estimated from the highest index seen (`s_l` and ROC of §3.3.1): a sequence number
//! far below `s_l` has wrapped (ROC + 1), one far above it is late from before the wrap
//! (ROC - 1). Indexes are kept only once a packet authenticates (`accept`), so forged
//! packets move nothing. The window remembers the 64 indexes below the highest: an index
//! seen, or older than the window, is a replay.

use super::MAX_SOURCES;

/// Indexes older than this below the highest are refused (§3.3.2: at least 64).
pub(super) const WINDOW: u64 = 64;

/// What one source's packets have shown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Window {
    /// The highest index accepted.
    top: u64,
    /// Bit `n`: index `top - n` was accepted.
    seen: u64,
}

impl Window {
    /// The window of a source whose first packet authenticated has `index`.
    pub(super) fn starting_at(index: u64) -> Window {
        Window {
            top: index,
            seen: 1,
        }
    }

    /// The 48-bit index of a packet with `seq` (Appendix A); `None` for a packet from before
    /// the first rollover counter (ROC - 1 with ROC 0: older than anything we can accept).
    pub(super) fn estimate(&self, seq: u16) -> Option<u64> {
        let roc = self.top >> 16;
        let s_l = (self.top & 0xffff) as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            // a 48-bit index wraps after 2^48 packets, long after any key's lifetime
            (roc + 1) & 0xffff_ffff
        } else {
            roc
        };
        Some((v << 16) | u64::from(seq))
    }

    /// Whether `index` is new (not in the window, not older than it).
    pub(super) fn is_fresh(&self, index: u64) -> bool {
        if index > self.top {
            return true;
        }
        let back = self.top - index;
        back < WINDOW && self.seen & (1 << back) == 0
    }

    /// `index` authenticated: it is seen, and the highest if it is.
    pub(super) fn accept(&mut self, index: u64) {
        if index > self.top {
            let ahead = index - self.top;
            self.seen = if ahead >= WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.top = index;
            self.seen |= 1;
        } else {
            let back = self.top - index;
            if back < WINDOW {
                self.seen |= 1 << back;
            }
        }
    }
}

/// The rollover counter of a 48-bit `index` (what RTP authentication covers).
pub(super) fn roc(index: u64) -> u32 {
    (index >> 16) as u32
}

/// The windows of the sources a context follows, each with when it was last stored.
#[derive(Clone, Debug, Default)]
pub(super) struct Sources {
    slots: [Option<(u32, Window, u64)>; MAX_SOURCES],
    clock: u64,
}

impl Sources {
    /// The window of `ssrc`, if it was heard from.
    pub(super) fn window(&self, ssrc: u32) -> Option<Window> {
        self.find(ssrc)
            .and_then(|i| self.slots[i])
            .map(|(_, w, _)| w)
    }

    /// Stores `window` as `ssrc`'s, in its slot or the one stored least recently.
    pub(super) fn store(&mut self, ssrc: u32, window: Window) {
        self.clock += 1;
        let at = self.find(ssrc).unwrap_or_else(|| {
            self.slots
                .iter()
                .position(Option::is_none)
                .unwrap_or_else(|| self.oldest())
        });
        self.slots[at] = Some((ssrc, window, self.clock));
    }

    fn find(&self, ssrc: u32) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.is_some_and(|(x, ..)| x == ssrc))
    }

    fn oldest(&self) -> usize {
        let mut at = 0;
        let mut min = u64::MAX;
        for (i, s) in self.slots.iter().enumerate() {
            if let Some((_, _, used)) = s {
                if *used < min {
                    min = *used;
                    at = i;
                }
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollover_counter_follows_sequence_numbers_across_the_wrap() {
        let w = Window::starting_at(65_530);
        assert_eq!(w.estimate(65_535), Some(65_535));
        assert_eq!(w.estimate(0), Some(65_536), "wrapped: ROC 1");
        assert_eq!(w.estimate(3), Some(65_539));
        let w = Window::starting_at(65_536 + 2);
        assert_eq!(
            w.estimate(65_534),
            Some(65_534),
            "late from before the wrap: ROC 0"
        );
        assert_eq!(w.estimate(4), Some(65_540));
        let w = Window::starting_at(10);
        assert_eq!(
            w.estimate(60_000),
            None,
            "before the first rollover counter"
        );
        assert_eq!(w.estimate(30_000), Some(30_000));
        assert_eq!(roc(3 * 65_536 + 9), 3);
    }

    #[test]
    fn the_window_refuses_what_it_saw_and_what_is_older_than_64() {
        let mut w = Window::starting_at(1000);
        assert!(!w.is_fresh(1000));
        assert!(w.is_fresh(999));
        w.accept(999);
        assert!(!w.is_fresh(999));
        assert!(w.is_fresh(1000 - 63));
        assert!(!w.is_fresh(1000 - 64), "older than the window");
        w.accept(1100);
        assert!(!w.is_fresh(1000), "out of the window now");
        assert!(w.is_fresh(1099));
        w.accept(1101);
        assert!(!w.is_fresh(1100), "still remembered one step on");
        assert!(w.is_fresh(1102));
    }

    #[test]
    fn a_fifth_source_replaces_the_one_stored_least_recently() {
        let mut s = Sources::default();
        for ssrc in 1..=4u32 {
            s.store(ssrc, Window::starting_at(u64::from(ssrc) * 10));
        }
        s.store(1, Window::starting_at(11));
        s.store(5, Window::starting_at(50));
        assert!(s.window(1).is_some(), "source 1 was stored last but one");
        assert!(s.window(2).is_none(), "source 2 was forgotten");
        assert!(!s.window(5).unwrap().is_fresh(50));
    }
}
