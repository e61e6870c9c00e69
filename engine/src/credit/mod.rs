//! Credit: the billing accounts of subscribers, their ledgers, and how long a prepaid balance
//! lets a call talk.
//!
//! A [`BillingAccount`] belongs to a subscriber (keyed by its canonical number): a mode
//! ([`Mode::Prepaid`] calls are checked and cut when the credit ends, [`Mode::Postpaid`] ones
//! are only charged), an optional plan naming its tariff table, a currency, a credit limit (how
//! far below zero a prepaid balance may go) and the balance. Every change of a balance is one
//! [`LedgerEntry`] (a top-up, a call's charge, an adjustment) carrying the balance after it,
//! so the balance is always the sum of the ledger and a statement is a range of it.
//!
//! - [`allowance`]: the pure arithmetic (the longest talk a balance pays for under a rate, on
//!   increment boundaries).
//! - [`wallets`]: the balances in memory with the credit that calls in progress hold
//!   (admission at routing, reservation at the answer, settlement at the record).
//!
//! Money is integer minor units (cents), never floating point. Records are stored with the
//! store's one bincode configuration and version byte; the keys are below (`ledger_key`,
//! `posting_key`), big-endian so sled keeps a number's entries in order.

pub mod allowance;
pub mod wallets;

pub use allowance::{talk_allowance, MAX_ALLOWANCE_SECS};
pub use wallets::{Admission, Grant, Wallets};

use crate::store::RecordError;

/// The tree of billing accounts: canonical number to [`BillingAccount`].
pub const ACCOUNTS_TREE: &str = "billing_accounts";
/// The tree of ledger entries: [`ledger_key`] to [`LedgerEntry`].
pub const LEDGER_TREE: &str = "billing_ledger";
/// The tree of postings already made (idempotency): [`posting_key`] to the entry's sequence.
pub const POSTINGS_TREE: &str = "billing_postings";

/// How an account pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Mode {
    /// Calls are paid from the balance: checked before, cut when the credit ends.
    Prepaid,
    /// Calls are charged to the balance and billed monthly; never refused for credit.
    Postpaid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Prepaid => "prepaid",
            Mode::Postpaid => "postpaid",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "prepaid" => Some(Mode::Prepaid),
            "postpaid" => Some(Mode::Postpaid),
            _ => None,
        }
    }
}

/// A subscriber's billing account, with its balance.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BillingAccount {
    pub mode: Mode,
    /// The tariff table of the account (none: the default table).
    pub plan: Option<String>,
    /// ISO 4217 code; calls are only let through at rates in this currency.
    pub currency: String,
    /// How far below zero the balance may go (minor units, not negative).
    pub credit_limit_minor: i64,
    /// The sum of the ledger (minor units).
    pub balance_minor: i64,
    /// The sequence the next ledger entry gets (entries are numbered from 1).
    pub next_seq: u64,
}

impl BillingAccount {
    /// A new account with a zero balance and no entry.
    pub fn new(mode: Mode, plan: Option<String>, currency: &str, limit: i64) -> BillingAccount {
        BillingAccount {
            mode,
            plan,
            currency: currency.to_owned(),
            credit_limit_minor: limit.max(0),
            balance_minor: 0,
            next_seq: 1,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        crate::store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<BillingAccount, RecordError> {
        crate::store::decode(bytes)
    }
}

/// What a call's charge was for.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CallCharge {
    /// The call's record (its id in the CDR log; 0 when records are off).
    pub cdr_id: u64,
    pub call_id: String,
    /// The number called (as rated).
    pub destination: String,
    pub prefix: String,
    pub table: String,
    pub billed_secs: u32,
    pub answer_unix_ms: u64,
    pub end_unix_ms: u64,
    /// Why the call ended (`credit exhausted` when the switch cut it).
    pub reason: String,
}

/// Why a balance changed.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum EntryKind {
    /// Credit bought; `id` is the client's id of the top-up (posted once).
    TopUp { id: String },
    /// A call's charge (a debit).
    Call(CallCharge),
    /// An operator's correction, either way; `id` as for a top-up.
    Adjustment { id: String, note: String },
}

impl EntryKind {
    /// The word used by the API (`top-up`, `call`, `adjustment`).
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryKind::TopUp { .. } => "top-up",
            EntryKind::Call(_) => "call",
            EntryKind::Adjustment { .. } => "adjustment",
        }
    }

    /// The idempotency key of this posting: the same key is posted once.
    pub fn posting_id(&self) -> String {
        match self {
            EntryKind::TopUp { id } => format!("t:{id}"),
            EntryKind::Adjustment { id, .. } => format!("a:{id}"),
            EntryKind::Call(c) if c.cdr_id != 0 => format!("c:{}", c.cdr_id),
            EntryKind::Call(c) => format!("k:{}", c.call_id),
        }
    }
}

