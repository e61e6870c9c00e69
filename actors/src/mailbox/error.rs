//! Why a mailbox operation failed.

use std::path::PathBuf;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("voicemail files in {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The mailbox holds as many messages or minutes as it may.
    #[error("mailbox is full")]
    Full,
    /// An address that cannot name a directory (`/`, a leading dot, control characters).
    #[error("{0:?} cannot be a mailbox")]
    BadMailbox(String),
}

impl MailboxError {
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> MailboxError {
        MailboxError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }
}
