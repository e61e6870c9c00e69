//! Configuration of chat rooms (`[rooms]`).

use serde::Deserialize;
use switchboard_engine::chat::RoomLimits;

use super::error::ConfigError;

/// `[rooms]`: multi-party text rooms at `sip:room-<name>@<domain>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rooms {
    /// Members one room holds; one more: SIP 403 "Room Full", HTTP 409.
    pub max_members: usize,
    /// Posts (and commands) one member may send per minute; past it: SIP 503 with
    /// Retry-After, HTTP 429.
    pub rate_per_minute: u32,
    /// Posts one member may send at once before the per-minute rate applies.
    pub rate_burst: u32,
    /// Longest topic (characters).
    pub max_topic_chars: usize,
    /// A member who rejoins gets the posts they missed, at most this many (the newest).
    pub catch_up_max: usize,
    /// text/plain posts are delivered as `<sender>: <text>` for clients that show only the
    /// room as the sender.
    pub prefix_sender: bool,
    /// A room nobody used this long stops its actor (its state is in the store).
    pub idle_timeout_secs: u64,
    /// Rooms one subscriber may own; creating one more: SIP 403 "Too Many Rooms", HTTP 409.
    pub max_rooms_per_owner: usize,
}

impl Rooms {
    pub fn limits(&self) -> RoomLimits {
        RoomLimits {
            max_members: self.max_members,
            max_topic_chars: self.max_topic_chars,
            rate_per_minute: self.rate_per_minute,
            burst: self.rate_burst,
        }
    }
}

/// Checks the `[rooms]` values that parse but cannot work.
pub(super) fn validate(r: &Rooms) -> Result<(), ConfigError> {
    if !(2..=10_000).contains(&r.max_members) {
        return Err(ConfigError::Value {
            key: "rooms.max_members",
            message: "must be 2 to 10000".into(),
        });
    }
    if r.rate_per_minute == 0 || r.rate_burst == 0 {
        return Err(ConfigError::Value {
            key: "rooms.rate_per_minute",
            message: "rate_per_minute and rate_burst must be at least 1".into(),
        });
    }
    if r.max_topic_chars == 0 || r.max_topic_chars > 1000 {
        return Err(ConfigError::Value {
            key: "rooms.max_topic_chars",
            message: "must be 1 to 1000".into(),
        });
    }
    if !(1..=10_000).contains(&r.max_rooms_per_owner) {
        return Err(ConfigError::Value {
            key: "rooms.max_rooms_per_owner",
            message: "must be 1 to 10000".into(),
        });
    }
    if r.idle_timeout_secs == 0 {
        return Err(ConfigError::Value {
            key: "rooms.idle_timeout_secs",
            message: "must be at least 1".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn the_defaults_load_and_impossible_room_limits_are_refused() {
        let mut c = Config::load(None).unwrap();
        assert_eq!(c.rooms.max_members, 200);
        assert_eq!(c.rooms.rate_per_minute, 60);
        assert!(c.rooms.prefix_sender);
        c.rooms.max_members = 1;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("rooms.max_members"), "{e}");
        c.rooms.max_members = 10;
        c.rooms.rate_burst = 0;
        assert!(c.validate().is_err());
        c.rooms.rate_burst = 10;
        assert_eq!(c.rooms.max_rooms_per_owner, 20);
        c.rooms.max_rooms_per_owner = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("rooms.max_rooms_per_owner"), "{e}");
    }
}
