//! A media session allocates nothing per packet or per tick once its sides are set up: the
//! relay fast path, the frame path (jitter buffer, G.722 and PCMU codecs, resampling both
//! ways, a sink), a tone source, DTMF in and out, and a conference participant (following a
//! mixer's clock, its mix pushed to its feed, a prompt over the mix), and SRTP on a side
//! (unprotected on arrival, protected on the way out, relayed and transcoded).
//!
//! A counting global allocator tallies allocations per thread; each test sets its session up,
//! warms it, then runs thousands of packets and ticks and asserts the count did not move.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::codec::Encoder;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::rtp::{write_header, Header, PayloadType, RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::session::{
    Action, MixerClock, Session, SessionConfig, Source, StreamConfig, MAX_TRANSMIT,
};
use switchboard_engine::media::srtp::{MasterKey, SrtpContext, SrtpKeys, Suite};
use switchboard_engine::media::tone::{Ringback, Tone};
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed, SampleRate, Side};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count(size: usize) {
    // try_with: the allocator also runs while thread-locals are torn down
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
}

// SAFETY: every call is passed on unchanged to the system allocator; counting touches only a
// const-initialized thread-local Cell, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc` is the system allocator's
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
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

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn side(remote: &str, codec: Codec, pt: u8) -> StreamConfig {
    let remote = addr(remote);
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

/// A phone's packets, written into a reused buffer.
struct Phone {
    from: SocketAddr,
    codec: Codec,
    pt: u8,
    seq: u16,
    ts: u32,
    encoder: Encoder,
    pcm: Vec<i16>,
    /// The phone's own SRTP, when it speaks it.
    srtp: Option<SrtpContext>,
}

impl Phone {
    fn new(from: &str, codec: Codec, pt: u8) -> Phone {
        Phone {
            from: addr(from),
            codec,
            pt,
            seq: 0,
            ts: 0,
            encoder: Encoder::new(codec),
            pcm: (0..codec.sample_rate().frame_samples())
                .map(|i| ((i * 37) % 4000) as i16 - 2000)
                .collect(),
            srtp: None,
        }
    }

    /// The same phone speaking SRTP with `key`.
    fn srtp(self, key: &MasterKey) -> Phone {
        Phone {
            srtp: Some(SrtpContext::new(Suite::AesCm128HmacSha1_80, key)),
            ..self
        }
    }

    fn write(&mut self, buf: &mut [u8]) -> usize {
        let h = Header::new(
            PayloadType::new(self.pt).unwrap(),
            Seq(self.seq),
            RtpTimestamp(self.ts),
            Ssrc(0x51),
        );
        let n = write_header(buf, &h).unwrap();
        let m = self.encoder.encode(&self.pcm, &mut buf[n..]);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.codec.frame_timestamp_units());
        match &mut self.srtp {
            Some(c) => c.protect(buf, n + m).unwrap(),
            None => n + m,
        }
    }
}

/// Runs the session like a media thread for tick `k`: a packet from each phone, due
/// timeouts, transmits and events. Returns the packets that left.
fn step(s: &mut Session, t0: Instant, k: u64, phones: &mut [(Side, Phone)], buf: &mut [u8]) -> u64 {
    let now = t0 + Duration::from_millis(20 * k + 3);
    let mut left = 0;
    for (side, p) in phones.iter_mut() {
        let n = p.write(buf);
        if let Action::Forward { .. } = s.handle_packet(now, *side, p.from, false, buf, n) {
            left += 1;
        }
    }
    let end = now + Duration::from_millis(17);
    while let Some(at) = s.poll_timeout().filter(|&at| at <= end) {
        s.handle_timeout(at);
        while s.poll_transmit(at, buf).is_some() {
            left += 1;
        }
    }
    while s.poll_event().is_some() {}
    left
}

#[test]
fn the_counter_sees_an_allocation() {
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(vec![1u8; 8]))),
        1
    );
}

