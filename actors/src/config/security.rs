//! Configuration of flood bans (`[security]`).

use serde::Deserialize;
use switchboard_engine::security::{Network, Policy};

use super::error::ConfigError;

/// `[security]`: who gets banned, for how long, and who never is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// How long a ban lasts.
    pub ban_secs: u64,
    /// Failures (wrong digests, unanswered challenges, unknown numbers, malformed messages)
    /// within `failure_window_secs` that ban a source.
    pub failures: u32,
    pub failure_window_secs: u64,
    /// More SIP messages than this from one source within `pike_window_secs` is a flood that
    /// bans it (0: no flood bans).
    pub pike_requests: u32,
    pub pike_window_secs: u64,
    /// User-Agent fragments of scanners (case-insensitive): one such request bans at once.
    pub scanner_user_agents: Vec<String>,
    /// Networks never banned (address/prefix): the operator's trunks and gateways.
    pub trusted: Vec<String>,
}

impl Security {
    /// The engine's ban policy.
    pub fn policy(&self) -> Policy {
        Policy {
            ban: std::time::Duration::from_secs(self.ban_secs),
            failures: self.failures,
            failure_window: std::time::Duration::from_secs(self.failure_window_secs),
            pike_requests: self.pike_requests,
            pike_window: std::time::Duration::from_secs(self.pike_window_secs),
            trusted: self
                .trusted
                .iter()
                .filter_map(|n| Network::parse(n).ok())
                .collect(),
        }
    }
}

/// Checks the `[security]` values that parse but cannot work.
pub(super) fn validate(s: &Security) -> Result<(), ConfigError> {
    if s.ban_secs == 0 || s.failures == 0 || s.failure_window_secs == 0 {
        return Err(ConfigError::Value {
            key: "security.ban_secs",
            message: "ban_secs, failures and failure_window_secs must be at least 1".into(),
        });
    }
    if s.pike_window_secs == 0 {
        return Err(ConfigError::Value {
            key: "security.pike_window_secs",
            message: "must be at least 1".into(),
        });
    }
    for net in &s.trusted {
        Network::parse(net).map_err(|e| ConfigError::Value {
            key: "security.trusted",
            message: e.to_string(),
        })?;
    }
    Ok(())
}
