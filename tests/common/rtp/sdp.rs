//! The test phone's SDP: what it offers or answers, and where and how it sends, read from the
//! other side's SDP with the engine's parser.

use std::net::SocketAddr;

use switchboard_engine::media::{Codec, TELEPHONE_EVENT};
use switchboard_engine::sdp::Sdp;

/// The payload type a phone gives `codec` in its SDP: the static one, else dynamic from 96.
fn payload_type_of(codec: Codec, index: usize) -> u8 {
    codec.static_payload_type().unwrap_or(96 + index as u8)
}

/// An SDP body naming `at` with `codecs` in this order, telephone-event on `te` (`0-16`) if
/// any, `a=ptime:20` and `direction`; and the payload types it gave the codecs. `origin` is the
/// session id and version of its `o=` line.
pub(super) fn write(
    codecs: &[Codec],
    te: Option<u8>,
    at: SocketAddr,
    direction: &str,
    origin: (u16, u32),
) -> (Vec<u8>, Vec<(u8, Codec)>) {
    let (id, version) = origin;
    let mut pts = Vec::new();
    let mut fmts = Vec::new();
    let mut lines = String::new();
    for (i, &c) in codecs.iter().enumerate() {
        let pt = payload_type_of(c, i);
        pts.push((pt, c));
        fmts.push(pt.to_string());
        lines.push_str(&format!(
            "a=rtpmap:{pt} {}/{}\r\n",
            c.rtpmap_name(),
            c.clock_rate()
        ));
    }
    if let Some(te) = te {
        fmts.push(te.to_string());
        lines.push_str(&format!(
            "a=rtpmap:{te} {TELEPHONE_EVENT}/8000\r\na=fmtp:{te} 0-16\r\n"
        ));
    }
    let ip4 = if at.is_ipv4() { "IP4" } else { "IP6" };
    let body = format!(
        "v=0\r\no=phone {id} {version} IN {ip4} {ip}\r\ns=-\r\nc=IN {ip4} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {fmts}\r\n{lines}a=ptime:20\r\na={direction}\r\n",
        ip = at.ip(),
        port = at.port(),
        fmts = fmts.join(" "),
    );
    (body.into_bytes(), pts)
}

/// Where and how to send to the other side, read from its SDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Its RTP address (`c=` and `m=` port).
    pub rtp: SocketAddr,
    /// The first of its codecs that we have too.
    pub codec: Codec,
    /// Its payload type for that codec.
    pub payload_type: u8,
    /// Its telephone-event payload type at 8 kHz, if it offered one.
    pub telephone_event: Option<u8>,
}

/// The first accepted audio stream of `sdp` and the first of its codecs that is among
/// `ours`; `None` when there is none.
pub fn remote_of(sdp: &[u8], ours: &[Codec]) -> Option<Remote> {
    let sdp = Sdp::parse(sdp).ok()?;
    let m = sdp
        .media
        .iter()
        .find(|m| m.is_audio() && m.is_rtp() && !m.is_rejected())?;
    let conn = sdp.connection_of(m)?;
    let (payload_type, codec) = m.codecs().find(|(_, c)| ours.contains(c))?;
    let telephone_event = m
        .telephone_events()
        .find(|t| t.clock_rate == 8_000)
        .map(|t| t.payload_type);
    Some(Remote {
        rtp: SocketAddr::new(conn.address, m.port),
        codec,
        payload_type,
        telephone_event,
    })
}

/// The codecs of `offer`'s first audio stream that are among `ours`, in the offer's order:
/// what a phone with `ours` answers.
pub fn answer_codecs(offer: &[u8], ours: &[Codec]) -> Vec<Codec> {
    let Ok(sdp) = Sdp::parse(offer) else {
        return Vec::new();
    };
    let Some(m) = sdp.media.iter().find(|m| m.is_audio() && !m.is_rejected()) else {
        return Vec::new();
    };
    let mut out: Vec<Codec> = Vec::new();
    for (_, c) in m.codecs() {
        if ours.contains(&c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
