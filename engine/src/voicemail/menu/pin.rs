//! Signing in: the PIN, keyed into a `conference::PinEntry` set up by `Menu::new`.
//!
//! Each wrong entry with digits in it is reported (`PinFailed`) for the owner to count over
//! calls; an entry left empty (silence, `#` alone) ends an attempt without counting as a
//! guess. The right PIN reports `PinAccepted` and opens the main menu; when the attempts are
//! used up the switch says goodbye and hangs up. `*` before any digit of an entry asks for
//! another mailbox instead (`login.rs`), which also judges the PIN keyed for that one.

use std::time::Instant;

use super::{Action, Menu, State};
use crate::conference::PinOutcome;
use crate::media::dtmf::Digit;
use crate::prompt::clip;
use crate::voicemail::play::Audio;

impl Menu {
    pub(super) fn pin_digit(&mut self, now: Instant, digit: Digit) {
        // an attempt that ran out before this digit is judged without it
        if let State::Pin { entry, .. } = &mut self.state {
            entry.handle_timeout(now);
        }
        self.pin_outcomes(now);
        let own = self.claim.is_none();
        if let State::Pin { entry, keyed } = &mut self.state {
            if own && !*keyed && digit.as_char() == '*' {
                // before any digit of the PIN: the caller signs in to another mailbox
                return self.ask_mailbox(now, Vec::new());
            }
            *keyed |= digit.as_char() != '#';
            entry.handle_digit(now, digit);
            self.stop_playing();
            self.pin_outcomes(now);
        }
    }

    pub(super) fn pin_outcomes(&mut self, now: Instant) {
        while let State::Pin { entry, keyed } = &mut self.state {
            let Some(outcome) = entry.poll_outcome() else {
                return;
            };
            let guessed = std::mem::take(keyed);
            if self.claim.is_some() {
                return self.claim_outcome(now, outcome, guessed);
            }
            if matches!(outcome, PinOutcome::Retry | PinOutcome::Refused) {
                self.used += 1;
            }
            if guessed && matches!(outcome, PinOutcome::Retry | PinOutcome::Refused) {
                self.actions.push_back(Action::PinFailed);
            }
            match outcome {
                PinOutcome::Retry => {
                    self.play(vec![
                        Audio::Clip(clip::PIN_WRONG),
                        Audio::Clip(clip::ENTER_PIN),
                    ]);
                }
                PinOutcome::Refused if guessed => self.goodbye(now, &[clip::PIN_WRONG]),
                PinOutcome::Refused => self.goodbye(now, &[]),
                PinOutcome::Participant | PinOutcome::Moderator => {
                    self.actions.push_back(Action::PinAccepted);
                    self.main_menu(Vec::new(), true);
                }
            }
        }
    }
}
