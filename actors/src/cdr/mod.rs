//! Call detail records: the writer thread that makes each ended call's record durable, and the
//! day files it keeps (`<data>/cdr/YYYY-MM-DD.csv`).
//!
//! Every CallLeg hands its call's one [`CallRecord`] to [`Cdrs::write`] when the call ends (a
//! channel send, never a wait). The writer thread takes what has arrived (up to
//! [`BATCH`] records), gives each the next id (one more than the last in the log, so ids
//! follow the order records were written), appends the batch to the store's CDR log and
//! flushes it (one fsync per batch), and only then appends the records to their day files.
//!
//! Group commit: the log is flushed at most once per `[cdr] commit_every_ms` (50 ms by
//! default). A record arriving longer than that after the last flush is flushed at once (at a
//! low call rate every record is); one arriving sooner waits, with those that follow it, until
//! the interval is up. At 1,000 calls/s that is 20 fsyncs a second instead of one per call
//! (a flush costs the writer about 300 µs of CPU, so one per call cost 39 % more CPU per call;
//! `benches/README.md`). Whoever must not go on before a record is durable asks [`Cdrs::durable`]: a CallLeg
//! passes a BYE on only once the record that BYE completed is flushed, so a phone that saw its
//! call end by BYE (and its 200) can count on the record.
//!
//! Guarantees:
//! - A record is written once: the leg sends it once (`call_leg/record.rs`), the writer gives
//!   it one id and never retries an append that succeeded; a failed append is retried (the
//!   error logged) until it succeeds, never dropped.
//! - The log is the truth, the day files follow it: a day file is appended without fsync after
//!   the log is flushed, so a crash may leave it short by the last lines, or with a partial last
//!   line. On start ([`Cdrs::start`]) a partial last line is cut off and every record of the log
//!   missing from its day file is appended, in id order, before any new record is written.
//! - A kill -9 loses only records not yet flushed: never that of a call ended by a BYE the
//!   switch passed on (the BYE waited for it); a call refused or failed before its answer, or
//!   cut by the switch itself (media timeout, credit), loses its record only when the kill
//!   comes within the commit interval plus one fsync after its end.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let Some(settle) = settle else {
            return Ok(Cdrs::disabled());
        };
        // one thread settles every record (the settlement writes to disk), off the calls'
        let (tx, rx) = channel::unbounded::<CallRecord>();
        std::thread::Builder::new()
            .name("cdr-settle".into())
            .spawn(move || {
                while let Ok(record) = rx.recv() {
                    settle(&[record]);
                }
            })
            .map_err(|e| StoreError::Io(format!("cannot start the settlement: {e}")))?;
        return Ok(Cdrs {
            settle: Some(tx),
            ..Cdrs::disabled()
        });
    }
    let every = Duration::from_millis(config.cdr.commit_every_ms);
    let (cdrs, completed) =
        Cdrs::start_with(store, dir_in(&config.data.dir), every, analytics, settle)?;
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
    /// The same, for a waiter on an actor's thread.
    Durable(tokio::sync::oneshot::Sender<()>),
}

/// The handle legs and the API use: where records go, and the log to read them from.
#[derive(Clone)]
pub struct Cdrs {
    tx: Option<Sender<Op>>,
    /// Flushes of the log so far.
    flushes: Arc<AtomicU64>,
    log: Option<CdrLog>,
    /// To the settlement thread, used only when records are off (the writer settles what
    /// it writes).
    settle: Option<Sender<CallRecord>>,
}

impl Cdrs {
    /// Records off: nothing is written or read.
    pub fn disabled() -> Cdrs {
        Cdrs {
            tx: None,
            flushes: Arc::default(),
            log: None,
            settle: None,
        }
    }

    /// [`Cdrs::start_with`] flushing every batch as soon as it is taken (no commit interval).
    pub fn start(
        store: &Store,
        dir: PathBuf,
        analytics: Option<Analytics>,
        settle: Option<Settle>,
    ) -> Result<(Cdrs, usize), StoreError> {
        Cdrs::start_with(store, dir, Duration::ZERO, analytics, settle)
    }

