//! SRTP per packet, what the media thread adds for a leg that speaks it: a 160-byte G.711
//! payload (a 172-byte RTP packet) protected (AES-CM encryption, HMAC-SHA1 80-bit tag) and
//! unprotected (index estimation, replay window, tag check, decryption), in place.
//!
//! - `srtp_protect_160b`: a plain packet to SRTP (sequence numbers advancing).
//! - `srtp_unprotect_160b`: an SRTP packet back to RTP; each iteration restores a fresh
//!   protected packet first (a copy of 182 bytes), so the replay window never refuses it.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::media::rtp::{write_header, Header, PayloadType, RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::srtp::{MasterKey, SrtpContext, Suite, SRTP_OVERHEAD};

const SUITE: Suite = Suite::AesCm128HmacSha1_80;

fn packet(seq: u16, buf: &mut [u8]) -> usize {
    let h = Header::new(
        PayloadType::new(0).unwrap(),
        Seq(seq),
        RtpTimestamp(u32::from(seq) * 160),
        Ssrc(0x5eed),
    );
    let n = write_header(buf, &h).unwrap();
    buf[n..n + 160].fill(0x55);
    n + 160
}

fn srtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp");
    g.throughput(Throughput::Elements(1));
    let key = MasterKey::from_bytes(&[7; 30]);

    let mut tx = SrtpContext::new(SUITE, &key);
    let mut buf = [0u8; 172 + SRTP_OVERHEAD];
    let mut seq = 0u16;
    g.bench_function("srtp_protect_160b", |b| {
        b.iter(|| {
            let n = packet(seq, &mut buf);
            seq = seq.wrapping_add(1);
            black_box(tx.protect(black_box(&mut buf), n).unwrap())
        })
    });

    // 60,000 protected packets, unprotected in turn (more than a bench run takes)
    let mut sealer = SrtpContext::new(SUITE, &key);
    let sealed: Vec<[u8; 182]> = (0..60_000u32)
        .map(|i| {
            let mut p = [0u8; 182];
            let n = packet(i as u16, &mut p);
            sealer.protect(&mut p, n).unwrap();
            p
        })
        .collect();
    let mut rx = SrtpContext::new(SUITE, &key);
    let mut i = 0;
    let mut work = [0u8; 182];
    g.bench_function("srtp_unprotect_160b", |b| {
        b.iter(|| {
            if i == sealed.len() {
                // start over with a fresh receiver: the same indexes would be replays
                rx = SrtpContext::new(SUITE, &key);
                i = 0;
            }
            work.copy_from_slice(&sealed[i]);
            i += 1;
            black_box(rx.unprotect(black_box(&mut work), 182).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, srtp);
criterion_main!(benches);
