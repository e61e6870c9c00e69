//! Call analytics: per-day (UTC) tallies of the call detail records, by country and by trunk.
//!
//! [`Aggregates::record`] adds one [`CallRecord`] to the day its setup time falls on (UTC): to
//! the day's total, to its row of the destination country and to its row of the trunk. A row
//! holds calls, answered calls, talked milliseconds and the revenue per currency (sums of
//! integer minor units), from which a [`Row`] derives ASR (answered / calls), ACD (talked time
//! / answered calls) and minutes. [`Aggregates::query`] sums the days of a range by day, by
//! country or by trunk: its cost is days × rows, never the number of records, so a year of
//! ten million calls answers in well under a millisecond (`benches/analytics.rs`).
//!
//! Driving it: the actors' analytics holder calls `record` once for every record the CDR log
//! has made durable, and `mark_written` with its id. `record` counts what it is given: it is
//! not idempotent, the caller gives each record once. `high_water` is the highest id marked,
//! so that after a restart the records above it can be replayed from the log. State leaves
//! and comes back as bincode records (`snapshot`): one [`DayRecord`] per day, written again
//! when the day changed (`take_dirty`), or the whole state at once.
//!
//! Cost of `record`: a map lookup of the day, two name lookups (country, trunk) and a few
//! additions. It allocates only the first time it sees a day, a name or a currency in a row.

mod day;
mod snapshot;

use std::collections::BTreeMap;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::cdr::{CallRecord, Outcome};

pub use day::{Day, DayError};
pub use snapshot::{day_key, DayRecord, Snapshot, TallyRecord};

/// The store tree of the days' records (`DayRecord`, keyed by `day_key`) and the high-water
/// id (`HIGH_WATER_KEY`).
pub const ANALYTICS_TREE: &str = "analytics";

/// The key of the high-water record id in [`ANALYTICS_TREE`] (longer than a day's key, so it
/// never is one).
pub const HIGH_WATER_KEY: &[u8] = b"high_water";

/// Distinct countries, trunks or currencies kept by name; later ones are counted under
/// [`OTHER`] (the names come from configuration and the numbering plan, so this is a guard
/// against a feed of garbage, not a limit an operator meets).
pub const MAX_NAMES: usize = 4096;

/// The name rows past [`MAX_NAMES`] are counted under.
pub const OTHER: &str = "(other)";

/// What [`Aggregates::query`] groups the days of a range by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One row per day that had calls, in date order.
    Day,
    /// One row per destination country (and one for calls of no known country).
    Country,
    /// One row per trunk (and one for on-net calls, which used none).
    Trunk,
}

/// What a row is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Day(Day),
    /// `None`: the numbering plan knew no country for the destination.
    Country(Option<String>),
    /// `None`: on-net calls.
    Trunk(Option<String>),
}

/// An amount of one currency, in its minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub currency: String,
    pub amount_minor: i64,
}

/// One row of a query: the sums over the range for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: Key,
    pub calls: u64,
    pub answered: u64,
    /// Talked time of the answered calls, summed.
    pub talked_ms: u64,
    /// Charges summed per currency, in currency order; currencies that sum to zero included.
    pub revenue: Vec<Money>,
}

impl Row {
    /// Answer-seizure ratio: answered calls / calls, `None` without calls.
    pub fn asr(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.answered as f64 / self.calls as f64)
    }

    /// Average call duration of the answered calls, `None` when none was answered.
    pub fn acd(&self) -> Option<Duration> {
        (self.answered > 0).then(|| Duration::from_millis(self.talked_ms / self.answered))
    }

    /// Talked minutes (fractional).
    pub fn minutes(&self) -> f64 {
        self.talked_ms as f64 / 60_000.0
    }
}

/// The per-day tallies.
#[derive(Debug, Default)]
pub struct Aggregates {
    countries: Names,
    trunks: Names,
    currencies: Names,
    days: BTreeMap<Day, DayTally>,
    high_water: Option<u64>,
}

impl Aggregates {
    pub fn new() -> Aggregates {
        Aggregates::default()
    }

    /// Adds one call to the day of its setup time. Not idempotent: give each record once.
    pub fn record(&mut self, r: &CallRecord) {
        let day = Day::of_unix_ms(r.setup_unix_ms);
        let country = self.countries.id(r.country.as_deref());
        let trunk = self.trunks.id(r.trunk.as_deref());
        let charge = r
            .charge
            .as_ref()
            .map(|c| (self.currencies.id(Some(&c.currency)), c.amount_minor));
        let answered = r.outcome == Outcome::Answered;
        let talked_ms = r.duration_ms();
        let d = self.days.entry(day).or_default();
        d.dirty = true;
        d.total.add(answered, talked_ms, charge);
        slot(&mut d.countries, country).add(answered, talked_ms, charge);
        slot(&mut d.trunks, trunk).add(answered, talked_ms, charge);
    }

    /// Notes that the record with this id has been recorded (the log's ids grow): `high_water`
    /// becomes the highest id marked.
    pub fn mark_written(&mut self, id: u64) {
        self.high_water = Some(self.high_water.map_or(id, |h| h.max(id)));
    }

    /// The highest record id marked: after a restart, records above it are to be replayed.
    pub fn high_water(&self) -> Option<u64> {
        self.high_water
    }

