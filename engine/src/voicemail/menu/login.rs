//! Signing in to another mailbox: its number, then its PIN, from any phone.
//!
//! `*` keyed while the caller's own PIN is asked (before any digit of it), or a session that
//! starts with `MenuConfig::ask_mailbox` (the access number), asks "please enter your mailbox
//! number, then press pound". The number ends with `#` or a pause of `inter_digit`; nothing
//! keyed within `pin_first_digit` is an attempt without a guess. The owner opens the mailbox
//! (`Action::OpenMailbox`, answered by `Menu::handle_mailbox`) and the switch asks its PIN in
//! every case, one entry, so neither the prompts nor their timing tell whether the mailbox
//! exists:
//!
//! - the right PIN of a mailbox that has one: `PinAccepted`, and the session goes on with that
//!   mailbox (its messages, its full warning); it is never trusted as the caller's own phone;
//! - a wrong one: `PinFailed` (counted in that mailbox's settings, which lock it as for its own
//!   phone), "that mailbox number and PIN do not match", and the mailbox number again;
//! - no such mailbox, voicemail off, no PIN set, a number with `*`: the same words, and nothing
//!   reported (no mailbox to count it in);
//! - a mailbox locked by wrong PINs: "this mailbox is locked" and goodbye, whatever was keyed.
//!
//! Each mailbox-and-PIN attempt costs one of the call's `pin_attempts` (with the caller's own
//! PINs keyed before `*`); each may take `pin_overall`; when they are used up the switch says
//! goodbye.

use std::time::Instant;

use super::{entries, Action, Menu, MenuConfig, State};
use crate::conference::{Pin, PinConfig, PinEntry, PinOutcome};
use crate::media::dtmf::Digit;
use crate::prompt::clip;
use crate::voicemail::play::Audio;
use crate::voicemail::record::VoicemailRecord;

/// The most digits a mailbox number may have (E.164 has at most 15, plus dialing prefixes).
const MAX_MAILBOX_DIGITS: usize = 32;

/// A mailbox the owner opened for `Action::OpenMailbox`: what `Menu::new` takes for the
/// caller's own.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedMailbox {
    /// Its PIN (`MailboxSettings::pin`); without one it cannot be opened from another phone.
    pub pin: Option<Pin>,
    /// Its wrong PINs toward the next lockout (`MailboxSettings::pin_failures_now`).
    pub pin_failures: u32,
    /// It is full.
    pub full: bool,
    pub messages: Vec<VoicemailRecord>,
}

/// A mailbox number being keyed.
#[derive(Clone, Debug)]
pub(super) struct MailboxEntry {
    digits: String,
    /// A key that is no digit, or more digits than a number holds, was keyed.
    invalid: bool,
    /// When the prompt started, or the last key came.
    last: Instant,
}

impl MailboxEntry {
    /// When the entry ends for want of a key.
    pub(super) fn due(&self, config: &MenuConfig) -> Instant {
        if self.digits.is_empty() && !self.invalid {
            self.last + config.pin_first_digit
        } else {
            self.last + config.inter_digit
        }
    }
}

/// What the PIN is asked for, other than the caller's own mailbox.
#[derive(Clone, Debug)]
pub(super) enum Claim {
    /// Nothing that can be opened from another phone answers to the number keyed.
    Nobody,
    Mailbox(Box<OpenedMailbox>),
}

impl Menu {
    /// The mailbox the owner opened for `OpenMailbox` (`None`: no subscriber's mailbox with
    /// voicemail on answers to the number). Its PIN is asked either way.
    pub fn handle_mailbox(&mut self, now: Instant, opened: Option<OpenedMailbox>) {
        self.handle_timeout(now);
        if matches!(self.state, State::Opening) {
            self.ask_claim_pin(now, opened);
        }
    }

    /// Says `before`, then asks for a mailbox number.
    pub(super) fn ask_mailbox(&mut self, now: Instant, before: Vec<Audio>) {
        self.claim = None;
        self.login_ends = now + self.config.pin_overall;
        self.state = State::Mailbox(MailboxEntry {
            digits: String::new(),
            invalid: false,
            last: now,
        });
        let mut items = before;
        items.push(Audio::Clip(clip::ENTER_MAILBOX));
        self.play(items);
    }

