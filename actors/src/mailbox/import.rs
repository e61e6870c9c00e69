//! A message made without a call: audio the operator brings (a migration from another
//! system, a test), stored the way a caller's message is — a pending record, its file written
//! frame by frame, then the commit — so it is acknowledged only once both are on disk and the
//! change feed hears of it like any other message.
//!
//! The mailbox's limits hold as for a caller, but a message is taken whole or not at all: one
//! that does not fit in what the mailbox has left is refused ([`ImportError::NoRoom`]) rather
//! than cut. Imports run one at a time, so two of them cannot both take the last room.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::VoicemailRecord;

use super::{Capacity, MailboxError, Mailboxes};

/// Held while an import checks the room left and commits.
static IMPORTING: Mutex<()> = Mutex::new(());

/// Why a message was not imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("{ms} ms of audio, a message lasts at least {min_ms} ms")]
    TooShort { ms: u64, min_ms: u64 },
    #[error("{ms} ms of audio, a message lasts at most {max_ms} ms")]
    TooLong { ms: u64, max_ms: u64 },
    /// The mailbox is at its limit of messages or minutes.
    #[error(
        "mailbox is full: {messages} messages of {max_messages}, {used_secs} s of {max_secs} s"
    )]
    Full {
        messages: usize,
        max_messages: u32,
        used_secs: u64,
        max_secs: u64,
    },
    /// The message is longer than the room the mailbox has left.
    #[error("the mailbox has room for {room_ms} ms, the message lasts {ms} ms")]
    NoRoom { ms: u64, room_ms: u64 },
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
}

impl Mailboxes {
    /// Stores `samples` (mono, at `rate`) as a message from `caller` (a canonical number or
    /// `anonymous`) received at `received`; its record once it is on disk.
    pub fn import(
        &self,
        mailbox: &Aor,
        caller: &str,
        rate: SampleRate,
        samples: &[i16],
        received: SystemTime,
    ) -> Result<VoicemailRecord, ImportError> {
        let length = Duration::from_millis(samples.len() as u64 * 1000 / rate.hz() as u64);
        let ms = length.as_millis() as u64;
        if length < self.limits.min_message {
            return Err(ImportError::TooShort {
                ms,
                min_ms: self.limits.min_message.as_millis() as u64,
            });
        }
        if length > self.limits.max_message {
            return Err(ImportError::TooLong {
                ms,
                max_ms: self.limits.max_message.as_millis() as u64,
            });
        }
        // a poisoned lock guards nothing broken: the store's own state is on disk
        let _one = IMPORTING.lock().unwrap_or_else(|e| e.into_inner());
        match self.capacity(mailbox)? {
            Capacity::Full => return Err(self.full(mailbox)?),
            Capacity::Room(room) if room < length => {
                return Err(ImportError::NoRoom {
                    ms,
                    room_ms: room.as_millis() as u64,
                })
            }
            Capacity::Room(_) => {}
        }
        let mut pending = match self.begin(mailbox, caller, received, Instant::now()) {
            Ok(p) => p,
            Err(MailboxError::Full) => return Err(self.full(mailbox)?),
            Err(e) => return Err(e.into()),
        };
        for frame in samples.chunks(rate.frame_samples()) {
            if let Err(e) = pending.push(rate, frame) {
                let path = pending.file.path().to_owned();
                self.discard(pending)?;
                return Err(MailboxError::io(&path, e).into());
            }
        }
        match self.commit(pending, length)? {
            Some(rec) => Ok(rec),
            // what was written is shorter than the shortest message: a disk that took less
            None => Err(ImportError::TooShort {
                ms,
                min_ms: self.limits.min_message.as_millis() as u64,
            }),
        }
    }

    /// The refusal of a full mailbox, with what it holds.
    fn full(&self, mailbox: &Aor) -> Result<ImportError, MailboxError> {
        let messages = self.messages(mailbox)?;
        let used: Duration = messages.iter().map(VoicemailRecord::duration).sum();
        Ok(ImportError::Full {
            messages: messages.len(),
            max_messages: self.limits.max_messages,
            used_secs: used.as_secs(),
            max_secs: self.limits.max_total.as_secs(),
        })
    }
}

#[cfg(test)]
mod tests {
    use actix::{Actor, Context, Handler};
    use switchboard_engine::voicemail::{Folder, MessageClass};

    use super::*;
    use crate::api::voicemail::MailboxChanged;
    use crate::mailbox::{dir_in, MailboxLimits};
    use crate::store::Store;

