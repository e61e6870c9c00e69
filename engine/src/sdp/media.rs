//! A media section (`m=` and the lines up to the next `m=`) and its typed accessors: rtpmap,
//! fmtp, ptime, direction, rtcp-mux and `a=rtcp`, the codecs the switch understands and the
//! telephone events (RFC 4733) it offers.
//!
//! Accessors parse attribute values when asked and skip those they cannot read.

use std::net::IpAddr;
use std::time::Duration;

use super::{Attribute, Connection, Line};
use crate::media::{Codec, TELEPHONE_EVENT};

/// A media section: `m=<kind> <port>[/<count>] <proto> <format>...` and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    /// Port 0 rejects or disables the stream (RFC 3264 §6, §8.2).
    pub port: u16,
    /// The `/<count>` of `m=audio 49170/2 ...` (RFC 8866 §5.14).
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/AVPF`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udptl`, ... verbatim.
    pub proto: String,
    /// The formats, in the sender's preference order: payload type numbers (0 to 127) when
    /// the protocol is RTP.
    pub formats: Vec<String>,
    /// The lines after `m=`, in their order.
    pub lines: Vec<Line>,
}

/// The media type of an `m=` line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
    Text,
    Application,
    Message,
    Image,
    Other(String),
}

impl MediaKind {
    /// Media types compare without case.
    pub fn from_token(token: &str) -> MediaKind {
        const KNOWN: [(&str, MediaKind); 6] = [
            ("audio", MediaKind::Audio),
            ("video", MediaKind::Video),
            ("text", MediaKind::Text),
            ("application", MediaKind::Application),
            ("message", MediaKind::Message),
            ("image", MediaKind::Image),
        ];
        KNOWN
            .into_iter()
            .find(|(name, _)| token.eq_ignore_ascii_case(name))
            .map(|(_, kind)| kind)
            .unwrap_or_else(|| MediaKind::Other(token.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Text => "text",
            MediaKind::Application => "application",
            MediaKind::Message => "message",
            MediaKind::Image => "image",
            MediaKind::Other(s) => s,
        }
    }
}

/// The direction of a stream (RFC 8866 §6.7), from the point of view of the side whose
/// description it is: `SendOnly` in a phone's offer means the phone sends and does not
/// receive (RFC 3264 §5.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side: sendonly becomes recvonly.
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// The direction to answer an `offered` stream with when we would like `wanted`
    /// (RFC 3264 §6.1): we send only if the offerer receives, receive only if it sends.
    /// sendonly is answered recvonly, recvonly sendonly, inactive inactive; sendrecv gets
    /// what we want.
    pub fn answer(offered: Direction, wanted: Direction) -> Direction {
        Direction::from_flags(
            offered.receives() && wanted.sends(),
            offered.sends() && wanted.receives(),
        )
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an attribute states, if it is one of the four.
    pub fn of(attribute: &Attribute) -> Option<Direction> {
        if attribute.value.is_some() {
            return None;
        }
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| attribute.is(d.as_str()))
    }
}

/// An `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` (RFC 8866 §6.6).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtpMap<'a> {
    pub payload_type: u8,
    pub encoding: &'a str,
    pub clock_rate: u32,
    /// 1 unless the rtpmap says otherwise.
    pub channels: u8,
}

impl RtpMap<'_> {
    fn parse(value: &str) -> Option<RtpMap<'_>> {
        let (pt, rest) = value.trim().split_once(' ')?;
        let mut parts = rest.trim_start().split('/');
        let encoding = parts.next().filter(|e| !e.is_empty())?;
        let clock_rate = parts.next()?.trim().parse().ok()?;
        let channels = match parts.next() {
            Some(c) => c.trim().parse().ok()?,
            None => 1,
        };
        Some(RtpMap {
            payload_type: payload_type(pt)?,
            encoding,
            clock_rate,
            channels,
        })
    }

    /// The codec it names, if the media plane handles it.
    pub fn codec(&self) -> Option<Codec> {
        Codec::from_rtpmap(self.encoding, self.clock_rate, self.channels)
    }

    pub fn is_telephone_event(&self) -> bool {
        self.encoding.eq_ignore_ascii_case(TELEPHONE_EVENT)
    }
}

/// A telephone-event format (RFC 4733 §7.1.1) of a media section.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TelephoneEvent<'a> {
    pub payload_type: u8,
    /// Matches the clock of the audio codec it goes with (RFC 4733 §2.1).
    pub clock_rate: u32,
    /// Its fmtp, the events the sender can receive (`0-16`); none means 0-15 (§2.4.1).
    pub events: Option<&'a str>,
}

/// An `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605): where RTCP goes when it is not the RTP
/// port plus one.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub address: Option<IpAddr>,
}

impl Rtcp {
    fn parse(value: &str) -> Option<Rtcp> {
        let mut tokens = value.split_ascii_whitespace();
        let port = tokens.next()?.parse().ok()?;
        let address = match (tokens.next(), tokens.next(), tokens.next()) {
            (None, ..) => None,
            (Some(_in), Some(_family), Some(addr)) => Some(addr.parse().ok()?),
            _ => return None,
        };
        Some(Rtcp { port, address })
    }
}

