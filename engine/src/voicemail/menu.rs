//! Listening to a mailbox by phone: the voicemail menu, as a machine of digits and time in,
//! prompts and mailbox changes out.
//!
//! ```text
//!  PIN (skipped when trusted) --right--> main menu --1/2--> messages (browse.rs)
//!   | wrong: again, up to the attempts   ^  |  3 greetings, 4 new PIN (settings.rs)
//!   | too many, no PIN set, locked       |  |  * again, # goodbye
//!   | `*` first: another mailbox         |  v
//!   v      |                             |  a menu unanswered: said again `reprompts`
//!  goodbye v                             |  times, then goodbye
//!   ^   mailbox number # --OpenMailbox--> its PIN (login.rs)
//!   |      ^                                 | wrong, or no such mailbox: "that mailbox
//!   +------+---------------------------------+ number and PIN do not match", again
//! ```
//!
//! Keys, by menu:
//!
//! - main: 1 new messages, 2 saved messages, 3 greetings, 4 change PIN, `*` again, `#` end;
//! - a message: 1 again, 4 previous, 6 next, 7 delete, 8 call back, 9 save, `*` main menu,
//!   `#` skip to the choices;
//! - greetings: 1 unavailable, 2 busy, 3 name, `*` main menu;
//! - recording a greeting: `#` done, `*` cancel; reviewing it: 1 keep, 2 hear, 3 record
//!   again, `*` cancel;
//! - new PIN: digits then `#` (twice), `*` cancel.
//!
//! Any other key says "not one of the choices" and the menu again. A key acts at once, also
//! while a prompt plays (the new playback replaces it; `StopPlaying` when nothing new plays).
//! A new message played to its end is saved (heard): RFC 3842 counts it as old from then on.
//!
//! PIN: `conference::PinEntry` with the mailbox's PIN, `pin_attempts` a call, fewer when the
//! mailbox is close to `max_pin_failures` wrong PINs in a row over all calls: each wrong
//! entry with digits in it is reported (`PinFailed`) for the owner to count in the mailbox's
//! settings (`MailboxSettings::pin_failed`, which locks the mailbox for a while, see
//! `lockout.rs`), a right one too (`PinAccepted`, the count starts again). A locked mailbox
//! (`pin_failures` at `max_pin_failures`), or one without a PIN, lets only a trusted caller in
//! (the mailbox's own phone, when the operator allows that without a PIN).
//!
//! Another mailbox (`login.rs`): `*` keyed while the PIN is asked, before any digit of it (or
//! `MenuConfig::ask_mailbox`, the access number), asks for a mailbox number; the owner opens
//! it (`OpenMailbox`, answered by `handle_mailbox`) and its PIN is asked, always: a wrong PIN,
//! an unknown mailbox, one without a PIN or with voicemail off all get the same answer after
//! the same PIN prompt, and each costs one of the call's `pin_attempts`. Only a wrong PIN of a
//! real mailbox with a PIN is reported (`PinFailed`, counted in that mailbox).
//!
//! Drive it with `handle_*` and `now`, take [`Action`]s from `poll_action` after each call
//! and call `handle_timeout` at `poll_timeout`. Invariants: `HangUp` comes at most once and
//! nothing follows it; after `CallBack` or the caller's hang-up nothing follows but the
//! clean-up of a greeting being recorded (`StopRecording`, `DiscardGreeting`); a message is
//! played, saved or deleted only if it is in the mailbox and was not deleted.

mod browse;
mod config;
mod login;
mod pin;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Instant;

use super::capture::{Capture, StopReason, Stopped};
use super::play::{say, Audio, PlayId, Playback, Player};
use super::record::{Folder, Greeting, VoicemailId, VoicemailRecord};
use crate::conference::{Pin, PinConfig, PinEntry};
use crate::media::dtmf::Digit;
use crate::prompt::{clip, voicemail as sentences, Phrase};

pub use self::config::MenuConfig;
pub use self::login::OpenedMailbox;
use self::login::{Claim, MailboxEntry};

/// What the menu asks its owner to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Play these items, replacing what plays.
    Play(Playback),
    /// Stop what plays (a key cut a prompt short).
    StopPlaying,
    /// The right PIN was keyed: the count of wrong ones starts again.
    PinAccepted,
    /// A wrong PIN was keyed: count it.
    PinFailed,
    /// Move the message to the saved folder (saved by key, or heard to its end).
    Save(VoicemailId),
    /// Delete the message.
    Delete(VoicemailId),
    /// Call this number back; the menu is over.
    CallBack(String),
    /// Start recording a greeting of this kind (kept aside until `KeepGreeting`).
    RecordGreeting(Greeting),
    /// Stop the greeting recording; hold the first `length` of it for review, or drop it.
    StopRecording(Stopped),
    /// The greeting recorded (and held) becomes the subscriber's greeting of this kind.
    KeepGreeting(Greeting),
    /// Drop the greeting held for review.
    DiscardGreeting,
    /// The subscriber chose a new PIN (and the count of wrong ones starts again).
    SetPin(Pin),
    /// Open the mailbox of the number keyed (as keyed: digits) and answer with
    /// `Menu::handle_mailbox`; until the PIN is accepted the mailbox's changes are only
    /// `PinFailed`.
    OpenMailbox(String),
    /// Hang up the call.
    HangUp,
}

