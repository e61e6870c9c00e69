//! `[behaviours.conferences]` and the `conference_*` thresholds.

use super::*;

/// A valid file with conferences; tests replace lines to break it. Line numbers matter.
/// 20 lines.
const CONF: &str = r#"name = "c"
seed = 1

[population]
count = 12
first = "2000"
password = "pw-{n}"

[behaviours.conferences]
rooms = 3
participants = 4
talkers = 2
codecs = { PCMU = 0.25, G722 = 0.75 }
join_secs = 2
hold_ms = [3000, 5000]
probe = true

[[phases]]
name = "talk"
duration_secs = 10
"#;

fn conf(from: &str, to: &str) -> String {
    assert!(CONF.contains(from), "{from} not in CONF");
    CONF.replacen(from, to, 1)
}

#[test]
fn a_conferences_behaviour_parses_with_its_fields() {
    let sc = parse(CONF).unwrap();
    let c = sc.behaviours.conferences.as_ref().unwrap();
    assert_eq!((c.rooms, c.participants, c.talkers), (3, 4, 2));
    assert_eq!(c.codecs, vec![(Codec::Pcmu, 0.25), (Codec::G722, 0.75)]);
    assert_eq!(c.join, Duration::from_secs(2));
    let hold = c.hold.unwrap();
    assert_eq!(
        (hold.min, hold.max),
        (Duration::from_secs(3), Duration::from_secs(5))
    );
    assert!(c.probe);
    assert!(sc.behaviours.has(Behaviour::Conferences));
    assert_eq!(sc.behaviours.load(Behaviour::Conferences), None);
    // room 2's participants are users 8..11
    assert_eq!(sc.conference_user(2, 0), 8);
    assert_eq!(sc.conference_user(2, 3), 11);
    // talkers can hear themselves: that they do not is checked unless the file says
    assert_eq!(sc.thresholds.conference_self_heard, Some(0));
}

#[test]
fn conferences_default_to_pcmu_one_talker_no_probe_and_staying_to_the_end() {
    let text = conf("talkers = 2\n", "")
        .replace("codecs = { PCMU = 0.25, G722 = 0.75 }\n", "")
        .replace("hold_ms = [3000, 5000]\n", "")
        .replace("probe = true\n", "")
        .replace("join_secs = 2\n", "");
    let sc = parse(&text).unwrap();
    let c = sc.behaviours.conferences.unwrap();
    assert_eq!(c.codecs, vec![(Codec::Pcmu, 1.0)]);
    assert_eq!((c.talkers, c.probe, c.hold), (1, false, None));
    assert_eq!(c.join, Duration::from_secs(1));
    assert_eq!(c.probe_settle, crate::core::conference::PROBE_SETTLE);
}

#[test]
fn a_probe_may_burst_from_its_first_packet() {
    let sc = parse(&conf("probe = true", "probe = true\nprobe_settle_ms = 0")).unwrap();
    let c = sc.behaviours.conferences.unwrap();
    assert_eq!(c.probe_settle, Duration::ZERO);
    rejected(
        &conf("probe = true", "probe = true\nprobe_settle_ms = -1"),
        17,
        "behaviours.conferences.probe_settle_ms",
    );
}

#[test]
fn bad_conference_fields_name_their_line_and_field() {
    let e = rejected(
        &conf("talkers = 2", "talkers = 5"),
        12,
        "behaviours.conferences.talkers",
    );
    assert!(e.message.contains("5 talkers but 4 participants"), "{e}");
    rejected(
        &conf("talkers = 2", "talkers = 13"),
        12,
        "behaviours.conferences.talkers",
    );
    let e = rejected(
        &conf("talkers = 2", "talkers = 4"),
        16,
        "behaviours.conferences.probe",
    );
    assert!(e.message.contains("participants > talkers"), "{e}");
    let e = rejected(
        &conf("rooms = 3", "rooms = 4"),
        11,
        "behaviours.conferences.participants",
    );
    assert!(
        e.message.contains("4 rooms of 4 needs 16 online users"),
        "{e}"
    );
    let e = rejected(
        &conf("G722 = 0.75", "G722 = 0.5"),
        13,
        "behaviours.conferences.codecs",
    );
    assert!(e.message.contains("sum to 1"), "{e}");
    let e = rejected(
        &conf("G722 = 0.75", "OPUS = 0.75"),
        13,
        "behaviours.conferences.codecs.OPUS",
    );
    assert!(e.message.contains("unknown field"), "{e}");
    let e = rejected(
        &conf("[3000, 5000]", "[500, 5000]"),
        15,
        "behaviours.conferences.hold_ms",
    );
    assert!(e.message.contains("at least 1000 ms"), "{e}");
    rejected(
        &conf("participants = 4", "participants = 1"),
        11,
        "behaviours.conferences.participants",
    );
    let e = rejected(
        &conf("probe = true", "probe = true\nrate = 3"),
        17,
        "behaviours.conferences.rate",
    );
    assert!(e.message.contains("unknown field"), "{e}");
    let e = rejected(
        &conf("participants = 4\n", ""),
        9,
        "behaviours.conferences.participants",
    );
    assert!(e.message.contains("missing"), "{e}");
}

#[test]
fn conference_thresholds_need_conferences_and_the_delay_needs_the_probe() {
    let with = |t: &str| format!("{CONF}\n[thresholds]\n{t}\n");
    let sc = parse(&with(
        "conference_join_ratio = 1\nconference_loss_ratio = 0.01\nconference_late_ratio = 0.02\n\
         conference_heard_ratio = 0.9\nconference_self_heard = 1\nconference_delay_p99_ms = 60",
    ))
    .unwrap();
    let t = &sc.thresholds;
    assert_eq!(t.conference_join_ratio, Some(1.0));
    assert_eq!(t.conference_loss_ratio, Some(0.01));
    assert_eq!(t.conference_late_ratio, Some(0.02));
    assert_eq!(t.conference_heard_ratio, Some(0.9));
    assert_eq!(t.conference_self_heard, Some(1));
    assert_eq!(t.conference_delay_p99, Some(Duration::from_millis(60)));
    // CONF is 20 lines; `with` adds a blank line and [thresholds]
    rejected(
        &with("conference_heard_ratio = 2"),
        23,
        "thresholds.conference_heard_ratio",
    );
    let e = rejected(
        &with("conference_delay_p99_ms = 60").replace("probe = true", "probe = false"),
        23,
        "thresholds.conference_delay_p99_ms",
    );
    assert!(e.message.contains("probe = true"), "{e}");
    let e = rejected(
        &base_with("\n[thresholds]\nconference_join_ratio = 1\n"),
        24,
        "thresholds.conference_join_ratio",
    );
    assert!(e.message.contains("needs behaviours.conferences"), "{e}");
}
