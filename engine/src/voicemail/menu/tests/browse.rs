use super::*;

/// A trusted session listening to its new messages; the first (id 1) plays.
fn listening() -> Run {
    let mut r = Run::at_main();
    r.key(SEC, '1');
    r
}

fn playing(r: &Run) -> Vec<VoicemailId> {
    r.last_play().messages().collect()
}

#[test]
fn a_message_comes_with_its_envelope_and_is_saved_once_heard_to_its_end() {
    let mut r = listening();
    let said = r.said();
    // "Message one, from one zero zero two, received today at two fifty five pee em"
    assert_eq!(
        said,
        [
            "message",
            "n-1",
            "from",
            "digit-1",
            "digit-0",
            "digit-0",
            "digit-2",
            "received",
            "today",
            "at",
            "n-2",
            "n-50",
            "n-5",
            "p-m",
            "[message 1]"
        ]
    );
    let out = r.finish(5 * SEC);
    assert_eq!(out[0], Action::Save(VoicemailId(1)));
    assert_eq!(
        r.said(),
        [
            "option-repeat",
            "option-next",
            "option-delete",
            "option-call-back",
            "option-main-menu"
        ],
        "heard: no save choice; the first: no previous"
    );
    // heard again: saved already, no second Save
    r.key(SEC, '1');
    assert_eq!(playing(&r), [VoicemailId(1)]);
    r.finish(5 * SEC);
    assert_eq!(r.count(&Action::Save(VoicemailId(1))), 1);
}

#[test]
fn a_message_cut_short_stays_new() {
    let mut r = listening();
    r.key(SEC, '6');
    assert_eq!(playing(&r), [VoicemailId(2)]);
    assert!(!r.log.iter().any(|a| matches!(a, Action::Save(_))));
    assert_eq!(r.m.count(Folder::New), 2);
}

#[test]
fn pound_skips_to_the_choices_without_saving() {
    let mut r = listening();
    r.key(SEC, '#');
    assert_eq!(r.said()[0], "option-repeat");
    assert!(r.said().contains(&"option-save".to_owned()));
    assert_eq!(r.count(&Action::Save(VoicemailId(1))), 0);
    assert_eq!(r.finish(SEC), [], "the choices' end saves nothing");
}

#[test]
fn one_plays_the_message_again() {
    let mut r = listening();
    let first = r.last_play().clone();
    r.key(SEC, '1');
    assert_eq!(r.last_play().items, first.items);
    assert_ne!(r.last_play().id, first.id);
}

#[test]
fn six_goes_to_the_next_message_and_after_the_last_to_the_main_menu() {
    let mut r = listening();
    r.key(SEC, '6');
    assert_eq!(playing(&r), [VoicemailId(2)]);
    assert_eq!(&r.said()[..2], ["message", "n-2"]);
    r.key(SEC, '6');
    let said = r.said();
    assert_eq!(said[0], "no-more-messages");
    assert!(ends_with(&said, &MAIN_CHOICES));
}

#[test]
fn four_goes_back_and_at_the_first_message_says_so() {
    let mut r = listening();
    r.key(SEC, '4');
    assert_eq!(r.said()[0], "first-message");
    assert_eq!(r.said()[1], "option-repeat");
    r.key(SEC, '6');
    r.finish(5 * SEC);
    assert!(r.said().contains(&"option-previous".to_owned()));
    r.key(SEC, '4');
    assert_eq!(playing(&r), [VoicemailId(1)]);
}

#[test]
fn seven_deletes_and_the_deleted_message_never_plays_again() {
    let mut r = listening();
    let out = r.key(SEC, '7');
    assert_eq!(out[0], Action::Delete(VoicemailId(1)));
    assert_eq!(r.said()[0], "message-deleted");
    assert_eq!(playing(&r), [VoicemailId(2)]);
    r.finish(5 * SEC);
    assert!(
        !r.said().contains(&"option-previous".to_owned()),
        "the only message before is deleted"
    );
    r.key(SEC, '4');
    assert_eq!(r.said()[0], "first-message");
    // the folder listed again holds only the other message
    r.key(SEC, '*');
    r.key(SEC, '2');
    assert_eq!(playing(&r), [VoicemailId(3)]);
    r.key(SEC, '6');
    r.key(SEC, '1');
    assert_eq!(playing(&r), [VoicemailId(2)], "heard and saved");
    r.key(SEC, '7');
    assert_eq!(r.said()[..2], ["message-deleted", "no-more-messages"]);
    assert_eq!(r.count(&Action::Delete(VoicemailId(1))), 1);
    assert_eq!(r.count(&Action::Delete(VoicemailId(2))), 1);
    assert_eq!(r.m.count(Folder::New) + r.m.count(Folder::Saved), 1);
}

