//! Start-up repair of what a crash left in the recordings directory.
//!
//! A recording whose record still says "in progress" was being written when the switch
//! stopped: its file's header counts the samples of the last flush (or none, if the crash came
//! before the first), while the file may hold more, up to half a sample frame included. The
//! header is rewritten to count every whole sample frame present (`media::wav` says how), the
//! file is cut to them and fsynced, and the record is marked done with the recovered duration
//! and size. A recording with no file or no readable header (the crash came before its header
//! reached the disk) gets an empty valid file. A file no record names is what an interrupted
//! delete left (the record goes first), and is removed.
//!
//! Finished recordings need no check: their file is finalized and fsynced before their record
//! says done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use switchboard_engine::media::{wav, SampleRate};
use switchboard_engine::store::{RecordingId, RecordingRecord, RecordingState};
use tracing::{info, warn};

use super::error::RecordingError;
use super::file::{hound_error, spec};
use crate::store::Store;

/// What start-up found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Recordings a crash interrupted, now done.
    pub finished: usize,
    /// Of those, files whose header had to be rewritten.
    pub repaired: usize,
    /// Files of deleted recordings, removed.
    pub orphans_removed: usize,
}

/// What a file holds after [`repair_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    pub frames: u64,
    pub sample_rate: u32,
    pub bytes: u64,
    /// Whether the header had to be rewritten.
    pub changed: bool,
}

impl Repaired {
    pub fn duration_ms(&self) -> u64 {
        self.frames * 1000 / self.sample_rate.max(1) as u64
    }
}

/// Makes the header of the WAV file at `path` count every whole sample frame it holds
/// (cutting off a partial one) and fsyncs it. An error of kind `InvalidData` when the file
/// has no readable header.
pub fn repair_file(path: &Path) -> io::Result<Repaired> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut prefix = Vec::with_capacity(wav::HEADER_PREFIX);
    (&mut file)
        .take(wav::HEADER_PREFIX as u64)
        .read_to_end(&mut prefix)?;
    let layout = wav::parse(&prefix).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let Some(fix) = layout.repair(len) else {
        return Ok(Repaired {
            frames: layout.frames_counted(),
            sample_rate: layout.sample_rate,
            bytes: len,
            changed: false,
        });
    };
    file.set_len(fix.file_len)?;
    for (at, bytes) in fix.writes {
        file.seek(SeekFrom::Start(at))?;
        file.write_all(&bytes)?;
    }
    file.sync_all()?;
    Ok(Repaired {
        frames: fix.frames,
        sample_rate: layout.sample_rate,
        bytes: fix.file_len,
        changed: true,
    })
}

/// Writes a valid WAV file with no samples at `path` (replacing whatever is there).
pub fn write_empty(path: &Path) -> io::Result<u64> {
    let w = hound::WavWriter::create(path, spec(SampleRate::NARROW)).map_err(hound_error)?;
    w.finalize().map_err(hound_error)?;
    let f = File::open(path)?;
    f.sync_all()?;
    Ok(f.metadata()?.len())
}

/// The file of a recording, made consistent: repaired, or empty when there was none or it had
/// no header. Marks `rec` done with what the file holds.
pub fn settle(dir: &Path, rec: &mut RecordingRecord) -> io::Result<bool> {
    let path = dir.join(rec.id.file_name());
    let (duration_ms, bytes, changed) = match repair_file(&path) {
        Ok(r) => (r.duration_ms(), r.bytes, r.changed),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::InvalidData
            ) =>
        {
            (0, write_empty(&path)?, true)
        }
        Err(e) => return Err(e),
    };
    rec.duration_ms = duration_ms;
    rec.bytes = bytes;
    rec.state = RecordingState::Done;
    Ok(changed)
}

