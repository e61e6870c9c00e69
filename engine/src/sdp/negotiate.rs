//! The offer/answer model (RFC 3264 §5-8) for the switch's own media: answering an offer,
//! reading the answer to an offer we sent, making an offer, hold and resume.
//!
//! The switch speaks plain RTP (`RTP/AVP`, and `RTP/AVPF` read as AVP, RFC 4585 §5) on
//! unicast audio streams with the codecs of [`CodecPolicy`]; every other stream is rejected
//! with port 0. An answer names exactly one codec per accepted stream (plus telephone-event):
//! the media plane encodes and decodes one codec per stream, and RFC 3264 §6.1 lets the
//! answerer list a subset. Which codec is [`Preference`]'s choice, with the offerer's payload
//! type numbers kept. [`Negotiated`] is what the media plane needs for each accepted stream.
//!
//! Drive it with parsed bodies: [`answer`] an INVITE's offer (a [`NegotiationError`] becomes
//! a 488 with a Warning), or [`offer`] our own and [`accept_answer`] what comes back. The
//! caller owns the `o=` line: the same session id for the dialog, a version raised by one for
//! each changed description it sends ([`super::Origin::next_version`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::media::unused_dynamic_payload_type;
use super::{Attribute, Connection, Direction, Line, Media, MediaKind, Origin, Sdp};
use crate::media::{Codec, FRAME, TELEPHONE_EVENT};

/// The telephone events the switch receives: the DTMF digits 0-9, *, #, A-D, and flash
/// (RFC 4733 §3.2).
pub const DTMF_EVENTS: &str = "0-16";

/// Where the switch receives media, and how it would like the streams to flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalEndpoint {
    /// Our RTP address (the `c=` of what we send).
    pub address: IpAddr,
    /// Our RTP ports, one per audio stream, used in order (RTCP goes to the port plus one
    /// unless rtcp-mux is agreed). An offer with more audio streams than ports has the rest
    /// rejected.
    pub ports: Vec<u16>,
    /// Whether we can take RTCP on the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// What we want: `SendRecv`, or `SendOnly` to put the other side on hold.
    pub direction: Direction,
}

impl LocalEndpoint {
    /// One sendrecv audio stream on `address:port`, rtcp-mux supported.
    pub fn new(address: IpAddr, port: u16) -> LocalEndpoint {
        LocalEndpoint {
            address,
            ports: vec![port],
            rtcp_mux: true,
            direction: Direction::SendRecv,
        }
    }
}

/// Whose order picks the one codec of an answer (RFC 3264 §6.1 lets the answerer choose).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Preference {
    /// The first of [`CodecPolicy::codecs`] the offer has: wideband when both can, and the
    /// fewest transcodings across a call the switch anchors.
    Ours,
    /// The offer's first codec we accept.
    Offerer,
}

/// The codecs the switch accepts and offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecPolicy {
    /// The codecs we accept, in our preference order (also the order of our offers).
    pub codecs: Vec<Codec>,
    pub preference: Preference,
    /// The payload type of telephone-event/8000 in our offers (96 to 127), or `None` when we
    /// want no RFC 4733 events.
    pub telephone_event: Option<u8>,
    /// The `a=ptime` of our offers.
    pub ptime: Duration,
}

impl Default for CodecPolicy {
    /// G.722, then PCMU, then PCMA; telephone-event on 101; 20 ms.
    fn default() -> CodecPolicy {
        CodecPolicy {
            codecs: vec![Codec::G722, Codec::Pcmu, Codec::Pcma],
            preference: Preference::Ours,
            telephone_event: Some(101),
            ptime: FRAME,
        }
    }
}

/// One accepted audio stream: what the media plane needs to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The index of its `m=` line.
    pub index: usize,
    /// Where we send RTP.
    pub remote_rtp: SocketAddr,
    /// Where we send RTCP: the RTP address with rtcp-mux, else `a=rtcp`, else the port plus
    /// one.
    pub remote_rtcp: SocketAddr,
    /// RTCP shares the RTP ports on both sides (RFC 5761).
    pub rtcp_mux: bool,
    pub codec: Codec,
    /// Its payload type number: the offerer's in an answer we make, the answerer's in an
    /// answer we receive (the number RTP to the remote side carries).
    pub payload_type: u8,
    /// The number RTP from the remote side carries for `codec`: each side receives on the
    /// numbers of its own description (RFC 3264 §5.1, §6.1), so ours from our offer, which an
    /// answer that renumbers the codec does not change; `payload_type` in an answer we make.
    pub incoming_payload_type: u8,
    /// The telephone-event payload type, when both sides take RFC 4733 events.
    pub telephone_event: Option<u8>,
    /// The telephone-event number RTP from the remote side carries (as
    /// `incoming_payload_type`).
    pub incoming_telephone_event: Option<u8>,
    /// The packet duration the remote side wants (its `a=ptime`, else 20 ms).
    pub ptime: Duration,
    /// The direction from the switch's side: `SendOnly` means we send and do not receive.
    pub direction: Direction,
    /// The remote side has put the stream on hold: it sent sendonly or inactive, or the
    /// RFC 2543 form `c=0.0.0.0` (RFC 3264 §8.4).
    pub remote_hold: bool,
}

