//! What a chat room commit carries to the queue writer and what it answers: the record
//! change, a post with its queue copies, notices and a rejoiner's catch-up (see `rooms` for
//! how the writer applies them).

use std::collections::HashMap;

use switchboard_engine::chat::RoomName;
use switchboard_engine::messaging::{Refusal, StoredMessage};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{RoomEntry, RoomRecord};
use tokio::sync::oneshot;

/// What happens to the room's record.
#[derive(Debug, Clone, Default)]
pub enum RecordChange {
    #[default]
    Keep,
    Put(RoomRecord),
    /// A new room: refused when its owner owns `max_owned` rooms already.
    Create {
        record: RoomRecord,
        max_owned: usize,
    },
    /// The room and its history go.
    Delete,
}

/// A post: its history entry and the copy every recipient's queue gets.
pub struct RoomPost {
    pub entry: RoomEntry,
    /// `id` and `expires_unix` are filled in by the writer (one id for every copy).
    pub copy: StoredMessage,
    pub recipients: Vec<Aor>,
}

/// The posts a rejoining member missed: the newest `cap` after sequence `after`, read by the
/// writer and queued right after the commit's first notice (the answer to the join).
pub struct CatchUp {
    pub who: Aor,
    pub after: u64,
    pub cap: usize,
    pub prefix: bool,
}

/// One room change, written in one group commit.
pub struct RoomCommit {
    pub room: RoomName,
    /// The ChatRoom that sent it (ids grow per room name).
    pub epoch: u64,
    pub record: RecordChange,
    pub post: Option<RoomPost>,
    /// Messages from the room to single members (answers, announcements); an empty `id` is
    /// filled in by the writer.
    pub notices: Vec<(Aor, StoredMessage)>,
    pub catch_up: Option<CatchUp>,
    pub reply: oneshot::Sender<RoomResult>,
}

/// A room change on disk.
#[derive(Debug, Clone, Default)]
pub struct RoomCommitted {
    /// The Message-ID of the post's copies.
    pub id: Option<String>,
    /// Members whose queue got something (to be told to deliver).
    pub queued: Vec<Aor>,
}

/// Why a room change was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRefused {
    Store(Refusal),
    /// The creator owns `max` rooms already.
    TooManyRooms {
        max: usize,
    },
}

impl From<Refusal> for RoomRefused {
    fn from(r: Refusal) -> Self {
        RoomRefused::Store(r)
    }
}

pub type RoomResult = Result<RoomCommitted, RoomRefused>;

/// A room change written and waiting for the flush, with what to take back if it fails.
pub(super) struct RoomDone {
    pub(super) reply: oneshot::Sender<RoomResult>,
    pub(super) room: RoomName,
    pub(super) epoch: u64,
    pub(super) history: Option<u64>,
    pub(super) written: Vec<(Aor, u64)>,
    /// The record before this change and the owner after it, when the record changed.
    pub(super) record_before: Option<(Option<RoomRecord>, Option<String>)>,
    pub(super) committed: RoomCommitted,
}

/// Rooms per owner, counted once from the store and kept by the writer.
pub(super) type Owned = HashMap<String, usize>;
