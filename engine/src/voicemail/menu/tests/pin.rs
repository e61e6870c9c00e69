use super::*;

#[test]
fn the_right_pin_opens_the_main_menu_with_the_mailbox_summary() {
    let mut r = Run::new(config(), mailbox());
    assert_eq!(r.said(), ["enter-pin"]);
    assert_eq!(
        r.m.poll_timeout(),
        Some(r.t0 + 10 * SEC),
        "first digit timeout"
    );
    let out = r.keys("4711#");
    assert_eq!(
        out[0],
        Action::StopPlaying,
        "the prompt stops at the first digit"
    );
    assert_eq!(r.count(&Action::StopPlaying), 1);
    assert!(out.contains(&Action::PinAccepted));
    assert_eq!(r.count(&Action::PinFailed), 0);
    let said = r.said();
    assert!(starts_with(
        &said,
        &[
            "you-have",
            "n-2",
            "new-messages",
            "and",
            "n-1",
            "saved-message"
        ]
    ));
    assert!(ends_with(&said, &MAIN_CHOICES));
}

#[test]
fn a_pause_after_the_digits_ends_the_pin_as_pound_would() {
    let mut r = Run::new(config(), mailbox());
    r.keys("4711");
    assert_eq!(r.count(&Action::PinAccepted), 0);
    let out = r.wait(5 * SEC);
    assert_eq!(out[0], Action::PinAccepted);
}

#[test]
fn a_wrong_pin_is_counted_and_asked_again_then_the_right_one_opens() {
    let mut r = Run::new(config(), mailbox());
    let out = r.keys("1234#");
    assert_eq!(out.iter().filter(|a| **a == Action::PinFailed).count(), 1);
    assert_eq!(r.said(), ["pin-wrong", "enter-pin"]);
    r.finish(SEC);
    r.keys("4711#");
    assert_eq!(r.count(&Action::PinAccepted), 1);
    assert_eq!(r.count(&Action::PinFailed), 1);
}

#[test]
fn three_wrong_pins_say_goodbye_and_hang_up_once() {
    let mut r = Run::new(config(), mailbox());
    r.keys("1#");
    r.keys("2#");
    assert_eq!(r.said(), ["pin-wrong", "enter-pin"]);
    r.keys("3#");
    assert_eq!(r.count(&Action::PinFailed), 3);
    assert_eq!(r.said(), ["pin-wrong", "goodbye"]);
    assert_eq!(r.keys("4711#"), [], "keys after the refusal do nothing");
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    assert!(r.m.is_done());
    assert_eq!(r.m.poll_timeout(), None);
    assert_eq!(r.count(&Action::HangUp), 1);
    assert_eq!(r.count(&Action::PinAccepted), 0);
}

#[test]
fn near_the_lock_limit_a_call_gets_only_the_attempts_left() {
    let mut r = Run::new(
        MenuConfig {
            pin_failures: 9,
            ..config()
        },
        mailbox(),
    );
    r.keys("0000#");
    assert_eq!(r.count(&Action::PinFailed), 1);
    assert_eq!(r.said(), ["pin-wrong", "goodbye"]);
    // with 8 wrong so far, two attempts
    let mut r = Run::new(
        MenuConfig {
            pin_failures: 8,
            ..config()
        },
        mailbox(),
    );
    r.keys("0000#");
    assert_eq!(r.said(), ["pin-wrong", "enter-pin"]);
    r.keys("0000#");
    assert_eq!(r.said(), ["pin-wrong", "goodbye"]);
}

#[test]
fn a_locked_mailbox_and_one_without_a_pin_turn_other_phones_away() {
    let locked = MenuConfig {
        pin_failures: 10,
        ..config()
    };
    let mut r = Run::new(locked.clone(), mailbox());
    assert_eq!(r.said(), ["mailbox-locked", "goodbye"]);
    assert_eq!(r.keys("4711#"), []);
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    let mut r = Run::new(
        MenuConfig {
            pin: None,
            ..config()
        },
        mailbox(),
    );
    assert_eq!(r.said(), ["no-pin-set", "goodbye"]);
    // the goodbye that never reports its end is cut short by the grace time
    assert_eq!(r.wait(60 * SEC), [Action::HangUp]);
    assert_eq!(r.now, r.t0 + MenuConfig::default().goodbye_grace);
    // the own phone gets in anyway
    let r = Run::new(
        MenuConfig {
            trusted: true,
            ..locked
        },
        mailbox(),
    );
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
    assert_eq!(r.count(&Action::PinAccepted), 0);
}

#[test]
fn silence_at_the_pin_prompt_is_no_guess_but_ends_the_call() {
    let mut r = Run::new(config(), mailbox());
    r.finish(2 * SEC);
    let out = r.wait(10 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["pin-wrong", "enter-pin"]);
    r.wait(10 * SEC);
    let out = r.wait(10 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["goodbye"]);
    assert_eq!(r.count(&Action::PinFailed), 0, "nothing was keyed");
    assert_eq!(r.wait(60 * SEC), [Action::HangUp]);
}

#[test]
fn the_pin_entry_has_an_overall_time_limit() {
    let mut r = Run::new(
        MenuConfig {
            pin_overall: 12 * SEC,
            ..config()
        },
        mailbox(),
    );
    // a digit every 4 s keeps each attempt alive, but not the whole entry
    for c in "4711".chars() {
        r.key(4 * SEC, c);
    }
    assert_eq!(r.count(&Action::PinAccepted), 0);
    assert_eq!(r.said(), ["pin-wrong", "goodbye"]);
    assert_eq!(r.count(&Action::PinFailed), 1, "digits were keyed");
}

#[test]
fn a_full_mailbox_is_announced_once_after_signing_in() {
    let mut r = Run::new(
        MenuConfig {
            full: true,
            ..config()
        },
        mailbox(),
    );
    r.keys("4711#");
    assert_eq!(r.said()[0], "mailbox-full-owner");
    r.key(SEC, '*');
    assert_eq!(r.said()[0], "you-have");
}

#[test]
fn a_hang_up_after_a_timeout_fell_due_says_nothing_more() {
    let mut r = Run::new(config(), mailbox());
    // the first-digit timeout (10 s) passed unseen; the caller hangs up at 12 s
    r.m.handle_hangup(r.t0 + 12 * SEC);
    assert_eq!(r.drain(), []);
    assert!(r.m.is_done());
    assert_eq!(r.count(&Action::PinFailed), 0);
}
