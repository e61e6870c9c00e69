//! Dialogs the switch takes part in as a user agent (RFC 3261 §12), as opposed to the calls
//! it proxies (`proxy`).
//!
//! - `confirm`: a call the switch answers itself and hangs up, confirming a feature code.

mod confirm;

pub use confirm::{ConfirmDialog, ConfirmOutput};