#[test]
fn a_relayed_call_takes_a_few_kilobytes() {
    // the budget is 64 KiB per relayed call; the frame path is not built for it
    let t0 = Instant::now();
    let before = BYTES.with(Cell::get);
    let mut s = Box::new(Session::new(
        t0,
        SessionConfig::default(),
        Entropy::seeded(1),
    ));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::Pcmu, 0));
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::Pcmu, 0));
    let bytes = BYTES.with(Cell::get) - before;
    assert!(bytes < 8 * 1024, "{bytes} bytes");
    // and the frame path, when it is needed, stays within the budget too
    let before = BYTES.with(Cell::get);
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::G722, 9));
    let framed = BYTES.with(Cell::get) - before + bytes;
    assert!(framed < 64 * 1024, "{framed} bytes");
    println!("relayed call {bytes} bytes, transcoded G.722 <-> PCMU {framed} bytes");
}

#[test]
fn relaying_packets_both_ways_allocates_nothing() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(1));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::Pcmu, 0));
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::Pcmu, 0));
    s.activate(t0);
    let mut phones = [
        (Side::Caller, Phone::new("192.0.2.10:4000", Codec::Pcmu, 0)),
        (
            Side::Callee,
            Phone::new("198.51.100.4:31000", Codec::Pcmu, 0),
        ),
    ];
    let mut buf = vec![0u8; 2048];
    for k in 0..100 {
        step(&mut s, t0, k, &mut phones, &mut buf);
    }
    let mut forwarded = 0;
    let n = allocations_during(|| {
        for k in 100..10_100 {
            forwarded += step(&mut s, t0, k, &mut phones, &mut buf);
        }
    });
    assert_eq!(n, 0);
    assert_eq!(forwarded, 20_000);
}

#[test]
fn srtp_on_a_side_relayed_and_transcoded_allocates_nothing() {
    let phone_key = MasterKey::from_bytes(&[1; 30]);
    let keys = SrtpKeys {
        suite: Suite::AesCm128HmacSha1_80,
        inbound: phone_key,
        outbound: MasterKey::from_bytes(&[2; 30]),
    };
    for (callee, pt) in [(Codec::Pcmu, 0), (Codec::G722, 9)] {
        let t0 = Instant::now();
        let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(3));
        let caller = StreamConfig {
            srtp: Some(keys),
            ..side("192.0.2.10:4000", Codec::Pcmu, 0)
        };
        s.configure(t0, Side::Caller, caller);
        s.configure(t0, Side::Callee, side("192.0.2.20:5000", callee, pt));
        s.activate(t0);
        let mut phones = [
            (
                Side::Caller,
                Phone::new("192.0.2.10:4000", Codec::Pcmu, 0).srtp(&phone_key),
            ),
            (Side::Callee, Phone::new("192.0.2.20:5000", callee, pt)),
        ];
        let mut buf = vec![0u8; MAX_TRANSMIT];
        for k in 0..100 {
            step(&mut s, t0, k, &mut phones, &mut buf);
        }
        let mut left = 0;
        let n = allocations_during(|| {
            for k in 100..5_100 {
                left += step(&mut s, t0, k, &mut phones, &mut buf);
            }
        });
        assert_eq!(n, 0, "{callee}");
        assert!(left >= 9_900, "{callee}: {left} packets out");
        let caller = s.stats().side(Side::Caller).copied().unwrap();
        assert_eq!(caller.srtp, 0, "{callee}: every packet authenticated");
        assert!(caller.rx_packets >= 5_000, "{callee}");
    }
}

/// Counts what it is given, as a recorder's ring would take it.
struct Sum(u64);

impl FrameSink for Sum {
    fn frame(&mut self, _: Side, rate: SampleRate, pcm: &[i16]) {
        self.0 += pcm.len() as u64 + u64::from(rate.hz());
    }
}

