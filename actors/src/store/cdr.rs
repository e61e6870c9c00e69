//! The durable CDR log in the store: one [`CallRecord`] per ended call, keyed by its id
//! (big-endian, so sled keeps them in id order), in the tree `cdrs`.
//!
//! The CDR writer (the `cdr` module) is the only writer while the switch runs: it gives each
//! record the next id, appends a batch and flushes (fsync) before the records count anywhere
//! else (day files, exports). Reads may come from any thread.

use switchboard_engine::cdr::{CallRecord, CDR_TREE};

use super::{Store, StoreError};

/// The CDR log's tree.
#[derive(Clone)]
pub struct CdrLog {
    tree: sled::Tree,
    db: sled::Db,
}

impl Store {
    /// The CDR log of this store.
    pub fn cdr_log(&self) -> Result<CdrLog, StoreError> {
        Ok(CdrLog {
            tree: self.db.open_tree(CDR_TREE)?,
            db: self.db.clone(),
        })
    }
}

impl CdrLog {
    /// The id of the last record written (0 when none is).
    pub fn last_id(&self) -> Result<u64, StoreError> {
        Ok(self.tree.last()?.map_or(0, |(k, _)| id_of(&k)))
    }

    /// Appends `records` (their ids set by the caller, above `last_id`) and flushes them to
    /// disk (fsync) before returning: once this returns, they survive any crash.
    pub fn append(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in records {
            batch.insert(&r.id.to_be_bytes(), r.encode());
        }
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// The record `id`, if written.
    pub fn get(&self, id: u64) -> Result<Option<CallRecord>, StoreError> {
        match self.tree.get(id.to_be_bytes())? {
            Some(v) => Ok(Some(decode(id, &v)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` records with an id above `after`, in id order.
    pub fn after(&self, after: u64, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        let mut out = Vec::new();
        let from = after.saturating_add(1).to_be_bytes();
        for item in self.tree.range(from..).take(limit) {
            let (k, v) = item?;
            out.push(decode(id_of(&k), &v)?);
        }
        Ok(out)
    }

    /// The records from the last one backwards, while `keep_going` says so (the first record
    /// it refuses is not returned); oldest first.
    pub fn tail_while(
        &self,
        mut keep_going: impl FnMut(&CallRecord) -> bool,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.iter().rev() {
            let (k, v) = item?;
            let r = decode(id_of(&k), &v)?;
            if !keep_going(&r) {
                break;
            }
            out.push(r);
        }
        out.reverse();
        Ok(out)
    }

    /// Number of records (a scan).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

fn id_of(k: &[u8]) -> u64 {
    k.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn decode(id: u64, v: &[u8]) -> Result<CallRecord, StoreError> {
    CallRecord::decode(v).map_err(|source| StoreError::Record {
        key: format!("cdr {id}"),
        source,
    })
}
