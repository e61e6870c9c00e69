//! SIP-specific event notification (RFC 6665), the notifier side, for every event package the
//! switch serves, sans-IO.
//!
//! - `package`: the packages as small descriptions (event name, body type, who may
//!   subscribe) and the [`Registry`](package::Registry) of those a switch serves;
//! - `subscription`: the notifier machine of one subscription: dialog, expiry, refreshes,
//!   coalesced NOTIFYs, the final NOTIFY;
//! - `notify`: the NOTIFY requests, in a dialog and unsolicited.
//!
//! What a package's body holds comes from its owner (the presence documents of `presence`,
//! the message summaries of `voicemail::summary`); the rest is shared, so a new package is a
//! description and a body, not a second copy of the SUBSCRIBE/NOTIFY code.

pub mod notify;
pub mod package;
pub mod subscription;

pub use package::{Package, Registry, Subscribers, MESSAGE_SUMMARY, PRESENCE};
