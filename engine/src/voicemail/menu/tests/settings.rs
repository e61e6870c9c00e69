use super::*;
use crate::voicemail::capture::{StopReason, Stopped};
use crate::voicemail::play::Audio;
use crate::voicemail::record::Greeting;

/// A trusted session in the greetings menu, its choices said.
fn at_greetings() -> Run {
    let mut r = Run::at_main();
    r.key(SEC, '3');
    r.finish(5 * SEC);
    r
}

/// Records a greeting of `kind` (key `c`) that lasts `speech` of sound, stopped by `#`.
fn record(c: char, speech: Duration) -> (Run, Vec<Action>) {
    let mut r = at_greetings();
    r.key(SEC, c);
    assert_eq!(r.last_play().items[1], Audio::Beep);
    let started = r.finish(4 * SEC);
    let end = r.now + speech;
    while r.now < end {
        r.now += Duration::from_millis(20);
        r.m.handle_frame_level(r.now, -20.0);
    }
    let out = r.key(Duration::ZERO, '#');
    let mut all = started;
    all.extend(out);
    (r, all)
}

/// The review choices, one clip each.
const REVIEW: [&str; 4] = [
    "review-keep",
    "review-hear",
    "review-again",
    "review-cancel",
];

fn stopped(actions: &[Action]) -> Option<Stopped> {
    actions.iter().find_map(|a| match a {
        Action::StopRecording(s) => Some(*s),
        _ => None,
    })
}

#[test]
fn each_greeting_key_records_its_kind_after_the_tone() {
    for (c, kind) in [
        ('1', Greeting::Unavailable),
        ('2', Greeting::Busy),
        ('3', Greeting::Name),
    ] {
        let mut r = at_greetings();
        r.key(SEC, c);
        assert_eq!(r.said(), ["record-after-tone", "[beep]"]);
        assert_eq!(r.keys("15"), [], "keys during the announcement do nothing");
        assert_eq!(r.finish(4 * SEC), [Action::RecordGreeting(kind)]);
    }
}

#[test]
fn star_in_the_greetings_menu_returns_and_other_keys_are_no_choice() {
    let mut r = at_greetings();
    r.key(SEC, '*');
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
    for c in "04#9AD".chars() {
        let mut r = at_greetings();
        r.key(SEC, c);
        assert_eq!(
            r.said()[..2],
            ["invalid-choice", "greetings-unavailable"],
            "{c}"
        );
    }
}

#[test]
fn a_greeting_ended_by_pound_is_reviewed_and_kept_with_one() {
    let (mut r, out) = record('2', 3 * SEC);
    let s = stopped(&out).unwrap();
    assert_eq!(
        (s.reason, s.keep, s.length),
        (StopReason::Key, true, 3 * SEC)
    );
    assert_eq!(r.said(), REVIEW);
    let out = r.key(SEC, '1');
    assert_eq!(out[0], Action::KeepGreeting(Greeting::Busy));
    assert_eq!(r.said()[..2], ["greeting-saved", "greetings-unavailable"]);
    assert_eq!(r.count(&Action::DiscardGreeting), 0);
}

#[test]
fn two_plays_the_new_greeting_and_three_records_it_again() {
    let (mut r, _) = record('3', 2 * SEC);
    r.key(SEC, '2');
    assert_eq!(r.last_play().items[0], Audio::NewGreeting);
    assert_eq!(r.said()[1..], REVIEW);
    let out = r.key(SEC, '3');
    assert_eq!(out[0], Action::DiscardGreeting);
    assert_eq!(r.said(), ["record-after-tone", "[beep]"]);
    assert_eq!(r.finish(4 * SEC), [Action::RecordGreeting(Greeting::Name)]);
}

#[test]
fn star_in_review_drops_the_greeting() {
    let (mut r, _) = record('1', 2 * SEC);
    let out = r.key(SEC, '*');
    assert_eq!(out[0], Action::DiscardGreeting);
    assert_eq!(r.said()[0], "cancelled");
    for c in "0456789#".chars() {
        let (mut r, _) = record('1', 2 * SEC);
        r.key(SEC, c);
        assert_eq!(r.said()[0], "invalid-choice", "{c}");
        assert_eq!(r.said()[1..], REVIEW, "{c}");
        assert_eq!(r.count(&Action::DiscardGreeting), 0);
    }
}

#[test]
fn a_greeting_under_a_second_was_not_recorded() {
    let (r, out) = record('1', SEC / 2);
    assert!(!stopped(&out).unwrap().keep);
    assert_eq!(r.said()[..2], ["nothing-recorded", "greetings-unavailable"]);
}

#[test]
fn silence_or_the_length_limit_end_a_greeting() {
    let mut r = at_greetings();
    r.key(SEC, '1');
    r.finish(4 * SEC);
    let started = r.now;
    r.m.handle_frame_level(r.now + 2 * SEC, -20.0);
    let out = r.wait(30 * SEC);
    let s = stopped(&out).unwrap();
    assert_eq!(s.reason, StopReason::Silence);
    assert_eq!(r.now, started + 7 * SEC);
    assert_eq!(r.said(), REVIEW);
    // the limit, with sound all along
    let mut r = at_greetings();
    r.key(SEC, '1');
    r.finish(4 * SEC);
    let started = r.now;
    for i in 1..=4000 {
        r.m.handle_frame_level(started + Duration::from_millis(20 * i), -20.0);
    }
    let s = stopped(&r.drain()).unwrap();
    assert_eq!((s.reason, s.length), (StopReason::Limit, 60 * SEC));
}

