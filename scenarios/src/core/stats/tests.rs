use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: f64) -> Duration {
    Duration::from_secs_f64(n)
}

#[test]
fn timeline_counts_offered_by_send_time_and_outcomes_by_arrival() {
    let mut r = Recorder::new(3);
    r.offered(Kind::Call, secs(0.2));
    r.offered(Kind::Call, secs(0.9));
    r.offered(Kind::Register, secs(1.5));
    r.outcome(Kind::Call, secs(1.1), ms(900), Outcome::Ok(200));
    r.outcome(Kind::Call, secs(2.5), ms(1600), Outcome::Failed(503));
    r.outcome(Kind::Register, secs(1.6), ms(100), Outcome::Timeout);
    assert_eq!(r.second(0, Kind::Call).offered, 2);
    assert_eq!(r.second(0, Kind::Call).ok, 0);
    assert_eq!(r.second(1, Kind::Call).ok, 1);
    assert_eq!(r.second(2, Kind::Call).failed, 1);
    assert_eq!(r.second(1, Kind::Register).offered, 1);
    assert_eq!(r.second(1, Kind::Register).timeouts, 1);
    assert_eq!(
        r.second_latency(1, Kind::Call).map(Histogram::count),
        Some(1)
    );
    assert!(
        r.second_latency(2, Kind::Call).is_none(),
        "failures have no latency sample"
    );
    assert_eq!(
        r.counts(Kind::Call),
        Counts {
            offered: 2,
            ok: 1,
            failed: 1,
            timeouts: 0
        }
    );
    assert_eq!(
        r.failure_codes(Kind::Call).collect::<Vec<_>>(),
        vec![(503, 1)]
    );
}

#[test]
fn the_timeline_grows_when_the_run_overruns_its_plan() {
    let mut r = Recorder::new(2);
    r.offered(Kind::Message, secs(4.5));
    assert_eq!(r.seconds(), 5);
    assert_eq!(r.second(4, Kind::Message).offered, 1);
    assert_eq!(r.second(9, Kind::Message), Counts::default());
}

#[test]
fn failure_codes_outside_the_sip_range_are_counted_under_zero() {
    let mut r = Recorder::new(1);
    r.outcome(Kind::Publish, ms(1), ms(1), Outcome::Failed(486));
    r.outcome(Kind::Publish, ms(1), ms(1), Outcome::Failed(42));
    r.outcome(Kind::Publish, ms(1), ms(1), Outcome::Failed(486));
    let codes: Vec<_> = r.failure_codes(Kind::Publish).collect();
    assert_eq!(codes, vec![(0, 1), (486, 2)]);
}

#[test]
fn live_figures_cover_the_window_only() {
    let mut r = Recorder::new(10);
    // seconds 0..5: 10 calls a second, all fine, 10 ms; seconds 5..8: 20 a second, half fail
    for s in 0..8u64 {
        let n = if s < 5 { 10 } else { 20 };
        for i in 0..n {
            let at = Duration::from_secs(s) + ms(i * 1000 / n);
            r.offered(Kind::Call, at);
            let outcome = if s >= 5 && i % 2 == 1 {
                Outcome::Failed(503)
            } else {
                Outcome::Ok(200)
            };
            let latency = if s < 5 { ms(10) } else { ms(300) };
            r.outcome(Kind::Call, at, latency, outcome);
        }
    }
    r.offered(Kind::Register, secs(7.5)); // still in flight
    let live = r.live_of(Kind::Call, secs(8.0), secs(3.0));
    assert!((live.offered_per_sec - 20.0).abs() < 1e-9, "{live:?}");
    assert!((live.achieved_per_sec - 10.0).abs() < 1e-9, "{live:?}");
    assert!((live.success_ratio - 0.5).abs() < 1e-9);
    assert!(live.p99 >= ms(280) && live.p99 <= ms(320), "{:?}", live.p99);
    assert_eq!(live.in_flight, 0);

    let early = r.live_of(Kind::Call, secs(5.0), secs(5.0));
    assert!((early.offered_per_sec - 10.0).abs() < 1e-9, "{early:?}");
    assert_eq!(early.success_ratio, 1.0);
    assert!(early.p99 <= ms(11));

    let all = r.live(secs(8.0), secs(1.0));
    assert_eq!(all.in_flight, 1);
    assert!((all.offered_per_sec - 21.0).abs() < 1e-9, "{all:?}");
}

