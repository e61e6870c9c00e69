//! The mailbox store: voicemail messages, greetings and mailbox settings, the only code that
//! touches sled or files for voicemail.
//!
//! Where things are: each message's record in sled (`store/voicemails.rs`, the engine's
//! `voicemail::record` keys), its audio in `<data dir>/voicemail/<mailbox>/<id>.wav` (mono
//! 16-bit PCM at the call's rate), a subscriber's greetings beside them
//! (`greeting-<kind>.wav`), their settings in sled.
//!
//! How to drive it: [`Mailboxes::open`] at start-up (it repairs what a crash left, see
//! `recover.rs`, and logs what it did). To leave a message, [`Mailboxes::begin`] (refused with
//! [`MailboxError::Full`] when the mailbox is at its limits), [`PendingMessage::push`] each of
//! the caller's frames and [`PendingMessage::flush_if_due`] now and then, then
//! [`Mailboxes::commit`] or [`Mailboxes::discard`]; a call does all of that through the
//! message writer thread ([`Writer`], `writer.rs`). Everything here blocks on the disk (a
//! commit fsyncs twice and flushes sled): call it from a thread that may block, not from a
//! media thread or in an actor's handler on a busy arbiter (reads of records and settings
//! are in-memory sled reads and may be done anywhere).
//!
//! What it guarantees:
//! - a message is acknowledged (`commit` returns its record) only after its file is finalized
//!   and fsynced, with its directory, and its record is flushed;
//! - while a message is being left its record waits in a pending tree (flushed before the file
//!   exists) and its file is made valid and fsynced every [`FLUSH_EVERY`]: after a crash,
//!   start-up keeps what the file holds (at most the last second is lost) if that is at least
//!   `min_message` long; no file is ever left unreadable;
//! - a delete removes the record first (flushed), then the file: a crash in between leaves a
//!   file with no record, which start-up removes; never a record without its file;
//! - a greeting is written whole under a temporary name and renamed; its settings bit follows
//!   the file (start-up makes them agree);
//! - every committed change of a mailbox's messages is published on the change feed
//!   ([`Mailboxes::subscribe`], [`MailboxChanged`](crate::api::voicemail::MailboxChanged))
//!   with the mailbox's summary after it; summaries are computed and sent under one lock, so
//!   the last one a subscriber gets is the mailbox's state.
//!
//! Besides a call: [`Mailboxes::import`] stores a message from audio the operator brings
//! (`import.rs`), and `admin.rs` has the settings changes and views of the HTTP API, the
//! control socket and the CLI.
//!
//! Layering: beside `recording` (whose WAV repair it reuses), above `store` and `api`.

mod admin;
mod changes;
mod error;
mod feed;
mod greetings;
mod import;
pub mod message;
mod pins;
pub mod recover;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix::Recipient;
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{
    Folder, MailboxSettings, MessageSummary, VoicemailId, VoicemailRecord,
};
use tracing::{info, warn};

pub use admin::{SettingsChange, SettingsError};
pub use changes::Change;
pub use error::MailboxError;
pub use feed::Feed;
pub use import::ImportError;
pub use message::{MessageFile, Written, FLUSH_EVERY};
pub use recover::RecoveryReport;
pub use writer::{StartDeposit, StartGreeting, Writer};

use crate::api::voicemail::MailboxChanged;
use crate::config::Voicemail;
use crate::store::Store;

/// The directory of the mailboxes of a data directory.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("voicemail")
}

/// What every mailbox may hold (`[voicemail]` in the configuration).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MailboxLimits {
    /// Messages (new and saved) a mailbox holds at most.
    pub max_messages: u32,
    /// Audio a mailbox holds at most, all its messages together.
    pub max_total: Duration,
    /// The longest message.
    pub max_message: Duration,
    /// The shortest message kept.
    pub min_message: Duration,
}

impl Default for MailboxLimits {
    /// 100 messages, 60 minutes, 3 minutes a message, 1 s at least.
    fn default() -> MailboxLimits {
        MailboxLimits {
            max_messages: 100,
            max_total: Duration::from_secs(60 * 60),
            max_message: Duration::from_secs(180),
            min_message: Duration::from_secs(1),
        }
    }
}

