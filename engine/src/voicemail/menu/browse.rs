//! Listening to messages: the messages of one folder in the order they came, each introduced
//! by its envelope (position, caller, when), then its choices: 1 again, 4 previous, 6 next,
//! 7 delete, 8 call back, 9 save, `*` main menu, `#` skip to the choices.
//!
//! The list is taken when the folder is chosen: a message saved while listening stays in it,
//! a deleted one is skipped. After delete or save the next message follows; after the last
//! one, the main menu.

use super::{callable, none_in, Action, Browse, Menu, State};
use crate::prompt::clip;
use crate::prompt::voicemail::{self as sentences, MessageChoices};
use crate::voicemail::play::{say, Audio};
use crate::voicemail::record::Folder;
use std::time::Instant;

impl Menu {
    /// Starts listening to `folder`, or says it is empty.
    pub(super) fn browse(&mut self, folder: Folder) {
        let list: Vec<usize> = (0..self.messages.len())
            .filter(|&i| !self.messages[i].deleted && self.messages[i].record.folder == folder)
            .collect();
        if list.is_empty() {
            let mut items = Vec::new();
            say(&mut items, &none_in(folder));
            return self.main_menu(items, false);
        }
        self.state = State::Browse(Browse {
            list,
            at: 0,
            playing_message: true,
        });
        self.present(Vec::new());
    }

    pub(super) fn browse_key(&mut self, now: Instant, key: char) {
        let State::Browse(b) = &self.state else {
            return;
        };
        let index = b.list[b.at];
        let id = self.messages[index].record.id;
        match key {
            '1' => self.present(Vec::new()),
            '4' => match self.neighbour(false) {
                Some(at) => self.go_to(at, Vec::new()),
                None => self.message_choices(vec![Audio::Clip(clip::FIRST_MESSAGE)]),
            },
            '6' => self.next(Vec::new()),
            '7' => {
                self.messages[index].deleted = true;
                self.actions.push_back(Action::Delete(id));
                self.next(vec![Audio::Clip(clip::MESSAGE_DELETED)]);
            }
            '8' => {
                let caller = &self.messages[index].record.caller;
                match callable(caller).map(str::to_owned) {
                    Some(number) => {
                        let mut items = Vec::new();
                        say(&mut items, &sentences::calling(&number));
                        self.state = State::CallingBack {
                            number,
                            until: now + self.config.goodbye_grace,
                        };
                        self.play(items);
                    }
                    None => self.message_choices(vec![Audio::Clip(clip::CANNOT_CALL_BACK)]),
                }
            }
            '9' => {
                self.save(index);
                self.next(vec![Audio::Clip(clip::MESSAGE_SAVED)]);
            }
            '*' => self.main_menu(Vec::new(), true),
            '#' => self.message_choices(Vec::new()),
            _ => self.message_choices(vec![Audio::Clip(clip::INVALID_CHOICE)]),
        }
    }

    /// The message at hand played to its end: a new one is heard (saved), its choices follow.
    pub(super) fn message_heard(&mut self) {
        if let State::Browse(b) = &self.state {
            self.save(b.list[b.at]);
        }
        self.message_choices(Vec::new());
    }

    /// Says `before` and the choices of the message at hand.
    pub(super) fn message_choices(&mut self, before: Vec<Audio>) {
        let State::Browse(b) = &mut self.state else {
            return;
        };
        b.playing_message = false;
        let entry = &self.messages[b.list[b.at]];
        let choices = MessageChoices {
            previous: b.list[..b.at].iter().any(|&i| !self.messages[i].deleted),
            call_back: callable(&entry.record.caller).is_some(),
            save: entry.record.folder == Folder::New,
        };
        let mut items = before;
        say(&mut items, &sentences::message_options(choices));
        self.play(items);
    }

    /// Says `before`, then plays the message at hand with its envelope.
    fn present(&mut self, before: Vec<Audio>) {
        let State::Browse(b) = &mut self.state else {
            return;
        };
        b.playing_message = true;
        let position = u32::try_from(b.at + 1).unwrap_or(u32::MAX);
        let record = &self.messages[b.list[b.at]].record;
        let envelope = sentences::envelope(
            position,
            &record.caller,
            record.received_unix,
            self.config.now_unix,
            self.config.utc_offset,
        );
        let mut items = before;
        say(&mut items, &envelope);
        items.push(Audio::Message(record.id));
        self.play(items);
    }

    /// The position of the nearest message not deleted after (or before) the one at hand.
    fn neighbour(&self, forward: bool) -> Option<usize> {
        let State::Browse(b) = &self.state else {
            return None;
        };
        let alive = |&at: &usize| !self.messages[b.list[at]].deleted;
        if forward {
            (b.at + 1..b.list.len()).find(alive)
        } else {
            (0..b.at).rev().find(alive)
        }
    }

    /// Goes on to the next message after `before`; after the last one, to the main menu.
    fn next(&mut self, before: Vec<Audio>) {
        match self.neighbour(true) {
            Some(at) => self.go_to(at, before),
            None => {
                let mut items = before;
                items.push(Audio::Clip(clip::NO_MORE_MESSAGES));
                self.main_menu(items, true);
            }
        }
    }

    fn go_to(&mut self, at: usize, before: Vec<Audio>) {
        if let State::Browse(b) = &mut self.state {
            b.at = at;
        }
        self.present(before);
    }

    /// Moves a new message to the saved folder.
    fn save(&mut self, index: usize) {
        let record = &mut self.messages[index].record;
        if record.folder == Folder::New {
            record.folder = Folder::Saved;
            self.actions.push_back(Action::Save(record.id));
        }
    }
}
