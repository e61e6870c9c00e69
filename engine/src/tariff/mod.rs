//! Tariffs: what an off-net call costs, by the longest destination prefix.
//!
//! A [`TariffTable`] maps destination prefixes (digits of the E.164 number, without `+`) to a
//! [`Rate`]: a price per minute, a connection fee, the billing increments (first and next
//! seconds: `60/60`, `30/6`, `1/1`) and a currency. Several tables live in a [`TariffSet`]
//! (one per member plan, and a default one). Tables are read from CSV (`csv.rs`, the columns
//! are documented there) and validated whole before they are used.
//!
//! Money: amounts are integer minor units of the currency (cents); rates and fees are kept in
//! [`Fixed`], 1/10000 of a minor unit, so a rate of 0.0125 cents a minute is exact. The price
//! of a call is computed exactly in that unit and rounded *up* once, to the minor unit, at the
//! end. No floating point anywhere.
//!
//! Billing: the talked time in milliseconds is rounded up to whole seconds; zero seconds cost
//! nothing (not even the connection fee: the call never carried a second of speech); otherwise
//! the call is billed the first increment, then whole next increments:
//! `billed = first + ceil((secs - first) / next) * next` when `secs > first`.
//!
//! Lookup is one hash probe per prefix length present in the table, longest first (at most
//! [`MAX_PREFIX_DIGITS`] probes), so a 100,000-prefix table rates a number in well under a
//! microsecond. Pure functions, no I/O: [`TariffTable::price`] is what the credit checks use.

pub mod csv;

use rustc_hash::FxHashMap;

use crate::cdr::Charge;

pub use csv::{parse_csv, TariffError};

/// The longest prefix a table may hold (digits).
pub const MAX_PREFIX_DIGITS: usize = 18;

/// How many [`Fixed`] units make one minor unit (cent).
pub const FIXED_PER_MINOR: u64 = 10_000;

/// An amount in 1/10000 of a minor unit of a currency (rates and fees, before rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed(pub u64);

/// Billing increments: the first increment is billed whole, then every started `next` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Increments {
    pub first_secs: u32,
    pub next_secs: u32,
}

impl Increments {
    /// The seconds billed for `secs` talked seconds (0 stays 0).
    pub fn billed(self, secs: u32) -> u32 {
        if secs == 0 {
            return 0;
        }
        if secs <= self.first_secs {
            return self.first_secs;
        }
        let rest = secs - self.first_secs;
        let next = self.next_secs.max(1);
        self.first_secs
            .saturating_add(rest.div_ceil(next).saturating_mul(next))
    }
}

/// The price of calls to one destination prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// Price of one minute.
    pub per_minute: Fixed,
    /// Charged once per answered call that lasted at least a second.
    pub connection: Fixed,
    pub increments: Increments,
    /// ISO 4217 code (`EUR`, `KRW`...).
    pub currency: String,
}

/// What a number of seconds to a destination costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// Seconds billed after the increments.
    pub billed_secs: u32,
    /// Minor units (cents), rounded up.
    pub amount_minor: i64,
}

impl Rate {
    /// The price of `secs` talked seconds at this rate.
    pub fn price(&self, secs: u32) -> Price {
        let billed = self.increments.billed(secs);
        if billed == 0 {
            return Price {
                billed_secs: 0,
                amount_minor: 0,
            };
        }
        // exact in 1/60 of a Fixed unit: connection * 60 + per_minute * billed
        let sixtieths =
            u128::from(self.connection.0) * 60 + u128::from(self.per_minute.0) * u128::from(billed);
        let per_minor = 60 * u128::from(FIXED_PER_MINOR);
        let minor = sixtieths.div_ceil(per_minor);
        Price {
            billed_secs: billed,
            amount_minor: i64::try_from(minor).unwrap_or(i64::MAX),
        }
    }

    /// What the first increment costs (connection fee included): the least an answered call
    /// to this destination can cost, the credit a call needs before it is let through.
    pub fn first_increment_cost(&self) -> i64 {
        self.price(self.increments.first_secs.max(1)).amount_minor
    }
}

