//! The balances in memory and the credit calls in progress hold, so that two calls of one
//! prepaid subscriber never spend the same money.
//!
//! Lifecycle of a metered call (prepaid caller, off-net, rated):
//! 1. [`Wallets::admit`] when routing sends it to a trunk: refused unless the credit still
//!    free (balance + credit limit - what other calls hold) pays the rate's first increment,
//!    which the call then holds.
//! 2. [`Wallets::reserve`] at the answer: the call's hold grows to the price of the longest
//!    talk the free credit pays ([`super::talk_allowance`]); the grant says how many seconds
//!    that is, and the switch cuts the call when they are over.
//! 3. [`Wallets::release`] when the call's record is settled: the hold goes; the charge itself
//!    reaches the balance through the ledger ([`Wallets::apply`]).
//!
//! Balances follow the durable ledger: [`Wallets::apply`] takes the balance after entry `seq`
//! and ignores an older one, so writers finishing out of order cannot set a stale balance. Pure
//! state, no I/O, no clock.

use rustc_hash::FxHashMap;

use super::{talk_allowance, BillingAccount, Mode};
use crate::tariff::Rate;

/// What the check of a call at routing decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Not metered: no billing account, or a postpaid one.
    Unmetered,
    /// Let through; the call holds its first increment's price.
    Admitted { held: i64 },
    /// The free credit does not pay the first increment.
    Refused { needed: i64, available: i64 },
    /// No price for the destination in the account's currency: a prepaid call cannot go.
    Unpriced,
}

/// How long an answered metered call may talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Talked seconds paid for (0: cut it now).
    pub secs: u32,
    /// What the call holds now.
    pub held: i64,
}

/// A subscriber's balance and settings, as calls see them.
#[derive(Debug, Clone)]
struct Purse {
    mode: Mode,
    plan: Option<String>,
    currency: String,
    limit: i64,
    balance: i64,
    /// The ledger entry `balance` is after.
    seq: u64,
    held: i64,
}

#[derive(Debug, Clone)]
struct Hold {
    number: String,
    amount: i64,
    rate: Rate,
}

/// Every billing account's balance and the calls' holds.
#[derive(Debug, Default)]
pub struct Wallets {
    purses: FxHashMap<String, Purse>,
    /// By Call-ID.
    holds: FxHashMap<String, Hold>,
}

impl Wallets {
    pub fn new() -> Wallets {
        Wallets::default()
    }

    /// Sets `number`'s account (new, or its settings changed); the balance is taken when it is
    /// newer than the one known.
    pub fn put(&mut self, number: &str, account: &BillingAccount) {
        let seq = account.next_seq.saturating_sub(1);
        let p = self.purses.entry(number.to_owned()).or_insert(Purse {
            mode: account.mode,
            plan: None,
            currency: String::new(),
            limit: 0,
            balance: account.balance_minor,
            seq,
            held: 0,
        });
        p.mode = account.mode;
        p.plan.clone_from(&account.plan);
        p.currency.clone_from(&account.currency);
        p.limit = account.credit_limit_minor;
        if seq >= p.seq {
            p.seq = seq;
            p.balance = account.balance_minor;
        }
    }

    /// Ledger entry `seq` of `number` left the balance at `balance`.
    pub fn apply(&mut self, number: &str, seq: u64, balance: i64) {
        if let Some(p) = self.purses.get_mut(number) {
            if seq > p.seq {
                p.seq = seq;
                p.balance = balance;
            }
        }
    }

    /// The plan of `number`'s account (its tariff table), if it names one.
    pub fn plan(&self, number: &str) -> Option<&str> {
        self.purses.get(number)?.plan.as_deref()
    }

    /// Whether `number` has a prepaid account (its off-net calls are metered).
    pub fn is_prepaid(&self, number: &str) -> bool {
        self.purses
            .get(number)
            .is_some_and(|p| p.mode == Mode::Prepaid)
    }

    /// The balance and what calls hold of it.
    pub fn balance(&self, number: &str) -> Option<(i64, i64)> {
        self.purses.get(number).map(|p| (p.balance, p.held))
    }

