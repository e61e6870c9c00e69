//! The SDP of a simulated call: one G.711 µ-law (PCMU) audio stream, and where the other
//! side's stream goes.

use std::net::{IpAddr, SocketAddr};

/// An offer or answer for one PCMU stream on `addr`.
pub fn pcmu(addr: SocketAddr, session: u64) -> Vec<u8> {
    let ip = addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=load {session} {session} IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        addr.port()
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
