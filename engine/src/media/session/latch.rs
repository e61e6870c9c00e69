//! Learning where a side's media really comes from (symmetric RTP, "latching"), then holding
//! it to that source (rtpengine's `immediate` learning with `strict source`).
//!
//! Before any packet arrives, media goes to the address the side's SDP names. The first valid
//! packet locks the peer to its source address; RTP and RTCP are learnt separately (a NAT maps
//! the two ports on its own). After that a packet from any other source is refused, so a third
//! party cannot take the stream over by sending to the relay port. A new SDP (`reset`) opens
//! learning again: the phone may have moved.

use std::net::SocketAddr;

/// What a packet's source address means for the side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// The first packet: its source is now the peer.
    Learned,
    /// From the peer.
    Known,
    /// From somewhere else after the peer was learnt: drop it.
    Spoofed,
}

/// The learnt RTP and RTCP sources of one side.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Latch {
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
}

impl Latch {
    /// Checks (and on the first packet learns) the source of a valid packet.
    pub(super) fn check(&mut self, rtcp: bool, from: SocketAddr) -> Check {
        let peer = if rtcp { &mut self.rtcp } else { &mut self.rtp };
        match *peer {
            None => {
                *peer = Some(from);
                Check::Learned
            }
            Some(p) if p == from => Check::Known,
            Some(_) => Check::Spoofed,
        }
    }

    /// Forgets what was learnt (a new SDP for the side).
    pub(super) fn reset(&mut self) {
        *self = Latch::default();
    }

    /// The learnt RTP source.
    pub(super) fn rtp(&self) -> Option<SocketAddr> {
        self.rtp
    }

    /// The learnt RTCP source.
    pub(super) fn rtcp(&self) -> Option<SocketAddr> {
        self.rtcp
    }

    /// Where RTP for the side goes: the learnt source, else the SDP address if it can be sent
    /// to (`0.0.0.0` or port 0 is the RFC 2543 hold form, or a side not to send to).
    pub(super) fn rtp_target(&self, sdp: SocketAddr) -> Option<SocketAddr> {
        self.rtp.or_else(|| usable(sdp))
    }

    /// Where RTCP for the side goes: the learnt RTCP source; with rtcp-mux the RTP target;
    /// else the SDP's RTCP address.
    pub(super) fn rtcp_target(
        &self,
        sdp_rtp: SocketAddr,
        sdp_rtcp: SocketAddr,
        mux: bool,
    ) -> Option<SocketAddr> {
        match (self.rtcp, mux) {
            (Some(a), _) => Some(a),
            (None, true) => self.rtp_target(sdp_rtp),
            (None, false) => usable(sdp_rtcp),
        }
    }
}

fn usable(a: SocketAddr) -> Option<SocketAddr> {
    (!a.ip().is_unspecified() && a.port() != 0).then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_source_is_learnt_and_any_other_is_refused_until_reset() {
        let mut l = Latch::default();
        let sdp = addr("10.0.0.7:4000");
        assert_eq!(l.rtp_target(sdp), Some(sdp));
        assert_eq!(l.check(false, addr("198.51.100.4:31000")), Check::Learned);
        assert_eq!(l.rtp_target(sdp), Some(addr("198.51.100.4:31000")));
        assert_eq!(l.check(false, addr("198.51.100.4:31000")), Check::Known);
        assert_eq!(l.check(false, addr("198.51.100.4:31002")), Check::Spoofed);
        // RTCP learns on its own
        assert_eq!(l.check(true, addr("198.51.100.4:31005")), Check::Learned);
        l.reset();
        assert_eq!(l.check(false, addr("203.0.113.9:5000")), Check::Learned);
    }

    #[test]
    fn hold_addresses_are_not_sent_to_and_rtcp_follows_mux() {
        let l = Latch::default();
        assert_eq!(l.rtp_target(addr("0.0.0.0:4000")), None);
        assert_eq!(l.rtp_target(addr("10.0.0.7:0")), None);
        let (rtp, rtcp) = (addr("10.0.0.7:4000"), addr("10.0.0.7:4001"));
        assert_eq!(l.rtcp_target(rtp, rtcp, true), Some(rtp));
        assert_eq!(l.rtcp_target(rtp, rtcp, false), Some(rtcp));
    }
}
