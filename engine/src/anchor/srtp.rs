//! SRTP through an anchored call (SDES, RFC 4568): the switch ends SRTP on each side that
//! offers it and may, and each side's keys stay on that side.
//!
//! A side that offers `RTP/SAVP` with an `a=crypto` line the switch can run (the first in the
//! offer's order, RFC 4568 §7.1.1) gets the switch's answer in `RTP/SAVP` with one crypto
//! line: the same tag and suite, the switch's own key for that side (given by the caller of
//! [`super::AnchoredCall::with_srtp`], drawn from a cryptographic source, never from the
//! engine's `Entropy`, which is not one; kept for the call). The other side is offered plain `RTP/AVP` without the
//! offerer's keys, unless it speaks SRTP with the switch already (a re-offer), or the call
//! offers SRTP to the callee ([`SrtpPolicy::offer_callee`]); then it gets `RTP/SAVP` with
//! the switch's key for it, and its answer carries its own (a plain `RTP/AVP` answer leaves
//! that leg plain: see [`SrtpState::answered`]).
//!
//! An `RTP/SAVP` offer from a side the switch may not end SRTP for (`media.srtp`), or with
//! no line it can run, is refused ([`super::PlanError::Srtp`]): the relay cannot carry it.

use std::borrow::Cow;

use crate::media::srtp::{MasterKey, SrtpKeys, Suite};
use crate::media::Side;
use crate::sdp::crypto::{is_savp, plain_profile, Crypto};
use crate::sdp::{Attribute, Line, Media, Sdp};

/// The operator's SRTP policy (`media.srtp`): which legs the switch ends SRTP on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SrtpMode {
    /// Only legs whose signalling is secure (TLS): SDES keys travel in the SDP, so over
    /// plain UDP or TCP anyone on the path reads them (RFC 4568 §8.3).
    #[default]
    TlsOnly,
    /// Any leg.
    Any,
    /// None: an SRTP offer is never anchored; its SDP passes end to end.
    Off,
}

impl SrtpMode {
    pub fn parse(s: &str) -> Option<SrtpMode> {
        match s {
            "tls-only" => Some(SrtpMode::TlsOnly),
            "any" => Some(SrtpMode::Any),
            "off" => Some(SrtpMode::Off),
            _ => None,
        }
    }

    /// Whether the switch may end SRTP on a leg whose signalling is `secure`.
    pub fn allows(self, secure: bool) -> bool {
        match self {
            SrtpMode::TlsOnly => secure,
            SrtpMode::Any => true,
            SrtpMode::Off => false,
        }
    }

    /// Whether the switch offers SRTP to a leg it calls whose signalling is `secure`: only
    /// then, whatever the mode allows, since a phone that speaks only RTP would refuse the
    /// call (the switch cannot tell beforehand).
    pub fn offers(self, secure: bool) -> bool {
        self != SrtpMode::Off && secure
    }
}

/// What one anchored call may do with SRTP.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SrtpPolicy {
    /// By side index: the switch takes an `RTP/SAVP` offer from that side.
    pub accept: [bool; 2],
    /// The callee is offered `RTP/SAVP` in the caller's INVITE.
    pub offer_callee: bool,
}

/// What one side agreed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Agreed {
    suite: Suite,
    theirs: MasterKey,
}

/// The SRTP of one anchored call: the switch's keys and what each side agreed.
pub(super) struct SrtpState {
    policy: SrtpPolicy,
    /// By side: the switch's key for what it sends that side.
    ours: [MasterKey; 2],
    agreed: [Option<Agreed>; 2],
}

/// Why SRTP could not be carried through the relay.
#[derive(Copy, Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrtpError {
    #[error("srtp is not ended by the switch on this leg (media.srtp)")]
    NotAllowed,
    #[error("no a=crypto line the switch supports")]
    NoCrypto,
    #[error("the srtp answer has no crypto line for the offered one")]
    Answer,
}

impl SrtpState {
    pub(super) fn new(policy: SrtpPolicy, ours: [MasterKey; 2]) -> SrtpState {
        SrtpState {
            policy,
            ours,
            agreed: [None; 2],
        }
    }

