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
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn relay() -> Relay {
        Relay {
            address: ["192.0.2.1".parse().unwrap(); 2],
            caller: RelayPort::new(30000),
            callee: RelayPort::new(30002),
        }
    }

    fn call() -> AnchoredCall {
        let origin = Origin::new(42, 1, "192.0.2.1".parse().unwrap());
        AnchoredCall::new(relay(), CodecPolicy::default(), origin)
    }

    fn sdp(addr: &str, port: u16, fmts: &str, extra: &str) -> Sdp {
        let mut body = format!(
            "v=0\r\no=p 7 7 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {fmts}\r\n"
        );
        for pt in fmts.split(' ') {
            let line = match pt {
                "0" => "a=rtpmap:0 PCMU/8000\r\n",
                "8" => "a=rtpmap:8 PCMA/8000\r\n",
                "9" => "a=rtpmap:9 G722/8000\r\n",
                "101" => "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
                "111" => "a=rtpmap:111 opus/48000/2\r\n",
                _ => "",
            };
            body.push_str(line);
        }
        body.push_str(extra);
        Sdp::parse(body.as_bytes()).unwrap()
    }

    fn parse(body: &str) -> Sdp {
        Sdp::parse(body.as_bytes()).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_callee_is_offered_the_relay_with_only_codecs_the_switch_handles() {
        let mut c = call();
        let offer = sdp("10.0.0.7", 4000, "111 0 101", "");
        let out = parse(&c.caller_offered(&offer, false).unwrap());
        let m = &out.media[0];
        assert_eq!(m.port, 30002);
        assert_eq!(
            out.connection_of(m).unwrap().address.to_string(),
            "192.0.2.1"
        );
        let codecs: Vec<Codec> = m.codecs().map(|(_, c)| c).collect();
        assert_eq!(
            codecs,
            vec![Codec::Pcmu],
            "opus goes: the relay could not carry it"
        );
        assert!(m.telephone_events().any(|te| te.payload_type == 101));
    }

    #[test]
    fn a_same_codec_answer_relays_and_the_caller_hears_the_relay() {
        let mut c = call();
        let offer = sdp("10.0.0.7", 4000, "0 8 101", "");
        c.caller_offered(&offer, false).unwrap();
        let answer = sdp("127.0.0.5", 5000, "8 101", "");
        let a = c.callee_answered(&answer).unwrap();
        assert_eq!(a.callee.codec, Codec::Pcma);
        assert_eq!(a.callee.remote_rtp, addr("127.0.0.5:5000"));
        assert_eq!(
            a.caller.codec,
            Codec::Pcma,
            "the callee's codec, offered by the caller"
        );
        assert_eq!(a.caller.remote_rtp, addr("10.0.0.7:4000"));
        assert!(!c.transcodes());
        let body = parse(&a.body);
        assert_eq!(body.media[0].port, 30000);
        assert_eq!(
            body.connection_of(&body.media[0])
                .unwrap()
                .address
                .to_string(),
            "192.0.2.1"
        );
        // the 2xx retransmitted, or a forked 18x before it: the same answer
        assert_eq!(c.callee_answered(&answer).unwrap().body, a.body);
    }

    #[test]
    fn an_ipv4_caller_and_an_ipv6_callee_each_get_the_relay_in_their_own_family() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let relay = Relay {
            address: ["192.0.2.1".parse().unwrap(), v6],
            ..relay()
        };
        let origin = Origin::new(42, 1, "192.0.2.1".parse().unwrap());
        let mut c = AnchoredCall::new(relay, CodecPolicy::default(), origin);
        c.caller_offered(&sdp("10.0.0.7", 4000, "0", ""), false)
            .unwrap();
        let to_callee = parse(&c.callee_offer_for_test());
        assert!(
            to_callee.to_string().contains("c=IN IP6 2001:db8::1\r\n"),
            "{to_callee}"
        );
        let answer = parse(
            "v=0\r\no=b 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n\
             m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        );
        let a = c.callee_answered(&answer).unwrap();
        assert_eq!(a.callee.remote_rtp, addr("[2001:db8::9]:5000"));
        assert_eq!(a.caller.remote_rtp, addr("10.0.0.7:4000"));
        assert!(a.body.contains("c=IN IP4 192.0.2.1\r\n"), "{}", a.body);
        assert!(!a.body.contains("IP6 2001:db8::1"), "{}", a.body);
    }

    #[test]
    fn a_g722_caller_and_a_pcmu_callee_are_transcoded() {
        let mut c = call();
        let offer = sdp("127.0.0.1", 4000, "9 101", "");
        let out = parse(&c.caller_offered(&offer, true).unwrap());
        let offered: Vec<Codec> = out.media[0].codecs().map(|(_, c)| c).collect();
        assert_eq!(offered, vec![Codec::G722, Codec::Pcmu, Codec::Pcma]);
        let answer = sdp("127.0.0.1", 5000, "0", "");
        let a = c.callee_answered(&answer).unwrap();
        assert_eq!(a.callee.codec, Codec::Pcmu);
        assert_eq!(a.caller.codec, Codec::G722);
        assert!(c.transcodes());
    }

    #[test]
    fn an_early_answer_fixes_the_callers_codec_for_the_call() {
        let mut c = call();
        let offer = sdp("127.0.0.1", 4000, "9 0", "");
        c.caller_offered(&offer, false).unwrap();
        let (early, stream) = c.caller_answer().unwrap();
        assert_eq!(stream.codec, Codec::G722, "the switch's preference");
        let answer = sdp("127.0.0.1", 5000, "0", "");
        let a = c.callee_answered(&answer).unwrap();
        assert_eq!(a.body, early, "the final answer is the early one");
        assert_eq!(a.caller.codec, Codec::G722);
        assert!(c.transcodes());
    }

    #[test]
    fn hold_from_the_caller_reaches_the_callee_and_the_answer_mirrors_it() {
        let mut c = call();
        c.caller_offered(&sdp("127.0.0.1", 4000, "0", ""), false)
            .unwrap();
        c.callee_answered(&sdp("127.0.0.2", 5000, "0", "")).unwrap();
        let hold = sdp("127.0.0.1", 4000, "0", "a=sendonly\r\n");
        let to_callee = parse(&c.offered(Side::Caller, &hold).unwrap());
        assert_eq!(to_callee.media[0].port, 30002);
        assert_eq!(
            to_callee.direction_of(&to_callee.media[0]),
            Direction::SendOnly
        );
        let r = c
            .answered(&sdp("127.0.0.2", 5000, "0", "a=recvonly\r\n"))
            .unwrap();
        assert_eq!(r.offerer, Side::Caller);
        let to_caller = parse(&r.body);
        assert_eq!(to_caller.media[0].port, 30000);
        assert_eq!(
            to_caller.direction_of(&to_caller.media[0]),
            Direction::RecvOnly
        );
        assert!(r.caller.direction.receives() && !r.caller.direction.sends());
        assert!(r.callee.remote_hold || !r.callee.direction.receives());
        assert!(!c.is_pending());
    }

    #[test]
    fn a_reoffer_keeps_each_sides_codec_while_transcoding() {
        let mut c = call();
        c.caller_offered(&sdp("127.0.0.1", 4000, "9", ""), true)
            .unwrap();
        c.callee_answered(&sdp("127.0.0.2", 5000, "0", "")).unwrap();
        // the callee re-offers (new port): the caller is offered only its G.722
        let out = parse(
            &c.offered(Side::Callee, &sdp("127.0.0.2", 5010, "0 8", ""))
                .unwrap(),
        );
        let offered: Vec<Codec> = out.media[0].codecs().map(|(_, c)| c).collect();
        assert_eq!(offered, vec![Codec::G722]);
        assert_eq!(out.media[0].port, 30000);
        let r = c.answered(&sdp("127.0.0.1", 4000, "9", "")).unwrap();
        assert_eq!(r.offerer, Side::Callee);
        assert_eq!(r.callee.codec, Codec::Pcmu);
        assert_eq!(r.caller.codec, Codec::G722);
        assert_eq!(r.caller.remote_rtp, addr("127.0.0.1:4000"));
    }

    #[test]
    fn a_late_offer_comes_from_the_callee_and_is_answered_in_the_ack() {
        let mut c = call();
        let to_caller = parse(
            &c.offered(Side::Callee, &sdp("127.0.0.2", 5000, "0 8", ""))
                .unwrap(),
        );
        assert_eq!(to_caller.media[0].port, 30000);
        let r = c.answered(&sdp("127.0.0.1", 4000, "8", "")).unwrap();
        assert_eq!(r.caller.codec, Codec::Pcma);
        assert_eq!(r.callee.codec, Codec::Pcma);
        assert_eq!(r.callee.remote_rtp, addr("127.0.0.2:5000"));
        assert_eq!(parse(&r.body).media[0].port, 30002);
    }

    #[test]
    fn what_the_relay_cannot_carry_is_refused() {
        let mut c = call();
        let two = parse(
            "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\n",
        );
        assert_eq!(c.caller_offered(&two, false), Err(PlanError::Streams(2)));
        let only_opus = sdp("127.0.0.1", 4000, "111", "");
        assert!(c.caller_offered(&only_opus, false).is_err());
        assert_eq!(
            c.callee_answered(&sdp("127.0.0.1", 5000, "0", ""))
                .unwrap_err(),
            PlanError::NoOffer
        );
        assert_eq!(
            c.answered(&sdp("127.0.0.1", 5000, "0", "")).unwrap_err(),
            PlanError::NoOffer
        );
    }
}
