//! Records of chat rooms: the room (`RoomRecord`, in `ROOMS_TREE` by name) and its history
//! (`RoomEntry`, in `ROOM_HISTORY_TREE` under `room 0x00 seq` big-endian, so a prefix scan
//! is one room's posts in sequence order and the last key holds the last sequence number).

/// Tree of rooms: name -> `RoomRecord`.
pub const ROOMS_TREE: &str = "rooms";
/// Tree of room histories: `history_key` -> `RoomEntry`.
pub const ROOM_HISTORY_TREE: &str = "room_history";

/// A room: its topic, owner and everyone who is or was a member.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RoomRecord {
    pub topic: String,
    /// Canonical number of the owner.
    pub owner: String,
    pub created_unix: u64,
    /// Current members (`left_at` empty) and former ones (the last sequence number they had
    /// when they left, so a rejoin can bring what they missed).
    pub members: Vec<MemberRecord>,
}

/// One member of a room, present or past.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MemberRecord {
    /// Canonical number.
    pub number: String,
    pub joined_unix: u64,
    /// The room's last sequence number when this member left; `None` while a member.
    pub left_at: Option<u64>,
}

impl MemberRecord {
    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }
}

/// One post in a room's history.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RoomEntry {
    pub seq: u64,
    /// Canonical number of the sender.
    pub sender: String,
    /// How the sender is shown: the number, with the From display name beside it.
    pub display: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// When the switch accepted it (milliseconds since the Unix epoch).
    pub accepted_unix_ms: u64,
}

/// The key of post `seq` of `room`.
pub fn history_key(room: &str, seq: u64) -> Vec<u8> {
    let mut k = history_prefix(room);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix of every history key of `room`.
pub fn history_prefix(room: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(room.len() + 9);
    k.extend_from_slice(room.as_bytes());
    k.push(0);
    k
}

/// The sequence number of a history key of `room`.
pub fn history_seq(room: &str, key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(history_prefix(room).as_slice())?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_by_sequence_and_stay_inside_their_room() {
        let mut keys = [history_key("ops", 300), history_key("ops", 2)];
        keys.sort();
        assert_eq!(history_seq("ops", &keys[0]), Some(2));
        assert_eq!(history_seq("ops", &keys[1]), Some(300));
        // a longer name that starts like another is outside its prefix
        assert!(!history_key("ops2", 1).starts_with(&history_prefix("ops")));
        assert_eq!(history_seq("ops2", &history_key("ops", 1)), None);
    }

    #[test]
    fn room_records_round_trip() {
        let r = RoomRecord {
            topic: "t".into(),
            owner: "1001".into(),
            created_unix: 5,
            members: vec![MemberRecord {
                number: "1001".into(),
                joined_unix: 5,
                left_at: Some(3),
            }],
        };
        assert_eq!(
            crate::store::decode::<RoomRecord>(&crate::store::encode(&r)).unwrap(),
            r
        );
    }
}
