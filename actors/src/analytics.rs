//! The call analytics holder: the switch's one `analytics::Aggregates` (per-day tallies by
//! country and by trunk), kept durable in the store and read by the HTTP API and the console.
//!
//! # The hook for the CDR writer
//!
//! The CDR writer calls [`Analytics::record`] once for every call record, **after the record
//! is durable** in its log, in id order. The call is cheap (a short lock and a few additions,
//! see `benches/analytics.rs`) and never blocks on the store. `record` counts what it is
//! given: it is not idempotent, so each record is given once.
//!
//! At start-up, the writer replays from its log the records whose id is above
//! [`Analytics::replay_after`] (through `record` again): those are the ones written after the
//! last save, which a crash lost from the tallies. Until the writer does so, a crash loses at
//! most the last [`SAVE_EVERY`] of calls from the analytics (never from the log).
//!
//! # Durability
//!
//! The state is saved by [`Analytics::save`]: the days that changed since the last save
//! (usually today's only) and the high-water id, in one atomic batch of the store's analytics
//! tree. The server calls it every [`SAVE_EVERY`] off the actor threads and once more at
//! shutdown before the final flush; [`Analytics::open`] rebuilds the state from the stored days.
//!
//! # Imports
//!
//! [`Analytics::import`] adds records of history (`POST /v1/analytics/records`) without moving
//! the high-water id, so imported ids (from another system) never hide live records from a
//! replay. Importing the same records twice counts them twice.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_engine::analytics::{Aggregates, Day, Grouping, Row};
use switchboard_engine::cdr::CallRecord;

use crate::store::{Store, StoreError};

/// How often the server saves the analytics.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The analytics holder; clones share the state.
#[derive(Clone)]
pub struct Analytics {
    state: Arc<Mutex<Aggregates>>,
    store: Store,
}

impl Analytics {
    /// The analytics as last saved in `store`.
    pub fn open(store: Store) -> Result<Analytics, StoreError> {
        let (days, high_water) = store.analytics()?;
        let mut a = Aggregates::new();
        for d in &days {
            a.restore_day(d);
        }
        if let Some(h) = high_water {
            a.mark_written(h);
        }
        tracing::debug!(days = days.len(), ?high_water, "analytics loaded");
        Ok(Analytics {
            state: Arc::new(Mutex::new(a)),
            store,
        })
    }

    /// The CDR writer's hook: counts a record that is durable in the log (see the module doc).
    pub fn record(&self, r: &CallRecord) {
        let mut a = self.lock();
        a.record(r);
        a.mark_written(r.id);
    }

    /// Counts records of history (an operator's import); the high-water id stays.
    pub fn import(&self, records: &[CallRecord]) {
        let mut a = self.lock();
        for r in records {
            a.record(r);
        }
    }

    /// The id above which the CDR log's records are to be replayed at start-up (`None`:
    /// every record).
    pub fn replay_after(&self) -> Option<u64> {
        self.lock().high_water()
    }

    /// The rows of the days `from..=to`, grouped (see `Aggregates::query`).
    pub fn query(&self, from: Day, to: Day, by: Grouping) -> Vec<Row> {
        self.lock().query(from, to, by)
    }

    /// Writes the days changed since the last save and the high-water id; returns how many
    /// days were written. Blocking (a store write): call it off the actor threads.
    pub fn save(&self) -> Result<usize, StoreError> {
        let (days, high_water) = {
            let mut a = self.lock();
            (a.take_dirty(), a.high_water())
        };
        if days.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.store.put_analytics(&days, high_water) {
            // saved next time
            let mut a = self.lock();
            for d in &days {
                a.mark_dirty(Day(d.day));
            }
            return Err(e);
        }
        Ok(days.len())
    }

    fn lock(&self) -> MutexGuard<'_, Aggregates> {
        // a panic while holding the lock leaves whole additions: the tallies stay usable
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::cdr::{MediaMode, Outcome};

    fn record(id: u64, day: u32, country: &str) -> CallRecord {
        let setup = u64::from(day) * 86_400_000 + 1_000;
        CallRecord {
            id,
            call_id: format!("c{id}"),
            caller: "1001".into(),
            dialed: "0082".into(),
            routed: None,
            trunk: Some("carrier".into()),
            country: Some(country.into()),
            setup_unix_ms: setup,
            answer_unix_ms: Some(setup + 1_000),
            end_unix_ms: setup + 61_000,
            outcome: Outcome::Answered,
            cause: 200,
            reason: "hung up by the caller".into(),
            media: MediaMode::Direct,
            plugin_version: 1,
            charge: None,
        }
    }

    #[test]
    fn saved_tallies_and_the_replay_point_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("sb-analytics-holder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let a = Analytics::open(store.clone()).unwrap();
        assert_eq!(a.replay_after(), None);
        a.record(&record(1, 20_000, "KR"));
        a.record(&record(2, 20_001, "DE"));
        a.import(&[record(900, 19_000, "KR")]);
        assert_eq!(a.save().unwrap(), 3);
        assert_eq!(a.save().unwrap(), 0, "nothing changed since");
        // after the save: lost by a "crash" unless replayed
        a.record(&record(3, 20_001, "DE"));
        let b = Analytics::open(store).unwrap();
        assert_eq!(
            b.replay_after(),
            Some(2),
            "imports do not move the replay point"
        );
        let rows = b.query(Day(0), Day(u32::MAX), Grouping::Day);
        assert_eq!(rows.iter().map(|r| r.calls).collect::<Vec<_>>(), [1, 1, 1]);
        b.record(&record(3, 20_001, "DE"));
        assert_eq!(
            b.query(Day(0), Day(u32::MAX), Grouping::Country),
            a.query(Day(0), Day(u32::MAX), Grouping::Country)
        );
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