    /// The line the switch takes from `from`'s offer, `None` for a plain offer.
    pub(super) fn check_offer(&self, from: Side, offer: &Sdp) -> Result<Option<Crypto>, SrtpError> {
        let Some(m) = audio(offer).filter(|m| m.is_savp()) else {
            return Ok(None);
        };
        if !self.policy.accept[from.index()] {
            return Err(SrtpError::NotAllowed);
        }
        m.cryptos()
            .find(|c| c.usable().is_some())
            .map(Some)
            .ok_or(SrtpError::NoCrypto)
    }

    /// Turns `out`, an offer on its way to `to`, into what `to` gets: `RTP/SAVP` with the
    /// switch's key when `to` speaks SRTP (or is the callee of a call that offers it), else
    /// plain `RTP/AVP`; the offerer's keys go either way.
    pub(super) fn forward_offer(&mut self, to: Side, out: &mut Sdp, initial: bool) {
        let srtp = match self.agreed[to.index()] {
            Some(a) => Some(a.suite),
            None if initial && to == Side::Callee && self.policy.offer_callee => {
                Some(Suite::AesCm128HmacSha1_80)
            }
            None => None,
        };
        let key = srtp.map(|suite| (suite, self.ours(to)));
        for m in relayed_rtp(out) {
            strip_crypto(m);
            match key {
                Some((suite, key)) => {
                    m.proto = savp_profile(&m.proto).to_owned();
                    push_crypto(m, &Crypto::new(1, suite, &key));
                }
                None => m.proto = plain_profile(&m.proto).to_owned(),
            }
        }
    }

    /// `to` answered the offer it got (`forwarded`) with `answer`: its key, if it was
    /// offered SRTP.
    ///
    /// A plain `RTP/AVP` answer to the switch's `RTP/SAVP` offer is, by RFC 4568 §7.1.2, a
    /// failed offer; the switch takes it as the phone's choice of plain RTP on its own leg
    /// instead (the call goes on; that leg is plain, and says so in the call's media stats).
    /// The key the switch offered was never used, and the answer came over the signalling the
    /// offer went on (TLS under `tls-only`), so no one on the path chose it. An `RTP/SAVP`
    /// answer without a crypto line for the offered one is refused.
    pub(super) fn answered(
        &mut self,
        to: Side,
        forwarded: &Sdp,
        answer: &Sdp,
    ) -> Result<(), SrtpError> {
        let Some(offered) = audio(forwarded).filter(|m| m.is_savp()) else {
            self.agreed[to.index()] = None;
            return Ok(());
        };
        if answers_plain(answer) {
            self.agreed[to.index()] = None;
            return Ok(());
        }
        let ours = offered.cryptos().next().ok_or(SrtpError::Answer)?;
        let theirs = audio(answer)
            .and_then(|m| m.cryptos().find(|c| c.tag == ours.tag))
            .ok_or(SrtpError::Answer)?;
        let (suite, key) = theirs.usable().ok_or(SrtpError::Answer)?;
        if suite.name() != ours.suite {
            return Err(SrtpError::Answer);
        }
        self.agreed[to.index()] = Some(Agreed { suite, theirs: key });
        Ok(())
    }

    /// Makes `answer` (the switch's plain answer to `side`'s `offer`) the SRTP answer when
    /// the offer was, and records what `side` agreed.
    pub(super) fn answer(
        &mut self,
        side: Side,
        offer: &Sdp,
        answer: &mut Sdp,
    ) -> Result<(), SrtpError> {
        let Some(theirs) = self.check_offer(side, offer)? else {
            self.agreed[side.index()] = None;
            return Ok(());
        };
        // check_offer returns only usable lines
        let Some((suite, key)) = theirs.usable() else {
            return Err(SrtpError::NoCrypto);
        };
        let ours = self.ours(side);
        let proto = audio(offer)
            .map_or("RTP/SAVP", |m| m.proto.as_str())
            .to_owned();
        if let Some(m) = answer
            .media
            .iter_mut()
            .find(|m| m.is_audio() && !m.is_rejected())
        {
            m.proto = proto;
            push_crypto(m, &Crypto::new(theirs.tag, suite, &ours));
        }
        self.agreed[side.index()] = Some(Agreed { suite, theirs: key });
        Ok(())
    }

    /// The keys of `side` for the media session, when it speaks SRTP.
    pub(super) fn keys(&self, side: Side) -> Option<SrtpKeys> {
        let a = self.agreed[side.index()]?;
        Some(SrtpKeys {
            suite: a.suite,
            inbound: a.theirs,
            outbound: self.ours[side.index()],
        })
    }

