//! The sentences of voicemail: what a caller hears before leaving a message, and the menus a
//! subscriber hears when listening to their mailbox.
//!
//! Each function returns the [`Phrase`] of one prompt; the voicemail machines
//! (`crate::voicemail`) decide when each is said. Menu choices are said only when they apply
//! (no "to call back" for an unknown caller), while the keys work the same in every case.

use super::clip::{self, Clip};
use super::phrase::Phrase;

/// "You have two new messages and no saved messages."
pub fn mailbox_summary(new: u32, saved: u32) -> Phrase {
    let mut p = Phrase::of(&[clip::YOU_HAVE]);
    p.count(new, clip::NEW_MESSAGE, clip::NEW_MESSAGES)
        .clip(clip::AND)
        .count(saved, clip::SAVED_MESSAGE, clip::SAVED_MESSAGES);
    p
}

/// The main menu's choices: 1 new, 2 saved, 3 greetings, 4 PIN, `*` again, `#` end.
pub fn main_menu() -> Phrase {
    Phrase::of(&[
        clip::MENU_NEW,
        clip::MENU_SAVED,
        clip::MENU_GREETINGS,
        clip::MENU_PIN,
        clip::MENU_REPEAT,
        clip::MENU_END,
    ])
}

/// What is said before a message: "Message two, from one zero zero two, received today at
/// three oh five pee em."
pub fn envelope(
    position: u32,
    caller: &str,
    received_unix: u64,
    now_unix: u64,
    utc_offset: i32,
) -> Phrase {
    let mut p = Phrase::of(&[clip::MESSAGE]);
    p.number(position)
        .clip(clip::FROM)
        .caller(caller)
        .clip(clip::RECEIVED)
        .when(received_unix, now_unix, utc_offset);
    p
}

/// Which of the optional message choices apply.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageChoices {
    /// There is a message before this one.
    pub previous: bool,
    /// The caller is a number that can be called.
    pub call_back: bool,
    /// The message is new (a saved one needs no saving).
    pub save: bool,
}

/// The choices after a message: 1 again, 4 previous, 6 next, 7 delete, 8 call back, 9 save,
/// `*` main menu.
pub fn message_options(choices: MessageChoices) -> Phrase {
    let mut p = Phrase::of(&[clip::OPTION_REPEAT]);
    let optional = |p: &mut Phrase, on: bool, c: Clip| {
        if on {
            p.clip(c);
        }
    };
    optional(&mut p, choices.previous, clip::OPTION_PREVIOUS);
    p.clip(clip::OPTION_NEXT).clip(clip::OPTION_DELETE);
    optional(&mut p, choices.call_back, clip::OPTION_CALL_BACK);
    optional(&mut p, choices.save, clip::OPTION_SAVE);
    p.clip(clip::OPTION_MAIN_MENU);
    p
}

/// The greetings menu: 1 unavailable, 2 busy, 3 name, `*` main menu.
pub fn greetings_menu() -> Phrase {
    Phrase::of(&[
        clip::GREETINGS_UNAVAILABLE,
        clip::GREETINGS_BUSY,
        clip::GREETINGS_NAME,
        clip::OPTION_MAIN_MENU,
    ])
}

/// The choices after a greeting was recorded: 1 keep, 2 hear, 3 record again, `*` cancel.
pub fn review_options() -> Phrase {
    Phrase::of(&[
        clip::REVIEW_KEEP,
        clip::REVIEW_HEAR,
        clip::REVIEW_AGAIN,
        clip::REVIEW_CANCEL,
    ])
}

/// The default greeting of an unanswered call: "The person at one zero zero two is not
/// available."
pub fn not_available(number: &str) -> Phrase {
    let mut p = Phrase::of(&[clip::THE_PERSON_AT]);
    p.digits(number).clip(clip::IS_NOT_AVAILABLE);
    p
}

/// The default greeting of a busy subscriber: "The person at one zero zero two is busy."
pub fn busy(number: &str) -> Phrase {
    let mut p = Phrase::of(&[clip::THE_PERSON_AT]);
    p.digits(number).clip(clip::IS_BUSY);
    p
}

/// Before a call back: "Calling one zero zero two."
pub fn calling(number: &str) -> Phrase {
    let mut p = Phrase::of(&[clip::CALLING]);
    p.digits(number);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: &Phrase) -> String {
        p.clips()
            .iter()
            .map(|c| c.text())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_summary_counts_new_and_saved_messages() {
        assert_eq!(
            words(&mailbox_summary(2, 0)),
            "You have two new messages and no saved messages"
        );
        assert_eq!(
            words(&mailbox_summary(1, 1)),
            "You have one new message and one saved message"
        );
    }

    #[test]
    fn the_envelope_says_position_caller_and_when() {
        // 2024-03-05 15:05 UTC, heard an hour later
        let at = 1_709_651_100;
        assert_eq!(
            words(&envelope(2, "1002", at, at + 3600, 0)),
            "Message two from one zero zero two received today at three oh five pee em"
        );
        assert_eq!(
            envelope(1, "anonymous", at, at, 0).names()[..4],
            ["message", "n-1", "from", "unknown-caller"]
        );
    }

    #[test]
    fn message_options_name_only_the_choices_that_apply() {
        let all = MessageChoices {
            previous: true,
            call_back: true,
            save: true,
        };
        assert_eq!(
            message_options(all).names(),
            [
                "option-repeat",
                "option-previous",
                "option-next",
                "option-delete",
                "option-call-back",
                "option-save",
                "option-main-menu"
            ]
        );
        assert_eq!(
            message_options(MessageChoices::default()).names(),
            [
                "option-repeat",
                "option-next",
                "option-delete",
                "option-main-menu"
            ]
        );
    }

    #[test]
    fn default_greetings_speak_the_number() {
        assert_eq!(
            words(&not_available("1002")),
            "The person at one zero zero two is not available."
        );
        assert_eq!(words(&busy("+49")), "The person at plus four nine is busy.");
        assert_eq!(words(&calling("7")), "Calling seven");
        assert_eq!(main_menu().len(), 6);
        assert_eq!(greetings_menu().names()[3], "option-main-menu");
        assert_eq!(
            words(&review_options()),
            "To keep it, press 1. To hear it, press 2. To record it again, press 3. \
             To cancel, press star."
        );
    }
}
