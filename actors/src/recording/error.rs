//! Why a recording could not be started, deleted or repaired.

use std::path::PathBuf;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("recordings in {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("the recorder has stopped")]
    Stopped,
}
