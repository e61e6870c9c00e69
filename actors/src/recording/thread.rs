//! The recorder thread: the single writer of recording files and, once a recording started,
//! of its record.
//!
//! A plain std thread (`recorder`), like the queue writer: it takes commands from a crossbeam
//! channel and, every [`POLL`] and after every command, drains each recording's ring into its
//! file and flushes the files that are due. A recording ends when `finish` names it or its
//! tap is dropped (the ring's producer is gone and the ring is empty): the rest is written,
//! the file finalized and fsynced, and only then the record says done with the duration and
//! size. A write failure ends the recording the same way, with whatever the file holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use switchboard_engine::media::MAX_FRAME_SAMPLES;
use switchboard_engine::store::{RecordingId, RecordingRecord, RecordingState};
use tracing::{error, info, warn};

use super::error::RecordingError;
use super::file::RecordingFile;
use super::recover::settle;
use super::tap::TapReader;
use crate::metrics::{Metrics, OutcomeLabel};
use crate::store::Store;

/// How often every ring is drained (a ring holds two seconds).
pub const POLL: Duration = Duration::from_millis(20);

/// What the recorder thread is asked to do.
pub enum Command {
    /// Record what `reader` receives; the in-progress record is already in the store.
    Start {
        record: RecordingRecord,
        reader: TapReader,
    },
    /// Write the rest and finish.
    Finish(RecordingId),
    /// Stop the recording if it runs, remove its record and file; answers with the record.
    Delete {
        id: RecordingId,
        reply: Sender<Result<Option<RecordingRecord>, RecordingError>>,
    },
    /// Finish every recording and stop the thread.
    Shutdown { reply: Sender<()> },
}

/// Starts the thread; it runs until `Shutdown` or until every sender is gone.
pub fn spawn(db: Store, dir: PathBuf, metrics: Arc<Metrics>) -> std::io::Result<Sender<Command>> {
    let (tx, rx) = crossbeam::channel::unbounded();
    let thread = RecorderThread {
        db,
        dir,
        metrics,
        active: Vec::new(),
        frame: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
    };
    std::thread::Builder::new()
        .name("recorder".into())
        .spawn(move || thread.run(rx))?;
    Ok(tx)
}

struct RecorderThread {
    db: Store,
    dir: PathBuf,
    metrics: Arc<Metrics>,
    active: Vec<Active>,
    /// One frame popped from a ring.
    frame: Box<[i16]>,
}

/// A recording being written.
struct Active {
    record: RecordingRecord,
    reader: TapReader,
    file: RecordingFile,
    /// `finish` was asked for.
    finishing: bool,
}

