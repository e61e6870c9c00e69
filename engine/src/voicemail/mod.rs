//! Voicemail: messages left for subscribers who do not answer, and the phone menu they listen
//! with.
//!
//! The parts, all sans-IO (time is a parameter; nothing here reads a clock, a file or a
//! socket):
//!
//! - `record`: [`VoicemailRecord`], [`MailboxSettings`] and their keys in the store, the
//!   [`Greeting`] kinds, the rules of a subscriber's PIN;
//! - `summary`: [`MessageSummary`], the RFC 3842 `message-summary` body that lights the
//!   phone's lamp, rendered and parsed;
//! - `mwi`: [`MessageWaiting`], what a mailbox's devices were told and which of them get an
//!   unsolicited NOTIFY;
//! - `deposit`: [`Deposit`], a caller leaving a message (greeting, beep, recording);
//! - `menu`: [`Menu`], the subscriber listening by phone (PIN, messages, greetings, PIN),
//!   their own mailbox or one they sign in to by number and PIN ([`OpenedMailbox`]);
//! - `lockout`: [`PinLockout`], how wrong PINs over many calls lock a mailbox for a while;
//! - `play` and `capture`: what both machines play ([`Playback`] of [`Audio`] items) and
//!   when a recording stops ([`CaptureLimits`], [`Stopped`]).
//!
//! The owner of the call (an actor with the call's media session) plays what the machines
//! ask, records, reports digits, frame levels and the end of each playback, and carries out
//! the mailbox changes (save, delete, greetings, PIN) in the store; it opens the mailbox a
//! caller keys at the menu's mailbox prompt.

mod capture;
pub mod deposit;
pub mod lockout;
pub mod menu;
pub mod mwi;
mod play;
pub mod record;
pub mod summary;

pub use capture::{CaptureLimits, StopReason, Stopped, TAIL};
pub use deposit::{Deposit, DepositConfig, Reason};
pub use lockout::PinLockout;
pub use menu::{Menu, MenuConfig, OpenedMailbox};
pub use mwi::MessageWaiting;
pub use play::{Audio, PlayId, Playback};
pub use record::{
    Folder, Greeting, Greetings, MailboxSettings, NewPinError, VoicemailId, VoicemailRecord,
    MAX_PIN_FAILURES, MIN_PIN_LEN, SETTINGS_VERSION, VOICEMAILS_PENDING_TREE, VOICEMAILS_TREE,
    VOICEMAIL_SETTINGS_TREE,
};
pub use summary::{MessageClass, MessageSummary, SummaryError};

/// What a [`Deposit`] asks its owner to do.
pub type DepositAction = deposit::Action;
/// What a [`Menu`] asks its owner to do.
pub type MenuAction = menu::Action;
