//! Dialogs the switch takes part in as a user agent (RFC 3261 §12), as opposed to the calls
//! it proxies (`proxy`).
//!
//! - `confirm`: a call the switch answers itself and hangs up, confirming a feature code.
//! - `proxied`: what the switch knows of a dialog it record-routes, to end it itself (BYE to
//!   both sides when the call's media died).

mod confirm;
mod proxied;

pub use confirm::{Answer, ConfirmDialog, ConfirmOutput, Prompt};
pub use proxied::{Outgoing, ProxiedDialog};