/// Repairs every interrupted recording in `dir` and removes files no record names. Runs
/// before the recorder thread starts.
pub fn recover(db: &Store, dir: &Path) -> Result<RecoveryReport, RecordingError> {
    let io_error = |e: io::Error| RecordingError::Io {
        path: dir.to_owned(),
        message: e.to_string(),
    };
    fs::create_dir_all(dir).map_err(io_error)?;
    let mut report = RecoveryReport::default();
    for mut rec in db.recordings_in_progress()? {
        match settle(dir, &mut rec) {
            Ok(changed) => {
                report.finished += 1;
                report.repaired += changed as usize;
                info!(
                    recording = %rec.id,
                    duration_ms = rec.duration_ms,
                    repaired = changed,
                    "interrupted recording finished"
                );
                db.put_recording(&rec)?;
            }
            Err(e) => warn!(recording = %rec.id, error = %e, "interrupted recording not repaired"),
        }
    }
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(RecordingId::from_file_name) else {
            continue;
        };
        if db.recording(id)?.is_none() {
            match fs::remove_file(entry.path()) {
                Ok(()) => report.orphans_removed += 1,
                Err(e) => warn!(recording = %id, error = %e, "file of a deleted recording stays"),
            }
        }
    }
    if report != RecoveryReport::default() {
        db.flush()?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::file::RecordingFile;
    use std::time::Instant;
    use switchboard_engine::media::Side;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sb-rec-recover-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A file of `flushed` ticks counted by its header and `more` ticks after them, plus
    /// `tail` stray bytes: what a crash between two flushes leaves.
    fn interrupted(path: &Path, flushed: usize, more: usize, tail: usize) {
        let t0 = Instant::now();
        let mut f = RecordingFile::new(path.to_owned(), t0);
        let nb = SampleRate::NARROW;
        for tick in 0..flushed + more {
            f.push(Side::Caller, nb, &[100; 160]).unwrap();
            f.push(Side::Callee, nb, &[-100; 160]).unwrap();
            if tick + 1 == flushed {
                assert!(f
                    .flush_if_due(t0 + 10 * super::super::file::FLUSH_EVERY)
                    .unwrap());
            }
        }
        // the process dies: nothing more reaches the header (hound would fix it on drop)
        std::mem::forget(f);
        let mut file = OpenOptions::new().append(true).open(path).unwrap();
        // whatever the write buffer had not written yet is lost; push the rest out by hand
        file.write_all(&vec![0x55; tail]).unwrap();
    }

    #[test]
    fn a_file_cut_short_between_flushes_is_repaired_to_its_whole_frames() {
        let dir = tmp("cut");
        let path = dir.join("1.wav");
        interrupted(&path, 10, 0, 4 * 800 + 3);
        // hound reads only what the header counts
        assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 1600);
        let r = repair_file(&path).unwrap();
        assert!(r.changed);
        assert_eq!(r.frames, 1600 + 800, "the stray partial frame is cut off");
        assert_eq!(r.bytes, 44 + 4 * 2400);
        assert_eq!(r.duration_ms(), 300);
        let reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.duration(), 2400);
        assert_eq!(fs::metadata(&path).unwrap().len(), 44 + 4 * 2400);
        assert!(!repair_file(&path).unwrap().changed, "now it agrees");
    }

    #[test]
    fn start_up_finishes_interrupted_recordings_and_removes_deleted_ones_files() {
        let dir = tmp("startup");
        let files = dir.join("recordings");
        fs::create_dir_all(&files).unwrap();
        let db = Store::open(&dir.join("data"), 100, 8).unwrap();
        let rec = |id: u64| RecordingRecord {
            id: RecordingId(id),
            caller: "1001".into(),
            callee: "1002".into(),
            call_id: format!("c{id}"),
            started_unix_ms: 1,
            duration_ms: 0,
            bytes: 0,
            state: RecordingState::InProgress,
        };
        // 1: cut short with audio; 2: no file yet; 3: a file with half a header; 4: gone
        interrupted(&files.join("1.wav"), 50, 0, 4 * 8000);
        fs::write(files.join("3.wav"), b"RIFF\0\0").unwrap();
        fs::write(files.join("4.wav"), b"left by a delete").unwrap();
        fs::write(files.join("notes.txt"), b"not a recording").unwrap();
        for id in [1, 2, 3] {
            db.put_recording(&rec(id)).unwrap();
        }
        let report = recover(&db, &files).unwrap();
        assert_eq!(
            report,
            RecoveryReport {
                finished: 3,
                repaired: 3,
                orphans_removed: 1
            }
        );
        let one = db.recording(RecordingId(1)).unwrap().unwrap();
        assert_eq!(one.state, RecordingState::Done);
        assert_eq!(one.duration_ms, 1000 + 1000);
        assert_eq!(one.bytes, fs::metadata(files.join("1.wav")).unwrap().len());
        for id in [2, 3] {
            let r = db.recording(RecordingId(id)).unwrap().unwrap();
            assert_eq!(
                (r.state, r.duration_ms, r.bytes),
                (RecordingState::Done, 0, 44)
            );
            let reader = hound::WavReader::open(files.join(format!("{id}.wav"))).unwrap();
            assert_eq!(reader.duration(), 0);
        }
        assert!(!files.join("4.wav").exists());
        assert!(
            files.join("notes.txt").exists(),
            "only recording files are touched"
        );
        assert_eq!(recover(&db, &files).unwrap(), RecoveryReport::default());
    }
}
