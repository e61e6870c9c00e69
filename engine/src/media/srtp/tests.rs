use super::*;

/// Bytes of a hex string (whitespace and backslash-newline continuations ignored).
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// The master key of RFC 3711 B.3, which libsrtp's reference packets use too.
fn b3_key() -> MasterKey {
    MasterKey::from_slice(&hex(
        "E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6",
    ))
    .unwrap()
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// `plain` protected by `ctx`, in a buffer with room for the tag.
fn protect(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + SRTP_OVERHEAD, 0);
    let n = ctx.protect(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(ctx: &mut SrtpContext, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = packet.to_vec();
    let n = ctx.unprotect(&mut buf, packet.len())?;
    buf.truncate(n);
    Ok(buf)
}

fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
    let key = b3_key();
    (SrtpContext::new(suite, &key), SrtpContext::new(suite, &key))
}

#[test]
fn a_packet_protects_to_libsrtps_reference_packet_and_back() {
    let plain = hex("800f1234decafbadcafebabe abababababababababababababababab");
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let protected = protect(&mut tx, &plain);
    assert_eq!(
        protected,
        hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
    );
    assert_eq!(unprotect(&mut rx, &protected).unwrap(), plain);
}

#[test]
fn an_rtcp_packet_protects_to_libsrtps_reference_packet_and_back() {
    let plain = hex("81c8000bcafebabe abababababababababababababababab");
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let mut buf = plain.clone();
    buf.resize(plain.len() + SRTCP_OVERHEAD, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(
        buf[..n].to_vec(),
        hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798")
    );
    let sent = buf[..n].to_vec();
    let back = rx.unprotect_rtcp(&mut buf, n).unwrap();
    assert_eq!(buf[..back].to_vec(), plain);
    assert_eq!(
        rx.unprotect_rtcp(&mut sent.clone(), n),
        Err(SrtpError::Replay)
    );
}

#[test]
fn both_suites_round_trip_with_their_own_tag_lengths() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let plain = rtp(7, 0x1234_5678, &[0xd5; 160]);
        let p = protect(&mut tx, &plain);
        assert_eq!(p.len(), plain.len() + suite.rtp_tag_len(), "{suite}");
        assert_ne!(p[12..172], plain[12..], "the payload is encrypted");
        assert_eq!(p[..12], plain[..12], "the header stays in clear");
        assert_eq!(unprotect(&mut rx, &p).unwrap(), plain, "{suite}");
    }
}

#[test]
fn a_tampered_packet_or_a_wrong_key_is_refused_and_changes_nothing() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let plain = rtp(100, 1, &[1; 160]);
    let p = protect(&mut tx, &plain);
    for at in [0, 3, 11, 12, 100, p.len() - 1] {
        let mut bad = p.clone();
        bad[at] ^= 0x01;
        let mut buf = bad.clone();
        assert_eq!(
            rx.unprotect(&mut buf, bad.len()),
            Err(SrtpError::Auth),
            "byte {at}"
        );
        assert_eq!(buf, bad, "nothing decrypted");
    }
    let mut other = SrtpContext::new(Suite::AesCm128HmacSha1_80, &MasterKey::from_bytes(&[9; 30]));
    assert_eq!(unprotect(&mut other, &p), Err(SrtpError::Auth));
    assert_eq!(
        unprotect(&mut rx, &p).unwrap(),
        plain,
        "the forgeries moved no window"
    );
    assert_eq!(
        unprotect(&mut rx, &p[..15]),
        Err(SrtpError::Malformed { len: 15 })
    );
}

#[test]
fn a_replayed_or_too_old_packet_is_refused_and_a_late_one_taken() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32);
    let packets: Vec<Vec<u8>> = (0..100u16)
        .map(|seq| protect(&mut tx, &rtp(1000 + seq, 5, &[seq as u8; 20])))
        .collect();
    assert!(unprotect(&mut rx, &packets[0]).is_ok());
    assert!(unprotect(&mut rx, &packets[2]).is_ok());
    assert_eq!(unprotect(&mut rx, &packets[2]), Err(SrtpError::Replay));
    assert!(
        unprotect(&mut rx, &packets[1]).is_ok(),
        "late but in the window"
    );
    assert!(unprotect(&mut rx, &packets[99]).is_ok());
    assert_eq!(
        unprotect(&mut rx, &packets[20]),
        Err(SrtpError::Replay),
        "79 behind"
    );
    assert!(unprotect(&mut rx, &packets[40]).is_ok(), "59 behind");
}

