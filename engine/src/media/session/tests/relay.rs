use super::*;
use crate::media::dtmf::{DtmfSender, EventPayload};

#[test]
fn caller_packets_come_out_to_the_callee_sdp_address_with_only_the_payload_type_renumbered() {
    // the caller numbered its L16 stream 96, the callee 97
    let l16 = Codec::L16(SampleRate::NARROW);
    let mut r = Rig::call(stream(CALLER, l16, 96, None), stream(CALLEE, l16, 97, None));
    assert_eq!(r.s.route(Side::Callee), Route::Relay);
    let mut phone = Phone::new(CALLER, l16, 96, 0x1234);
    let tone = sine(1000.0, -10.0, SampleRate::NARROW, 5);
    let mut sent = Vec::new();
    for (k, frame) in tone.chunks(160).enumerate() {
        let p = phone.packet(frame);
        let a = r.recv(r.at(20 * k as u64), Side::Caller, phone.from, &p);
        assert_eq!(
            a,
            Action::Forward {
                side: Side::Callee,
                to: addr(CALLEE),
                len: p.len(),
                rtcp: false
            }
        );
        sent.push(p);
    }
    let out = r.take(Side::Callee);
    assert_eq!(out.len(), 5);
    for (o, p) in out.iter().zip(&sent) {
        assert_eq!(o.bytes[1] & 0x7f, 97);
        assert!(!o.rtcp);
        assert_eq!(o.bytes[0], p[0]);
        assert_eq!(o.bytes[2..], p[2..], "header and payload untouched");
    }
    // the same numbering on both sides: not a byte changes
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 9);
    let p = phone.packet(&[500; 160]);
    r.recv(r.t0, Side::Caller, phone.from, &p);
    assert_eq!(r.take(Side::Callee)[0].bytes, p);
    // and the callee's packets go back to the caller's SDP address
    let mut back = Phone::new(CALLEE, Codec::Pcmu, 0, 10);
    let p = back.packet(&[-500; 160]);
    r.recv(r.t0, Side::Callee, back.from, &p);
    let o = r.take(Side::Caller);
    assert_eq!((o[0].to, &o[0].bytes), (addr(CALLER), &p));
    let st = r.s.stats();
    assert_eq!(st.side(Side::Caller).unwrap().relayed, 1);
    assert_eq!(st.side(Side::Callee).unwrap().tx_packets, 1);
}

#[test]
fn telephone_events_are_relayed_with_the_destination_payload_type_and_read_once() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, Some(101)),
        stream(CALLEE, Codec::Pcmu, 0, Some(96)),
    );
    let mut tx = DtmfSender::new(PayloadType::new(101).unwrap(), 8000);
    tx.send(r.t0, Digit::from_char('5').unwrap(), ms(100))
        .unwrap();
    let mut n = 0u16;
    while let Some(at) = tx.poll_timeout() {
        let Some(p) = tx.poll(at, RtpTimestamp(8000)) else {
            continue;
        };
        let mut buf = [0u8; 32];
        let len = p.write_rtp(&mut buf, Seq(n), Ssrc(77)).unwrap();
        n += 1;
        let a = r.recv(at, Side::Caller, addr(CALLER), &buf[..len]);
        assert!(
            matches!(
                a,
                Action::Forward {
                    side: Side::Callee,
                    ..
                }
            ),
            "{a:?}"
        );
    }
    let out = r.take(Side::Callee);
    assert_eq!(out.len(), usize::from(n));
    assert!(n >= 5, "updates and three ends: {n}");
    for o in &out {
        let p = RtpPacket::parse(&o.bytes).unwrap();
        assert_eq!(p.payload_type().value(), 96);
        assert_eq!(EventPayload::parse(p.payload()).unwrap().event, 5);
    }
    let digits: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Digit { side, digit } => Some((*side, digit.as_char())),
            _ => None,
        })
        .collect();
    assert_eq!(digits, [(Side::Caller, '5')]);
}

