//! The clips of the shipped prompt set: every recorded word or sentence the switch may say.
//!
//! A [`Clip`] is a name (`"you-have"`, `"n-20"`, `"digit-7"`) and the English text the clip
//! says. [`CLIPS`] lists every clip the engine can ask for, each once; the prompt set shipped
//! with the switch holds one audio file per entry, named after it (`you-have.wav`). The texts
//! are what the rendering script hands the speech synthesizer ([`script`] writes them as
//! `name<TAB>text` lines), so the script and the engine cannot drift apart. Texts are
//! spelled the way a synthesizer should say them (`"pee em"`, not `"PM"`).
//!
//! A `Clip` cannot be made outside this module, so every clip a phrase holds is in [`CLIPS`].
//! Names are lowercase ASCII letters, digits and `-`, so they are safe file names.

/// One clip of the prompt set.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Clip {
    name: &'static str,
    text: &'static str,
}

impl Clip {
    const fn new(name: &'static str, text: &'static str) -> Clip {
        Clip { name, text }
    }

    /// Its name in the prompt set (the file name without `.wav`).
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The English text it says.
    pub fn text(self) -> &'static str {
        self.text
    }

    /// The clip of a name, if the prompt set has it.
    pub fn named(name: &str) -> Option<Clip> {
        CLIPS.iter().copied().find(|c| c.name == name)
    }
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clip({})", self.name)
    }
}

/// Every clip the engine can ask for, each once, in groups: the words and sentences below,
/// then [`CARDINALS`], [`TENS`], [`DIGITS`], [`LETTERS`], [`ORDINALS`], [`MONTHS`],
/// [`WEEKDAYS`].
pub const CLIPS: &[Clip] = &ALL;

/// The script the prompt set is rendered from: one line per clip of [`CLIPS`], its name, a
/// tab and its text (`you-have\tYou have`).
pub fn script() -> String {
    let mut out = String::with_capacity(CLIPS.len() * 40);
    for c in CLIPS {
        out.push_str(c.name);
        out.push('\t');
        out.push_str(c.text);
        out.push('\n');
    }
    out
}

/// `zero` to `nineteen` (`n-0` .. `n-19`), indexed by value.
pub const CARDINALS: [Clip; 20] = [
    Clip::new("n-0", "zero"),
    Clip::new("n-1", "one"),
    Clip::new("n-2", "two"),
    Clip::new("n-3", "three"),
    Clip::new("n-4", "four"),
    Clip::new("n-5", "five"),
    Clip::new("n-6", "six"),
    Clip::new("n-7", "seven"),
    Clip::new("n-8", "eight"),
    Clip::new("n-9", "nine"),
    Clip::new("n-10", "ten"),
    Clip::new("n-11", "eleven"),
    Clip::new("n-12", "twelve"),
    Clip::new("n-13", "thirteen"),
    Clip::new("n-14", "fourteen"),
    Clip::new("n-15", "fifteen"),
    Clip::new("n-16", "sixteen"),
    Clip::new("n-17", "seventeen"),
    Clip::new("n-18", "eighteen"),
    Clip::new("n-19", "nineteen"),
];

/// `twenty` to `ninety` (`n-20` .. `n-90`); index 0 is twenty.
pub const TENS: [Clip; 8] = [
    Clip::new("n-20", "twenty"),
    Clip::new("n-30", "thirty"),
    Clip::new("n-40", "forty"),
    Clip::new("n-50", "fifty"),
    Clip::new("n-60", "sixty"),
    Clip::new("n-70", "seventy"),
    Clip::new("n-80", "eighty"),
    Clip::new("n-90", "ninety"),
];

/// Digits said one by one (`digit-0` .. `digit-9`), indexed by value.
pub const DIGITS: [Clip; 10] = [
    Clip::new("digit-0", "zero"),
    Clip::new("digit-1", "one"),
    Clip::new("digit-2", "two"),
    Clip::new("digit-3", "three"),
    Clip::new("digit-4", "four"),
    Clip::new("digit-5", "five"),
    Clip::new("digit-6", "six"),
    Clip::new("digit-7", "seven"),
    Clip::new("digit-8", "eight"),
    Clip::new("digit-9", "nine"),
];

