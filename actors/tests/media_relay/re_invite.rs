//! A re-INVITE that moves the caller: its connected socket re-latches to the new address.

use super::*;

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
    let (session, caller, callee) = call(
        &plane,
        owner.start().recipient(),
        (Codec::Pcmu, 0),
        (Codec::Pcmu, 0),
    )
    .await;
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
