//! The billing accounts and their ledgers in the store (`switchboard_engine::credit`): the
//! accounts tree (number to account, balance included), the ledger (number and sequence to
//! entry) and the postings already made (number and posting id, for idempotency).
//!
//! A posting changes the three trees in one sled transaction: the account's balance and next
//! sequence, the new entry, and its posting id; a posting id seen before posts nothing and
//! answers the entry it made then. Every write is flushed (fsync) before it returns, so a
//! top-up acknowledged to a client, or a call debited, survives a crash. Writers: the HTTP API
//! (settings, top-ups, adjustments) and the CDR writer (call charges); sled serializes their
//! transactions.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use switchboard_engine::credit::{
    self, ledger_key, ledger_prefix, posting_key, BillingAccount, EntryKind, LedgerEntry,
};

use super::{Store, StoreError};

/// Where the id of the last settled call record is kept (no number starts with a zero byte).
const SETTLED_KEY: &[u8] = b"\0settled";

/// The billing trees of a store.
#[derive(Clone)]
pub struct BillingBook {
    accounts: sled::Tree,
    ledger: sled::Tree,
    postings: sled::Tree,
    db: sled::Db,
}

/// What a posting did.
#[derive(Debug, Clone)]
pub struct Posted {
    pub entry: LedgerEntry,
    /// It had been posted before: nothing changed now.
    pub duplicate: bool,
    pub account: BillingAccount,
}

/// Why a posting was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostError {
    #[error("no billing account for {0}")]
    NoAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The billing trees of this store.
    pub fn billing(&self) -> Result<BillingBook, StoreError> {
        Ok(BillingBook {
            accounts: self.db.open_tree(credit::ACCOUNTS_TREE)?,
            ledger: self.db.open_tree(credit::LEDGER_TREE)?,
            postings: self.db.open_tree(credit::POSTINGS_TREE)?,
            db: self.db.clone(),
        })
    }
}

impl BillingBook {
    pub fn account(&self, number: &str) -> Result<Option<BillingAccount>, StoreError> {
        match self.accounts.get(number.as_bytes())? {
            Some(v) => Ok(Some(decode_account(number, &v)?)),
            None => Ok(None),
        }
    }

    /// Every account, by number.
    pub fn accounts(&self) -> Result<Vec<(String, BillingAccount)>, StoreError> {
        let mut out = Vec::new();
        for item in self.accounts.iter() {
            let (k, v) = item?;
            let number = String::from_utf8_lossy(&k).into_owned();
            let a = decode_account(&number, &v)?;
            out.push((number, a));
        }
        Ok(out)
    }

    /// Creates `number`'s account, or changes its settings (mode, plan, currency, limit) and
    /// keeps its balance and ledger. Flushed.
    pub fn put_settings(
        &self,
        number: &str,
        settings: &BillingAccount,
    ) -> Result<BillingAccount, StoreError> {
        let out = self
            .accounts
            .transaction(|accounts| {
                let mut a = match accounts.get(number.as_bytes())? {
                    Some(v) => BillingAccount::decode(&v)
                        .map_err(|_| ConflictableTransactionError::Abort(()))?,
                    None => BillingAccount::new(settings.mode, None, &settings.currency, 0),
                };
                a.mode = settings.mode;
                a.plan.clone_from(&settings.plan);
                a.currency.clone_from(&settings.currency);
                a.credit_limit_minor = settings.credit_limit_minor.max(0);
                accounts.insert(number.as_bytes(), a.encode())?;
                Ok(a)
            })
            .map_err(|e| transaction_error(number, e))?;
        self.db.flush()?;
        Ok(out)
    }

    /// Posts `amount` for `kind` to `number`'s ledger at `unix_ms`, once per posting id.
    /// Flushed.
    pub fn post(
        &self,
        number: &str,
        unix_ms: u64,
        amount: i64,
        kind: EntryKind,
    ) -> Result<Posted, PostError> {
        let id_key = posting_key(number, &kind.posting_id());
        let r = (&self.accounts, &self.ledger, &self.postings).transaction(
            |(accounts, ledger, postings)| {
                let Some(v) = accounts.get(number.as_bytes())? else {
                    return Err(ConflictableTransactionError::Abort(None));
                };
                let mut a = BillingAccount::decode(&v)
                    .map_err(|_| ConflictableTransactionError::Abort(Some(())))?;
                if let Some(seq) = postings.get(&id_key)? {
                    let seq = u64::from_be_bytes(seq.as_ref().try_into().unwrap_or([0; 8]));
                    let e = ledger
                        .get(ledger_key(number, seq))?
                        .and_then(|v| LedgerEntry::decode(&v).ok())
                        .ok_or(ConflictableTransactionError::Abort(Some(())))?;
                    return Ok((e, true, a));
                }
                let e = credit::post(&mut a, unix_ms, amount, kind.clone());
                ledger.insert(ledger_key(number, e.seq), e.encode())?;
                postings.insert(id_key.as_slice(), &e.seq.to_be_bytes())?;
                accounts.insert(number.as_bytes(), a.encode())?;
                Ok((e, false, a))
            },
        );
        let (entry, duplicate, account) = match r {
            Ok(v) => v,
            Err(TransactionError::Abort(None)) => {
                return Err(PostError::NoAccount(number.to_owned()))
            }
            Err(TransactionError::Abort(Some(()))) => {
                return Err(
                    StoreError::Io(format!("billing records of {number} unreadable")).into(),
                )
            }
            Err(TransactionError::Storage(e)) => return Err(StoreError::from(e).into()),
        };
        if !duplicate {
            self.db.flush().map_err(StoreError::from)?;
        }
        Ok(Posted {
            entry,
            duplicate,
            account,
        })
    }

