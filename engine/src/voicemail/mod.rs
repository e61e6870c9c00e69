//! Voicemail: messages left for subscribers who do not answer, and what tells their phones.
//!
//! The parts, all sans-IO (nothing here reads a clock, a file or a socket):
//!
//! - `record`: [`VoicemailRecord`], [`MailboxSettings`] and their keys in the store, the
//!   [`Greeting`] kinds, the rules of a subscriber's PIN;
//! - `summary`: [`MessageSummary`], the RFC 3842 `message-summary` body that lights the
//!   phone's lamp, rendered and parsed.

pub mod record;
pub mod summary;

pub use record::{
    Folder, Greeting, Greetings, MailboxSettings, NewPinError, VoicemailId, VoicemailRecord,
    MAX_PIN_FAILURES, MIN_PIN_LEN, VOICEMAILS_TREE, VOICEMAIL_SETTINGS_TREE,
};
pub use summary::{MessageClass, MessageSummary, SummaryError};
