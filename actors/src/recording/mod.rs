//! Call recording: each recorded call becomes a stereo WAV file (caller left, callee right,
//! 16-bit PCM at 8 or 16 kHz) in `<data dir>/recordings/<id>.wav`, with a record in the store
//! (`switchboard_engine::store::recordings`).
//!
//! How to drive it: [`Recorder::open`] at start-up (it repairs what a crash left, then starts
//! the recorder thread); [`Recorder::start`] when a call's recording begins, which returns the
//! recording's id and a [`RecordingTap`] to give the call's media session as its frame sink;
//! [`Recorder::finish`] (or dropping the tap) when it ends. The media thread pushes each side's
//! 20 ms frames into the tap's lock-free ring; the recorder thread (`thread.rs`) pairs them,
//! resamples and writes them (`file.rs`).
//!
//! What it guarantees: a file's header is made valid and the file fsynced every 0.9 s (so
//! audio is on disk within a second of arriving), so a crash loses at most the last second
//! of audio and never leaves an unreadable file; at
//! start-up, the files of recordings a crash interrupted are repaired to every whole sample
//! frame they hold and their records marked done (`recover.rs`). A record says done only
//! once its file is finalized on disk.
//!
//! Layering: below `shared` (which holds the `Recorder`), above `store`; it knows nothing of
//! the signalling actors or the media runtime, only the engine's `FrameSink`.

mod error;
pub mod file;
pub mod recover;
pub mod tap;
mod thread;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam::channel::Sender;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{RecordingId, RecordingRecord, RecordingState};
use tracing::warn;

pub use error::RecordingError;
pub use recover::RecoveryReport;
pub use tap::RecordingTap;

use crate::metrics::Metrics;
use crate::store::Store;
use thread::Command;

/// The directory of the recordings of a data directory.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("recordings")
}

/// What a recording is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingMeta {
    /// The left channel.
    pub caller: Aor,
    /// The right channel.
    pub callee: Aor,
    /// The call's SIP Call-ID.
    pub call_id: String,
    /// When recording began.
    pub started: SystemTime,
}

/// The handle of the recorder thread (cheap to clone; held in `Shared`).
#[derive(Clone)]
pub struct Recorder {
    commands: Sender<Command>,
    db: Store,
    dir: Arc<PathBuf>,
    /// Set by `shutdown`: the thread answers a shutdown before it drops its end of the
    /// channel, so a start sent in between would be taken and never finished.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    /// Repairs the recordings a crash interrupted (files in `dir`, records in `db`), then
    /// starts the recorder thread.
    pub fn open(
        db: Store,
        dir: PathBuf,
        metrics: Arc<Metrics>,
    ) -> Result<(Recorder, RecoveryReport), RecordingError> {
        let report = recover::recover(&db, &dir)?;
        metrics
            .recordings
            .get_or_create(&crate::metrics::OutcomeLabel {
                outcome: "recovered",
            })
            .inc_by(report.finished as u64);
        let commands =
            thread::spawn(db.clone(), dir.clone(), metrics).map_err(|e| RecordingError::Io {
                path: dir.clone(),
                message: format!("cannot start the recorder thread: {e}"),
            })?;
        Ok((
            Recorder {
                commands,
                db,
                dir: Arc::new(dir),
                stopped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            },
            report,
        ))
    }

