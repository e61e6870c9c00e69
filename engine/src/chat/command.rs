//! In-band room commands: a text/plain body starting with `/`.
//!
//! `/join`, `/leave`, `/invite <number>`, `/members`, `/topic [text]`, `/help`. Parsing is
//! all this module does; what a command changes is `room::Room::command`.

/// What every unknown or malformed command is answered with.
pub const HELP: &str = "Room commands:\n\
/join - join the room (creates it; you own a room you create)\n\
/leave - leave the room\n\
/invite <number> - add a member\n\
/members - list the members\n\
/topic - show the topic; /topic <text> - set it\n\
/call - start the room's conference: the switch calls every member\n\
/help - this text";

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join,
    Leave,
    /// The number as written (the caller canonicalizes it).
    Invite(String),
    Members,
    /// `None`: show it.
    Topic(Option<String>),
    /// Start the room's conference and call every member into it.
    Call,
    Help,
}

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("unknown command /{0}")]
    Unknown(String),
    #[error("/invite needs a number: /invite <number>")]
    MissingNumber,
    #[error("/{0} takes no argument")]
    Extra(&'static str),
}

impl Command {
    /// The command in a body, `None` when the body is not a command (does not start with `/`).
    pub fn parse(body: &str) -> Option<Result<Command, CommandError>> {
        let body = body.trim();
        let rest = body.strip_prefix('/')?;
        let (word, arg) = match rest.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim()),
            None => (rest, ""),
        };
        let bare = |c: Command, name: &'static str| {
            if arg.is_empty() {
                Ok(c)
            } else {
                Err(CommandError::Extra(name))
            }
        };
        Some(match word.to_ascii_lowercase().as_str() {
            "join" => bare(Command::Join, "join"),
            "leave" => bare(Command::Leave, "leave"),
            "members" => bare(Command::Members, "members"),
            "call" => bare(Command::Call, "call"),
            "help" => Ok(Command::Help),
            "invite" if arg.is_empty() => Err(CommandError::MissingNumber),
            "invite" => Ok(Command::Invite(arg.to_owned())),
            "topic" if arg.is_empty() => Ok(Command::Topic(None)),
            "topic" => Ok(Command::Topic(Some(arg.to_owned()))),
            other => Err(CommandError::Unknown(other.chars().take(32).collect())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_with_its_argument() {
        assert_eq!(Command::parse("/join"), Some(Ok(Command::Join)));
        assert_eq!(Command::parse(" /LEAVE \r\n"), Some(Ok(Command::Leave)));
        assert_eq!(
            Command::parse("/invite  +82 10-1234-5678"),
            Some(Ok(Command::Invite("+82 10-1234-5678".into())))
        );
        assert_eq!(Command::parse("/members"), Some(Ok(Command::Members)));
        assert_eq!(Command::parse("/call"), Some(Ok(Command::Call)));
        assert_eq!(
            Command::parse("/call 1002"),
            Some(Err(CommandError::Extra("call")))
        );
        assert_eq!(Command::parse("/topic"), Some(Ok(Command::Topic(None))));
        assert_eq!(
            Command::parse("/topic Release  party"),
            Some(Ok(Command::Topic(Some("Release  party".into()))))
        );
        assert_eq!(Command::parse("/help me"), Some(Ok(Command::Help)));
    }

    #[test]
    fn a_plain_post_is_not_a_command() {
        assert_eq!(Command::parse("hello /join"), None);
        assert_eq!(Command::parse(""), None);
    }

    #[test]
    fn malformed_commands_say_what_is_wrong() {
        assert_eq!(
            Command::parse("/dance"),
            Some(Err(CommandError::Unknown("dance".into())))
        );
        assert_eq!(
            Command::parse("/invite"),
            Some(Err(CommandError::MissingNumber))
        );
        assert_eq!(
            Command::parse("/join now"),
            Some(Err(CommandError::Extra("join")))
        );
        assert_eq!(
            CommandError::MissingNumber.to_string(),
            "/invite needs a number: /invite <number>"
        );
    }
}
