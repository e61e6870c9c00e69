//! RTP and RTCP parsers on arbitrary bytes: they must answer without panicking. An RTP packet
//! the parser accepts, read back into a header and written with `write_header`, reproduces its
//! header bytes exactly, and the in-place rewrite changes only the fields it sets. Whatever
//! `parse_compound` accepts iterates to its end with every report block and SDES item read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::rtcp::{parse_compound, RtcpPacket};
use switchboard_engine::media::rtp::{
    demux, write_header, PayloadType, RtpPacket, RtpPacketMut, RtpTimestamp, Seq, Ssrc, MAX_CSRC,
};

fuzz_target!(|data: &[u8]| {
    let _ = demux(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let mut csrcs = [Ssrc(0); MAX_CSRC];
        let h = p.header(&mut csrcs);
        let mut out = vec![0u8; p.header_len()];
        let n = write_header(&mut out, &h).expect("a parsed header fits its own size");
        assert_eq!(n, p.header_len());
        assert_eq!(&out[..n], &data[..n], "header bytes reproduce");
        assert_eq!(
            p.header_len() + p.payload().len() + p.padding_len(),
            data.len()
        );

        let mut copy = data.to_vec();
        let mut m = RtpPacketMut::parse(&mut copy).expect("same bytes parse mutably");
        m.set_seq(Seq(p.seq().0 ^ 0xffff));
        m.set_timestamp(RtpTimestamp(!p.timestamp().0));
        m.set_ssrc(Ssrc(!p.ssrc().0));
        m.set_payload_type(PayloadType::new(p.payload_type().value() ^ 0x7f).unwrap());
        m.set_marker(!p.marker());
        let q = RtpPacket::parse(&copy).expect("a rewritten packet still parses");
        assert_eq!(q.seq().0, p.seq().0 ^ 0xffff);
        assert_eq!(q.ssrc().0, !p.ssrc().0);
        assert_eq!(q.marker(), !p.marker());
        assert_eq!(q.payload(), p.payload());
        assert_eq!(copy[0], data[0]);
        assert_eq!(&copy[12..], &data[12..]);
    }
    if let Ok(c) = parse_compound(data) {
        for packet in c.packets() {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    let _ = sr.report_blocks().count();
                }
                RtcpPacket::ReceiverReport(rr) => {
                    let _ = rr.report_blocks().count();
                }
                RtcpPacket::Sdes(s) => {
                    for chunk in s.chunks() {
                        let _ = chunk.cname();
                        let _ = chunk.items().count();
                    }
                }
                RtcpPacket::Bye(b) => {
                    let _ = b.sources().count();
                }
                RtcpPacket::Other { .. } => {}
            }
        }
    }
});