#[test]
fn keys_other_than_pound_and_star_do_not_stop_a_greeting() {
    let mut r = at_greetings();
    r.key(SEC, '1');
    r.finish(4 * SEC);
    let started = r.now;
    for c in "0123456789ABCD".chars() {
        r.m.handle_frame_level(r.now, -20.0);
        assert_eq!(r.key(SEC / 4, c), [], "{c}");
    }
    let out = r.key(Duration::ZERO, '#');
    assert_eq!(stopped(&out).unwrap().length, r.now - started);
}

#[test]
fn star_cancels_a_greeting_while_it_is_announced_or_recorded() {
    let mut r = at_greetings();
    r.key(SEC, '2');
    r.key(SEC, '*');
    assert_eq!(r.said()[0], "cancelled");
    assert!(!r.log.iter().any(|a| matches!(a, Action::RecordGreeting(_))));
    let mut r = at_greetings();
    r.key(SEC, '2');
    r.finish(4 * SEC);
    let out = r.key(3 * SEC, '*');
    assert!(!stopped(&out).unwrap().keep);
    assert_eq!(r.said()[0], "cancelled");
}

#[test]
fn a_hang_up_drops_a_greeting_being_recorded_or_reviewed() {
    let mut r = at_greetings();
    r.key(SEC, '1');
    r.finish(4 * SEC);
    r.now += 3 * SEC;
    r.m.handle_hangup(r.now);
    let out = r.drain();
    assert_eq!(out.len(), 1);
    assert!(!stopped(&out).unwrap().keep);
    let (mut r, _) = record('1', 2 * SEC);
    r.m.handle_hangup(r.now);
    assert_eq!(r.drain(), [Action::DiscardGreeting]);
    // and so does a review nobody answers
    let (mut r, _) = record('1', 2 * SEC);
    for _ in 0..3 {
        r.finish(3 * SEC);
        r.wait(6 * SEC);
    }
    assert_eq!(r.count(&Action::DiscardGreeting), 1);
    assert_eq!(r.said(), ["goodbye"]);
}

#[test]
fn a_new_pin_keyed_twice_is_set() {
    let mut r = Run::at_main();
    r.key(SEC, '4');
    let out = r.keys("2468#");
    assert_eq!(
        out[0],
        Action::StopPlaying,
        "the prompt stops at the first digit"
    );
    assert_eq!(r.said(), ["enter-new-pin-again"]);
    let out = r.keys("2468#");
    assert!(out.contains(&Action::SetPin(pin("2468"))));
    assert_eq!(r.said()[0], "pin-changed");
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
}

#[test]
fn two_different_entries_start_the_pin_change_again() {
    let mut r = Run::at_main();
    r.key(SEC, '4');
    r.keys("2468#");
    r.keys("2469#");
    assert_eq!(r.said(), ["pins-differ", "enter-new-pin"]);
    r.keys("1357#");
    r.keys("1357#");
    assert_eq!(r.count(&Action::SetPin(pin("1357"))), 1);
    assert!(!r.log.iter().any(|a| *a == Action::SetPin(pin("2468"))));
}

#[test]
fn a_pin_against_the_rules_is_refused() {
    for entry in ["123#", "#", "12A4#", "12345678901234567#"] {
        let mut r = Run::at_main();
        r.key(SEC, '4');
        r.keys(entry);
        assert_eq!(r.said(), ["pin-invalid", "enter-new-pin"], "{entry}");
        assert!(!r.log.iter().any(|a| matches!(a, Action::SetPin(_))));
    }
    // a bad confirmation is a difference
    let mut r = Run::at_main();
    r.key(SEC, '4');
    r.keys("2468#");
    r.keys("24*");
    assert_eq!(r.said()[0], "cancelled", "star cancels at any point");
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
    let mut r = Run::at_main();
    r.key(SEC, '4');
    r.keys("2468#");
    r.keys("12#");
    assert_eq!(r.said(), ["pins-differ", "enter-new-pin"]);
}

#[test]
fn a_pause_ends_a_pin_entry_and_an_unanswered_prompt_is_said_again() {
    let mut r = Run::at_main();
    r.key(SEC, '4');
    r.keys("2468");
    let out = r.wait(5 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["enter-new-pin-again"]);
    r.finish(3 * SEC);
    r.wait(6 * SEC);
    assert_eq!(r.said(), ["enter-new-pin-again"]);
    r.finish(3 * SEC);
    r.wait(6 * SEC);
    r.finish(3 * SEC);
    r.wait(6 * SEC);
    assert_eq!(r.said(), ["goodbye"]);
    assert!(!r.log.iter().any(|a| matches!(a, Action::SetPin(_))));
}