impl RecorderThread {
    fn run(mut self, rx: Receiver<Command>) {
        loop {
            // idle (nothing being written): sleep until a command comes, no polling
            let next = if self.active.is_empty() {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                rx.recv_timeout(POLL)
            };
            match next {
                Ok(cmd) => {
                    if !self.handle(cmd) {
                        return;
                    }
                    while let Ok(cmd) = rx.try_recv() {
                        if !self.handle(cmd) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish_all();
                    return;
                }
            }
            self.pump(Instant::now());
        }
    }

    /// Carries out one command; `false` to stop the thread.
    fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Start { record, reader } => self.start(record, reader),
            Command::Finish(id) => {
                if let Some(a) = self.active.iter_mut().find(|a| a.record.id == id) {
                    a.finishing = true;
                }
            }
            Command::Delete { id, reply } => {
                let _ = reply.send(self.delete(id));
            }
            Command::Shutdown { reply } => {
                self.finish_all();
                let _ = reply.send(());
                return false;
            }
        }
        true
    }

    fn start(&mut self, record: RecordingRecord, reader: TapReader) {
        // deleted between its start and now: nothing to record into
        match self.db.recording(record.id) {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                error!(recording = %record.id, error = %e, "recording not started");
                return;
            }
        }
        // the record is on disk before its file exists, so start-up never takes a file for
        // one whose record was deleted
        if let Err(e) = self.db.flush() {
            warn!(recording = %record.id, error = %e, "store flush before recording failed");
        }
        let path = self.dir.join(record.id.file_name());
        info!(recording = %record.id, "recording started");
        self.metrics.recordings_active.inc();
        self.active.push(Active {
            record,
            reader,
            file: RecordingFile::new(path, Instant::now()),
            finishing: false,
        });
    }

    /// Drains every ring, flushes what is due, ends what is over.
    fn pump(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.active.len() {
            let a = &mut self.active[i];
            // read before draining: a tap dropped by now pushed everything it will
            let over = a.finishing || a.reader.is_closed();
            let mut result = Ok(());
            while let Some((side, rate, n)) = a.reader.next_frame(&mut self.frame) {
                result = a.file.push(side, rate, &self.frame[..n]);
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() && !over {
                result = a.file.flush_if_due(now).map(|_| ());
            }
            match result {
                Ok(()) if !over => i += 1,
                Ok(()) => {
                    let a = self.active.swap_remove(i);
                    self.finish(a);
                }
                Err(e) => {
                    let Active {
                        record,
                        reader,
                        file,
                        ..
                    } = self.active.swap_remove(i);
                    error!(recording = %record.id, error = %e, "recording write failed");
                    // closes the file, so that it can be repaired
                    drop(file);
                    self.fail(record, &reader);
                }
            }
        }
    }

    /// Finalizes the file, then marks the record done.
    fn finish(&mut self, a: Active) {
        let Active {
            mut record,
            reader,
            file,
            ..
        } = a;
        let path = file.path().to_owned();
        match file.finish() {
            Ok(w) => {
                record.duration_ms = w.duration_ms();
                record.bytes = w.bytes;
                record.state = RecordingState::Done;
                info!(
                    recording = %record.id,
                    duration_ms = record.duration_ms,
                    bytes = record.bytes,
                    dropped = reader.dropped(),
                    "recording finished"
                );
                self.done(record, &reader, "finished");
            }
            Err(e) => {
                let path = path.display();
                error!(recording = %record.id, error = %e, %path, "recording not finalized");
                self.fail(record, &reader);
            }
        }
    }

    /// Ends a recording whose file could not be written (and is closed now): the file is made
    /// consistent with whatever it holds, as start-up would, and the record says done.
    fn fail(&mut self, mut record: RecordingRecord, reader: &TapReader) {
        match settle(&self.dir, &mut record) {
            Ok(_) => self.done(record, reader, "failed"),
            Err(e) => {
                // the record stays in progress: start-up tries again
                error!(recording = %record.id, error = %e, "failed recording not repaired");
                self.metrics.recordings_active.dec();
            }
        }
    }

    fn done(&mut self, record: RecordingRecord, reader: &TapReader, outcome: &'static str) {
        self.metrics.recordings_active.dec();
        self.metrics
            .recording_frames_dropped
            .inc_by(reader.dropped());
        self.metrics
            .recordings
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        if let Err(e) = self.db.put_recording(&record) {
            // start-up finds it in progress and settles it from the file
            error!(recording = %record.id, error = %e, "finished recording not recorded");
        }
    }

    fn delete(&mut self, id: RecordingId) -> Result<Option<RecordingRecord>, RecordingError> {
        if let Some(i) = self.active.iter().position(|a| a.record.id == id) {
            // dropping the writer closes the file
            drop(self.active.swap_remove(i));
            self.metrics.recordings_active.dec();
        }
        // the record first: a file without one is removed at start-up
        let Some(rec) = self.db.remove_recording(id)? else {
            return Ok(None);
        };
        let path = self.dir.join(id.file_name());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(recording = %id, error = %e, "recording file not removed"),
        }
        self.metrics
            .recordings
            .get_or_create(&OutcomeLabel { outcome: "deleted" })
            .inc();
        info!(recording = %id, "recording deleted");
        Ok(Some(rec))
    }

    fn finish_all(&mut self) {
        for a in &mut self.active {
            a.finishing = true;
        }
        self.pump(Instant::now());
    }
}
