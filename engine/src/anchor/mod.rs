//! Anchored calls: which calls the switch puts its media relay into, and how their session
//! descriptions are rewritten on the way through (the switch stays a proxy, as Kamailio does
//! with rtpengine: it rewrites SDP, it does not become a party to the call).
//!
//! - `decide` says whether a call is anchored and why: the operator's policy
//!   (`media.anchor`), the routing plugin, recording, a party behind NAT (its SDP names an
//!   address other than the one its signalling came from), SRTP (the caller offers SRTP
//!   the switch may end while the callee's leg would get plain RTP: [`srtp_needs_anchor`]),
//!   or transcoding (an offer a plain G.711 phone could not answer).
//! - `AnchoredCall` (plan.rs) is the offer/answer of one anchored call: the offer each
//!   callee gets (pointed at the relay's callee side, with the codecs the switch can
//!   transcode to added when needed), the answer the caller gets (the switch's own, on the
//!   relay's caller side, with one codec of the caller's offer that stays fixed for the whole
//!   call), what each side's stream is, and the same for offers inside the dialog (hold,
//!   resume) and late offers (an INVITE without SDP).
//! - `srtp.rs`: SDES-keyed SRTP ended by the switch on each side that offers it and may
//!   ([`SrtpMode`], `media.srtp`), each side with its own keys.
//!
//! Sans-IO: descriptions in, descriptions and stream parameters out.

mod plan;
mod srtp;

use std::fmt;
use std::net::IpAddr;

pub use plan::{AnchoredCall, Answered, PlanError, Relay, Reoffer};
pub use srtp::{offers_srtp, SrtpError, SrtpMode, SrtpPolicy};

use crate::media::{Codec, Side};
use crate::sdp::Sdp;

/// The operator's anchoring policy (`media.anchor`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Anchor when a call needs it (NAT, transcoding, recording, the plugin).
    Auto,
    /// Anchor every call with audio.
    Always,
    /// Never anchor unless recording needs it.
    Never,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "auto" => Some(Policy::Auto),
            "always" => Some(Policy::Always),
            "never" => Some(Policy::Never),
            _ => None,
        }
    }
}

/// Why a call's media goes through the switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `media.anchor = "always"`.
    Policy,
    /// The routing plugin asked for it.
    Plugin,
    /// The call is recorded.
    Recording,
    /// A party's SDP names an address other than the source of its signalling.
    Nat {
        side: Side,
        sdp: IpAddr,
        source: IpAddr,
    },
    /// The caller offered no G.711: a phone with only G.711 could not answer it.
    Transcoding,
    /// The caller offered SRTP that the switch ends, the callee gets plain RTP.
    Srtp,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Policy => f.write_str("policy"),
            Reason::Plugin => f.write_str("plugin"),
            Reason::Recording => f.write_str("recording"),
            Reason::Nat { sdp, source, .. } => write!(f, "nat: sdp {sdp} != source {source}"),
            Reason::Transcoding => f.write_str("transcoding"),
            Reason::Srtp => f.write_str("srtp"),
        }
    }
}

/// What the decision looks at.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// The caller's offer (none: a late offer, in the answer to an INVITE without SDP).
    pub offer: Option<&'a Sdp>,
    /// Where the caller's INVITE came from.
    pub caller_source: Option<IpAddr>,
    /// For each device the call goes to: the host of its registered contact and the source
    /// address it registered from (a phone behind NAT registers a private contact).
    pub callees: Vec<(IpAddr, IpAddr)>,
    /// The routing plugin's `anchor` (true: anchor, false: do not, unless recording).
    pub plugin: Option<bool>,
    /// The call is recorded (the subscriber's setting or the plugin's `record`).
    pub record: bool,
    /// The caller's SRTP must end at the switch ([`srtp_needs_anchor`]).
    pub srtp: bool,
}

/// Whether the call with `facts` is anchored under `policy`, and why. `None`: its media
/// flows directly between the phones.
pub fn decide(policy: Policy, facts: &Facts<'_>) -> Option<Reason> {
    if facts.record {
        return Some(Reason::Recording);
    }
    match facts.plugin {
        Some(true) => return Some(Reason::Plugin),
        Some(false) => return None,
        None => {}
    }
    match policy {
        Policy::Never => return None,
        Policy::Always => return Some(Reason::Policy),
        Policy::Auto => {}
    }
    if facts.srtp {
        return Some(Reason::Srtp);
    }
    if let (Some(offer), Some(source)) = (facts.offer, facts.caller_source) {
        if let Some(sdp) = audio_address(offer).filter(|a| *a != source) {
            return Some(Reason::Nat {
                side: Side::Caller,
                sdp,
                source,
            });
        }
    }
    if let Some(&(sdp, source)) = facts.callees.iter().find(|(c, s)| c != s) {
        return Some(Reason::Nat {
            side: Side::Callee,
            sdp,
            source,
        });
    }
    if facts.offer.is_some_and(needs_transcoding) {
        return Some(Reason::Transcoding);
    }
    None
}

