use super::*;
use crate::media::srtp::{MasterKey, SrtpContext, SrtpKeys, Suite};

const SUITE: Suite = Suite::AesCm128HmacSha1_80;

fn phone_key() -> MasterKey {
    MasterKey::from_bytes(&[0x11; 30])
}

fn switch_key() -> MasterKey {
    MasterKey::from_bytes(&[0x22; 30])
}

/// The caller speaks SRTP, the callee plain RTP, both PCMU.
fn rig() -> Rig {
    let caller = StreamConfig {
        srtp: Some(SrtpKeys {
            suite: SUITE,
            inbound: phone_key(),
            outbound: switch_key(),
        }),
        ..stream(CALLER, Codec::Pcmu, 0, None)
    };
    Rig::call(caller, stream(CALLEE, Codec::Pcmu, 0, None))
}

fn protect(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 10, 0);
    let n = ctx.protect(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn srtp_from_one_side_reaches_the_plain_side_decrypted_and_back_encrypted() {
    let mut r = rig();
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 0x77);
    let mut sealer = SrtpContext::new(SUITE, &phone_key());
    let plain = phone.packet(&[800; 160]);
    let sent = protect(&mut sealer, &plain);
    let a = r.recv(r.t0, Side::Caller, phone.from, &sent);
    assert!(
        matches!(
            a,
            Action::Forward {
                side: Side::Callee,
                len: 172,
                ..
            }
        ),
        "{a:?}"
    );
    assert_eq!(
        r.take(Side::Callee)[0].bytes,
        plain,
        "the plain side gets plain RTP"
    );

    let mut back = Phone::new(CALLEE, Codec::Pcmu, 0, 0x88);
    let plain = back.packet(&[-800; 160]);
    r.recv(r.t0, Side::Callee, back.from, &plain);
    let out = r.take(Side::Caller);
    assert_eq!(out[0].bytes.len(), plain.len() + 10, "with its tag");
    assert_ne!(out[0].bytes[12..172], plain[12..], "encrypted");
    let mut reader = SrtpContext::new(SUITE, &switch_key());
    let mut buf = out[0].bytes.clone();
    let n = reader.unprotect(&mut buf, out[0].bytes.len()).unwrap();
    assert_eq!(
        buf[..n],
        plain[..],
        "the phone reads it with the switch's key"
    );
}

#[test]
fn forged_and_replayed_srtp_is_dropped_and_counted_before_it_latches() {
    let mut r = rig();
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 0x77);
    let mut sealer = SrtpContext::new(SUITE, &phone_key());
    let sent = protect(&mut sealer, &phone.packet(&[800; 160]));
    let mut forged = sent.clone();
    forged[30] ^= 1;
    let stranger = addr("203.0.113.9:4000");
    assert_eq!(
        r.recv(r.t0, Side::Caller, stranger, &forged),
        Action::Dropped(DropReason::Srtp)
    );
    let plain = phone.packet(&[800; 160]);
    assert_eq!(
        r.recv(r.t0, Side::Caller, stranger, &plain),
        Action::Dropped(DropReason::Srtp),
        "plain RTP on an SRTP side"
    );
    assert!(r.events.is_empty(), "nothing latched: {:?}", r.events);
    assert!(matches!(
        r.recv(r.t0, Side::Caller, phone.from, &sent),
        Action::Forward { .. }
    ));
    assert_eq!(
        r.recv(r.t0, Side::Caller, phone.from, &sent),
        Action::Dropped(DropReason::Srtp),
        "a replay"
    );
    let st = r.s.stats();
    let caller = st.side(Side::Caller).unwrap();
    assert_eq!((caller.srtp, caller.rx_packets), (3, 1));
    assert!(caller.srtp_active && !st.side(Side::Callee).unwrap().srtp_active);
}

#[test]
fn relayed_rtcp_is_srtcp_on_the_srtp_side_and_the_switchs_own_packets_are_protected() {
    let mut r = rig();
    // the callee's receiver report reaches the caller as SRTCP
    let rr = [0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 0x88];
    let mut buf = [0u8; 256];
    buf[..8].copy_from_slice(&rr);
    let a = r.s.handle_packet(
        r.t0,
        Side::Callee,
        addr("192.0.2.20:5001"),
        true,
        &mut buf,
        8,
    );
    let Action::Forward {
        side: Side::Caller,
        len,
        ..
    } = a
    else {
        panic!("{a:?}");
    };
    assert_eq!(len, 8 + 14, "E flag, index and an 80-bit tag");
    let mut reader = SrtpContext::new(SUITE, &switch_key());
    let n = reader.unprotect_rtcp(&mut buf, len).unwrap();
    assert_eq!(buf[..n], rr);
    // the caller's SRTCP reaches the callee as RTCP
    let mut sealer = SrtpContext::new(SUITE, &phone_key());
    let mut buf = [0u8; 256];
    buf[..8].copy_from_slice(&[0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 0x77]);
    let n = sealer.protect_rtcp(&mut buf, 8).unwrap();
    let a = r.s.handle_packet(
        r.t0,
        Side::Caller,
        addr("192.0.2.10:4001"),
        true,
        &mut buf,
        n,
    );
    assert!(
        matches!(
            a,
            Action::Forward {
                side: Side::Callee,
                len: 8,
                ..
            }
        ),
        "{a:?}"
    );
    // a tone the switch plays to the SRTP side goes out protected
    r.s.play(r.t0, Side::Caller, Source::Tone(Tone::RECORDING_NOTICE));
    r.run_until(r.at(200));
    let out = r.take(Side::Caller);
    assert!(out.len() >= 5, "{} packets", out.len());
    let mut reader = SrtpContext::new(SUITE, &switch_key());
    for o in &out {
        let mut b = o.bytes.clone();
        let n = reader
            .unprotect(&mut b, o.bytes.len())
            .expect("the switch's key");
        assert!(RtpPacket::parse(&b[..n]).is_ok());
    }
}
