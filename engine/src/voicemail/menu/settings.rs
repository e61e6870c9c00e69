//! The subscriber's own settings by phone: recording greetings and changing the PIN.
//!
//! A greeting is recorded after "record after the tone" and the beep, until `#`, silence or
//! the length limit (`*` cancels), then held for review: 1 keeps it, 2 plays it, 3 records it
//! again, `*` drops it. One shorter than the minimum length was not recorded at all.
//!
//! A new PIN is keyed twice, each entry ended by `#` or a pause; it must follow the mailbox
//! rules (`record::new_pin`) and both entries must agree, else the subscriber starts again.

use std::time::Instant;

use super::{Action, Menu, NewPin, State};
use crate::conference::MAX_PIN_LEN;
use crate::prompt::{clip, voicemail as sentences};
use crate::voicemail::capture::{StopReason, Stopped};
use crate::voicemail::play::{say, Audio};
use crate::voicemail::record::{new_pin, Greeting};

impl Menu {
    /// Enters the greetings menu after `before`.
    pub(super) fn greetings_menu(&mut self, before: Vec<Audio>) {
        self.state = State::Greetings;
        let mut items = before;
        say(&mut items, &sentences::greetings_menu());
        self.play(items);
    }

    pub(super) fn greetings_key(&mut self, key: char) {
        match key {
            '1' => self.record(Greeting::Unavailable),
            '2' => self.record(Greeting::Busy),
            '3' => self.record(Greeting::Name),
            '*' => self.main_menu(Vec::new(), true),
            _ => self.greetings_menu(vec![Audio::Clip(clip::INVALID_CHOICE)]),
        }
    }

    /// "Record after the tone", the beep; the recording starts when they end.
    fn record(&mut self, kind: Greeting) {
        self.state = State::RecordPrompt(kind);
        self.play(vec![Audio::Clip(clip::RECORD_AFTER_TONE), Audio::Beep]);
    }

    /// A key while a greeting is announced or recorded: `#` ends it, `*` cancels it.
    pub(super) fn recording_key(&mut self, now: Instant, key: char) {
        match (&self.state, key) {
            (State::Recording(_, c), '#') => {
                let s = c.stop(now, StopReason::Key);
                self.greeting_stopped(s);
            }
            (State::Recording(_, c), '*') => {
                let s = Stopped {
                    keep: false,
                    ..c.stop(now, StopReason::Key)
                };
                self.actions.push_back(Action::StopRecording(s));
                self.greetings_menu(vec![Audio::Clip(clip::CANCELLED)]);
            }
            (State::RecordPrompt(_), '*') => {
                self.greetings_menu(vec![Audio::Clip(clip::CANCELLED)]);
            }
            _ => {}
        }
    }

    /// The greeting recording stopped (`#`, silence or the limit): review it, unless it was
    /// too short to keep.
    pub(super) fn greeting_stopped(&mut self, s: Stopped) {
        let State::Recording(kind, _) = self.state else {
            return;
        };
        self.actions.push_back(Action::StopRecording(s));
        if !s.keep {
            return self.greetings_menu(vec![Audio::Clip(clip::NOTHING_RECORDED)]);
        }
        self.state = State::Review(kind);
        self.review_options(Vec::new());
    }

    /// Says the review choices after `before`.
    pub(super) fn review_options(&mut self, before: Vec<Audio>) {
        let mut items = before;
        say(&mut items, &sentences::review_options());
        self.play(items);
    }

    pub(super) fn review_key(&mut self, kind: Greeting, key: char) {
        match key {
            '1' => {
                self.actions.push_back(Action::KeepGreeting(kind));
                self.greetings_menu(vec![Audio::Clip(clip::GREETING_SAVED)]);
            }
            '2' => self.review_options(vec![Audio::NewGreeting]),
            '3' => {
                self.actions.push_back(Action::DiscardGreeting);
                self.record(kind);
            }
            '*' => {
                self.actions.push_back(Action::DiscardGreeting);
                self.greetings_menu(vec![Audio::Clip(clip::CANCELLED)]);
            }
            _ => self.say_again(vec![Audio::Clip(clip::INVALID_CHOICE)]),
        }
    }

    /// Asks for a new PIN after `before`.
    pub(super) fn new_pin(&mut self, before: Vec<Audio>) {
        self.state = State::NewPin(NewPin::default());
        self.say_again(before);
    }

    pub(super) fn new_pin_key(&mut self, now: Instant, key: char) {
        match key {
            '#' => self.new_pin_entered(),
            '*' => self.main_menu(vec![Audio::Clip(clip::CANCELLED)], true),
            _ => {
                if let State::NewPin(p) = &mut self.state {
                    if key.is_ascii_digit() && p.digits.len() < MAX_PIN_LEN {
                        p.digits.push(key);
                    } else {
                        p.invalid = true;
                    }
                    p.last_digit = Some(now);
                }
                self.stop_playing();
            }
        }
    }

    /// An entry of the new PIN ended (`#` or a pause).
    pub(super) fn new_pin_entered(&mut self) {
        let State::NewPin(p) = &mut self.state else {
            return;
        };
        let entry = std::mem::take(&mut p.digits);
        let valid = if std::mem::take(&mut p.invalid) {
            None
        } else {
            new_pin(&entry).ok()
        };
        p.last_digit = None;
        match (p.first, valid) {
            (None, Some(pin)) => {
                p.first = Some(pin);
                self.say_again(Vec::new());
            }
            (None, None) => self.say_again(vec![Audio::Clip(clip::PIN_INVALID)]),
            (Some(first), Some(pin)) if first == pin => {
                self.actions.push_back(Action::SetPin(pin));
                self.main_menu(vec![Audio::Clip(clip::PIN_CHANGED)], true);
            }
            (Some(_), _) => {
                p.first = None;
                self.say_again(vec![Audio::Clip(clip::PINS_DIFFER)]);
            }
        }
    }
}