impl MailboxLimits {
    /// The limits the configuration sets.
    pub fn of(config: &Voicemail) -> MailboxLimits {
        MailboxLimits {
            max_messages: config.max_messages,
            max_total: Duration::from_secs(config.max_minutes as u64 * 60),
            max_message: Duration::from_secs(config.max_message_secs as u64),
            ..MailboxLimits::default()
        }
    }
}

/// Whether a mailbox takes another message, and how long.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// At its limit of messages or minutes (or with less room than the shortest message).
    Full,
    /// The longest message it takes now.
    Room(Duration),
}

/// The mailbox store (cheap to clone; held in `Shared`).
#[derive(Clone)]
pub struct Mailboxes {
    db: Store,
    dir: Arc<PathBuf>,
    limits: MailboxLimits,
    /// The host of the `Message-Account` URIs (`sip:<mailbox>@<domain>`).
    domain: Arc<str>,
    feed: Feed,
    /// Held while a summary is computed and published.
    publishing: Arc<Mutex<()>>,
}

/// A message being left: its record (pending) and its audio file. Ends with
/// [`Mailboxes::commit`] or [`Mailboxes::discard`]; dropped without either, it stays pending
/// until the next start-up, which keeps what its file holds.
pub struct PendingMessage {
    mailbox: Aor,
    record: VoicemailRecord,
    file: MessageFile,
}

impl PendingMessage {
    pub fn id(&self) -> VoicemailId {
        self.record.id
    }

    pub fn mailbox(&self) -> &Aor {
        &self.mailbox
    }

    /// The record it will have (duration and size still 0).
    pub fn record(&self) -> &VoicemailRecord {
        &self.record
    }

    /// Writes one frame of the caller's audio (see [`MessageFile::push`]).
    pub fn push(&mut self, rate: SampleRate, pcm: &[i16]) -> std::io::Result<()> {
        self.file.push(rate, pcm)
    }

    /// Makes what was written so far durable, if it is time (see
    /// [`MessageFile::flush_if_due`]).
    pub fn flush_if_due(&mut self, now: Instant) -> std::io::Result<bool> {
        self.file.flush_if_due(now)
    }

    /// The audio written so far.
    pub fn written(&self) -> Duration {
        match self.file.rate() {
            Some(r) => Duration::from_millis(self.file.samples() * 1000 / r.hz() as u64),
            None => Duration::ZERO,
        }
    }
}

impl Mailboxes {
    /// Repairs what a crash left (records in `db`, files in `dir`), logs what it did and
    /// returns the store.
    pub fn open(
        db: Store,
        dir: PathBuf,
        limits: MailboxLimits,
        domain: &str,
    ) -> Result<(Mailboxes, RecoveryReport), MailboxError> {
        let report = recover::recover(&db, &dir, limits.min_message)?;
        info!("voicemail start-up: {report}");
        Ok((
            Mailboxes {
                db,
                dir: Arc::new(dir),
                limits,
                domain: domain.into(),
                feed: Feed::default(),
                publishing: Arc::new(Mutex::new(())),
            },
            report,
        ))
    }

    pub fn limits(&self) -> MailboxLimits {
        self.limits
    }

    /// The directory of every mailbox.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds a subscriber to the change feed: it gets a
    /// [`MailboxChanged`] after every change committed from now on.
    pub fn subscribe(&self, to: Recipient<MailboxChanged>) {
        self.feed.subscribe(to);
    }

    /// The directory of one mailbox (not created).
    pub fn mailbox_dir(&self, mailbox: &Aor) -> Result<PathBuf, MailboxError> {
        mailbox_dir(&self.dir, mailbox)
    }

    /// The `Message-Account` of a mailbox (RFC 3842 §5.2).
    pub fn account(&self, mailbox: &Aor) -> String {
        format!("sip:{}@{}", mailbox.as_str(), self.domain)
    }

    /// Whether `mailbox` takes another message now, and how long.
    pub fn capacity(&self, mailbox: &Aor) -> Result<Capacity, MailboxError> {
        let messages = self.db.voicemails(mailbox)?;
        let total: Duration = messages.iter().map(VoicemailRecord::duration).sum();
        let room = self.limits.max_total.saturating_sub(total);
        if messages.len() >= self.limits.max_messages as usize || room < self.limits.min_message {
            return Ok(Capacity::Full);
        }
        Ok(Capacity::Room(room.min(self.limits.max_message)))
    }

