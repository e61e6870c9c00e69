//! Building compound RTCP packets into a caller buffer (RFC 3550 §6.4-§6.6).

use super::{
    packet_type, sdes_item, ReportBlock, RtcpError, SenderInfo, MAX_REPORT_BLOCKS,
    REPORT_BLOCK_LEN, RTCP_HEADER_LEN,
};
use crate::media::rtp::Ssrc;

/// Appends RTCP packets to a buffer, forming one compound packet (§6.1: a report first, then
/// SDES with a CNAME; BYE last when leaving). Each call writes a whole packet or, when it
/// does not fit, nothing.
#[derive(Debug)]
pub struct RtcpWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> RtcpWriter<'b> {
    pub fn new(buf: &'b mut [u8]) -> RtcpWriter<'b> {
        RtcpWriter { buf, len: 0 }
    }

    /// Bytes written so far: the compound packet is `buf[..len]`.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sender report (§6.4.1) with up to 31 report blocks.
    pub fn sender_report(
        &mut self,
        ssrc: Ssrc,
        info: &SenderInfo,
        blocks: &[ReportBlock],
    ) -> Result<(), RtcpError> {
        let count = block_count(blocks)?;
        let body = 24 + blocks.len() * REPORT_BLOCK_LEN;
        let p = self.start(packet_type::SR, count, body)?;
        p[0..4].copy_from_slice(&ssrc.0.to_be_bytes());
        p[4..12].copy_from_slice(&info.ntp.0.to_be_bytes());
        p[12..16].copy_from_slice(&info.rtp_timestamp.0.to_be_bytes());
        p[16..20].copy_from_slice(&info.packets.to_be_bytes());
        p[20..24].copy_from_slice(&info.octets.to_be_bytes());
        write_blocks(&mut p[24..], blocks);
        Ok(())
    }

    /// A receiver report (§6.4.2) with up to 31 report blocks.
    pub fn receiver_report(&mut self, ssrc: Ssrc, blocks: &[ReportBlock]) -> Result<(), RtcpError> {
        let count = block_count(blocks)?;
        let body = 4 + blocks.len() * REPORT_BLOCK_LEN;
        let p = self.start(packet_type::RR, count, body)?;
        p[0..4].copy_from_slice(&ssrc.0.to_be_bytes());
        write_blocks(&mut p[4..], blocks);
        Ok(())
    }

    /// An SDES packet with one chunk holding the CNAME (§6.5.1).
    pub fn sdes_cname(&mut self, ssrc: Ssrc, cname: &[u8]) -> Result<(), RtcpError> {
        let text =
            u8::try_from(cname.len()).map_err(|_| RtcpError::TextTooLong { len: cname.len() })?;
        // SSRC, type, length, text, then at least one null octet up to a word boundary
        let body = (4 + 2 + cname.len() + 4) & !3;
        let p = self.start(packet_type::SDES, 1, body)?;
        p[0..4].copy_from_slice(&ssrc.0.to_be_bytes());
        p[4] = sdes_item::CNAME;
        p[5] = text;
        p[6..6 + cname.len()].copy_from_slice(cname);
        p[6 + cname.len()..].fill(0);
        Ok(())
    }

    /// A BYE for `sources` (§6.6), with an optional reason.
    pub fn bye(&mut self, sources: &[Ssrc], reason: Option<&[u8]>) -> Result<(), RtcpError> {
        if sources.len() > MAX_REPORT_BLOCKS {
            return Err(RtcpError::TooManySources {
                count: sources.len(),
            });
        }
        let reason_len = match reason {
            Some(r) => {
                1 + usize::from(
                    u8::try_from(r.len()).map_err(|_| RtcpError::TextTooLong { len: r.len() })?,
                )
            }
            None => 0,
        };
        let body = (4 * sources.len() + reason_len + 3) & !3;
        let p = self.start(packet_type::BYE, sources.len() as u8, body)?;
        for (chunk, s) in p.chunks_exact_mut(4).zip(sources) {
            chunk.copy_from_slice(&s.0.to_be_bytes());
        }
        let tail = &mut p[4 * sources.len()..];
        tail.fill(0);
        if let Some(r) = reason {
            tail[0] = r.len() as u8;
            tail[1..1 + r.len()].copy_from_slice(r);
        }
        Ok(())
    }

    /// Writes the common header of a packet with a `body`-byte body (a multiple of 4) and
    /// returns the body to fill.
    fn start(&mut self, kind: u8, count: u8, body: usize) -> Result<&mut [u8], RtcpError> {
        debug_assert_eq!(body % 4, 0);
        let need = RTCP_HEADER_LEN + body;
        let have = self.buf.len() - self.len;
        if need > have {
            return Err(RtcpError::BufferTooSmall { need, have });
        }
        let p = &mut self.buf[self.len..self.len + need];
        p[0] = 0x80 | count;
        p[1] = kind;
        // §6.4.1: length in 32-bit words minus one; bodies here stay far below 2^18 bytes
        p[2..4].copy_from_slice(&((need / 4 - 1) as u16).to_be_bytes());
        self.len += need;
        Ok(&mut p[RTCP_HEADER_LEN..])
    }
}

