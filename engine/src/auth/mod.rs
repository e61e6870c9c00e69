//! Authentication policy: nonces, replay windows and the digest decision
//! (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! Challenges depend only on the realm and the time, never on the user, so a known and an
//! unknown number get byte-identical challenges in the same second (no enumeration).
//! Credentials that fail for any reason (unknown user, wrong password, replayed nonce count)
//! get one and the same answer.

mod nonce;
mod verify;

pub use nonce::{NonceCheck, Nonces, ReplayWindow};
pub use verify::{challenge_values, verify, AuthOutcome};
