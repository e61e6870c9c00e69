//! Presence (RFC 3856) and resource lists (RFC 4662), sans-IO.
//!
//! - `caps`: what a device can take, from its Contact feature tags;
//! - `pidf`: the presence document of a PUBLISH or NOTIFY; `rlmi`: the multipart NOTIFY body
//!   of a resource list;
//! - `presentity`: a number's state from its registrations, publications (RFC 3903) and
//!   calls.
//!
//! The subscriptions that carry these documents are the `event` module's, shared with every
//! other event package (`event::PRESENCE` describes this one).

pub mod caps;
pub mod pidf;
pub mod presentity;
pub mod rlmi;

mod xml;

/// The body type of a presence NOTIFY and PUBLISH (RFC 3863).
pub const PIDF: &str = "application/pidf+xml";
/// The body type of a resource list's meta-information (RFC 4662 §5).
pub const RLMI: &str = "application/rlmi+xml";
