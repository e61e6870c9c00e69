//! The per-packet work of the media plane, without the sockets:
//!
//! - `rtp_parse_rewrite`: what the relay does to a 172-byte G.711 packet (12-byte header,
//!   160 bytes of µ-law) between receive and send: parse it in its buffer and rewrite SSRC,
//!   sequence number and timestamp in place.
//! - `jitter_push_pop_20ms`: one 20 ms frame through the adaptive jitter buffer in steady
//!   state (a packet pushed with its arrival time, a frame popped at the tick).
//! - `rtcp_reception_stats_per_packet`: RFC 3550 A.1/A.8 bookkeeping for one received packet.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::media::jitter::{JitterBuffer, JitterConfig, PacketMeta, Playout};
use switchboard_engine::media::rtcp::ReceptionStats;
use switchboard_engine::media::rtp::{
    write_header, Header, PayloadType, RtpPacketMut, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::Codec;

fn media(c: &mut Criterion) {
    let mut g = c.benchmark_group("media_rtp");
    g.throughput(Throughput::Elements(1));

    let mut packet = [0x7fu8; 172];
    let h = Header::new(
        PayloadType::new(0).unwrap(),
        Seq(1),
        RtpTimestamp(160),
        Ssrc(7),
    );
    write_header(&mut packet, &h).unwrap();
    g.bench_function("rtp_parse_rewrite", |b| {
        b.iter(|| {
            let mut p = RtpPacketMut::parse(black_box(&mut packet[..])).unwrap();
            let seq = p.seq().wrapping_add(1000);
            let ts = p.timestamp().wrapping_add(80_000);
            p.set_ssrc(Ssrc(0x5eed_0001));
            p.set_seq(seq);
            p.set_timestamp(ts);
        })
    });

    let mut jb = JitterBuffer::new(JitterConfig::for_codec(Codec::Pcmu));
    let payload = [0x55u8; 160];
    let t0 = Instant::now();
    let mut i = 0u32;
    g.bench_function("jitter_push_pop_20ms", |b| {
        b.iter(|| {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            let meta = PacketMeta {
                ssrc: Ssrc(1),
                seq: Seq(i as u16),
                timestamp: RtpTimestamp(i.wrapping_mul(160)),
                marker: false,
            };
            jb.push(at, meta, black_box(&payload));
            let played = match jb.pop(at + Duration::from_millis(10)) {
                Playout::Frame(f) => f.payload[0],
                _ => 0,
            };
            i = i.wrapping_add(1);
            played
        })
    });

    // a conference participant's voice: steered by slack, popped 3 ms after each arrival
    let mut jb = JitterBuffer::new(JitterConfig::low_latency(Codec::Pcmu));
    let mut i = 0u32;
    g.bench_function("jitter_low_latency_push_pop_20ms", |b| {
        b.iter(|| {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            let meta = PacketMeta {
                ssrc: Ssrc(1),
                seq: Seq(i as u16),
                timestamp: RtpTimestamp(i.wrapping_mul(160)),
                marker: false,
            };
            jb.push(at, meta, black_box(&payload));
            let played = match jb.pop(at + Duration::from_millis(3)) {
                Playout::Frame(f) => f.payload[0],
                _ => 0,
            };
            i = i.wrapping_add(1);
            played
        })
    });

    let mut stats = ReceptionStats::new(Ssrc(1), 8000);
    let mut n = 0u32;
    g.bench_function("rtcp_reception_stats_per_packet", |b| {
        b.iter(|| {
            let ts = n.wrapping_mul(160);
            // arrival jitter of up to 7 units, without a random source in the loop
            let arrival = ts.wrapping_add(4000 + (n.wrapping_mul(2_654_435_761) >> 29));
            let check = stats.on_packet(
                Seq(n as u16),
                RtpTimestamp(ts),
                black_box(RtpTimestamp(arrival)),
            );
            n = n.wrapping_add(1);
            check
        })
    });
    g.finish();
}

criterion_group!(benches, media);
criterion_main!(benches);