/// One message as the menu keeps it.
#[derive(Clone, Debug)]
struct Entry {
    record: VoicemailRecord,
    deleted: bool,
}

/// Where the session is.
#[derive(Clone, Debug)]
enum State {
    Pin {
        entry: PinEntry,
        keyed: bool,
    },
    /// A mailbox number is keyed.
    Mailbox(MailboxEntry),
    /// The owner opens the mailbox keyed.
    Opening,
    Main,
    Browse(Browse),
    Greetings,
    /// "Record after the tone" and the beep play.
    RecordPrompt(Greeting),
    Recording(Greeting, Capture),
    /// A greeting is held; keep, hear, again or cancel.
    Review(Greeting),
    NewPin(NewPin),
    CallingBack {
        number: String,
        until: Instant,
    },
    Ending {
        until: Instant,
    },
    Done,
}

/// Listening to the messages of one folder.
#[derive(Clone, Debug)]
struct Browse {
    /// Indices into `Menu::messages`, in the order played.
    list: Vec<usize>,
    /// The position in `list` of the message at hand (never a deleted one).
    at: usize,
    /// The message plays (else its choices play or are awaited).
    playing_message: bool,
}

/// Choosing a new PIN.
#[derive(Clone, Debug, Default)]
struct NewPin {
    /// The first entry, when the second (confirming) one is awaited.
    first: Option<Pin>,
    digits: String,
    /// A key that is no digit, or more digits than a PIN holds, was keyed.
    invalid: bool,
    last_digit: Option<Instant>,
}

/// One mailbox session.
#[derive(Clone, Debug)]
pub struct Menu {
    config: MenuConfig,
    messages: Vec<Entry>,
    state: State,
    player: Player,
    /// A menu has been said and waits for a key since then.
    waiting_since: Option<Instant>,
    /// Times the menu at hand has been said again for want of a key.
    reprompts: u32,
    ends: Instant,
    warned_full: bool,
    /// Sign-in attempts this call used (PINs, mailbox numbers left empty).
    used: u32,
    /// The mailbox other than the caller's own whose PIN is asked.
    claim: Option<Claim>,
    /// When the mailbox number and PIN keyed for another mailbox must be in.
    login_ends: Instant,
    actions: VecDeque<Action>,
}

impl Menu {
    /// A session starting at `now` on a mailbox holding `messages`: the PIN prompt (or the
    /// main menu for a trusted caller, or goodbye for a mailbox that takes no PIN).
    pub fn new(now: Instant, config: MenuConfig, messages: Vec<VoicemailRecord>) -> Menu {
        let mut m = Menu {
            ends: now + config.max_session,
            login_ends: now + config.pin_overall,
            config,
            messages: entries(messages),
            state: State::Done,
            player: Player::default(),
            waiting_since: None,
            reprompts: 0,
            warned_full: false,
            used: 0,
            claim: None,
            actions: VecDeque::new(),
        };
        if m.config.ask_mailbox {
            m.ask_mailbox(now, Vec::new());
            return m;
        }
        let failures = m.config.pin_failures;
        let max = m.config.max_pin_failures;
        match m.config.pin {
            _ if m.config.trusted => m.main_menu(Vec::new(), true),
            None => m.goodbye(now, &[clip::NO_PIN_SET]),
            Some(_) if failures >= max => m.goodbye(now, &[clip::MAILBOX_LOCKED]),
            Some(pin) => {
                let attempts = m.config.pin_attempts.max(1).min(max - failures);
                let entry = PinEntry::new(
                    now,
                    PinConfig {
                        participant: Some(pin),
                        moderator: None,
                        attempts,
                        first_digit: m.config.pin_first_digit,
                        inter_digit: m.config.inter_digit,
                        overall: m.config.pin_overall,
                    },
                );
                m.state = State::Pin {
                    entry,
                    keyed: false,
                };
                m.play(vec![Audio::Clip(clip::ENTER_PIN)]);
            }
        }
        m
    }