#[test]
fn a_side_whose_answer_renumbered_telephone_event_is_heard_on_the_offers_number_and_its_own() {
    // the switch offered the callee telephone-event on 101; its answer named 96, so the
    // switch sends it 96, and it sends 101 (RFC 3264 §6.1), or 96 if it reads its own answer
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, Some(101)),
        StreamConfig {
            incoming_telephone_event: Some(101),
            ..stream(CALLEE, Codec::Pcmu, 0, Some(96))
        },
    );
    for (seq, (pt, key)) in [(101u8, '7'), (96, '8')].into_iter().enumerate() {
        let ev = EventPayload {
            event: Digit::from_char(key).unwrap().event(),
            end: true,
            volume: 10,
            duration: 800,
        };
        let p = rtp(pt, seq as u16, 1000 * seq as u32, 6, true, &ev.to_bytes());
        let a = r.recv(r.at(seq as u64 * 200), Side::Callee, addr(CALLEE), &p);
        assert!(
            matches!(
                a,
                Action::Forward {
                    side: Side::Caller,
                    ..
                }
            ),
            "{pt}: {a:?}"
        );
    }
    let out = r.take(Side::Caller);
    let types: Vec<u8> = out
        .iter()
        .map(|o| RtpPacket::parse(&o.bytes).unwrap().payload_type().value())
        .collect();
    assert_eq!(types, [101, 101], "the caller gets its own number");
    let keys: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Digit { side, digit } => Some((*side, digit.as_char())),
            _ => None,
        })
        .collect();
    assert_eq!(keys, [(Side::Callee, '7'), (Side::Callee, '8')]);
    let other = rtp(100, 9, 9000, 6, true, &[1, 0x80, 0, 160]);
    assert_eq!(
        r.recv(r.at(600), Side::Callee, addr(CALLEE), &other),
        Action::Dropped(DropReason::PayloadType)
    );
}

#[test]
fn events_are_not_relayed_to_a_side_without_telephone_event_and_unknown_types_are_dropped() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, Some(101)),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let ev = EventPayload {
        event: 1,
        end: true,
        volume: 10,
        duration: 800,
    };
    let p = rtp(101, 1, 100, 5, true, &ev.to_bytes());
    assert_eq!(
        r.recv(r.t0, Side::Caller, addr(CALLER), &p),
        Action::Consumed
    );
    assert!(r.events.contains(&Event::Digit {
        side: Side::Caller,
        digit: Digit::from_char('1').unwrap()
    }));
    // comfort noise (13) was not negotiated
    let cn = rtp(13, 2, 260, 5, false, &[40]);
    assert_eq!(
        r.recv(r.t0, Side::Caller, addr(CALLER), &cn),
        Action::Dropped(DropReason::PayloadType)
    );
    let junk = [0u8, 1, 0, 0];
    assert_eq!(
        r.recv(r.t0, Side::Caller, addr(CALLER), &junk),
        Action::Dropped(DropReason::Malformed)
    );
    assert_eq!(r.s.stats().side(Side::Caller).unwrap().invalid, 2);
    assert!(r.take(Side::Callee).is_empty());
}

#[test]
fn rtcp_is_relayed_to_the_other_side_rtcp_address_or_its_rtp_port_with_mux() {
    let mut callee = stream(CALLEE, Codec::Pcmu, 0, None);
    let mut r = Rig::call(stream(CALLER, Codec::Pcmu, 0, None), callee);
    // an empty receiver report from the caller
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 5];
    let mut buf = rr;
    let a = r.s.handle_packet(
        r.t0,
        Side::Caller,
        addr("192.0.2.10:4001"),
        true,
        &mut buf,
        8,
    );
    assert_eq!(
        a,
        Action::Forward {
            side: Side::Callee,
            to: addr("192.0.2.20:5001"),
            len: 8,
            rtcp: true
        }
    );
    callee.rtcp_mux = true;
    r.s.configure(r.t0, Side::Callee, callee);
    let a = r.s.handle_packet(
        r.t0,
        Side::Caller,
        addr("192.0.2.10:4001"),
        true,
        &mut buf,
        8,
    );
    assert_eq!(
        a,
        Action::Forward {
            side: Side::Callee,
            to: addr(CALLEE),
            len: 8,
            rtcp: false
        }
    );
}
