//! The load generator's sans-IO core (`switchboard load scenarios/<file>.toml`): scenario
//! files (parsed from their text), the seeded schedule of actions they describe, the
//! simulated user agents, and the statistics and report of a run. No files, sockets, clocks,
//! threads or tokio: text, time and seeds in; actions, messages and figures out. The runner
//! that reads the files and drives real sockets is [`crate::runner`].
//!
//! The contract between the parts is in this file: a schedule yields [`Action`]s at offsets
//! from the start of the run; the runner carries each out over SIP (and RTP) and records an
//! [`Outcome`] per request in a [`stats::Recorder`].

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub mod agent;
pub mod conference;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod stats;

/// A simulated subscriber: its index in the population (0-based) picks its number, password
/// and devices.
pub type User = u32;

/// What a call's callee does, decided by the caller's side of the schedule and carried to
/// the callee in the INVITE (`X-Load-Plan` header), so the run is the same against any
/// server that forwards unknown headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPlan {
    /// Ring `ring`, answer, talk `hold`, then the caller (`callee_hangs_up` false) or the
    /// callee hangs up.
    Answer {
        ring: Duration,
        hold: Duration,
        callee_hangs_up: bool,
    },
    /// 486 Busy Here after `ring`.
    Busy { ring: Duration },
    /// Never answer: the caller cancels after `ring`.
    NoAnswer { ring: Duration },
}

/// What the phones of a call with audio put in their SDP (scenario field
/// `behaviours.call.media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMedia {
    /// The address they send and receive RTP on: the other side (or a switch) can reach it,
    /// and media may flow directly between the phones.
    Direct,
    /// This address with their real port, as a phone behind NAT writes its private address:
    /// nothing listens there, so audio reaches a phone only through a switch that anchors the
    /// call and latches on the source of the phone's own RTP (the phones are symmetric: they
    /// send from the socket they receive on).
    Nat(IpAddr),
}

impl CallMedia {
    /// The address `nat` phones write when the scenario names none: one in a private range
    /// (RFC 1918) that nothing on the test host answers.
    pub const DEFAULT_NAT_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 255, 255, 1));
}

/// One thing the run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Register device `device` of `user` (a refresh when it is registered already).
    Register { user: User, device: u32 },
    /// Unregister it (Expires: 0).
    Unregister { user: User, device: u32 },
    /// A call from `caller` to `callee`; `rtp`: G.711 audio both ways at 50 packets/s while
    /// it is up, with the phones' SDP as it says (`None`: signalling only).
    Call {
        caller: User,
        callee: User,
        plan: CallPlan,
        rtp: Option<CallMedia>,
    },
    /// A MESSAGE from `from` to `to`; `online` says whether the schedule meant a registered
    /// recipient (an offline one's message must be stored and delivered on its next
    /// REGISTER: counted as lost if it never arrives).
    Message { from: User, to: User, online: bool },
    /// `watcher` subscribes to `presentity`'s presence for `expires`.
    Subscribe {
        watcher: User,
        presentity: User,
        expires: Duration,
    },
    /// `user` publishes a new presence state (note and activity chosen by `variant`).
    Publish { user: User, variant: u32 },
    /// `member` posts to room `room` (rooms are `load-<n>`, members joined at start).
    RoomPost { room: u32, member: User },
    /// A participant dials its conference (`conf-loadconf-<room>`), sends its voice and
    /// listens to the mix for its hold time, then hangs up.
    Conference(conference::Participant),
    /// `caller` calls the mailbox of `mailbox` (a subscriber with no phone registered: the
    /// switch answers for the mailbox at once), hears the greeting and the beep while it
    /// talks (a tone), and hangs up `hold` after the answer.
    Voicemail {
        caller: User,
        mailbox: User,
        hold: Duration,
    },
}

impl Action {
    /// The request type its outcome is recorded under.
    pub fn kind(&self) -> Kind {
        match self {
            Action::Register { .. } | Action::Unregister { .. } => Kind::Register,
            Action::Call { .. } => Kind::Call,
            Action::Message { .. } => Kind::Message,
            Action::Subscribe { .. } => Kind::Subscribe,
            Action::Publish { .. } => Kind::Publish,
            Action::RoomPost { .. } => Kind::RoomPost,
            Action::Conference(_) => Kind::Conference,
            Action::Voicemail { .. } => Kind::Voicemail,
        }
    }
}

/// Request types, each with its own counters and latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Register,
    /// Call setup: INVITE to the first final answer the plan expects (200, 486, or the 487
    /// after CANCEL).
    Call,
    /// The BYE of an answered call.
    Bye,
    Message,
    Subscribe,
    /// A NOTIFY a watcher received (latency: from the PUBLISH that caused it, when known).
    Notify,
    Publish,
    RoomPost,
    /// A conference participant's call setup: INVITE to `conf-<room>` until its 200.
    Conference,
    /// A voicemail caller's call setup: INVITE to the mailbox's number until the switch's 200.
    Voicemail,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Register,
        Kind::Call,
        Kind::Bye,
        Kind::Message,
        Kind::Subscribe,
        Kind::Notify,
        Kind::Publish,
        Kind::RoomPost,
        Kind::Conference,
        Kind::Voicemail,
    ];

    /// The name used in scenario thresholds and reports (`register`, `call`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Call => "call",
            Kind::Bye => "bye",
            Kind::Message => "message",
            Kind::Subscribe => "subscribe",
            Kind::Notify => "notify",
            Kind::Publish => "publish",
            Kind::RoomPost => "room_post",
            Kind::Conference => "conference",
            Kind::Voicemail => "voicemail",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer the plan expected (the status code, e.g. 200, 202, 486 for a busy plan).
    Ok(u16),
    /// Another final answer.
    Failed(u16),
    /// No final answer in time (transaction timeout).
    Timeout,
}
