//! The low-latency input (`Steering::Slack`): each frame plays at the first tick after it
//! arrived, the delay sheds whole frames of waiting, rises under jitter and follows a
//! drifting sender.

use super::*;

fn low_latency() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::low_latency(Codec::Pcmu))
}

/// How long each played frame of `r` waited in the buffer: its tick less its arrival.
fn waits(r: &Run, packets: &[Packet]) -> Vec<Duration> {
    r.played
        .iter()
        .zip(&r.played_at)
        .map(|(seq, tick)| {
            let p = packets.iter().find(|p| p.meta.seq.0 == *seq).unwrap();
            tick.saturating_sub(p.at)
        })
        .collect()
}

#[test]
fn a_low_latency_input_plays_each_frame_at_the_first_tick_after_it_arrived() {
    // arrivals 3 ms after a tick (ticks at 10 + 20k ms): the next tick is 17 ms later
    let packets = stream(0, 500, |_| Some(ms(33)));
    let mut jb = low_latency();
    let r = run(&mut jb, packets.clone(), 520);
    assert_eq!(r.played, (0..500).collect::<Vec<u16>>());
    assert!(
        waits(&r, &packets).iter().all(|&w| w == ms(17)),
        "no whole frame of floor"
    );
    assert_eq!(jb.stats().concealed, 0);
    // the frame path's default buffer holds the same stream 57 ms
    let mut level = buffer();
    let r = run(&mut level, packets.clone(), 520);
    assert!(waits(&r, &packets).iter().all(|&w| w >= ms(40)));
}

#[test]
fn a_low_latency_input_sheds_a_whole_frame_of_waiting() {
    // arrivals just before a tick: the first frame waits for the guard, one tick
    let packets = stream(0, 500, |_| Some(ms(29)));
    let mut jb = low_latency();
    let r = run(&mut jb, packets.clone(), 520);
    let w = waits(&r, &packets);
    assert!(w[0] >= ms(2) && w[0] <= ms(23), "{:?}", w[0]);
    assert!(w.iter().all(|&w| w <= ms(21)), "never a frame more");
    // a stall of 100 ms then a burst: the delay grows, and comes back down within seconds
    let packets = stream(0, 1000, |i| {
        Some(if (200..205).contains(&i) {
            ms(29 + 100 - 20 * (i as u64 - 200))
        } else {
            ms(29)
        })
    });
    let mut jb = low_latency();
    let r = run(&mut jb, packets.clone(), 1020);
    let w = waits(&r, &packets);
    assert!(w[205..].iter().any(|&w| w > ms(40)), "grown by the stall");
    assert!(
        w[600..].iter().all(|&w| w <= ms(21)),
        "back down: {:?}",
        &w[600..610]
    );
    assert!(jb.stats().skipped >= 4, "{:?}", jb.stats());
    assert_in_order_once(&r.played);
}

#[test]
fn a_low_latency_input_under_jitter_raises_its_target_and_loses_little() {
    let mut e = Entropy::seeded(11);
    // 0-10 s clean, 10-30 s jitter up to 60 ms, then clean again
    let packets = stream(0, 3500, |i| {
        let jitter = if (500..1500).contains(&i) {
            e.next_u64() % 61
        } else {
            0
        };
        Some(ms(15 + jitter))
    });
    let mut jb = low_latency();
    let r = run(&mut jb, packets.clone(), 3500);
    let at = |sec: usize| r.delays[sec - 1];
    assert!(
        at(10).2 <= ms(4),
        "a clean network keeps the guard: {:?}",
        at(10)
    );
    assert!(
        at(20).2 >= ms(40),
        "the target follows the jitter: {:?}",
        at(20)
    );
    assert!(at(70).2 <= ms(10), "and comes back down: {:?}", at(70));
    let s = jb.stats();
    assert!(
        s.late + s.concealed < 1000 * 3 / 100,
        "under 3 % of the jittery frames late or lost: {s:?}"
    );
    assert_in_order_once(&r.played);
    let w = waits(&r, &packets);
    let calm = &w[w.len() - 500..];
    assert!(calm.iter().all(|&w| w <= ms(35)), "short waits once calm");
}

#[test]
fn a_low_latency_input_follows_a_sender_whose_clock_drifts_a_frame_at_a_time() {
    for (spacing_us, what) in [(20_020u64, "slow"), (19_980, "fast")] {
        let packets: Vec<Packet> = stream(0, 3000, |_| Some(ms(33)))
            .into_iter()
            .map(|mut p| {
                let i = u64::from(p.meta.seq.0);
                p.at = Duration::from_micros(33_000 + i * spacing_us);
                p
            })
            .collect();
        let mut jb = low_latency();
        let r = run(&mut jb, packets.clone(), 3000);
        let s = jb.stats();
        // 1000 ppm: 60 ms of drift over the run, three frames' worth
        assert!(
            s.stretched + s.skipped >= 2 && s.stretched + s.skipped <= 8,
            "{what}: {s:?}"
        );
        assert_eq!(s.late, 0, "{what}: {s:?}");
        let w = waits(&r, &packets);
        assert!(
            w.iter().all(|&w| w <= ms(26)),
            "{what}: at most a frame and the margin: {:?}",
            w.iter().max()
        );
        assert_in_order_once(&r.played);
    }
}