    /// The days that have calls, oldest first.
    pub fn days(&self) -> impl Iterator<Item = Day> + '_ {
        self.days.keys().copied()
    }

    /// The sums over the days `from..=to`, grouped: only keys that had calls; days in date
    /// order, countries and trunks by calls (most first), then by name.
    pub fn query(&self, from: Day, to: Day, by: Grouping) -> Vec<Row> {
        if from > to {
            return Vec::new();
        }
        let range = self.days.range(from..=to);
        match by {
            Grouping::Day => range
                .map(|(day, d)| self.row(Key::Day(*day), &d.total))
                .collect(),
            Grouping::Country | Grouping::Trunk => {
                let country = by == Grouping::Country;
                let mut sums: Vec<Tally> = Vec::new();
                for (_, d) in range {
                    let rows = if country { &d.countries } else { &d.trunks };
                    if sums.len() < rows.len() {
                        sums.resize_with(rows.len(), Tally::default);
                    }
                    for (sum, t) in sums.iter_mut().zip(rows) {
                        sum.merge(t);
                    }
                }
                let names = if country {
                    &self.countries
                } else {
                    &self.trunks
                };
                let mut rows: Vec<Row> = sums
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.calls > 0)
                    .map(|(id, t)| {
                        let name = names.name(id).map(str::to_owned);
                        let key = if country {
                            Key::Country(name)
                        } else {
                            Key::Trunk(name)
                        };
                        self.row(key, t)
                    })
                    .collect();
                rows.sort_by(|a, b| {
                    b.calls
                        .cmp(&a.calls)
                        .then_with(|| key_name(a).cmp(&key_name(b)))
                });
                rows
            }
        }
    }

    fn row(&self, key: Key, t: &Tally) -> Row {
        Row {
            key,
            calls: t.calls,
            answered: t.answered,
            talked_ms: t.talked_ms,
            revenue: t
                .revenue
                .iter()
                .enumerate()
                .skip(1)
                .filter_map(|(id, &amount_minor)| {
                    let currency = self.currencies.name(id)?.to_owned();
                    Some(Money {
                        currency,
                        amount_minor,
                    })
                })
                .collect(),
        }
    }
}

fn key_name(r: &Row) -> Option<&str> {
    match &r.key {
        Key::Country(n) | Key::Trunk(n) => n.as_deref(),
        Key::Day(_) => None,
    }
}

/// The row `id` of a day's rows, made when first used.
fn slot(rows: &mut Vec<Tally>, id: u16) -> &mut Tally {
    let i = usize::from(id);
    if rows.len() <= i {
        rows.resize_with(i + 1, Tally::default);
    }
    &mut rows[i]
}

/// Names by small id; id 0 stands for "none".
#[derive(Debug)]
struct Names {
    ids: FxHashMap<String, u16>,
    names: Vec<String>,
}

impl Default for Names {
    fn default() -> Names {
        Names {
            ids: FxHashMap::default(),
            names: vec![String::new()],
        }
    }
}

impl Names {
    fn id(&mut self, name: Option<&str>) -> u16 {
        let Some(name) = name else { return 0 };
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let name = if self.names.len() > MAX_NAMES {
            OTHER
        } else {
            name
        };
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        // at most MAX_NAMES + 2 ids, far below u16::MAX
        let id = self.names.len() as u16;
        self.ids.insert(name.to_owned(), id);
        self.names.push(name.to_owned());
        id
    }

    /// The name of `id`, `None` for id 0 (none).
    fn name(&self, id: usize) -> Option<&str> {
        (id > 0)
            .then(|| self.names.get(id).map(String::as_str))
            .flatten()
    }
}

/// One day's tallies: the total and the rows by country id and by trunk id.
#[derive(Debug, Default)]
struct DayTally {
    total: Tally,
    countries: Vec<Tally>,
    trunks: Vec<Tally>,
    /// Changed since it was last taken by `take_dirty`.
    dirty: bool,
}

/// Sums of one row.
#[derive(Debug, Default, Clone)]
struct Tally {
    calls: u64,
    answered: u64,
    talked_ms: u64,
    /// By currency id (index 0 unused); empty until a charged call.
    revenue: Vec<i64>,
}

impl Tally {
    fn add(&mut self, answered: bool, talked_ms: u64, charge: Option<(u16, i64)>) {
        self.calls += 1;
        if answered {
            self.answered += 1;
            self.talked_ms = self.talked_ms.saturating_add(talked_ms);
        }
        if let Some((cur, amount)) = charge {
            let i = usize::from(cur);
            if self.revenue.len() <= i {
                self.revenue.resize(i + 1, 0);
            }
            self.revenue[i] = self.revenue[i].saturating_add(amount);
        }
    }

    fn merge(&mut self, other: &Tally) {
        // saturating: restored records are read from storage, and may be anything
        self.calls = self.calls.saturating_add(other.calls);
        self.answered = self.answered.saturating_add(other.answered);
        self.talked_ms = self.talked_ms.saturating_add(other.talked_ms);
        if self.revenue.len() < other.revenue.len() {
            self.revenue.resize(other.revenue.len(), 0);
        }
        for (a, b) in self.revenue.iter_mut().zip(&other.revenue) {
            *a = a.saturating_add(*b);
        }
    }
}

#[cfg(test)]
mod tests;
