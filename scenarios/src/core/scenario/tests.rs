use super::*;

const SMOKE: &str = include_str!("../../../smoke.toml");
mod conference;
mod voicemail;

const SHIPPED: [(&str, &str); 11] = [
    ("smoke", SMOKE),
    (
        "register-storm",
        include_str!("../../../register-storm.toml"),
    ),
    ("office-hour", include_str!("../../../office-hour.toml")),
    ("call-burst", include_str!("../../../call-burst.toml")),
    (
        "offline-messages",
        include_str!("../../../offline-messages.toml"),
    ),
    (
        "anchored-calls",
        include_str!("../../../anchored-calls.toml"),
    ),
    (
        "conference_small",
        include_str!("../../../conference_small.toml"),
    ),
    (
        "conference_200",
        include_str!("../../../conference_200.toml"),
    ),
    (
        "voicemail_small",
        include_str!("../../../voicemail_small.toml"),
    ),
    (
        "voicemail_load",
        include_str!("../../../voicemail_load.toml"),
    ),
    ("carrier-day", include_str!("../../../carrier-day.toml")),
];

/// A small valid file; tests replace or append lines to break it. Line numbers matter.
const BASE: &str = r#"name = "t"
seed = 1

[population]
count = 10
first = "1000"
password = "pw-{n}"
offline_users = 2

[behaviours.call]
rate = 5
answer = 0.6
busy = 0.2

[behaviours.message]
rate = 1
offline_share = 0.1

[[phases]]
name = "steady"
duration_secs = 10
"#;

fn base_with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn replace(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from} not in BASE");
    BASE.replacen(from, to, 1)
}

#[track_caller]
fn rejected(text: &str, line: usize, field: &str) -> ScenarioError {
    let e = parse(text).expect_err("should be rejected");
    assert_eq!((e.line, e.field.as_str()), (Some(line), field), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("line {line}: {field}: ")),
        "{e}"
    );
    e
}

#[test]
fn every_shipped_file_parses_and_names_itself() {
    for (name, text) in SHIPPED {
        let sc = parse(text).unwrap_or_else(|e| panic!("{name}.toml: {e}"));
        assert_eq!(sc.name, name);
        assert!(!sc.phases.is_empty());
    }
}

#[test]
fn smoke_has_every_behaviour_and_finishes_in_seconds() {
    let sc = parse(SMOKE).unwrap();
    // voicemail needs mailboxes nobody registers, and the smoke's offline users come online:
    // voicemail_small.toml runs it
    for b in Behaviour::ALL
        .into_iter()
        .filter(|&b| b != Behaviour::Voicemail)
    {
        assert!(sc.behaviours.has(b), "{} missing", b.name());
    }
    assert!(sc.behaviours.presence.as_ref().unwrap().publish_rate > 0.0);
    assert!(sc.behaviours.call.as_ref().unwrap().rtp);
    assert!(sc.duration() <= Duration::from_secs(10));
    assert_eq!(sc.thresholds.lost_messages, Some(0));
    assert_eq!(sc.thresholds.success_ratio, Some(0.95));
}

#[test]
fn base_file_parses_with_defaults() {
    let sc = parse(BASE).unwrap();
    let p = &sc.population;
    assert_eq!((p.devices, p.refresh, p.register_first), (1, 0.5, true));
    assert_eq!(p.register_first_rate, 2_000);
    assert_eq!(p.register_expires, Duration::from_secs(3600));
    let c = sc.behaviours.call.unwrap();
    assert!(
        (c.no_answer - 0.2).abs() < 1e-9,
        "the rest goes to no_answer"
    );
    assert_eq!(c.load.drive, Drive::Rate(5.0));
    assert_eq!(sc.phases[0].factor, 1.0);
    assert_eq!(
        sc.thresholds.lost_messages,
        Some(0),
        "messages in the run default to 0 lost"
    );
}

#[test]
fn the_first_registration_rate_is_read_and_bounded() {
    let text = replace(
        "offline_users = 2",
        "offline_users = 2\nregister_first_rate = 20000",
    );
    assert_eq!(parse(&text).unwrap().population.register_first_rate, 20_000);
    let slow = replace(
        "offline_users = 2",
        "offline_users = 2\nregister_first_rate = 100",
    );
    rejected(&slow, 9, "population.register_first_rate");
}