    pub(super) fn mailbox_digit(&mut self, now: Instant, digit: Digit) {
        let State::Mailbox(e) = &mut self.state else {
            return;
        };
        let key = digit.as_char();
        if key != '#' {
            if key.is_ascii_digit() && e.digits.len() < MAX_MAILBOX_DIGITS {
                e.digits.push(key);
            } else {
                e.invalid = true;
            }
            e.last = now;
        }
        self.stop_playing();
        if key == '#' {
            self.mailbox_entered(now);
        }
    }

    /// The mailbox number entry or the opening ran out of time at `now`, or a pause ended
    /// the number.
    pub(super) fn login_timeout(&mut self, now: Instant) {
        if now >= self.login_ends {
            return self.goodbye(now, &[]);
        }
        if let State::Mailbox(e) = &self.state {
            if now >= e.due(&self.config) {
                self.mailbox_entered(now);
            }
        }
    }

    fn mailbox_entered(&mut self, now: Instant) {
        let State::Mailbox(e) = std::mem::replace(&mut self.state, State::Opening) else {
            return;
        };
        if e.invalid {
            return self.ask_claim_pin(now, None);
        }
        if e.digits.is_empty() {
            // silence or `#` alone: an attempt, but no guess
            self.used += 1;
            if self.used >= self.attempts() {
                return self.goodbye(now, &[]);
            }
            return self.ask_mailbox(now, Vec::new());
        }
        self.actions.push_back(Action::OpenMailbox(e.digits));
    }

    /// Asks the PIN of the mailbox keyed, one entry.
    fn ask_claim_pin(&mut self, now: Instant, opened: Option<OpenedMailbox>) {
        let (claim, pin) = match opened {
            Some(o) => {
                let pin = o.pin;
                (Claim::Mailbox(Box::new(o)), pin)
            }
            None => (Claim::Nobody, None),
        };
        // a PIN nobody has keyed is still asked for, and judged wrong whatever it matches
        let participant = pin.or_else(|| Pin::parse("0").ok());
        let entry = PinEntry::new(
            now,
            PinConfig {
                participant,
                moderator: None,
                attempts: 1,
                first_digit: self.config.pin_first_digit,
                inter_digit: self.config.inter_digit,
                overall: self.login_ends.saturating_duration_since(now),
            },
        );
        self.claim = Some(claim);
        self.state = State::Pin {
            entry,
            keyed: false,
        };
        self.play(vec![Audio::Clip(clip::ENTER_PIN)]);
    }

    /// The PIN entry for the mailbox claimed ended with `outcome` (`guessed`: digits were
    /// keyed).
    pub(super) fn claim_outcome(&mut self, now: Instant, outcome: PinOutcome, guessed: bool) {
        let right = matches!(outcome, PinOutcome::Participant | PinOutcome::Moderator);
        if let Some(Claim::Mailbox(m)) = self.claim.take() {
            if m.pin.is_some() {
                if m.pin_failures >= self.config.max_pin_failures {
                    return self.goodbye(now, &[clip::MAILBOX_LOCKED]);
                }
                if right {
                    self.actions.push_back(Action::PinAccepted);
                    return self.adopt(*m);
                }
                if guessed {
                    self.actions.push_back(Action::PinFailed);
                }
            }
        }
        self.used += 1;
        if self.used >= self.attempts() {
            return self.goodbye(now, &[clip::MAILBOX_PIN_WRONG]);
        }
        self.ask_mailbox(now, vec![Audio::Clip(clip::MAILBOX_PIN_WRONG)]);
    }

    /// The session goes on with mailbox `m`, signed in by its PIN.
    fn adopt(&mut self, m: OpenedMailbox) {
        self.messages = entries(m.messages);
        self.config.trusted = false;
        self.config.pin = m.pin;
        self.config.pin_failures = 0;
        self.config.full = m.full;
        self.warned_full = false;
        self.main_menu(Vec::new(), true);
    }

    /// The sign-in attempts a call has.
    pub(super) fn attempts(&self) -> u32 {
        self.config.pin_attempts.max(1)
    }
}