/// One tariff table: prefixes to rates.
#[derive(Debug, Clone, Default)]
pub struct TariffTable {
    name: String,
    /// Prefix digits (as a number) and their count, to the rate's index in `rates`.
    index: FxHashMap<(u8, u64), u32>,
    rates: Vec<(String, Rate)>,
    /// Bit `n` set: some prefix has `n` digits.
    lengths: u32,
}

impl TariffTable {
    /// An empty table called `name`.
    pub fn new(name: &str) -> TariffTable {
        TariffTable {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    /// Adds `prefix` (1 to [`MAX_PREFIX_DIGITS`] digits); `false` if it was already there or is
    /// not digits.
    pub fn insert(&mut self, prefix: &str, rate: Rate) -> bool {
        let Some(key) = key_of(prefix.as_bytes()) else {
            return false;
        };
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key, self.rates.len() as u32);
        self.rates.push((prefix.to_owned(), rate));
        self.lengths |= 1 << key.0;
        true
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// The rate of the longest prefix of `destination` (a number; a leading `+` and anything
    /// after the first non-digit are ignored), and that prefix.
    pub fn lookup(&self, destination: &str) -> Option<(&str, &Rate)> {
        let d = destination.as_bytes();
        let d = d.strip_prefix(b"+").unwrap_or(d);
        let digits = d.iter().take_while(|b| b.is_ascii_digit()).count();
        let d = &d[..digits.min(MAX_PREFIX_DIGITS)];
        // the digits as a number, by length: value[n] is the first n digits
        let mut value = [0u64; MAX_PREFIX_DIGITS + 1];
        for (i, b) in d.iter().enumerate() {
            value[i + 1] = value[i] * 10 + u64::from(b - b'0');
        }
        let mut lengths = self.lengths & ((2u32 << d.len()) - 1);
        while lengths != 0 {
            let n = 31 - lengths.leading_zeros();
            lengths &= !(1 << n);
            if let Some(&i) = self.index.get(&(n as u8, value[n as usize])) {
                let (p, r) = &self.rates[i as usize];
                return Some((p.as_str(), r));
            }
        }
        None
    }

    /// The price of `secs` talked seconds to `destination`, and the prefix that priced it;
    /// `None` when no prefix matches.
    pub fn price(&self, destination: &str, secs: u32) -> Option<(&str, &Rate, Price)> {
        let (p, r) = self.lookup(destination)?;
        Some((p, r, r.price(secs)))
    }

    /// The cost of the first increment of a call to `destination` (connection fee included).
    pub fn first_increment_cost(&self, destination: &str) -> Option<i64> {
        self.lookup(destination)
            .map(|(_, r)| r.first_increment_cost())
    }

    /// The charge of a call to `destination` that talked `duration_ms` (rounded up to whole
    /// seconds), for its record.
    pub fn charge(&self, destination: &str, duration_ms: u64) -> Option<Charge> {
        let secs = u32::try_from(duration_ms.div_ceil(1000)).unwrap_or(u32::MAX);
        let (prefix, rate, price) = self.price(destination, secs)?;
        Some(Charge {
            table: self.name.clone(),
            prefix: prefix.to_owned(),
            billed_secs: price.billed_secs,
            amount_minor: price.amount_minor,
            currency: rate.currency.clone(),
        })
    }
}

/// The tariff tables in force: one per member plan, one of them the default.
#[derive(Debug, Clone, Default)]
pub struct TariffSet {
    tables: FxHashMap<String, TariffTable>,
    default: String,
}

impl TariffSet {
    /// The tables given, `default` naming the one used when a caller has no plan of its own.
    pub fn new(tables: Vec<TariffTable>, default: &str) -> TariffSet {
        TariffSet {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
            default: default.to_owned(),
        }
    }

    /// The table of plan `plan`, else the default table (if loaded).
    pub fn table_for(&self, plan: Option<&str>) -> Option<&TariffTable> {
        plan.and_then(|p| self.tables.get(p))
            .or_else(|| self.tables.get(&self.default))
    }

    pub fn table(&self, name: &str) -> Option<&TariffTable> {
        self.tables.get(name)
    }

    /// The tables, by name.
    pub fn tables(&self) -> impl Iterator<Item = &TariffTable> {
        let mut v: Vec<&TariffTable> = self.tables.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.into_iter()
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }
}

/// The key of a prefix: its digit count and its value.
fn key_of(prefix: &[u8]) -> Option<(u8, u64)> {
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_DIGITS {
        return None;
    }
    let mut v = 0u64;
    for b in prefix {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some((prefix.len() as u8, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(cents_per_min: u64, fee_cents: u64, first: u32, next: u32) -> Rate {
        Rate {
            per_minute: Fixed(cents_per_min * FIXED_PER_MINOR),
            connection: Fixed(fee_cents * FIXED_PER_MINOR),
            increments: Increments {
                first_secs: first,
                next_secs: next,
            },
            currency: "EUR".into(),
        }
    }

    fn table() -> TariffTable {
        let mut t = TariffTable::new("default");
        assert!(t.insert("44", rate(10, 0, 60, 60)));
        assert!(t.insert("447", rate(20, 0, 30, 6)));
        assert!(t.insert("4479", rate(30, 0, 1, 1)));
        assert!(t.insert("1", rate(1, 0, 60, 60)));
        t
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let t = table();
        assert_eq!(t.lookup("+447911123456").unwrap().0, "4479");
        assert_eq!(t.lookup("447811123456").unwrap().0, "447");
        assert_eq!(t.lookup("+442071234567").unwrap().0, "44");
        assert_eq!(t.lookup("12125550100").unwrap().0, "1");
        assert!(t.lookup("+33123456789").is_none());
        assert!(t.lookup("").is_none());
        assert!(t.lookup("+").is_none());
        assert_eq!(
            t.lookup("4").map(|r| r.0),
            None,
            "a shorter number matches nothing"
        );
        assert_eq!(
            t.lookup("44").unwrap().0,
            "44",
            "a number equal to a prefix matches it"
        );
        assert_eq!(
            t.lookup("447;x").unwrap().0,
            "447",
            "digits stop at a non-digit"
        );
    }

    #[test]
    fn a_prefix_is_added_once_and_only_digits_are_prefixes() {
        let mut t = table();
        assert!(!t.insert("44", rate(1, 0, 1, 1)));
        assert!(!t.insert("4a", rate(1, 0, 1, 1)));
        assert!(!t.insert("", rate(1, 0, 1, 1)));
        assert!(!t.insert(&"1".repeat(MAX_PREFIX_DIGITS + 1), rate(1, 0, 1, 1)));
        assert!(t.insert(&"9".repeat(MAX_PREFIX_DIGITS), rate(1, 0, 1, 1)));
        assert_eq!(t.len(), 5);
        let long = "9".repeat(MAX_PREFIX_DIGITS + 3);
        assert_eq!(t.lookup(&long).unwrap().0.len(), MAX_PREFIX_DIGITS);
    }

    #[test]
    fn sixty_sixty_bills_whole_minutes() {
        let i = Increments {
            first_secs: 60,
            next_secs: 60,
        };
        assert_eq!(i.billed(0), 0);
        assert_eq!(i.billed(1), 60);
        assert_eq!(i.billed(60), 60);
        assert_eq!(i.billed(61), 120);
        assert_eq!(i.billed(121), 180);
    }

    #[test]
    fn thirty_six_bills_a_half_minute_then_six_seconds() {
        let i = Increments {
            first_secs: 30,
            next_secs: 6,
        };
        assert_eq!(i.billed(1), 30);
        assert_eq!(i.billed(30), 30);
        assert_eq!(i.billed(31), 36);
        assert_eq!(i.billed(36), 36);
        assert_eq!(i.billed(37), 42);
    }

    #[test]
    fn one_one_bills_every_second() {
        let i = Increments {
            first_secs: 1,
            next_secs: 1,
        };
        for s in [0, 1, 2, 59, 61, 3601] {
            assert_eq!(i.billed(s), s);
        }
    }

    #[test]
    fn the_total_is_rounded_up_to_the_cent_once() {
        // 0.0125 cents a minute, per second: 90 s cost 0.01875 cents, rounded up to 1
        let r = Rate {
            per_minute: Fixed(125),
            connection: Fixed(0),
            increments: Increments {
                first_secs: 1,
                next_secs: 1,
            },
            currency: "EUR".into(),
        };
        assert_eq!(r.price(90).amount_minor, 1);
        // 1.5 cents a minute for 61 s (1/1): 1.525 cents, up to 2
        let r = Rate {
            per_minute: Fixed(15_000),
            ..r
        };
        assert_eq!(r.price(61).amount_minor, 2);
        // exactly 3 cents for 120 s: no rounding up of an exact amount
        assert_eq!(r.price(120).amount_minor, 3);
        // 7 cents a minute at 30/6 for 37 s: 42 s billed = 4.9 cents, up to 5
        let r = rate(7, 0, 30, 6);
        assert_eq!(
            r.price(37),
            Price {
                billed_secs: 42,
                amount_minor: 5
            }
        );
    }

    #[test]
    fn the_connection_fee_is_added_once_to_a_talked_call() {
        let r = rate(10, 25, 60, 60);
        assert_eq!(r.price(1).amount_minor, 35);
        assert_eq!(r.price(61).amount_minor, 45);
        assert_eq!(r.first_increment_cost(), 35);
        // a fee below a cent is kept exact until the total is rounded
        let r = Rate {
            connection: Fixed(5_000),
            per_minute: Fixed(5_000),
            ..rate(0, 0, 60, 60)
        };
        assert_eq!(r.price(60).amount_minor, 1);
    }

    #[test]
    fn a_zero_second_call_costs_nothing() {
        let r = rate(10, 25, 60, 60);
        assert_eq!(
            r.price(0),
            Price {
                billed_secs: 0,
                amount_minor: 0
            }
        );
        let t = table();
        let c = t.charge("+447911123456", 0).unwrap();
        assert_eq!((c.billed_secs, c.amount_minor), (0, 0));
        // one millisecond is a started second
        let c = t.charge("+447911123456", 1).unwrap();
        assert_eq!((c.billed_secs, c.amount_minor), (1, 1));
    }

    #[test]
    fn a_charge_names_the_table_prefix_and_currency() {
        let t = table();
        let c = t.charge("+447811123456", 61_001).unwrap();
        assert_eq!(c.table, "default");
        assert_eq!(c.prefix, "447");
        assert_eq!(c.billed_secs, 66);
        assert_eq!(c.amount_minor, 22, "20 cents a minute for 66 s is 22 cents");
        assert_eq!(c.currency, "EUR");
        assert!(t.charge("+33123456789", 1000).is_none());
    }

    #[test]
    fn the_first_increment_cost_of_a_destination_follows_its_prefix() {
        let t = table();
        assert_eq!(t.first_increment_cost("+4420"), Some(10));
        assert_eq!(
            t.first_increment_cost("+44781"),
            Some(10),
            "30 s at 20 cents a minute"
        );
        assert_eq!(
            t.first_increment_cost("+44791"),
            Some(1),
            "1 s at 30 cents a minute"
        );
        assert_eq!(t.first_increment_cost("+33"), None);
    }

    #[test]
    fn a_caller_without_a_plan_of_its_own_gets_the_default_table() {
        let mut gold = TariffTable::new("gold");
        gold.insert("44", rate(1, 0, 1, 1));
        let set = TariffSet::new(vec![table(), gold], "default");
        assert_eq!(set.table_for(Some("gold")).unwrap().name(), "gold");
        assert_eq!(set.table_for(Some("silver")).unwrap().name(), "default");
        assert_eq!(set.table_for(None).unwrap().name(), "default");
        let names: Vec<&str> = set.tables().map(|t| t.name()).collect();
        assert_eq!(names, ["default", "gold"]);
        assert!(TariffSet::new(vec![], "default").table_for(None).is_none());
    }
}