#[test]
fn the_rollover_counter_carries_across_sequence_65535_to_0() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let seqs: Vec<u16> = (65_530..=65_535).chain(0..6).collect();
    let mut packets: Vec<(Vec<u8>, Vec<u8>)> = seqs
        .iter()
        .map(|&s| {
            let plain = rtp(s, 77, &[s as u8; 40]);
            (protect(&mut tx, &plain), plain)
        })
        .collect();
    // one from before the wrap arrives after it
    packets.swap(5, 7);
    for (p, plain) in &packets {
        assert_eq!(&unprotect(&mut rx, p).unwrap(), plain);
    }
    // a receiver that thought the ROC was still 0 would fail: the tag covers ROC 1
    let mut early = SrtpContext::new(Suite::AesCm128HmacSha1_80, &b3_key());
    let (last, _) = packets.last().unwrap();
    assert_eq!(
        unprotect(&mut early, last),
        Err(SrtpError::Auth),
        "seq 5 under ROC 0 is not seq 5 under ROC 1"
    );
}

#[test]
fn each_source_has_its_own_index_and_window() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let a = protect(&mut tx, &rtp(10, 1, &[1; 10]));
    let b = protect(&mut tx, &rtp(10, 2, &[2; 10]));
    assert!(unprotect(&mut rx, &a).is_ok());
    assert!(unprotect(&mut rx, &b).is_ok(), "same seq, other source");
    assert_eq!(unprotect(&mut rx, &b), Err(SrtpError::Replay));
}

#[test]
fn headers_with_csrcs_and_extensions_stay_in_clear_and_a_short_buffer_is_an_error() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    // one CSRC, a one-word extension
    let mut plain = vec![0x91, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
    plain.extend_from_slice(&[0xaa; 4]);
    plain.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0x20, 0x30, 0x40]);
    plain.extend_from_slice(&[0x55; 20]);
    let p = protect(&mut tx, &plain);
    assert_eq!(p[..24], plain[..24]);
    assert_ne!(p[24..44], plain[24..]);
    assert_eq!(unprotect(&mut rx, &p).unwrap(), plain);
    let mut tight = plain.clone();
    assert_eq!(
        tx.protect(&mut tight, plain.len()),
        Err(SrtpError::BufferTooSmall {
            needed: plain.len() + 10,
            capacity: plain.len()
        })
    );
    let mut lying = plain.clone();
    lying[0] = 0x8f; // 15 CSRCs: more than the packet holds
    lying.resize(lying.len() + 10, 0);
    assert!(matches!(
        tx.protect(&mut lying, plain.len()),
        Err(SrtpError::Malformed { .. })
    ));
}

#[test]
fn srtcp_refuses_replays_and_tampering_and_reads_unencrypted_packets() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32);
    let plain = hex("80c90001 00000042");
    let mut buf = plain.clone();
    buf.resize(64, 0);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(
        n,
        plain.len() + SRTCP_OVERHEAD,
        "SRTCP keeps 80 bits with _32"
    );
    let sent = buf[..n].to_vec();
    let mut tampered = sent.clone();
    tampered[n - 12] ^= 0x80; // the E flag
    assert_eq!(rx.unprotect_rtcp(&mut tampered, n), Err(SrtpError::Auth));
    let mut once = sent.clone();
    assert_eq!(rx.unprotect_rtcp(&mut once, n), Ok(plain.len()));
    assert_eq!(once[..plain.len()], plain[..]);
    assert_eq!(
        rx.unprotect_rtcp(&mut sent.clone(), n),
        Err(SrtpError::Replay)
    );
    let mut short = sent[..20].to_vec();
    assert_eq!(
        rx.unprotect_rtcp(&mut short, 20),
        Err(SrtpError::Malformed { len: 20 })
    );
}

#[test]
fn keys_round_trip_as_bytes_and_are_never_printed() {
    let a = b3_key();
    let c = MasterKey::from_bytes(&[3; 30]);
    assert_eq!(MasterKey::from_bytes(&a.to_bytes()), a);
    assert_eq!(a.key[0], 0xE1);
    assert_eq!(a.salt[0], 0x0E);
    assert_eq!(format!("{a:?}"), "MasterKey(..)");
    let keys = SrtpKeys {
        suite: Suite::AesCm128HmacSha1_80,
        inbound: a,
        outbound: c,
    };
    assert!(format!("{keys:?}").contains("inbound: MasterKey(..), outbound: MasterKey(..)"));
    assert_eq!(
        Suite::from_name("AES_CM_128_HMAC_SHA1_32"),
        Some(Suite::AesCm128HmacSha1_32)
    );
    assert_eq!(
        Suite::from_name("aes_cm_128_hmac_sha1_32"),
        None,
        "names are case-sensitive"
    );
}
