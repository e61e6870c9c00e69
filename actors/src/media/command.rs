//! What the call's actors tell a media thread: commands over a channel, each followed by a
//! wake-up of the thread's poll (a `mio::Waker`). Commands are rare (call set-up, re-INVITEs,
//! prompts); packets never go through here.

use std::sync::Arc;

use actix::Recipient;
use crossbeam::channel::Sender;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::{
    MixerClock, SessionConfig, SessionStats, Source, StreamConfig,
};
use switchboard_engine::media::{FrameSink, PayloadFeed, Side};

use super::ports::Pair;
use crate::api::bell::FeedBell;
use crate::api::media::{MediaNote, MediaSessionId};

pub(super) enum Command {
    Open(Box<Open>),
    Configure(MediaSessionId, Side, StreamConfig),
    Activate(MediaSessionId),
    Play(MediaSessionId, Side, Source),
    StopPlay(MediaSessionId, Side),
    SendDigit(MediaSessionId, Side, Digit),
    SetSink(MediaSessionId, Option<Box<dyn FrameSink>>),
    SetFeed(MediaSessionId, Side, Option<Box<dyn PayloadFeed>>),
    SetMixerClock(MediaSessionId, Option<MixerClock>),
    Stats(MediaSessionId, tokio::sync::oneshot::Sender<SessionStats>),
    Close(MediaSessionId),
    /// The thread ends (shutdown).
    Stop,
}

/// A new session: its sockets, bound by `MediaPlane::open`.
pub(super) struct Open {
    pub(super) id: MediaSessionId,
    /// By `Side::index`.
    pub(super) sides: [Option<Pair>; 2],
    pub(super) owner: Recipient<MediaNote>,
    pub(super) config: SessionConfig,
    pub(super) seed: u64,
}

/// The way into one media thread.
#[derive(Clone)]
pub(super) struct Mailbox {
    pub(super) tx: Sender<Command>,
    pub(super) waker: Arc<mio::Waker>,
    /// The thread's feed bell (the same waker).
    pub(super) bell: FeedBell,
}

impl Mailbox {
    /// Sends a command and wakes the thread; false when it has stopped.
    pub(super) fn send(&self, c: Command) -> bool {
        if self.tx.send(c).is_err() {
            return false;
        }
        // a failed wake (the thread is gone) loses nothing it would have done
        let _ = self.waker.wake();
        true
    }
}
