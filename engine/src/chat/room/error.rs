//! The limits of every room and why a room refuses: each refusal's SIP and HTTP answers.

use std::time::Duration;

/// The limits of every room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    pub max_members: usize,
    pub max_topic_chars: usize,
    /// Posts (and commands) one member may make per minute, sustained ...
    pub rate_per_minute: u32,
    /// ... and in a burst.
    pub burst: u32,
}

/// Why a room refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    #[error("no such room")]
    NoSuchRoom,
    #[error("the room exists already")]
    Exists,
    #[error("only members may do that")]
    NotAMember,
    #[error("the room is full ({max} members)")]
    Full { max: usize },
    #[error("already a member")]
    AlreadyMember,
    #[error("only the room's owner may do that")]
    NotOwner,
    #[error("the topic is longer than {max} characters")]
    TopicTooLong { max: usize },
    /// Not a phone number or name at all (said the same way whether or not it has an
    /// account: a room never reveals which numbers do).
    #[error("not a phone number or name: {0}")]
    BadNumber(String),
    #[error("you own {max} rooms already; delete one first")]
    TooManyRooms { max: usize },
    #[error("too many posts; try again in {retry_after:?}")]
    RateLimited { retry_after: Duration },
}

impl RoomError {
    /// The SIP answer to a MESSAGE refused with this error.
    pub fn sip_status(&self) -> (u16, &'static str) {
        match self {
            RoomError::NoSuchRoom => (404, "No Such Room"),
            RoomError::BadNumber(_) => (400, "Bad Number"),
            RoomError::TooManyRooms { .. } => (403, "Too Many Rooms"),
            RoomError::NotAMember => (403, "Not A Room Member"),
            RoomError::Full { .. } => (403, "Room Full"),
            RoomError::NotOwner => (403, "Not The Room Owner"),
            RoomError::Exists | RoomError::AlreadyMember => (409, "Conflict"),
            RoomError::TopicTooLong { .. } => (413, "Topic Too Long"),
            RoomError::RateLimited { .. } => (503, "Room Rate Limit"),
        }
    }

    /// The HTTP status and error code.
    pub fn http_status(&self) -> (u16, &'static str) {
        match self {
            RoomError::NoSuchRoom => (404, "no_such_room"),
            RoomError::BadNumber(_) => (400, "bad_number"),
            RoomError::TooManyRooms { .. } => (409, "too_many_rooms"),
            RoomError::NotAMember => (403, "not_a_member"),
            RoomError::NotOwner => (403, "not_owner"),
            RoomError::Full { .. } => (409, "room_full"),
            RoomError::Exists => (409, "room_exists"),
            RoomError::AlreadyMember => (409, "already_member"),
            RoomError::TopicTooLong { .. } => (422, "topic_too_long"),
            RoomError::RateLimited { .. } => (429, "rate_limited"),
        }
    }

    /// Whether a command refused with this error is answered by a message from the room
    /// (a mistake the sender can read about) rather than by the MESSAGE's SIP status (a
    /// refusal: not a member, full, rate limit, no room).
    pub fn answered_in_band(&self) -> bool {
        matches!(
            self,
            RoomError::AlreadyMember
                | RoomError::NotOwner
                | RoomError::TopicTooLong { .. }
                | RoomError::BadNumber(_)
        )
    }
}
