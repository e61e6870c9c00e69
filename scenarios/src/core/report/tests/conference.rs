//! The conference part of a report and its thresholds.

use super::*;
use crate::core::stats::{Histogram, ParticipantCounts};
use switchboard_engine::media::Codec;

/// A participant of `room` that received `received` of 500 packets, measured 5 windows and
/// heard another talker in `heard` of them (its own voice in `own`), with probe delays.
fn participant(room: u32, received: u64, heard: u64, own: u64, talks: bool) -> ParticipantCounts {
    let (mut delays, mut delays_read, mut lateness) =
        (Histogram::new(), Histogram::new(), Histogram::new());
    for d in [20, 30, 40] {
        delays.record(ms(d));
        delays_read.record(ms(d + 5));
        lateness.record(ms(5));
    }
    ParticipantCounts {
        room,
        rtp: LegCounts {
            sent: 500,
            expected: 500,
            received,
            late: 5,
            origin: Origin::Other,
        },
        missing_frames: 2,
        timestamp_jumps: 1,
        jitter: Duration::from_micros(1500),
        windows: 5,
        heard_windows: heard,
        self_windows: own,
        should_hear: true,
        talks,
        delays,
        delays_read,
        lateness,
        send_lateness: Histogram::coarse(),
        // the listeners of room 1 are G.722, room 0's probe is PCMU and room 1's G.722
        codec: if room == 1 { Codec::G722 } else { Codec::Pcmu },
        probe_codec: Some(if room == 1 { Codec::G722 } else { Codec::Pcmu }),
    }
}

/// Room 0: three joined of four dialled, all hear, one talker hears itself. Room 1: two
/// joined of two, one hears nothing.
fn rooms() -> Recorder {
    let mut r = Recorder::new(3);
    for room in [0, 0, 0, 0, 1, 1] {
        r.conference_dialled(room);
    }
    r.conference(&participant(0, 500, 5, 0, true));
    r.conference(&participant(0, 495, 4, 3, true));
    r.conference(&participant(0, 500, 3, 0, false));
    r.conference(&participant(1, 500, 5, 0, true));
    r.conference(&participant(1, 490, 1, 0, false));
    r
}

#[test]
fn the_report_gives_each_room_and_the_totals() {
    let report = build(&rooms(), meta("c"), &[]);
    let c = report.conferences.as_ref().expect("a conference part");
    assert_eq!(c.rooms.len(), 2);
    let (r0, r1) = (&c.rooms[0], &c.rooms[1]);
    assert_eq!(
        (r0.room.as_str(), r0.dialled, r0.joined),
        ("loadconf-0", 4, 3)
    );
    assert_eq!(
        (r0.listeners, r0.heard, r0.talkers, r0.self_heard),
        (3, 3, 2, 1)
    );
    assert_eq!((r1.listeners, r1.heard), (2, 1));
    assert_eq!((r1.expected, r1.received), (1000, 990));
    assert!((r1.lost_ratio - 0.01).abs() < 1e-9);
    let a = &c.all;
    assert_eq!(
        (a.room.as_str(), a.dialled, a.joined, a.missing_frames),
        ("all", 6, 5, 10)
    );
    assert!((a.jitter_mean_ms - 1.5).abs() < 1e-9 && (a.jitter_max_ms - 1.5).abs() < 1e-9);
    assert_eq!(a.delay.samples, 15);
    assert!((a.delay.p50_ms - 30.0).abs() < 0.5, "{:?}", a.delay);
    assert!(
        (a.delay_read.p50_ms - 35.0).abs() < 0.5,
        "{:?}",
        a.delay_read
    );
    assert!((a.runner_read_lateness.p99_ms - 5.0).abs() < 0.1);
    let pairs: Vec<_> = a
        .delay_by_codec
        .iter()
        .map(|c| (c.probe.as_str(), c.listener.as_str(), c.delay.samples))
        .collect();
    assert_eq!(pairs, vec![("PCMU", "PCMU", 9), ("G722", "G722", 6)]);
    assert_eq!(c.participant_seconds, 50.0, "5 × 500 packets at 50/s");
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let j = &v["conferences"];
    for key in [
        "joined",
        "lost_ratio",
        "heard_ratio",
        "self_heard",
        "delay",
        "delay_read",
        "runner_read_lateness",
        "delay_by_codec",
        "rooms",
    ] {
        assert!(!j[key].is_null(), "{key} missing: {j}");
    }
    let table = report.summary_table();
    assert!(
        table.contains("conferences: 2 room(s), 5/6 joined"),
        "{table}"
    );
    assert!(table.contains("4/5 listeners heard another talker, 1/3 talkers heard themselves"));
    assert!(
        table.contains("probe  PCMU -> listener PCMU  delay p50"),
        "{table}"
    );
    assert!(report.to_html().contains("<h2>Conferences</h2>"));
}

#[test]
fn a_run_without_conferences_has_no_conference_part() {
    let report = build(&recorder(), meta("c"), &[]);
    assert!(report.conferences.is_none());
    assert!(!report.summary_table().contains("conferences"));
}

#[test]
fn conference_thresholds_check_what_the_participants_counted() {
    let r = rooms();
    let c = |t| one(&r, Threshold::Conference(t));
    let join = c(ConferenceThreshold::JoinRatio(0.8));
    assert!(join.passed && join.is_minimum() && (join.actual - 5.0 / 6.0).abs() < 1e-9);
    assert!(!c(ConferenceThreshold::JoinRatio(1.0)).passed);
    assert!(c(ConferenceThreshold::LossRatio(0.01)).passed);
    assert!(!c(ConferenceThreshold::LossRatio(0.001)).passed);
    assert!(!c(ConferenceThreshold::LateRatio(0.001)).passed);
    let heard = c(ConferenceThreshold::HeardRatio(1.0));
    assert!(!heard.passed && (heard.actual - 0.8).abs() < 1e-9);
    let own = c(ConferenceThreshold::SelfHeard(0));
    assert!(!own.passed && own.actual == 1.0 && !own.is_minimum());
    assert!(c(ConferenceThreshold::DelayP99(ms(50))).passed);
    assert!(!c(ConferenceThreshold::DelayP99(ms(35))).passed);
}

#[test]
fn conference_thresholds_with_nothing_measured_fail() {
    let mut r = Recorder::new(1);
    r.conference_dialled(0);
    let c = |t| one(&r, Threshold::Conference(t));
    let join = c(ConferenceThreshold::JoinRatio(0.5));
    assert!(!join.passed);
    let loss = c(ConferenceThreshold::LossRatio(0.5));
    assert!(!loss.passed && loss.note.as_deref() == Some("no rtp"));
    let heard = c(ConferenceThreshold::HeardRatio(0.0));
    assert!(!heard.passed && heard.note.as_deref() == Some("no listeners"));
    let delay = c(ConferenceThreshold::DelayP99(ms(100)));
    assert!(!delay.passed && delay.note.as_deref() == Some("no samples"));
}