    /// The credit a new call may use: balance + credit limit - what calls hold.
    pub fn available(&self, number: &str) -> Option<i64> {
        self.purses
            .get(number)
            .map(|p| p.balance.saturating_add(p.limit).saturating_sub(p.held))
    }

    /// Checks call `call` of `number` to a destination priced `rate` (none: no price), and
    /// holds its first increment when it may go. A call already admitted (a second trunk
    /// tried) keeps its hold.
    pub fn admit(&mut self, number: &str, call: &str, rate: Option<&Rate>) -> Admission {
        let Some(p) = self.purses.get(number) else {
            return Admission::Unmetered;
        };
        if p.mode != Mode::Prepaid {
            return Admission::Unmetered;
        }
        if let Some(h) = self.holds.get(call) {
            return Admission::Admitted { held: h.amount };
        }
        let Some(rate) = rate.filter(|r| r.currency == p.currency) else {
            return Admission::Unpriced;
        };
        let needed = rate.first_increment_cost();
        let available = self.available(number).unwrap_or(0);
        if needed > available {
            return Admission::Refused { needed, available };
        }
        self.hold(number, call, needed, rate.clone());
        Admission::Admitted { held: needed }
    }

    /// Call `call` was answered: it holds the price of the longest talk the credit free for
    /// it pays (its own hold included), and may talk that long. `None` when it was not
    /// admitted (not metered).
    pub fn reserve(&mut self, call: &str) -> Option<Grant> {
        let h = self.holds.get(call)?;
        let (number, own, rate) = (h.number.clone(), h.amount, h.rate.clone());
        let free = self.available(&number)?.saturating_add(own);
        let secs = talk_allowance(&rate, free).unwrap_or(0);
        let amount = if secs == 0 {
            own
        } else {
            rate.price(secs).amount_minor
        };
        self.hold(&number, call, amount, rate);
        Some(Grant { secs, held: amount })
    }

    /// The hold of call `call` is given back (its record is settled, or it never talked).
    pub fn release(&mut self, call: &str) -> Option<i64> {
        let h = self.holds.remove(call)?;
        if let Some(p) = self.purses.get_mut(&h.number) {
            p.held -= h.amount;
        }
        Some(h.amount)
    }

