//! The offer/answer of one anchored call (RFC 3264 through a relay).
//!
//! The callee gets the caller's offer pointed at the relay's callee side, listing only codecs
//! the switch handles (so whatever the callee picks, the relay can carry it), plus, when the
//! call needs transcoding, the codecs the switch can transcode to. The caller gets the
//! switch's own answer, on the relay's caller side, with one codec of its offer: the callee's
//! when the caller offered it (the relay forwards packets untouched), else the best the
//! switch can transcode to. Once the caller has an answer its codec stays for the whole call,
//! so an early answer (ringback before the callee answers) and the final one agree.
//!
//! Offers inside the dialog (hold, resume, a new address) go the same way from either side:
//! the other side gets the offer pointed at the relay, keeping its own codec when the call
//! transcodes, and the offerer gets the switch's answer with its codec and the direction the
//! other side answered. A late offer (an INVITE without SDP: the callee offers in the 2xx,
//! the caller answers in the ACK) is an offer from the callee's side.
//!
//! Calls with more than one audio stream are not anchored (`PlanError::Streams`); other
//! media (video) in an anchored call is rejected in the switch's answers.

use std::net::IpAddr;

use super::srtp::{self as sdes, SrtpError, SrtpPolicy, SrtpState};
use crate::media::srtp::{MasterKey, SrtpKeys};
use crate::media::{Codec, Side};
use crate::sdp::negotiate::{self, CodecPolicy, LocalEndpoint, Negotiated, NegotiationError};
use crate::sdp::rewrite::{self, RelayPort, RewriteError};
use crate::sdp::{Direction, Origin, Sdp};

/// The relay's address and port on each side, as written in that side's SDP.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    /// By `Side::index`: each side's in its own address family (`c=IN IP4` or `c=IN IP6`),
    /// so a call can bridge an IPv4 phone and an IPv6 one.
    pub address: [IpAddr; 2],
    pub caller: RelayPort,
    pub callee: RelayPort,
}

impl Relay {
    /// The relay's address toward `side`.
    pub fn address_of(&self, side: Side) -> IpAddr {
        self.address[side.index()]
    }

    fn port(&self, side: Side) -> RelayPort {
        match side {
            Side::Caller => self.caller,
            Side::Callee => self.callee,
        }
    }
}

/// Why a description could not be carried through the relay.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    #[error("{0}")]
    Negotiation(#[from] NegotiationError),
    #[error("{0}")]
    Rewrite(#[from] RewriteError),
    #[error("{0} audio streams; the relay carries exactly one")]
    Streams(usize),
    #[error("an answer with no offer before it")]
    NoOffer,
    #[error("{0}")]
    Srtp(#[from] SrtpError),
}

/// The callee answered: what the caller gets, and each side's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    /// The caller's answer (the switch's own SDP).
    pub body: String,
    pub caller: Negotiated,
    pub callee: Negotiated,
}

/// An offer inside the dialog was answered: the offerer gets `body`, and the streams are now
/// these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reoffer {
    /// Who made the offer (and gets `body`).
    pub offerer: Side,
    pub body: String,
    pub caller: Negotiated,
    pub callee: Negotiated,
}

/// An offer on its way through the relay, waiting for its answer.
struct Pending {
    from: Side,
    /// As the offerer sent it.
    received: Sdp,
    /// As the other side got it.
    forwarded: Sdp,
}

/// The offer/answer state of one anchored call.
pub struct AnchoredCall {
    relay: Relay,
    /// The codecs the switch handles, in its preference order.
    policy: CodecPolicy,
    /// The `o=` of the descriptions the switch writes to the caller (a new version each time).
    origin: Origin,
    caller_offer: Option<Sdp>,
    to_callee: Option<Sdp>,
    /// The caller's answer to its offer in the INVITE, as sent: fixed once sent.
    caller_body: Option<String>,
    caller: Option<Negotiated>,
    callee: Option<Negotiated>,
    pending: Option<Pending>,
    srtp: SrtpState,
}

impl AnchoredCall {
    /// A call through `relay`; `origin` is the `o=` of the switch's descriptions.
    pub fn new(relay: Relay, policy: CodecPolicy, origin: Origin) -> AnchoredCall {
        AnchoredCall {
            relay,
            policy,
            origin,
            caller_offer: None,
            to_callee: None,
            caller_body: None,
            caller: None,
            callee: None,
            pending: None,
            // no side may speak SRTP, so these keys are never used
            srtp: SrtpState::new(SrtpPolicy::default(), [MasterKey::from_bytes(&[0; 30]); 2]),
        }
    }

