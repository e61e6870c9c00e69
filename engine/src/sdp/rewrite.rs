//! Rewriting a description that passes through the switch so its audio flows through the
//! media relay, the way rtpengine rewrites SDP for Kamailio.
//!
//! [`rewrite_endpoints`] points every audio stream in use ([`relayed`]) at a relay port:
//! `c=` and the `m=` port become ours, `a=rtcp` follows our RTCP port, rtcp-mux stays only
//! if the relay muxes, ICE attributes go (the switch is the endpoint now), and the `o=`
//! version goes up by one. Since the relay adds one to whatever version the sender wrote, an
//! unchanged description stays unchanged and a changed one changes, as RFC 3264 §8
//! requires. Other streams keep where they were going (a video stream that used the
//! session's `c=` gets a copy of it) and everything the switch does not understand passes
//! through. [`restrict_codecs`] and [`replace_codecs`] edit the codec lists of the relayed
//! streams, for a relay that transcodes.

use std::net::IpAddr;

use super::media::unused_dynamic_payload_type;
use super::{Attribute, Connection, Line, Media, Sdp};
use crate::media::Codec;

/// The relay's ports for one audio stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RelayPort {
    pub rtp: u16,
    pub rtcp: u16,
    /// Whether the relay takes RTCP on the RTP port when the sender offers rtcp-mux.
    pub rtcp_mux: bool,
}

impl RelayPort {
    /// RTP on `rtp`, RTCP on the next port (RFC 3550 §11), rtcp-mux kept.
    pub fn new(rtp: u16) -> RelayPort {
        RelayPort {
            rtp,
            rtcp: rtp.saturating_add(1),
            rtcp_mux: true,
        }
    }
}

/// Why a rewrite was refused; the description is left unchanged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RewriteError {
    #[error("{needed} relayed audio streams but {given} relay ports")]
    PortCount { needed: usize, given: usize },
    #[error("media section {index} would keep no codec")]
    NoCodecLeft { index: usize },
}

/// The indexes of the streams the relay carries: audio with a port other than 0.
pub fn relayed(sdp: &Sdp) -> impl Iterator<Item = usize> + '_ {
    sdp.media
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_audio() && !m.is_rejected())
        .map(|(i, _)| i)
}

/// Points the relayed streams of `sdp` at `address` and `ports` (one per [`relayed`]
/// stream, in order) and raises the `o=` version.
pub fn rewrite_endpoints(
    sdp: &mut Sdp,
    ports: &[RelayPort],
    address: IpAddr,
) -> Result<(), RewriteError> {
    let relayed: Vec<usize> = relayed(sdp).collect();
    if relayed.len() != ports.len() {
        return Err(RewriteError::PortCount {
            needed: relayed.len(),
            given: ports.len(),
        });
    }
    let ours = Connection::new(address);
    if let Some(theirs) = sdp.connection().cloned() {
        for (i, m) in sdp.media.iter_mut().enumerate() {
            if !relayed.contains(&i) && !m.is_rejected() && m.connection().is_none() {
                // RFC 8866 §5.7: c= comes after i= in a media section
                let at = m
                    .lines
                    .iter()
                    .position(|l| !matches!(l, Line::Other { kind: b'i', .. }))
                    .unwrap_or(m.lines.len());
                m.lines.insert(at, Line::Connection(theirs.clone()));
            }
        }
        set_connection(&mut sdp.lines, &ours);
    }
    for (&i, port) in relayed.iter().zip(ports) {
        let m = &mut sdp.media[i];
        m.port = port.rtp;
        if m.connection().is_some() || sdp.lines.iter().all(|l| !is_connection(l)) {
            set_connection(&mut m.lines, &ours);
        }
        m.lines.retain(|l| !l.attribute().is_some_and(is_ice));
        if !port.rtcp_mux {
            m.lines
                .retain(|l| !l.attribute().is_some_and(|a| a.is("rtcp-mux")));
        }
        set_rtcp(m, port, address);
    }
    // session-level ICE (ice-lite, credentials) goes when no stream of ours keeps ICE
    if sdp
        .media
        .iter()
        .enumerate()
        .all(|(i, m)| m.is_rejected() || relayed.contains(&i))
    {
        sdp.lines.retain(|l| !l.attribute().is_some_and(is_ice));
    }
    sdp.origin.version = sdp.origin.version.wrapping_add(1);
    Ok(())
}

