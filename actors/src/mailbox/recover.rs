//! Start-up repair of what a crash left in the mailboxes, before anything else uses them.
//!
//! - A message being left (a pending record) when the switch stopped: its file's header
//!   counts the samples of the last flush, the file may hold more. The header is rewritten to
//!   count every whole sample (`recording::recover::repair_file`); if that is at least the
//!   shortest message, the message is stored with the recovered length, else it is dropped
//!   with its file. No file or no readable header (the crash came before the first flush
//!   reached the disk): dropped.
//! - A stored message whose file is missing or unreadable (nothing the switch does leaves
//!   one; a disk can): the record is removed, so no listing names a message it cannot play.
//!   A stored message whose header disagrees with its file is repaired and its record
//!   updated.
//! - A file no record names (an interrupted delete, which removes the record first) and a
//!   temporary file of a greeting write: removed.
//! - Greetings: each mailbox's settings bits are set to the greeting files present (an
//!   unreadable greeting file is removed).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{Greeting, Greetings, VoicemailId, VoicemailRecord};
use tracing::warn;

use super::message::{read_samples, sync_dir};
use super::{mailbox_dir, MailboxError};
use crate::recording::recover::repair_file;
use crate::store::Store;

/// What start-up found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Messages stored after the repair (kept interrupted ones included).
    pub messages: usize,
    /// Messages a crash interrupted, kept with what their file held.
    pub kept: usize,
    /// Messages a crash interrupted, dropped (too short, or no audio on disk).
    pub dropped: usize,
    /// Stored messages whose file header had to be rewritten.
    pub repaired: usize,
    /// Stored messages whose file was missing or unreadable, removed.
    pub lost: usize,
    /// Files no record names and temporary files, removed.
    pub orphans_removed: usize,
    /// Greeting bits set to the files present.
    pub greetings_fixed: usize,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages; interrupted messages kept {}, dropped {}; files repaired {}; \
             records without a readable file removed {}; orphan files removed {}; \
             greeting settings fixed {}",
            self.messages,
            self.kept,
            self.dropped,
            self.repaired,
            self.lost,
            self.orphans_removed,
            self.greetings_fixed
        )
    }
}

impl RecoveryReport {
    /// Whether anything had to be repaired.
    pub fn is_clean(&self) -> bool {
        RecoveryReport {
            messages: 0,
            ..*self
        } == RecoveryReport::default()
    }
}

/// Repairs the mailboxes in `dir` and their records in `db` (see the module's doc).
pub fn recover(
    db: &Store,
    dir: &Path,
    min_message: Duration,
) -> Result<RecoveryReport, MailboxError> {
    fs::create_dir_all(dir).map_err(|e| MailboxError::io(dir, e))?;
    let mut report = RecoveryReport::default();
    for (mailbox, rec) in db.pending_voicemails()? {
        finish_pending(db, dir, &mailbox, rec, min_message, &mut report)?;
    }
    for (mailbox, rec) in db.all_voicemails()? {
        check_stored(db, dir, &mailbox, rec, &mut report)?;
    }
    let mut greetings: BTreeMap<Aor, Greetings> = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| MailboxError::io(dir, e))? {
        let entry = entry.map_err(|e| MailboxError::io(dir, e))?;
        if !entry.path().is_dir() {
            continue;
        }
        let mailbox = Aor::from_canonical(&entry.file_name().to_string_lossy());
        let found = sweep_mailbox(db, &entry.path(), &mailbox, &mut report)?;
        greetings.insert(mailbox, found);
    }
    // mailboxes with settings but no directory have no greetings
    for (mailbox, _) in db.voicemail_settings_all()? {
        greetings.entry(mailbox).or_default();
    }
    for (mailbox, present) in greetings {
        let mut settings = db.voicemail_settings(&mailbox)?;
        if settings.greetings != present {
            settings.greetings = present;
            db.put_voicemail_settings(&mailbox, &settings)?;
            report.greetings_fixed += 1;
        }
    }
    if !report.is_clean() {
        db.flush()?;
    }
    Ok(report)
}