    /// The same call ending SRTP where `policy` lets it (see `srtp.rs`), with the switch's
    /// own keys toward each side (by `Side::index`; from a cryptographic random source).
    /// Without it an `RTP/SAVP` offer is refused.
    pub fn with_srtp(mut self, policy: SrtpPolicy, keys: [MasterKey; 2]) -> AnchoredCall {
        self.srtp = SrtpState::new(policy, keys);
        self
    }

    /// The offer the callee got, as sent.
    #[cfg(test)]
    pub(super) fn callee_offer_for_test(&self) -> String {
        self.to_callee
            .as_ref()
            .map(Sdp::to_string)
            .unwrap_or_default()
    }

    /// The SRTP keys of `side`'s stream, when it speaks SRTP with the switch.
    pub fn srtp(&self, side: Side) -> Option<SrtpKeys> {
        self.srtp.keys(side)
    }

    /// The caller's offer (in the INVITE): the offer the callee gets. With `transcode`, the
    /// codecs the switch can transcode to are added after the caller's.
    pub fn caller_offered(&mut self, offer: &Sdp, transcode: bool) -> Result<String, PlanError> {
        check_streams(offer)?;
        self.srtp.check_offer(Side::Caller, offer)?;
        let mut codecs = known_codecs(offer, &self.policy);
        if transcode {
            for c in &self.policy.codecs {
                if !codecs.contains(c) {
                    codecs.push(*c);
                }
            }
        }
        let mut out = offer.clone();
        rewrite::replace_codecs(&mut out, &codecs)?;
        rewrite::rewrite_endpoints(
            &mut out,
            &[self.relay.callee],
            self.relay.address_of(Side::Callee),
        )?;
        self.srtp.forward_offer(Side::Callee, &mut out, true);
        let body = out.to_string();
        self.caller_offer = Some(offer.clone());
        self.to_callee = Some(out);
        Ok(body)
    }

    /// The caller's answer, made now if it was not yet (for early media before the callee
    /// answers: the switch's ringback). Once made it stays the same for the whole call.
    pub fn caller_answer(&mut self) -> Result<(String, Negotiated), PlanError> {
        if let (Some(body), Some(stream)) = (&self.caller_body, &self.caller) {
            return Ok((body.clone(), stream.clone()));
        }
        let offer = self.caller_offer.as_ref().ok_or(PlanError::NoOffer)?;
        let codec = match &self.callee {
            Some(callee) if offer_has(offer, callee.codec) => callee.codec,
            _ => known_codecs(offer, &self.policy)
                .first()
                .copied()
                .ok_or(NegotiationError::NoCommonCodec)?,
        };
        // toward the caller the switch does what the callee does: the reverse of what the
        // switch does toward the callee
        let direction = self
            .callee
            .as_ref()
            .map_or(Direction::SendRecv, |c| c.direction.reversed());
        let offer = offer.clone();
        let (body, stream) = self.answer_to(&offer, Side::Caller, codec, direction)?;
        self.caller_body = Some(body.clone());
        self.caller = Some(stream.clone());
        Ok((body, stream))
    }

    /// The callee's answer (in a 18x or the 2xx) to the offer it got: the caller's answer and
    /// both streams. Forked answers from other devices replace the callee's stream; the
    /// caller's answer does not change once sent.
    pub fn callee_answered(&mut self, answer: &Sdp) -> Result<Answered, PlanError> {
        let to_callee = self.to_callee.as_ref().ok_or(PlanError::NoOffer)?;
        let offered = sdes::answered_offer(to_callee, answer);
        let callee = first(negotiate::accept_answer(&offered, answer)?);
        self.srtp.answered(Side::Callee, to_callee, answer)?;
        self.callee = Some(callee.clone());
        let (body, caller) = self.caller_answer()?;
        Ok(Answered {
            body,
            caller,
            callee,
        })
    }

    /// An offer from `from` inside the dialog (or the callee's late offer in a 2xx): what
    /// the other side gets.
    pub fn offered(&mut self, from: Side, offer: &Sdp) -> Result<String, PlanError> {
        check_streams(offer)?;
        self.srtp.check_offer(from, offer)?;
        let to = from.other();
        let mut out = offer.clone();
        // a side keeps its codec: when the call transcodes, the other side is offered only
        // the one it has
        let keep = self.stream(to).map(|s| s.codec);
        let codecs = match keep {
            Some(c) if self.transcodes() => vec![c],
            _ => known_codecs(offer, &self.policy),
        };
        rewrite::replace_codecs(&mut out, &codecs)?;
        rewrite::rewrite_endpoints(&mut out, &[self.relay.port(to)], self.relay.address_of(to))?;
        self.srtp.forward_offer(to, &mut out, false);
        let body = out.to_string();
        self.pending = Some(Pending {
            from,
            received: offer.clone(),
            forwarded: out,
        });
        Ok(body)
    }

