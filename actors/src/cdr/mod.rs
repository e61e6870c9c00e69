//! Call detail records: the writer thread that makes each ended call's record durable, and the
//! day files it keeps (`<data>/cdr/YYYY-MM-DD.csv`).
//!
//! Every CallLeg hands its call's one [`CallRecord`] to [`Cdrs::write`] when the call ends (a
//! channel send, never a wait). The writer thread takes what has arrived (up to
//! [`BATCH`] records), gives each the next id (one more than the last in the log, so ids
//! follow the order records were written), appends the batch to the store's CDR log and
//! flushes it (one fsync per batch), and only then appends the records to their day files.
//!
//! Guarantees:
//! - A record is written once: the leg sends it once (`call_leg/record.rs`), the writer gives
//!   it one id and never retries an append that succeeded; a failed append is retried (the
//!   error logged) until it succeeds, never dropped.
//! - The log is the truth, the day files follow it: a day file is appended without fsync after
//!   the log is flushed, so a crash may leave it short by the last lines, or with a partial last
//!   line. On start ([`Cdrs::start`]) a partial last line is cut off and every record of the log
//!   missing from its day file is appended, in id order, before any new record is written.
//! - A kill -9 loses only records not yet handed to sled: those of calls that ended in the last
//!   moments (between the end and the writer's append, normally well under a millisecond; longer
//!   only while the previous batch's fsync runs).
//! - The call analytics (`crate::analytics`) count each record once it is durable, in id order;
//!   at start the records of the log above the analytics' last saved id are replayed into them
//!   (a crash loses no call from the tallies).
//! - Once a batch is in the log it goes to the settlement (`crate::billing`), which debits
//!   each charge once (by record id) and gives the calls' credit holds back.
//!
//! With `[cdr] enabled = false` nothing is written: [`Cdrs::write`] hands the record (id 0) to
//! the settlement alone.

mod days;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, Sender};
use switchboard_engine::cdr::CallRecord;
use tracing::{error, info, warn};

pub use days::DayFiles;

use crate::analytics::Analytics;
use crate::store::cdr::CdrLog;
use crate::store::{Store, StoreError};

/// Records written per append (one fsync each) at most.
pub const BATCH: usize = 256;

/// The day files' directory in data directory `data`.
pub fn dir_in(data: &Path) -> PathBuf {
    data.join("cdr")
}

/// What is done with records once they are durable (the billing's settlement).
pub type Settle = Arc<dyn Fn(&[CallRecord]) + Send + Sync>;

/// The records of a switch configured by `config` (off when `[cdr] enabled = false`).
pub fn start(
    config: &crate::config::Config,
    store: &Store,
    analytics: Option<Analytics>,
    settle: Option<Settle>,
) -> Result<Cdrs, StoreError> {
    if !config.cdr.enabled {
        info!("call records off");
        return Ok(Cdrs {
            settle,
            ..Cdrs::disabled()
        });
    }
    let (cdrs, completed) = Cdrs::start(store, dir_in(&config.data.dir), analytics, settle)?;
    if completed > 0 {
        warn!(
            lines = completed,
            "cdr day files completed from the log (the last stop was a crash)"
        );
    }
    Ok(cdrs)
}

enum Op {
    Record(Box<CallRecord>),
    /// Answered once everything sent before it is written.
    Sync(Sender<()>),
}

/// The handle legs and the API use: where records go, and the log to read them from.
#[derive(Clone)]
pub struct Cdrs {
    tx: Option<Sender<Op>>,
    log: Option<CdrLog>,
    /// Used directly only when records are off (the writer has its own).
    settle: Option<Settle>,
}

impl Cdrs {
    /// Records off: nothing is written or read.
    pub fn disabled() -> Cdrs {
        Cdrs {
            tx: None,
            log: None,
            settle: None,
        }
    }

    /// Completes the day files in `dir` from the store's log and replays into `analytics` the
    /// records they have not counted, then starts the writer thread (which hands each durable
    /// batch to `settle`). Returns the handle and how many lines the day files were missing.
    pub fn start(
        store: &Store,
        dir: PathBuf,
        analytics: Option<Analytics>,
        settle: Option<Settle>,
    ) -> Result<(Cdrs, usize), StoreError> {
        let log = store.cdr_log()?;
        let mut days = DayFiles::new(dir);
        let completed = days
            .complete_from(&log)
            .map_err(|e| StoreError::Io(format!("cdr day files: {e}")))?;
        if let Some(a) = &analytics {
            let replayed = replay(&log, a)?;
            if replayed > 0 {
                info!(
                    records = replayed,
                    "call analytics caught up from the cdr log"
                );
            }
        }
        let next = log.last_id()? + 1;
        let (tx, rx) = channel::unbounded();
        let writer = Writer {
            log: log.clone(),
            days,
            next,
            analytics,
            settle,
        };
        std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Io(format!("cannot start the cdr writer: {e}")))?;
        Ok((
            Cdrs {
                tx: Some(tx),
                log: Some(log),
                settle: None,
            },
            completed,
        ))
    }

    /// Whether records are written.
    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Writes `record` (its id is given by the writer). Never blocks.
    pub fn write(&self, record: CallRecord) {
        if let Some(tx) = &self.tx {
            if tx.send(Op::Record(Box::new(record))).is_err() {
                error!("cdr writer gone: a call record is lost");
            }
        } else if let Some(settle) = self.settle.clone() {
            // off a call's thread: the settlement writes to disk
            std::thread::spawn(move || settle(&[record]));
        }
    }

    /// Waits (up to `timeout`) until every record sent before is on disk; `false` on timeout
    /// or when records are off.
    pub fn sync(&self, timeout: Duration) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        let (reply, done) = channel::bounded(1);
        tx.send(Op::Sync(reply)).is_ok() && done.recv_timeout(timeout).is_ok()
    }

    /// The durable log (none when records are off).
    pub fn log(&self) -> Option<&CdrLog> {
        self.log.as_ref()
    }
}

