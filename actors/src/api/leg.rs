//! What the owner of a Call-ID takes from the network: a CallLeg, a Subscription, or a
//! Delivery of queued messages (`ownership::owners` files them; the worker delivers); and what
//! starts a CallLeg of the switch's own, or tells one that its own write is on disk.

use actix::Message;
use switchboard_engine::conference::ConferenceName;
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::Message as SipMessage;

/// A message of the owner's Call-ID from the network, validated at ingress.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromNetwork {
    pub msg: SipMessage,
    pub flow: Flow,
}

/// A new CallLeg calls `member` into conference `conference`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartDialOut {
    pub member: Aor,
    pub conference: ConferenceName,
}

/// A new CallLeg places a call of a voice notice.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartNotice(pub super::voice_notices::NoticeCallSpec);

/// The hot-desk sign-in a leg's voice menu made is on disk (`ok`), or its flush failed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HotDeskFlushed {
    pub ok: bool,
}
