//! Authentication policy: nonces, replay windows and the digest decision
//! (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! Challenges depend only on the realm and the time, never on the user, so a known and an
//! unknown number get byte-identical challenges in the same second (no enumeration).
//! Credentials that fail for any reason (unknown user, wrong password, replayed nonce count)
//! get one and the same answer. `check` tells a right digest that only the replay window
//! refuses apart from the rest, so that the registrar can answer a late retransmission of a
//! REGISTER it already carried out (`registrar::repeat`); every other caller refuses it.

mod nonce;
mod verify;

pub use nonce::{NonceCheck, Nonces, ReplayWindow};
pub use verify::{challenge_values, check, verify, AuthOutcome, Checked};
