use super::*;
use crate::voicemail::menu::OpenedMailbox;
use crate::voicemail::play::Audio;
use crate::voicemail::record::MAX_PIN_FAILURES;

/// Another subscriber's mailbox: PIN 2580, one new message (id 9).
fn theirs() -> OpenedMailbox {
    OpenedMailbox {
        pin: Some(pin("2580")),
        pin_failures: 0,
        full: false,
        messages: vec![msg(9, "1007", 30, Folder::New)],
    }
}

fn open_asked(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        Action::OpenMailbox(n) => Some(n.as_str()),
        _ => None,
    })
}

impl Run {
    /// Answers an `OpenMailbox` as the owner would.
    fn open(&mut self, opened: Option<OpenedMailbox>) -> Vec<Action> {
        self.m.handle_mailbox(self.now, opened);
        self.drain()
    }
}

#[test]
fn star_then_a_mailbox_number_and_its_pin_opens_that_mailbox() {
    let mut r = Run::new(config(), mailbox());
    assert_eq!(r.said(), ["enter-pin"]);
    r.key(SEC, '*');
    assert_eq!(r.said(), ["enter-mailbox"]);
    let out = r.keys("1001#");
    assert_eq!(open_asked(&out), Some("1001"));
    r.open(Some(theirs()));
    assert_eq!(r.said(), ["enter-pin"]);
    let out = r.keys("2580#");
    assert_eq!(out[0], Action::StopPlaying);
    assert!(out.contains(&Action::PinAccepted));
    assert_eq!(r.count(&Action::PinFailed), 0);
    // the summary is the other mailbox's: one new message, none saved
    assert!(starts_with(&r.said(), &["you-have", "n-1", "new-message"]));
    assert_eq!(r.m.count(Folder::New), 1);
    assert_eq!(r.m.count(Folder::Saved), 0);
    r.finish(SEC);
    r.key(SEC, '1');
    assert!(r
        .last_play()
        .items
        .contains(&Audio::Message(VoicemailId(9))));
}

