//! Stateful proxy core (RFC 3261 §16): who we are on the wire, branch identifiers with loop
//! detection, route processing, best-response selection and the response context that ties a
//! server transaction to its client branches.
//!
//! This is where call switching decisions live; the `CallLeg` actor only feeds it messages and
//! carries out its sends.

pub mod best;
pub mod branch;
mod context;
pub mod local;
pub mod route;

pub use context::{BranchId, BranchSpec, ContextConfig, ContextEvent, Output, ProxyContext};
pub use local::Local;