/// A message the crash interrupted: kept with what its file holds, or dropped.
fn finish_pending(
    db: &Store,
    dir: &Path,
    mailbox: &Aor,
    mut rec: VoicemailRecord,
    min_message: Duration,
    report: &mut RecoveryReport,
) -> Result<(), MailboxError> {
    let Ok(mdir) = mailbox_dir(dir, mailbox) else {
        db.remove_pending_voicemail(mailbox, rec.id)?;
        report.dropped += 1;
        return Ok(());
    };
    let path = mdir.join(rec.id.file_name());
    match repair_file(&path) {
        Ok(r) if Duration::from_millis(r.duration_ms()) >= min_message => {
            sync_dir(&path).map_err(|e| MailboxError::io(&path, e))?;
            rec.duration_ms = r.duration_ms();
            rec.bytes = r.bytes;
            db.commit_voicemail(mailbox, &rec)?;
            // counted in `messages` with the stored ones, next
            report.kept += 1;
            return Ok(());
        }
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::InvalidData
            ) => {}
        Err(e) => {
            // left pending: the next start-up tries again
            warn!(voicemail = %rec.id, error = %e, "interrupted voicemail not repaired");
            return Ok(());
        }
    }
    remove(&path)?;
    db.remove_pending_voicemail(mailbox, rec.id)?;
    report.dropped += 1;
    Ok(())
}

/// A stored message: its file repaired if it needs it, its record removed if it has none.
fn check_stored(
    db: &Store,
    dir: &Path,
    mailbox: &Aor,
    mut rec: VoicemailRecord,
    report: &mut RecoveryReport,
) -> Result<(), MailboxError> {
    let path = mailbox_dir(dir, mailbox).map(|d| d.join(rec.id.file_name()));
    let result = match &path {
        Ok(p) => repair_file(p),
        Err(_) => Err(io::Error::from(io::ErrorKind::NotFound)),
    };
    match result {
        Ok(r) if !r.changed => report.messages += 1,
        Ok(r) => {
            rec.duration_ms = r.duration_ms();
            rec.bytes = r.bytes;
            db.put_voicemail(mailbox, &rec)?;
            report.repaired += 1;
            report.messages += 1;
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::InvalidData
            ) =>
        {
            warn!(
                mailbox = %mailbox.redacted(),
                voicemail = %rec.id,
                error = %e,
                "voicemail without a readable file removed"
            );
            db.remove_voicemail(mailbox, rec.id)?;
            db.flush()?;
            if let Ok(p) = &path {
                remove(p)?;
            }
            report.lost += 1;
        }
        Err(e) => {
            warn!(voicemail = %rec.id, error = %e, "voicemail file not checked");
            report.messages += 1;
        }
    }
    Ok(())
}

/// Removes the files of one mailbox's directory that no record names and temporary files;
/// the greetings present.
fn sweep_mailbox(
    db: &Store,
    mdir: &Path,
    mailbox: &Aor,
    report: &mut RecoveryReport,
) -> Result<Greetings, MailboxError> {
    let mut present = Greetings::default();
    for entry in fs::read_dir(mdir).map_err(|e| MailboxError::io(mdir, e))? {
        let entry = entry.map_err(|e| MailboxError::io(mdir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.ends_with(".tmp") {
            remove(&path)?;
            report.orphans_removed += 1;
        } else if let Some(id) = VoicemailId::from_file_name(&name) {
            if db.voicemail(mailbox, id)?.is_none() {
                remove(&path)?;
                report.orphans_removed += 1;
            }
        } else if let Some(kind) = Greeting::ALL.into_iter().find(|g| g.file_name() == name) {
            if read_samples(&path).is_ok() {
                present.set(kind, true);
            } else {
                warn!(mailbox = %mailbox.redacted(), greeting = kind.as_str(), "unreadable greeting removed");
                remove(&path)?;
                report.orphans_removed += 1;
            }
        }
    }
    Ok(present)
}

fn remove(path: &Path) -> Result<(), MailboxError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(MailboxError::io(path, e)),
    }
}
