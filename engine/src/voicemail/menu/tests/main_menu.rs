use super::*;
use crate::voicemail::play::Audio;

#[test]
fn one_plays_the_oldest_new_message_and_two_the_saved_ones() {
    let mut r = Run::at_main();
    r.key(SEC, '1');
    let p = r.last_play().clone();
    assert_eq!(p.messages().collect::<Vec<_>>(), [VoicemailId(1)]);
    assert!(starts_with(
        &p.describe(),
        &["message", "n-1", "from", "digit-1"]
    ));
    let mut r = Run::at_main();
    r.key(SEC, '2');
    assert_eq!(
        r.last_play().messages().collect::<Vec<_>>(),
        [VoicemailId(3)]
    );
}

#[test]
fn three_opens_the_greetings_and_four_the_pin_change() {
    let mut r = Run::at_main();
    r.key(SEC, '3');
    assert_eq!(
        r.said(),
        [
            "greetings-unavailable",
            "greetings-busy",
            "greetings-name",
            "option-main-menu"
        ]
    );
    let mut r = Run::at_main();
    r.key(SEC, '4');
    assert_eq!(r.said(), ["enter-new-pin"]);
}

#[test]
fn star_says_the_summary_and_choices_again_and_pound_says_goodbye() {
    let mut r = Run::at_main();
    let before = r.said();
    r.key(SEC, '*');
    assert_eq!(r.said(), before);
    assert!(r.said().len() > MAIN_CHOICES.len());
    r.key(SEC, '#');
    assert_eq!(r.said(), ["goodbye"]);
    assert_eq!(r.key(SEC, '1'), [], "keys during the goodbye do nothing");
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    assert!(r.m.is_done());
}

#[test]
fn keys_that_are_no_choice_say_so_and_the_choices_again() {
    for c in "056789ABCD".chars() {
        let mut r = Run::at_main();
        r.key(SEC, c);
        let said = r.said();
        assert_eq!(said[0], "invalid-choice", "{c}");
        assert_eq!(&said[1..], MAIN_CHOICES, "{c}");
    }
}

#[test]
fn an_empty_folder_says_so_and_the_choices_again() {
    let mut r = Run::new(trusted(), vec![msg(3, "1002", 60, Folder::Saved)]);
    assert!(starts_with(
        &r.said(),
        &[
            "you-have",
            "no",
            "new-messages",
            "and",
            "n-1",
            "saved-message"
        ]
    ));
    r.finish(SEC);
    r.key(SEC, '1');
    let said = r.said();
    assert_eq!(&said[..3], ["you-have", "no", "new-messages"]);
    assert_eq!(&said[3..], MAIN_CHOICES);
    let mut r = Run::new(trusted(), vec![]);
    r.key(SEC, '2');
    assert_eq!(&r.said()[..3], ["you-have", "no", "saved-messages"]);
}

#[test]
fn an_unanswered_menu_is_said_twice_more_then_goodbye() {
    let mut r = Run::at_main();
    let ended = r.now;
    assert_eq!(r.m.poll_timeout(), Some(ended + 6 * SEC));
    let out = r.wait(6 * SEC);
    assert_eq!(plays(&out).len(), 1);
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
    assert_eq!(r.now, ended + 6 * SEC);
    // the time to answer counts from the end of the menu, not from its start
    assert_eq!(r.wait(60 * SEC), [], "nothing is due while the menu plays");
    r.finish(8 * SEC);
    r.wait(6 * SEC);
    assert!(ends_with(&r.said(), &MAIN_CHOICES));
    r.finish(8 * SEC);
    let out = r.wait(6 * SEC);
    assert_eq!(plays(&out)[0].describe(), ["goodbye"]);
    assert_eq!(r.finish(SEC), [Action::HangUp]);
}

#[test]
fn a_key_gives_the_next_menu_its_full_reprompts() {
    let mut r = Run::at_main();
    r.wait(6 * SEC);
    r.finish(8 * SEC);
    r.wait(6 * SEC);
    // two reprompts used; a key, then the greetings menu may be unanswered twice again
    r.key(SEC, '3');
    for _ in 0..2 {
        r.finish(5 * SEC);
        r.wait(6 * SEC);
        assert_eq!(r.said()[0], "greetings-unavailable");
    }
    r.finish(5 * SEC);
    r.wait(6 * SEC);
    assert_eq!(r.said(), ["goodbye"]);
}

#[test]
fn the_late_end_of_a_replaced_playback_starts_no_timer() {
    let mut r = Run::new(trusted(), mailbox());
    let menu = r.last_play().id;
    r.key(SEC, '3');
    r.m.handle_play_finished(r.now, menu);
    assert_eq!(r.drain(), []);
    assert_eq!(
        r.m.poll_timeout(),
        Some(r.t0 + MenuConfig::default().max_session)
    );
}

#[test]
fn the_session_limit_hangs_up_even_while_a_message_plays() {
    let mut r = Run::at_main();
    r.key(SEC, '1');
    let out = r.wait(3600 * SEC);
    assert_eq!(out, [Action::HangUp]);
    assert_eq!(r.now, r.t0 + MenuConfig::default().max_session);
    assert_eq!(r.m.poll_timeout(), None);
}

#[test]
fn after_the_caller_hangs_up_nothing_more_happens() {
    let mut r = Run::at_main();
    r.key(SEC, '1');
    r.m.handle_hangup(r.now);
    assert_eq!(r.drain(), [], "no hang-up of a call already gone");
    assert!(r.m.is_done());
    assert_eq!(r.keys("17*#"), []);
    assert_eq!(r.finish(SEC), []);
    r.m.handle_frame_level(r.now, -10.0);
    r.m.handle_timeout(r.now + 3600 * SEC);
    assert_eq!(r.drain(), []);
    assert_eq!(r.m.poll_timeout(), None);
    assert!(
        !r.log.iter().any(|a| matches!(a, Action::Save(_))),
        "not heard"
    );
}

#[test]
fn the_summary_follows_saves_and_deletes() {
    let mut r = Run::at_main();
    assert_eq!(r.m.count(Folder::New), 2);
    r.key(SEC, '1');
    r.key(SEC, '7');
    r.key(SEC, '9');
    assert_eq!(r.m.count(Folder::New), 0);
    assert_eq!(r.m.count(Folder::Saved), 2);
    let said = r.said();
    assert!(starts_with(
        &said,
        &[
            "message-saved",
            "no-more-messages",
            "you-have",
            "no",
            "new-messages",
            "and",
            "n-2"
        ]
    ));
    assert!(matches!(r.last_play().items[0], Audio::Clip(_)));
}
