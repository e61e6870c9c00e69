use super::*;

#[test]
fn a_side_behind_nat_gets_media_at_the_source_of_its_first_packet_and_spoofers_are_dropped() {
    let nat_sdp = "10.0.0.7:4000";
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(nat_sdp, Codec::Pcmu, 0, None),
    );
    let mut caller = Phone::new(CALLER, Codec::Pcmu, 0, 1);
    let p = caller.packet(&[100; 160]);
    r.recv(r.t0, Side::Caller, caller.from, &p);
    assert_eq!(
        r.take(Side::Callee)[0].to,
        addr(nat_sdp),
        "before latching: the SDP address"
    );

    let public = addr("198.51.100.4:31000");
    let mut callee = Phone::new("198.51.100.4:31000", Codec::Pcmu, 0, 2);
    let q = callee.packet(&[200; 160]);
    r.recv(r.at(20), Side::Callee, public, &q);
    assert_eq!(r.take(Side::Caller)[0].to, addr(CALLER));
    assert!(r.events.contains(&Event::Latched {
        side: Side::Callee,
        from: public
    }));
    // the caller also latches on its first packet (to its SDP address here)
    assert!(r.events.contains(&Event::Latched {
        side: Side::Caller,
        from: addr(CALLER)
    }));

    let p = caller.packet(&[100; 160]);
    r.recv(r.at(20), Side::Caller, caller.from, &p);
    assert_eq!(
        r.take(Side::Callee)[0].to,
        public,
        "after latching: where it came from"
    );

    let spoofer = addr("198.51.100.4:31002");
    let q = callee.packet(&[200; 160]);
    assert_eq!(
        r.recv(r.at(40), Side::Callee, spoofer, &q),
        Action::Dropped(DropReason::Spoofed)
    );
    assert!(r.take(Side::Caller).is_empty());
    let st = r.s.stats();
    assert_eq!(st.side(Side::Callee).unwrap().spoofed, 1);
    assert_eq!(st.side(Side::Callee).unwrap().latched, Some(public));

    // a re-INVITE's SDP opens learning again: the phone moved
    r.s.configure(
        r.at(60),
        Side::Callee,
        stream(nat_sdp, Codec::Pcmu, 0, None),
    );
    assert_eq!(r.s.stats().side(Side::Callee).unwrap().latched, None);
    let q = callee.packet(&[200; 160]);
    assert!(matches!(
        r.recv(r.at(80), Side::Callee, spoofer, &q),
        Action::Forward { .. }
    ));
    let p = caller.packet(&[100; 160]);
    r.recv(r.at(80), Side::Caller, caller.from, &p);
    assert_eq!(r.take(Side::Callee)[0].to, spoofer);
}

#[test]
fn an_invalid_packet_does_not_latch_a_side() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let wrong_pt = rtp(8, 1, 0, 3, false, &[0; 160]);
    let a = addr("203.0.113.1:9");
    assert_eq!(
        r.recv(r.t0, Side::Callee, a, &wrong_pt),
        Action::Dropped(DropReason::PayloadType)
    );
    assert!(r.events.is_empty());
    assert_eq!(r.s.stats().side(Side::Callee).unwrap().latched, None);
    let good = rtp(0, 1, 0, 3, false, &[0; 160]);
    r.recv(r.t0, Side::Callee, addr(CALLEE), &good);
    assert_eq!(
        r.s.stats().side(Side::Callee).unwrap().latched,
        Some(addr(CALLEE))
    );
}

#[test]
fn a_port_names_its_one_peer_once_latched_and_none_again_after_a_new_sdp() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    assert_eq!(r.s.peer(Side::Callee, false), None, "nothing learnt yet");
    let public = addr("198.51.100.4:31000");
    r.recv(
        r.t0,
        Side::Callee,
        public,
        &rtp(0, 1, 0, 3, false, &[0; 160]),
    );
    assert_eq!(r.s.peer(Side::Callee, false), Some(public));
    assert_eq!(r.s.peer(Side::Callee, true), None, "RTCP learns on its own");
    assert_eq!(r.s.peer(Side::Caller, false), None);
    // an empty receiver report on the RTCP port, from where the NAT maps it
    let rtcp_from = addr("198.51.100.4:31007");
    let mut rr = [0x80u8, 201, 0, 1, 0, 0, 0, 5];
    r.s.handle_packet(r.t0, Side::Callee, rtcp_from, true, &mut rr, 8);
    assert_eq!(r.s.peer(Side::Callee, true), Some(rtcp_from));

    // with rtcp-mux, RTCP comes to the RTP port: the RTCP port has no peer
    let mut muxed = stream(CALLEE, Codec::Pcmu, 0, None);
    muxed.rtcp_mux = true;
    r.s.configure(r.at(20), Side::Callee, muxed);
    assert_eq!(
        r.s.peer(Side::Callee, false),
        None,
        "a new SDP: learning again"
    );
    let moved = addr("203.0.113.9:5000");
    r.recv(
        r.at(40),
        Side::Callee,
        moved,
        &rtp(0, 2, 160, 3, false, &[0; 160]),
    );
    let mut rr = [0x80u8, 201, 0, 1, 0, 0, 0, 5];
    r.s.handle_packet(r.at(40), Side::Callee, moved, false, &mut rr, 8);
    assert_eq!(r.s.peer(Side::Callee, false), Some(moved));
    assert_eq!(r.s.peer(Side::Callee, true), None);
}
