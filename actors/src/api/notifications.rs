//! What the Notifications actor takes: notices to the owners of offline numbers, of voice
//! messages left for them, and password-reset codes, sent through the notifier gateway.

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

/// A verification code for an outside number a member claims (sent already limited, the code
/// stored hashed): `text` goes to `to` by SMS as it is.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendCode {
    pub to: Aor,
    pub text: String,
}

/// A voice message was left in `mailbox` (stored: its file and record are on disk).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct VoicemailLeft {
    pub mailbox: Aor,
    /// The caller as stored (a canonical number or `anonymous`).
    pub caller: String,
    pub received_unix: u64,
    pub duration_ms: u64,
}

/// Where notices go.
#[derive(Clone)]
pub struct NotificationsHandle {
    pub queued: Recipient<Queued>,
    pub reset: Recipient<SendReset>,
    pub voicemail: Recipient<VoicemailLeft>,
    pub code: Recipient<SendCode>,
}
