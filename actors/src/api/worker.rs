//! What a signalling worker takes besides the datagrams of its own socket.

use actix::{Message, Recipient};
use switchboard_engine::conference::ConferenceName;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::Message as SipMessage;

/// A valid message for the worker that owns it (its Call-ID, or for a REGISTER its address
/// of record), from another worker or a TCP connection's reader.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Inbound {
    pub msg: SipMessage,
    pub flow: Flow,
    /// The address of record of a REGISTER, computed once at ingress.
    pub aor: Option<Aor>,
}

/// Messages for the worker that owns them, collected by another worker from one read of its
/// socket: one hand-over (one wake-up of the owner) for all of them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Inbounds(pub Vec<Inbound>);

/// How a worker is handed messages: one at a time (a TCP connection's reader), or the ones
/// another worker collected from a read of its socket.
#[derive(Clone)]
pub struct WorkerInbox {
    pub one: Recipient<Inbound>,
    pub many: Recipient<Inbounds>,
}

/// The switch calls `member` into conference `conference` (a chat room's `/call`): the
/// worker that owns `call_id` starts the call's CallLeg.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DialOut {
    pub call_id: Box<str>,
    pub member: Aor,
    pub conference: ConferenceName,
}

/// The switch calls a landline to read a text message out: the worker that owns `call_id`
/// starts the call's CallLeg.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PlaceNotice {
    pub call_id: Box<str>,
    pub call: super::voice_notices::NoticeCallSpec,
}

/// Where a worker takes the switch's own calls.
#[derive(Clone)]
pub struct Dialer {
    pub dial_out: Recipient<DialOut>,
    pub notice: Recipient<PlaceNotice>,
}
