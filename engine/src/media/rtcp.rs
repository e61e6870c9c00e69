//! RTCP (RFC 3550 §6): compound packets in and out, and the per-leg statistics they carry.
//!
//! [`parse_compound`] validates a whole compound packet once (every packet's version, length
//! and padding, and the inner structure of the types the switch reads) and then hands out
//! borrowed views: sender and receiver reports with their report blocks, SDES chunks (CNAME
//! and the other items), BYE. APP, feedback (RFC 4585), XR and unknown types are stepped over
//! by their length and surface as [`RtcpPacket::Other`]. [`RtcpWriter`] builds SR, RR, SDES
//! CNAME and BYE into a caller buffer. [`ReceptionStats`] and [`SenderStats`] (in `stats`)
//! keep what a leg reports: RFC 3550 Appendix A.1 source validation, A.3 loss, A.8 jitter.
//!
//! Guarantees: no input makes the parser panic; nothing here allocates.

mod stats;
mod write;

pub use stats::{ReceptionStats, ReceptionSummary, SenderStats, SeqCheck};
pub use write::RtcpWriter;

use std::time::Duration;

use super::rtp::{RtpTimestamp, Ssrc};

/// Bytes of the common RTCP header (RFC 3550 §6.4.1).
pub const RTCP_HEADER_LEN: usize = 4;
/// Bytes of one report block (RFC 3550 §6.4.1).
pub const REPORT_BLOCK_LEN: usize = 24;
/// Most report blocks one SR or RR holds (the RC field has 5 bits).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2).
pub mod packet_type {
    pub const SR: u8 = 200;
    pub const RR: u8 = 201;
    pub const SDES: u8 = 202;
    pub const BYE: u8 = 203;
    pub const APP: u8 = 204;
}

/// SDES item types (RFC 3550 §6.5).
pub mod sdes_item {
    pub const END: u8 = 0;
    pub const CNAME: u8 = 1;
}

/// Why bytes are not an RTCP compound packet, or a packet does not fit a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("empty rtcp datagram")]
    Empty,
    #[error("{len} bytes left, an rtcp header needs 4")]
    TooShort { len: usize },
    #[error("rtcp version {version}, expected 2")]
    BadVersion { version: u8 },
    #[error("packet type {packet_type} claims {need} bytes, {available} left")]
    LengthOverrun {
        packet_type: u8,
        need: usize,
        available: usize,
    },
    #[error("packet type {packet_type}: padding count {count} with a body of {available} bytes")]
    BadPadding {
        packet_type: u8,
        count: u8,
        available: usize,
    },
    #[error("packet type {packet_type} with count {count} needs {need} body bytes, has {have}")]
    BodyTooShort {
        packet_type: u8,
        count: u8,
        need: usize,
        have: usize,
    },
    #[error("sdes chunk {chunk} runs past the end of its packet")]
    SdesTruncated { chunk: u8 },
    #[error("bye reason of {len} bytes runs past the end of its packet")]
    ByeReasonTruncated { len: u8 },
    #[error("buffer has {have} bytes free, packet needs {need}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("{count} report blocks, at most 31 fit one report")]
    TooManyBlocks { count: usize },
    #[error("{count} sources, at most 31 fit one packet")]
    TooManySources { count: usize },
    #[error("sdes or bye text of {len} bytes, at most 255")]
    TextTooLong { len: usize },
}

/// A 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in the upper half, the fraction
/// of a second in the lower half.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl NtpTime {
    /// The NTP time of a wall-clock instant given as time since the Unix epoch (the actors
    /// read `SystemTime`; the engine does not).
    pub fn from_unix(since_epoch: Duration) -> NtpTime {
        let secs = since_epoch.as_secs() + NTP_UNIX_OFFSET;
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime(secs << 32 | frac)
    }

    /// The middle 32 bits, the form LSR and round-trip arithmetic use (§6.4.1).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Converts a duration to RTCP's 1/65536-second units (DLSR, §6.4.1), saturating.
