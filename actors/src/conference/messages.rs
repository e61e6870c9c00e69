//! Messages between the actors of this folder: the directory passes commands to its bridges;
//! a bridge asks to retire when empty and says when it stopped.

use actix::{Message, Recipient};
use switchboard_engine::chat::VoiceState;
use switchboard_engine::conference::ConferenceName;

use crate::api::conference::ConferenceCommand;
use crate::ownership::OwnerId;

/// A command the directory passes on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BridgeMsg(pub ConferenceCommand);

/// A bridge is empty (and not kept by the operator); it processed `processed` commands.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetireBridge {
    pub name: ConferenceName,
    pub id: OwnerId,
    pub processed: u64,
}

/// A bridge stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BridgeStopped {
    pub name: ConferenceName,
    pub id: OwnerId,
}

/// Where a bridge reports to its directory.
#[derive(Clone)]
pub struct DirectoryHandle {
    pub retire: Recipient<RetireBridge>,
    pub stopped: Recipient<BridgeStopped>,
}

/// Where a bridge tells who is in its conference and how (the chat room of the same name).
pub type VoiceSink = std::rc::Rc<dyn Fn(&ConferenceName, Vec<(String, VoiceState)>)>;