/// Letter names (`letter-a` .. `letter-z`), for spelling callers that are names.
pub const LETTERS: [Clip; 26] = [
    Clip::new("letter-a", "ay"),
    Clip::new("letter-b", "bee"),
    Clip::new("letter-c", "see"),
    Clip::new("letter-d", "dee"),
    Clip::new("letter-e", "ee"),
    Clip::new("letter-f", "eff"),
    Clip::new("letter-g", "gee"),
    Clip::new("letter-h", "aitch"),
    Clip::new("letter-i", "eye"),
    Clip::new("letter-j", "jay"),
    Clip::new("letter-k", "kay"),
    Clip::new("letter-l", "el"),
    Clip::new("letter-m", "em"),
    Clip::new("letter-n", "en"),
    Clip::new("letter-o", "oh"),
    Clip::new("letter-p", "pee"),
    Clip::new("letter-q", "cue"),
    Clip::new("letter-r", "ar"),
    Clip::new("letter-s", "ess"),
    Clip::new("letter-t", "tee"),
    Clip::new("letter-u", "you"),
    Clip::new("letter-v", "vee"),
    Clip::new("letter-w", "double you"),
    Clip::new("letter-x", "ex"),
    Clip::new("letter-y", "why"),
    Clip::new("letter-z", "zee"),
];

/// Days of the month (`ord-1` .. `ord-31`); index 0 is the first.
pub const ORDINALS: [Clip; 31] = [
    Clip::new("ord-1", "first"),
    Clip::new("ord-2", "second"),
    Clip::new("ord-3", "third"),
    Clip::new("ord-4", "fourth"),
    Clip::new("ord-5", "fifth"),
    Clip::new("ord-6", "sixth"),
    Clip::new("ord-7", "seventh"),
    Clip::new("ord-8", "eighth"),
    Clip::new("ord-9", "ninth"),
    Clip::new("ord-10", "tenth"),
    Clip::new("ord-11", "eleventh"),
    Clip::new("ord-12", "twelfth"),
    Clip::new("ord-13", "thirteenth"),
    Clip::new("ord-14", "fourteenth"),
    Clip::new("ord-15", "fifteenth"),
    Clip::new("ord-16", "sixteenth"),
    Clip::new("ord-17", "seventeenth"),
    Clip::new("ord-18", "eighteenth"),
    Clip::new("ord-19", "nineteenth"),
    Clip::new("ord-20", "twentieth"),
    Clip::new("ord-21", "twenty first"),
    Clip::new("ord-22", "twenty second"),
    Clip::new("ord-23", "twenty third"),
    Clip::new("ord-24", "twenty fourth"),
    Clip::new("ord-25", "twenty fifth"),
    Clip::new("ord-26", "twenty sixth"),
    Clip::new("ord-27", "twenty seventh"),
    Clip::new("ord-28", "twenty eighth"),
    Clip::new("ord-29", "twenty ninth"),
    Clip::new("ord-30", "thirtieth"),
    Clip::new("ord-31", "thirty first"),
];

/// Months (`month-1` .. `month-12`); index 0 is January.
pub const MONTHS: [Clip; 12] = [
    Clip::new("month-1", "January"),
    Clip::new("month-2", "February"),
    Clip::new("month-3", "March"),
    Clip::new("month-4", "April"),
    Clip::new("month-5", "May"),
    Clip::new("month-6", "June"),
    Clip::new("month-7", "July"),
    Clip::new("month-8", "August"),
    Clip::new("month-9", "September"),
    Clip::new("month-10", "October"),
    Clip::new("month-11", "November"),
    Clip::new("month-12", "December"),
];

/// Days of the week; index 0 is Sunday.
pub const WEEKDAYS: [Clip; 7] = [
    Clip::new("day-sunday", "Sunday"),
    Clip::new("day-monday", "Monday"),
    Clip::new("day-tuesday", "Tuesday"),
    Clip::new("day-wednesday", "Wednesday"),
    Clip::new("day-thursday", "Thursday"),
    Clip::new("day-friday", "Friday"),
    Clip::new("day-saturday", "Saturday"),
];

