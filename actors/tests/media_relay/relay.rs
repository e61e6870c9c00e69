//! G.711 relayed both ways (connected or unconnected sockets, epoll or io_uring) with a
//! caller behind NAT latched; G.722 and PCMU transcoded both ways.

use super::*;

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
    let (session, caller, callee) = call(
        &plane,
        Owner::default().start().recipient(),
        (Codec::G722, 9),
        (Codec::Pcmu, 0),
    )
    .await;
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
