//! The media threads' receive loop allocates nothing per packet once a session is set up:
//! relayed packets (receive, session, send on the other side's socket) and the frame path
//! (transcoded packets sent on every tick), packets relayed between an IPv4 leg and an
//! IPv6 one, and packets relayed on an io_uring (`media.io = "uring"`).
//!
//! A counting global allocator counts the allocations of the whole process (the media thread
//! is not ours to mark), so this file holds one test and the test thread only sends and
//! receives on std sockets during the measured windows.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use switchboard_actors::api::media::MediaNote;
use switchboard_actors::config::Config;
use switchboard_actors::media::MediaPlane;
use switchboard_actors::metrics::Metrics;
use switchboard_engine::media::rtp::{write_header, Header, PayloadType, RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::session::StreamConfig;
use switchboard_engine::media::{Codec, Side};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on unchanged to the system allocator; counting is one atomic
// add, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is the system allocator's
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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

struct Owner;

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<MediaNote> for Owner {
    type Result = ();
    fn handle(&mut self, _: MediaNote, _: &mut Context<Self>) {}
}

fn side(remote: SocketAddr, codec: Codec, pt: u8) -> StreamConfig {
    StreamConfig {
        remote,
        remote_rtcp: SocketAddr::new(remote.ip(), remote.port() + 1),
        rtcp_mux: false,
        codec,
        payload_type: pt,
        incoming_payload_type: pt,
        telephone_event: None,
        incoming_telephone_event: None,
        sends: true,
        receives: true,
        srtp: None,
    }
}

/// Sends `n` packets of `codec` from `from` to `to` (every `pace`, or as fast as they come
/// back), taking what arrives at `at`; returns how many arrived. Allocation-free.
#[allow(clippy::too_many_arguments)]
fn exchange(
    from: &UdpSocket,
    to: SocketAddr,
    at: &UdpSocket,
    codec: Codec,
    pt: u8,
    seq: &mut u16,
    n: usize,
    pace: Option<Duration>,
) -> usize {
    let mut buf = [0u8; 512];
    let mut got = 0;
    let start = Instant::now();
    for k in 0..n {
        let ts = RtpTimestamp(u32::from(*seq) * codec.frame_timestamp_units());
        let h = Header::new(PayloadType::new(pt).unwrap(), Seq(*seq), ts, Ssrc(1));
        let len = write_header(&mut buf, &h).unwrap() + codec.frame_payload_bytes();
        from.send_to(&buf[..len], to).unwrap();
        *seq = seq.wrapping_add(1);
        match pace {
            Some(p) => {
                // the frame path answers on its own clock: take whatever is there
                let next = start + p * (k as u32 + 1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                while at.recv_from(&mut buf).is_ok() {
                    got += 1;
                }
            }
            // the relay answers at once
            None => got += usize::from(at.recv_from(&mut buf).is_ok()),
        }
    }
    got
}

#[actix_rt::test]
async fn the_media_thread_relays_and_transcodes_without_allocating_per_packet() {
    let mut m = Config::load(None).unwrap().media;
    m.ports = "41480-41499".into();
    m.threads = 1;
    m.address_v6 = Some("::1".parse().unwrap());
    let plane = MediaPlane::start(&m, Arc::new(Metrics::new())).unwrap();
    let owner = Owner.start();
    let (a, b) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());

    // relay
    let s = plane
        .open(&[Side::Caller, Side::Callee], owner.clone().recipient())
        .unwrap();
    s.configure(Side::Caller, side(aa, Codec::Pcmu, 0));
    s.configure(Side::Callee, side(ba, Codec::Pcmu, 0));
    let (pa, pb) = (
        s.local(Side::Caller).unwrap().rtp,
        s.local(Side::Callee).unwrap().rtp,
    );
    let (mut sa, mut sb) = (0u16, 0u16);
    exchange(&a, pa, &b, Codec::Pcmu, 0, &mut sa, 200, None);
    exchange(&b, pb, &a, Codec::Pcmu, 0, &mut sb, 200, None);
    // the owner takes the latch notes now, outside the window
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let there = exchange(&a, pa, &b, Codec::Pcmu, 0, &mut sa, 5_000, None);
    let back = exchange(&b, pb, &a, Codec::Pcmu, 0, &mut sb, 5_000, None);
    let relayed = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(s);

    // frame path: G.722 from the caller to a PCMU callee, one packet per 20 ms tick
    let t = plane
        .open(&[Side::Caller, Side::Callee], owner.clone().recipient())
        .unwrap();
    t.configure(Side::Caller, side(aa, Codec::G722, 9));
    t.configure(Side::Callee, side(ba, Codec::Pcmu, 0));
    let pa = t.local(Side::Caller).unwrap().rtp;
    let tick = Some(Duration::from_millis(20));
    b.set_nonblocking(true).unwrap();
    exchange(&a, pa, &b, Codec::G722, 9, &mut sa, 20, tick);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let transcoded = exchange(&a, pa, &b, Codec::G722, 9, &mut sa, 100, tick);
    let framed = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(t);

    // relay between an IPv4 caller and an IPv6 callee
    let c = UdpSocket::bind("[::1]:0").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    b.set_nonblocking(false).unwrap();
    a.set_nonblocking(false).unwrap();
    while a.recv_from(&mut [0u8; 512]).is_ok() {}
    let u = plane
        .open_in(
            &[(Side::Caller, false), (Side::Callee, true)],
            owner.clone().recipient(),
        )
        .unwrap();
    u.configure(Side::Caller, side(aa, Codec::Pcmu, 0));
    u.configure(Side::Callee, side(c.local_addr().unwrap(), Codec::Pcmu, 0));
    let (pa, pc) = (
        u.local(Side::Caller).unwrap().rtp,
        u.local(Side::Callee).unwrap().rtp,
    );
    assert!(pa.is_ipv4() && pc.is_ipv6(), "{pa} {pc}");
    exchange(&a, pa, &c, Codec::Pcmu, 0, &mut sa, 200, None);
    exchange(&c, pc, &a, Codec::Pcmu, 0, &mut sb, 200, None);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let to_v6 = exchange(&a, pa, &c, Codec::Pcmu, 0, &mut sa, 5_000, None);
    let to_v4 = exchange(&c, pc, &a, Codec::Pcmu, 0, &mut sb, 5_000, None);
    let bridged = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(u);
    plane.stop();

    // relay on io_uring (a thread on epoll where the kernel has none)
    let mut m = Config::load(None).unwrap().media;
    m.ports = "41620-41639".into();
    m.threads = 1;
    m.io = "uring".into();
    let plane = MediaPlane::start(&m, Arc::new(Metrics::new())).unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(false).unwrap();
        while s.recv_from(&mut [0u8; 512]).is_ok() {}
    }
    let w = plane
        .open(&[Side::Caller, Side::Callee], owner.recipient())
        .unwrap();
    w.configure(Side::Caller, side(aa, Codec::Pcmu, 0));
    w.configure(Side::Callee, side(ba, Codec::Pcmu, 0));
    let (pa, pb) = (
        w.local(Side::Caller).unwrap().rtp,
        w.local(Side::Callee).unwrap().rtp,
    );
    exchange(&a, pa, &b, Codec::Pcmu, 0, &mut sa, 200, None);
    exchange(&b, pb, &a, Codec::Pcmu, 0, &mut sb, 200, None);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let ring_there = exchange(&a, pa, &b, Codec::Pcmu, 0, &mut sa, 5_000, None);
    let ring_back = exchange(&b, pb, &a, Codec::Pcmu, 0, &mut sb, 5_000, None);
    let ringed = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(w);
    plane.stop();

    assert!(
        ring_there >= 4_990 && ring_back >= 4_990,
        "{ring_there} {ring_back}"
    );
    assert_eq!(ringed, 0, "allocations relaying 10,000 packets on io_uring");

    assert!(to_v6 >= 4_990 && to_v4 >= 4_990, "{to_v6} {to_v4}");
    assert_eq!(
        bridged, 0,
        "allocations relaying 10,000 packets between IPv4 and IPv6"
    );
    assert!(there >= 4_990 && back >= 4_990, "{there} {back}");
    assert!(transcoded >= 90, "{transcoded}");
    assert_eq!(relayed, 0, "allocations relaying 10,000 packets");
    assert_eq!(framed, 0, "allocations over 100 transcoded ticks");
}