    fn open(name: &str, limits: MailboxLimits) -> (Mailboxes, std::path::PathBuf) {
        let d =
            std::env::temp_dir().join(format!("sb-mailbox-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let db = Store::open(&d.join("data"), 100, 8).unwrap();
        let (m, _) = Mailboxes::open(db, dir_in(&d), limits, "example.com").unwrap();
        (m, dir_in(&d))
    }

    fn ramp(n: usize) -> Vec<i16> {
        (0..n).map(|i| (i % 2000) as i16 - 1000).collect()
    }

    #[test]
    fn an_imported_message_is_stored_like_a_callers_with_every_sample() {
        let (m, dir) = open("whole", MailboxLimits::default());
        let mb = Aor::from_canonical("1001");
        let samples = ramp(16_000 * 3 / 2 + 7);
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let rec = m
            .import(&mb, "+821012345678", SampleRate::WIDE, &samples, when)
            .unwrap();
        assert_eq!(rec.duration_ms, 1500);
        assert_eq!(rec.received_unix, 1_700_000_000);
        assert_eq!(rec.folder, Folder::New);
        assert_eq!(rec.caller, "+821012345678");
        assert_eq!(m.messages(&mb).unwrap(), std::slice::from_ref(&rec));
        let (rate, back) = m.samples(&mb, rec.id).unwrap().unwrap();
        assert_eq!(rate, SampleRate::WIDE);
        assert_eq!(
            back,
            samples[..24_000],
            "the length the record says, in order"
        );
        let mut names: Vec<_> = std::fs::read_dir(dir.join("1001"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [rec.id.file_name()]);
        let counts = m.summary(&mb).unwrap().counts(MessageClass::Voice);
        assert_eq!(counts.map(|c| c.new), Some(1));
    }

    /// Collects what the feed sends.
    struct Collect(std::sync::mpsc::Sender<MailboxChanged>);

    impl Actor for Collect {
        type Context = Context<Self>;
    }

    impl Handler<MailboxChanged> for Collect {
        type Result = ();
        fn handle(&mut self, msg: MailboxChanged, _: &mut Context<Self>) {
            let _ = self.0.send(msg);
        }
    }

    #[test]
    fn an_import_reaches_the_change_feed_and_a_refused_one_does_not() {
        let (m, _) = open("feed", MailboxLimits::default());
        let mb = Aor::from_canonical("1001");
        let (tx, rx) = std::sync::mpsc::channel();
        actix::System::new().block_on(async {
            m.subscribe(Collect(tx).start().recipient());
            let at = SystemTime::now();
            let nb = SampleRate::NARROW;
            assert!(m.import(&mb, "anonymous", nb, &ramp(100), at).is_err());
            m.import(&mb, "anonymous", nb, &ramp(8_000), at).unwrap();
            m.import(&mb, "anonymous", nb, &ramp(8_000), at).unwrap();
            actix::clock::sleep(Duration::from_millis(50)).await;
        });
        let news: Vec<u32> = rx
            .try_iter()
            .map(|c| c.summary.counts(MessageClass::Voice).unwrap().new)
            .collect();
        assert_eq!(news, [1, 2]);
    }

    #[test]
    fn a_message_is_taken_whole_within_the_limits_or_refused_with_the_reason() {
        let limits = MailboxLimits {
            max_messages: 2,
            max_total: Duration::from_secs(5),
            max_message: Duration::from_secs(3),
            min_message: Duration::from_secs(1),
        };
        let (m, _) = open("limits", limits);
        let mb = Aor::from_canonical("1001");
        let nb = SampleRate::NARROW;
        let at = SystemTime::now();
        let e = m
            .import(&mb, "anonymous", nb, &ramp(7_999), at)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "999 ms of audio, a message lasts at least 1000 ms"
        );
        let e = m
            .import(&mb, "anonymous", nb, &ramp(24_008), at)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "3001 ms of audio, a message lasts at most 3000 ms"
        );
        m.import(&mb, "anonymous", nb, &ramp(24_000), at).unwrap();
        let e = m
            .import(&mb, "anonymous", nb, &ramp(20_000), at)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the mailbox has room for 2000 ms, the message lasts 2500 ms"
        );
        m.import(&mb, "anonymous", nb, &ramp(16_000), at).unwrap();
        let e = m
            .import(&mb, "anonymous", nb, &ramp(8_000), at)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mailbox is full: 2 messages of 2, 5 s of 5 s"
        );
        assert_eq!(
            m.messages(&mb).unwrap().len(),
            2,
            "nothing of the refused ones kept"
        );
    }
}
