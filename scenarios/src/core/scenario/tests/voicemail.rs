//! `[behaviours.voicemail]`.

use super::*;

/// A valid file with voicemail callers; tests replace lines to break it. Line numbers matter.
const VM: &str = r#"name = "v"
seed = 1

[population]
count = 10
first = "3000"
password = "pw-{n}"
offline_users = 4

[behaviours.voicemail]
callers = 4
join_secs = 2
hold_ms = [5000, 8000]

[[phases]]
name = "leave"
duration_secs = 30
"#;

fn vm(from: &str, to: &str) -> String {
    assert!(VM.contains(from), "{from} not in VM");
    VM.replacen(from, to, 1)
}

#[test]
fn a_voicemail_behaviour_parses_with_its_fields_and_pairs_callers_with_offline_mailboxes() {
    let sc = parse(VM).unwrap();
    let v = sc.behaviours.voicemail.as_ref().unwrap();
    assert_eq!((v.callers, v.join), (4, Duration::from_secs(2)));
    assert_eq!(
        (v.hold.min, v.hold.max),
        (Duration::from_secs(5), Duration::from_secs(8))
    );
    assert!(sc.behaviours.has(Behaviour::Voicemail));
    assert_eq!(sc.behaviours.load(Behaviour::Voicemail), None);
    // users 0..5 are online, 6..9 the mailboxes
    assert_eq!(sc.voicemail_mailbox(0), 6);
    assert_eq!(sc.voicemail_mailbox(3), 9);
    assert!(sc.population.is_offline(sc.voicemail_mailbox(0)));
}

#[test]
fn voicemail_defaults_to_a_second_of_joins_and_holds_of_20_to_30_s() {
    let text = vm("join_secs = 2\n", "").replace("hold_ms = [5000, 8000]\n", "");
    let v = parse(&text).unwrap().behaviours.voicemail.unwrap();
    assert_eq!(v.join, Duration::from_secs(1));
    assert_eq!(
        (v.hold.min, v.hold.max),
        (Duration::from_secs(20), Duration::from_secs(30))
    );
}

#[test]
fn bad_voicemail_fields_name_their_line_and_field() {
    let e = rejected(
        &vm("callers = 4", "callers = 5"),
        11,
        "behaviours.voicemail.callers",
    );
    assert!(
        e.message.contains("5 callers need as many mailboxes"),
        "{e}"
    );
    let e = rejected(
        &vm("callers = 4", "callers = 7"),
        11,
        "behaviours.voicemail.callers",
    );
    assert!(e.message.contains("needs 7 online users"), "{e}");
    let e = rejected(
        &vm("[5000, 8000]", "[1500, 8000]"),
        13,
        "behaviours.voicemail.hold_ms",
    );
    assert!(e.message.contains("at least 2000 ms"), "{e}");
    let e = rejected(&vm("callers = 4\n", ""), 10, "behaviours.voicemail.callers");
    assert!(e.message.contains("missing"), "{e}");
    let e = rejected(
        &vm("hold_ms", "rate = 1\nhold_ms"),
        13,
        "behaviours.voicemail.rate",
    );
    assert!(e.message.contains("unknown field"), "{e}");
    // offline users brought online would answer with their phones, not their mailboxes
    let text = vm(
        "[behaviours.voicemail]",
        "[behaviours.register]\ninclude_offline_from_phase = \"leave\"\n\n[behaviours.voicemail]",
    );
    let e = rejected(&text, 14, "behaviours.voicemail.callers");
    assert!(e.message.contains("include_offline_from_phase"), "{e}");
}
