//! A subscriber's greetings: `greeting-<kind>.wav` in their mailbox's directory (mono 16-bit
//! PCM at the rate it was recorded or uploaded at), and the bit in their settings that says
//! it is there.
//!
//! The file is the truth: a greeting is written whole under a temporary name, fsynced and
//! renamed before its bit is set; a delete removes the file before clearing the bit. A crash
//! in between leaves the two disagreeing, and start-up sets the bits to the files
//! (`recover.rs`).

use std::path::PathBuf;

use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::Greeting;
use tracing::info;

use super::message::{read_samples, sync_dir, write_whole};
use super::{MailboxError, Mailboxes};

impl Mailboxes {
    /// The file of one of a subscriber's greetings (whether or not it exists).
    pub fn greeting_path(&self, mailbox: &Aor, kind: Greeting) -> Result<PathBuf, MailboxError> {
        Ok(self.mailbox_dir(mailbox)?.join(kind.file_name()))
    }

    /// Stores a greeting (replacing the one there was): the file, then the settings bit, both
    /// on disk before it returns.
    pub fn put_greeting(
        &self,
        mailbox: &Aor,
        kind: Greeting,
        rate: SampleRate,
        samples: &[i16],
    ) -> Result<(), MailboxError> {
        let dir = self.mailbox_dir(mailbox)?;
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| MailboxError::io(&dir, e))?;
            sync_dir(&dir).map_err(|e| MailboxError::io(&dir, e))?;
        }
        let path = dir.join(kind.file_name());
        write_whole(&path, rate, samples).map_err(|e| MailboxError::io(&path, e))?;
        self.set_greeting_bit(mailbox, kind, true)?;
        info!(mailbox = %mailbox.redacted(), greeting = kind.as_str(), "greeting stored");
        Ok(())
    }

    /// A greeting's samples and their rate; `None` when the subscriber has none of that kind.
    pub fn greeting(
        &self,
        mailbox: &Aor,
        kind: Greeting,
    ) -> Result<Option<(SampleRate, Vec<i16>)>, MailboxError> {
        let path = self.greeting_path(mailbox, kind)?;
        match read_samples(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MailboxError::io(&path, e)),
        }
    }

    /// Deletes a greeting: the file, then the settings bit. Whether there was one.
    pub fn delete_greeting(&self, mailbox: &Aor, kind: Greeting) -> Result<bool, MailboxError> {
        let path = self.greeting_path(mailbox, kind)?;
        let existed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(MailboxError::io(&path, e)),
        };
        if existed {
            sync_dir(&path).map_err(|e| MailboxError::io(&path, e))?;
        }
        self.set_greeting_bit(mailbox, kind, false)?;
        Ok(existed)
    }

    fn set_greeting_bit(
        &self,
        mailbox: &Aor,
        kind: Greeting,
        present: bool,
    ) -> Result<(), MailboxError> {
        let mut s = self.db.voicemail_settings(mailbox)?;
        if s.greetings.has(kind) == present {
            return Ok(());
        }
        s.greetings.set(kind, present);
        self.db.put_voicemail_settings(mailbox, &s)?;
        self.db.flush()?;
        Ok(())
    }
}
