//! The analytics' stored forms and the date parser on arbitrary bytes: a snapshot or a day
//! record either is refused or restores a state that answers every query as its own
//! snapshot, restored again, does; a date either is refused or prints back as the same text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::analytics::{Aggregates, Day, DayRecord, Grouping, Row, Snapshot};

/// Every grouping over every day, revenue in currency-name order (ids may differ).
fn answers(a: &Aggregates) -> Vec<Vec<Row>> {
    [Grouping::Day, Grouping::Country, Grouping::Trunk]
        .into_iter()
        .map(|by| {
            let mut rows = a.query(Day(0), Day(u32::MAX), by);
            for r in &mut rows {
                r.revenue.sort_by(|x, y| x.currency.cmp(&y.currency));
            }
            rows
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Snapshot::decode(data) {
        let a = Aggregates::from_snapshot(&s);
        let again = a.snapshot();
        assert_eq!(Snapshot::decode(&again.encode()).as_ref(), Ok(&again));
        let b = Aggregates::from_snapshot(&again);
        assert_eq!(b.high_water(), a.high_water());
        assert_eq!(answers(&a), answers(&b));
    }
    if let Ok(d) = DayRecord::decode(data) {
        let mut a = Aggregates::new();
        a.restore_day(&d);
        assert!(a.days().count() <= 1);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(day) = Day::parse(text) {
            assert_eq!(day.to_string(), text);
        }
    }
});
