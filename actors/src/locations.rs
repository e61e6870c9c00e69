//! Where each number's devices are, as its Extension knows it: whether the number has an
//! account and its bindings, readable from any signalling thread without asking the
//! Extension (a thread hop and an actor message each way).
//!
//! Only a number's Extension writes its entry: when it has loaded the number from the store,
//! after every REGISTER it answered 200 and after an account change. An Extension that stops
//! takes a number with an account or bindings out of the table (the next lookup asks a fresh
//! Extension, which reads the store), and leaves an unknown number (no account, no binding)
//! in it: every change that makes a number known (a REGISTER, an account made over the API,
//! the CLI, the number shop or a dynamic account) goes through the number's Extension, which
//! then writes the entry again. Unknown numbers are the common case for a text to a number
//! nobody signed up, and asking a fresh Extension for each of those reads the store three
//! times.
//!
//! Readers filter bindings by their expiry (`registrar::targets`), as the Extension does.
//! The table is bounded: past `MAX_PER_SHARD` entries in a shard, its unknown numbers are
//! dropped (a lookup that finds nothing asks the Extension, so dropping is always safe).
//!
//! Imports nothing of this crate (a leaf, like `ownership`).

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::BindingRecord;

/// Shards of the table (a power of two): readers on every thread, one writer per number.
const SHARDS: usize = 64;
/// Entries per shard before its unknown numbers are dropped.
const MAX_PER_SHARD: usize = 16_384;

/// What a number's Extension knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub account: bool,
    /// Every binding, expired ones included (filter with `registrar::targets`).
    pub bindings: Vec<BindingRecord>,
}

impl Location {
    /// No account and no binding.
    pub fn is_unknown(&self) -> bool {
        !self.account && self.bindings.is_empty()
    }
}

/// One shard of the table.
type Shard = RwLock<FxHashMap<Aor, Arc<Location>>>;

/// The table, shared by every signalling thread.
pub struct Locations {
    shards: Box<[Shard]>,
    max_per_shard: usize,
}

impl Default for Locations {
    fn default() -> Self {
        Locations::with_limit(MAX_PER_SHARD)
    }
}

impl Locations {
    fn with_limit(max_per_shard: usize) -> Locations {
        Locations {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            max_per_shard,
        }
    }

    fn shard(&self, aor: &Aor) -> &Shard {
        // FNV-1a of the number, not the maps' own hash: its low bits pick the bucket
        let h = aor
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, c| {
                (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3)
            });
        &self.shards[(h >> 40) as usize & (SHARDS - 1)]
    }

    /// What the Extension of `aor` published last, if anything.
    pub fn get(&self, aor: &Aor) -> Option<Arc<Location>> {
        let m = self.shard(aor).read().unwrap_or_else(|e| e.into_inner());
        m.get(aor).cloned()
    }

    /// The Extension of `aor` knows `location` now.
    pub fn publish(&self, aor: &Aor, location: Location) {
        let mut m = self.shard(aor).write().unwrap_or_else(|e| e.into_inner());
        if m.len() >= self.max_per_shard && !m.contains_key(aor) {
            m.retain(|_, l| !l.is_unknown());
        }
        m.insert(aor.clone(), Arc::new(location));
    }

    /// The Extension of `aor` stopped: a known number leaves the table, an unknown one stays
    /// (see the module documentation).
    pub fn stopped(&self, aor: &Aor) {
        let mut m = self.shard(aor).write().unwrap_or_else(|e| e.into_inner());
        if m.get(aor).is_some_and(|l| !l.is_unknown()) {
            m.remove(aor);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(uri: &str) -> BindingRecord {
        BindingRecord {
            uri: uri.into(),
            q: None,
            expires_at: 100,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: switchboard_engine::flow::Transport::Udp,
            source: "127.0.0.1:5070".parse().expect("an address"),
            conn: None,
            caps: Default::default(),
        }
    }

    fn known() -> Location {
        Location {
            account: true,
            bindings: vec![binding("sip:a@127.0.0.1:5070")],
        }
    }

    fn unknown() -> Location {
        Location {
            account: false,
            bindings: Vec::new(),
        }
    }

    #[test]
    fn a_known_number_leaves_with_its_extension_and_an_unknown_one_stays() {
        let t = Locations::default();
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("1002"));
        t.publish(&a, known());
        t.publish(&b, unknown());
        assert_eq!(t.get(&a).as_deref(), Some(&known()));
        t.stopped(&a);
        t.stopped(&b);
        assert_eq!(t.get(&a), None, "the next lookup asks a fresh Extension");
        assert_eq!(t.get(&b).as_deref(), Some(&unknown()));
    }

    #[test]
    fn the_last_publication_wins() {
        let t = Locations::default();
        let a = Aor::from_canonical("1001");
        t.publish(&a, unknown());
        t.publish(&a, known());
        assert!(t.get(&a).is_some_and(|l| l.account));
    }

    #[test]
    fn a_full_shard_drops_its_unknown_numbers_and_keeps_the_known_ones() {
        let t = Locations::with_limit(4);
        let keep = Aor::from_canonical("keeper");
        t.publish(&keep, known());
        for i in 0..(SHARDS * 4 * 8) {
            t.publish(&Aor::from_canonical(&format!("n{i}")), unknown());
        }
        assert!(t.len() <= SHARDS * 4, "bounded: {}", t.len());
        assert!(t.get(&keep).is_some_and(|l| l.account));
    }
}
