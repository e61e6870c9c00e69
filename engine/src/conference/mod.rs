//! Conferences: several callers in one room, each hearing all the others but themselves.
//!
//! A conference is the address `sip:conf-<name>@<domain>` or a number in a configured range
//! ([`Addresses`]). Its name is a chat room name: a conference and the chat room
//! `room-<name>` are the same group of people, by voice and by text ([`ConferenceName`]).
//!
//! The parts, all sans-IO (time is a parameter, nothing here reads a clock or a socket):
//!
//! - `mixer`: [`Mixer`], the N-1 audio mix of one conference, one 20 ms tick at a time,
//!   allocation-free once its participants are added;
//! - `vad`: [`Vad`], talk detection per participant (energy with hysteresis and hangover);
//! - `pin`: [`PinEntry`], the PIN a caller keys in before joining, on injected time;
//! - `command`: [`CommandCollector`], the DTMF commands of a participant in the room;
//! - here: the name, the address forms, the participants' [`Role`]s and the [`Limits`].
//!
//! The bridge actor (`switchboard-actors`) owns one of each per conference or participant
//! and carries out what they decide.

mod command;
mod mixer;
mod pin;
mod vad;

pub use command::{parse_command, Command, CommandCollector, Parse, MAX_COMMAND_DIGITS};
pub use mixer::{Format, Mixer, MixerConfig, MixerError, MixerStats, ParticipantId};
pub use pin::{Pin, PinConfig, PinEntry, PinError, PinOutcome, MAX_PIN_LEN};
pub use vad::{Vad, VadConfig, MIN_LEVEL_DBFS};

use crate::chat::{NameError, RoomName};

/// The user part prefix of a conference address.
pub const CONFERENCE_PREFIX: &str = "conf-";

/// The most participants a conference takes when nobody configured a limit.
pub const DEFAULT_MAX_PARTICIPANTS: usize = 50;

/// A conference name: the name of the chat room of the same people (`[a-z0-9][a-z0-9_-]{0,31}`,
/// case-folded, as [`RoomName`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceName(RoomName);

impl ConferenceName {
    /// Parses a bare name (`team-a`), case-folding it.
    pub fn parse(input: &str) -> Result<ConferenceName, NameError> {
        RoomName::parse(input).map(ConferenceName)
    }

    /// The conference a Request-URI user part names (`conf-<name>`, any case), if it names
    /// one.
    pub fn from_user(user: &str) -> Option<Result<ConferenceName, NameError>> {
        let head = user.get(..CONFERENCE_PREFIX.len())?;
        if !head.eq_ignore_ascii_case(CONFERENCE_PREFIX) {
            return None;
        }
        Some(ConferenceName::parse(&user[CONFERENCE_PREFIX.len()..]))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The user part of the conference's address (`conf-<name>`).
    pub fn user(&self) -> String {
        format!("{CONFERENCE_PREFIX}{}", self.0)
    }

    /// The chat room of the same name.
    pub fn room(&self) -> &RoomName {
        &self.0
    }
}

impl From<RoomName> for ConferenceName {
    fn from(room: RoomName) -> ConferenceName {
        ConferenceName(room)
    }
}

impl From<ConferenceName> for RoomName {
    fn from(name: ConferenceName) -> RoomName {
        name.0
    }
}

impl std::fmt::Display for ConferenceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a called user part names a conference: `conf-<name>`, or a number in one of the
/// configured ranges (`[conference] numbers = ["+8211990"]`). A range is a number prefix;
/// every number that starts with it is a conference of its own, named after the number's
/// digits without the `+` (`+821199012` is the conference `821199012`, whose chat room is
/// `room-821199012`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    ranges: Vec<String>,
}

impl Addresses {
    /// The address forms with these number ranges: each is digits with an optional leading
    /// `+`, at most [`crate::chat::MAX_NAME`] digits.
    pub fn new<I, S>(ranges: I) -> Result<Addresses, ConferenceError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for r in ranges {
            let r = r.as_ref();
            let digits = r.strip_prefix('+').unwrap_or(r);
            if digits.is_empty()
                || digits.len() > crate::chat::MAX_NAME
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ConferenceError::BadRange {
                    range: r.to_owned(),
                });
            }
            out.push(r.to_owned());
        }
        Ok(Addresses { ranges: out })
    }

    /// The conference `user` names, if it names one: `conf-<name>` (an error if the name is
    /// malformed), or a number in a range.
    pub fn conference_of(&self, user: &str) -> Option<Result<ConferenceName, NameError>> {
        if let Some(named) = ConferenceName::from_user(user) {
            return Some(named);
        }
        let in_range = self.ranges.iter().any(|r| user.starts_with(r.as_str()));
        let digits = user.strip_prefix('+').unwrap_or(user);
        if !in_range || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ConferenceName::parse(digits))
    }
}

/// What a participant may do in the room.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Talks, listens, mutes themselves.
    Participant,
    /// Also mutes, unmutes and removes the others (by DTMF and over HTTP). Keyed in the
    /// moderator PIN.
    Moderator,
}