    /// The playback `id` has ended.
    pub fn handle_play_finished(&mut self, now: Instant, id: PlayId) {
        self.handle_timeout(now);
        if !self.player.finished(id) {
            return;
        }
        match &mut self.state {
            State::Main | State::Greetings | State::Review(_) | State::NewPin(_) => {
                self.waiting_since = Some(now);
            }
            State::Browse(b) if !b.playing_message => self.waiting_since = Some(now),
            State::Browse(_) => self.message_heard(),
            State::RecordPrompt(kind) => {
                let kind = *kind;
                self.state = State::Recording(kind, Capture::new(now, self.config.greeting));
                self.actions.push_back(Action::RecordGreeting(kind));
            }
            State::CallingBack { number, .. } => {
                let number = std::mem::take(number);
                self.call_back(number);
            }
            State::Ending { .. } => self.finish(true),
            State::Pin { .. }
            | State::Mailbox(_)
            | State::Opening
            | State::Recording(..)
            | State::Done => {}
        }
    }

    /// The caller pressed `digit`.
    pub fn handle_digit(&mut self, now: Instant, digit: Digit) {
        self.handle_timeout(now);
        let key = digit.as_char();
        match &self.state {
            State::Pin { .. } => return self.pin_digit(now, digit),
            State::Mailbox(_) => return self.mailbox_digit(now, digit),
            State::Opening | State::CallingBack { .. } | State::Ending { .. } | State::Done => {
                return
            }
            _ => {}
        }
        self.reprompts = 0;
        self.waiting_since = None;
        match &self.state {
            State::Main => self.main_key(now, key),
            State::Browse(_) => self.browse_key(now, key),
            State::Greetings => self.greetings_key(key),
            State::RecordPrompt(_) | State::Recording(..) => self.recording_key(now, key),
            State::Review(kind) => self.review_key(*kind, key),
            State::NewPin(_) => self.new_pin_key(now, key),
            _ => {}
        }
    }

    /// The level of the caller's latest 20 ms frame (`media::tone::block_dbfs`); used while
    /// a greeting is recorded.
    pub fn handle_frame_level(&mut self, now: Instant, dbfs: f64) {
        self.handle_timeout(now);
        if let State::Recording(_, c) = &mut self.state {
            c.level(now, dbfs);
        }
    }

    /// The caller hung up.
    pub fn handle_hangup(&mut self, now: Instant) {
        // nothing that fell due meanwhile is said to a caller who is gone
        if !matches!(self.state, State::Done) {
            self.clean_up(now.min(self.ends));
            self.finish(false);
        }
    }

