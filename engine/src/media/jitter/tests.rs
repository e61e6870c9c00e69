use std::collections::HashSet;

use super::*;
use crate::entropy::Entropy;
use crate::media::Codec;

mod low_latency;

const SSRC: Ssrc = Ssrc(0x5eed);
const TS0: u32 = 0xffff_f000; // wraps during every run

fn buffer() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::for_codec(Codec::Pcmu))
}

/// A packet on the simulated network.
#[derive(Clone, Copy, Debug)]
struct Packet {
    meta: PacketMeta,
    /// Arrival, from the start of the run.
    at: Duration,
}

/// 160 bytes that name the frame: the sequence number, then filler.
fn payload(seq: u16) -> [u8; 160] {
    let mut p = [0x55u8; 160];
    p[..2].copy_from_slice(&seq.to_be_bytes());
    p
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Packets `first..first + n` of a 20 ms stream sent from time 0, each delayed by
/// `delay(i)` (a base network delay plus jitter) or lost (`None`).
fn stream(first: usize, n: usize, mut delay: impl FnMut(usize) -> Option<Duration>) -> Vec<Packet> {
    (first..first + n)
        .filter_map(|i| {
            let d = delay(i)?;
            Some(Packet {
                meta: PacketMeta {
                    ssrc: SSRC,
                    seq: Seq(i as u16),
                    timestamp: RtpTimestamp(TS0.wrapping_add(i as u32 * 160)),
                    marker: i == 0,
                },
                at: ms(20 * i as u64) + d,
            })
        })
        .collect()
}

/// What came out of a run.
#[derive(Debug, Default)]
struct Run {
    played: Vec<u16>,
    /// The tick each of `played` played at.
    played_at: Vec<Duration>,
    missing: u64,
    idle: u64,
    pushed: Vec<(u16, Pushed)>,
    /// (time, delay, target) every second.
    delays: Vec<(Duration, Duration, Duration)>,
}

impl Run {
    fn pushed_as(&self, what: Pushed) -> Vec<u16> {
        self.pushed
            .iter()
            .filter(|(_, p)| *p == what)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// Delivers `packets` in arrival order and pops at every 20 ms tick (10 ms after each send
/// time) for `ticks` ticks.
fn run(jb: &mut JitterBuffer, mut packets: Vec<Packet>, ticks: u64) -> Run {
    let t0 = Instant::now();
    packets.sort_by_key(|p| (p.at, p.meta.seq.0));
    let mut out = Run::default();
    let mut next = 0;
    for k in 0..ticks {
        let tick = ms(10 + 20 * k);
        while next < packets.len() && packets[next].at <= tick {
            let p = packets[next];
            let r = jb.push(t0 + p.at, p.meta, &payload(p.meta.seq.0));
            out.pushed.push((p.meta.seq.0, r));
            next += 1;
        }
        match jb.pop(t0 + tick) {
            Playout::Frame(f) => {
                assert_eq!(
                    f.payload,
                    payload(f.seq.0),
                    "frame and payload belong together"
                );
                out.played.push(f.seq.0);
                out.played_at.push(tick);
            }
            Playout::Missing => out.missing += 1,
            Playout::Idle => out.idle += 1,
        }
        if k % 50 == 49 {
            out.delays.push((tick, jb.delay(), jb.target_delay()));
        }
    }
    out
}

fn assert_in_order_once(played: &[u16]) {
    let mut seen = HashSet::new();
    for w in played.windows(2) {
        assert!(Seq(w[1]).is_after(Seq(w[0])), "{} then {}", w[0], w[1]);
    }
    for s in played {
        assert!(seen.insert(*s), "frame {s} played twice");
    }
}

#[test]
fn a_clean_stream_plays_every_frame_after_the_minimum_delay() {
    let mut jb = buffer();
    let r = run(&mut jb, stream(0, 500, |_| Some(ms(30))), 520);
    assert_eq!(r.played, (0..500).collect::<Vec<u16>>());
    let s = jb.stats();
    // the stream's end: three dry ticks keep the place, then the buffer goes idle
    assert_eq!((s.concealed, s.stretched, s.skipped, s.late), (0, 3, 0, 0));
    // the first frame arrives at 30 ms and waits 40 ms: the first tick at or after 70 ms
    // is 70 ms, so three ticks (10, 30, 50) are idle before it
    assert_eq!(
        r.idle,
        3 + 14,
        "after the last frame: 3 dry ticks, then idle"
    );
    assert_eq!(r.missing, 3);
    assert_eq!(r.delays[5].1, ms(40));
}

#[test]
fn lost_packets_are_concealed_one_for_one() {
    let mut jb = buffer();
    let mut e = Entropy::seeded(11);
    let mut lost = 0;
    let mut run_of_losses = 0;
    let packets = stream(0, 3000, |i| {
        // 5 % loss in bursts of at most two (three would leave the 40 ms buffer dry: see
        // `a_stalled_network_delays_the_playout_instead_of_losing_frames`), never the first
        // or last few packets
        if i > 2 && i < 2990 && run_of_losses < 2 && e.next_u64() % 100 < 5 {
            lost += 1;
            run_of_losses += 1;
            None
        } else {
            run_of_losses = 0;
            Some(ms(25))
        }
    });
    let r = run(&mut jb, packets, 3003);
    let s = jb.stats();
    assert!(lost > 100, "{lost}");
    assert_eq!(s.concealed, lost);
    assert_eq!(s.played, 3000 - lost);
    assert_eq!((s.skipped, s.stretched, s.late), (0, 0, 0));
    assert_eq!(r.missing, lost);
    assert_in_order_once(&r.played);
}

#[test]
fn a_packet_behind_the_playout_point_is_late_counted_and_never_played() {
    let mut jb = buffer();
    let packets = stream(0, 100, |i| Some(if i == 40 { ms(300) } else { ms(10) }));
    let r = run(&mut jb, packets, 120);
    assert_eq!(r.pushed_as(Pushed::Late), [40]);
    let s = jb.stats();
    assert_eq!((s.late, s.concealed), (1, 1));
    assert!(!r.played.contains(&40));
    assert_eq!(r.played.len() as u64 + s.skipped, 99);
    assert_in_order_once(&r.played);
}

#[test]
fn a_stalled_network_delays_the_playout_instead_of_losing_frames() {
    // frames 40-42 held up 50 ms: the buffer runs dry for one tick and waits in place
    let mut jb = buffer();
    let packets = stream(0, 100, |i| {
        Some(if (40..43).contains(&i) {
            ms(860 - 20 * i as u64)
        } else {
            ms(10)
        })
    });
    let r = run(&mut jb, packets, 120);
    let s = jb.stats();
    assert_eq!((s.concealed, s.late), (0, 0), "{s:?}");
    // one tick waiting in place, then a few more as the target rises to the jitter seen
    assert!(s.stretched >= 1, "{s:?}");
    assert_eq!(r.played.len() as u64 + s.skipped, 100);
    assert_in_order_once(&r.played);

    // frames 40-49 held up 200 ms, released together: after three ticks in place the buffer
    // goes idle, and the burst starts a new playout where the old one stopped
    let mut jb = buffer();
    let packets = stream(0, 100, |i| {
        Some(if (40..50).contains(&i) {
            ms(1000 - 20 * i as u64)
        } else {
            ms(10)
        })
    });
    let r = run(&mut jb, packets, 140);
    let s = jb.stats();
    assert_eq!((s.concealed, s.late), (0, 0), "{s:?}");
    assert!(s.stretched >= 3, "{s:?}");
    assert_eq!(r.played[..45], (0..45).collect::<Vec<u16>>());
    assert_eq!(r.played.len() as u64 + s.skipped, 100);
    assert_in_order_once(&r.played);
}

#[test]
fn duplicates_are_dropped_whether_still_buffered_or_already_played() {
    let mut jb = buffer();
    let mut packets = stream(0, 200, |_| Some(ms(10)));
    let originals = packets.clone();
    for p in &originals {
        if p.meta.seq.0 % 7 == 0 {
            // once right behind the original, once a second later
            packets.push(Packet {
                at: p.at + ms(1),
                ..*p
            });
            packets.push(Packet {
                at: p.at + ms(1000),
                ..*p
            });
        }
    }
    let r = run(&mut jb, packets, 220);
    assert_eq!(r.played, (0..200).collect::<Vec<u16>>());
    let dups = (0..200).filter(|s| s % 7 == 0).count() as u64;
    // the late copies of the last frames arrive after the run
    let s = jb.stats();
    assert_eq!(r.pushed_as(Pushed::Duplicate).len() as u64, s.duplicates);
    assert!(
        s.duplicates >= 2 * dups - 6,
        "{} of {}",
        s.duplicates,
        2 * dups
    );
    assert_eq!(
        s.late, 0,
        "a copy of a played frame is a duplicate, not late"
    );
}

#[test]
fn reordered_and_jittered_streams_play_in_order_and_account_for_every_frame() {
    for seed in 0..4 {
        let mut jb = buffer();
        let mut e = Entropy::seeded(seed);
        let mut lost = HashSet::new();
        let packets = stream(0, 2000, |i| {
            if i > 0 && e.next_u64() % 100 < 2 {
                lost.insert(i as u16);
                return None;
            }
            // 20 ms base, jitter uniform over 0-80 ms: many packets overtake others
            Some(ms(20 + e.next_u64() % 81))
        });
        let r = run(&mut jb, packets, 2100);
        assert_in_order_once(&r.played);
        let s = jb.stats();
        let late: HashSet<u16> = r.pushed_as(Pushed::Late).into_iter().collect();
        for q in &r.played {
            assert!(!lost.contains(q) && !late.contains(q));
        }
        // every frame position from the first to the last played is played, concealed or
        // skipped exactly once
        let first = r.played[0];
        let last = *r.played.last().unwrap();
        let span = u64::from(last.wrapping_sub(first)) + 1;
        assert_eq!(
            s.played + s.concealed + s.skipped,
            span,
            "seed {seed}: {s:?}"
        );
        // frames not played were lost, late or skipped
        let missing = span - s.played;
        assert!(
            missing <= lost.len() as u64 + s.late + s.skipped,
            "seed {seed}: {s:?}"
        );
        assert!(s.late * 100 < s.received * 3, "late under 3 %: {s:?}");
        assert_eq!(r.missing, s.concealed + s.stretched);
    }
}

#[test]
fn the_delay_grows_under_jitter_and_comes_back_down_after() {
    let mut jb = buffer();
    let mut e = Entropy::seeded(3);
    // 0-10 s clean, 10-30 s jitter up to 120 ms, 30-70 s clean again
    let packets = stream(0, 3500, |i| {
        let jitter = if (500..1500).contains(&i) {
            e.next_u64() % 121
        } else {
            0
        };
        Some(ms(15 + jitter))
    });
    let r = run(&mut jb, packets, 3500);
    let at = |sec: usize| r.delays[sec - 1];
    let calm = at(10);
    let jittery = at(30);
    // within 15 s of the jitter ending the delay is back at the minimum
    let after = at(45);
    assert!(calm.1 <= ms(45), "{calm:?}");
    assert!(
        at(11).2 >= ms(100),
        "the target rises within a second: {:?}",
        at(11)
    );
    assert!(jittery.1 >= ms(100), "{jittery:?}");
    assert!(
        jittery.2 >= ms(100),
        "target followed the jitter: {jittery:?}"
    );
    assert!(after.1 <= ms(45), "{after:?}");
    assert!(at(70).1 <= ms(45));
    assert_eq!(after.2, ms(40), "target back at the minimum: {after:?}");
    // it got there by growing (inserting) and shrinking (skipping), losing little
    let s = jb.stats();
    assert!(s.stretched > 0 && s.skipped > 0, "{s:?}");
    assert!(
        s.late * 100 < 1000 * 5,
        "under 5 % of the jittery packets late: {s:?}"
    );
    assert_in_order_once(&r.played);
}

#[test]
fn a_new_ssrc_or_a_timestamp_jump_resynchronises() {
    let mut jb = buffer();
    let t0 = Instant::now();
    let a = |i: u32| PacketMeta {
        ssrc: SSRC,
        seq: Seq(i as u16),
        timestamp: RtpTimestamp(i * 160),
        marker: false,
    };
    for i in 0..5u32 {
        jb.push(t0 + ms(20 * u64::from(i)), a(i), &payload(i as u16));
    }
    assert!(matches!(jb.pop(t0 + ms(85)), Playout::Frame(f) if f.seq == Seq(0)));
    // another source takes over the stream (a transfer behind the far end)
    let b = PacketMeta {
        ssrc: Ssrc(2),
        seq: Seq(9000),
        timestamp: RtpTimestamp(123_456),
        marker: false,
    };
    assert_eq!(jb.push(t0 + ms(100), b, &payload(9000)), Pushed::Resynced);
    assert_eq!(jb.stats().dropped, 4, "the old source's frames are flushed");
    assert_eq!(jb.pop(t0 + ms(105)), Playout::Idle, "refilling");
    for i in 1..3u16 {
        let next = PacketMeta {
            seq: Seq(9000 + i),
            timestamp: RtpTimestamp(123_456 + 160 * u32::from(i)),
            ..b
        };
        assert_eq!(
            jb.push(t0 + ms(100 + 20 * u64::from(i)), next, &payload(9000 + i)),
            Pushed::Stored
        );
    }
    let p = jb.pop(t0 + ms(145));
    assert!(
        matches!(p, Playout::Frame(f) if f.seq == Seq(9000)),
        "{p:?}"
    );
    // the same source jumps its timestamps by an hour
    let jump = PacketMeta {
        seq: Seq(9003),
        timestamp: RtpTimestamp(123_456 + 8000 * 3600),
        ..b
    };
    assert_eq!(
        jb.push(t0 + ms(150), jump, &payload(9003)),
        Pushed::Resynced
    );
    assert!(
        jb.jitter() < ms(5),
        "a jump is not jitter: {:?}",
        jb.jitter()
    );
    assert_eq!(jb.stats().resyncs, 2);
}

#[test]
fn a_talkspurt_after_silence_starts_a_new_playout_without_concealment() {
    let mut jb = buffer();
    // 1 s of speech, 1 s of silence (nothing sent), 1 s of speech; seq runs on, the
    // timestamp jumps with the silence and the first packet after it is marked
    let mut packets = stream(0, 50, |_| Some(ms(10)));
    for mut p in stream(100, 50, |_| Some(ms(10))) {
        p.meta.seq = Seq(p.meta.seq.0 - 50);
        p.meta.marker = p.meta.seq.0 == 50;
        packets.push(p);
    }
    let r = run(&mut jb, packets, 160);
    let s = jb.stats();
    assert_eq!(s.played, 100);
    assert_eq!(s.concealed, 0);
    assert_eq!(s.stretched, 3 + 3, "three dry ticks after each talkspurt");
    assert_eq!(s.resyncs, 0, "a new talkspurt is not a resync");
    assert_eq!(r.played[50], 50);
}

#[test]
fn an_early_packet_held_back_before_the_start_still_plays_first() {
    let mut jb = buffer();
    // frame 0 arrives 5 ms after frame 1
    let packets = stream(0, 20, |i| Some(if i == 0 { ms(30) } else { ms(5) }));
    let r = run(&mut jb, packets, 30);
    assert_eq!(r.played[..2], [0, 1]);
    // taking frame 0 in added a frame of delay, which the buffer then sheds
    assert_eq!(r.played.len() as u64 + jb.stats().skipped, 20);
    assert_in_order_once(&r.played);
}

#[test]
fn nobody_popping_overflows_the_window_and_drops_the_excess() {
    let mut jb = buffer();
    let t0 = Instant::now();
    let mut results = Vec::new();
    for p in stream(0, 60, |_| Some(ms(0))) {
        results.push(jb.push(t0 + p.at, p.meta, &payload(p.meta.seq.0)));
    }
    assert_eq!(results.iter().filter(|r| **r == Pushed::Stored).count(), 50);
    assert_eq!(
        results.iter().filter(|r| **r == Pushed::Overflow).count(),
        10
    );
    assert_eq!(jb.stats().dropped, 10);
    assert_eq!(jb.buffered(), 50);
    let too_big = [0u8; 161];
    let m = PacketMeta {
        seq: Seq(61),
        ..stream(61, 1, |_| Some(ms(0)))[0].meta
    };
    assert_eq!(jb.push(t0, m, &too_big), Pushed::TooLarge);
}

#[test]
fn a_frame_off_the_playout_grid_is_counted_dropped_when_the_playout_passes_it() {
    // a stream whose second packet is half a frame earlier: the playout moves back to it, and
    // the first packet then sits between two playout positions, never playable
    let mut jb = buffer();
    let t0 = Instant::now();
    let m = |ts: u32| PacketMeta {
        ssrc: SSRC,
        seq: Seq(0),
        timestamp: RtpTimestamp(ts),
        marker: false,
    };
    assert_eq!(jb.push(t0, m(16_400), &payload(1)), Pushed::Stored);
    assert_eq!(jb.push(t0, m(16_320), &payload(2)), Pushed::Stored);
    let mut played = Vec::new();
    for t in (60..400).step_by(20) {
        if let Playout::Frame(f) = jb.pop(t0 + ms(t)) {
            played.push(f.timestamp.0);
        }
    }
    assert_eq!(played, [16_320]);
    let s = jb.stats();
    assert_eq!((s.played, s.dropped, jb.buffered()), (1, 1, 0), "{s:?}");
}

#[test]
fn frames_off_the_grid_that_share_a_slot_are_all_accounted_for() {
    // timestamps moving by half frames before the playout starts: a frame moved back over
    // lands in the slot of one stored earlier, which is then dropped and counted
    let mut jb = buffer();
    let t0 = Instant::now();
    let pushes: &[(u64, u32, u32, usize)] = &[
        (0, 1, 0, 0),
        (42, 1, 4_294_962_896, 0),
        (85, 1, 4_294_958_496, 0),
        (85, 1, 4_294_959_456, 246),
        (116, 1, 4_294_959_456, 0),
        (116, 1, 4_294_959_456, 0),
        (116, 2, 4_294_938_976, 0),
        (116, 1, 4_294_943_696, 0),
        (116, 1, 140_240, 188),
        (116, 1, 140_240, 0),
    ];
    for &(t, ssrc, ts, len) in pushes {
        let meta = PacketMeta {
            ssrc: Ssrc(ssrc),
            seq: Seq(0),
            timestamp: RtpTimestamp(ts),
            marker: false,
        };
        jb.push(t0 + ms(t), meta, &[7u8; 255][..len]);
        // nothing popped: every packet is a duplicate, late, dropped or still buffered
        let s = jb.stats();
        let buffered = jb.buffered() as u64;
        assert_eq!(
            s.received,
            s.duplicates + s.late + s.dropped + buffered,
            "after {ts}: {s:?}, {buffered} buffered"
        );
        let filled = jb.slots.iter().filter(|x| x.state == SlotState::Filled);
        assert_eq!(filled.count() as u64, buffered);
    }
}