impl Role {
    /// Whether this role may give `command`.
    pub fn may(self, command: Command) -> bool {
        self == Role::Moderator || !command.needs_moderator()
    }
}

/// The limits of one conference.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Participants in the room at once, voice only (the chat room has its own limit).
    pub max_participants: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_participants: DEFAULT_MAX_PARTICIPANTS,
        }
    }
}

impl Limits {
    /// Whether one more participant may join a room that has `present` already.
    pub fn admit(&self, present: usize) -> Result<(), ConferenceError> {
        if present >= self.max_participants {
            Err(ConferenceError::Full {
                max: self.max_participants,
            })
        } else {
            Ok(())
        }
    }

    /// Whether `role` may give `command`.
    pub fn authorize(&self, role: Role, command: Command) -> Result<(), ConferenceError> {
        if role.may(command) {
            Ok(())
        } else {
            Err(ConferenceError::ModeratorOnly { command })
        }
    }
}

/// Why a conference refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConferenceError {
    #[error("conference is full ({max} participants)")]
    Full { max: usize },
    #[error("{command} is for moderators only")]
    ModeratorOnly { command: Command },
    #[error("conference number range {range:?} is not digits with an optional leading '+'")]
    BadRange { range: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conf_user_part_names_a_conference_whose_chat_room_has_the_same_name() {
        let name = ConferenceName::from_user("CONF-Team-A").unwrap().unwrap();
        assert_eq!(name.as_str(), "team-a");
        assert_eq!(name.user(), "conf-team-a");
        assert_eq!(name.room().user(), "room-team-a");
        assert_eq!(
            RoomName::from(name.clone()),
            RoomName::parse("team-a").unwrap()
        );
        assert_eq!(
            ConferenceName::from(RoomName::parse("Team-A").unwrap()),
            name
        );
        assert_eq!(ConferenceName::from_user("room-team-a"), None);
        assert_eq!(ConferenceName::from_user("conf"), None);
        assert_eq!(
            ConferenceName::from_user("conf-"),
            Some(Err(NameError::Length))
        );
        assert_eq!(
            ConferenceName::from_user("conf-a b"),
            Some(Err(NameError::Characters))
        );
    }

    #[test]
    fn a_number_in_a_configured_range_is_a_conference_named_after_its_digits() {
        let addresses = Addresses::new(["+8211990", "5550"]).unwrap();
        let name = |u: &str| addresses.conference_of(u).map(|r| r.unwrap());
        assert_eq!(
            name("+821199012").unwrap(),
            ConferenceName::parse("821199012").unwrap()
        );
        assert_eq!(name("+8211990").unwrap().as_str(), "8211990");
        assert_eq!(name("55501").unwrap().as_str(), "55501");
        assert_eq!(name("conf-board").unwrap().as_str(), "board");
        assert_eq!(addresses.conference_of("+821234"), None);
        assert_eq!(
            addresses.conference_of("8211990"),
            None,
            "the + is part of it"
        );
        assert_eq!(addresses.conference_of("5550x"), None);
        // no ranges: only conf-<name>
        assert_eq!(Addresses::default().conference_of("+821199012"), None);
    }

    #[test]
    fn ranges_must_be_digits() {
        for bad in ["", "+", "82-11", "+82 11", "conf-x"] {
            assert_eq!(
                Addresses::new([bad]),
                Err(ConferenceError::BadRange {
                    range: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
        assert_eq!(
            Addresses::new(["1".repeat(33)]).map(|_| ()),
            Err(ConferenceError::BadRange {
                range: "1".repeat(33)
            })
        );
    }

    #[test]
    fn a_full_room_refuses_the_next_participant() {
        let limits = Limits {
            max_participants: 3,
        };
        assert_eq!(limits.admit(2), Ok(()));
        assert_eq!(limits.admit(3), Err(ConferenceError::Full { max: 3 }));
        assert_eq!(
            ConferenceError::Full { max: 3 }.to_string(),
            "conference is full (3 participants)"
        );
        assert_eq!(Limits::default().max_participants, DEFAULT_MAX_PARTICIPANTS);
    }

    #[test]
    fn only_moderators_mute_unmute_and_remove_others() {
        let limits = Limits::default();
        for c in [Command::MuteAll, Command::UnmuteAll, Command::RemoveLast] {
            assert!(Role::Moderator.may(c));
            assert!(!Role::Participant.may(c));
            assert_eq!(
                limits.authorize(Role::Participant, c),
                Err(ConferenceError::ModeratorOnly { command: c })
            );
        }
        assert!(Role::Participant.may(Command::ToggleMute));
        assert_eq!(limits.authorize(Role::Moderator, Command::MuteAll), Ok(()));
        assert_eq!(
            ConferenceError::ModeratorOnly {
                command: Command::MuteAll
            }
            .to_string(),
            "*7 (mute all) is for moderators only"
        );
    }
}
