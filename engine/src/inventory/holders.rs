//! Who holds which numbers: the holds each source (a client address, as the caller names it)
//! has running, so one client cannot hold the whole stock.
//!
//! The desk adds a hold when it makes one ([`Holders::add`]) and releases it when the hold
//! ends in any way: it runs out, becomes an order, or its number is held anew after it ran
//! out ([`Holders::release`]). The count is in memory only: holds made before a restart are
//! counted for nobody (they still run out at their time).

use std::collections::{BTreeMap, BTreeSet};

use super::UnixTime;

/// The running holds of every source.
#[derive(Debug, Default)]
pub(super) struct Holders {
    /// Each source's holds, by when they run out.
    by_source: BTreeMap<String, BTreeSet<(UnixTime, String)>>,
    /// The source and end of each held number.
    of_number: BTreeMap<String, (String, UnixTime)>,
}

impl Holders {
    /// How many holds `source` has running, and when the first of them runs out.
    pub(super) fn of(&self, source: &str) -> (usize, Option<UnixTime>) {
        self.by_source
            .get(source)
            .map_or((0, None), |h| (h.len(), h.first().map(|(t, _)| *t)))
    }

    /// `source` holds number `key` until `until`.
    pub(super) fn add(&mut self, source: &str, key: &str, until: UnixTime) {
        self.release(key);
        self.by_source
            .entry(source.to_owned())
            .or_default()
            .insert((until, key.to_owned()));
        self.of_number
            .insert(key.to_owned(), (source.to_owned(), until));
    }

    /// The hold on number `key` ended (nothing happens when nobody is counted for it).
    pub(super) fn release(&mut self, key: &str) {
        let Some((source, until)) = self.of_number.remove(key) else {
            return;
        };
        if let Some(h) = self.by_source.get_mut(&source) {
            h.remove(&(until, key.to_owned()));
            if h.is_empty() {
                self.by_source.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_counted_per_source_until_released() {
        let mut h = Holders::default();
        h.add("10.0.0.1", "a", UnixTime(20));
        h.add("10.0.0.1", "b", UnixTime(10));
        h.add("10.0.0.2", "c", UnixTime(30));
        assert_eq!(h.of("10.0.0.1"), (2, Some(UnixTime(10))));
        assert_eq!(h.of("10.0.0.9"), (0, None));
        h.release("b");
        assert_eq!(h.of("10.0.0.1"), (1, Some(UnixTime(20))));
        h.release("b");
        h.release("unknown");
        assert_eq!(h.of("10.0.0.1"), (1, Some(UnixTime(20))));
        // a number held anew counts for its new holder only
        h.add("10.0.0.2", "a", UnixTime(40));
        assert_eq!(h.of("10.0.0.1"), (0, None));
        assert_eq!(h.of("10.0.0.2"), (2, Some(UnixTime(30))));
        assert!(
            !h.by_source.contains_key("10.0.0.1"),
            "no empty entries kept"
        );
    }
}