/// Keeps only `codecs` in the relayed streams, in that order, with the payload types the
/// sender gave them and the telephone events on their clocks. Formats that go take their
/// rtpmap, fmtp and rtcp-fb lines with them.
pub fn restrict_codecs(sdp: &mut Sdp, codecs: &[Codec]) -> Result<(), RewriteError> {
    edit_codecs(sdp, codecs, false)
}

/// Lists exactly `codecs` in the relayed streams, in that order: the sender's payload type
/// where it offered the codec, else the static one, else an unused dynamic one with an
/// rtpmap (what a transcoding relay offers the other side), then the telephone events on
/// their clocks.
pub fn replace_codecs(sdp: &mut Sdp, codecs: &[Codec]) -> Result<(), RewriteError> {
    edit_codecs(sdp, codecs, true)
}

fn edit_codecs(sdp: &mut Sdp, codecs: &[Codec], add: bool) -> Result<(), RewriteError> {
    let relayed: Vec<usize> = relayed(sdp).filter(|&i| sdp.media[i].is_rtp()).collect();
    // check every stream before changing any
    for &index in &relayed {
        let m = &sdp.media[index];
        let keeps = if add {
            !codecs.is_empty()
        } else {
            m.codecs().any(|(_, c)| codecs.contains(&c))
        };
        if !keeps {
            return Err(RewriteError::NoCodecLeft { index });
        }
    }
    for index in relayed {
        edit_media(&mut sdp.media[index], codecs, add);
    }
    Ok(())
}

fn edit_media(m: &mut Media, codecs: &[Codec], add: bool) {
    let offered: Vec<(u8, Codec)> = m.codecs().collect();
    let mut taken: Vec<u8> = m.payload_types().collect();
    let mut keep: Vec<u8> = Vec::new();
    let mut added: Vec<(u8, Codec)> = Vec::new();
    let mut clocks: Vec<u32> = Vec::new();
    for &codec in codecs {
        let pt = match offered.iter().find(|&&(_, c)| c == codec) {
            Some(&(pt, _)) => Some(pt),
            None if add => {
                let pt = codec
                    .static_payload_type()
                    .filter(|pt| !taken.contains(pt))
                    .or_else(|| unused_dynamic_payload_type(|pt| taken.contains(&pt)));
                if let Some(pt) = pt {
                    taken.push(pt);
                    added.push((pt, codec));
                }
                pt
            }
            None => None,
        };
        if let Some(pt) = pt.filter(|pt| !keep.contains(pt)) {
            keep.push(pt);
            clocks.push(codec.clock_rate());
        }
    }
    keep.extend(
        m.telephone_events()
            .filter(|te| clocks.contains(&te.clock_rate))
            .map(|te| te.payload_type),
    );
    m.formats = keep.iter().map(u8::to_string).collect();
    m.lines.retain(|l| match l.attribute() {
        Some(a) if ["rtpmap", "fmtp", "rtcp-fb"].iter().any(|n| a.is(n)) => {
            let pt = a.value.as_deref().and_then(|v| v.split(' ').next());
            // `a=rtcp-fb:*` and unreadable values stay
            pt.and_then(|p| p.parse::<u8>().ok())
                .is_none_or(|pt| keep.contains(&pt))
        }
        _ => true,
    });
    let at = m
        .lines
        .iter()
        .rposition(|l| {
            l.attribute()
                .is_some_and(|a| a.is("rtpmap") || a.is("fmtp"))
        })
        .map_or(m.lines.len(), |i| i + 1);
    for (n, (pt, codec)) in added.into_iter().enumerate() {
        let map = format!("{pt} {}/{}", codec.rtpmap_name(), codec.clock_rate());
        m.lines
            .insert(at + n, Line::Attribute(Attribute::new("rtpmap", map)));
    }
}

/// ICE attributes (RFC 8839 §5): candidates and everything `ice-`.
fn is_ice(a: &Attribute) -> bool {
    ["candidate", "remote-candidates", "end-of-candidates"]
        .iter()
        .any(|n| a.is(n))
        || a.name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("ice-"))
}

fn is_connection(line: &Line) -> bool {
    matches!(line, Line::Connection(_))
}

