//! Routing: what happens to a request for an address, and the order of the targets a call
//! tries.
//!
//! A `Router` turns a `RouteRequest` (the typed destination, the caller, the callee's state
//! and forwarding) into a `Decision`; `PlainRouter` is the built-in one, the Lua plugin host
//! (`switchboard-actors`) is the operator's. `RouteSequence` follows the decisions of one call
//! through forwarding hops and trunk failover; `history` writes the History-Info and
//! Diversion headers that tell the final callee where the call came from. `DecisionMemo`
//! keeps the decisions of a router that depends only on declared fields of the request, so a
//! host asks it once per distinct request rather than once per call. `Decided` replays a
//! decision already taken, so a request handed on is not routed twice.

mod decided;
mod decision;
pub mod history;
mod memo;
mod plain;
mod request;
mod sequence;

pub use decided::Decided;
pub use decision::{
    destination_key, ring_time, Decision, DecisionError, DiversionReason, Fallbacks, MediaHints,
    Routed, Target, VOICEMAIL,
};
pub use memo::{DecisionMemo, Depends, DependsError};
pub use plain::{PlainRouter, PSTN_GROUP};
pub use request::{CalleeState, Hop, RouteRequest};
pub use sequence::{RouteSequence, Step};

/// Why a router could not decide. The request it was asked about fails alone, with the
/// status `status()` gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RouteError {
    pub kind: RouteErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteErrorKind {
    /// The router raised an error.
    Failed,
    /// The router ran out of its instruction budget.
    Timeout,
    /// The router ran out of memory.
    Memory,
    /// The router returned something that is not a decision.
    BadDecision,
}

impl RouteErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteErrorKind::Failed => "error",
            RouteErrorKind::Timeout => "timeout",
            RouteErrorKind::Memory => "memory",
            RouteErrorKind::BadDecision => "bad_decision",
        }
    }
}

impl std::fmt::Display for RouteErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RouteError {
    pub fn new(kind: RouteErrorKind, message: impl Into<String>) -> RouteError {
        RouteError {
            kind,
            message: message.into(),
        }
    }

    /// The answer for the request that failed: 503 when the router ran out of time (try
    /// again later), 500 otherwise.
    pub fn status(&self) -> (u16, &'static str) {
        match self.kind {
            RouteErrorKind::Timeout => (503, "Routing Plugin Timeout"),
            RouteErrorKind::Memory => (500, "Routing Plugin Out Of Memory"),
            RouteErrorKind::Failed | RouteErrorKind::BadDecision => (500, "Routing Plugin Error"),
        }
    }
}

/// A routing policy. Not `Sync`: a plugin host keeps one interpreter per signalling thread.
pub trait Router {
    /// A dialed string rewritten before the plan classifies it (speed dials, prefixes), or
    /// `None` to keep it. The rewritten string goes through the same closed grammar.
    fn rewrite(
        &self,
        _dialed: &str,
        _caller: Option<&numbering::Aor>,
    ) -> Result<Option<String>, RouteError> {
        Ok(None)
    }

    /// Whether `rewrite` may change what was dialed (a router with rewrite hooks says so);
    /// without them, what a request reaches follows from the plan alone.
    fn rewrites(&self) -> bool {
        false
    }

    fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, RouteError>;

    /// The version of the routing code, recorded with each call (0 for built-in routing).
    fn version(&self) -> u64 {
        0
    }
}

impl Router for PlainRouter {
    fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, RouteError> {
        Ok(self.decide(req).into())
    }
}

use crate::numbering;
