//! A side fed encoded payloads made elsewhere (a conference participant hearing the mix): the
//! payload taken at each tick, waiting for `poll_transmit`.

use std::time::Instant;

use crate::media::{PayloadFeed, MAX_PAYLOAD};

/// A side's feed and the payload of its last tick. The buffer is allocated once, when the
/// feed is set.
pub(super) struct Feeding {
    feed: Box<dyn PayloadFeed>,
    buf: Box<[u8; MAX_PAYLOAD]>,
    len: usize,
    /// The tick the waiting payload belongs to.
    pending: Option<Instant>,
    /// The next packet starts a talk spurt (the feed just became what the side hears).
    marker: bool,
}

impl Feeding {
    pub(super) fn new(feed: Box<dyn PayloadFeed>) -> Feeding {
        Feeding {
            feed,
            buf: Box::new([0; MAX_PAYLOAD]),
            len: 0,
            pending: None,
            marker: true,
        }
    }

    /// The feed became what the side hears again (after a prompt): a new talk spurt.
    pub(super) fn restart(&mut self) {
        self.marker = true;
        self.pending = None;
    }

    /// Takes the tick's payload from the feed, if it has one.
    pub(super) fn pull(&mut self, at: Instant) {
        match self.feed.next(&mut self.buf[..]) {
            Some(n) if n <= MAX_PAYLOAD => {
                self.len = n;
                self.pending = Some(at);
            }
            _ => self.pending = None,
        }
    }

    /// The waiting payload with its tick and marker, once.
    pub(super) fn take(&mut self) -> Option<(Instant, bool, &[u8])> {
        let at = self.pending.take()?;
        let marker = std::mem::replace(&mut self.marker, false);
        Some((at, marker, &self.buf[..self.len]))
    }
}
