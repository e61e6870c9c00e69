//! In-conference DTMF commands: what a participant keys in while in the room.
//!
//! | digits | command | who |
//! |---|---|---|
//! | `*6` | mute or unmute yourself | everyone |
//! | `*7` | mute every participant who is not a moderator | moderators |
//! | `*8` | unmute everyone | moderators |
//! | `*9` | remove the participant who joined last | moderators |
//!
//! [`parse_command`] says what a run of digits is; [`CommandCollector`] gathers one
//! participant's digits as they come, on injected time: a `*` always starts a new command, a
//! command is recognized on its last digit, and digits that are no command (or a `*` left
//! alone) are dropped once no digit has come for the inter-digit timeout. Who may give which
//! command is [`super::Role::may`]'s decision, not the collector's.
//!
//! Drive it with `handle_digit(now, digit)` and `handle_timeout(now)` at `poll_timeout()`;
//! take commands from `poll_command()` after each call. Nothing allocates.

use std::time::{Duration, Instant};

use crate::media::dtmf::Digit;

/// The longest run of digits the collector keeps; a command is shorter.
pub const MAX_COMMAND_DIGITS: usize = 8;

/// How long the collector waits for the next digit of a command.
pub const DEFAULT_INTER_DIGIT: Duration = Duration::from_secs(3);

/// A command keyed in by DTMF.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `*6`: mute yourself if you are heard, unmute yourself if you are muted.
    ToggleMute,
    /// `*7`: mute every participant who is not a moderator.
    MuteAll,
    /// `*8`: unmute everyone.
    UnmuteAll,
    /// `*9`: remove the participant who joined last.
    RemoveLast,
}

impl Command {
    /// Every command, in keypad order.
    pub const ALL: [Command; 4] = [
        Command::ToggleMute,
        Command::MuteAll,
        Command::UnmuteAll,
        Command::RemoveLast,
    ];

    /// Whether only a moderator may give it.
    pub fn needs_moderator(self) -> bool {
        !matches!(self, Command::ToggleMute)
    }

    /// The digits that give it.
    pub fn digits(self) -> &'static str {
        match self {
            Command::ToggleMute => "*6",
            Command::MuteAll => "*7",
            Command::UnmuteAll => "*8",
            Command::RemoveLast => "*9",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Command::ToggleMute => "mute toggle",
            Command::MuteAll => "mute all",
            Command::UnmuteAll => "unmute all",
            Command::RemoveLast => "remove last",
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.digits(), self.what())
    }
}

/// What a run of digits is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Parse {
    /// Exactly a command.
    Command(Command),
    /// The start of a command: more digits may make one.
    Partial,
    /// No command, whatever follows.
    NoCommand,
}

/// What `digits` are (the whole run, from its first digit).
pub fn parse_command(digits: &[Digit]) -> Parse {
    let chars = |i: usize| digits.get(i).map(|d| d.as_char());
    match (chars(0), chars(1), digits.len()) {
        (None, _, _) | (Some('*'), None, _) => Parse::Partial,
        (Some('*'), Some(second), 2) => Command::ALL
            .into_iter()
            .find(|c| c.digits().as_bytes()[1] == second as u8)
            .map_or(Parse::NoCommand, Parse::Command),
        _ => Parse::NoCommand,
    }
}

/// Gathers one participant's digits into commands.
#[derive(Clone, Debug)]
pub struct CommandCollector {
    inter_digit: Duration,
    digits: [Digit; MAX_COMMAND_DIGITS],
    len: usize,
    /// When the digits held are dropped; `None` while nothing is held.
    deadline: Option<Instant>,
    command: Option<Command>,
}

impl Default for CommandCollector {
    fn default() -> CommandCollector {
        CommandCollector::new(DEFAULT_INTER_DIGIT)
    }
}

impl CommandCollector {
    /// A collector that waits `inter_digit` for the next digit of a command.
    pub fn new(inter_digit: Duration) -> CommandCollector {
        CommandCollector {
            inter_digit,
            // any digit: only the first `len` are read
            digits: [Digit::from_event(0).expect("event 0 is the digit 0"); MAX_COMMAND_DIGITS],
            len: 0,
            deadline: None,
            command: None,
        }
    }

    /// A digit keyed in at `now`.
    pub fn handle_digit(&mut self, now: Instant, digit: Digit) {
        self.handle_timeout(now);
        if digit.as_char() == '*' {
            // a star starts over: whatever came before was no command
            self.len = 0;
        }
        if self.len < MAX_COMMAND_DIGITS {
            self.digits[self.len] = digit;
            self.len += 1;
        }
        match parse_command(&self.digits[..self.len]) {
            Parse::Command(c) => {
                self.command = Some(c);
                self.len = 0;
                self.deadline = None;
            }
            Parse::Partial | Parse::NoCommand => self.deadline = Some(now + self.inter_digit),
        }
    }