#[test]
fn numbers_keep_width_and_plus_and_passwords_follow_the_template() {
    let sc = parse(&replace(r#"first = "1000""#, r#"first = "+0820""#)).unwrap();
    assert_eq!(sc.population.number(0), "+0820");
    assert_eq!(sc.population.number(9), "+0829");
    assert_eq!(sc.population.password(3), "pw-+0823");
    assert!(sc.population.is_offline(8) && !sc.population.is_offline(7));
}

#[test]
fn domain_defaults_to_the_targets_host() {
    let sc = parse(&replace("seed = 1", "seed = 1\ntarget = \"10.0.0.5:5070\"")).unwrap();
    assert_eq!(sc.domain_for(None), Some("10.0.0.5"));
    assert_eq!(sc.domain_for(Some("sw.example:5060")), Some("sw.example"));
}

#[test]
fn csv_population_gives_numbers_and_passwords() {
    let text = BASE.replace(
        "count = 10\nfirst = \"1000\"\npassword = \"pw-{n}\"\n",
        "csv = \"users.csv\"\n",
    );
    let csv = "number,password\n# staff\n+4930111,alpha\n\n+4930112,beta\n+4930113,c\n+4930114,d\n";
    let sc = parse_with(&text, |p| {
        assert_eq!(p, Path::new("users.csv"));
        Ok(csv.into())
    })
    .unwrap();
    assert_eq!(sc.population.count, 4);
    assert_eq!(sc.population.number(1), "+4930112");
    assert_eq!(sc.population.password(1), "beta");
    let e = parse(&text).expect_err("plain parse cannot read a CSV");
    assert_eq!((e.line, e.field.as_str()), (Some(5), "population.csv"));
}

#[test]
fn bad_csv_line_names_the_csv_line_and_the_field() {
    let text = BASE.replace(
        "first = \"1000\"\npassword = \"pw-{n}\"\n",
        "csv = \"u.csv\"\n",
    );
    let e = parse_with(&text, |_| Ok("1001,a\n1002 b\n".into())).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (Some(6), "population.csv"));
    assert!(
        e.message.starts_with("u.csv:2: expected `number,password`"),
        "{e}"
    );
}

#[test]
fn unknown_field_is_named_with_its_line() {
    let e = rejected(
        &replace("busy = 0.2", "busy = 0.2\nanswr = 0.1"),
        14,
        "behaviours.call.answr",
    );
    assert!(e.message.contains("unknown field"), "{e}");
}

#[test]
fn unknown_top_level_table_is_rejected() {
    rejected(&base_with("[extra]\nx = 1\n"), 22, "extra");
}

#[test]
fn wrong_type_names_the_expected_type() {
    let e = rejected(
        &replace("rate = 5", "rate = \"fast\""),
        11,
        "behaviours.call.rate",
    );
    assert_eq!(e.message, "expected a number, found string");
}

#[test]
fn rate_and_concurrency_together_are_rejected() {
    let e = rejected(
        &replace("rate = 5", "rate = 5\nconcurrency = 3"),
        12,
        "behaviours.call.concurrency",
    );
    assert!(e.message.contains("not both"), "{e}");
}

#[test]
fn negative_rate_is_rejected() {
    rejected(
        &replace("rate = 5", "rate = -5"),
        11,
        "behaviours.call.rate",
    );
}

#[test]
fn missing_rate_is_rejected_at_the_behaviour() {
    rejected(&replace("rate = 1\n", ""), 15, "behaviours.message.rate");
}

#[test]
fn call_shares_over_one_are_rejected() {
    let e = rejected(
        &replace("busy = 0.2", "busy = 0.5"),
        13,
        "behaviours.call.busy",
    );
    assert!(e.message.contains("at most 1"), "{e}");
    let given = replace("busy = 0.2", "busy = 0.2\nno_answer = 0.3");
    rejected(&given, 14, "behaviours.call.no_answer");
}

#[test]
fn probability_above_one_is_rejected() {
    rejected(
        &replace("answer = 0.6", "answer = 1.5"),
        12,
        "behaviours.call.answer",
    );
}

#[test]
fn no_phases_are_rejected() {
    let text = BASE.split("[[phases]]").next().unwrap().to_string();
    let e = parse(&text).unwrap_err();
    assert_eq!(e.field, "phases");
    assert!(e.message.contains("at least one phase"), "{e}");
}

#[test]
fn zero_duration_phase_is_rejected() {
    rejected(
        &replace("duration_secs = 10", "duration_secs = 0"),
        21,
        "phases[0].duration_secs",
    );
}

#[test]
fn phase_naming_an_absent_behaviour_is_rejected() {
    let text = base_with("behaviours = [\"room\"]\n");
    rejected(&text, 22, "phases[0].behaviours");
}

#[test]
fn unknown_threshold_kind_is_named() {
    let e = rejected(
        &base_with("[thresholds.latency]\ninvite = { p99_ms = 5 }\n"),
        23,
        "thresholds.latency.invite",
    );
    assert!(e.message.starts_with("unknown request type"), "{e}");
}

#[test]
fn percentiles_must_be_numbers() {
    let e = rejected(
        &base_with("[thresholds.latency.call]\np50_ms = 10\np99_ms = \"soon\"\n"),
        24,
        "thresholds.latency.call.p99_ms",
    );
    assert_eq!(e.message, "expected a number, found string");
}

#[test]
fn decreasing_percentiles_are_rejected() {
    rejected(
        &base_with("[thresholds.latency.call]\np50_ms = 100\np95_ms = 50\n"),
        22,
        "thresholds.latency.call.p99_ms",
    );
}

#[test]
fn population_too_small_for_the_subscriptions_is_rejected() {
    let e = rejected(
        &base_with("[behaviours.presence]\nrate = 1\nsubscriptions = 8\n"),
        24,
        "behaviours.presence.subscriptions",
    );
    assert!(
        e.message
            .contains("needs 9 online users, the population has 8"),
        "{e}"
    );
}

#[test]
fn numbers_running_past_their_width_are_rejected() {
    let e = rejected(
        &replace(r#"first = "1000""#, r#"first = "9995""#),
        6,
        "population.first",
    );
    assert!(e.message.contains("past 4 digits"), "{e}");
    rejected(
        &replace(r#"first = "1000""#, r#"first = "10a0""#),
        6,
        "population.first",
    );
}

#[test]
fn missing_seed_is_rejected() {
    let e = parse(&replace("seed = 1\n", "")).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (None, "seed"));
    assert_eq!(e.to_string(), "seed: missing (required)");
}

#[test]
fn offline_share_without_offline_users_is_rejected() {
    rejected(
        &replace("offline_users = 2\n", ""),
        16,
        "behaviours.message.offline_share",
    );
}

#[test]
fn include_offline_from_an_unknown_phase_is_rejected() {
    let text = base_with("\n[behaviours.register]\ninclude_offline_from_phase = \"later\"\n");
    rejected(&text, 24, "behaviours.register.include_offline_from_phase");
}

#[test]
fn closed_loops_cannot_follow_offline_users_coming_online() {
    let text = replace("rate = 5", "concurrency = 5")
        + "\n[behaviours.register]\ninclude_offline_from_phase = \"steady\"\n";
    rejected(&text, 11, "behaviours.call.concurrency");
}

#[test]
fn bad_target_and_bad_toml_name_their_line() {
    rejected(
        &replace("seed = 1", "seed = 1\ntarget = \"localhost\""),
        3,
        "target",
    );
    let e = parse(&replace("seed = 1", "seed = = 1")).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.starts_with("invalid TOML"), "{e}");
}

#[test]
fn the_readme_example_is_rejected_as_it_says_and_runs_with_a_rate() {
    let readme = include_str!("../../../README.md");
    let example = readme.split("### Example\n\n```toml\n").nth(1).unwrap();
    let example = example.split("```").next().unwrap();
    let e = rejected(example, 23, "behaviours.message.concurrency");
    assert!(readme.contains(&e.to_string()), "{e}");
    let fixed = example.replace("concurrency = 4 ", "rate = 4 ");
    let sc = parse(&fixed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.phases[1].ramp_to, Some(4.0));
}

/// BASE with calls carrying audio and these lines after `busy` (so the first is line 15).
fn calls_with(lines: &str) -> String {
    replace("busy = 0.2", &format!("busy = 0.2\nrtp = true\n{lines}"))
}

#[test]
fn call_media_defaults_to_direct_and_nat_to_a_private_address() {
    let sc = parse(&calls_with("")).unwrap();
    assert_eq!(sc.behaviours.call.unwrap().media, CallMedia::Direct);
    let sc = parse(&calls_with("media = \"nat\"")).unwrap();
    assert_eq!(
        sc.behaviours.call.unwrap().media,
        CallMedia::Nat("10.255.255.1".parse().unwrap())
    );
    let sc = parse(&calls_with("media = \"nat\"\nnat_address = \"fd00::10\"")).unwrap();
    assert_eq!(
        sc.behaviours.call.unwrap().media,
        CallMedia::Nat("fd00::10".parse().unwrap())
    );
    let sc = parse(&calls_with("media = \"direct\"")).unwrap();
    assert_eq!(sc.behaviours.call.unwrap().media, CallMedia::Direct);
}

#[test]
fn a_bad_call_media_names_its_line_and_field() {
    let e = rejected(
        &calls_with("media = \"relay\""),
        15,
        "behaviours.call.media",
    );
    assert!(e.message.contains("\"direct\" or \"nat\""), "{e}");
    rejected(&calls_with("media = true"), 15, "behaviours.call.media");
    let e = rejected(
        &calls_with("media = \"nat\"\nnat_address = \"10.0.0.300\""),
        16,
        "behaviours.call.nat_address",
    );
    assert!(e.message.contains("10.0.0.300"), "{e}");
    for unusable in ["0.0.0.0", "239.1.2.3", "::"] {
        let text = calls_with(&format!("media = \"nat\"\nnat_address = \"{unusable}\""));
        rejected(&text, 16, "behaviours.call.nat_address");
    }
    let e = rejected(
        &calls_with("nat_address = \"10.0.0.7\""),
        15,
        "behaviours.call.nat_address",
    );
    assert!(e.message.contains("only with media = \"nat\""), "{e}");
}

#[test]
fn nat_media_needs_audio() {
    let text = replace("busy = 0.2", "busy = 0.2\nmedia = \"nat\"");
    let e = rejected(&text, 14, "behaviours.call.media");
    assert!(e.message.contains("rtp = true"), "{e}");
}

#[test]
fn the_anchored_threshold_is_a_ratio_and_needs_calls_with_audio() {
    let anchored = |v: &str| format!("\n[thresholds]\nrtp_anchored_ratio = {v}\n");
    let sc = parse(&(calls_with("media = \"nat\"") + &anchored("1"))).unwrap();
    assert_eq!(sc.thresholds.rtp_anchored_ratio, Some(1.0));
    // BASE is 21 lines; calls_with("") adds two, `anchored` a blank line and [thresholds]
    rejected(
        &(calls_with("") + &anchored("1.5")),
        26,
        "thresholds.rtp_anchored_ratio",
    );
    let e = rejected(
        &base_with(&anchored("0.5")),
        24,
        "thresholds.rtp_anchored_ratio",
    );
    assert!(e.message.contains("rtp = true"), "{e}");
}

#[test]
fn the_signalling_peak_rate_counts_registrations_messages_and_refreshes_at_the_top_factor() {
    let storm = parse(include_str!("../../../register-storm.toml")).unwrap();
    let peak = storm.signalling_peak_rate().expect("registrations only");
    // 2,000/s × the highest factor, plus 10,000 devices refreshing every 0.8 × 3600 s or so
    let top = storm.phases.iter().map(|p| p.factor).fold(0.0, f64::max);
    assert!(
        peak >= 2_000.0 * top && peak < 2_000.0 * top + 10.0,
        "{peak}"
    );
    let text =
        "name = \"m\"\nseed = 1\n[population]\ncount = 10\nfirst = \"100\"\npassword = \"pw\"\n\
                [behaviours.message]\nrate = 100\n[[phases]]\nname = \"p\"\nduration_secs = 5\n";
    let m = parse(text).unwrap();
    let peak = m.signalling_peak_rate().unwrap();
    assert!(
        (200.0..201.0).contains(&peak),
        "{peak}: a MESSAGE and its delivery"
    );
    // calls carry RTP: not a signalling-only scenario
    let calls = parse(include_str!("../../../call-burst.toml")).unwrap();
    assert_eq!(calls.signalling_peak_rate(), None);
}
