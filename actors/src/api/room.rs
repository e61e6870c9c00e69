//! What a ChatRoom takes: messages to the room (posts and in-band commands) and the changes
//! the HTTP API asks for, each with the channel for its answer.
//!
//! Every command goes to the rooms directory of the arbiter the room's name hashes to
//! (`ToRoom`), which starts the ChatRoom on demand.

use actix::Message;
use serde::Serialize;
use switchboard_engine::chat::{RoomError, RoomName};
use switchboard_engine::messaging::Refusal;
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;

use crate::store::writer::RoomRefused;

/// A command for the ChatRoom of `room`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToRoom {
    pub room: RoomName,
    pub cmd: RoomCommand,
}

/// Who asks for a change over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    Admin,
    Member(Aor),
}

impl By {
    /// The member who asks; `None` for the operator.
    pub fn aor(&self) -> Option<&Aor> {
        match self {
            By::Admin => None,
            By::Member(a) => Some(a),
        }
    }
}

/// Why a room request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Room(RoomError),
    Store { code: u16, reason: &'static str },
}

impl From<RoomError> for Refused {
    fn from(e: RoomError) -> Self {
        Refused::Room(e)
    }
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Self {
        Refused::Store {
            code: r.code,
            reason: r.reason,
        }
    }
}

impl From<RoomRefused> for Refused {
    fn from(r: RoomRefused) -> Self {
        match r {
            RoomRefused::Store(r) => r.into(),
            RoomRefused::TooManyRooms { max } => Refused::Room(RoomError::TooManyRooms { max }),
        }
    }
}

impl Refused {
    pub fn sip_status(&self) -> (u16, &'static str) {
        match self {
            Refused::Room(e) => e.sip_status(),
            Refused::Store { code, reason } => (*code, reason),
        }
    }

    /// HTTP status, error code and message.
    pub fn http_status(&self) -> (u16, &'static str, String) {
        match self {
            Refused::Room(e) => {
                let (s, c) = e.http_status();
                (s, c, e.to_string())
            }
            Refused::Store { code, reason } => (
                if *code == 503 { 503 } else { 500 },
                "store_failed",
                reason.to_lowercase(),
            ),
        }
    }

    /// Seconds to wait before posting again, for a rate-limited post.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Refused::Room(RoomError::RateLimited { retry_after }) => {
                Some(retry_after.as_secs_f64().ceil().max(1.0) as u64)
            }
            _ => None,
        }
    }
}

/// A message taken by the room: a post (its sequence number and Message-ID) or a command.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    pub seq: Option<u64>,
    pub id: Option<String>,
}

/// A room as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub name: String,
    pub address: String,
    pub topic: String,
    pub owner: String,
    pub created_unix: u64,
    pub members: Vec<MemberView>,
    pub last_seq: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub number: String,
    pub joined_unix: u64,
    /// In the room's conference now: `in voice`, `muted` or `talking`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<&'static str>,
}

/// What a room is asked to do; each carries the channel for its answer.
pub enum RoomCommand {
    /// A MESSAGE from `sender` (over SIP or HTTP): a post, or a command (a text/plain body
    /// starting with `/`).
    Message {
        sender: Aor,
        display: Option<String>,
        content_type: String,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<Posted, Refused>>,
    },
    Create {
        owner: Aor,
        topic: String,
        members: Vec<Aor>,
        reply: oneshot::Sender<Result<RoomView, Refused>>,
    },
    Show {
        reply: oneshot::Sender<Option<RoomView>>,
    },
    Delete {
        by: By,
        reply: oneshot::Sender<Result<(), Refused>>,
    },
    AddMember {
        by: By,
        number: Aor,
        reply: oneshot::Sender<Result<RoomView, Refused>>,
    },
    RemoveMember {
        by: By,
        number: Aor,
        reply: oneshot::Sender<Result<RoomView, Refused>>,
    },
    SetTopic {
        by: By,
        topic: String,
        reply: oneshot::Sender<Result<RoomView, Refused>>,
    },
    /// Who is in the room's conference now (from its bridge; not stored).
    Voice {
        states: Vec<(String, switchboard_engine::chat::VoiceState)>,
    },
}