    /// Drops the digits held if their inter-digit timeout has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|at| now >= at) {
            self.len = 0;
            self.deadline = None;
        }
    }

    /// When `handle_timeout` has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The command the last digit completed (one at most: poll after each digit).
    pub fn poll_command(&mut self) -> Option<Command> {
        self.command.take()
    }

    /// The digits held, waiting for more or for their timeout.
    pub fn pending(&self) -> &[Digit] {
        &self.digits[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<Digit> {
        s.chars().map(|c| Digit::from_char(c).unwrap()).collect()
    }

    /// Keys `s` in one digit every `gap`, collecting the commands.
    fn key(c: &mut CommandCollector, at: &mut Instant, gap: Duration, s: &str) -> Vec<Command> {
        let mut out = Vec::new();
        for d in digits(s) {
            *at += gap;
            c.handle_digit(*at, d);
            out.extend(c.poll_command());
        }
        out
    }

    #[test]
    fn the_four_commands_parse_from_their_digits() {
        for c in Command::ALL {
            assert_eq!(parse_command(&digits(c.digits())), Parse::Command(c));
        }
        assert_eq!(
            parse_command(&digits("*6")),
            Parse::Command(Command::ToggleMute)
        );
        assert_eq!(
            parse_command(&digits("*9")),
            Parse::Command(Command::RemoveLast)
        );
        assert_eq!(parse_command(&digits("")), Parse::Partial);
        assert_eq!(parse_command(&digits("*")), Parse::Partial);
        for none in ["*5", "*0", "**", "*#", "6", "#", "*66", "*A", "1*6"] {
            assert_eq!(parse_command(&digits(none)), Parse::NoCommand, "{none}");
        }
    }

    #[test]
    fn a_command_is_recognized_on_its_last_digit() {
        let t0 = Instant::now();
        let mut at = t0;
        let mut c = CommandCollector::default();
        let gap = Duration::from_millis(300);
        assert_eq!(
            key(&mut c, &mut at, gap, "*6*7*8*9"),
            [
                Command::ToggleMute,
                Command::MuteAll,
                Command::UnmuteAll,
                Command::RemoveLast
            ]
        );
        assert_eq!(c.poll_timeout(), None, "nothing held after a command");
        assert!(c.pending().is_empty());
    }

    #[test]
    fn a_star_starts_over_after_digits_that_were_no_command() {
        let mut at = Instant::now();
        let mut c = CommandCollector::default();
        let gap = Duration::from_millis(200);
        assert_eq!(key(&mut c, &mut at, gap, "12*6"), [Command::ToggleMute]);
        assert_eq!(key(&mut c, &mut at, gap, "*5*7"), [Command::MuteAll]);
        assert_eq!(key(&mut c, &mut at, gap, "**8"), [Command::UnmuteAll]);
        // after a command, a 6 alone is no second command
        assert_eq!(key(&mut c, &mut at, gap, "*66"), [Command::ToggleMute]);
        assert_eq!(c.pending(), digits("6"));
    }

    #[test]
    fn a_lone_star_is_dropped_after_the_inter_digit_timeout() {
        let t0 = Instant::now();
        let mut c = CommandCollector::new(Duration::from_secs(3));
        c.handle_digit(t0, Digit::from_char('*').unwrap());
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        c.handle_timeout(t0 + Duration::from_millis(2999));
        assert_eq!(c.pending(), digits("*"), "not yet");
        c.handle_timeout(t0 + Duration::from_secs(3));
        assert!(c.pending().is_empty());
        assert_eq!(c.poll_timeout(), None);
        // the 6 that comes late is no command
        c.handle_digit(t0 + Duration::from_secs(4), Digit::from_char('6').unwrap());
        assert_eq!(c.poll_command(), None);
    }

    #[test]
    fn a_digit_after_the_timeout_does_not_complete_the_command_held_before() {
        let t0 = Instant::now();
        let mut c = CommandCollector::new(Duration::from_secs(2));
        c.handle_digit(t0, Digit::from_char('*').unwrap());
        // no handle_timeout call in between: the digit itself sees the timeout has passed
        c.handle_digit(t0 + Duration::from_secs(5), Digit::from_char('7').unwrap());
        assert_eq!(c.poll_command(), None);
        assert_eq!(c.pending(), digits("7"));
        // while within the timeout each digit extends it
        c.handle_digit(t0 + Duration::from_secs(6), Digit::from_char('*').unwrap());
        c.handle_digit(
            t0 + Duration::from_millis(7_900),
            Digit::from_char('9').unwrap(),
        );
        assert_eq!(c.poll_command(), Some(Command::RemoveLast));
    }

    #[test]
    fn garbage_is_held_no_longer_than_its_timeout_and_no_more_than_the_limit() {
        let t0 = Instant::now();
        let mut c = CommandCollector::new(Duration::from_secs(1));
        let mut at = t0;
        let none = key(
            &mut c,
            &mut at,
            Duration::from_millis(10),
            "1234567890#1234",
        );
        assert!(none.is_empty());
        assert_eq!(c.pending().len(), MAX_COMMAND_DIGITS);
        let deadline = c.poll_timeout().unwrap();
        assert_eq!(deadline, at + Duration::from_secs(1));
        c.handle_timeout(deadline);
        assert!(c.pending().is_empty());
    }
}