    /// Starts recording a call: writes its record (in progress) and returns its id and the
    /// tap to hand the call's media session (`Session::set_sink`). The file is written from
    /// the first frames on; the recording ends with [`Recorder::finish`] or when the tap is
    /// dropped. Cheap: one in-memory store write, no file I/O on the calling thread.
    pub fn start(
        &self,
        meta: RecordingMeta,
    ) -> Result<(RecordingId, RecordingTap), RecordingError> {
        if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return Err(RecordingError::Stopped);
        }
        let id = self.db.next_recording_id()?;
        let started_unix_ms = meta
            .started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let record = RecordingRecord {
            id,
            caller: meta.caller.as_str().to_owned(),
            callee: meta.callee.as_str().to_owned(),
            call_id: meta.call_id,
            started_unix_ms,
            duration_ms: 0,
            bytes: 0,
            state: RecordingState::InProgress,
        };
        self.db.put_recording(&record)?;
        let (tap, reader) = tap::channel();
        if self
            .commands
            .send(Command::Start { record, reader })
            .is_err()
        {
            // nobody will finish it: leave nothing behind
            let _ = self.db.remove_recording(id);
            return Err(RecordingError::Stopped);
        }
        Ok((id, tap))
    }

    /// Ends a recording: what its ring holds is written, the file finalized, the record
    /// marked done. Returns at once; unknown or finished ids are ignored.
    pub fn finish(&self, id: RecordingId) {
        let _ = self.commands.send(Command::Finish(id));
    }

    /// Deletes a recording (stopping it if it runs): its record, then its file. The record it
    /// had, `None` when there was none. Blocks until the recorder thread has done it.
    pub fn delete(&self, id: RecordingId) -> Result<Option<RecordingRecord>, RecordingError> {
        let (reply, answer) = crossbeam::channel::bounded(1);
        self.commands
            .send(Command::Delete { id, reply })
            .map_err(|_| RecordingError::Stopped)?;
        answer.recv().map_err(|_| RecordingError::Stopped)?
    }

    /// Finishes every recording and stops the thread (graceful shutdown); `false` if that
    /// took longer than `wait`.
    pub fn shutdown(&self, wait: Duration) -> bool {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        let (reply, done) = crossbeam::channel::bounded(1);
        if self.commands.send(Command::Shutdown { reply }).is_err() {
            return true;
        }
        let finished = done.recv_timeout(wait).is_ok();
        if !finished {
            warn!("recordings still being finished at shutdown");
        }
        finished
    }

    /// The audio file of a recording.
    pub fn file(&self, id: RecordingId) -> PathBuf {
        self.dir.join(id.file_name())
    }

    /// The recordings directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use switchboard_engine::media::{FrameSink, SampleRate, Side};

    fn recorder(name: &str) -> (Recorder, Store, PathBuf) {
        let d = std::env::temp_dir().join(format!("sb-recorder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let db = Store::open(&d.join("data"), 100, 8).unwrap();
        let dir = dir_in(&d);
        let (r, report) =
            Recorder::open(db.clone(), dir.clone(), Arc::new(Metrics::new())).unwrap();
        assert_eq!(report, RecoveryReport::default());
        (r, db, dir)
    }

    fn meta() -> RecordingMeta {
        RecordingMeta {
            caller: Aor::from_canonical("1001"),
            callee: Aor::from_canonical("+82111234567"),
            call_id: "abc@host".into(),
            started: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
        }
    }

    /// Waits until the record of `id` satisfies `f`.
    fn wait_for(db: &Store, id: RecordingId, f: impl Fn(&Option<RecordingRecord>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f(&db.recording(id).unwrap()) {
            assert!(Instant::now() < deadline, "{:?}", db.recording(id));
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn feed(tap: &mut RecordingTap, ticks: usize) {
        for _ in 0..ticks {
            tap.frame(Side::Caller, SampleRate::NARROW, &[1000; 160]);
            tap.frame(Side::Callee, SampleRate::NARROW, &[-1000; 160]);
        }
    }

    #[test]
    fn a_recording_is_in_progress_until_finished_then_done_with_its_length() {
        let (r, db, dir) = recorder("finish");
        let (id, mut tap) = r.start(meta()).unwrap();
        let rec = db.recording(id).unwrap().unwrap();
        assert_eq!(rec.state, RecordingState::InProgress);
        assert_eq!(
            (
                rec.caller.as_str(),
                rec.callee.as_str(),
                rec.call_id.as_str()
            ),
            ("1001", "+82111234567", "abc@host")
        );
        assert_eq!(rec.started_unix_ms, 1_700_000_000_250);
        feed(&mut tap, 50);
        r.finish(id);
        wait_for(&db, id, |r| {
            r.as_ref().is_some_and(|r| r.state == RecordingState::Done)
        });
        let rec = db.recording(id).unwrap().unwrap();
        assert_eq!(rec.duration_ms, 1000);
        assert_eq!(rec.bytes, 44 + 4 * 8000);
        let wav = hound::WavReader::open(dir.join(id.file_name())).unwrap();
        assert_eq!(wav.duration(), 8000);
        assert!(r.shutdown(Duration::from_secs(5)));
    }

    #[test]
    fn dropping_the_tap_ends_the_recording_after_its_last_frames() {
        let (r, db, _) = recorder("drop");
        let (id, mut tap) = r.start(meta()).unwrap();
        feed(&mut tap, 25);
        drop(tap);
        wait_for(&db, id, |r| {
            r.as_ref().is_some_and(|r| r.state == RecordingState::Done)
        });
        assert_eq!(db.recording(id).unwrap().unwrap().duration_ms, 500);
    }

    #[test]
    fn a_deleted_recording_leaves_neither_record_nor_file_even_while_running() {
        let (r, db, dir) = recorder("delete");
        let (id, mut tap) = r.start(meta()).unwrap();
        feed(&mut tap, 10);
        // running: it stops, and its file goes with it
        let gone = r.delete(id).unwrap().unwrap();
        assert_eq!(gone.id, id);
        assert!(db.recording(id).unwrap().is_none());
        assert!(!dir.join(id.file_name()).exists());
        feed(&mut tap, 10);
        assert_eq!(r.delete(id).unwrap(), None);
        let (done, tap) = r.start(meta()).unwrap();
        drop(tap);
        wait_for(&db, done, |r| {
            r.as_ref().is_some_and(|r| r.state == RecordingState::Done)
        });
        assert!(dir.join(done.file_name()).exists());
        r.delete(done).unwrap();
        assert!(!dir.join(done.file_name()).exists());
        assert!(db.recordings(None).unwrap().is_empty());
    }

    #[test]
    fn shutdown_finishes_what_is_running_and_later_starts_are_refused() {
        let (r, db, _) = recorder("shutdown");
        let (id, mut tap) = r.start(meta()).unwrap();
        feed(&mut tap, 5);
        // commands are taken in order: the start comes before the shutdown
        assert!(r.shutdown(Duration::from_secs(5)));
        let rec = db.recording(id).unwrap().unwrap();
        assert_eq!((rec.state, rec.duration_ms), (RecordingState::Done, 100));
        assert!(matches!(r.start(meta()), Err(RecordingError::Stopped)));
        assert!(
            db.recordings(None).unwrap().len() == 1,
            "the refused one left nothing"
        );
    }
}
