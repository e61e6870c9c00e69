//! Messages between the actors of this folder: a Directory passes commands to its
//! Extensions, and an idle Extension asks its Directory to retire it.

use actix::Message;
use switchboard_engine::numbering::Aor;

use crate::api::extension::ExtCommand;
use crate::ownership::OwnerId;

/// A command its Directory passes on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command(pub ExtCommand);

/// An Extension has been idle; it processed `processed` commands in its life.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire {
    pub aor: Aor,
    pub id: OwnerId,
    pub processed: u64,
}