/// Whether an offer's SRTP must end at the switch: the caller offers SRTP the switch can run
/// and may end on its leg (`mode`, `caller_secure`: its signalling is TLS), and the callee
/// would not be offered SRTP (its leg is not secure, so its phone may be plain and the
/// caller's keys must not travel to it in clear). When both legs are secure the offer goes
/// end to end unless the call is anchored for another reason.
pub fn srtp_needs_anchor(
    mode: SrtpMode,
    offer: &Sdp,
    caller_secure: bool,
    callee_secure: bool,
) -> bool {
    offers_srtp(offer) && mode.allows(caller_secure) && !mode.offers(callee_secure)
}

/// The address the first audio stream of `sdp` receives on, unless it is on hold the RFC 2543
/// way (`c=0.0.0.0`).
pub fn audio_address(sdp: &Sdp) -> Option<IpAddr> {
    let m = sdp
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())?;
    let c = sdp.connection_of(m)?;
    (!c.is_unspecified()).then_some(c.address)
}

/// Whether an offer has audio but no G.711, while it has a codec the switch can transcode
/// from: a plain G.711 phone could not answer it.
pub fn needs_transcoding(offer: &Sdp) -> bool {
    let Some(m) = offer
        .media
        .iter()
        .find(|m| m.is_audio() && !m.is_rejected())
    else {
        return false;
    };
    let codecs: Vec<Codec> = m.codecs().map(|(_, c)| c).collect();
    !codecs.is_empty()
        && !codecs
            .iter()
            .any(|c| matches!(c, Codec::Pcmu | Codec::Pcma))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(addr: &str, codecs: &str) -> Sdp {
        let body = format!(
            "v=0\r\no=a 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP {codecs}\r\n"
        );
        Sdp::parse(body.as_bytes()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn auto_anchors_a_caller_whose_sdp_is_not_where_it_sends_from() {
        let offer = sdp("10.0.0.7", "0");
        let facts = Facts {
            offer: Some(&offer),
            caller_source: Some(ip("198.51.100.4")),
            ..Facts::default()
        };
        let r = decide(Policy::Auto, &facts).unwrap();
        assert_eq!(r.to_string(), "nat: sdp 10.0.0.7 != source 198.51.100.4");
        let same = Facts {
            caller_source: Some(ip("10.0.0.7")),
            ..facts.clone()
        };
        assert_eq!(
            decide(Policy::Auto, &same),
            None,
            "phones that reach each other"
        );
        assert_eq!(decide(Policy::Never, &facts), None);
        assert_eq!(decide(Policy::Always, &same), Some(Reason::Policy));
    }

    #[test]
    fn auto_anchors_a_callee_registered_from_behind_nat() {
        let offer = sdp("127.0.0.1", "0 8");
        let facts = Facts {
            offer: Some(&offer),
            caller_source: Some(ip("127.0.0.1")),
            callees: vec![
                (ip("127.0.0.1"), ip("127.0.0.1")),
                (ip("192.168.1.20"), ip("203.0.113.9")),
            ],
            ..Facts::default()
        };
        assert_eq!(
            decide(Policy::Auto, &facts).unwrap().to_string(),
            "nat: sdp 192.168.1.20 != source 203.0.113.9"
        );
    }

    #[test]
    fn an_offer_without_g711_is_anchored_for_transcoding() {
        let offer = sdp("127.0.0.1", "9");
        let facts = Facts {
            offer: Some(&offer),
            caller_source: Some(ip("127.0.0.1")),
            ..Facts::default()
        };
        assert_eq!(decide(Policy::Auto, &facts), Some(Reason::Transcoding));
        let g711 = sdp("127.0.0.1", "9 0");
        assert_eq!(
            decide(
                Policy::Auto,
                &Facts {
                    offer: Some(&g711),
                    ..facts.clone()
                }
            ),
            None
        );
        // an offer with nothing the switch knows: transcoding could not help either
        let unknown = sdp("127.0.0.1", "18");
        assert!(!needs_transcoding(&unknown));
    }

    #[test]
    fn recording_wins_over_everything_and_the_plugin_over_the_policy() {
        let offer = sdp("10.0.0.7", "0");
        let facts = Facts {
            offer: Some(&offer),
            caller_source: Some(ip("198.51.100.4")),
            plugin: Some(false),
            record: true,
            ..Facts::default()
        };
        assert_eq!(decide(Policy::Never, &facts), Some(Reason::Recording));
        let off = Facts {
            record: false,
            ..facts.clone()
        };
        assert_eq!(decide(Policy::Always, &off), None, "the plugin said no");
        let on = Facts {
            plugin: Some(true),
            record: false,
            ..facts
        };
        assert_eq!(decide(Policy::Never, &on), Some(Reason::Plugin));
    }

    #[test]
    fn a_hold_address_is_no_nat() {
        let offer = sdp("0.0.0.0", "0");
        let facts = Facts {
            offer: Some(&offer),
            caller_source: Some(ip("198.51.100.4")),
            ..Facts::default()
        };
        assert_eq!(decide(Policy::Auto, &facts), None);
        assert_eq!(Policy::parse("always"), Some(Policy::Always));
        assert_eq!(Policy::parse("sometimes"), None);
    }
}