/// A payload type number: 0 to 127 (RFC 3550 §5.1 has seven bits for it).
pub(super) fn payload_type(token: &str) -> Option<u8> {
    token.parse::<u8>().ok().filter(|&pt| pt <= 127)
}

/// The lowest dynamic payload type (96 to 127, RFC 3551 §6) that `taken` does not claim.
pub(super) fn unused_dynamic_payload_type(taken: impl Fn(u8) -> bool) -> Option<u8> {
    (96..=127).find(|&pt| !taken(pt))
}

impl Media {
    /// An `m=` line with no lines under it.
    pub fn new(kind: MediaKind, port: u16, proto: &str, formats: Vec<String>) -> Media {
        Media {
            kind,
            port,
            port_count: None,
            proto: proto.to_owned(),
            formats,
            lines: Vec::new(),
        }
    }

    /// Whether the stream is SRTP (`RTP/SAVP`, `RTP/SAVPF`, RFC 3711 §12, RFC 5124).
    pub fn is_savp(&self) -> bool {
        super::crypto::is_savp(&self.proto)
    }

    /// Its `a=crypto` lines that parse (RFC 4568), in order; malformed ones are skipped.
    pub fn cryptos(&self) -> impl Iterator<Item = super::crypto::Crypto> + '_ {
        self.attributes()
            .filter(|a| a.is("crypto"))
            .filter_map(|a| super::crypto::Crypto::parse(a.value.as_deref()?).ok())
    }

    pub fn is_audio(&self) -> bool {
        self.kind == MediaKind::Audio
    }

    /// Whether the formats are RTP payload types (`RTP/AVP`, `RTP/SAVPF`,
    /// `UDP/TLS/RTP/SAVPF`, ...).
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(&self.proto)
    }

    /// Port 0: rejected in an answer, disabled in an offer.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> + '_ {
        self.lines.iter().filter_map(Line::attribute)
    }

    /// The value of the first attribute called `name` (empty for a flag).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes()
            .find(|a| a.is(name))
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes().any(|a| a.is(name))
    }

    /// The media-level `c=` line.
    pub fn connection(&self) -> Option<&Connection> {
        self.lines.iter().find_map(|l| match l {
            Line::Connection(c) => Some(c),
            _ => None,
        })
    }

    /// The media-level direction attribute (see [`super::Sdp::direction_of`] for the
    /// effective one).
    pub fn direction(&self) -> Option<Direction> {
        self.attributes().find_map(Direction::of)
    }

    /// The payload types, in the sender's preference order (none unless the protocol is RTP).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        let rtp = self.is_rtp();
        self.formats
            .iter()
            .filter(move |_| rtp)
            .filter_map(|f| payload_type(f))
    }

    /// Every readable rtpmap, in order.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'_>> + '_ {
        self.values("rtpmap").filter_map(RtpMap::parse)
    }

    /// The (first readable) rtpmap of a payload type.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'_>> {
        self.values("rtpmap")
            .filter(|v| leading_payload_type(v).0 == Some(pt))
            .find_map(RtpMap::parse)
    }

    /// The format parameters of a payload type: what follows `a=fmtp:<pt> `.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.values("fmtp").find_map(|v| {
            let (p, params) = leading_payload_type(v);
            (p == Some(pt)).then(|| params.trim())
        })
    }

    /// `a=ptime`: the packet duration the sender wants to receive.
    pub fn ptime(&self) -> Option<Duration> {
        self.attribute("ptime").and_then(millis)
    }

    /// `a=maxptime`: the longest packet the sender can receive.
    pub fn maxptime(&self) -> Option<Duration> {
        self.attribute("maxptime").and_then(millis)
    }

    /// `a=rtcp-mux`: RTCP on the RTP port (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// `a=rtcp`, if present and readable.
    pub fn rtcp(&self) -> Option<Rtcp> {
        self.attribute("rtcp").and_then(Rtcp::parse)
    }

    /// The codec a payload type stands for: its rtpmap if it has one, else the static
    /// assignment of RFC 3551 (an rtpmap the media plane cannot handle gives none).
    pub fn codec(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap(pt) {
            Some(map) => map.codec(),
            None => Codec::from_static_payload_type(pt),
        }
    }

    /// The offered formats the media plane can handle, in the sender's preference order.
    pub fn codecs(&self) -> impl Iterator<Item = (u8, Codec)> + '_ {
        self.payload_types()
            .filter_map(|pt| self.codec(pt).map(|c| (pt, c)))
    }

    /// The telephone-event formats, in format order.
    pub fn telephone_events(&self) -> impl Iterator<Item = TelephoneEvent<'_>> + '_ {
        self.payload_types().filter_map(|pt| {
            let map = self.rtpmap(pt).filter(RtpMap::is_telephone_event)?;
            Some(TelephoneEvent {
                payload_type: pt,
                clock_rate: map.clock_rate,
                events: self.fmtp(pt),
            })
        })
    }

    /// The values of the attributes called `name`.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes()
            .filter(move |a| a.is(name))
            .filter_map(|a| a.value.as_deref())
    }
}