#[test]
fn live_rates_over_a_partial_second_are_per_elapsed_time() {
    let mut r = Recorder::new(2);
    for i in 0..5 {
        r.offered(Kind::Message, ms(i * 100));
    }
    let live = r.live(ms(500), secs(2.0));
    assert!((live.offered_per_sec - 10.0).abs() < 1e-9, "{live:?}");
    assert_eq!(live.in_flight, 5);
    assert_eq!(live.success_ratio, 1.0, "no outcomes: nothing failed");
}

#[test]
fn merging_shards_equals_recording_everything_in_one() {
    let (mut a, mut b, mut one) = (Recorder::new(2), Recorder::new(4), Recorder::new(2));
    for i in 0..400u64 {
        let at = ms(i * 10);
        let outcome = match i % 7 {
            0 => Outcome::Failed(480),
            1 => Outcome::Timeout,
            _ => Outcome::Ok(200),
        };
        let shard = if i % 2 == 0 { &mut a } else { &mut b };
        for r in [shard, &mut one] {
            r.offered(Kind::Subscribe, at);
            r.outcome(Kind::Subscribe, at + ms(5), ms(i % 50), outcome);
        }
    }
    a.merge(&b);
    assert_eq!(a.seconds(), one.seconds());
    assert_eq!(a.counts(Kind::Subscribe), one.counts(Kind::Subscribe));
    assert_eq!(a.latency(Kind::Subscribe), one.latency(Kind::Subscribe));
    for s in 0..one.seconds() {
        assert_eq!(a.second(s, Kind::Subscribe), one.second(s, Kind::Subscribe));
        assert_eq!(
            a.second_latency(s, Kind::Subscribe),
            one.second_latency(s, Kind::Subscribe)
        );
    }
    let codes = |r: &Recorder| r.failure_codes(Kind::Subscribe).collect::<Vec<_>>();
    assert_eq!(codes(&a), codes(&one));
}

#[test]
fn messages_acked_but_never_received_are_lost_and_receptions_across_shards_are_duplicates() {
    let (mut sender, mut receiver) = (Recorder::new(1), Recorder::new(1));
    for id in 0..10 {
        sender.message_acked(id);
    }
    for id in [0, 1, 2, 3, 4, 5, 6, 7, 7] {
        receiver.message_received(id);
    }
    sender.message_received(3); // the same id delivered to a device on another shard
    sender.merge(&receiver);
    let m = sender.messages();
    assert_eq!(
        m,
        MessageCounts {
            acked: 10,
            received: 8,
            lost: 2,
            duplicates: 2
        }
    );
}

fn leg(sent: u64, expected: u64, received: u64, late: u64, origin: Origin) -> LegCounts {
    LegCounts {
        sent,
        expected,
        received,
        late,
        origin,
    }
}

#[test]
fn rtp_totals_sum_the_legs_and_keep_the_worst_one() {
    let mut r = Recorder::new(1);
    r.rtp(&leg(505, 500, 490, 3, Origin::Relayed));
    r.rtp(&leg(500, 500, 500, 0, Origin::Relayed));
    let t = r.rtp_totals();
    assert_eq!(
        (t.legs, t.sent, t.expected, t.received, t.late, t.lost()),
        (2, 1005, 1000, 990, 3, 10)
    );
    assert!((t.worst_lost_ratio - 0.02).abs() < 1e-12);
    assert!((t.worst_late_ratio - 3.0 / 490.0).abs() < 1e-12);
}

#[test]
fn rtp_is_kept_by_origin_and_merged_by_origin() {
    let mut a = Recorder::new(1);
    a.rtp(&leg(100, 100, 99, 0, Origin::Relayed));
    a.rtp(&leg(100, 100, 0, 0, Origin::Silent));
    let mut b = Recorder::new(1);
    b.rtp(&leg(100, 100, 100, 1, Origin::Relayed));
    b.rtp(&leg(100, 100, 100, 0, Origin::Direct));
    a.merge(&b);
    let relayed = a.rtp_of(Origin::Relayed);
    assert_eq!((relayed.legs, relayed.received, relayed.late), (2, 199, 1));
    assert_eq!(a.rtp_of(Origin::Direct).legs, 1);
    assert_eq!(a.rtp_of(Origin::Silent).lost(), 100);
    assert_eq!(a.rtp_of(Origin::Other).legs, 0);
    let all = a.rtp_totals();
    assert_eq!((all.legs, all.expected, all.received), (4, 400, 299));
    assert_eq!(all.worst_lost_ratio, 1.0, "the silent leg lost everything");
}