    /// The switch's key toward `side`.
    fn ours(&self, side: Side) -> MasterKey {
        self.ours[side.index()]
    }
}

/// The offer `answer` is checked against in the codec negotiation: `forwarded` as sent, or
/// its plain copy when `answer` takes an `RTP/SAVP` offer as plain RTP (a plain leg, see
/// [`SrtpState::answered`]).
pub(super) fn answered_offer<'a>(forwarded: &'a Sdp, answer: &Sdp) -> Cow<'a, Sdp> {
    if audio(forwarded).is_some_and(Media::is_savp) && answers_plain(answer) {
        Cow::Owned(plain(forwarded))
    } else {
        Cow::Borrowed(forwarded)
    }
}

/// The audio stream of `answer` is plain `RTP/AVP` without keys.
fn answers_plain(answer: &Sdp) -> bool {
    audio(answer).is_some_and(|m| !m.is_savp() && m.cryptos().next().is_none())
}

/// A plain copy of `offer` for the codec negotiation, which speaks `RTP/AVP`.
pub(super) fn plain(offer: &Sdp) -> Sdp {
    let mut out = offer.clone();
    for m in relayed_rtp(&mut out) {
        strip_crypto(m);
        m.proto = plain_profile(&m.proto).to_owned();
    }
    out
}

fn audio(sdp: &Sdp) -> Option<&Media> {
    sdp.media.iter().find(|m| m.is_audio() && !m.is_rejected())
}

fn relayed_rtp(sdp: &mut Sdp) -> impl Iterator<Item = &mut Media> + '_ {
    sdp.media
        .iter_mut()
        .filter(|m| m.is_audio() && !m.is_rejected() && m.is_rtp())
}

fn strip_crypto(m: &mut Media) {
    m.lines
        .retain(|l| !l.attribute().is_some_and(|a| a.is("crypto")));
}

fn push_crypto(m: &mut Media, c: &Crypto) {
    m.lines
        .push(Line::Attribute(Attribute::new("crypto", c.to_string())));
}

fn savp_profile(proto: &str) -> &'static str {
    if proto.eq_ignore_ascii_case("RTP/AVPF") || proto.eq_ignore_ascii_case("RTP/SAVPF") {
        "RTP/SAVPF"
    } else {
        "RTP/SAVP"
    }
}

/// Whether the first audio stream of `sdp` is SRTP with a line the switch can run.
pub fn offers_srtp(sdp: &Sdp) -> bool {
    audio(sdp).is_some_and(|m| is_savp(&m.proto) && m.cryptos().any(|c| c.usable().is_some()))
}

#[cfg(test)]
mod tests {
    use super::super::{
        decide, srtp_needs_anchor, AnchoredCall, Facts, PlanError, Policy, Reason, Relay,
    };
    use super::*;
    use crate::sdp::negotiate::CodecPolicy;
    use crate::sdp::rewrite::RelayPort;
    use crate::sdp::Origin;

    const KEY_A: &str = "NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj";
    const KEY_B: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";

    fn call(accept: [bool; 2], offer_callee: bool) -> AnchoredCall {
        let relay = Relay {
            address: ["192.0.2.1".parse().unwrap(); 2],
            caller: RelayPort::new(30000),
            callee: RelayPort::new(30002),
        };
        let origin = Origin::new(42, 1, relay.address_of(Side::Caller));
        let policy = SrtpPolicy {
            accept,
            offer_callee,
        };
        let ours = [
            MasterKey::from_bytes(&[7; 30]),
            MasterKey::from_bytes(&[8; 30]),
        ];
        AnchoredCall::new(relay, CodecPolicy::default(), origin).with_srtp(policy, ours)
    }

    fn sdp(port: u16, proto: &str, cryptos: &[&str]) -> Sdp {
        let mut body = format!(
            "v=0\r\no=p 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        for c in cryptos {
            body.push_str(&format!("a=crypto:{c}\r\n"));
        }
        Sdp::parse(body.as_bytes()).unwrap()
    }

    fn parse(body: &str) -> Sdp {
        Sdp::parse(body.as_bytes()).unwrap()
    }

    fn key(b64: &str) -> MasterKey {
        Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{b64}"))
            .unwrap()
            .usable()
            .unwrap()
            .1
    }

