//! A side fed encoded payloads made elsewhere (a conference participant hearing the mix).
//!
//! The producer pushes: when it has made payloads (a mixer's tick) the driver calls
//! `Session::handle_feed`, and the payloads go out with the next `poll_transmit`s, at once,
//! rather than waiting for the session's own frame tick. While something else plays to the
//! side (a prompt), what the producer pushes is taken and dropped, so the side hears the
//! current mix again when the prompt ends, not one that waited.

use std::time::Instant;

use super::MixerClock;
use crate::media::{PayloadFeed, MAX_PAYLOAD};

/// Payloads one push sends at most (the producer's queue bounds them too).
const MAX_PER_PUSH: u32 = 4;

/// A side's feed. The buffer is allocated once, when the feed is set.
pub(super) struct Feeding {
    feed: Box<dyn PayloadFeed>,
    buf: Box<[u8; MAX_PAYLOAD]>,
    /// The time of the producer's last push, while its payloads are being sent.
    pushed: Option<Instant>,
    /// Payloads sent since that push.
    taken: u32,
    /// The next packet starts a talk spurt (the feed just became what the side hears).
    marker: bool,
}

impl Feeding {
    pub(super) fn new(feed: Box<dyn PayloadFeed>) -> Feeding {
        Feeding {
            feed,
            buf: Box::new([0; MAX_PAYLOAD]),
            pushed: None,
            taken: 0,
            marker: true,
        }
    }

    /// The feed became what the side hears again (after a prompt).
    pub(super) fn restart(&mut self) {
        self.marker = true;
        self.pushed = None;
    }

    /// The producer pushed at `now`: its payloads wait to be sent.
    pub(super) fn push(&mut self, now: Instant) {
        self.pushed = Some(now);
        self.taken = 0;
    }

    /// The producer pushed while the side hears something else: its payloads go.
    pub(super) fn discard(&mut self) {
        self.pushed = None;
        for _ in 0..MAX_PER_PUSH {
            if self.feed.next(&mut self.buf[..]).is_none() {
                break;
            }
        }
    }

    /// The next payload of the last push, with its time and the talk-spurt flag. Its time is
    /// its tick's on `clock` when the producer numbers its ticks, else the push's.
    pub(super) fn take(&mut self, clock: Option<&MixerClock>) -> Option<(Instant, bool, &[u8])> {
        let pushed = self.pushed?;
        if self.taken >= MAX_PER_PUSH {
            self.pushed = None;
            return None;
        }
        match self.feed.next(&mut self.buf[..]) {
            Some(n) if n <= MAX_PAYLOAD => {
                self.taken += 1;
                let marker = std::mem::replace(&mut self.marker, false);
                let at = match (self.feed.tick(), clock) {
                    (Some(k), Some(c)) => c.mixer_tick(k),
                    _ => pushed,
                };
                Some((at, marker, &self.buf[..n]))
            }
            _ => {
                self.pushed = None;
                None
            }
        }
    }
}
