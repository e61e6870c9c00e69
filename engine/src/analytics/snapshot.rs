//! The stored form of the analytics: one [`DayRecord`] per day (its total and its rows with
//! their names spelled out, so a day's bytes need nothing else to be read), and a
//! [`Snapshot`] of every day plus the high-water record id.
//!
//! Bytes are the store's (`store::encode`: a version byte, then bincode big-endian
//! fixed-width). A holder persists either the whole snapshot or, cheaper, the days
//! `Aggregates::take_dirty` hands out (usually today's only) keyed by `day_key`.

use super::{slot, Aggregates, Day, DayTally, Tally};
use crate::store::{self, RecordError};

/// Sums of one row, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TallyRecord {
    pub calls: u64,
    pub answered: u64,
    pub talked_ms: u64,
    /// (currency, amount in minor units).
    pub revenue: Vec<(String, i64)>,
}

/// One day as stored: its total, and its rows by country and by trunk (`None`: no country,
/// no trunk).
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DayRecord {
    /// Days since 1970-01-01.
    pub day: u32,
    pub total: TallyRecord,
    pub countries: Vec<(Option<String>, TallyRecord)>,
    pub trunks: Vec<(Option<String>, TallyRecord)>,
}

/// Everything: the days in date order and the high-water record id.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Snapshot {
    pub high_water: Option<u64>,
    pub days: Vec<DayRecord>,
}

impl DayRecord {
    pub fn encode(&self) -> Vec<u8> {
        store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<DayRecord, RecordError> {
        store::decode(bytes)
    }
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, RecordError> {
        store::decode(bytes)
    }
}

/// The key of a day's record: its number, big-endian (sled keeps keys in byte order, so the
/// days iterate in date order).
pub fn day_key(day: Day) -> [u8; 4] {
    day.0.to_be_bytes()
}

impl Aggregates {
    /// The stored form of one day, `None` when it had no calls.
    pub fn day_record(&self, day: Day) -> Option<DayRecord> {
        let d = self.days.get(&day)?;
        let rows = |names: &super::Names, tallies: &[Tally]| {
            tallies
                .iter()
                .enumerate()
                .filter(|(_, t)| t.calls > 0)
                .map(|(id, t)| (names.name(id).map(str::to_owned), self.tally_record(t)))
                .collect()
        };
        Some(DayRecord {
            day: day.0,
            total: self.tally_record(&d.total),
            countries: rows(&self.countries, &d.countries),
            trunks: rows(&self.trunks, &d.trunks),
        })
    }

    /// The days changed since the last call, as stored (and marks them unchanged).
    pub fn take_dirty(&mut self) -> Vec<DayRecord> {
        let dirty: Vec<Day> = self
            .days
            .iter()
            .filter(|(_, d)| d.dirty)
            .map(|(day, _)| *day)
            .collect();
        dirty
            .into_iter()
            .filter_map(|day| {
                let rec = self.day_record(day);
                if let Some(d) = self.days.get_mut(&day) {
                    d.dirty = false;
                }
                rec
            })
            .collect()
    }

    /// Has `take_dirty` hand out a day again (its save failed).
    pub fn mark_dirty(&mut self, day: Day) {
        if let Some(d) = self.days.get_mut(&day) {
            d.dirty = true;
        }
    }

    /// Replaces a day with its stored form (start-up). The day is not dirty afterwards.
    pub fn restore_day(&mut self, rec: &DayRecord) {
        let mut d = DayTally {
            total: self.tally(&rec.total),
            ..DayTally::default()
        };
        // zero rows are never stored (`day_record`); skipping them keeps restores alike
        for (name, t) in rec.countries.iter().filter(|(_, t)| t.calls > 0) {
            let id = self.countries.id(name.as_deref());
            let t = self.tally(t);
            slot(&mut d.countries, id).merge(&t);
        }
        // zero rows are never stored (`day_record`); skipping them keeps restores alike
        for (name, t) in rec.trunks.iter().filter(|(_, t)| t.calls > 0) {
            let id = self.trunks.id(name.as_deref());
            let t = self.tally(t);
            slot(&mut d.trunks, id).merge(&t);
        }
        self.days.insert(Day(rec.day), d);
    }

    /// Everything, as stored.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            high_water: self.high_water,
            days: self
                .days
                .keys()
                .filter_map(|day| self.day_record(*day))
                .collect(),
        }
    }

    /// The state a snapshot was taken of.
    pub fn from_snapshot(s: &Snapshot) -> Aggregates {
        let mut a = Aggregates::new();
        for d in &s.days {
            a.restore_day(d);
        }
        a.high_water = s.high_water;
        a
    }

    fn tally_record(&self, t: &Tally) -> TallyRecord {
        TallyRecord {
            calls: t.calls,
            answered: t.answered,
            talked_ms: t.talked_ms,
            revenue: t
                .revenue
                .iter()
                .enumerate()
                .filter_map(|(id, &a)| Some((self.currencies.name(id)?.to_owned(), a)))
                .collect(),
        }
    }

    fn tally(&mut self, r: &TallyRecord) -> Tally {
        let mut t = Tally {
            calls: r.calls,
            answered: r.answered,
            talked_ms: r.talked_ms,
            revenue: Vec::new(),
        };
        for (cur, amount) in &r.revenue {
            let i = usize::from(self.currencies.id(Some(cur)));
            if t.revenue.len() <= i {
                t.revenue.resize(i + 1, 0);
            }
            t.revenue[i] = t.revenue[i].saturating_add(*amount);
        }
        t
    }
}