    /// The one crypto line of the audio stream of `sdp`.
    fn crypto_of(sdp: &Sdp) -> Crypto {
        let cryptos: Vec<Crypto> = sdp.media[0].cryptos().collect();
        assert_eq!(cryptos.len(), 1, "{sdp}");
        cryptos.into_iter().next().unwrap()
    }

    #[test]
    fn an_srtp_caller_gets_one_line_with_its_tag_and_the_switchs_key_and_the_callee_plain_rtp() {
        let mut c = call([true, false], false);
        let offer = sdp(
            4000,
            "RTP/SAVP",
            &[
                &format!("1 AES_256_CM_HMAC_SHA1_80 inline:{KEY_B}"),
                &format!("2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_A}"),
                &format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_B}"),
            ],
        );
        let to_callee = parse(&c.caller_offered(&offer, false).unwrap());
        assert_eq!(to_callee.media[0].proto, "RTP/AVP");
        assert_eq!(
            to_callee.media[0].cryptos().count(),
            0,
            "the caller's keys stay"
        );
        assert!(!to_callee.to_string().contains(KEY_A));
        let a = c.callee_answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        let to_caller = parse(&a.body);
        assert_eq!(to_caller.media[0].proto, "RTP/SAVP");
        let line = crypto_of(&to_caller);
        assert_eq!(line.tag, 2, "the first line the switch supports");
        assert_eq!(line.suite, "AES_CM_128_HMAC_SHA1_32");
        let (_, ours) = line.usable().unwrap();
        let keys = c.srtp(Side::Caller).unwrap();
        assert_eq!(keys.suite, Suite::AesCm128HmacSha1_32);
        assert_eq!(keys.inbound, key(KEY_A));
        assert_eq!(keys.outbound, ours);
        assert_ne!(ours, key(KEY_A), "the switch's own key");
        assert_eq!(c.srtp(Side::Callee), None);
    }

    #[test]
    fn an_srtp_offer_the_switch_may_not_end_or_cannot_run_is_refused() {
        let offer = sdp(
            4000,
            "RTP/SAVP",
            &[&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}")],
        );
        assert_eq!(
            call([false, false], false).caller_offered(&offer, false),
            Err(PlanError::Srtp(SrtpError::NotAllowed))
        );
        let unknown = sdp(
            4000,
            "RTP/SAVP",
            &[&format!("1 F8_128_HMAC_SHA1_80 inline:{KEY_A}")],
        );
        assert_eq!(
            call([true, true], false).caller_offered(&unknown, false),
            Err(PlanError::Srtp(SrtpError::NoCrypto))
        );
        // plain RTP is not touched by the policy
        let plain = sdp(4000, "RTP/AVP", &[]);
        let mut c = call([false, false], false);
        c.caller_offered(&plain, false).unwrap();
        let a = c.callee_answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        assert_eq!(parse(&a.body).media[0].proto, "RTP/AVP");
        assert_eq!(c.srtp(Side::Caller), None);
    }

    #[test]
    fn a_reoffer_toward_an_srtp_side_carries_the_switchs_same_key_and_takes_its_new_one() {
        let mut c = call([true, false], false);
        let line = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}");
        c.caller_offered(&sdp(4000, "RTP/SAVP", &[&line]), false)
            .unwrap();
        let a = c.callee_answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        let ours = crypto_of(&parse(&a.body)).usable().unwrap().1;
        // the callee puts the call on hold: the caller is offered SRTP with the same key
        let to_caller = parse(&c.offered(Side::Callee, &sdp(5000, "RTP/AVP", &[])).unwrap());
        assert_eq!(to_caller.media[0].proto, "RTP/SAVP");
        let offered = crypto_of(&to_caller);
        assert_eq!(offered.usable().unwrap().1, ours);
        // the caller answers with a new key of its own
        let answer = sdp(
            4000,
            "RTP/SAVP",
            &[&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_B}")],
        );
        let r = c.answered(&answer).unwrap();
        assert_eq!(
            parse(&r.body).media[0].proto,
            "RTP/AVP",
            "the callee stays plain"
        );
        assert_eq!(c.srtp(Side::Caller).unwrap().inbound, key(KEY_B));
        assert_eq!(c.srtp(Side::Caller).unwrap().outbound, ours);
        // an answer without its key is refused
        c.offered(Side::Callee, &sdp(5000, "RTP/AVP", &[])).unwrap();
        assert_eq!(
            c.answered(&sdp(4000, "RTP/SAVP", &[])).unwrap_err(),
            PlanError::Srtp(SrtpError::Answer)
        );
        // the caller re-offers: same tag, same key from the switch
        let mut c2 = call([true, false], false);
        c2.caller_offered(&sdp(4000, "RTP/SAVP", &[&line]), false)
            .unwrap();
        c2.callee_answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        let first = c2.srtp(Side::Caller).unwrap();
        c2.offered(Side::Caller, &sdp(4000, "RTP/SAVP", &[&line]))
            .unwrap();
        let r = c2.answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        assert_eq!(
            crypto_of(&parse(&r.body)).usable().unwrap().1,
            first.outbound
        );
        assert_eq!(c2.srtp(Side::Caller), Some(first));
        assert_eq!(crypto_of(&parse(&r.body)).tag, 1);
    }

    #[test]
    fn a_callee_on_a_secure_leg_is_offered_srtp_and_must_answer_with_its_key() {
        let mut c = call([true, true], true);
        c.caller_offered(&sdp(4000, "RTP/AVP", &[]), false).unwrap();
        let to_callee = parse(&c.callee_offer_for_test());
        assert_eq!(to_callee.media[0].proto, "RTP/SAVP");
        let ours = crypto_of(&to_callee).usable().unwrap().1;
        let answer = sdp(
            5000,
            "RTP/SAVP",
            &[&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_B}")],
        );
        let a = c.callee_answered(&answer).unwrap();
        assert_eq!(parse(&a.body).media[0].proto, "RTP/AVP");
        let keys = c.srtp(Side::Callee).unwrap();
        assert_eq!((keys.inbound, keys.outbound), (key(KEY_B), ours));
        assert_eq!(c.srtp(Side::Caller), None);
    }

    #[test]
    fn a_callee_offered_srtp_that_answers_plain_rtp_gets_a_plain_leg_and_a_keyless_one_is_refused()
    {
        let mut c = call([true, true], true);
        c.caller_offered(&sdp(4000, "RTP/AVP", &[]), false).unwrap();
        let a = c.callee_answered(&sdp(5000, "RTP/AVP", &[])).unwrap();
        assert_eq!(parse(&a.body).media[0].proto, "RTP/AVP");
        assert_eq!(c.srtp(Side::Callee), None, "the callee's leg runs plain");
        let mut c = call([true, true], true);
        c.caller_offered(&sdp(4000, "RTP/AVP", &[]), false).unwrap();
        assert_eq!(
            c.callee_answered(&sdp(5000, "RTP/SAVP", &[])).unwrap_err(),
            PlanError::Srtp(SrtpError::Answer)
        );
    }

    #[test]
    fn srtp_forces_anchoring_only_where_the_keys_would_otherwise_cross_a_plain_leg() {
        let offer = sdp(
            4000,
            "RTP/SAVP",
            &[&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_A}")],
        );
        let plain = sdp(4000, "RTP/AVP", &[]);
        assert!(srtp_needs_anchor(SrtpMode::Any, &offer, false, false));
        assert!(
            !srtp_needs_anchor(SrtpMode::Any, &offer, false, true),
            "both ends can"
        );
        assert!(!srtp_needs_anchor(SrtpMode::TlsOnly, &offer, false, false));
        assert!(srtp_needs_anchor(SrtpMode::TlsOnly, &offer, true, false));
        assert!(!srtp_needs_anchor(SrtpMode::TlsOnly, &offer, true, true));
        assert!(!srtp_needs_anchor(SrtpMode::Off, &offer, true, false));
        assert!(!srtp_needs_anchor(SrtpMode::Any, &plain, true, false));
        let facts = Facts {
            offer: Some(&offer),
            srtp: true,
            ..Facts::default()
        };
        assert_eq!(decide(Policy::Auto, &facts), Some(Reason::Srtp));
        assert_eq!(Reason::Srtp.to_string(), "srtp");
        assert_eq!(decide(Policy::Never, &facts), None);
        assert_eq!(SrtpMode::parse("tls-only"), Some(SrtpMode::TlsOnly));
        assert_eq!(SrtpMode::parse("always"), None);
        assert_eq!(SrtpMode::default(), SrtpMode::TlsOnly);
    }
}