/// Our answer and its accepted streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub sdp: Sdp,
    pub streams: Vec<Negotiated>,
}

/// Why offer/answer failed. The text fits a Warning (RFC 3261 §20.43, code 304 or 305).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No audio stream could be accepted (answer 488 Not Acceptable Here).
    #[error("no audio stream with a codec in common")]
    NoCommonCodec,
    #[error("answer has {answered} media sections for {offered} offered")]
    MediaCount { offered: usize, answered: usize },
    #[error("answer media section {index} does not match the offered {what}")]
    Mismatch { index: usize, what: &'static str },
    #[error("answer media section {index} names none of the offered codecs")]
    NoOfferedCodec { index: usize },
    #[error("media section {index} has no connection address")]
    MissingConnection { index: usize },
}

/// Answers `offer` (RFC 3264 §6): each unicast RTP audio stream with a codec of `policy` is
/// accepted on the next of `local.ports`; every other stream is rejected with port 0 and its
/// format list kept. The answer's `t=` is the offer's.
pub fn answer(
    offer: &Sdp,
    local: &LocalEndpoint,
    policy: &CodecPolicy,
    origin: Origin,
) -> Result<Answer, NegotiationError> {
    let mut sdp = session(origin, local.address, offer.timing().unwrap_or("0 0"));
    let mut streams = Vec::new();
    let mut ports = local.ports.iter();
    for (index, m) in offer.media.iter().enumerate() {
        let choice = accepts(offer, m, policy).and_then(|c| Some((c, *ports.next()?)));
        let Some(((conn, choice), port)) = choice else {
            sdp.media.push(rejected(m));
            continue;
        };
        // a stream on hold the RFC 2543 way receives nothing
        let mut offered = offer.direction_of(m);
        if conn.is_unspecified() {
            offered = Direction::from_flags(offered.sends(), false);
        }
        let direction = Direction::answer(offered, local.direction);
        let rtcp_mux = m.rtcp_mux() && local.rtcp_mux;
        let mut media = Media::new(MediaKind::Audio, port, &m.proto, Vec::new());
        push_codec(&mut media, choice.payload_type, choice.codec);
        if let Some(pt) = choice.telephone_event {
            push_telephone_event(&mut media, pt, choice.codec.clock_rate());
        }
        if let Some(ptime) = m.ptime() {
            push(
                &mut media,
                Attribute::new("ptime", ptime.as_millis().to_string()),
            );
        }
        if rtcp_mux {
            push(&mut media, Attribute::flag("rtcp-mux"));
        }
        push(&mut media, Attribute::flag(direction.as_str()));
        sdp.media.push(media);
        streams.push(negotiated(
            index,
            conn.address,
            m,
            choice,
            direction,
            offered,
            rtcp_mux,
        ));
    }
    if streams.is_empty() {
        return Err(NegotiationError::NoCommonCodec);
    }
    Ok(Answer { sdp, streams })
}

