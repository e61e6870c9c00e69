//! Administration of what operators and subscribers change by hand: accounts (passwords as
//! HA1 values, one-time passwords), forwarding settings, the "record my calls" setting and
//! the operator's conferences; and how a mailbox and its settings are shown (`voicemail`).
//! The same functions serve the CLI on a stopped switch, the control socket and the HTTP API
//! of a running one (through the store actor).

pub mod accounts;
pub mod conferences;
pub mod forwarding;
pub mod recording;
pub mod voicemail;
