//! How a mailbox session runs: the caller's trust, the mailbox's PIN and its count of wrong
//! ones, the sign-in and menu timeouts, greeting limits and the clock of the spoken times.

use std::time::Duration;

use crate::conference::Pin;
use crate::voicemail::capture::CaptureLimits;
use crate::voicemail::record::MAX_PIN_FAILURES;

/// How a mailbox session runs.
#[derive(Clone, Debug, PartialEq)]
pub struct MenuConfig {
    /// The caller is the mailbox's own phone and the operator lets it in without a PIN.
    pub trusted: bool,
    /// The mailbox's PIN (`MailboxSettings::pin`).
    pub pin: Option<Pin>,
    /// Wrong PINs in a row toward the next lockout (`MailboxSettings::pin_failures_now`:
    /// `max_pin_failures` while the mailbox is locked out).
    pub pin_failures: u32,
    /// Wrong PINs in a row after which the mailbox is locked (`PinLockout::failures`).
    pub max_pin_failures: u32,
    /// PIN entries a call may make (0 counts as 1).
    pub pin_attempts: u32,
    /// How long the first digit of a PIN may take after the prompt starts.
    pub pin_first_digit: Duration,
    /// How long the PIN entry may take, all attempts together.
    pub pin_overall: Duration,
    /// How long the next digit of a PIN (or a new PIN) may take; then the entry ends.
    pub inter_digit: Duration,
    /// How long the menu waits for a key after it has been said.
    pub input_timeout: Duration,
    /// How often an unanswered menu is said again before the switch says goodbye.
    pub reprompts: u32,
    /// Limits of a greeting recording.
    pub greeting: CaptureLimits,
    /// The longest a session may take; then the switch hangs up.
    pub max_session: Duration,
    /// How long the last words (goodbye, "calling") may take before the switch goes on.
    pub goodbye_grace: Duration,
    /// The wall clock at the start, seconds since the Unix epoch ("received today at ...").
    pub now_unix: u64,
    /// The subscriber's UTC offset, seconds east.
    pub utc_offset: i32,
    /// The mailbox is full: the subscriber hears so after signing in.
    pub full: bool,
    /// The session starts with the mailbox number (an access number anyone may dial): no
    /// mailbox is the caller's own, `trusted`, `pin`, `pin_failures` and `full` are unused.
    pub ask_mailbox: bool,
}

impl Default for MenuConfig {
    /// PIN asked, 3 attempts, 10 s to the first digit, 5 s between digits, 60 s in all; 6 s
    /// to answer a menu, said 3 times in all; greetings of up to 60 s; 30 minutes a session.
    fn default() -> MenuConfig {
        MenuConfig {
            trusted: false,
            pin: None,
            pin_failures: 0,
            max_pin_failures: MAX_PIN_FAILURES,
            pin_attempts: 3,
            pin_first_digit: Duration::from_secs(10),
            pin_overall: Duration::from_secs(60),
            inter_digit: Duration::from_secs(5),
            input_timeout: Duration::from_secs(6),
            reprompts: 2,
            greeting: CaptureLimits {
                max_length: Duration::from_secs(60),
                ..CaptureLimits::default()
            },
            max_session: Duration::from_secs(1800),
            goodbye_grace: Duration::from_secs(15),
            now_unix: 0,
            utc_offset: 0,
            full: false,
            ask_mailbox: false,
        }
    }
}