/// Replaces the `c=` of a section, or adds one before its first `b=`, `t=` or `a=` line.
fn set_connection(lines: &mut Vec<Line>, ours: &Connection) {
    if let Some(c) = lines.iter_mut().find(|l| is_connection(l)) {
        *c = Line::Connection(ours.clone());
        return;
    }
    let at = lines
        .iter()
        .position(|l| match l {
            Line::Other { kind, .. } => b"tbrzka".contains(kind),
            _ => true,
        })
        .unwrap_or(lines.len());
    lines.insert(at, Line::Connection(ours.clone()));
}

/// `a=rtcp` follows our RTCP port (with our address if it named one), and is added when our
/// RTCP port is not the RTP port plus one (RFC 3605).
fn set_rtcp(m: &mut Media, port: &RelayPort, address: IpAddr) {
    let existing = m
        .lines
        .iter()
        .position(|l| l.attribute().is_some_and(|a| a.is("rtcp")));
    let named_address = existing
        .and_then(|i| m.lines[i].attribute())
        .and_then(|a| a.value.as_deref())
        .is_some_and(|v| v.split_ascii_whitespace().nth(1).is_some());
    let value = if named_address {
        let family = super::AddrType::of(address).as_str();
        format!("{} IN {family} {address}", port.rtcp)
    } else {
        port.rtcp.to_string()
    };
    let line = Line::Attribute(Attribute::new("rtcp", value));
    match existing {
        Some(i) => m.lines[i] = line,
        None if port.rtcp != port.rtp.wrapping_add(1) => m.lines.push(line),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::SampleRate;
    use crate::sdp::samples;

    fn parse(text: &str) -> Sdp {
        Sdp::parse(text.as_bytes()).unwrap()
    }

    fn relay() -> IpAddr {
        "203.0.113.1".parse().unwrap()
    }

    fn attrs<'a>(m: &'a Media, name: &'a str) -> Vec<&'a str> {
        m.attributes()
            .filter(|a| a.is(name))
            .map(|a| a.value.as_deref().unwrap_or(""))
            .collect()
    }

    #[test]
    fn endpoints_point_at_the_relay_and_ice_goes() {
        let mut sdp = parse(samples::LINPHONE);
        rewrite_endpoints(&mut sdp, &[RelayPort::new(30000)], relay()).unwrap();
        assert_eq!(sdp.connection(), Some(&Connection::new(relay())));
        let m = &sdp.media[0];
        assert_eq!(m.port, 30000);
        assert_eq!(attrs(m, "rtcp"), ["30001"]);
        assert!(m.attributes().all(|a| !is_ice(a)), "candidates removed");
        assert!(
            sdp.attributes().all(|a| !is_ice(a)),
            "session credentials removed"
        );
        assert_eq!(
            attrs(m, "rtcp-fb"),
            ["* trr-int 1000", "* ccm tmmbr"],
            "unknown kept"
        );
        assert_eq!(
            sdp.attributes()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>(),
            ["rtcp-xr", "record"]
        );
        assert_eq!(sdp.origin.version, 1784);
        assert_eq!(sdp.origin.session_id, "3047");
        assert_eq!(parse(&sdp.to_string()), sdp);
    }

    #[test]
    fn the_relayed_description_writes_as_expected() {
        let mut sdp = parse(samples::IPV6);
        let ours: IpAddr = "2001:db8::1".parse().unwrap();
        rewrite_endpoints(&mut sdp, &[RelayPort::new(40000)], ours).unwrap();
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=bob 2890844730 2890844732 IN IP6 2001:db8::10\r\ns=-\r\n\
             c=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\n\
             a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
             a=rtcp:40001 IN IP6 2001:db8::1\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn a_stream_not_relayed_keeps_its_old_connection() {
        let mut sdp = parse(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\ni=camera\r\nb=AS:512\r\n\
             a=rtpmap:96 VP8/90000\r\nm=audio 0 RTP/AVP 0\r\n",
        );
        rewrite_endpoints(&mut sdp, &[RelayPort::new(30000)], relay()).unwrap();
        let video = &sdp.media[1];
        assert_eq!(video.port, 4002);
        assert_eq!(
            video.lines[1],
            Line::Connection(Connection::new("198.51.100.20".parse().unwrap()))
        );
        assert_eq!(sdp.connection_of(&sdp.media[0]).unwrap().address, relay());
        assert!(sdp.media[2].is_rejected() && sdp.media[2].lines.is_empty());
        assert_eq!(parse(&sdp.to_string()), sdp);
    }

    #[test]
    fn media_level_connections_of_relayed_streams_are_replaced() {
        let mut sdp = parse(samples::WEBRTC);
        let ports = [RelayPort {
            rtp: 30000,
            rtcp: 30000,
            rtcp_mux: true,
        }];
        rewrite_endpoints(&mut sdp, &ports, relay()).unwrap();
        let (audio, video) = (&sdp.media[0], &sdp.media[1]);
        assert_eq!(sdp.connection(), None);
        assert_eq!(audio.connection().unwrap().address, relay());
        assert!(audio.rtcp_mux());
        assert_eq!(attrs(audio, "rtcp"), ["30000 IN IP4 203.0.113.1"]);
        assert!(audio.attributes().all(|a| !is_ice(a)));
        assert_eq!(attrs(audio, "fingerprint").len(), 1, "not ICE: kept");
        assert_eq!(attrs(video, "ice-ufrag"), ["EsAw"], "video is not relayed");
        assert!(video.connection().unwrap().is_unspecified());
    }

    #[test]
    fn a_relay_without_mux_removes_it_and_names_a_distant_rtcp_port() {
        let mut sdp = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\na=x-vendor:1\r\n",
        );
        let port = RelayPort {
            rtp: 30000,
            rtcp: 30011,
            rtcp_mux: false,
        };
        rewrite_endpoints(&mut sdp, &[port], relay()).unwrap();
        let m = &sdp.media[0];
        assert!(!m.rtcp_mux());
        assert_eq!(attrs(m, "rtcp"), ["30011"]);
        assert_eq!(attrs(m, "x-vendor"), ["1"]);
    }

    #[test]
    fn the_number_of_relay_ports_must_match_the_relayed_streams() {
        let mut sdp = parse(samples::AUDIO_VIDEO);
        let before = sdp.clone();
        let err = rewrite_endpoints(&mut sdp, &[RelayPort::new(1), RelayPort::new(3)], relay());
        assert_eq!(
            err,
            Err(RewriteError::PortCount {
                needed: 1,
                given: 2
            })
        );
        assert_eq!(sdp, before);
    }

    #[test]
    fn restricting_codecs_keeps_numbers_order_and_matching_events() {
        let mut sdp = parse(samples::LINPHONE);
        restrict_codecs(&mut sdp, &[Codec::Pcma, Codec::G722]).unwrap();
        let m = &sdp.media[0];
        assert_eq!(m.formats, ["8", "9", "99"]);
        assert_eq!(attrs(m, "rtpmap"), ["99 telephone-event/8000"]);
        assert!(
            attrs(m, "fmtp").is_empty(),
            "opus and speex parameters went"
        );
        assert_eq!(attrs(m, "rtcp-fb").len(), 2, "rtcp-fb:* stays");
        assert_eq!(parse(&sdp.to_string()), sdp);
    }

    #[test]
    fn replacing_codecs_adds_what_the_relay_transcodes_to() {
        let mut sdp = parse(samples::SIPP);
        let wide = Codec::L16(SampleRate::WIDE);
        replace_codecs(&mut sdp, &[Codec::G722, Codec::Pcmu, wide]).unwrap();
        let m = &sdp.media[0];
        assert_eq!(m.formats, ["9", "0", "96"]);
        assert_eq!(
            attrs(m, "rtpmap"),
            ["0 PCMU/8000", "9 G722/8000", "96 L16/16000"]
        );
        assert_eq!(
            m.codecs().map(|(_, c)| c).collect::<Vec<_>>(),
            [Codec::G722, Codec::Pcmu, wide]
        );
    }

    #[test]
    fn a_restriction_that_leaves_no_codec_changes_nothing() {
        let mut sdp = parse(samples::SIPP);
        let before = sdp.clone();
        assert_eq!(
            restrict_codecs(&mut sdp, &[Codec::G722]),
            Err(RewriteError::NoCodecLeft { index: 0 })
        );
        assert_eq!(sdp, before);
    }
}
