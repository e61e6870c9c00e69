use super::*;

#[test]
fn loss_and_jitter_of_a_seeded_lossy_jittery_stream_are_reported() {
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let mut e = Entropy::seeded(42);
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 5);
    let mut lost = 0i64;
    let mut arrivals = Vec::new();
    for k in 0..2000u64 {
        let roll = e.next_u64();
        // 3 % loss after the first few packets, arrival jitter 0-15 ms
        if k > 5 && roll % 100 < 3 {
            phone.lose();
            lost += 1;
            continue;
        }
        let at = 20 * k * 1000 + (roll >> 32) % 15_000;
        arrivals.push((at, phone.packet(&[0; 160])));
    }
    arrivals.sort_by_key(|a| a.0);
    for (at, p) in &arrivals {
        let now = r.t0 + Duration::from_micros(*at);
        r.recv(now, Side::Caller, phone.from, p);
    }
    let s = *r.s.stats().side(Side::Caller).unwrap();
    assert_eq!(s.rx_packets, arrivals.len() as u64);
    assert_eq!(s.lost, lost, "{s:?}");
    assert_eq!(
        s.expected,
        2000 - 1,
        "the first packet is the probation one"
    );
    // uniform delay over 15 ms: mean |D| of two draws is 5 ms
    assert!((3.0..7.0).contains(&s.jitter_ms), "{s:?}");
    assert_eq!(s.relayed, arrivals.len() as u64);
    assert_eq!(
        r.s.stats().side(Side::Callee).unwrap().tx_packets,
        arrivals.len() as u64
    );
    // a steady stream has next to no jitter
    let mut r = Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    );
    let mut phone = Phone::new(CALLER, Codec::Pcmu, 0, 5);
    for k in 0..500 {
        let p = phone.packet(&[0; 160]);
        r.recv(r.at(20 * k), Side::Caller, phone.from, &p);
    }
    let s = *r.s.stats().side(Side::Caller).unwrap();
    assert_eq!((s.lost, s.jitter_ms), (0, 0.0));
}
