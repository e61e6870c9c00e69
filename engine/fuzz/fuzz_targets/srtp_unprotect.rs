//! SRTP and SRTCP unprotection on arbitrary bytes: it must answer without panicking, and
//! nothing it refuses changes the buffer. Bytes the fuzzer forges almost never authenticate,
//! so each input is also protected by the sender's context and must come back as it was
//! (with the first bytes made a valid RTP header), then be refused as a replay.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::srtp::{MasterKey, SrtpContext, Suite, SRTCP_OVERHEAD};

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_bytes(&[0x3c; 30]);
    let suite = if data.first().is_some_and(|b| b & 1 == 1) {
        Suite::AesCm128HmacSha1_32
    } else {
        Suite::AesCm128HmacSha1_80
    };
    let mut rx = SrtpContext::new(suite, &key);
    for rtcp in [false, true] {
        let mut buf = data.to_vec();
        let r = if rtcp {
            rx.unprotect_rtcp(&mut buf, data.len())
        } else {
            rx.unprotect(&mut buf, data.len())
        };
        if r.is_err() {
            assert_eq!(buf, data, "a refused packet is left as it was");
        }
    }

    let mut tx = SrtpContext::new(suite, &key);
    let mut rx = SrtpContext::new(suite, &key);
    let mut plain = data.to_vec();
    if plain.len() >= 12 {
        // version 2, no CSRCs, no extension, so the header is 12 bytes
        plain[0] = 0x80;
    }
    let mut buf = plain.clone();
    buf.resize(plain.len() + SRTCP_OVERHEAD, 0);
    if let Ok(n) = tx.protect(&mut buf, plain.len()) {
        let sealed = buf[..n].to_vec();
        let back = rx.unprotect(&mut buf, n).expect("our own packet authenticates");
        assert_eq!(buf[..back], plain[..]);
        let mut again = sealed.clone();
        assert!(rx.unprotect(&mut again, n).is_err(), "a replay");
    }
    let mut buf = data.to_vec();
    buf.resize(data.len() + SRTCP_OVERHEAD, 0);
    if let Ok(n) = tx.protect_rtcp(&mut buf, data.len()) {
        let back = rx.unprotect_rtcp(&mut buf, n).expect("our own packet authenticates");
        assert_eq!(buf[..back], data[..]);
    }
});