/// Reads the answer to `our_offer` (RFC 3264 §7): as many `m=` lines of the same kinds, and
/// in each accepted audio stream a codec we offered (the first of the answer's list, which
/// may name others too, §6.1).
pub fn accept_answer(our_offer: &Sdp, answer: &Sdp) -> Result<Vec<Negotiated>, NegotiationError> {
    if our_offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCount {
            offered: our_offer.media.len(),
            answered: answer.media.len(),
        });
    }
    let mut streams = Vec::new();
    for (index, (ours, theirs)) in our_offer.media.iter().zip(&answer.media).enumerate() {
        let mismatch = |what| NegotiationError::Mismatch { index, what };
        if ours.kind != theirs.kind {
            return Err(mismatch("media type"));
        }
        if !ours.proto.eq_ignore_ascii_case(&theirs.proto) {
            return Err(mismatch("protocol"));
        }
        if !ours.is_audio() || ours.is_rejected() || theirs.is_rejected() || !theirs.is_rtp() {
            continue;
        }
        let conn = answer
            .connection_of(theirs)
            .ok_or(NegotiationError::MissingConnection { index })?;
        let (payload_type, codec) = theirs
            .codecs()
            .find(|(_, c)| ours.codecs().any(|(_, o)| o == *c))
            .ok_or(NegotiationError::NoOfferedCodec { index })?;
        let telephone_event = ours
            .telephone_events()
            .next()
            .and_then(|_| telephone_event(theirs, codec));
        // what the remote side sends: the numbers of our offer, whatever its answer calls
        // them (§6.1 only recommends it keep them)
        let incoming_payload_type = ours
            .codecs()
            .find(|(_, c)| *c == codec)
            .map_or(payload_type, |(pt, _)| pt);
        let incoming_telephone_event = telephone_event.and(self::telephone_event(ours, codec));
        let mut answered = answer.direction_of(theirs);
        if conn.is_unspecified() {
            answered = Direction::from_flags(answered.sends(), false);
        }
        let direction = Direction::answer(answered, our_offer.direction_of(ours));
        let choice = Choice {
            payload_type,
            codec,
            telephone_event,
            incoming_payload_type,
            incoming_telephone_event,
        };
        let rtcp_mux = ours.rtcp_mux() && theirs.rtcp_mux();
        streams.push(negotiated(
            index,
            conn.address,
            theirs,
            choice,
            direction,
            answered,
            rtcp_mux,
        ));
    }
    if streams.is_empty() {
        return Err(NegotiationError::NoCommonCodec);
    }
    Ok(streams)
}

/// Our offer (RFC 3264 §5): one `RTP/AVP` audio stream per port of `local`, the codecs of
/// `policy` in its order (static payload types where RFC 3551 has one, else dynamic from
/// 96), telephone-event with `0-16` on the policy's payload type (and a dynamic one for each
/// other clock rate), `a=ptime`, the direction and, if we support it, `a=rtcp-mux`.
pub fn offer(local: &LocalEndpoint, policy: &CodecPolicy, origin: Origin) -> Sdp {
    let mut sdp = session(origin, local.address, "0 0");
    for &port in &local.ports {
        let mut m = Media::new(MediaKind::Audio, port, "RTP/AVP", Vec::new());
        let mut taken: Vec<u8> = policy.telephone_event.into_iter().collect();
        let mut clocks = Vec::new();
        for &codec in &policy.codecs {
            let pt = codec
                .static_payload_type()
                .filter(|pt| !taken.contains(pt))
                .or_else(|| unused_dynamic_payload_type(|pt| taken.contains(&pt)));
            let Some(pt) = pt.filter(|_| !m.codecs().any(|(_, c)| c == codec)) else {
                continue;
            };
            taken.push(pt);
            push_codec(&mut m, pt, codec);
            if !clocks.contains(&codec.clock_rate()) {
                clocks.push(codec.clock_rate());
            }
        }
        if let Some(te) = policy.telephone_event {
            for &clock in &clocks {
                let pt = if clock == 8_000 && !m.payload_types().any(|pt| pt == te) {
                    Some(te)
                } else {
                    unused_dynamic_payload_type(|pt| taken.contains(&pt))
                };
                if let Some(pt) = pt {
                    taken.push(pt);
                    push_telephone_event(&mut m, pt, clock);
                }
            }
        }
        push(
            &mut m,
            Attribute::new("ptime", policy.ptime.as_millis().to_string()),
        );
        if local.rtcp_mux {
            push(&mut m, Attribute::flag("rtcp-mux"));
        }
        push(&mut m, Attribute::flag(local.direction.as_str()));
        sdp.media.push(m);
    }
    sdp
}

/// Whether `sdp` puts the call on hold (RFC 3264 §8.4): it has audio streams in use and
/// none of them wants to receive, by sendonly, inactive or the RFC 2543 `c=0.0.0.0`.
/// An offer that is not a hold after one that was resumes the call.
pub fn is_hold(sdp: &Sdp) -> bool {
    let mut audio = sdp
        .media
        .iter()
        .filter(|m| m.is_audio() && !m.is_rejected())
        .peekable();
    audio.peek().is_some() && audio.all(|m| is_stream_on_hold(sdp, m))
}

/// Whether the side that wrote `sdp` does not want to receive `media`.
pub fn is_stream_on_hold(sdp: &Sdp, media: &Media) -> bool {
    !sdp.direction_of(media).receives()
        || sdp
            .connection_of(media)
            .is_some_and(Connection::is_unspecified)
}

