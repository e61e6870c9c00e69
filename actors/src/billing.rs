//! Billing: the subscribers' billing accounts and ledgers (durable, `store::billing`), their
//! balances in memory with the credit calls in progress hold (`switchboard_engine::credit::
//! Wallets`, one lock), and the settlement of call charges.
//!
//! Settlement: the CDR writer hands every batch of records it has made durable to
//! [`Billing::settle`]; each answered, rated call of a subscriber with a billing account is
//! posted to its ledger as a debit under the posting id of its record (`c:<cdr id>`), so a
//! record is debited exactly once however often it is settled, and every record gives its
//! call's hold back. The id of the last record settled is kept; at start the records written
//! after it (a crash between the record and its debit) are settled before any call.
//!
//! The lock is held for memory work only (a check, a hold, a balance update): ledger writes
//! and their fsync happen outside it, the new balance applied after (older balances are
//! ignored), so calls never wait for the disk. Until a debit is applied the call's hold still
//! covers it, so the free credit a new call sees is never more than the truth.

use std::sync::{Mutex, MutexGuard};

use switchboard_engine::cdr::{CallRecord, Outcome};
use switchboard_engine::credit::{CallCharge, EntryKind, Wallets};
use tracing::{error, info};

use crate::store::billing::{BillingBook, PostError, Posted};
use crate::store::cdr::CdrLog;
use crate::store::{Store, StoreError};

/// The billing of the switch.
pub struct Billing {
    book: BillingBook,
    wallets: Mutex<Wallets>,
}

impl Billing {
    /// Loads every account's balance, then settles the records of `log` not settled yet.
    pub fn start(store: &Store, log: Option<&CdrLog>) -> Result<Billing, StoreError> {
        let book = store.billing()?;
        let mut wallets = Wallets::new();
        let accounts = book.accounts()?;
        for (number, a) in &accounts {
            wallets.put(number, a);
        }
        let billing = Billing {
            book,
            wallets: Mutex::new(wallets),
        };
        if let Some(log) = log {
            let mut after = billing.book.settled_through()?;
            let mut n = 0;
            loop {
                let batch = log.after(after, 256)?;
                let Some(last) = batch.last() else { break };
                after = last.id;
                n += batch.len();
                billing.settle(&batch);
            }
            if n > 0 {
                info!(records = n, "call records settled at start");
            }
        }
        info!(accounts = accounts.len(), "billing accounts loaded");
        Ok(billing)
    }

    /// The balances and holds (hold the guard briefly: calls wait on it).
    pub fn wallets(&self) -> MutexGuard<'_, Wallets> {
        // a panic while holding the lock leaves consistent numbers (each change is one step)
        self.wallets.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn book(&self) -> &BillingBook {
        &self.book
    }

    /// Posts to `number`'s ledger and brings its balance in memory up to date.
    pub fn post(
        &self,
        number: &str,
        unix_ms: u64,
        amount: i64,
        kind: EntryKind,
    ) -> Result<Posted, PostError> {
        let posted = self.book.post(number, unix_ms, amount, kind)?;
        self.wallets()
            .apply(number, posted.entry.seq, posted.account.balance_minor);
        Ok(posted)
    }

    /// Debits the charges of `records` (written to the CDR log) and gives their holds back.
    pub fn settle(&self, records: &[CallRecord]) {
        for r in records {
            if let Some(kind) = charge_of(r) {
                let amount = r.charge.as_ref().map_or(0, |c| c.amount_minor);
                match self.post(&r.caller, r.end_unix_ms, -amount, kind) {
                    Ok(_) | Err(PostError::NoAccount(_)) => {}
                    Err(e) => error!(error = %e, cdr = r.id, "call charge not debited"),
                }
            }
            self.wallets().release(&r.call_id);
        }
        if let Some(last) = records.iter().map(|r| r.id).max().filter(|&id| id > 0) {
            if let Err(e) = self.book.set_settled_through(last) {
                error!(error = %e, "settled record id not kept");
            }
        }
    }
}

