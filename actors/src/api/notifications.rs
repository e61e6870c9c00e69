//! What the Notifications actor takes: notices to the owners of offline numbers and
//! password-reset codes, sent through the notifier gateway.

use actix::{Message, Recipient};
use switchboard_engine::numbering::Aor;

/// A message was queued for an offline number.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Queued {
    pub aor: Aor,
    /// The sender as stored (a canonical number or a URI).
    pub sender: String,
    pub text: Option<String>,
}

/// Someone asked for a password reset of `aor` (already rate-limited and answered).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendReset {
    pub aor: Aor,
}

/// Where notices go.
#[derive(Clone)]
pub struct NotificationsHandle {
    pub queued: Recipient<Queued>,
    pub reset: Recipient<SendReset>,
}
