//! Configuration of conference bridges (`[conference]`).

use serde::Deserialize;
use switchboard_engine::conference::Addresses;

use super::error::ConfigError;

/// `[conference]`: bridges at `sip:conf-<name>@<domain>` and configured numbers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conference {
    /// Number prefixes whose numbers dial a conference.
    pub numbers: Vec<String>,
    /// Participants one conference holds at most.
    pub max_participants: usize,
    /// Wrong PIN entries a caller has.
    pub pin_attempts: u32,
}

impl Conference {
    /// The addresses that dial a conference (validated at load).
    pub fn addresses(&self) -> Addresses {
        Addresses::new(&self.numbers).unwrap_or_default()
    }
}

/// Checks the `[conference]` values that parse but cannot work.
pub(super) fn validate(c: &Conference) -> Result<(), ConfigError> {
    if let Err(e) = Addresses::new(&c.numbers) {
        return Err(ConfigError::Value {
            key: "conference.numbers",
            message: e.to_string(),
        });
    }
    if !(2..=1000).contains(&c.max_participants) {
        return Err(ConfigError::Value {
            key: "conference.max_participants",
            message: "must be 2 to 1000".into(),
        });
    }
    if !(1..=10).contains(&c.pin_attempts) {
        return Err(ConfigError::Value {
            key: "conference.pin_attempts",
            message: "must be 1 to 10".into(),
        });
    }
    Ok(())
}