    /// Starts a message from `caller` (a canonical number or `anonymous`) received at
    /// `received`: its pending record is flushed; its file is created with the first frame.
    pub fn begin(
        &self,
        mailbox: &Aor,
        caller: &str,
        received: SystemTime,
        now: Instant,
    ) -> Result<PendingMessage, MailboxError> {
        if self.capacity(mailbox)? == Capacity::Full {
            return Err(MailboxError::Full);
        }
        let dir = self.mailbox_dir(mailbox)?;
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| MailboxError::io(&dir, e))?;
            message::sync_dir(&dir).map_err(|e| MailboxError::io(&dir, e))?;
        }
        let record = VoicemailRecord {
            id: self.db.next_voicemail_id()?,
            caller: caller.to_owned(),
            received_unix: unix(received),
            duration_ms: 0,
            folder: Folder::New,
            bytes: 0,
        };
        self.db.put_pending_voicemail(mailbox, &record)?;
        // the pending record is on disk before its file exists, so start-up never takes a
        // file for an orphan while its message was being left
        self.db.flush()?;
        let file = MessageFile::new(dir.join(record.id.file_name()), now);
        Ok(PendingMessage {
            mailbox: mailbox.clone(),
            record,
            file,
        })
    }

    /// Ends a message, keeping at most its first `keep` of audio: finalizes and fsyncs the
    /// file, stores the record and flushes, then publishes the change. `None` (and nothing
    /// kept) when what is left is shorter than the shortest message.
    pub fn commit(
        &self,
        message: PendingMessage,
        keep: Duration,
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        let PendingMessage {
            mailbox,
            mut record,
            file,
        } = message;
        let path = file.path().to_owned();
        let written = file
            .finish(keep.min(self.limits.max_message))
            .map_err(|e| MailboxError::io(&path, e))?;
        if written.duration() < self.limits.min_message {
            self.remove_pending(&mailbox, record.id, &path)?;
            return Ok(None);
        }
        message::sync_dir(&path).map_err(|e| MailboxError::io(&path, e))?;
        record.duration_ms = written.duration().as_millis() as u64;
        record.bytes = written.bytes;
        self.db.commit_voicemail(&mailbox, &record)?;
        self.db.flush()?;
        info!(
            mailbox = %mailbox.redacted(),
            voicemail = %record.id,
            duration_ms = record.duration_ms,
            "voicemail left"
        );
        self.publish(&mailbox);
        Ok(Some(record))
    }

    /// Ends a message keeping nothing: its file and pending record are removed.
    pub fn discard(&self, message: PendingMessage) -> Result<(), MailboxError> {
        let PendingMessage {
            mailbox,
            record,
            file,
        } = message;
        let path = file.path().to_owned();
        // closes the file first
        drop(file);
        self.remove_pending(&mailbox, record.id, &path)
    }

    fn remove_pending(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
        path: &Path,
    ) -> Result<(), MailboxError> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(MailboxError::io(path, e)),
        }
        self.db.remove_pending_voicemail(mailbox, id)?;
        // durable at the next flush; until then start-up finds a pending record without a
        // file and forgets it
        Ok(())
    }

    /// The messages of a mailbox, oldest first.
    pub fn messages(&self, mailbox: &Aor) -> Result<Vec<VoicemailRecord>, MailboxError> {
        Ok(self.db.voicemails(mailbox)?)
    }

    /// The messages of a mailbox in one folder, oldest first.
    pub fn folder(
        &self,
        mailbox: &Aor,
        folder: Folder,
    ) -> Result<Vec<VoicemailRecord>, MailboxError> {
        let mut all = self.messages(mailbox)?;
        all.retain(|m| m.folder == folder);
        Ok(all)
    }

    pub fn message(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        Ok(self.db.voicemail(mailbox, id)?)
    }

    /// The audio file of a message (whether or not the message exists).
    pub fn audio_path(&self, mailbox: &Aor, id: VoicemailId) -> Result<PathBuf, MailboxError> {
        Ok(self.mailbox_dir(mailbox)?.join(id.file_name()))
    }

    /// A message's audio file, as its bytes (a WAV file); `None` when there is no such
    /// message.
    pub fn audio(&self, mailbox: &Aor, id: VoicemailId) -> Result<Option<Vec<u8>>, MailboxError> {
        if self.message(mailbox, id)?.is_none() {
            return Ok(None);
        }
        let path = self.audio_path(mailbox, id)?;
        std::fs::read(&path)
            .map(Some)
            .map_err(|e| MailboxError::io(&path, e))
    }

    /// A message's samples and their rate, to play; `None` when there is no such message.
    pub fn samples(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<Option<(SampleRate, Vec<i16>)>, MailboxError> {
        if self.message(mailbox, id)?.is_none() {
            return Ok(None);
        }
        let path = self.audio_path(mailbox, id)?;
        message::read_samples(&path)
            .map(Some)
            .map_err(|e| MailboxError::io(&path, e))
    }

    /// Moves a message to `folder` (heard or kept: [`Folder::Saved`]); flushed, then
    /// published. The record after the change; `None` when there is no such message.
    pub fn set_folder(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
        folder: Folder,
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        let Some(rec) = self
            .db
            .update_voicemail(mailbox, id, |r| r.folder = folder)?
        else {
            return Ok(None);
        };
        self.db.flush()?;
        self.publish(mailbox);
        Ok(Some(rec))
    }

    /// Deletes a message: its record (flushed), then its file; then publishes. The record it
    /// had; `None` when there was none.
    pub fn delete(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        self.delete_then(mailbox, id, || {})
    }

    /// [`delete`](Self::delete), stopping for `pause` once the record is gone from the disk
    /// and before the file is: the window a crash test kills the switch in. Debug builds only.
    #[cfg(debug_assertions)]
    pub fn delete_pausing(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
        pause: Duration,
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        self.delete_then(mailbox, id, || std::thread::sleep(pause))
    }

    fn delete_then(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
        between: impl FnOnce(),
    ) -> Result<Option<VoicemailRecord>, MailboxError> {
        let path = self.audio_path(mailbox, id)?;
        let Some(rec) = self.db.remove_voicemail(mailbox, id)? else {
            return Ok(None);
        };
        self.db.flush()?;
        between();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // start-up removes it: no record names it any more
            Err(e) => warn!(voicemail = %id, error = %e, "voicemail file not removed"),
        }
        info!(mailbox = %mailbox.redacted(), voicemail = %id, "voicemail deleted");
        self.publish(mailbox);
        Ok(Some(rec))
    }

    /// The mailbox's RFC 3842 summary: new and saved (old) messages.
    pub fn summary(&self, mailbox: &Aor) -> Result<MessageSummary, MailboxError> {
        let messages = self.db.voicemails(mailbox)?;
        Ok(MessageSummary::of_mailbox(
            &self.account(mailbox),
            &messages,
        ))
    }

    /// A subscriber's mailbox settings (on, no PIN, no greetings when never set).
    pub fn settings(&self, mailbox: &Aor) -> Result<MailboxSettings, MailboxError> {
        Ok(self.db.voicemail_settings(mailbox)?)
    }

    /// Replaces a subscriber's mailbox settings (flushed before it returns). Which greetings
    /// are present is the greeting files' to say: `settings.greetings` is ignored.
    pub fn put_settings(
        &self,
        mailbox: &Aor,
        settings: &MailboxSettings,
    ) -> Result<(), MailboxError> {
        let current = self.db.voicemail_settings(mailbox)?;
        let settings = MailboxSettings {
            greetings: current.greetings,
            ..settings.clone()
        };
        self.db.put_voicemail_settings(mailbox, &settings)?;
        self.db.flush()?;
        Ok(())
    }

    /// Whether calls to `mailbox` may go to voicemail (on unless turned off).
    pub fn enabled(&self, mailbox: &Aor) -> Result<bool, MailboxError> {
        Ok(self.settings(mailbox)?.enabled)
    }

    /// Publishes the mailbox's state after a change.
    fn publish(&self, mailbox: &Aor) {
        if self.feed.is_empty() {
            return;
        }
        let _held = self.publishing.lock().unwrap_or_else(|e| e.into_inner());
        match self.summary(mailbox) {
            Ok(s) => self.feed.publish(mailbox, s),
            Err(e) => {
                warn!(mailbox = %mailbox.redacted(), error = %e, "mailbox change not published")
            }
        }
    }
}

/// The directory of `mailbox` in `dir`; refused for an address that cannot name one.
pub fn mailbox_dir(dir: &Path, mailbox: &Aor) -> Result<PathBuf, MailboxError> {
    let name = mailbox.as_str();
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_' | b'.' | b'@'));
    if !safe {
        return Err(MailboxError::BadMailbox(name.to_owned()));
    }
    Ok(dir.join(name))
}

/// Seconds since the Unix epoch.
fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