fn block_count(blocks: &[ReportBlock]) -> Result<u8, RtcpError> {
    if blocks.len() > MAX_REPORT_BLOCKS {
        return Err(RtcpError::TooManyBlocks {
            count: blocks.len(),
        });
    }
    Ok(blocks.len() as u8)
}

fn write_blocks(out: &mut [u8], blocks: &[ReportBlock]) {
    for (b, o) in blocks.iter().zip(out.chunks_exact_mut(REPORT_BLOCK_LEN)) {
        o[0..4].copy_from_slice(&b.ssrc.0.to_be_bytes());
        o[4] = b.fraction_lost;
        // 24-bit two's complement, clamped (Appendix A.3)
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32;
        o[5..8].copy_from_slice(&lost.to_be_bytes()[1..]);
        o[8..12].copy_from_slice(&b.highest_seq.to_be_bytes());
        o[12..16].copy_from_slice(&b.jitter.to_be_bytes());
        o[16..20].copy_from_slice(&b.last_sr.to_be_bytes());
        o[20..24].copy_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_compound, NtpTime, RtcpPacket};
    use super::*;
    use crate::media::rtp::RtpTimestamp;

    #[test]
    fn a_sender_report_has_the_rfc_layout() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        let info = SenderInfo {
            ntp: NtpTime(0x0102_0304_0506_0708),
            rtp_timestamp: RtpTimestamp(9),
            packets: 10,
            octets: 11,
        };
        w.sender_report(Ssrc(0xaabb_ccdd), &info, &[]).unwrap();
        assert_eq!(w.len(), 28);
        assert_eq!(
            buf[..28],
            [
                0x80, 200, 0, 6, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 0, 0,
                0, 10, 0, 0, 0, 11
            ]
        );
    }

    #[test]
    fn cname_is_null_terminated_and_padded_to_a_word() {
        for len in 0..9usize {
            let cname = vec![b'x'; len];
            let mut buf = [0xffu8; 64];
            let mut w = RtcpWriter::new(&mut buf);
            w.sdes_cname(Ssrc(1), &cname).unwrap();
            let n = w.len();
            assert_eq!(n % 4, 0);
            assert_eq!(buf[10 + len], 0, "null item after the text");
            let c = parse_compound(&buf[..n]).unwrap();
            let Some(RtcpPacket::Sdes(s)) = c.packets().next() else {
                panic!("sdes")
            };
            assert_eq!(s.chunks().next().unwrap().cname(), Some(&cname[..]));
        }
    }

    #[test]
    fn what_does_not_fit_is_refused_and_leaves_the_buffer_as_it_was() {
        let mut buf = [0u8; 40];
        let mut w = RtcpWriter::new(&mut buf);
        w.receiver_report(Ssrc(1), &[]).unwrap();
        let blocks = [ReportBlock::default(); 2];
        assert_eq!(
            w.receiver_report(Ssrc(1), &blocks),
            Err(RtcpError::BufferTooSmall { need: 56, have: 32 })
        );
        assert_eq!(w.len(), 8);
        let many = [ReportBlock::default(); 32];
        assert_eq!(
            w.receiver_report(Ssrc(1), &many),
            Err(RtcpError::TooManyBlocks { count: 32 })
        );
        assert_eq!(
            w.sdes_cname(Ssrc(1), &[b'a'; 256]),
            Err(RtcpError::TextTooLong { len: 256 })
        );
        w.bye(&[Ssrc(1)], None).unwrap();
        assert_eq!(w.len(), 16);
    }

    #[test]
    fn cumulative_loss_is_clamped_to_24_bits() {
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        let blocks = [
            ReportBlock {
                cumulative_lost: 1 << 30,
                ..ReportBlock::default()
            },
            ReportBlock {
                cumulative_lost: -(1 << 30),
                ..ReportBlock::default()
            },
        ];
        w.receiver_report(Ssrc(1), &blocks).unwrap();
        let n = w.len();
        let c = parse_compound(&buf[..n]).unwrap();
        let Some(RtcpPacket::ReceiverReport(rr)) = c.packets().next() else {
            panic!("rr")
        };
        let lost: Vec<i32> = rr.report_blocks().map(|b| b.cumulative_lost).collect();
        assert_eq!(lost, [0x7f_ffff, -0x80_0000]);
    }
}
