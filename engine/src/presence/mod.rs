//! Presence (RFC 3856) and resource lists (RFC 4662): the documents, sans-IO.
//!
//! `caps`: what a device can take, from its Contact feature tags; `pidf`: the presence
//! document of a PUBLISH or NOTIFY; `rlmi`: the multipart NOTIFY body of a resource list.

pub mod caps;
pub mod pidf;
pub mod rlmi;

mod xml;
