//! Presence (RFC 3856) and resource lists (RFC 4662), sans-IO.
//!
//! - `caps`: what a device can take, from its Contact feature tags;
//! - `pidf`: the presence document of a PUBLISH or NOTIFY; `rlmi`: the multipart NOTIFY body
//!   of a resource list;
//! - `presentity`: a number's state from its registrations, publications (RFC 3903) and
//!   calls;
//! - `subscription`: the notifier side of one subscription (RFC 6665): dialog, expiry,
//!   coalesced NOTIFYs; `notify`: the NOTIFY requests.

pub mod caps;
pub mod notify;
pub mod pidf;
pub mod presentity;
pub mod rlmi;
pub mod subscription;

mod xml;
