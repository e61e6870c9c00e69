//! Configuration of presence: subscriptions, publications, buddy lists and their limits.

use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::store::buddies::BuddyLimits;

use super::error::ConfigError;

/// `[presence]`: SUBSCRIBE/NOTIFY for the presence event package (RFC 3856), PUBLISH
/// (RFC 3903) and the buddy lists that decide who may watch whom.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    pub enabled: bool,
    /// At most one NOTIFY per watcher this often (changes in between are merged).
    pub notify_interval_ms: u64,
    /// Subscription lengths: shorter asked for is answered 423; none asked for gets the
    /// default; longer is cut to the maximum.
    pub min_expires_secs: u32,
    pub default_expires_secs: u32,
    pub max_expires_secs: u32,
    /// Publication lengths: none asked for gets the default; longer is cut to the maximum.
    pub publish_default_expires_secs: u32,
    pub publish_max_expires_secs: u32,
    /// Watchers one presentity may have at once.
    pub max_watchers: usize,
    /// Subscriptions one watcher may hold at once, over all presentities (a buddy-list
    /// subscription counts as one).
    pub max_subscriptions_per_watcher: u32,
    /// Adding a buddy also asks to watch them (a pending grant they answer), and allowing a
    /// watcher adds them to the list, so both see each other.
    pub mutual_buddies: bool,
    /// Entries of one buddy list.
    pub max_buddies: usize,
    /// Characters of a buddy's display name.
    pub max_display_chars: usize,
    /// Groups one buddy is in, and characters of a group name.
    pub max_groups: usize,
    pub max_group_chars: usize,
}

impl Presence {
    pub fn notify_interval(&self) -> Duration {
        Duration::from_millis(self.notify_interval_ms)
    }

    /// The limits of buddy lists.
    pub fn buddy_limits(&self) -> BuddyLimits {
        BuddyLimits {
            max_buddies: self.max_buddies,
            max_display_chars: self.max_display_chars,
            max_groups: self.max_groups,
            max_group_chars: self.max_group_chars,
        }
    }
}

/// Checks the `[presence]` values that parse but cannot work.
pub(super) fn validate(p: &Presence) -> Result<(), ConfigError> {
    let value = |key, message: &str| {
        Err(ConfigError::Value {
            key,
            message: message.into(),
        })
    };
    if p.min_expires_secs == 0
        || p.min_expires_secs > p.default_expires_secs
        || p.default_expires_secs > p.max_expires_secs
    {
        return value(
            "presence.min_expires_secs",
            "need 1 <= min_expires_secs <= default_expires_secs <= max_expires_secs",
        );
    }
    if p.max_subscriptions_per_watcher == 0 {
        return value(
            "presence.max_subscriptions_per_watcher",
            "must be at least 1",
        );
    }
    if p.publish_default_expires_secs == 0
        || p.publish_default_expires_secs > p.publish_max_expires_secs
    {
        return value(
            "presence.publish_default_expires_secs",
            "need 1 <= publish_default_expires_secs <= publish_max_expires_secs",
        );
    }
    if p.notify_interval_ms > 60_000 {
        return value(
            "presence.notify_interval_ms",
            "must be at most 60000 (a minute)",
        );
    }
    if p.max_watchers == 0 {
        return value("presence.max_watchers", "must be at least 1");
    }
    if p.max_buddies == 0 || p.max_buddies > 10_000 {
        return value("presence.max_buddies", "must be 1 to 10000");
    }
    if p.max_display_chars == 0 || p.max_display_chars > 1024 {
        return value("presence.max_display_chars", "must be 1 to 1024");
    }
    if p.max_groups > 1024 {
        return value("presence.max_groups", "must be at most 1024");
    }
    if p.max_group_chars == 0 || p.max_group_chars > 1024 {
        return value("presence.max_group_chars", "must be 1 to 1024");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn load(extra: &str) -> Result<Config, String> {
        let dir = std::env::temp_dir().join(format!("sb-config-presence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(format!("c{}.toml", extra.len()));
        std::fs::write(&f, format!("[presence]\n{extra}")).unwrap();
        Config::load(Some(&f)).map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let p = Config::load(None).unwrap().presence;
        assert!(p.enabled && p.mutual_buddies);
        assert_eq!(p.notify_interval().as_millis(), 500);
        assert_eq!(
            (
                p.min_expires_secs,
                p.default_expires_secs,
                p.max_expires_secs
            ),
            (60, 600, 3600)
        );
        assert_eq!(
            (p.publish_default_expires_secs, p.publish_max_expires_secs),
            (3600, 7200)
        );
        assert_eq!(p.max_watchers, 10_000);
        let l = p.buddy_limits();
        assert_eq!(
            (
                l.max_buddies,
                l.max_display_chars,
                l.max_groups,
                l.max_group_chars
            ),
            (500, 64, 16, 32)
        );
    }

    #[test]
    fn values_that_cannot_work_name_their_key() {
        let e = load("min_expires_secs = 700\n").unwrap_err();
        assert!(e.contains("presence.min_expires_secs"), "{e}");
        let e = load("publish_max_expires_secs = 10\n").unwrap_err();
        assert!(e.contains("presence.publish_default_expires_secs"), "{e}");
        let e = load("max_buddies = 0\n").unwrap_err();
        assert!(e.contains("presence.max_buddies"), "{e}");
        let e = load("max_group_chars = 0\n").unwrap_err();
        assert!(e.contains("presence.max_group_chars"), "{e}");
        let e = load("buddies = 3\n").unwrap_err();
        assert!(e.contains("buddies"), "unknown fields are refused: {e}");
        assert_eq!(load("max_buddies = 3\n").unwrap().presence.max_buddies, 3);
    }
}