#[derive(Copy, Clone, Debug)]
struct Choice {
    payload_type: u8,
    codec: Codec,
    telephone_event: Option<u8>,
    /// The numbers the remote side sends with (see [`Negotiated::incoming_payload_type`]).
    incoming_payload_type: u8,
    incoming_telephone_event: Option<u8>,
}

/// The connection and codec we would accept `m` with, if we accept it at all.
fn accepts<'a>(
    offer: &'a Sdp,
    m: &'a Media,
    policy: &CodecPolicy,
) -> Option<(&'a Connection, Choice)> {
    let plain_rtp = ["RTP/AVP", "RTP/AVPF"]
        .iter()
        .any(|p| m.proto.eq_ignore_ascii_case(p));
    if !m.is_audio() || m.is_rejected() || !plain_rtp {
        return None;
    }
    // multicast has its own rules (§6.2) and no place in a switch
    let conn = offer
        .connection_of(m)
        .filter(|c| c.multicast.is_none() && !c.address.is_multicast())?;
    let mut ours = m.codecs().filter_map(|(pt, c)| {
        let rank = policy.codecs.iter().position(|&p| p == c)?;
        Some((rank, pt, c))
    });
    let (_, payload_type, codec) = match policy.preference {
        // the first of equal ranks is the offerer's preferred number for that codec
        Preference::Ours => ours.min_by_key(|&(rank, ..)| rank),
        Preference::Offerer => ours.next(),
    }?;
    let telephone_event = policy
        .telephone_event
        .and_then(|_| telephone_event(m, codec));
    Some((
        conn,
        Choice {
            payload_type,
            codec,
            telephone_event,
            // the offerer sends with the numbers of our answer: its own
            incoming_payload_type: payload_type,
            incoming_telephone_event: telephone_event,
        },
    ))
}

/// The telephone-event payload type of `m` on the clock of `codec` (RFC 4733 §2.1).
fn telephone_event(m: &Media, codec: Codec) -> Option<u8> {
    m.telephone_events()
        .find(|te| te.clock_rate == codec.clock_rate())
        .map(|te| te.payload_type)
}

fn negotiated(
    index: usize,
    address: IpAddr,
    remote: &Media,
    choice: Choice,
    direction: Direction,
    remote_direction: Direction,
    rtcp_mux: bool,
) -> Negotiated {
    let remote_rtp = SocketAddr::new(address, remote.port);
    let remote_rtcp = match remote.rtcp() {
        _ if rtcp_mux => remote_rtp,
        Some(rtcp) => SocketAddr::new(rtcp.address.unwrap_or(address), rtcp.port),
        None => SocketAddr::new(address, remote.port.saturating_add(1)),
    };
    Negotiated {
        index,
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        codec: choice.codec,
        payload_type: choice.payload_type,
        incoming_payload_type: choice.incoming_payload_type,
        telephone_event: choice.telephone_event,
        incoming_telephone_event: choice.incoming_telephone_event,
        ptime: remote.ptime().unwrap_or(FRAME),
        direction,
        remote_hold: !remote_direction.receives(),
    }
}

/// `v=0`, `o=`, `s=-`, `c=` and `t=` of a description we write.
fn session(origin: Origin, address: IpAddr, timing: &str) -> Sdp {
    Sdp {
        origin,
        session_name: Some("-".to_owned()),
        lines: vec![
            Line::Connection(Connection::new(address)),
            Line::Other {
                kind: b't',
                value: timing.to_owned(),
            },
        ],
        media: Vec::new(),
    }
}

/// A rejected stream (RFC 3264 §6): port 0, the offered formats.
fn rejected(offered: &Media) -> Media {
    Media::new(
        offered.kind.clone(),
        0,
        &offered.proto,
        offered.formats.clone(),
    )
}

fn push(m: &mut Media, attribute: Attribute) {
    m.lines.push(Line::Attribute(attribute));
}

/// A format and its rtpmap (written for static types too, as RFC 3264 §6.1 advises).
fn push_codec(m: &mut Media, pt: u8, codec: Codec) {
    m.formats.push(pt.to_string());
    let map = format!("{pt} {}/{}", codec.rtpmap_name(), codec.clock_rate());
    push(m, Attribute::new("rtpmap", map));
}

fn push_telephone_event(m: &mut Media, pt: u8, clock: u32) {
    m.formats.push(pt.to_string());
    push(
        m,
        Attribute::new("rtpmap", format!("{pt} {TELEPHONE_EVENT}/{clock}")),
    );
    push(m, Attribute::new("fmtp", format!("{pt} {DTMF_EVENTS}")));
}

#[cfg(test)]
mod tests;
