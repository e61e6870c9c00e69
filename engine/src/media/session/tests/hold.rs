use super::*;

fn held(remote: &str, codec: Codec, sends: bool, receives: bool) -> StreamConfig {
    StreamConfig {
        sends,
        receives,
        srtp: None,
        ..stream(
            remote,
            codec,
            if codec == Codec::G722 { 9 } else { 0 },
            None,
        )
    }
}

#[test]
fn a_side_on_hold_receives_nothing_relayed_or_transcoded() {
    // the callee put the call on hold (sendonly): the switch sends it nothing
    for callee_codec in [Codec::Pcmu, Codec::G722] {
        let mut r = Rig::call(
            stream(CALLER, Codec::Pcmu, 0, None),
            held(CALLEE, callee_codec, false, true),
        );
        let mut caller = Phone::new(CALLER, Codec::Pcmu, 0, 1);
        for k in 0..20 {
            let now = r.at(20 * k);
            let p = caller.packet(&[1000; 160]);
            let a = r.recv(now, Side::Caller, caller.from, &p);
            assert_eq!(a, Action::Consumed, "{callee_codec}");
            r.run_until(now + ms(19));
        }
        assert!(r.take(Side::Callee).is_empty(), "{callee_codec}");
        // its music on hold still reaches the caller
        let mut callee = Phone::new(CALLEE, Codec::Pcmu, 0, 2);
        if callee_codec == Codec::Pcmu {
            let p = callee.packet(&[1000; 160]);
            assert!(matches!(
                r.recv(r.at(400), Side::Callee, callee.from, &p),
                Action::Forward { .. }
            ));
        }
    }
}

#[test]
fn an_inactive_side_packets_are_dropped_and_it_hears_nothing() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        held(CALLEE, Codec::Pcmu, false, false),
    );
    let p = rtp(0, 1, 0, 2, false, &[0; 160]);
    assert_eq!(
        r.recv(r.t0, Side::Callee, addr(CALLEE), &p),
        Action::Dropped(DropReason::Inactive)
    );
    let q = rtp(0, 1, 0, 1, false, &[0; 160]);
    assert_eq!(
        r.recv(r.t0, Side::Caller, addr(CALLER), &q),
        Action::Consumed
    );
    assert!(r.out.is_empty());
    assert_eq!(r.s.stats().side(Side::Callee).unwrap().inactive, 1);
    // resumed: media flows again
    r.s.configure(r.at(20), Side::Callee, stream(CALLEE, Codec::Pcmu, 0, None));
    assert!(matches!(
        r.recv(r.at(20), Side::Caller, addr(CALLER), &q),
        Action::Forward { .. }
    ));
}

#[test]
fn silence_after_activation_is_one_media_timeout_and_on_hold_only_after_the_hold_timeout() {
    let config = SessionConfig {
        timeout: Duration::from_secs(60),
        hold_timeout: Duration::from_secs(600),
    };
    let mut r = Rig::with(config);
    r.s.configure(r.t0, Side::Caller, stream(CALLER, Codec::Pcmu, 0, None));
    r.s.configure(r.t0, Side::Callee, stream(CALLEE, Codec::Pcmu, 0, None));
    assert_eq!(r.s.poll_timeout(), None, "not before the call is answered");
    r.s.activate(r.at(1000));
    let p = rtp(0, 1, 0, 1, false, &[0; 160]);
    r.recv(r.at(5000), Side::Caller, addr(CALLER), &p);
    assert_eq!(r.s.poll_timeout(), Some(r.at(65_000)));
    r.s.handle_timeout(r.at(64_999));
    assert_eq!(r.s.poll_event(), None);
    r.run_until(r.at(200_000));
    let timeouts: Vec<_> = r
        .events
        .iter()
        .filter(|e| matches!(e, Event::MediaTimeout { .. }))
        .collect();
    assert_eq!(
        timeouts,
        [&Event::MediaTimeout {
            idle: Duration::from_secs(60)
        }]
    );
    assert_eq!(r.s.poll_timeout(), None, "once");

    let mut r = Rig::with(config);
    r.s.configure(r.t0, Side::Caller, stream(CALLER, Codec::Pcmu, 0, None));
    r.s.configure(r.t0, Side::Callee, held(CALLEE, Codec::Pcmu, false, true));
    r.s.activate(r.t0);
    r.run_until(r.at(599_000));
    assert!(r.events.is_empty(), "on hold: {:?}", r.events);
    r.run_until(r.at(600_000));
    assert_eq!(
        r.events,
        [Event::MediaTimeout {
            idle: Duration::from_secs(600)
        }]
    );
}
