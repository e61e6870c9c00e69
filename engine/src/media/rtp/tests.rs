use super::*;

/// A G.711 packet as a phone sends it: 12-byte header, 160 bytes of µ-law.
fn pcmu_packet(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0u8; HEADER_LEN + 160];
    let h = Header::new(PayloadType(0), Seq(seq), RtpTimestamp(ts), Ssrc(ssrc));
    let n = write_header(&mut p, &h).unwrap();
    assert_eq!(n, HEADER_LEN);
    for (i, b) in p[n..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

#[test]
fn a_plain_packet_reads_back_every_field() {
    let p = pcmu_packet(0xfffe, 0xdead_beef, 0x1234_5678);
    assert_eq!(&p[..4], &[0x80, 0x00, 0xff, 0xfe]);
    let r = RtpPacket::parse(&p).unwrap();
    assert_eq!(r.seq(), Seq(0xfffe));
    assert_eq!(r.timestamp(), RtpTimestamp(0xdead_beef));
    assert_eq!(r.ssrc(), Ssrc(0x1234_5678));
    assert_eq!(r.payload_type(), PayloadType(0));
    assert!(!r.marker() && !r.padding() && r.extension().is_none());
    assert_eq!(r.csrcs().len(), 0);
    assert_eq!(r.payload().len(), 160);
    assert_eq!(r.payload()[5], 5);
}

#[test]
fn csrcs_extension_and_padding_are_stepped_over_to_the_payload() {
    let csrcs = [Ssrc(1), Ssrc(2)];
    let ext = [0xbe, 0xde, 0, 0, 0x10, 0xaa, 0, 0];
    let mut h = Header::new(PayloadType(96), Seq(7), RtpTimestamp(9), Ssrc(3));
    h.csrcs = &csrcs;
    h.extension = Some(Extension {
        profile: 0xbede,
        data: &ext[4..],
    });
    h.padding = true;
    h.marker = true;
    let mut buf = [0u8; 64];
    let n = write_header(&mut buf, &h).unwrap();
    assert_eq!(n, 12 + 8 + 4 + 4);
    buf[n..n + 3].copy_from_slice(b"abc");
    // three bytes of padding, the last one counting them
    buf[n + 3..n + 6].copy_from_slice(&[0, 0, 3]);
    let p = RtpPacket::parse(&buf[..n + 6]).unwrap();
    assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
    assert_eq!(p.extension().unwrap().profile, 0xbede);
    assert_eq!(p.extension().unwrap().data, &ext[4..]);
    assert!(p.marker());
    assert_eq!(p.payload_type(), PayloadType(96));
    assert_eq!(p.payload(), b"abc");
    assert_eq!(p.padding_len(), 3);
    let mut scratch = [Ssrc(0); MAX_CSRC];
    assert_eq!(p.header(&mut scratch), h);
}

#[test]
fn malformed_headers_are_refused_with_the_reason() {
    assert_eq!(
        RtpPacket::parse(&[0x80; 11]),
        Err(RtpError::TooShort { len: 11 })
    );
    let mut p = pcmu_packet(1, 1, 1);
    p[0] = 0x40;
    assert_eq!(
        RtpPacket::parse(&p),
        Err(RtpError::BadVersion { version: 1 })
    );
    // CC = 15 needs 72 header bytes
    let mut p = [0u8; 40];
    p[0] = 0x8f;
    assert!(matches!(
        RtpPacket::parse(&p),
        Err(RtpError::CsrcTruncated { count: 15, .. })
    ));
    // an extension claiming 10 words in a 20-byte packet
    let mut p = [0u8; 20];
    p[0] = 0x90;
    p[15] = 10;
    assert_eq!(
        RtpPacket::parse(&p),
        Err(RtpError::ExtensionTruncated { need: 56, len: 20 })
    );
    // padding of 0 or longer than the payload
    let mut p = pcmu_packet(1, 1, 1);
    p[0] |= 0x20;
    *p.last_mut().unwrap() = 0;
    assert!(matches!(
        RtpPacket::parse(&p),
        Err(RtpError::BadPadding { count: 0, .. })
    ));
    *p.last_mut().unwrap() = 161;
    assert_eq!(
        RtpPacket::parse(&p),
        Err(RtpError::BadPadding {
            count: 161,
            available: 160
        })
    );
    *p.last_mut().unwrap() = 160;
    assert_eq!(RtpPacket::parse(&p).unwrap().payload(), b"");
}

#[test]
fn the_relay_rewrites_header_fields_in_place_and_leaves_the_rest() {
    let mut p = pcmu_packet(100, 8000, 0xaaaa_aaaa);
    p[1] |= 0x80;
    let before = p.clone();
    let mut m = RtpPacketMut::parse(&mut p).unwrap();
    let seq = m.seq();
    m.set_seq(seq.wrapping_add(5000));
    m.set_timestamp(m.timestamp().wrapping_add(u32::MAX));
    m.set_ssrc(Ssrc(0x0102_0304));
    m.set_payload_type(PayloadType::new(8).unwrap());
    assert!(m.marker(), "a payload type change keeps the marker");
    m.set_marker(false);
    assert_eq!(m.payload_type().value(), 8);
    let r = RtpPacket::parse(&p).unwrap();
    assert_eq!(r.seq(), Seq(5100));
    assert_eq!(r.timestamp(), RtpTimestamp(7999));
    assert_eq!(r.ssrc(), Ssrc(0x0102_0304));
    assert!(!r.marker());
    assert_eq!(&p[12..], &before[12..], "payload untouched");
    assert_eq!(p[0], before[0]);
}

#[test]
fn sequence_numbers_compare_across_the_wrap() {
    assert!(Seq(3).is_after(Seq(0xfffd)));
    assert!(!Seq(0xfffd).is_after(Seq(3)));
    assert_eq!(Seq(0xfffd).distance_to(Seq(3)), 6);
    assert_eq!(Seq(3).distance_to(Seq(0xfffd)), -6);
    assert_eq!(Seq(0xffff).next(), Seq(0));
    assert!(!Seq(5).is_after(Seq(5)));
    assert!(RtpTimestamp(100).is_after(RtpTimestamp(u32::MAX - 59)));
    assert_eq!(
        RtpTimestamp(u32::MAX - 59).distance_to(RtpTimestamp(100)),
        160
    );
}

#[test]
fn write_header_refuses_what_does_not_fit() {
    let h = Header::new(PayloadType(0), Seq(0), RtpTimestamp(0), Ssrc(0));
    assert_eq!(
        write_header(&mut [0u8; 11], &h),
        Err(RtpError::BufferTooSmall { need: 12, have: 11 })
    );
    let many = [Ssrc(0); 16];
    let h2 = Header { csrcs: &many, ..h };
    assert_eq!(
        write_header(&mut [0u8; 128], &h2),
        Err(RtpError::TooManyCsrcs { count: 16 })
    );
    let h3 = Header {
        extension: Some(Extension {
            profile: 1,
            data: &[1, 2, 3],
        }),
        ..h
    };
    assert_eq!(
        write_header(&mut [0u8; 128], &h3),
        Err(RtpError::BadExtensionLength { len: 3 })
    );
    assert_eq!(PayloadType::new(128), None);
}

#[test]
fn one_port_carries_rtp_rtcp_stun_and_dtls_apart() {
    let rtp = pcmu_packet(1, 1, 1);
    assert_eq!(demux(&rtp), PacketKind::Rtp);
    // PT 0 with the marker bit is 128: still RTP
    assert_eq!(demux(&[0x80, 0x80]), PacketKind::Rtp);
    // sender report (200), receiver report (201), RTPFB (205) are RTCP
    for pt in [192u8, 200, 201, 205, 223] {
        assert_eq!(demux(&[0x81, pt, 0, 1]), PacketKind::Rtcp, "{pt}");
    }
    assert_eq!(demux(&[0x80, 224]), PacketKind::Rtp);
    assert_eq!(demux(&[0x00, 0x01, 0, 0]), PacketKind::Stun);
    assert_eq!(demux(&[22, 0xfe, 0xfd]), PacketKind::Dtls);
    assert_eq!(demux(&[]), PacketKind::Other);
    assert_eq!(demux(&[0x80]), PacketKind::Other);
    assert_eq!(demux(&[0xff, 0]), PacketKind::Other);
}
