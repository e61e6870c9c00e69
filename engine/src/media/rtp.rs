//! RTP packets (RFC 3550 §5.1) as the relay and the frame path see them.
//!
//! [`RtpPacket::parse`] borrows the receive buffer and checks only what the header says about
//! its own length (version 2, CSRC list, header extension, padding); every field is then read
//! from fixed offsets on demand. [`RtpPacketMut`] is the same view over `&mut [u8]`: the relay
//! parses once and rewrites SSRC, sequence number, timestamp, payload type and marker in place,
//! without copying the packet. [`write_header`] builds a header into a caller buffer for
//! packets the switch originates (transcoded audio, prompts, DTMF).
//!
//! [`demux`] tells RTP from RTCP on one port (RFC 5761 §4) and both from STUN and DTLS
//! (RFC 5764 §5.1.2 as updated by RFC 7983) by their first two bytes.
//!
//! Guarantees: nothing here allocates; no input makes a parser panic; a packet accepted by
//! `parse`, read back into a [`Header`] and written with `write_header` yields the same header
//! bytes.

/// Bytes of the fixed RTP header (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;

/// The only RTP version (RFC 3550 §5.1).
pub const VERSION: u8 = 2;

/// Most contributing sources a header can list (the CC field has 4 bits).
pub const MAX_CSRC: usize = 15;

/// A synchronization source identifier (RFC 3550 §3, §8).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ssrc(pub u32);

/// A 16-bit RTP sequence number; it wraps, so it compares only by distance (RFC 3550
/// Appendix A.1): `b` is after `a` when `b - a` modulo 2^16 is below 2^15.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u16);

impl Seq {
    /// The number `n` after this one, wrapping.
    pub fn wrapping_add(self, n: u16) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    /// The number after this one.
    pub fn next(self) -> Seq {
        self.wrapping_add(1)
    }

    /// How far `later` is ahead of `self` (negative when it is behind), taking the shorter
    /// way round the 16-bit circle.
    pub fn distance_to(self, later: Seq) -> i16 {
        later.0.wrapping_sub(self.0) as i16
    }

    /// Whether `self` comes after `other` (not equal, less than half the circle ahead).
    pub fn is_after(self, other: Seq) -> bool {
        other.distance_to(self) > 0
    }
}

/// A 32-bit RTP timestamp in units of the payload's clock rate; it wraps like [`Seq`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct RtpTimestamp(pub u32);

impl RtpTimestamp {
    /// `units` clock ticks later, wrapping.
    pub fn wrapping_add(self, units: u32) -> RtpTimestamp {
        RtpTimestamp(self.0.wrapping_add(units))
    }

    /// How far `later` is ahead of `self` in clock units (negative when behind).
    pub fn distance_to(self, later: RtpTimestamp) -> i32 {
        later.0.wrapping_sub(self.0) as i32
    }

    /// Whether `self` comes after `other`.
    pub fn is_after(self, other: RtpTimestamp) -> bool {
        other.distance_to(self) > 0
    }
}

/// An RTP payload type: 7 bits, negotiated per call in SDP (RFC 3551 §6 lists the static ones).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PayloadType(u8);

impl PayloadType {
    /// A payload type, if it fits in 7 bits.
    pub const fn new(pt: u8) -> Option<PayloadType> {
        if pt < 128 {
            Some(PayloadType(pt))
        } else {
            None
        }
    }

    pub const fn value(self) -> u8 {
        self.0
    }
}

impl std::fmt::Display for PayloadType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why bytes are not an RTP packet, or a header does not fit where it should be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    #[error("packet of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    TooShort { len: usize },
    #[error("rtp version {version}, expected 2")]
    BadVersion { version: u8 },
    #[error("{count} csrcs need {need} header bytes, packet has {len}")]
    CsrcTruncated { count: u8, need: usize, len: usize },
    #[error("header extension needs {need} bytes, packet has {len}")]
    ExtensionTruncated { need: usize, len: usize },
    #[error("padding count {count} with {available} bytes after the header")]
    BadPadding { count: u8, available: usize },
    #[error("buffer of {have} bytes, header needs {need}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("{count} csrcs, at most 15 fit a header")]
    TooManyCsrcs { count: usize },
    #[error("header extension of {len} bytes is not a whole number of 32-bit words up to 65535")]
    BadExtensionLength { len: usize },
}

/// An RTP header extension (RFC 3550 §5.3.1): a profile-defined 16-bit word and data that is
/// a whole number of 32-bit words (RFC 8285 one- and two-byte elements live inside it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// The fields of an RTP header, for [`write_header`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The P bit. `write_header` only sets the bit; the padding bytes (whose last byte counts
    /// them) are the caller's, after the payload.
    pub padding: bool,
    pub marker: bool,
    pub payload_type: PayloadType,
    pub seq: Seq,
    pub timestamp: RtpTimestamp,
    pub ssrc: Ssrc,
    pub csrcs: &'a [Ssrc],
    pub extension: Option<Extension<'a>>,
}

