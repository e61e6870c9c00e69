//! What a plugin host publishes: the files of one version, what a reload reports, why one
//! failed, and which router decides.

use std::path::PathBuf;

/// Which router decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterMode {
    /// The Lua plugins (falling back to the built-in routing).
    Lua,
    /// The built-in routing alone, without an interpreter (for comparison).
    Plain,
}

/// One plugin file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    pub name: String,
    pub source: String,
}

/// A published set of plugins.
#[derive(Debug)]
pub struct PluginSet {
    pub version: u64,
    /// First 12 hex digits of the SHA-256 over the files' names and texts.
    pub digest: String,
    pub files: Vec<PluginFile>,
    /// Tests the set passed.
    pub tests: usize,
}

/// What a reload or a check reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginReport {
    pub version: u64,
    pub digest: String,
    pub files: Vec<String>,
    pub tests: usize,
}

/// Why plugins could not be (re)loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugins in {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}")]
    Compile(String),
    #[error("{0}")]
    Test(String),
}
