//! The media hot paths allocate nothing per packet or per frame once a stream is set up.
//!
//! A counting global allocator tallies allocations per thread (so tests running in parallel do
//! not see each other's); each test sets its stream up, warms it, then runs thousands of
//! packets or frames and asserts the count did not move.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::dtmf::{Digit, DtmfReceiver, DtmfSender};
use switchboard_engine::media::jitter::{
    Concealment, JitterBuffer, JitterConfig, PacketMeta, Playout,
};
use switchboard_engine::media::rtcp::{
    parse_compound, NtpTime, ReceptionStats, RtcpWriter, SenderStats,
};
use switchboard_engine::media::rtp::{
    demux, write_header, Header, PacketKind, PayloadType, RtpPacket, RtpPacketMut, RtpTimestamp,
    Seq, Ssrc,
};
use switchboard_engine::media::Codec;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // try_with: the allocator also runs while thread-locals are torn down
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is passed on unchanged to the system allocator; counting touches only a
// const-initialized thread-local Cell, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc` is the system allocator's
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_counter_sees_an_allocation() {
    let n = allocations_during(|| {
        std::hint::black_box(vec![1u8; 64]);
    });
    assert_eq!(n, 1);
}

#[test]
fn relaying_a_packet_parses_and_rewrites_it_without_allocating() {
    let mut buf = [0u8; 172];
    let h = Header::new(
        PayloadType::new(0).unwrap(),
        Seq(1),
        RtpTimestamp(160),
        Ssrc(7),
    );
    write_header(&mut buf, &h).unwrap();
    let mut sum = 0u64;
    let n = allocations_during(|| {
        for i in 0..10_000u32 {
            buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            assert_eq!(demux(&buf), PacketKind::Rtp);
            let view = RtpPacket::parse(&buf).unwrap();
            sum += u64::from(view.payload()[0]) + u64::from(view.seq().0);
            let mut p = RtpPacketMut::parse(&mut buf).unwrap();
            let seq = p.seq();
            p.set_seq(seq.wrapping_add(1000));
            p.set_timestamp(p.timestamp().wrapping_add(i * 160));
            p.set_ssrc(Ssrc(0xdead_beef));
            p.set_payload_type(PayloadType::new(8).unwrap());
            p.set_marker(i % 50 == 0);
        }
    });
    assert_eq!(n, 0);
    std::hint::black_box(sum);
}

#[test]
fn the_jitter_buffer_pushes_and_pops_without_allocating_in_steady_state() {
    let mut jb = JitterBuffer::new(JitterConfig::for_codec(Codec::Pcmu));
    let mut conceal = Concealment::new();
    let mut pcm = [0i16; 160];
    let mut out = [0i16; 160];
    let mut e = Entropy::seeded(5);
    let t0 = Instant::now();
    let payload = [0xffu8; 160];
    let mut played = 0u64;
    let mut step = |jb: &mut JitterBuffer, i: u32| {
        // 1 % loss, jitter up to 60 ms (reordering), an occasional duplicate
        let r = e.next_u64();
        let at = t0 + ms(u64::from(i) * 20 + r % 61);
        let meta = PacketMeta {
            ssrc: Ssrc(1),
            seq: Seq(i as u16),
            timestamp: RtpTimestamp(i.wrapping_mul(160)),
            marker: false,
        };
        if !r.is_multiple_of(100) {
            jb.push(at, meta, &payload);
        }
        if r.is_multiple_of(97) {
            jb.push(at, meta, &payload);
        }
        match jb.pop(t0 + ms(u64::from(i) * 20 + 30)) {
            Playout::Frame(f) => {
                pcm.fill(i16::from(f.payload[0]));
                conceal.good_frame(&mut pcm);
                played += 1;
            }
            Playout::Missing => conceal.conceal(&mut out),
            Playout::Idle => {}
        }
    };
    for i in 0..200 {
        step(&mut jb, i);
    }
    let n = allocations_during(|| {
        for i in 200..20_200 {
            step(&mut jb, i);
        }
    });
    assert_eq!(n, 0);
    assert!(played > 19_000, "{played}");
}

#[test]
fn dtmf_in_and_out_runs_without_allocating() {
    let pt = PayloadType::new(101).unwrap();
    let mut rx = DtmfReceiver::new(pt, 8000, ms(500));
    let mut tx = DtmfSender::new(pt, 8000);
    let mut buf = [0u8; 64];
    let t0 = Instant::now();
    let digits = "0123456789*#ABCD";
    let mut now = t0;
    let mut seq = 0u16;
    let mut received = 0usize;
    let mut run = |presses: usize, rx: &mut DtmfReceiver, tx: &mut DtmfSender| {
        for (i, c) in digits.chars().cycle().take(presses).enumerate() {
            tx.send(now, Digit::from_char(c).unwrap(), ms(80)).unwrap();
            while let Some(at) = tx.poll_timeout() {
                now = now.max(at);
                let clock = RtpTimestamp((now - t0).as_millis() as u32 * 8);
                let Some(p) = tx.poll(now, clock) else {
                    continue;
                };
                let n = p.write_rtp(&mut buf, Seq(seq), Ssrc(9)).unwrap();
                seq = seq.wrapping_add(1);
                rx.handle_packet(now, &RtpPacket::parse(&buf[..n]).unwrap());
                if let Some(e) = rx.poll_event() {
                    assert_eq!(e.digit.as_char(), c, "press {i}");
                    received += 1;
                }
            }
        }
    };
    run(20, &mut rx, &mut tx);
    let n = allocations_during(|| run(2_000, &mut rx, &mut tx));
    assert_eq!(n, 0);
    assert_eq!(received, 2_020);
}

#[test]
fn rtcp_statistics_and_reports_run_without_allocating() {
    let mut stats = ReceptionStats::new(Ssrc(1), 8000);
    let mut sent = SenderStats::new();
    let mut buf = [0u8; 512];
    let t0 = Instant::now();
    let mut e = Entropy::seeded(9);
    let mut reports = 0;
    let n = allocations_during(|| {
        for i in 0..20_000u32 {
            let ts = i.wrapping_mul(160);
            let arrival = ts.wrapping_add(4000 + (e.next_u64() % 160) as u32);
            stats.on_packet(Seq(i as u16), RtpTimestamp(ts), RtpTimestamp(arrival));
            sent.on_sent(160);
            if i % 250 == 0 {
                let now = t0 + ms(u64::from(i) * 20);
                let block = stats.report_block(now);
                let mut w = RtcpWriter::new(&mut buf);
                let info = sent.sender_info(NtpTime(u64::from(i) << 32), RtpTimestamp(ts));
                w.sender_report(Ssrc(2), &info, &[block]).unwrap();
                w.sdes_cname(Ssrc(2), b"switchboard@192.0.2.1").unwrap();
                let len = w.len();
                reports += parse_compound(&buf[..len]).unwrap().packets().count();
                std::hint::black_box(stats.summary());
            }
        }
    });
    assert_eq!(n, 0);
    assert_eq!(reports, 2 * 80);
}
