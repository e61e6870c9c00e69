//! What a session tells the call's actor, held in a fixed ring until it polls.

use std::net::SocketAddr;
use std::time::Duration;

use crate::media::dtmf::Digit;
use crate::media::Side;

/// Events held until `poll_event` takes them; older ones are dropped past this (a caller
/// that never polls).
const EVENT_QUEUE: usize = 32;

/// What the call's actor must hear about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The side's media comes from `from` (its first packet); media to it goes there now.
    Latched { side: Side, from: SocketAddr },
    /// A DTMF digit (RFC 4733) the side sent, once per press.
    Digit { side: Side, digit: Digit },
    /// No RTP from either side for this long.
    MediaTimeout { idle: Duration },
    /// A source that plays once has ended.
    PlayFinished { side: Side },
}

/// A fixed ring of events.
#[derive(Debug)]
pub(super) struct EventQueue {
    items: [Option<Event>; EVENT_QUEUE],
    head: usize,
    len: usize,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            items: [None; EVENT_QUEUE],
            head: 0,
            len: 0,
        }
    }
}

impl EventQueue {
    pub(super) fn push(&mut self, e: Event) {
        if self.len == EVENT_QUEUE {
            // nobody polls: the oldest goes
            self.head = (self.head + 1) % EVENT_QUEUE;
            self.len -= 1;
        }
        self.items[(self.head + self.len) % EVENT_QUEUE] = Some(e);
        self.len += 1;
    }

    pub(super) fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let e = self.items[self.head].take();
        self.head = (self.head + 1) % EVENT_QUEUE;
        self.len -= 1;
        e
    }
}