#[test]
fn eight_calls_the_caller_back_after_saying_the_number() {
    let mut r = listening();
    r.key(SEC, '8');
    assert_eq!(
        r.said(),
        ["calling", "digit-1", "digit-0", "digit-0", "digit-2"]
    );
    assert_eq!(r.keys("7"), [], "keys while calling do nothing");
    assert_eq!(r.finish(SEC), [Action::CallBack("1002".into())]);
    assert!(r.m.is_done());
    assert_eq!(r.m.poll_timeout(), None);
    assert_eq!(r.count(&Action::HangUp), 0);
    // an international number keeps its plus; a silent "calling" goes on after the grace
    let mut r = Run::at_main();
    r.key(SEC, '2');
    r.key(SEC, '8');
    let out = r.wait(60 * SEC);
    assert_eq!(out, [Action::CallBack("+4930123".into())]);
}

#[test]
fn eight_on_a_caller_who_cannot_be_called_says_so() {
    for caller in ["anonymous", "alice", "", "12*3", "+"] {
        let mut r = Run::new(trusted(), vec![msg(5, caller, 60, Folder::New)]);
        r.key(SEC, '1');
        r.finish(3 * SEC);
        assert!(
            !r.said().contains(&"option-call-back".to_owned()),
            "{caller:?}"
        );
        r.key(SEC, '8');
        assert_eq!(r.said()[0], "cannot-call-back", "{caller:?}");
        assert!(!r.log.iter().any(|a| matches!(a, Action::CallBack(_))));
    }
}

#[test]
fn nine_saves_a_new_message_and_goes_on() {
    let mut r = listening();
    let out = r.key(SEC, '9');
    assert_eq!(out[0], Action::Save(VoicemailId(1)));
    assert_eq!(r.said()[0], "message-saved");
    assert_eq!(playing(&r), [VoicemailId(2)]);
    // a saved message needs no saving
    let mut r = Run::at_main();
    r.key(SEC, '2');
    let out = r.key(SEC, '9');
    assert!(!out.iter().any(|a| matches!(a, Action::Save(_))));
    assert_eq!(r.said()[..2], ["message-saved", "no-more-messages"]);
}

#[test]
fn star_returns_to_the_main_menu() {
    let mut r = listening();
    r.key(SEC, '*');
    let said = r.said();
    assert_eq!(said[0], "you-have");
    assert!(ends_with(&said, &MAIN_CHOICES));
}

#[test]
fn other_keys_say_so_and_the_choices_again() {
    for c in "0235ABCD".chars() {
        let mut r = listening();
        r.key(SEC, c);
        let said = r.said();
        assert_eq!(said[..2], ["invalid-choice", "option-repeat"], "{c}");
        assert_eq!(r.m.count(Folder::New), 2, "{c}");
    }
}

#[test]
fn unanswered_choices_are_said_again_then_goodbye() {
    let mut r = listening();
    r.finish(5 * SEC);
    let choices = r.said();
    r.finish(5 * SEC);
    for _ in 0..2 {
        r.wait(6 * SEC);
        assert_eq!(r.said(), choices);
        r.finish(5 * SEC);
    }
    r.wait(6 * SEC);
    assert_eq!(r.said(), ["goodbye"]);
    assert_eq!(r.finish(SEC), [Action::HangUp]);
    // no timer while the message itself plays, however long
    let r = listening();
    assert_eq!(
        r.m.poll_timeout(),
        Some(r.t0 + MenuConfig::default().max_session)
    );
}
