use super::*;
use crate::media::dtmf::{DtmfReceiver, DtmfSender, EventPayload};

/// Presses `c` on the caller's phone (RFC 4733 with payload type `pt`), with G.722 audio
/// packets around it, running the session until `end_ms`.
fn press(r: &mut Rig, c: char, pt: u8, end_ms: u64) {
    let mut tx = DtmfSender::new(PayloadType::new(pt).unwrap(), 8000);
    let mut audio = Phone::new(CALLER, Codec::G722, 9, 1);
    tx.send(r.at(100), Digit::from_char(c).unwrap(), ms(120))
        .unwrap();
    let mut t = 0;
    while t < end_ms {
        let now = r.at(t);
        let p = audio.packet(&[0; 320]);
        r.recv(now, Side::Caller, audio.from, &p);
        while tx.poll_timeout().is_some_and(|at| at <= now + ms(19)) {
            let at = tx.poll_timeout().unwrap();
            let Some(ev) = tx.poll(at, RtpTimestamp(audio.ts)) else {
                continue;
            };
            let mut buf = [0u8; 32];
            let n = ev.write_rtp(&mut buf, Seq(audio.seq), Ssrc(1)).unwrap();
            audio.seq = audio.seq.wrapping_add(1);
            r.recv(at, Side::Caller, audio.from, &buf[..n]);
        }
        r.run_until(now + ms(19));
        t += 20;
    }
}

fn digits(events: &[Event]) -> Vec<(Side, char)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Digit { side, digit } => Some((*side, digit.as_char())),
            _ => None,
        })
        .collect()
}

/// The digits an RFC 4733 receiver on `pt` reads from what went to a side.
fn read(out: &[Out], pt: u8) -> String {
    let mut rx = DtmfReceiver::new(PayloadType::new(pt).unwrap(), 8000, ms(500));
    let t = Instant::now();
    let mut s = String::new();
    for o in out {
        let p = RtpPacket::parse(&o.bytes).unwrap();
        rx.handle_packet(t, &p);
        while let Some(e) = rx.poll_event() {
            s.push(e.digit.as_char());
        }
    }
    s
}

#[test]
fn a_digit_into_a_transcoded_call_is_one_event_and_is_sent_again_with_the_other_side_type() {
    let mut r = Rig::call(
        stream(CALLER, Codec::G722, 9, Some(101)),
        stream(CALLEE, Codec::Pcmu, 0, Some(96)),
    );
    press(&mut r, '#', 101, 1000);
    assert_eq!(digits(&r.events), [(Side::Caller, '#')]);
    let out = r.take(Side::Callee);
    let events: Vec<&Out> = out
        .iter()
        .filter(|o| RtpPacket::parse(&o.bytes).unwrap().payload_type().value() == 96)
        .collect();
    assert!(events.len() >= 5, "{}", events.len());
    let first = RtpPacket::parse(&events[0].bytes).unwrap();
    assert!(first.marker());
    let audio = out.iter().find(|o| o.bytes[1] & 0x7f == 0).unwrap();
    assert_eq!(
        RtpPacket::parse(&audio.bytes).unwrap().ssrc(),
        first.ssrc(),
        "the digit is in the switch's own stream"
    );
    assert_eq!(read(&out, 96), "#");
    assert_eq!(read(&out, 101), "", "not with the caller's number");
}

#[test]
fn send_digit_produces_an_rfc_4733_event_stream() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, Some(101)),
        stream(CALLEE, Codec::Pcmu, 0, Some(96)),
    );
    r.s.send_digit(r.t0, Side::Callee, Digit::from_char('7').unwrap());
    r.run_until(r.at(1000));
    let out = r.take(Side::Callee);
    assert!(r.take(Side::Caller).is_empty());
    let ev: Vec<(bool, EventPayload)> = out
        .iter()
        .map(|o| {
            let p = RtpPacket::parse(&o.bytes).unwrap();
            assert_eq!(p.payload_type().value(), 96);
            assert_eq!(o.to, addr(CALLEE));
            (p.marker(), EventPayload::parse(p.payload()).unwrap())
        })
        .collect();
    assert!(
        ev[0].0 && ev.iter().skip(1).all(|(m, _)| !m),
        "marker on the first only"
    );
    assert!(ev.iter().all(|(_, e)| e.event == 7));
    assert_eq!(
        ev.iter().filter(|(_, e)| e.end).count(),
        3,
        "three end packets"
    );
    let ts: Vec<u32> = out
        .iter()
        .map(|o| RtpPacket::parse(&o.bytes).unwrap().timestamp().0)
        .collect();
    assert!(
        ts.windows(2).all(|w| w[0] == w[1]),
        "one timestamp per event"
    );
    assert_eq!(read(&out, 96), "7");
    // a side without telephone-event gets nothing
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    r.s.send_digit(r.t0, Side::Caller, Digit::from_char('1').unwrap());
    r.run_until(r.at(1000));
    assert!(r.out.is_empty());
}