impl<'a> Header<'a> {
    /// A plain header: no padding, marker, CSRCs or extension.
    pub fn new(
        payload_type: PayloadType,
        seq: Seq,
        timestamp: RtpTimestamp,
        ssrc: Ssrc,
    ) -> Header<'a> {
        Header {
            padding: false,
            marker: false,
            payload_type,
            seq,
            timestamp,
            ssrc,
            csrcs: &[],
            extension: None,
        }
    }

    /// Bytes `write_header` writes for this header.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + 4 * self.csrcs.len() + self.extension.map_or(0, |e| 4 + e.data.len())
    }
}

/// Writes `h` at the start of `buf` and returns its length; the payload goes at
/// `buf[len..]`.
pub fn write_header(buf: &mut [u8], h: &Header<'_>) -> Result<usize, RtpError> {
    if h.csrcs.len() > MAX_CSRC {
        return Err(RtpError::TooManyCsrcs {
            count: h.csrcs.len(),
        });
    }
    if let Some(e) = h.extension {
        if e.data.len() % 4 != 0 || e.data.len() / 4 > usize::from(u16::MAX) {
            return Err(RtpError::BadExtensionLength { len: e.data.len() });
        }
    }
    let need = h.encoded_len();
    if buf.len() < need {
        return Err(RtpError::BufferTooSmall {
            need,
            have: buf.len(),
        });
    }
    buf[0] = VERSION << 6
        | u8::from(h.padding) << 5
        | u8::from(h.extension.is_some()) << 4
        | h.csrcs.len() as u8;
    buf[1] = u8::from(h.marker) << 7 | h.payload_type.0;
    buf[2..4].copy_from_slice(&h.seq.0.to_be_bytes());
    buf[4..8].copy_from_slice(&h.timestamp.0.to_be_bytes());
    buf[8..12].copy_from_slice(&h.ssrc.0.to_be_bytes());
    let mut at = HEADER_LEN;
    for c in h.csrcs {
        buf[at..at + 4].copy_from_slice(&c.0.to_be_bytes());
        at += 4;
    }
    if let Some(e) = h.extension {
        buf[at..at + 2].copy_from_slice(&e.profile.to_be_bytes());
        buf[at + 2..at + 4].copy_from_slice(&((e.data.len() / 4) as u16).to_be_bytes());
        buf[at + 4..at + 4 + e.data.len()].copy_from_slice(e.data);
        at += 4 + e.data.len();
    }
    Ok(at)
}

/// A borrowed, validated RTP packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    layout: Layout,
}

/// Where the variable parts of a validated packet are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Layout {
    /// End of the header (CSRCs and extension included) = start of the payload.
    header_len: usize,
    /// End of the payload = start of the padding.
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates the header of `buf` (RFC 3550 §5.1, §5.3.1 and the checks of Appendix A.1
    /// that need no state).
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        Ok(RtpPacket {
            layout: Layout::of(buf)?,
            buf,
        })
    }

    pub fn padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    pub fn has_extension(&self) -> bool {
        self.buf[0] & 0x10 != 0
    }

    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    pub fn payload_type(&self) -> PayloadType {
        PayloadType(self.buf[1] & 0x7f)
    }

    pub fn seq(&self) -> Seq {
        Seq(u16::from_be_bytes([self.buf[2], self.buf[3]]))
    }

    pub fn timestamp(&self) -> RtpTimestamp {
        RtpTimestamp(be32(self.buf, 4))
    }

    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be32(self.buf, 8))
    }

    /// The contributing sources (a mixer's talkers).
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = Ssrc> + 'a {
        let n = usize::from(self.buf[0] & 0x0f);
        self.buf[HEADER_LEN..HEADER_LEN + 4 * n]
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }

    pub fn extension(&self) -> Option<Extension<'a>> {
        if !self.has_extension() {
            return None;
        }
        let at = HEADER_LEN + 4 * usize::from(self.buf[0] & 0x0f);
        Some(Extension {
            profile: u16::from_be_bytes([self.buf[at], self.buf[at + 1]]),
            data: &self.buf[at + 4..self.layout.header_len],
        })
    }

    /// Bytes of the header, CSRCs and extension included.
    pub fn header_len(&self) -> usize {
        self.layout.header_len
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.layout.header_len..self.layout.payload_end]
    }

    /// Padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.layout.payload_end
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The header's fields, with its CSRCs copied into `csrcs` (so that the result can be
    /// written again with [`write_header`]).
    pub fn header<'s>(&self, csrcs: &'s mut [Ssrc; MAX_CSRC]) -> Header<'s>
    where
        'a: 's,
    {
        let mut n = 0;
        for (slot, c) in csrcs.iter_mut().zip(self.csrcs()) {
            *slot = c;
            n += 1;
        }
        Header {
            padding: self.padding(),
            marker: self.marker(),
            payload_type: self.payload_type(),
            seq: self.seq(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
            csrcs: &csrcs[..n],
            extension: self.extension(),
        }
    }
}

