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
}

impl Default for Cdr {
    fn default() -> Self {
        Cdr { enabled: true }
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
