//! ICMP errors from a callee whose port closed end neither the call nor the media thread.

use super::*;

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
    let (next, c2, d2) = call(
        &plane,
        owner.start().recipient(),
        (Codec::Pcmu, 0),
        (Codec::Pcmu, 0),
    )
    .await;
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
