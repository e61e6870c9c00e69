//! What an Extension takes: the commands about one address of record (registrations,
//! lookups, authentication, deliveries, presence, its mailbox's message waiting), each with
//! the channel for its answer, and the notes it sends to the Subscriptions watching it.
//!
//! Every command goes to the address's Directory (`ToExtension`), on the arbiter the address
//! hashes to, which starts the Extension on demand.

use std::sync::Arc;

use actix::{Message, Recipient};
use switchboard_engine::auth::AuthOutcome;
use switchboard_engine::flow::Flow;
use switchboard_engine::forwarding::ForwardingRecord;
use switchboard_engine::numbering::Aor;
use switchboard_engine::presence::presentity::Summary;
use switchboard_engine::sip::Message as SipMessage;
use switchboard_engine::store::BindingRecord;
use switchboard_engine::voicemail::mwi::Device;
use switchboard_engine::voicemail::MessageSummary;
use tokio::sync::oneshot;

/// Wrong answers in a row after which the one-time passwords of an address are revoked (the
/// Extension counts them over SIP, `http::auth` over HTTP).
pub const MAX_OTP_FAILURES: u32 = 10;

/// A command for the Extension of `aor`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToExtension {
    pub aor: Aor,
    pub cmd: ExtCommand,
}

/// The answer to a REGISTER.
#[derive(Debug)]
pub enum RegisterReply {
    /// Applied; the current bindings as Contact values.
    Ok {
        contacts: Vec<String>,
    },
    Challenge {
        stale: bool,
    },
    Forbidden,
    Error {
        code: u16,
        reason: &'static str,
        min_expires: Option<u32>,
    },
}

/// What a call needs to ring this address.
#[derive(Debug, Default)]
pub struct Located {
    pub account: bool,
    pub bindings: Vec<BindingRecord>,
    pub forwarding: ForwardingRecord,
}

/// Commands an Extension carries out; each carries the channel for its answer.
pub enum ExtCommand {
    Register {
        req: SipMessage,
        flow: Flow,
        reply: oneshot::Sender<RegisterReply>,
    },
    Locate {
        reply: oneshot::Sender<Located>,
    },
    /// Verifies the Proxy-Authorization of a request from this subscriber.
    Authenticate {
        req: SipMessage,
        reply: oneshot::Sender<AuthOutcome>,
    },
    AccountChanged,
    /// A message was queued for this address: deliver it if a device is registered.
    Deliver,
    /// Who may watch this address's presence may have changed (its buddy list or grants).
    AuthorizationChanged,
    /// This address's buddy list changed.
    BuddiesChanged,
    /// A Subscription watches this number's presence.
    Watch {
        req: WatchRequest,
        reply: oneshot::Sender<WatchReply>,
    },
    /// A Subscription ended (of this number's presence or mailbox).
    Unwatch {
        id: u64,
    },
    /// A Subscription of this number's owner watches its mailbox (message-summary); the
    /// answer is the summary known and its version.
    WatchMailbox {
        id: u64,
        /// The subscribing device: it gets no unsolicited NOTIFY while subscribed.
        device: Device,
        to: Recipient<MailboxNote>,
        reply: oneshot::Sender<(u64, MessageSummary)>,
    },
    /// This number's mailbox changed (`api::mwi::MailboxChanged`, from the mailbox store).
    MailboxChanged(MessageSummary),
    /// A PUBLISH of this number's presence (RFC 3903).
    Publish {
        req: SipMessage,
        reply: oneshot::Sender<PublishReply>,
    },
    /// A call of this number went up or down (`call` identifies it).
    CallState {
        call: u64,
        up: bool,
        /// What watchers read while the call is up (a conference names its room).
        note: Option<String>,
    },
    /// This number's presence, for the HTTP API.
    Presence {
        reply: oneshot::Sender<Arc<Snapshot>>,
    },
    /// Write the bindings held back from the store (refreshes, `registrar::write_behind`)
    /// now: the switch is shutting down.
    WriteHeldBack {
        done: oneshot::Sender<()>,
    },
}

/// Every live Extension of a Directory writes the bindings it held back from the store;
/// answered once all have (before the store's last flush at shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriteHeldBack;

/// A presentity's state as its watchers get it: rendered once per change.
#[derive(Debug)]
pub struct Snapshot {
    pub entity: Aor,
    pub version: u64,
    /// The PIDF document (application/pidf+xml).
    pub pidf: String,
    pub summary: Summary,
}

/// What an Extension tells a watching Subscription.
#[derive(Message)]
#[rtype(result = "()")]
pub enum PresenceNote {
    /// The presentity's new state (only to allowed watchers).
    State(Arc<Snapshot>),
    /// The watcher's authorization changed: allowed (with the state), or withdrawn.
    Allowed(Arc<Snapshot>),
    Withdrawn {
        entity: Aor,
    },
    /// The presentity's Extension stopped (a failure): its watchers are gone with it.
    Deactivated {
        entity: Aor,
    },
    /// The owner's buddy list changed (to list subscriptions of the owner).
    ListChanged,
}

/// What an Extension tells a Subscription to its mailbox.
#[derive(Message)]
#[rtype(result = "()")]
pub enum MailboxNote {
    /// The mailbox's new summary; versions grow, so the higher one is the newer.
    Summary {
        version: u64,
        summary: MessageSummary,
    },
    /// The Extension stopped (a failure): the subscription must be made again.
    Deactivated,
}

/// A Subscription asks to watch this number.
pub struct WatchRequest {
    pub watcher: Aor,
    /// Unique per Subscription, for `Unwatch`.
    pub id: u64,
    pub to: Recipient<PresenceNote>,
    /// A resource-list subscription of this number's own buddy list: it hears of list
    /// changes, not of this number's presence.
    pub list: bool,
}

/// The answer to a watch.
#[derive(Debug)]
pub enum WatchReply {
    /// Allowed: the current state.
    Allowed(Arc<Snapshot>),
    /// Waiting for the owner (or a number nobody owns: the same answer, so watchers cannot
    /// tell which numbers have accounts).
    Pending,
    /// The owner refused this watcher.
    Denied,
    /// Too many watchers already.
    Full,
}

/// The answer to a PUBLISH.
#[derive(Debug)]
pub enum PublishReply {
    Ok {
        etag: Option<String>,
        expires: u32,
    },
    Challenge {
        stale: bool,
    },
    Forbidden,
    Error {
        code: u16,
        reason: String,
        min_expires: Option<u32>,
    },
}