    /// Sets call `call`'s hold to `amount`.
    fn hold(&mut self, number: &str, call: &str, amount: i64, rate: Rate) {
        let before = self.holds.get(call).map_or(0, |h| h.amount);
        if let Some(p) = self.purses.get_mut(number) {
            p.held += amount - before;
        }
        self.holds.insert(
            call.to_owned(),
            Hold {
                number: number.to_owned(),
                amount,
                rate,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::{Fixed, Increments};

    /// 60 cents a minute (1 a second), `fee` cents to connect, 1/1.
    fn per_second(fee: u64) -> Rate {
        Rate {
            per_minute: Fixed(600_000),
            connection: Fixed(fee * 10_000),
            increments: Increments {
                first_secs: 1,
                next_secs: 1,
            },
            currency: "EUR".into(),
        }
    }

    fn wallets(balance: i64) -> Wallets {
        let mut w = Wallets::new();
        let mut a = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
        a.balance_minor = balance;
        a.next_seq = 2;
        w.put("+8211", &a);
        w
    }

    #[test]
    fn a_call_the_credit_cannot_start_is_refused_and_holds_nothing() {
        let mut w = wallets(10);
        assert_eq!(
            w.admit("+8211", "c1", Some(&per_second(10))),
            Admission::Refused {
                needed: 11,
                available: 10
            }
        );
        assert_eq!(w.balance("+8211"), Some((10, 0)));
        assert_eq!(
            w.admit("+8211", "c1", Some(&per_second(9))),
            Admission::Admitted { held: 10 },
            "exactly the first increment"
        );
        assert_eq!(w.available("+8211"), Some(0));
    }

    #[test]
    fn unknown_postpaid_unpriced_and_other_currency_calls() {
        let mut w = wallets(100);
        assert_eq!(
            w.admit("+8299", "c", Some(&per_second(0))),
            Admission::Unmetered
        );
        assert_eq!(w.admit("+8211", "c", None), Admission::Unpriced);
        let usd = Rate {
            currency: "USD".into(),
            ..per_second(0)
        };
        assert_eq!(w.admit("+8211", "c", Some(&usd)), Admission::Unpriced);
        let mut a = BillingAccount::new(Mode::Postpaid, Some("gold".into()), "EUR", 0);
        a.next_seq = 9;
        w.put("+8211", &a);
        assert_eq!(
            w.admit("+8211", "c", Some(&per_second(0))),
            Admission::Unmetered
        );
        assert_eq!(w.plan("+8211"), Some("gold"));
        assert!(!w.is_prepaid("+8211"));
    }

    #[test]
    fn two_concurrent_calls_cannot_spend_the_same_balance() {
        let mut w = wallets(100);
        let r = per_second(10);
        assert_eq!(
            w.admit("+8211", "a", Some(&r)),
            Admission::Admitted { held: 11 }
        );
        assert_eq!(
            w.admit("+8211", "b", Some(&r)),
            Admission::Admitted { held: 11 }
        );
        assert_eq!(w.available("+8211"), Some(78));
        // a is answered: 100 - 11 (b's hold) = 89 is free for it: 10 + 79 s
        assert_eq!(w.reserve("a"), Some(Grant { secs: 79, held: 89 }));
        // b is answered: only its own first increment is left
        assert_eq!(w.reserve("b"), Some(Grant { secs: 1, held: 11 }));
        assert_eq!(w.available("+8211"), Some(0));
        assert_eq!(
            w.admit("+8211", "c", Some(&r)),
            Admission::Refused {
                needed: 11,
                available: 0
            },
            "a third call finds nothing free"
        );
        // a ends after 30 s: the ledger debits 40, its hold goes
        w.apply("+8211", 2, 60);
        assert_eq!(w.release("a"), Some(89));
        assert_eq!(w.balance("+8211"), Some((60, 11)));
        assert_eq!(w.available("+8211"), Some(49));
        // b ends after its one second: 11
        w.apply("+8211", 3, 49);
        w.release("b");
        assert_eq!(w.balance("+8211"), Some((49, 0)));
        assert_eq!(w.release("b"), None, "released once");
    }

    #[test]
    fn the_balance_follows_the_newest_ledger_entry_only() {
        let mut w = wallets(100);
        w.apply("+8211", 5, 70);
        w.apply("+8211", 4, 90);
        assert_eq!(w.balance("+8211"), Some((70, 0)));
        let mut a = BillingAccount::new(Mode::Prepaid, None, "EUR", 25);
        a.balance_minor = 80;
        a.next_seq = 4;
        w.put("+8211", &a);
        assert_eq!(w.balance("+8211"), Some((70, 0)), "older than entry 5");
        assert_eq!(w.available("+8211"), Some(95), "the credit limit counts");
    }

    #[test]
    fn a_call_answered_after_its_credit_was_taken_gets_only_what_it_holds() {
        let mut w = wallets(20);
        let r = per_second(0);
        assert!(matches!(
            w.admit("+8211", "a", Some(&r)),
            Admission::Admitted { .. }
        ));
        // an adjustment took the balance away since
        w.apply("+8211", 2, 0);
        assert_eq!(w.reserve("a"), Some(Grant { secs: 0, held: 1 }));
        assert_eq!(w.reserve("nobody"), None);
    }

    #[test]
    fn exact_exhaustion_grants_all_the_balance_and_leaves_nothing() {
        // 30 cents: 10 to connect and 20 seconds at a cent each
        let mut w = wallets(30);
        w.admit("+8211", "a", Some(&per_second(10)));
        assert_eq!(w.reserve("a"), Some(Grant { secs: 20, held: 30 }));
        assert_eq!(w.available("+8211"), Some(0));
        w.apply("+8211", 2, 0);
        w.release("a");
        assert_eq!(w.balance("+8211"), Some((0, 0)));
    }
}