    /// Acts on what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Done) {
            return;
        }
        if now >= self.ends {
            self.clean_up(self.ends);
            self.finish(true);
            return;
        }
        match &mut self.state {
            State::Pin { entry, .. } => {
                entry.handle_timeout(now);
                self.pin_outcomes(now);
            }
            State::Mailbox(_) | State::Opening => self.login_timeout(now),
            State::Recording(_, c) => {
                if let Some((why, at)) = c.due(now) {
                    let s = c.stop(at, why);
                    self.greeting_stopped(s);
                }
            }
            State::Ending { until } if now >= *until => self.finish(true),
            State::CallingBack { number, until } if now >= *until => {
                let number = std::mem::take(number);
                self.call_back(number);
            }
            State::NewPin(p)
                if p.last_digit
                    .is_some_and(|t| now >= t + self.config.inter_digit) =>
            {
                self.new_pin_entered();
            }
            State::Main
            | State::Browse(_)
            | State::Greetings
            | State::Review(_)
            | State::NewPin(_)
                if self
                    .waiting_since
                    .is_some_and(|t| now >= t + self.config.input_timeout) =>
            {
                self.unanswered(now);
            }
            _ => {}
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` has something to do; `None` once the session is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let waiting = self.waiting_since.map(|t| t + self.config.input_timeout);
        let own = match &self.state {
            State::Done => return None,
            State::Pin { entry, .. } => entry.poll_timeout(),
            State::Mailbox(e) => Some(e.due(&self.config).min(self.login_ends)),
            State::Opening => Some(self.login_ends),
            State::Recording(_, c) => Some(c.deadline()),
            State::Ending { until } | State::CallingBack { until, .. } => Some(*until),
            State::NewPin(p) => p
                .last_digit
                .map(|t| t + self.config.inter_digit)
                .or(waiting),
            State::Main | State::Browse(_) | State::Greetings | State::Review(_) => waiting,
            State::RecordPrompt(_) => None,
        };
        Some(own.map_or(self.ends, |t| t.min(self.ends)))
    }

    /// Whether the session is over (hung up, or handed to a call back).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The messages not deleted, in the folder given (as the menu sees them now).
    pub fn count(&self, folder: Folder) -> u32 {
        let n = self
            .messages
            .iter()
            .filter(|e| !e.deleted && e.record.folder == folder)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn play(&mut self, items: Vec<Audio>) {
        let p = self.player.start(items);
        self.waiting_since = None;
        self.actions.push_back(Action::Play(p));
    }

    /// Stops what plays, if anything does.
    fn stop_playing(&mut self) {
        if self.player.stop() {
            self.actions.push_back(Action::StopPlaying);
        }
    }

    /// Enters the main menu: `before`, the summary (when asked, or the full warning the first
    /// time), the choices.
    fn main_menu(&mut self, before: Vec<Audio>, summary: bool) {
        self.state = State::Main;
        let mut items = before;
        if self.config.full && !self.warned_full {
            self.warned_full = true;
            items.push(Audio::Clip(clip::MAILBOX_FULL_OWNER));
        }
        if summary {
            let s = sentences::mailbox_summary(self.count(Folder::New), self.count(Folder::Saved));
            say(&mut items, &s);
        }
        say(&mut items, &sentences::main_menu());
        self.play(items);
    }

    fn main_key(&mut self, now: Instant, key: char) {
        match key {
            '1' => self.browse(Folder::New),
            '2' => self.browse(Folder::Saved),
            '3' => self.greetings_menu(Vec::new()),
            '4' => self.new_pin(Vec::new()),
            '*' => self.main_menu(Vec::new(), true),
            '#' => self.goodbye(now, &[]),
            _ => self.main_menu(vec![Audio::Clip(clip::INVALID_CHOICE)], false),
        }
    }

    /// What the menu at hand says again when it is not answered.
    fn unanswered(&mut self, now: Instant) {
        self.reprompts += 1;
        if self.reprompts > self.config.reprompts {
            self.clean_up(now);
            return self.goodbye(now, &[]);
        }
        self.say_again(Vec::new());
    }

    /// Says the menu at hand again, after `before`.
    fn say_again(&mut self, before: Vec<Audio>) {
        match &self.state {
            State::Main => self.main_menu(before, true),
            State::Browse(_) => self.message_choices(before),
            State::Greetings => self.greetings_menu(before),
            State::Review(_) => self.review_options(before),
            State::NewPin(p) => {
                let mut items = before;
                items.push(Audio::Clip(if p.first.is_some() {
                    clip::ENTER_NEW_PIN_AGAIN
                } else {
                    clip::ENTER_NEW_PIN
                }));
                self.play(items);
            }
            _ => {}
        }
    }

    /// Says `before` and goodbye, then hangs up.
    fn goodbye(&mut self, now: Instant, before: &[clip::Clip]) {
        self.state = State::Ending {
            until: now + self.config.goodbye_grace,
        };
        let mut items: Vec<Audio> = before.iter().map(|&c| Audio::Clip(c)).collect();
        items.push(Audio::Clip(clip::GOODBYE));
        self.play(items);
    }

    fn call_back(&mut self, number: String) {
        self.player.stop();
        self.state = State::Done;
        self.actions.push_back(Action::CallBack(number));
    }

    /// Undoes what the session holds before it ends: a greeting being recorded or reviewed.
    fn clean_up(&mut self, now: Instant) {
        match &self.state {
            State::Recording(_, c) => {
                let s = Stopped {
                    keep: false,
                    ..c.stop(now, StopReason::HangUp)
                };
                self.actions.push_back(Action::StopRecording(s));
            }
            State::Review(_) => self.actions.push_back(Action::DiscardGreeting),
            _ => {}
        }
    }

    /// The session is over; `hang_up`: the switch hangs up (else the caller did).
    fn finish(&mut self, hang_up: bool) {
        self.player.stop();
        self.state = State::Done;
        self.waiting_since = None;
        if hang_up {
            self.actions.push_back(Action::HangUp);
        }
    }
}

/// The messages of a mailbox as the menu keeps them, oldest first.
fn entries(messages: Vec<VoicemailRecord>) -> Vec<Entry> {
    let mut messages: Vec<Entry> = messages
        .into_iter()
        .map(|record| Entry {
            record,
            deleted: false,
        })
        .collect();
    messages.sort_by_key(|e| (e.record.received_unix, e.record.id));
    messages
}

/// The number to call a caller back on: digits with an optional leading `+`.
fn callable(caller: &str) -> Option<&str> {
    let digits = caller.strip_prefix('+').unwrap_or(caller);
    let ok = !digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(caller)
}

/// The phrase of a count of messages of a folder ("You have no new messages").
fn none_in(folder: Folder) -> Phrase {
    let (one, many) = match folder {
        Folder::New => (clip::NEW_MESSAGE, clip::NEW_MESSAGES),
        Folder::Saved => (clip::SAVED_MESSAGE, clip::SAVED_MESSAGES),
    };
    let mut p = Phrase::of(&[clip::YOU_HAVE]);
    p.count(0, one, many);
    p
}