    /// The id of the last call record settled (0: none).
    pub fn settled_through(&self) -> Result<u64, StoreError> {
        Ok(self
            .postings
            .get(SETTLED_KEY)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Records up to `id` are settled (durable with the next flush: settling again is
    /// harmless, every posting is made once).
    pub fn set_settled_through(&self, id: u64) -> Result<(), StoreError> {
        self.postings.insert(SETTLED_KEY, &id.to_be_bytes())?;
        Ok(())
    }

    /// `number`'s ledger entries made in `[from_ms, to_ms)`, and the balance before the first
    /// of them (the balance after the last entry before `from_ms`, 0 when none).
    pub fn entries(
        &self,
        number: &str,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<(i64, Vec<LedgerEntry>), StoreError> {
        let mut opening = 0;
        let mut out = Vec::new();
        for item in self.ledger.scan_prefix(ledger_prefix(number)) {
            let (k, v) = item?;
            let e = LedgerEntry::decode(&v).map_err(|source| StoreError::Record {
                key: format!("ledger {number} {k:?}"),
                source,
            })?;
            if e.unix_ms < from_ms {
                opening = e.balance_minor;
            } else if e.unix_ms < to_ms {
                out.push(e);
            }
        }
        Ok((opening, out))
    }
}

fn decode_account(number: &str, v: &[u8]) -> Result<BillingAccount, StoreError> {
    BillingAccount::decode(v).map_err(|source| StoreError::Record {
        key: format!("billing account {number}"),
        source,
    })
}

fn transaction_error(number: &str, e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Abort(()) => {
            StoreError::Io(format!("billing account of {number} unreadable"))
        }
        TransactionError::Storage(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::credit::Mode;

    #[test]
    fn a_top_up_posted_twice_credits_once_and_the_balance_is_the_ledger_sum() {
        let dir = std::env::temp_dir().join(format!("sb-billing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 1000, 8).unwrap();
        let book = store.billing().unwrap();
        let top = |id: &str| EntryKind::TopUp { id: id.into() };
        assert!(matches!(
            book.post("+8211", 1, 100, top("t1")),
            Err(PostError::NoAccount(_))
        ));
        let settings = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
        book.put_settings("+8211", &settings).unwrap();
        let p1 = book.post("+8211", 10, 500, top("t1")).unwrap();
        let p2 = book.post("+8211", 20, 500, top("t1")).unwrap();
        assert!(!p1.duplicate && p2.duplicate);
        assert_eq!(p2.entry, p1.entry);
        book.post("+8211", 30, 200, top("t2")).unwrap();
        let adj = EntryKind::Adjustment {
            id: "t2".into(),
            note: "goodwill".into(),
        };
        book.post("+8211", 40, -50, adj).unwrap();
        let a = book.account("+8211").unwrap().unwrap();
        let (opening, all) = book.entries("+8211", 0, u64::MAX).unwrap();
        assert_eq!(opening, 0);
        assert_eq!(all.len(), 3);
        assert_eq!(a.balance_minor, 650);
        assert_eq!(
            a.balance_minor,
            all.iter().map(|e| e.amount_minor).sum::<i64>()
        );
        let (opening, some) = book.entries("+8211", 25, 35).unwrap();
        assert_eq!((opening, some.len()), (500, 1));
        // a settings change keeps the balance
        let gold = BillingAccount::new(Mode::Postpaid, Some("gold".into()), "EUR", 1000);
        let a = book.put_settings("+8211", &gold).unwrap();
        assert_eq!((a.balance_minor, a.credit_limit_minor), (650, 1000));
        assert_eq!(book.accounts().unwrap().len(), 1);
    }
}