#[test]
fn transcoding_g722_and_pcmu_both_ways_with_a_sink_digits_and_a_tone_allocates_nothing() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(2));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::G722, 9));
    s.configure(t0, Side::Callee, side("192.0.2.20:5000", Codec::Pcmu, 0));
    s.set_sink(t0, Some(Box::new(Sum(0))));
    s.activate(t0);
    let mut phones = [
        (Side::Caller, Phone::new("192.0.2.10:4000", Codec::G722, 9)),
        (Side::Callee, Phone::new("192.0.2.20:5000", Codec::Pcmu, 0)),
    ];
    let mut buf = vec![0u8; MAX_TRANSMIT];
    for k in 0..100 {
        step(&mut s, t0, k, &mut phones, &mut buf);
    }
    let mut sent = 0;
    let n = allocations_during(|| {
        for k in 100..5_100 {
            if k % 100 == 0 {
                s.send_digit(
                    t0 + Duration::from_millis(20 * k),
                    Side::Caller,
                    Digit::from_char('5').unwrap(),
                );
            }
            sent += step(&mut s, t0, k, &mut phones, &mut buf);
        }
    });
    assert_eq!(n, 0);
    assert!(sent >= 9_900, "a packet each way per tick: {sent}");

    // a tone replacing the callee for the caller: the tone generator runs per tick too
    s.play(t0, Side::Caller, Source::Tone(Ringback::for_country(44)));
    for k in 5_100..5_200 {
        step(&mut s, t0, k, &mut phones, &mut buf);
    }
    let n = allocations_during(|| {
        for k in 5_200..7_200 {
            step(&mut s, t0, k, &mut phones, &mut buf);
        }
    });
    assert_eq!(n, 0);
}

/// A mixer's ring as the feed sees it: one payload after each push.
struct Pushed(Arc<AtomicBool>);

impl PayloadFeed for Pushed {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        if !self.0.swap(false, Ordering::Relaxed) {
            return None;
        }
        buf[..160].fill(0x7e);
        Some(160)
    }
}

#[test]
fn a_conference_participant_following_the_mixer_s_clock_allocates_nothing() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, SessionConfig::default(), Entropy::seeded(3));
    s.configure(t0, Side::Caller, side("192.0.2.10:4000", Codec::Pcmu, 0));
    let clock = MixerClock {
        epoch: t0 + Duration::from_millis(11),
        lead: Duration::from_millis(5),
    };
    s.set_mixer_clock(t0, Some(clock));
    s.set_sink(t0, Some(Box::new(Sum(0))));
    let waiting = Arc::new(AtomicBool::new(false));
    s.set_feed(t0, Side::Caller, Some(Box::new(Pushed(waiting.clone()))));
    s.activate(t0);
    let mut phones = [(Side::Caller, Phone::new("192.0.2.10:4000", Codec::Pcmu, 0))];
    let mut buf = vec![0u8; MAX_TRANSMIT];
    let mut run = |s: &mut Session, from: u64, to: u64| {
        let mut sent = 0;
        for k in from..to {
            sent += step(s, t0, k, &mut phones, &mut buf);
            // the mixer's tick (11 + 20k ms): its payload pushed
            let tick = clock.mixer_tick_at_or_after(t0 + Duration::from_millis(20 * k + 3));
            waiting.store(true, Ordering::Relaxed);
            s.handle_feed(tick);
            while s.poll_transmit(tick, &mut buf).is_some() {
                sent += 1;
            }
        }
        sent
    };
    run(&mut s, 0, 100);
    let mut sent = 0;
    let n = allocations_during(|| sent = run(&mut s, 100, 5_100));
    assert_eq!(n, 0);
    assert_eq!(sent, 5_000, "the mix, a packet per push");

    // a prompt over the mix: the pushed payloads are taken and dropped while it plays
    s.play(t0, Side::Caller, Source::Tone(Tone::MUTED));
    run(&mut s, 5_100, 5_110);
    let n = allocations_during(|| sent = run(&mut s, 5_110, 7_110));
    assert_eq!(n, 0);
    assert!(
        (1_995..=2_005).contains(&sent),
        "the prompt's end, then the mix: {sent}"
    );
}