pub(crate) fn to_short_units(d: Duration) -> u32 {
    let units = d.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

fn from_short_units(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp: NtpTime,
    /// The same instant on the stream's RTP clock.
    pub rtp_timestamp: RtpTimestamp,
    /// Packets sent since the stream started (wraps at 2^32).
    pub packets: u32,
    /// Payload octets sent since the stream started (wraps at 2^32).
    pub octets: u32,
}

/// One reception report block (RFC 3550 §6.4.1): what a receiver says about one source.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Packets lost in the last interval as a fraction of those expected, times 256.
    pub fraction_lost: u8,
    /// Packets lost since reception began (expected minus received; negative when duplicates
    /// outnumber losses), 24 bits signed.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the upper 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units (Appendix A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from this source (0 if none).
    pub last_sr: u32,
    /// Delay since that SR was received, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Loss in the last interval as a fraction between 0 and 1.
    pub fn fraction_lost_ratio(&self) -> f32 {
        f32::from(self.fraction_lost) / 256.0
    }

    /// The jitter as time, given the clock rate of the reported stream.
    pub fn jitter_at(&self, clock_rate: u32) -> Duration {
        Duration::from_nanos(u64::from(self.jitter) * 1_000_000_000 / u64::from(clock_rate.max(1)))
    }

    /// Round-trip time to the reporter, from a block received at `now` that answers one of
    /// our SRs (§6.4.1: A - LSR - DLSR). `None` if the reporter has not seen an SR yet or the
    /// figures are inconsistent.
    pub fn round_trip(&self, now: NtpTime) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = now
            .middle32()
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        // a negative result (clock skew) wraps to a huge value: more than a minute is no RTT
        (rtt < 60 * 65_536).then(|| from_short_units(rtt))
    }

    fn read(b: &[u8]) -> ReportBlock {
        let lost = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        // sign-extend the 24-bit count
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        ReportBlock {
            ssrc: Ssrc(be32(b, 0)),
            fraction_lost: b[4],
            cumulative_lost,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }
}

/// Report blocks of an SR or RR, read on demand.
#[derive(Clone, Debug)]
pub struct ReportBlocks<'a>(std::slice::ChunksExact<'a, u8>);

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        self.0.next().map(ReportBlock::read)
    }
}

/// A sender report (PT 200).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    pub ssrc: Ssrc,
    pub info: SenderInfo,
    blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks(self.blocks.chunks_exact(REPORT_BLOCK_LEN))
    }
}

/// A receiver report (PT 201).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    pub ssrc: Ssrc,
    blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks(self.blocks.chunks_exact(REPORT_BLOCK_LEN))
    }
}

/// A source description packet (PT 202): one chunk per source.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            left: self.count,
            rest: self.body,
        }
    }
}

/// The chunks of an SDES packet (already validated).
#[derive(Clone, Debug)]
pub struct SdesChunks<'a> {
    left: u8,
    rest: &'a [u8],
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;
    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (chunk, rest) = split_sdes_chunk(self.rest).ok()?;
        self.rest = rest;
        Some(chunk)
    }
}

/// One SDES chunk: a source and its items.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: Ssrc,
    /// The items, without the terminating null octet and padding.
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// `(item type, text)` pairs in order.
    pub fn items(&self) -> impl Iterator<Item = (u8, &'a [u8])> {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&kind, after) = rest.split_first()?;
            let (&len, after) = after.split_first()?;
            let text = after.get(..usize::from(len))?;
            rest = &after[usize::from(len)..];
            Some((kind, text))
        })
    }

    /// The canonical name (§6.5.1), the one item every compound packet carries.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|(kind, _)| *kind == sdes_item::CNAME)
            .map(|(_, t)| t)
    }
}

/// A goodbye packet (PT 203).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = Ssrc> + 'a {
        self.sources.chunks_exact(4).map(|c| Ssrc(be32(c, 0)))
    }
}

/// One packet of a compound RTCP packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    Sdes(Sdes<'a>),
    Bye(Bye<'a>),
    /// APP, transport and payload feedback, XR or a type this parser does not read: stepped
    /// over by its length. `body` excludes the 4-byte header and any padding.
    Other {
        packet_type: u8,
        count: u8,
        body: &'a [u8],
    },
}

/// A validated compound RTCP packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Compound<'a> {
    buf: &'a [u8],
}

impl<'a> Compound<'a> {
    pub fn packets(&self) -> Packets<'a> {
        Packets { rest: self.buf }
    }
}

/// The packets of a validated compound packet, in order.
#[derive(Clone, Debug)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = RtcpPacket<'a>;
    fn next(&mut self) -> Option<RtcpPacket<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // validated by parse_compound: an error here cannot happen, and ends the iteration
        let (packet, rest) = split_packet(self.rest).ok()?;
        self.rest = rest;
        Some(packet)
    }
}