/// Counts into `analytics` the log's records above the id they last saved; returns how many.
fn replay(log: &CdrLog, analytics: &Analytics) -> Result<usize, StoreError> {
    let mut after = analytics.replay_after().unwrap_or(0);
    let mut n = 0;
    loop {
        let page = log.after(after, BATCH)?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = last.id;
        for r in &page {
            analytics.record(r);
        }
        n += page.len();
    }
}

struct Writer {
    log: CdrLog,
    days: DayFiles,
    next: u64,
    analytics: Option<Analytics>,
    settle: Option<Settle>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Op>) {
        let mut batch: Vec<CallRecord> = Vec::with_capacity(BATCH);
        let mut syncs = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut op = Some(first);
            while let Some(o) = op.take() {
                match o {
                    Op::Record(mut r) => {
                        r.id = self.next;
                        self.next += 1;
                        batch.push(*r);
                    }
                    Op::Sync(reply) => syncs.push(reply),
                }
                if batch.len() < BATCH {
                    op = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.append(&batch);
                if let Some(a) = &self.analytics {
                    for r in &batch {
                        a.record(r);
                    }
                }
                if let Some(settle) = &self.settle {
                    settle(&batch);
                }
                if let Err(e) = self.days.append(&batch) {
                    // the log has them; the day file is completed at the next start
                    warn!(error = %e, "cdr day file not written");
                }
                batch.clear();
            }
            for s in syncs.drain(..) {
                let _ = s.send(());
            }
        }
        info!("cdr writer stopped");
    }

    /// Appends until it succeeds: a record is never dropped.
    fn append(&self, batch: &[CallRecord]) {
        let mut wait = Duration::from_millis(10);
        loop {
            match self.log.append(batch) {
                Ok(()) => return,
                Err(e) => {
                    error!(error = %e, records = batch.len(), "cdr append failed, retrying");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::cdr::{MediaMode, Outcome};

    pub(crate) fn record(call_id: &str, end_unix_ms: u64) -> CallRecord {
        CallRecord {
            id: 0,
            call_id: call_id.into(),
            caller: "1001".into(),
            dialed: "1002".into(),
            routed: Some("1002".into()),
            trunk: None,
            country: None,
            setup_unix_ms: end_unix_ms.saturating_sub(5_000),
            answer_unix_ms: None,
            end_unix_ms,
            outcome: Outcome::Busy,
            cause: 486,
            reason: "busy (486)".into(),
            media: MediaMode::Direct,
            plugin_version: 1,
            charge: None,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-cdr-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_get_ids_in_order_and_reach_the_log_and_the_day_file() {
        let data = tmp("writer");
        let store = Store::open(&data, 1000, 8).unwrap();
        let (cdrs, completed) = Cdrs::start(&store, dir_in(&data), None, None).unwrap();
        assert_eq!(completed, 0);
        let day = 1_796_515_200_000; // 2026-12-06
        for n in 0..5 {
            cdrs.write(record(&format!("c{n}"), day + n));
        }
        assert!(cdrs.sync(Duration::from_secs(10)));
        let log = cdrs.log().unwrap();
        let all = log.after(0, 100).unwrap();
        let ids: Vec<u64> = all.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(all[2].call_id, "c2");
        let text = std::fs::read_to_string(dir_in(&data).join("2026-12-06.csv")).unwrap();
        assert_eq!(
            text.lines().count(),
            6,
            "a header and five records:\n{text}"
        );
        assert!(text.lines().nth(5).unwrap().starts_with("5,c4,"));
    }

    #[test]
    fn the_analytics_count_each_durable_record_and_catch_up_after_a_crash() {
        use switchboard_engine::analytics::{Day, Grouping};
        let data = tmp("analytics");
        // records end a minute into 2026-12-06 (a record's day is its setup's)
        let day = 1_796_515_260_000;
        let calls = |a: &Analytics| -> u64 {
            let d = Day::of_unix_ms(day);
            a.query(d, d, Grouping::Day).iter().map(|r| r.calls).sum()
        };
        let store = Store::open(&data, 1000, 8).unwrap();
        let analytics = Analytics::open(store.clone()).unwrap();
        let (cdrs, _) = Cdrs::start(&store, dir_in(&data), Some(analytics.clone()), None).unwrap();
        for n in 0..4 {
            cdrs.write(record(&format!("c{n}"), day + n));
        }
        assert!(cdrs.sync(Duration::from_secs(10)));
        assert_eq!(calls(&analytics), 4);
        // a crash before the analytics' save: at the next start they are read back without
        // these records, and the log's are replayed once
        let after_crash = Analytics::open(store.clone()).unwrap();
        assert_eq!(calls(&after_crash), 0);
        assert_eq!(replay(cdrs.log().unwrap(), &after_crash).unwrap(), 4);
        assert_eq!(calls(&after_crash), 4);
        // once saved, nothing is replayed twice
        analytics.save().unwrap();
        let after_save = Analytics::open(store.clone()).unwrap();
        assert_eq!(replay(cdrs.log().unwrap(), &after_save).unwrap(), 0);
        assert_eq!(calls(&after_save), 4);
    }

    #[test]
    fn records_off_write_nothing() {
        let cdrs = Cdrs::disabled();
        cdrs.write(record("c", 1));
        assert!(!cdrs.is_enabled());
        assert!(cdrs.log().is_none());
        assert!(!cdrs.sync(Duration::from_millis(10)));
    }
}