    /// The answer to the pending offer, from the side that got it: what the offerer gets, and
    /// both streams.
    pub fn answered(&mut self, answer: &Sdp) -> Result<Reoffer, PlanError> {
        let pending = self.pending.take().ok_or(PlanError::NoOffer)?;
        let offered = sdes::answered_offer(&pending.forwarded, answer);
        let answerer = first(negotiate::accept_answer(&offered, answer)?);
        let offerer = pending.from;
        self.srtp
            .answered(offerer.other(), &pending.forwarded, answer)?;
        let codec = match self.stream(offerer) {
            Some(s) if offer_has(&pending.received, s.codec) => s.codec,
            _ if offer_has(&pending.received, answerer.codec) => answerer.codec,
            _ => known_codecs(&pending.received, &self.policy)
                .first()
                .copied()
                .ok_or(NegotiationError::NoCommonCodec)?,
        };
        let wanted = answerer.direction.reversed();
        let (body, ours) = self.answer_to(&pending.received, offerer, codec, wanted)?;
        let (caller, callee) = match offerer {
            Side::Caller => (ours, answerer),
            Side::Callee => (answerer, ours),
        };
        self.caller = Some(caller.clone());
        self.callee = Some(callee.clone());
        Ok(Reoffer {
            offerer,
            body,
            caller,
            callee,
        })
    }

    /// An offer inside the dialog is waiting for its answer.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The stream of `side`, once negotiated.
    pub fn stream(&self, side: Side) -> Option<&Negotiated> {
        match side {
            Side::Caller => self.caller.as_ref(),
            Side::Callee => self.callee.as_ref(),
        }
    }

    /// The two sides use different codecs: the relay decodes and encodes.
    pub fn transcodes(&self) -> bool {
        match (self.stream(Side::Caller), self.stream(Side::Callee)) {
            (Some(a), Some(b)) => a.codec != b.codec,
            _ => false,
        }
    }

    /// The switch's answer to `offer` from `side`, with `codec`, on the relay's port of that
    /// side, doing `direction` toward it (what the other side does toward the switch).
    fn answer_to(
        &mut self,
        offer: &Sdp,
        side: Side,
        codec: Codec,
        direction: Direction,
    ) -> Result<(String, Negotiated), PlanError> {
        let port = self.relay.port(side);
        let local = LocalEndpoint {
            address: self.relay.address_of(side),
            ports: vec![port.rtp],
            rtcp_mux: port.rtcp_mux,
            direction,
        };
        let policy = CodecPolicy {
            codecs: vec![codec],
            ..self.policy.clone()
        };
        let origin = self.origin.clone();
        self.origin = origin.next_version();
        // the codecs are negotiated as plain RTP; SRTP goes on the answer after
        let answer = negotiate::answer(&sdes::plain(offer), &local, &policy, origin)?;
        let stream = first(answer.streams);
        let mut sdp = answer.sdp;
        self.srtp.answer(side, offer, &mut sdp)?;
        Ok((sdp.to_string(), stream))
    }
}

/// The codecs of the first audio stream of `offer` that `policy` handles, in the offer's order.
fn known_codecs(offer: &Sdp, policy: &CodecPolicy) -> Vec<Codec> {
    let mut out = Vec::new();
    if let Some(m) = offer
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())
    {
        for (_, c) in m.codecs() {
            if policy.codecs.contains(&c) && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

fn offer_has(offer: &Sdp, codec: Codec) -> bool {
    offer
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())
        .is_some_and(|m| m.codecs().any(|(_, c)| c == codec))
}

fn check_streams(sdp: &Sdp) -> Result<(), PlanError> {
    match rewrite::relayed(sdp).count() {
        1 => Ok(()),
        n => Err(PlanError::Streams(n)),
    }
}

/// The one audio stream (`check_streams` made sure there is exactly one in what we offered,
/// and `accept_answer`/`answer` return at least one or fail).
fn first(mut streams: Vec<Negotiated>) -> Negotiated {
    streams.swap_remove(0)
}

#[cfg(test)]
mod tests;