/// Validates every packet of a compound RTCP datagram (RFC 3550 §6.1, Appendix A.2 minus the
/// rule that the first packet be a report, which reduced-size RTCP (RFC 5506) drops).
pub fn parse_compound(buf: &[u8]) -> Result<Compound<'_>, RtcpError> {
    if buf.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut rest = buf;
    while !rest.is_empty() {
        rest = split_packet(rest)?.1;
    }
    Ok(Compound { buf })
}

/// The first packet of `buf` and what follows it.
fn split_packet(buf: &[u8]) -> Result<(RtcpPacket<'_>, &[u8]), RtcpError> {
    if buf.len() < RTCP_HEADER_LEN {
        return Err(RtcpError::TooShort { len: buf.len() });
    }
    let version = buf[0] >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion { version });
    }
    let count = buf[0] & 0x1f;
    let packet_type = buf[1];
    // §6.4.1: length in 32-bit words minus one, the header included
    let len = 4 * (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1);
    if len > buf.len() {
        return Err(RtcpError::LengthOverrun {
            packet_type,
            need: len,
            available: buf.len(),
        });
    }
    let (packet, rest) = buf.split_at(len);
    let mut body = &packet[RTCP_HEADER_LEN..];
    if buf[0] & 0x20 != 0 {
        let pad = packet[len - 1];
        if pad == 0 || usize::from(pad) > body.len() {
            return Err(RtcpError::BadPadding {
                packet_type,
                count: pad,
                available: body.len(),
            });
        }
        body = &body[..body.len() - usize::from(pad)];
    }
    let too_short = |need: usize| RtcpError::BodyTooShort {
        packet_type,
        count,
        need,
        have: body.len(),
    };
    let blocks_len = usize::from(count) * REPORT_BLOCK_LEN;
    let typed = match packet_type {
        packet_type::SR => {
            // SSRC, NTP (8), RTP ts, packet count, octet count, then the blocks; anything
            // after them is a profile-specific extension (§6.4.1), ignored
            let need = 24 + blocks_len;
            if body.len() < need {
                return Err(too_short(need));
            }
            RtcpPacket::SenderReport(SenderReport {
                ssrc: Ssrc(be32(body, 0)),
                info: SenderInfo {
                    ntp: NtpTime(u64::from(be32(body, 4)) << 32 | u64::from(be32(body, 8))),
                    rtp_timestamp: RtpTimestamp(be32(body, 12)),
                    packets: be32(body, 16),
                    octets: be32(body, 20),
                },
                blocks: &body[24..need],
            })
        }
        packet_type::RR => {
            let need = 4 + blocks_len;
            if body.len() < need {
                return Err(too_short(need));
            }
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: Ssrc(be32(body, 0)),
                blocks: &body[4..need],
            })
        }
        packet_type::SDES => {
            let mut chunks = body;
            for chunk in 0..count {
                chunks = split_sdes_chunk(chunks)
                    .map_err(|()| RtcpError::SdesTruncated { chunk })?
                    .1;
            }
            RtcpPacket::Sdes(Sdes { count, body })
        }
        packet_type::BYE => {
            let need = 4 * usize::from(count);
            if body.len() < need {
                return Err(too_short(need));
            }
            let (sources, after) = body.split_at(need);
            // §6.6: an optional length-prefixed reason, then padding to a word boundary
            let reason = match after.split_first() {
                None | Some((0, _)) => None,
                Some((&n, text)) => Some(
                    text.get(..usize::from(n))
                        .ok_or(RtcpError::ByeReasonTruncated { len: n })?,
                ),
            };
            RtcpPacket::Bye(Bye { sources, reason })
        }
        _ => RtcpPacket::Other {
            packet_type,
            count,
            body,
        },
    };
    Ok((typed, rest))
}

/// One SDES chunk from the start of `buf` (§6.5): SSRC, items, a null octet, padding to the
/// next 32-bit boundary.
fn split_sdes_chunk(buf: &[u8]) -> Result<(SdesChunk<'_>, &[u8]), ()> {
    if buf.len() < 4 {
        return Err(());
    }
    let ssrc = Ssrc(be32(buf, 0));
    let mut at = 4;
    loop {
        match buf.get(at) {
            None => return Err(()),
            Some(&sdes_item::END) => break,
            Some(_) => {
                let len = usize::from(*buf.get(at + 1).ok_or(())?);
                at += 2 + len;
                if at > buf.len() {
                    return Err(());
                }
            }
        }
    }
    let items = &buf[4..at];
    // the null octet and up to three more to reach a word boundary (chunks start aligned)
    let end = (at + 4) & !3;
    let rest = buf.get(end..).unwrap_or(&[]);
    Ok((SdesChunk { ssrc, items }, rest))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests;
