//! Configuration of call detail records (`[cdr]`) and of the tariffs that rate them
//! (`[tariffs]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[cdr]`: one durable record per call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cdr {
    /// Write a record for every call (the log in the store, the day files in `<data>/cdr/`).
    pub enabled: bool,
    /// Group commit: the log is flushed (fsync) at most once per this many milliseconds; a
    /// record arriving sooner after a flush waits for the next one with the others (0: every
    /// batch is flushed as soon as it is taken).
    pub commit_every_ms: u64,
}

impl Default for Cdr {
    fn default() -> Self {
        Cdr {
            enabled: true,
            commit_every_ms: 50,
        }
    }
}

/// `[tariffs]`: the tables that rate off-net calls.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Tariffs {
    /// Directory of the tables (`*.csv`, one table each, named after the file); empty: none,
    /// calls are not rated.
    pub dir: Option<PathBuf>,
    /// The table of callers without a plan of their own.
    pub default: String,
}

impl Tariffs {
    /// The default table's name (`default` when not set).
    pub fn default_table(&self) -> &str {
        if self.default.is_empty() {
            "default"
        } else {
            &self.default
        }
    }
}
