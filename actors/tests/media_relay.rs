//! The media plane on loopback with real RTP: two sockets play the phones, a media session
//! relays or transcodes between them, and what each phone receives is checked by frequency.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use switchboard_actors::api::media::MediaNote;
use switchboard_actors::config::{Config, Media};
use switchboard_actors::media::{MediaError, MediaPlane, MediaSession};
use switchboard_actors::metrics::{Metrics, ThreadLabel};
use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::rtp::{
    write_header, Header, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::session::{Event, StreamConfig};
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};
use switchboard_engine::media::{Codec, SampleRate, Side};

/// Keeps the notes of a session.
#[derive(Default, Clone)]
struct Owner(Arc<Mutex<Vec<MediaNote>>>);

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<MediaNote> for Owner {
    type Result = ();
    fn handle(&mut self, m: MediaNote, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(m);
    }
}

fn media(ports: &str) -> Media {
    let mut m = Config::load(None).unwrap().media;
    m.ports = ports.into();
    m.threads = 1;
    m
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
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

/// Waits until the session's thread has taken every command sent to it so far (it takes them
/// in order, and answers `stats` after them): a packet sent after this finds the session set
/// up, where one sent before could meet a session not yet configured and be dropped.
async fn settled(s: &MediaSession) {
    s.stats().await.expect("the session is open");
}

/// A phone's outgoing stream of a tone.
struct Talker {
    codec: Codec,
    pt: u8,
    seq: u16,
    tone: ToneGenerator,
    enc: Encoder,
}

impl Talker {
    fn new(codec: Codec, pt: u8, freq: f32) -> Talker {
        let tone = Tone::continuous(Sound::Single(freq), Level::dbfs(-10.0));
        Talker {
            codec,
            pt,
            seq: 0,
            tone: ToneGenerator::new(tone, codec.sample_rate()),
            enc: Encoder::new(codec),
        }
    }

    fn send(&mut self, from: &UdpSocket, to: SocketAddr) {
        let mut pcm = vec![0i16; self.codec.sample_rate().frame_samples()];
        self.tone.generate(&mut pcm);
        let ts = RtpTimestamp(u32::from(self.seq) * self.codec.frame_timestamp_units());
        let h = Header::new(
            PayloadType::new(self.pt).unwrap(),
            Seq(self.seq),
            ts,
            Ssrc(0xabc),
        );
        let mut buf = [0u8; 400];
        let n = write_header(&mut buf, &h).unwrap();
        let m = self.enc.encode(&pcm, &mut buf[n..]);
        from.send_to(&buf[..n + m], to).unwrap();
        self.seq += 1;
    }
}

/// Every packet `s` receives until it is quiet for `quiet`: (source, bytes).
fn receive_all(s: &UdpSocket, quiet: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = s.recv_from(&mut buf) {
        got.push((from, buf[..n].to_vec()));
    }
    got
}

fn decode(packets: &[(SocketAddr, Vec<u8>)], codec: Codec) -> Vec<i16> {
    let mut dec = Decoder::new(codec);
    let mut pcm = Vec::new();
    let mut frame = vec![0i16; codec.sample_rate().frame_samples()];
    for (_, p) in packets {
        let p = RtpPacket::parse(p).unwrap();
        let n = dec.decode(p.payload(), &mut frame);
        pcm.extend_from_slice(&frame[..n]);
    }
    pcm
}

fn hears(pcm: &[i16], rate: SampleRate, freq: f32) -> bool {
    let block = &pcm[pcm.len() / 3..];
    ToneDetector::new(rate, &[440.0, 1000.0, 2000.0])
        .analyze(block)
        .is(&[freq])
}

#[actix_rt::test]
async fn g711_is_relayed_both_ways_and_a_caller_behind_nat_is_latched() {
    relay_with_a_caller_behind_nat("41400-41419", true, "epoll").await;
}

#[actix_rt::test]
async fn g711_is_relayed_both_ways_with_sockets_left_unconnected() {
    relay_with_a_caller_behind_nat("41500-41519", false, "epoll").await;
}

#[actix_rt::test]
async fn g711_is_relayed_both_ways_on_io_uring() {
    relay_with_a_caller_behind_nat("41560-41579", true, "uring").await;
}

#[actix_rt::test]
async fn g711_is_relayed_both_ways_on_io_uring_with_sockets_left_unconnected() {
    relay_with_a_caller_behind_nat("41640-41659", false, "uring").await;
}

/// Relays a call both ways, its caller behind NAT, with `media.connect_latched` as `connect`
/// and `media.io` as `io`.
async fn relay_with_a_caller_behind_nat(ports: &str, connect: bool, io: &str) {
    let metrics = Arc::new(Metrics::new());
    let mut m = media(ports);
    m.connect_latched = connect;
    m.io = io.into();
    let plane = MediaPlane::start(&m, metrics.clone()).unwrap();
    let owner = Owner::default();
    let notes = owner.0.clone();
    let session = plane
        .open(&[Side::Caller, Side::Callee], owner.start().recipient())
        .unwrap();
    let (caller, callee) = (phone(), phone());
    // the caller's SDP names a port nothing listens on: a phone behind NAT
    let nat_sdp: SocketAddr = "127.0.0.1:9".parse().unwrap();
    session.configure(Side::Caller, side(nat_sdp, Codec::Pcmu, 0));
    session.configure(
        Side::Callee,
        side(callee.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    settled(&session).await;
    let (to_caller_side, to_callee_side) = (
        session.local(Side::Caller).unwrap().rtp,
        session.local(Side::Callee).unwrap().rtp,
    );
    assert_eq!(to_caller_side.ip(), plane.advertise());
    let (mut a, mut b) = (
        Talker::new(Codec::Pcmu, 0, 1000.0),
        Talker::new(Codec::Pcmu, 0, 440.0),
    );
    for _ in 0..25 {
        a.send(&caller, to_caller_side);
        b.send(&callee, to_callee_side);
    }
    let at_callee = receive_all(&callee, Duration::from_millis(300));
    let at_caller = receive_all(&caller, Duration::from_millis(300));
    assert_eq!(
        at_callee.len(),
        25,
        "every caller packet reaches the callee"
    );
    assert!(
        at_callee.iter().all(|(from, _)| *from == to_callee_side),
        "from the callee's relay port"
    );
    assert!(hears(
        &decode(&at_callee, Codec::Pcmu),
        SampleRate::NARROW,
        1000.0
    ));
    // the callee's first packets may go to the dead SDP address until the caller's first packet
    // arrives; everything after it reaches the caller's real address
    assert!(at_caller.len() >= 20, "{}", at_caller.len());
    assert!(hears(
        &decode(&at_caller, Codec::Pcmu),
        SampleRate::NARROW,
        440.0
    ));

    // a spoofer on the caller's relay port reaches nobody: the session drops it, or, with
    // the socket connected to the caller, the kernel does before the session sees it
    let spoofer = phone();
    Talker::new(Codec::Pcmu, 0, 2000.0).send(&spoofer, to_caller_side);
    assert!(receive_all(&callee, Duration::from_millis(100)).is_empty());
    let stats = session.stats().await.unwrap();
    let c = stats.side(Side::Caller).unwrap();
    assert_eq!(c.latched, Some(caller.local_addr().unwrap()));
    let spoofed = u64::from(!connect);
    assert_eq!((c.rx_packets, c.relayed, c.spoofed), (25, 25, spoofed));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let latched: Vec<_> = notes
        .lock()
        .unwrap()
        .iter()
        .filter_map(|n| match n.event {
            Event::Latched { side, from } => Some((n.session, side, from)),
            _ => None,
        })
        .collect();
    assert!(latched.contains(&(session.id(), Side::Caller, caller.local_addr().unwrap())));
    drop(session);
    plane.stop();
    assert!(
        metrics.media_relayed.get() >= 45,
        "{}",
        metrics.media_relayed.get()
    );
}

#[actix_rt::test]
async fn g722_and_pcmu_are_transcoded_both_ways_at_the_right_frequency_and_rate() {
    let plane = MediaPlane::start(&media("41420-41439"), Arc::new(Metrics::new())).unwrap();
    let session = plane
        .open(
            &[Side::Caller, Side::Callee],
            Owner::default().start().recipient(),
        )
        .unwrap();
    let (caller, callee) = (phone(), phone());
    session.configure(
        Side::Caller,
        side(caller.local_addr().unwrap(), Codec::G722, 9),
    );
    session.configure(
        Side::Callee,
        side(callee.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    settled(&session).await;
    let (pa, pb) = (
        session.local(Side::Caller).unwrap().rtp,
        session.local(Side::Callee).unwrap().rtp,
    );
    let (mut a, mut b) = (
        Talker::new(Codec::G722, 9, 1000.0),
        Talker::new(Codec::Pcmu, 0, 440.0),
    );
    let start = Instant::now();
    for k in 0..40u32 {
        a.send(&caller, pa);
        b.send(&callee, pb);
        let next = start + Duration::from_millis(20) * (k + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let at_callee = receive_all(&callee, Duration::from_millis(200));
    let at_caller = receive_all(&caller, Duration::from_millis(200));
    assert!(at_callee.len() >= 30, "{}", at_callee.len());
    assert!(at_caller.len() >= 30, "{}", at_caller.len());
    for (_, p) in &at_callee {
        let p = RtpPacket::parse(p).unwrap();
        assert_eq!((p.payload_type().value(), p.payload().len()), (0, 160));
    }
    let narrow = decode(&at_callee, Codec::Pcmu);
    assert!(hears(&narrow, SampleRate::NARROW, 1000.0));
    let wide = decode(&at_caller, Codec::G722);
    assert_eq!(wide.len(), at_caller.len() * 320, "16 kHz frames");
    assert!(hears(&wide, SampleRate::WIDE, 440.0));
    let stats = session.stats().await.unwrap();
    assert_eq!(
        stats.side(Side::Callee).unwrap().hears.as_str(),
        "transcode"
    );
    plane.stop();
}

#[actix_rt::test]
async fn closing_a_session_frees_its_ports() {
    let metrics = Arc::new(Metrics::new());
    let plane = MediaPlane::start(&media("41440-41443"), metrics.clone()).unwrap();
    assert_eq!(plane.ports_free(), 2);
    let owner = Owner::default().start();
    let s = plane
        .open(&[Side::Caller, Side::Callee], owner.clone().recipient())
        .unwrap();
    let ports: Vec<u16> = [Side::Caller, Side::Callee]
        .iter()
        .map(|&x| s.local(x).unwrap().rtp.port())
        .collect();
    assert_eq!(ports, [41440, 41442]);
    assert_eq!(plane.ports_free(), 0);
    assert_eq!(metrics.media_sessions.get(), 1);
    assert!(matches!(
        plane.open(&[Side::Caller], owner.clone().recipient()),
        Err(MediaError::NoPorts { .. })
    ));
    assert!(
        UdpSocket::bind("127.0.0.1:41441").is_err(),
        "RTCP port held"
    );
    s.close();
    let deadline = Instant::now() + Duration::from_secs(2);
    while plane.ports_free() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(plane.ports_free(), 2);
    assert_eq!(metrics.media_sessions.get(), 0);
    drop(UdpSocket::bind("127.0.0.1:41441").expect("the sockets are closed"));
    let again = plane.open(&[Side::Caller], owner.recipient()).unwrap();
    assert!(again.local(Side::Callee).is_none());
    plane.stop();
}

#[actix_rt::test]
async fn sessions_are_packed_onto_the_first_media_thread_which_publishes_its_load() {
    let metrics = Arc::new(Metrics::new());
    let mut m = media("41480-41499");
    m.threads = 3;
    let plane = MediaPlane::start(&m, metrics.clone()).unwrap();
    let owner = Owner::default().start();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let s = plane
            .open(&[Side::Caller, Side::Callee], owner.clone().recipient())
            .unwrap();
        let (caller, callee) = (phone(), phone());
        s.configure(
            Side::Caller,
            side(caller.local_addr().unwrap(), Codec::Pcmu, 0),
        );
        s.configure(
            Side::Callee,
            side(callee.local_addr().unwrap(), Codec::Pcmu, 0),
        );
        settled(&s).await;
        calls.push((s, caller, callee, Talker::new(Codec::Pcmu, 0, 440.0)));
    }
    // 1.5 s of packets, every 20 ms: the threads publish their figures once a second
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        for (s, caller, _, talker) in &mut calls {
            talker.send(caller, s.local(Side::Caller).unwrap().rtp);
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (s, _, callee, _) in &calls {
        assert_eq!(
            receive_all(callee, Duration::from_millis(100)).len(),
            sent,
            "relayed"
        );
        // the plane finds the session's thread from its id alone
        let stats = plane.stats(s.id()).await.expect("found by id");
        assert_eq!(stats.side(Side::Caller).unwrap().rx_packets, sent as u64);
    }
    let thread = |t: u32| ThreadLabel { thread: t };
    let sessions = |t| {
        metrics
            .media_thread_sessions
            .get_or_create(&thread(t))
            .get()
    };
    assert_eq!(
        [sessions(0), sessions(1), sessions(2)],
        [4, 0, 0],
        "an idle plane packs"
    );
    let busy = metrics.media_thread_busy.get_or_create(&thread(0)).get();
    assert!(busy > 0.0 && busy < 0.5, "{busy}");
    assert_eq!(
        metrics.media_thread_busy.get_or_create(&thread(1)).get(),
        0.0
    );
    drop(calls);
    plane.stop();
}

#[test]
fn an_address_of_another_host_fails_start_up_in_one_line() {
    let mut m = media("41460-41469");
    m.address = "192.0.2.1".parse().unwrap();
    let e = MediaPlane::start(&m, Arc::new(Metrics::new()))
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("cannot bind RTP on 192.0.2.1:0: "), "{e}");
    assert!(!e.contains('\n'));
}

/// Sends `n` packets of each talker, one pair every 20 ms.
fn talk(
    a: &mut Talker,
    from_a: &UdpSocket,
    to_a: SocketAddr,
    b: &mut Talker,
    from_b: &UdpSocket,
    to_b: SocketAddr,
    n: u32,
) {
    let start = Instant::now();
    for k in 0..n {
        a.send(from_a, to_a);
        b.send(from_b, to_b);
        let next = start + Duration::from_millis(20) * (k + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

#[actix_rt::test]
async fn a_re_invite_that_moves_the_caller_re_latches_its_connected_socket_to_the_new_address() {
    re_latch_on_a_re_invite("41520-41539", "epoll").await;
}

#[actix_rt::test]
async fn a_re_invite_that_moves_the_caller_re_latches_on_io_uring() {
    re_latch_on_a_re_invite("41580-41599", "uring").await;
}

async fn re_latch_on_a_re_invite(ports: &str, io: &str) {
    let metrics = Arc::new(Metrics::new());
    let mut m = media(ports);
    m.io = io.into();
    let plane = MediaPlane::start(&m, metrics.clone()).unwrap();
    let owner = Owner::default();
    let notes = owner.0.clone();
    let session = plane
        .open(&[Side::Caller, Side::Callee], owner.start().recipient())
        .unwrap();
    let (caller, callee) = (phone(), phone());
    session.configure(
        Side::Caller,
        side(caller.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    session.configure(
        Side::Callee,
        side(callee.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    settled(&session).await;
    let (pa, pb) = (
        session.local(Side::Caller).unwrap().rtp,
        session.local(Side::Callee).unwrap().rtp,
    );
    let (mut a, mut b) = (
        Talker::new(Codec::Pcmu, 0, 1000.0),
        Talker::new(Codec::Pcmu, 0, 440.0),
    );
    talk(&mut a, &caller, pa, &mut b, &callee, pb, 10);
    assert_eq!(receive_all(&callee, Duration::from_millis(100)).len(), 10);
    assert!(!receive_all(&caller, Duration::from_millis(100)).is_empty());

    // the caller moved (a new address, as after a network change) and says so by re-INVITE
    let moved = phone();
    session.configure(
        Side::Caller,
        side(moved.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    // the thread takes commands in order: once this answers, the new SDP is in
    let stats = session.stats().await.unwrap();
    assert_eq!(
        stats.side(Side::Caller).unwrap().latched,
        None,
        "learning again"
    );
    let mut a2 = Talker::new(Codec::Pcmu, 0, 2000.0);
    talk(&mut a2, &moved, pa, &mut b, &callee, pb, 25);
    let at_callee = receive_all(&callee, Duration::from_millis(200));
    let at_moved = receive_all(&moved, Duration::from_millis(200));
    assert_eq!(
        at_callee.len(),
        25,
        "every packet of the moved caller is relayed"
    );
    assert!(hears(
        &decode(&at_callee, Codec::Pcmu),
        SampleRate::NARROW,
        2000.0
    ));
    // the callee's first packets after the re-INVITE may go to the SDP address (the moved
    // phone's own) before the first packet latches it: all reach it
    assert_eq!(at_moved.len(), 25, "the callee is heard at the new address");
    assert!(hears(
        &decode(&at_moved, Codec::Pcmu),
        SampleRate::NARROW,
        440.0
    ));
    assert!(
        receive_all(&caller, Duration::from_millis(50)).is_empty(),
        "nothing to the old one"
    );

    // the old address is refused now (by the kernel: the socket is connected to the new one)
    a.send(&caller, pa);
    assert!(receive_all(&callee, Duration::from_millis(100)).is_empty());
    let stats = session.stats().await.unwrap();
    let c = stats.side(Side::Caller).unwrap();
    assert_eq!(c.latched, Some(moved.local_addr().unwrap()));
    assert_eq!((c.rx_packets, c.spoofed), (35, 0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let latched: Vec<SocketAddr> = notes
        .lock()
        .unwrap()
        .iter()
        .filter_map(|n| match n.event {
            Event::Latched {
                side: Side::Caller,
                from,
            } => Some(from),
            _ => None,
        })
        .collect();
    assert_eq!(
        latched,
        [caller.local_addr().unwrap(), moved.local_addr().unwrap()]
    );
    drop(session);
    plane.stop();
}

#[actix_rt::test]
async fn a_callee_whose_port_closes_sends_back_icmp_errors_which_end_neither_the_call_nor_the_thread(
) {
    icmp_errors_are_passed_over("41540-41559", "epoll").await;
}

#[actix_rt::test]
async fn icmp_errors_end_neither_the_call_nor_the_thread_on_io_uring() {
    icmp_errors_are_passed_over("41600-41619", "uring").await;
}

async fn icmp_errors_are_passed_over(ports: &str, io: &str) {
    let metrics = Arc::new(Metrics::new());
    let mut m = media(ports);
    m.io = io.into();
    let plane = MediaPlane::start(&m, metrics.clone()).unwrap();
    let owner = Owner::default();
    let notes = owner.0.clone();
    let session = plane
        .open(
            &[Side::Caller, Side::Callee],
            owner.clone().start().recipient(),
        )
        .unwrap();
    let (caller, callee) = (phone(), phone());
    let callee_at = callee.local_addr().unwrap();
    session.configure(
        Side::Caller,
        side(caller.local_addr().unwrap(), Codec::Pcmu, 0),
    );
    session.configure(Side::Callee, side(callee_at, Codec::Pcmu, 0));
    session.activate();
    settled(&session).await;
    let (pa, pb) = (
        session.local(Side::Caller).unwrap().rtp,
        session.local(Side::Callee).unwrap().rtp,
    );
    let (mut a, mut b) = (
        Talker::new(Codec::Pcmu, 0, 1000.0),
        Talker::new(Codec::Pcmu, 0, 440.0),
    );
    talk(&mut a, &caller, pa, &mut b, &callee, pb, 5);
    assert_eq!(receive_all(&callee, Duration::from_millis(100)).len(), 5);

    // the callee's port closes: every packet relayed there brings an ICMP port unreachable
    // back to the callee side's connected socket
    drop(callee);
    for _ in 0..25 {
        a.send(&caller, pa);
        std::thread::sleep(Duration::from_millis(5));
    }
    // every one of them was taken (and relayed into the closed port) before the port opens
    // again, so none of them reaches it afterwards
    for _ in 0..200 {
        let rx = session
            .stats()
            .await
            .unwrap()
            .side(Side::Caller)
            .unwrap()
            .rx_packets;
        if rx == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ... and opens again: the call goes on both ways
    let callee = UdpSocket::bind(callee_at).expect("the callee's port again");
    callee
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    receive_all(&caller, Duration::from_millis(50));
    talk(&mut a, &caller, pa, &mut b, &callee, pb, 25);
    let at_callee = receive_all(&callee, Duration::from_millis(200));
    let at_caller = receive_all(&caller, Duration::from_millis(200));
    assert_eq!(at_callee.len(), 25, "relayed to the callee again");
    assert!(hears(
        &decode(&at_callee, Codec::Pcmu),
        SampleRate::NARROW,
        1000.0
    ));
    assert_eq!(at_caller.len(), 25);
    assert!(hears(
        &decode(&at_caller, Codec::Pcmu),
        SampleRate::NARROW,
        440.0
    ));
    let stats = session.stats().await.expect("the session lives");
    assert_eq!(stats.side(Side::Caller).unwrap().relayed, 55);

    // the thread still sets up and relays a new call
    let (c2, d2) = (phone(), phone());
    let next = plane
        .open(&[Side::Caller, Side::Callee], owner.start().recipient())
        .unwrap();
    next.configure(Side::Caller, side(c2.local_addr().unwrap(), Codec::Pcmu, 0));
    next.configure(Side::Callee, side(d2.local_addr().unwrap(), Codec::Pcmu, 0));
    settled(&next).await;
    let mut c = Talker::new(Codec::Pcmu, 0, 440.0);
    c.send(&c2, next.local(Side::Caller).unwrap().rtp);
    assert_eq!(receive_all(&d2, Duration::from_millis(200)).len(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !notes
            .lock()
            .unwrap()
            .iter()
            .any(|n| matches!(n.event, Event::MediaTimeout { .. })),
        "no media timeout"
    );
    drop((session, next));
    plane.stop();
    assert!(
        metrics.media_icmp_errors.get() > 0,
        "the refusals were counted"
    );
    assert_eq!(
        metrics
            .media_dropped
            .get_or_create(&switchboard_actors::metrics::ReasonLabel {
                reason: "send_failed"
            })
            .get(),
        0,
        "every packet was sent"
    );
}