#[test]
fn the_own_pin_does_not_open_another_mailbox() {
    let mut r = Run::new(config(), mailbox());
    r.key(SEC, '*');
    r.keys("1001#");
    r.open(Some(theirs()));
    let out = r.keys("4711#");
    assert_eq!(out.iter().filter(|a| **a == Action::PinFailed).count(), 1);
    assert_eq!(r.count(&Action::PinAccepted), 0);
    assert_eq!(r.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
}

#[test]
fn a_wrong_pin_and_an_unknown_mailbox_sound_the_same_but_only_the_pin_is_reported() {
    let mut wrong = Run::new(config(), mailbox());
    wrong.key(SEC, '*');
    wrong.keys("1001#");
    wrong.open(Some(theirs()));
    let asked_wrong = wrong.said();
    wrong.keys("1111#");
    let mut unknown = Run::new(config(), mailbox());
    unknown.key(SEC, '*');
    unknown.keys("1999#");
    unknown.open(None);
    let asked_unknown = unknown.said();
    unknown.keys("1111#");
    assert_eq!(asked_wrong, ["enter-pin"]);
    assert_eq!(asked_unknown, asked_wrong, "the PIN is asked either way");
    assert_eq!(unknown.said(), wrong.said());
    assert_eq!(wrong.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
    assert_eq!(wrong.count(&Action::PinFailed), 1);
    assert_eq!(
        unknown.count(&Action::PinFailed),
        0,
        "no mailbox to count it in"
    );
    assert_eq!(
        wrong.m.poll_timeout().map(|t| t - wrong.now),
        unknown.m.poll_timeout().map(|t| t - unknown.now),
        "the same timing"
    );
}

#[test]
fn an_unknown_mailbox_takes_no_pin_even_the_placeholder() {
    let mut r = Run::new(config(), mailbox());
    r.key(SEC, '*');
    r.keys("1999#");
    r.open(None);
    r.keys("0#");
    assert_eq!(r.count(&Action::PinAccepted), 0);
    assert_eq!(r.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
}

#[test]
fn a_mailbox_without_a_pin_cannot_be_opened_from_another_phone() {
    // the access number, even where the caller's own phone is trusted
    let mut r2 = Run::new(
        MenuConfig {
            ask_mailbox: true,
            trusted: true,
            ..config()
        },
        Vec::new(),
    );
    assert_eq!(r2.said(), ["enter-mailbox"]);
    r2.keys("1001#");
    r2.open(Some(OpenedMailbox {
        pin: None,
        ..theirs()
    }));
    assert_eq!(r2.said(), ["enter-pin"]);
    r2.keys("#");
    assert_eq!(r2.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
    assert_eq!(r2.count(&Action::PinAccepted), 0);
    assert_eq!(r2.count(&Action::PinFailed), 0);
}

#[test]
fn wrong_mailbox_attempts_count_with_the_own_pins_toward_the_calls_attempts() {
    let mut r = Run::new(config(), mailbox());
    r.keys("1234#");
    assert_eq!(r.said(), ["pin-wrong", "enter-pin"]);
    r.key(SEC, '*');
    r.keys("1001#");
    r.open(Some(theirs()));
    r.keys("1111#");
    assert_eq!(r.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
    r.keys("1999#");
    r.open(None);
    r.keys("2222#");
    assert_eq!(
        r.said(),
        ["mailbox-pin-wrong", "goodbye"],
        "three attempts in all"
    );
    assert_eq!(
        r.count(&Action::PinFailed),
        2,
        "own and the other's wrong PIN"
    );
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    assert!(r.m.is_done());
}

#[test]
fn star_after_a_digit_of_the_pin_is_part_of_the_pin() {
    let mut r = Run::new(config(), mailbox());
    r.keys("4*");
    assert_eq!(r.said(), ["enter-pin"]);
    r.keys("#");
    assert_eq!(r.count(&Action::PinFailed), 1);
    assert_eq!(r.said(), ["pin-wrong", "enter-pin"]);
}

#[test]
fn a_locked_mailbox_says_so_after_its_pin_whatever_was_keyed() {
    let mut r = Run::new(config(), mailbox());
    r.key(SEC, '*');
    r.keys("1001#");
    r.open(Some(OpenedMailbox {
        pin_failures: MAX_PIN_FAILURES,
        ..theirs()
    }));
    assert_eq!(r.said(), ["enter-pin"]);
    r.keys("2580#");
    assert_eq!(r.said(), ["mailbox-locked", "goodbye"]);
    assert_eq!(r.count(&Action::PinAccepted), 0);
    assert_eq!(r.count(&Action::PinFailed), 0);
}

#[test]
fn the_access_number_asks_the_mailbox_first_and_never_trusts() {
    let mut r = Run::new(
        MenuConfig {
            ask_mailbox: true,
            ..trusted()
        },
        Vec::new(),
    );
    assert_eq!(r.said(), ["enter-mailbox"]);
    assert_eq!(
        r.m.poll_timeout(),
        Some(r.t0 + 10 * SEC),
        "first digit timeout"
    );
    let out = r.keys("1001");
    assert_eq!(open_asked(&out), None);
    // a pause ends the number as pound would
    let out = r.wait(5 * SEC);
    assert_eq!(open_asked(&out), Some("1001"));
    r.open(Some(theirs()));
    r.keys("2580#");
    assert_eq!(r.count(&Action::PinAccepted), 1);
    assert!(starts_with(&r.said(), &["you-have", "n-1", "new-message"]));
}

#[test]
fn silence_at_the_mailbox_number_uses_the_attempts_then_goodbye() {
    let mut r = Run::new(
        MenuConfig {
            ask_mailbox: true,
            ..config()
        },
        Vec::new(),
    );
    let out = r.wait(10 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["enter-mailbox"]);
    r.wait(10 * SEC);
    let out = r.wait(10 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["goodbye"]);
    assert_eq!(r.count(&Action::PinFailed), 0);
    assert!(r.log.iter().all(|a| !matches!(a, Action::OpenMailbox(_))));
}

#[test]
fn no_pin_keyed_for_another_mailbox_times_out_as_a_wrong_attempt_unreported() {
    let mut r = Run::new(config(), mailbox());
    r.key(SEC, '*');
    r.keys("1001#");
    r.open(Some(theirs()));
    let out = r.wait(10 * SEC);
    assert_eq!(
        plays(&out)[0].describe(),
        ["mailbox-pin-wrong", "enter-mailbox"]
    );
    assert_eq!(r.count(&Action::PinFailed), 0);
}

#[test]
fn a_mailbox_number_with_a_star_is_no_mailbox_and_is_not_opened() {
    let mut r = Run::new(config(), mailbox());
    r.key(SEC, '*');
    r.keys("10*1#");
    assert_eq!(r.said(), ["enter-pin"]);
    assert!(r.log.iter().all(|a| !matches!(a, Action::OpenMailbox(_))));
    r.keys("2580#");
    assert_eq!(r.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
}

#[test]
fn each_attempt_at_another_mailbox_has_its_own_overall_time() {
    let mut r = Run::new(
        MenuConfig {
            ask_mailbox: true,
            ..config()
        },
        Vec::new(),
    );
    r.keys("1001#");
    r.open(Some(theirs()));
    // one digit every 4 s: each within the inter-digit time, but past the overall one
    for _ in 0..14 {
        r.key(4 * SEC, '1');
    }
    assert_eq!(r.said(), ["enter-pin"]);
    r.wait(10 * SEC);
    assert_eq!(r.now, r.t0 + 60 * SEC, "60 s from the mailbox prompt");
    assert_eq!(r.said(), ["mailbox-pin-wrong", "enter-mailbox"]);
    assert_eq!(r.count(&Action::PinAccepted), 0);
    assert_eq!(r.count(&Action::PinFailed), 1, "digits were keyed");
    assert_eq!(
        r.m.poll_timeout(),
        Some(r.now + 10 * SEC),
        "a new attempt, a new clock"
    );
}