    /// Completes the day files in `dir` from the store's log and replays into `analytics` the
    /// records they have not counted, then starts the writer thread, which flushes the log at
    /// most once per `every` and hands each durable batch to `settle`. Returns the handle and
    /// how many lines the day files were missing.
    pub fn start_with(
        store: &Store,
        dir: PathBuf,
        every: Duration,
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
        let flushes = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            flushes: flushes.clone(),
            log: log.clone(),
            days,
            next,
            every,
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
                flushes,
                log: Some(log),
                settle: None,
            },
            completed,
        ))
    }

    /// How many times the log was flushed (one fsync each) since the start.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
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
        } else if let Some(settle) = &self.settle {
            if settle.send(record).is_err() {
                error!("cdr settlement gone: a call record is not settled");
            }
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

    /// A wait until every record sent before is on disk: resolves once it is (also when the
    /// writer is gone, so nothing waits forever); `None` when records are off.
    pub fn durable(&self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let tx = self.tx.as_ref()?;
        let (reply, done) = tokio::sync::oneshot::channel();
        // a writer gone drops `reply`: the receiver resolves with an error at once
        let _ = tx.send(Op::Durable(reply));
        Some(done)
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
    flushes: Arc<AtomicU64>,
    /// The commit interval: at most one flush per `every`.
    every: Duration,
    analytics: Option<Analytics>,
    settle: Option<Settle>,
}

/// What is waiting for the batch being gathered to be flushed.
#[derive(Default)]
struct Waiters {
    syncs: Vec<Sender<()>>,
    durable: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Op>) {
        let mut batch: Vec<CallRecord> = Vec::with_capacity(BATCH);
        let mut waiters = Waiters::default();
        let mut last_flush: Option<Instant> = None;
        while let Ok(first) = rx.recv() {
            self.take(first, &mut batch, &mut waiters);
            // what has arrived meanwhile
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(op) => self.take(op, &mut batch, &mut waiters),
                    Err(_) => break,
                }
            }
            // group commit: no flush sooner than `every` after the last one; what arrives
            // until then joins this batch
            // (a sleep, then what queued meanwhile: no wake-up per record in between)
            if let Some(due) = last_flush.map(|t| t + self.every) {
                let wait = due.saturating_duration_since(Instant::now());
                if !batch.is_empty() && batch.len() < BATCH && !wait.is_zero() {
                    std::thread::sleep(wait);
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(op) => self.take(op, &mut batch, &mut waiters),
                            Err(_) => break,
                        }
                    }
                }
            }
            if !batch.is_empty() {
                self.append(&batch);
                last_flush = Some(Instant::now());
                self.flushes.fetch_add(1, Ordering::Relaxed);
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
            for s in waiters.syncs.drain(..) {
                let _ = s.send(());
            }
            for d in waiters.durable.drain(..) {
                let _ = d.send(());
            }
        }
        info!("cdr writer stopped");
    }

    fn take(&mut self, op: Op, batch: &mut Vec<CallRecord>, waiters: &mut Waiters) {
        match op {
            Op::Record(mut r) => {
                r.id = self.next;
                self.next += 1;
                batch.push(*r);
            }
            Op::Sync(reply) => waiters.syncs.push(reply),
            Op::Durable(reply) => waiters.durable.push(reply),
        }
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
    fn records_arriving_within_the_commit_interval_share_one_flush() {
        let data = tmp("group");
        let store = Store::open(&data, 1000, 8).unwrap();
        let every = Duration::from_secs(2);
        let (cdrs, _) = Cdrs::start_with(&store, dir_in(&data), every, None, None).unwrap();
        let day = 1_796_515_200_000;
        cdrs.write(record("first", day));
        assert!(cdrs.sync(Duration::from_secs(10)));
        assert_eq!(cdrs.flushes(), 1, "the first record is flushed at once");
        // four more right after the flush wait for the interval, and go in one flush
        for n in 0..4 {
            cdrs.write(record(&format!("c{n}"), day + n));
        }
        let durable = cdrs.durable().unwrap();
        assert!(cdrs.sync(Duration::from_secs(10)));
        assert!(durable.blocking_recv().is_ok());
        assert_eq!(cdrs.flushes(), 2, "one flush for the four");
        assert_eq!(cdrs.log().unwrap().after(0, 100).unwrap().len(), 5);
    }

    #[test]
    fn records_off_write_nothing() {
        let cdrs = Cdrs::disabled();
        cdrs.write(record("c", 1));
        assert!(!cdrs.is_enabled());
        assert!(cdrs.log().is_none());
        assert!(!cdrs.sync(Duration::from_millis(10)));
        assert!(cdrs.durable().is_none());
    }
}
