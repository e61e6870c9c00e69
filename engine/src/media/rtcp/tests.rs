use super::*;

/// SR with one block + SDES CNAME + APP + an unknown type, the way a phone sends it.
fn compound() -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let info = SenderInfo {
        ntp: NtpTime(0x8000_0001_4000_0000),
        rtp_timestamp: RtpTimestamp(160_000),
        packets: 1000,
        octets: 160_000,
    };
    let block = ReportBlock {
        ssrc: Ssrc(0xb),
        fraction_lost: 64,
        cumulative_lost: -3,
        highest_seq: 0x0001_0005,
        jitter: 80,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 65_536,
    };
    let mut w = RtcpWriter::new(&mut buf);
    w.sender_report(Ssrc(0xa), &info, &[block]).unwrap();
    w.sdes_cname(Ssrc(0xa), b"alice@192.0.2.10").unwrap();
    let n = w.len();
    // APP: name "test", 4 bytes of data
    buf[n..n + 16].copy_from_slice(&[
        0x80, 204, 0, 3, 0, 0, 0, 0xa, b't', b'e', b's', b't', 1, 2, 3, 4,
    ]);
    // XR (207) with padding: 4 data bytes of which the last 2 are padding
    buf[n + 16..n + 24].copy_from_slice(&[0xa0, 207, 0, 1, 9, 9, 0, 2]);
    buf.truncate(n + 24);
    buf
}

#[test]
fn a_compound_packet_reads_back_reports_cname_and_steps_over_the_rest() {
    let buf = compound();
    let c = parse_compound(&buf).unwrap();
    let mut packets = c.packets();
    let RtcpPacket::SenderReport(sr) = packets.next().unwrap() else {
        panic!("first is the SR")
    };
    assert_eq!(sr.ssrc, Ssrc(0xa));
    assert_eq!(sr.info.ntp, NtpTime(0x8000_0001_4000_0000));
    assert_eq!(sr.info.packets, 1000);
    let blocks: Vec<_> = sr.report_blocks().collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].cumulative_lost, -3);
    assert_eq!(blocks[0].highest_seq, 0x0001_0005);
    assert_eq!(blocks[0].fraction_lost_ratio(), 0.25);
    assert_eq!(blocks[0].jitter_at(8000), Duration::from_millis(10));
    let RtcpPacket::Sdes(sdes) = packets.next().unwrap() else {
        panic!("then SDES")
    };
    let chunk = sdes.chunks().next().unwrap();
    assert_eq!(chunk.ssrc, Ssrc(0xa));
    assert_eq!(chunk.cname(), Some(&b"alice@192.0.2.10"[..]));
    assert_eq!(
        packets.next(),
        Some(RtcpPacket::Other {
            packet_type: 204,
            count: 0,
            body: &[0, 0, 0, 0xa, b't', b'e', b's', b't', 1, 2, 3, 4]
        })
    );
    assert_eq!(
        packets.next(),
        Some(RtcpPacket::Other {
            packet_type: 207,
            count: 0,
            body: &[9, 9]
        })
    );
    assert_eq!(packets.next(), None);
}

#[test]
fn a_receiver_report_and_bye_with_reason_round_trip() {
    let mut buf = [0u8; 128];
    let blocks = [ReportBlock {
        ssrc: Ssrc(7),
        cumulative_lost: 0x7f_ffff,
        ..ReportBlock::default()
    }; 2];
    let mut w = RtcpWriter::new(&mut buf);
    w.receiver_report(Ssrc(1), &blocks).unwrap();
    w.bye(&[Ssrc(1), Ssrc(2)], Some(b"hangup")).unwrap();
    let n = w.len();
    assert_eq!(n % 4, 0);
    let c = parse_compound(&buf[..n]).unwrap();
    let p: Vec<_> = c.packets().collect();
    let RtcpPacket::ReceiverReport(rr) = p[0] else {
        panic!("RR first")
    };
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks);
    let RtcpPacket::Bye(bye) = p[1] else {
        panic!("then BYE")
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), [Ssrc(1), Ssrc(2)]);
    assert_eq!(bye.reason, Some(&b"hangup"[..]));
}

#[test]
fn broken_compounds_are_refused_with_the_reason() {
    assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
    let good = compound();
    // truncated in the middle of the SDES packet
    assert!(matches!(
        parse_compound(&good[..good.len() - 20]),
        Err(RtcpError::LengthOverrun { .. })
    ));
    let mut bad = good.clone();
    bad[0] = 0x41;
    assert_eq!(
        parse_compound(&bad),
        Err(RtcpError::BadVersion { version: 1 })
    );
    // an RR claiming two blocks with room for none
    assert!(matches!(
        parse_compound(&[0x82, 201, 0, 1, 0, 0, 0, 1]),
        Err(RtcpError::BodyTooShort { need: 52, .. })
    ));
    // an SDES chunk without its null terminator
    assert_eq!(
        parse_compound(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b']),
        Err(RtcpError::SdesTruncated { chunk: 0 })
    );
    // a BYE reason longer than the packet
    assert_eq!(
        parse_compound(&[0x81, 203, 0, 2, 0, 0, 0, 1, 9, b'x', 0, 0]),
        Err(RtcpError::ByeReasonTruncated { len: 9 })
    );
    assert!(matches!(
        parse_compound(&[0xa0, 201, 0, 1, 0, 0, 0, 9]),
        Err(RtcpError::BadPadding { count: 9, .. })
    ));
    assert_eq!(
        parse_compound(&[0x80, 201]),
        Err(RtcpError::TooShort { len: 2 })
    );
}

#[test]
fn round_trip_time_comes_from_lsr_and_dlsr() {
    let sent = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
    let now = NtpTime::from_unix(Duration::from_millis(1_700_000_000_250));
    let block = ReportBlock {
        last_sr: sent.middle32(),
        // the reporter held it for 200 ms
        delay_since_last_sr: to_short_units(Duration::from_millis(200)),
        ..ReportBlock::default()
    };
    let rtt = block.round_trip(now).unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(50)) < Duration::from_micros(100),
        "{rtt:?}"
    );
    assert_eq!(ReportBlock::default().round_trip(now), None);
    let early = NtpTime::from_unix(Duration::from_millis(1_700_000_000_100));
    assert_eq!(block.round_trip(early), None, "negative rtt");
}

#[test]
fn ntp_time_counts_from_1900_with_a_binary_fraction() {
    let t = NtpTime::from_unix(Duration::from_millis(1_500));
    assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET + 1);
    assert_eq!(t.0 & 0xffff_ffff, 0x8000_0000);
    assert_eq!(t.middle32(), ((NTP_UNIX_OFFSET + 1) as u32) << 16 | 0x8000);
}