/// One change of a balance.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct LedgerEntry {
    /// The entry's number in its account's ledger (from 1, no gaps).
    pub seq: u64,
    pub unix_ms: u64,
    /// Signed: credits are positive, call charges negative.
    pub amount_minor: i64,
    /// The balance once this entry is applied.
    pub balance_minor: i64,
    pub kind: EntryKind,
}

impl LedgerEntry {
    pub fn encode(&self) -> Vec<u8> {
        crate::store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<LedgerEntry, RecordError> {
        crate::store::decode(bytes)
    }
}

/// Applies a posting of `amount` for `kind` at `unix_ms` to `account`: the entry to store and
/// the account's new state. The balance after the entry is the old one plus `amount`.
pub fn post(
    account: &mut BillingAccount,
    unix_ms: u64,
    amount: i64,
    kind: EntryKind,
) -> LedgerEntry {
    let seq = account.next_seq;
    account.next_seq += 1;
    account.balance_minor = account.balance_minor.saturating_add(amount);
    LedgerEntry {
        seq,
        unix_ms,
        amount_minor: amount,
        balance_minor: account.balance_minor,
        kind,
    }
}

/// The key of entry `seq` of `number`'s ledger: the number, a zero byte, the sequence
/// (big-endian), so a number's entries are one contiguous range in order.
pub fn ledger_key(number: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 9);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix of every key of `number`'s ledger.
pub fn ledger_prefix(number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 1);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k
}

/// The key recording that posting `posting_id` was made to `number`.
pub fn posting_key(number: &str, posting_id: &str) -> Vec<u8> {
    let mut k = ledger_prefix(number);
    k.extend_from_slice(posting_id.as_bytes());
    k
}

/// The first and last Unix millisecond (exclusive) of UTC month `yyyy-mm`, if it is one.
pub fn month_bounds(month: &str) -> Option<(u64, u64)> {
    let b = month.as_bytes();
    if b.len() != 7 || b[4] != b'-' {
        return None;
    }
    let y: i64 = month[0..4].parse().ok()?;
    let m: u32 = month[5..7].parse().ok()?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let start = crate::cdr::export::day_start_ms(&format!("{y:04}-{m:02}-01"))?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = crate::cdr::export::day_start_ms(&format!("{ny:04}-{nm:02}-01"))?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_posting_moves_the_balance_and_numbers_the_entry() {
        let mut a = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
        let e1 = post(&mut a, 10, 500, EntryKind::TopUp { id: "t1".into() });
        let e2 = post(
            &mut a,
            20,
            -35,
            EntryKind::Adjustment {
                id: "a1".into(),
                note: "refund".into(),
            },
        );
        assert_eq!((e1.seq, e1.balance_minor), (1, 500));
        assert_eq!((e2.seq, e2.balance_minor), (2, 465));
        assert_eq!(a.balance_minor, e1.amount_minor + e2.amount_minor);
        assert_eq!(a.next_seq, 3);
        let back = LedgerEntry::decode(&e2.encode()).unwrap();
        assert_eq!(back, e2);
        assert_eq!(BillingAccount::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn ledger_keys_sort_by_number_then_sequence() {
        let mut keys = [
            ledger_key("+8211", 2),
            ledger_key("+82111", 1),
            ledger_key("+8211", 256),
            ledger_key("+8211", 1),
        ];
        keys.sort();
        assert_eq!(keys[0], ledger_key("+8211", 1));
        assert_eq!(keys[1], ledger_key("+8211", 2));
        assert_eq!(keys[2], ledger_key("+8211", 256));
        assert!(keys[2].starts_with(&ledger_prefix("+8211")));
        assert!(!keys[3].starts_with(&ledger_prefix("+8211")));
    }

    #[test]
    fn a_top_up_and_an_adjustment_with_the_same_id_are_different_postings() {
        let t = EntryKind::TopUp { id: "x".into() }.posting_id();
        let a = EntryKind::Adjustment {
            id: "x".into(),
            note: String::new(),
        }
        .posting_id();
        assert_ne!(t, a);
    }

    #[test]
    fn a_month_runs_from_its_first_day_to_the_next_months() {
        assert_eq!(
            month_bounds("2026-12"),
            Some((1_796_083_200_000, 1_798_761_600_000))
        );
        let (_, feb_end) = month_bounds("2028-02").unwrap();
        let (mar_start, _) = month_bounds("2028-03").unwrap();
        assert_eq!(feb_end, mar_start);
        assert_eq!(month_bounds("2026-13"), None);
        assert_eq!(month_bounds("2026-1"), None);
    }
}