/// Declares the word and sentence clips and the group that lists them (so a clip declared
/// here cannot be missing from [`CLIPS`]).
macro_rules! words {
    ($($(#[$doc:meta])* $id:ident = $name:literal : $text:literal;)*) => {
        $($(#[$doc])* pub const $id: Clip = Clip::new($name, $text);)*
        const WORDS: &[Clip] = &[$($id),*];
    };
}

words! {
    // numbers and time
    HUNDRED = "hundred": "hundred";
    THOUSAND = "thousand": "thousand";
    MILLION = "million": "million";
    BILLION = "billion": "billion";
    STAR = "digit-star": "star";
    POUND = "digit-pound": "pound";
    PLUS = "digit-plus": "plus";
    OH = "oh": "oh";
    AM = "a-m": "ay em";
    PM = "p-m": "pee em";
    NOON = "noon": "noon";
    MIDNIGHT = "midnight": "midnight";
    AT = "at": "at";
    ON = "on": "on";
    TODAY = "today": "today";
    YESTERDAY = "yesterday": "yesterday";
    SECOND = "second": "second";
    SECONDS = "seconds": "seconds";
    MINUTE = "minute": "minute";
    MINUTES = "minutes": "minutes";
    // counts
    NO = "no": "no";
    AND = "and": "and";
    YOU_HAVE = "you-have": "You have";
    NEW_MESSAGE = "new-message": "new message";
    NEW_MESSAGES = "new-messages": "new messages";
    SAVED_MESSAGE = "saved-message": "saved message";
    SAVED_MESSAGES = "saved-messages": "saved messages";
    // leaving a message
    THE_PERSON_AT = "the-person-at": "The person at";
    IS_NOT_AVAILABLE = "is-not-available": "is not available.";
    IS_BUSY = "is-busy": "is busy.";
    LEAVE_MESSAGE = "leave-message":
        "Please leave a message after the tone. When you are done, hang up or press pound.";
    MAILBOX_FULL = "mailbox-full": "This mailbox is full and cannot take new messages.";
    MESSAGE_RECORDED = "message-recorded": "Your message has been recorded.";
    GOODBYE = "goodbye": "Goodbye.";
    // signing in
    ENTER_PIN = "enter-pin": "Please enter your PIN, then press pound.";
    PIN_WRONG = "pin-wrong": "That PIN is not right.";
    ENTER_MAILBOX = "enter-mailbox": "Please enter your mailbox number, then press pound.";
    MAILBOX_PIN_WRONG = "mailbox-pin-wrong": "That mailbox number and PIN do not match.";
    NO_PIN_SET = "no-pin-set":
        "This mailbox has no PIN yet. Please call from your own phone to set one.";
    MAILBOX_LOCKED = "mailbox-locked":
        "This mailbox is locked after too many wrong PINs. Please try again later.";
    MAILBOX_FULL_OWNER = "mailbox-full-owner":
        "Your mailbox is full. Please delete messages you no longer need.";
    // main menu
    MENU_NEW = "menu-new": "To hear your new messages, press 1.";
    MENU_SAVED = "menu-saved": "To hear your saved messages, press 2.";
    MENU_GREETINGS = "menu-greetings": "To record your greetings, press 3.";
    MENU_PIN = "menu-pin": "To change your PIN, press 4.";
    MENU_REPEAT = "menu-repeat": "To hear these choices again, press star.";
    MENU_END = "menu-end": "To end this call, press pound.";
    INVALID_CHOICE = "invalid-choice": "Sorry, that is not one of the choices.";
    // messages
    MESSAGE = "message": "Message";
    FROM = "from": "from";
    RECEIVED = "received": "received";
    UNKNOWN_CALLER = "unknown-caller": "an unknown caller";
    OPTION_REPEAT = "option-repeat": "To hear it again, press 1.";
    OPTION_PREVIOUS = "option-previous": "For the previous message, press 4.";
    OPTION_NEXT = "option-next": "For the next message, press 6.";
    OPTION_DELETE = "option-delete": "To delete it, press 7.";
    OPTION_CALL_BACK = "option-call-back": "To call back, press 8.";
    OPTION_SAVE = "option-save": "To save it, press 9.";
    OPTION_MAIN_MENU = "option-main-menu": "For the main menu, press star.";
    MESSAGE_DELETED = "message-deleted": "Message deleted.";
    MESSAGE_SAVED = "message-saved": "Message saved.";
    NO_MORE_MESSAGES = "no-more-messages": "There are no more messages.";
    FIRST_MESSAGE = "first-message": "This is the first message.";
    CANNOT_CALL_BACK = "cannot-call-back": "This caller cannot be called back.";
    CALLING = "calling": "Calling";
    // greetings
    GREETINGS_UNAVAILABLE = "greetings-unavailable":
        "To record the greeting callers hear when you do not answer, press 1.";
    GREETINGS_BUSY = "greetings-busy":
        "To record the greeting callers hear when you are busy, press 2.";
    GREETINGS_NAME = "greetings-name": "To record your name, press 3.";
    RECORD_AFTER_TONE = "record-after-tone":
        "Record after the tone. Press pound when you are done.";
    REVIEW_KEEP = "review-keep": "To keep it, press 1.";
    REVIEW_HEAR = "review-hear": "To hear it, press 2.";
    REVIEW_AGAIN = "review-again": "To record it again, press 3.";
    REVIEW_CANCEL = "review-cancel": "To cancel, press star.";
    GREETING_SAVED = "greeting-saved": "Your greeting has been saved.";
    NOTHING_RECORDED = "nothing-recorded": "Nothing was recorded.";
    CANCELLED = "cancelled": "Cancelled.";
    // changing the PIN
    ENTER_NEW_PIN = "enter-new-pin":
        "Please enter your new PIN of four to sixteen digits, then press pound.";
    ENTER_NEW_PIN_AGAIN = "enter-new-pin-again":
        "Please enter the new PIN again, then press pound.";
    PIN_INVALID = "pin-invalid": "A PIN has four to sixteen digits.";
    PINS_DIFFER = "pins-differ": "The two PINs were different.";
    PIN_CHANGED = "pin-changed": "Your PIN has been changed.";
    // hot desk
    HOTDESK_NUMBER = "hotdesk-number":
        "Hot desk. Please enter the number to sign in as, then press pound.";
    HOTDESK_WRONG = "hotdesk-wrong": "That number and PIN do not match.";
    HOTDESK_SIGNED_IN = "hotdesk-signed-in": "This phone is now signed in as that number.";
    HOTDESK_LOCKED = "hotdesk-locked":
        "Hot desk is locked for that number after too many wrong PINs. Please try again later.";
    // prepaid credit
    CREDIT_LOW = "credit-low":
        "Your credit is not enough for this call. Please top up your account.";
    NO_PRICE = "no-price": "Calls to this number cannot be made from your account.";
}

const GROUPS: &[&[Clip]] = &[
    WORDS, &CARDINALS, &TENS, &DIGITS, &LETTERS, &ORDINALS, &MONTHS, &WEEKDAYS,
];

const COUNT: usize = count(GROUPS);
const ALL: [Clip; COUNT] = concat(GROUPS);

const fn count(groups: &[&[Clip]]) -> usize {
    let mut n = 0;
    let mut g = 0;
    while g < groups.len() {
        n += groups[g].len();
        g += 1;
    }
    n
}

const fn concat<const N: usize>(groups: &[&[Clip]]) -> [Clip; N] {
    let mut out = [Clip::new("", ""); N];
    let (mut k, mut g) = (0, 0);
    while g < groups.len() {
        let mut i = 0;
        while i < groups[g].len() {
            out[k] = groups[g][i];
            k += 1;
            i += 1;
        }
        g += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_clip_is_listed_once_with_a_file_safe_name_and_some_text() {
        let mut names = HashSet::new();
        for c in CLIPS {
            assert!(names.insert(c.name()), "{} listed twice", c.name());
            assert!(!c.name().is_empty());
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                c.name()
            );
            assert!(!c.text().trim().is_empty(), "{} says nothing", c.name());
            assert!(!c.text().contains('\n') && !c.text().contains('\t'));
        }
        assert_eq!(CLIPS.len(), WORDS.len() + 20 + 8 + 10 + 26 + 31 + 12 + 7);
    }

    #[test]
    fn the_numbered_groups_are_in_value_order() {
        for (i, c) in CARDINALS.iter().enumerate() {
            assert_eq!(c.name(), format!("n-{i}"));
        }
        for (i, c) in TENS.iter().enumerate() {
            assert_eq!(c.name(), format!("n-{}", (i + 2) * 10));
        }
        for (i, c) in DIGITS.iter().enumerate() {
            assert_eq!(c.name(), format!("digit-{i}"));
            assert_eq!(c.text(), CARDINALS[i].text());
        }
        for (i, c) in LETTERS.iter().enumerate() {
            assert_eq!(c.name(), format!("letter-{}", (b'a' + i as u8) as char));
        }
        for (i, c) in ORDINALS.iter().enumerate() {
            assert_eq!(c.name(), format!("ord-{}", i + 1));
        }
        for (i, c) in MONTHS.iter().enumerate() {
            assert_eq!(c.name(), format!("month-{}", i + 1));
        }
        assert_eq!(WEEKDAYS[0].text(), "Sunday");
        assert_eq!(WEEKDAYS[4].name(), "day-thursday");
    }

    #[test]
    fn the_script_has_a_line_per_clip_that_reads_back_to_the_clip() {
        let script = script();
        assert_eq!(script.lines().count(), CLIPS.len());
        for line in script.lines() {
            let (name, text) = line.split_once('\t').unwrap();
            assert_eq!(Clip::named(name).map(Clip::text), Some(text), "{line}");
        }
        assert!(script.contains("goodbye\tGoodbye.\n"));
    }

    #[test]
    fn a_clip_is_found_by_its_name_and_only_listed_names_are_found() {
        assert_eq!(Clip::named("you-have"), Some(YOU_HAVE));
        assert_eq!(Clip::named("n-90"), Some(TENS[7]));
        assert_eq!(Clip::named("ord-31").map(Clip::text), Some("thirty first"));
        assert_eq!(Clip::named("n-100"), None);
        assert_eq!(Clip::named(""), None);
        assert_eq!(format!("{:?}", GOODBYE), "Clip(goodbye)");
    }
}
