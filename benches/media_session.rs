//! A media session's per-packet and per-tick work, without the sockets:
//!
//! - `session_relay_packet`: `handle_packet` of a 172-byte PCMU packet (12-byte header, 160
//!   bytes of µ-law) on a relayed call: demux, parse, payload type check, strict-source check,
//!   RFC 3550 statistics, the in-place forward decision.
//! - `session_transcode_tick_g722_pcmu`: one 20 ms tick of a G.722 <-> PCMU call in both
//!   directions: a packet from each phone into its jitter buffer, the tick (decode, resample
//!   16 -> 8 and 8 -> 16 kHz, encode), and the two packets out through `poll_transmit` (the
//!   phones' packets are encoded beforehand).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::codec::Encoder;
use switchboard_engine::media::rtp::{write_header, Header, PayloadType, RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::session::{Session, SessionConfig, StreamConfig, MAX_TRANSMIT};
use switchboard_engine::media::{Codec, Side};

fn side(remote: &str, codec: Codec, pt: u8) -> StreamConfig {
    let remote: SocketAddr = remote.parse().unwrap();
    StreamConfig {
        remote,
        remote_rtcp: SocketAddr::new(remote.ip(), remote.port() + 1),
        rtcp_mux: true,
        codec,
        payload_type: pt,
        incoming_payload_type: pt,
        telephone_event: Some(101),
        incoming_telephone_event: Some(101),
        sends: true,
        receives: true,
        srtp: None,
    }
}

fn packet(codec: Codec, pt: u8, seq: u16, pcm: &[i16], enc: &mut Encoder, buf: &mut [u8]) -> usize {
    let ts = u32::from(seq) * codec.frame_timestamp_units();
    let h = Header::new(
        PayloadType::new(pt).unwrap(),
        Seq(seq),
        RtpTimestamp(ts),
        Ssrc(7),
    );
    let n = write_header(buf, &h).unwrap();
    n + enc.encode(pcm, &mut buf[n..])
}

fn session(c: &mut Criterion) {
    let mut g = c.benchmark_group("media_session");
    g.throughput(Throughput::Elements(1));

    let t0 = Instant::now();
    let caller: SocketAddr = "192.0.2.10:4000".parse().unwrap();
    let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(1));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::Pcmu, 0));
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::Pcmu, 0));
    s.activate(t0);
    let mut buf = [0u8; 2048];
    let mut enc = Encoder::new(Codec::Pcmu);
    let len = packet(Codec::Pcmu, 0, 0, &[300; 160], &mut enc, &mut buf);
    assert_eq!(len, 172);
    let mut k = 0u64;
    g.bench_function("session_relay_packet", |b| {
        b.iter(|| {
            k += 1;
            buf[2..4].copy_from_slice(&(k as u16).to_be_bytes());
            let now = t0 + Duration::from_millis(20 * k);
            black_box(s.handle_packet(now, Side::Caller, caller, false, &mut buf, 172))
        })
    });

    let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(2));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::G722, 9));
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::Pcmu, 0));
    s.activate(t0);
    let callee: SocketAddr = "192.0.2.20:5000".parse().unwrap();
    // the phones' packets are encoded beforehand (a second of each), so only the session's
    // work is timed
    let (mut wide, mut narrow) = (Encoder::new(Codec::G722), Encoder::new(Codec::Pcmu));
    let frames = |codec: Codec, pt: u8, enc: &mut Encoder, step: usize| -> Vec<Vec<u8>> {
        (0..50u16)
            .map(|k| {
                let n = codec.sample_rate().frame_samples();
                let pcm: Vec<i16> = (0..n)
                    .map(|i| (((i + k as usize * n) * step) % 4000) as i16 - 2000)
                    .collect();
                let mut b = vec![0u8; 400];
                let len = packet(codec, pt, k, &pcm, enc, &mut b);
                b.truncate(len);
                b
            })
            .collect()
    };
    let g722 = frames(Codec::G722, 9, &mut wide, 37);
    let pcmu = frames(Codec::Pcmu, 0, &mut narrow, 53);
    let mut out = [0u8; MAX_TRANSMIT];
    let mut k = 0u64;
    let mut sent = 0u64;
    g.bench_function("session_transcode_tick_g722_pcmu", |b| {
        b.iter(|| {
            k += 1;
            let now = t0 + Duration::from_millis(20 * k);
            for (p, side, from, units) in [
                (&g722, Side::Caller, caller, 160u32),
                (&pcmu, Side::Callee, callee, 160u32),
            ] {
                let p = &p[k as usize % 50];
                buf[..p.len()].copy_from_slice(p);
                buf[2..4].copy_from_slice(&(k as u16).to_be_bytes());
                buf[4..8].copy_from_slice(&(k as u32 * units).to_be_bytes());
                s.handle_packet(now, side, from, false, &mut buf, p.len());
            }
            while let Some(at) = s.poll_timeout().filter(|&at| at <= now) {
                s.handle_timeout(at);
                while s.poll_transmit(at, &mut out).is_some() {
                    sent += 1;
                }
            }
        })
    });
    g.finish();
    assert!(sent > 0);
}

criterion_group!(benches, session);
criterion_main!(benches);
