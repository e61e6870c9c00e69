//! Chat rooms: multi-party text over SIP MESSAGE (RFC 3428).
//!
//! A room is the address `sip:room-<name>@<domain>`. A MESSAGE to it from a member is given
//! the room's next sequence number, kept in the room's history and copied into every other
//! member's message queue, so all members see the posts in one order. A body starting with
//! `/` is a command (`command`); `room` holds the rules: membership, the size limit, the
//! per-member rate limit and what each command does. Record formats are in `store::rooms`.
//!
//! No I/O: the actor passes the time in and carries out the effects returned.

pub mod command;
pub mod room;

pub use command::{Command, CommandError, HELP};
pub use room::{Effect, Room, RoomError, RoomLimits, TokenBucket, VoiceState};

/// The user part prefix of a room address.
pub const ROOM_PREFIX: &str = "room-";
/// The header carrying a delivered post's room sequence number.
pub const ROOM_SEQ: &str = "Room-Seq";
/// Longest room name.
pub const MAX_NAME: usize = 32;

/// A room name: `[a-z0-9][a-z0-9_-]{0,31}`, case-folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("room name must be 1 to {MAX_NAME} characters")]
    Length,
    #[error("room name must start with a letter or digit and hold only a-z, 0-9, '_' and '-'")]
    Characters,
}

impl RoomName {
    /// Parses a bare name (`team-a`), case-folding it.
    pub fn parse(input: &str) -> Result<RoomName, NameError> {
        let name = input.to_ascii_lowercase();
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(NameError::Length);
        }
        let b = name.as_bytes();
        let first_ok = b[0].is_ascii_lowercase() || b[0].is_ascii_digit();
        let rest_ok = b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
        if !first_ok || !rest_ok {
            return Err(NameError::Characters);
        }
        Ok(RoomName(name))
    }

    /// The room a Request-URI user part names (`room-<name>`, any case), if it names one.
    pub fn from_user(user: &str) -> Option<Result<RoomName, NameError>> {
        let head = user.get(..ROOM_PREFIX.len())?;
        if !head.eq_ignore_ascii_case(ROOM_PREFIX) {
            return None;
        }
        Some(RoomName::parse(&user[ROOM_PREFIX.len()..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user part of the room's address (`room-<name>`).
    pub fn user(&self) -> String {
        format!("{ROOM_PREFIX}{}", self.0)
    }

    /// The room's address as a name-addr with a display name: the From of what members
    /// receive (a reply goes to the room).
    pub fn from_header(&self, display: &str, domain: &str) -> String {
        let display: String = display
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        format!("\"{display}\" <sip:{}@{domain}>", self.user())
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Message-ID of post `seq` of `room`: every member's copy carries the same one.
pub fn post_id(room: &RoomName, seq: u64, random: &str, domain: &str) -> String {
    format!("{}.{seq}.{random}@{domain}", room.user())
}

/// The room sequence number a post's Message-ID carries (`None` for anything else).
pub fn seq_of_id(id: &str) -> Option<u64> {
    let rest = id.strip_prefix(ROOM_PREFIX)?;
    let mut parts = rest.split('.');
    let _name = parts.next()?;
    parts.next()?.parse().ok()
}

/// Longest display name shown beside a sender's number.
pub const MAX_DISPLAY: usize = 40;

/// How a post's sender is shown to the members: always the number, with the From display
/// name beside it (`Kim (1001)`), so no member can post as another number. The display name
/// loses quotes, backslashes, control characters and parentheses and is cut at `MAX_DISPLAY`.
pub fn shown_sender(display: Option<&str>, number: &str) -> String {
    let clean: String = display
        .unwrap_or("")
        .chars()
        .filter(|c| !matches!(c, '"' | '\\' | '(' | ')') && !c.is_control())
        .take(MAX_DISPLAY)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == number {
        number.to_owned()
    } else {
        format!("{clean} ({number})")
    }
}

/// The body members receive: a text/plain post is prefixed with its sender for clients that
/// show only the room as the sender.
pub fn delivered_body(content_type: &str, body: &[u8], sender: &str, prefix: bool) -> Vec<u8> {
    if prefix && crate::messaging::is_text_plain(content_type) {
        let mut out = Vec::with_capacity(sender.len() + 2 + body.len());
        out.extend_from_slice(sender.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(body);
        out
    } else {
        body.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_are_case_folded_and_checked() {
        assert_eq!(RoomName::parse("Team-A_1").unwrap().as_str(), "team-a_1");
        assert_eq!(RoomName::parse(""), Err(NameError::Length));
        assert_eq!(RoomName::parse(&"a".repeat(33)), Err(NameError::Length));
        assert!(RoomName::parse(&"a".repeat(32)).is_ok());
        assert_eq!(RoomName::parse("-x"), Err(NameError::Characters));
        assert_eq!(RoomName::parse("a.b"), Err(NameError::Characters));
        assert_eq!(RoomName::parse("é"), Err(NameError::Characters));
    }

    #[test]
    fn only_room_prefixed_users_name_rooms() {
        assert_eq!(
            RoomName::from_user("ROOM-Ops").unwrap().unwrap().as_str(),
            "ops"
        );
        assert!(RoomName::from_user("1001").is_none());
        assert!(RoomName::from_user("room-").unwrap().is_err());
        assert!(RoomName::from_user("roo").is_none());
    }

    #[test]
    fn a_post_id_carries_its_sequence_number() {
        let r = RoomName::parse("ops").unwrap();
        let id = post_id(&r, 42, "abc", "example.org");
        assert_eq!(id, "room-ops.42.abc@example.org");
        assert_eq!(seq_of_id(&id), Some(42));
        assert_eq!(seq_of_id("2a.abc@example.org"), None);
    }

    #[test]
    fn only_text_plain_gets_the_sender_prefix() {
        assert_eq!(
            delivered_body("text/plain", b"hi", "Ann", true),
            b"Ann: hi".to_vec()
        );
        assert_eq!(delivered_body("text/plain", b"hi", "Ann", false), b"hi");
        assert_eq!(delivered_body("image/png", b"\x89P", "Ann", true), b"\x89P");
    }

    #[test]
    fn a_sender_is_always_shown_by_number_with_the_display_name_beside_it() {
        assert_eq!(shown_sender(Some("Kim"), "1001"), "Kim (1001)");
        assert_eq!(shown_sender(None, "1001"), "1001");
        assert_eq!(shown_sender(Some("  "), "1001"), "1001");
        assert_eq!(shown_sender(Some("1001"), "1001"), "1001");
        // posing as another member still shows the real number
        assert_eq!(shown_sender(Some("1003"), "1001"), "1003 (1001)");
        assert_eq!(
            shown_sender(Some("Kim (1003)\r\n\"x"), "1001"),
            "Kim 1003x (1001)"
        );
        assert_eq!(
            shown_sender(Some(&"k".repeat(99)), "1").len(),
            MAX_DISPLAY + 4
        );
    }

    #[test]
    fn the_from_header_cannot_be_broken_by_a_display_name() {
        let r = RoomName::parse("ops").unwrap();
        assert_eq!(r.from_header("A \"B\"", "h"), "\"A B\" <sip:room-ops@h>");
    }
}
