//! What a router sees of a request: the typed destination, the caller, the time, the
//! callee's state (when the destination is one of our subscribers) and the forwarding hops
//! the call has taken so far.

use crate::forwarding::ForwardingRecord;
use crate::numbering::{Aor, Destination};
use crate::sip::Method;

use super::DiversionReason;

#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub method: Method,
    /// What was dialed (the Request-URI user, unescaped), for plugins that look at spelling.
    /// Decisions never take addresses from it: they go through the plan again.
    pub dialed: &'a str,
    /// The classified destination (a directory address resolved when the directory knows it).
    pub destination: &'a Destination,
    /// The authenticated caller, when there is one.
    pub caller: Option<&'a Aor>,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The subscriber the destination reaches, when it reaches one of ours.
    pub callee: Option<&'a CalleeState>,
    /// Addresses the call was forwarded from, oldest first.
    pub history: &'a [Hop],
}

/// One of our subscribers as a router sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CalleeState {
    pub aor: Option<Aor>,
    /// Whether an account exists (a number without one is not found).
    pub account: bool,
    /// Registered devices.
    pub devices: usize,
    pub forwarding: ForwardingRecord,
    /// Calls the subscriber does not take go to their mailbox unless a forward is set (an
    /// account with voicemail on).
    pub voicemail: bool,
}

/// An address a call was forwarded from, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hop {
    pub address: String,
    pub reason: DiversionReason,
}