/// A validated RTP packet in a mutable buffer: read it like [`RtpPacket`], rewrite its fixed
/// header fields in place (the relay's SSRC, sequence and timestamp translation, a payload
/// type renumbered between two legs' SDP, the marker).
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
    layout: Layout,
}

impl<'a> RtpPacketMut<'a> {
    pub fn parse(buf: &'a mut [u8]) -> Result<RtpPacketMut<'a>, RtpError> {
        Ok(RtpPacketMut {
            layout: Layout::of(buf)?,
            buf,
        })
    }

    /// The packet as a read-only view.
    pub fn view(&self) -> RtpPacket<'_> {
        RtpPacket {
            buf: self.buf,
            layout: self.layout,
        }
    }

    pub fn seq(&self) -> Seq {
        self.view().seq()
    }

    pub fn timestamp(&self) -> RtpTimestamp {
        self.view().timestamp()
    }

    pub fn ssrc(&self) -> Ssrc {
        self.view().ssrc()
    }

    pub fn payload_type(&self) -> PayloadType {
        self.view().payload_type()
    }

    pub fn marker(&self) -> bool {
        self.view().marker()
    }

    pub fn set_seq(&mut self, seq: Seq) {
        self.buf[2..4].copy_from_slice(&seq.0.to_be_bytes());
    }

    pub fn set_timestamp(&mut self, ts: RtpTimestamp) {
        self.buf[4..8].copy_from_slice(&ts.0.to_be_bytes());
    }

    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.buf[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
    }

    pub fn set_payload_type(&mut self, pt: PayloadType) {
        self.buf[1] = (self.buf[1] & 0x80) | pt.0;
    }

    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | u8::from(marker) << 7;
    }

    /// The payload, to rewrite in place (same length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.layout.header_len..self.layout.payload_end]
    }
}

impl Layout {
    fn of(buf: &[u8]) -> Result<Layout, RtpError> {
        let len = buf.len();
        if len < HEADER_LEN {
            return Err(RtpError::TooShort { len });
        }
        let version = buf[0] >> 6;
        if version != VERSION {
            return Err(RtpError::BadVersion { version });
        }
        let count = buf[0] & 0x0f;
        let mut header_len = HEADER_LEN + 4 * usize::from(count);
        if len < header_len {
            return Err(RtpError::CsrcTruncated {
                count,
                need: header_len,
                len,
            });
        }
        if buf[0] & 0x10 != 0 {
            // §5.3.1: 16 bits profile, 16 bits length in 32-bit words after these 4 bytes
            if len < header_len + 4 {
                return Err(RtpError::ExtensionTruncated {
                    need: header_len + 4,
                    len,
                });
            }
            let words = u16::from_be_bytes([buf[header_len + 2], buf[header_len + 3]]);
            header_len += 4 + 4 * usize::from(words);
            if len < header_len {
                return Err(RtpError::ExtensionTruncated {
                    need: header_len,
                    len,
                });
            }
        }
        let mut payload_end = len;
        if buf[0] & 0x20 != 0 {
            // §5.1: the last octet counts the padding, itself included, so it is at least 1
            // and the padding cannot reach into the header (Appendix A.1)
            let count = buf[len - 1];
            let available = len - header_len;
            if count == 0 || usize::from(count) > available {
                return Err(RtpError::BadPadding { count, available });
            }
            payload_end -= usize::from(count);
        }
        Ok(Layout {
            header_len,
            payload_end,
        })
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What a datagram on a media port is, by its first two bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PacketKind {
    Rtp,
    Rtcp,
    /// STUN (ICE connectivity checks; first byte 0-3).
    Stun,
    /// DTLS (DTLS-SRTP handshake, first byte 20-63).
    Dtls,
    /// Anything else (ZRTP, TURN channels, garbage): dropped and counted.
    Other,
}

/// Sorts a datagram received on a port shared by RTP and RTCP (RFC 5761 §4) and, for WebRTC
/// peers, STUN and DTLS (by the first byte: RFC 5764 §5.1.2 as updated by RFC 7983).
///
/// RTCP packet types 192-223 read as an RTP marker bit plus payload type 64-95, which is why
/// RFC 5761 §4 keeps payload types 64-95 out of multiplexed sessions: a second byte in
/// 192..=223 is RTCP.
pub fn demux(buf: &[u8]) -> PacketKind {
    let Some(&first) = buf.first() else {
        return PacketKind::Other;
    };
    match first {
        0..=3 => PacketKind::Stun,
        20..=63 => PacketKind::Dtls,
        128..=191 => match buf.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Other,
        },
        _ => PacketKind::Other,
    }
}

#[cfg(test)]
mod tests;