/// The ledger entry of a record's charge, when it has one.
fn charge_of(r: &CallRecord) -> Option<EntryKind> {
    let c = r.charge.as_ref()?;
    if r.outcome != Outcome::Answered || c.amount_minor == 0 {
        return None;
    }
    Some(EntryKind::Call(CallCharge {
        cdr_id: r.id,
        call_id: r.call_id.clone(),
        destination: r.routed.clone().unwrap_or_else(|| r.dialed.clone()),
        prefix: c.prefix.clone(),
        table: c.table.clone(),
        billed_secs: c.billed_secs,
        answer_unix_ms: r.answer_unix_ms.unwrap_or(r.end_unix_ms),
        end_unix_ms: r.end_unix_ms,
        reason: r.reason.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::cdr::{Charge, MediaMode};
    use switchboard_engine::credit::{BillingAccount, Mode};
    use switchboard_engine::tariff::{Fixed, Increments, Rate};

    fn record(id: u64, call_id: &str, amount: i64) -> CallRecord {
        CallRecord {
            id,
            call_id: call_id.into(),
            caller: "+8211".into(),
            dialed: "+12125551234".into(),
            routed: Some("+12125551234".into()),
            trunk: Some("gw".into()),
            country: None,
            setup_unix_ms: 1_000,
            answer_unix_ms: Some(2_000),
            end_unix_ms: 5_000,
            outcome: Outcome::Answered,
            cause: 200,
            reason: "credit exhausted".into(),
            media: MediaMode::Direct,
            plugin_version: 1,
            charge: Some(Charge {
                table: "default".into(),
                prefix: "1212".into(),
                billed_secs: 3,
                amount_minor: amount,
                currency: "EUR".into(),
            }),
        }
    }

    #[test]
    fn a_record_is_debited_once_and_frees_its_hold_and_a_restart_settles_the_rest() {
        let dir = std::env::temp_dir().join(format!("sb-billing-settle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 1000, 8).unwrap();
        let billing = Billing::start(&store, None).unwrap();
        let a = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
        let a = billing.book().put_settings("+8211", &a).unwrap();
        billing.wallets().put("+8211", &a);
        billing
            .post("+8211", 10, 100, EntryKind::TopUp { id: "t".into() })
            .unwrap();
        let rate = Rate {
            per_minute: Fixed(600_000),
            connection: Fixed(50_000),
            increments: Increments {
                first_secs: 1,
                next_secs: 1,
            },
            currency: "EUR".into(),
        };
        billing.wallets().admit("+8211", "c1", Some(&rate));
        assert_eq!(billing.wallets().reserve("c1").unwrap().held, 100);
        let r = record(1, "c1", 8);
        billing.settle(std::slice::from_ref(&r));
        billing.settle(std::slice::from_ref(&r));
        assert_eq!(billing.wallets().balance("+8211"), Some((92, 0)));
        let (_, entries) = billing.book().entries("+8211", 0, u64::MAX).unwrap();
        assert_eq!(entries.len(), 2, "the top-up and one debit");
        assert_eq!(billing.book().settled_through().unwrap(), 1);

        // records 2 and 3 reach the log but the switch stops before settling them
        let log = store.cdr_log().unwrap();
        log.append(&[r, record(2, "c2", 5), record(3, "c3", 7)])
            .unwrap();
        drop(billing);
        let billing = Billing::start(&store, Some(&log)).unwrap();
        assert_eq!(billing.wallets().balance("+8211"), Some((80, 0)));
        let a = billing.book().account("+8211").unwrap().unwrap();
        let (_, entries) = billing.book().entries("+8211", 0, u64::MAX).unwrap();
        assert_eq!(entries.len(), 4, "record 1 was not debited again");
        assert_eq!(
            a.balance_minor,
            entries.iter().map(|e| e.amount_minor).sum::<i64>()
        );
        assert_eq!(billing.book().settled_through().unwrap(), 3);
    }
}
