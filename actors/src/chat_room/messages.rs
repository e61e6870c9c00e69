//! Messages between the actors of this folder: a rooms directory passes commands to its
//! ChatRooms; a ChatRoom asks to retire when idle and says when it stopped.

use actix::{Message, Recipient};
use switchboard_engine::chat::RoomName;

use crate::api::room::RoomCommand;
use crate::ownership::OwnerId;

/// A command its directory passes on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomMsg(pub RoomCommand);

/// A ChatRoom has been idle; it processed `processed` commands in its life.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireRoom {
    pub room: RoomName,
    pub id: OwnerId,
    pub processed: u64,
}

/// A ChatRoom stopped (retired, failed, or could not load).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub room: RoomName,
    pub id: OwnerId,
}

/// Where a ChatRoom reports to its directory.
pub struct DirectoryHandle {
    pub retire: Recipient<RetireRoom>,
    pub stopped: Recipient<RoomStopped>,
}