/// The payload type an rtpmap or fmtp value starts with, and the rest of the value.
fn leading_payload_type(value: &str) -> (Option<u8>, &str) {
    let value = value.trim_start();
    let (pt, rest) = value.split_once(' ').unwrap_or((value, ""));
    (payload_type(pt), rest)
}

pub(super) fn is_rtp_proto(proto: &str) -> bool {
    proto
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"RTP/"))
}

/// Milliseconds, as `20` or `20.0` (a fraction is dropped).
fn millis(value: &str) -> Option<Duration> {
    let whole = value.trim().split('.').next()?;
    whole.parse().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::SampleRate;
    use crate::sdp::Sdp;

    fn media(body: &str) -> Media {
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{body}"
        );
        Sdp::parse(sdp.as_bytes()).unwrap().media.remove(0)
    }

    #[test]
    fn codecs_resolve_rtpmaps_and_static_payload_types_in_offer_order() {
        let m = media(
            "m=audio 4000 RTP/AVP 96 9 0 18 97 8\r\n\
             a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 L16/16000\r\n\
             a=rtpmap:18 G729/8000\r\n",
        );
        let codecs: Vec<_> = m.codecs().collect();
        assert_eq!(
            codecs,
            [
                (9, Codec::G722),
                (0, Codec::Pcmu),
                (97, Codec::L16(SampleRate::WIDE)),
                (8, Codec::Pcma)
            ]
        );
        assert_eq!(m.rtpmap(96).map(|r| r.channels), Some(2));
        assert_eq!(m.codec(18), None, "G.729 is not a codec of the media plane");
    }

    #[test]
    fn an_rtpmap_overrides_the_static_meaning_of_its_number() {
        let m = media("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMA/8000\r\n");
        assert_eq!(m.codec(0), Some(Codec::Pcma));
    }

    #[test]
    fn unreadable_attributes_are_skipped_not_errors() {
        let m = media(
            "m=audio 4000 RTP/AVP 0 31\r\na=rtpmap:31 LPC\r\na=rtpmap:x PCMU/8000\r\n\
             a=ptime:twenty\r\na=rtcp:abc\r\n",
        );
        assert_eq!(m.rtpmaps().count(), 0);
        assert_eq!(m.ptime(), None);
        assert_eq!(m.rtcp(), None);
        assert_eq!(m.codecs().collect::<Vec<_>>(), [(0, Codec::Pcmu)]);
    }

    #[test]
    fn telephone_events_carry_their_clock_and_events() {
        let m = media(
            "m=audio 4000 RTP/AVP 0 96 101\r\na=rtpmap:96 telephone-event/16000\r\n\
             a=rtpmap:101 Telephone-Event/8000\r\na=fmtp:101 0-16\r\n",
        );
        let te: Vec<_> = m.telephone_events().collect();
        assert_eq!(te.len(), 2);
        assert_eq!(
            (te[0].payload_type, te[0].clock_rate, te[0].events),
            (96, 16000, None)
        );
        assert_eq!(
            (te[1].payload_type, te[1].clock_rate, te[1].events),
            (101, 8000, Some("0-16"))
        );
    }

    #[test]
    fn ptime_rtcp_and_mux_are_read_from_their_attributes() {
        let m = media(
            "m=audio 4000 RTP/AVP 0\r\na=ptime:30\r\na=maxptime:40.0\r\na=rtcp-mux\r\n\
             a=rtcp:4005 IN IP6 2001:db8::5\r\n",
        );
        assert_eq!(m.ptime(), Some(Duration::from_millis(30)));
        assert_eq!(m.maxptime(), Some(Duration::from_millis(40)));
        assert!(m.rtcp_mux());
        assert_eq!(
            m.rtcp(),
            Some(Rtcp {
                port: 4005,
                address: Some("2001:db8::5".parse().unwrap())
            })
        );
    }

    #[test]
    fn formats_of_a_protocol_other_than_rtp_are_not_payload_types() {
        let m = media("m=image 4000 udptl t38\r\n");
        assert!(!m.is_rtp());
        assert_eq!(m.payload_types().count(), 0);
        assert_eq!(m.formats, ["t38"]);
    }

    #[test]
    fn the_answer_direction_follows_rfc_3264_section_6_1() {
        use Direction::*;
        for (offered, wanted, answered) in [
            (SendRecv, SendRecv, SendRecv),
            (SendOnly, SendRecv, RecvOnly),
            (RecvOnly, SendRecv, SendOnly),
            (Inactive, SendRecv, Inactive),
            (SendRecv, SendOnly, SendOnly),
            (SendOnly, SendOnly, Inactive),
        ] {
            assert_eq!(
                Direction::answer(offered, wanted),
                answered,
                "{offered:?} {wanted:?}"
            );
        }
        assert_eq!(SendOnly.reversed(), RecvOnly);
        assert_eq!(Direction::of(&Attribute::flag("sendRecv")), Some(SendRecv));
        assert_eq!(Direction::of(&Attribute::new("sendrecv", "x")), None);
    }
}
