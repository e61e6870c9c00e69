//! What the owner of a Call-ID takes from the network: a CallLeg, a Subscription, or a
//! Delivery of queued messages (`ownership::owners` files them; the worker delivers).

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
