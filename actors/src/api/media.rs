//! What a call's actor hears from its media session on a media thread.

use actix::Message;
use switchboard_engine::media::session::Event;

/// One media session of the media plane (unique for the life of the process).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaSessionId(pub u64);

impl std::fmt::Display for MediaSessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// Something happened to a session's media: a side latched, a digit was pressed, a source
/// ended, the media timed out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct MediaNote {
    pub session: MediaSessionId,
    pub event: Event,
}
