//! The SDP of a simulated call: one audio stream (G.711 µ-law for calls between simulated
//! phones; PCMU, PCMA or G.722 for a conference participant), and where the other side's
//! stream goes.
//!
//! A phone's SDP names the socket it sends from and receives on, or, in `nat` mode
//! ([`CallMedia::Nat`]), a private address nothing listens on with that socket's port, as a
//! phone behind NAT does. Since the SDP then cannot say where the phone really is, each phone
//! also names its socket in a header ([`MEDIA_HEADER`]) that a proxy passes on untouched: the
//! other side tells from it whether packets come from the phone itself (direct media) or from
//! the address in the SDP it was given (the switch's relay).

use std::net::{IpAddr, SocketAddr};

use switchboard_engine::media::Codec;
use switchboard_engine::sip::Message;

use crate::core::CallMedia;

/// The header naming the socket a phone sends its RTP from (`X-Load-Media: 127.0.0.1:40000`),
/// on the INVITE and on the 200 that answers it when the call carries audio.
pub const MEDIA_HEADER: &str = "X-Load-Media";

/// A phone's audio stream: the socket it sends from and receives on, and what its SDP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audio {
    pub socket: SocketAddr,
    pub media: CallMedia,
}

impl Audio {
    /// The address its SDP names: the socket, or the NAT address with the socket's port.
    pub fn sdp_address(&self) -> SocketAddr {
        match self.media {
            CallMedia::Direct => self.socket,
            CallMedia::Nat(ip) => SocketAddr::new(ip, self.socket.port()),
        }
    }
}

/// The socket a `X-Load-Media` header names.
pub(super) fn media_socket_of(m: &Message) -> Option<SocketAddr> {
    m.header_by_name(MEDIA_HEADER)?.trim().parse().ok()
}

/// An offer or answer for one PCMU stream on `addr`.
pub fn pcmu(addr: SocketAddr, session: u64) -> Vec<u8> {
    offer(addr, session, Codec::Pcmu)
}

/// An offer or answer for one stream of `codec` on `addr`, at its static payload type
/// (RFC 3551: PCMU 0, PCMA 8, G.722 9; L16 has none and gets 96).
pub fn offer(addr: SocketAddr, session: u64, codec: Codec) -> Vec<u8> {
    let ip = addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let pt = codec.static_payload_type().unwrap_or(96);
    format!(
        "v=0\r\no=load {session} {session} IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {pt}\r\na=rtpmap:{pt} {}/{}\r\na=ptime:20\r\na=sendrecv\r\n",
        addr.port(),
        codec.rtpmap_name(),
        codec.clock_rate()
    )
    .into_bytes()
}

/// Where the audio of an SDP body goes: its connection address and first audio port.
pub fn audio_target(body: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(body).ok()?;
    let mut ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(c) = line.strip_prefix("c=") {
            // c=IN IP4 1.2.3.4 (a media-level c= after m= wins, as RFC 4566 says)
            if let Some(addr) = c.split_whitespace().nth(2) {
                if ip.is_none() || port.is_some() {
                    ip = addr.parse().ok().or(ip);
                }
            }
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            if port.is_none() {
                port = m.split_whitespace().next().and_then(|p| p.parse().ok());
            }
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) if port != 0 => Some(SocketAddr::new(ip, port)),
        _ => None,
    }
}
