//! The numbers for sale and what each is doing now (free, held, ordered, assigned), with the
//! search over them.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{Listed, NumberKind, Pattern, UnixTime};

/// What a number is doing.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum SlotState {
    Free,
    /// Held for a buyer until `until` (then free again without anyone touching it).
    Held {
        token: String,
        until: UnixTime,
    },
    /// In an open order.
    Ordered {
        order: String,
    },
    /// Sold.
    Assigned {
        order: String,
    },
    /// Its account was removed: back on sale at `until` (a quarantine, so callers who still
    /// dial the old owner do not reach a new one at once).
    Aging {
        until: UnixTime,
    },
}

/// A number and its state: the stored record of one number.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Slot {
    pub listed: Listed,
    pub state: SlotState,
}

impl Slot {
    /// Whether a buyer may hold it at `now`.
    pub fn is_free(&self, now: UnixTime) -> bool {
        match &self.state {
            SlotState::Free => true,
            SlotState::Held { until, .. } | SlotState::Aging { until } => *until <= now,
            _ => false,
        }
    }
}

/// Which numbers a search wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Country calling code.
    pub country: Option<u16>,
    pub kind: Option<NumberKind>,
    pub pattern: Option<Pattern>,
}

impl Filter {
    fn accepts(&self, l: &Listed) -> bool {
        self.country.is_none_or(|c| c == l.country)
            && self.kind.is_none_or(|k| k == l.kind)
            && self.pattern.as_ref().is_none_or(|p| p.matches(&l.digits))
    }
}

/// One page of a search, in key order.
#[derive(Debug)]
pub struct Page<'a> {
    pub numbers: Vec<&'a Listed>,
    /// The key to pass as `after` for the next page; `None`: this was the last.
    pub next: Option<String>,
}

/// Every number for sale, by key.
#[derive(Debug, Default)]
pub struct Stock {
    slots: BTreeMap<String, Slot>,
}

impl Stock {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.slots.get(key)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        self.slots.get_mut(key)
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// Adds a slot; `false` (and no change) when the key is there already.
    pub(super) fn insert(&mut self, slot: Slot) -> bool {
        if self.slots.contains_key(&slot.listed.key) {
            return false;
        }
        self.slots.insert(slot.listed.key.clone(), slot);
        true
    }

    /// Up to `limit` free numbers at `now` matching `filter`, after key `after`.
    pub fn search(
        &self,
        now: UnixTime,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> Page<'_> {
        let from = match after {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        let mut numbers = Vec::with_capacity(limit.min(100));
        let mut next = None;
        let range = self.slots.range::<str, _>((from, Bound::Unbounded));
        for (key, slot) in range {
            if !slot.is_free(now) || !filter.accepts(&slot.listed) {
                continue;
            }
            if numbers.len() == limit {
                next = numbers.last().map(|l: &&Listed| l.key.clone());
                break;
            }
            debug_assert_eq!(key, &slot.listed.key);
            numbers.push(&slot.listed);
        }
        Page { numbers, next }
    }
}
