//! Sessions and media threads: closing a session frees its ports, sessions are packed onto
//! the first thread, which publishes its load; a bad address fails start-up in one line.

use super::*;

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
        let (s, caller, callee) = call(
            &plane,
            owner.clone().recipient(),
            (Codec::Pcmu, 0),
            (Codec::Pcmu, 0),
        )
        .await;
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
