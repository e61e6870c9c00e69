//! The durable message queues: one prefix of the `queue` tree per number, in acceptance order.
//!
//! Only the queue writer (`message_queue`) inserts and removes; reads (a number's next batch,
//! whether anything waits) may come from any thread, and sled serves them from memory.

use switchboard_engine::messaging::{
    self, parse_queue_key, queue_key, queue_prefix, StoredMessage,
};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store;

use super::{decode, Store, StoreError};

impl Store {
    /// A fresh sequence number, greater than every one handed out before (across restarts).
    pub fn next_message_seq(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Adds a message to the queue of `aor` (applied in memory; durable at the next flush).
    pub fn put_message(&self, aor: &Aor, seq: u64, m: &StoredMessage) -> Result<(), StoreError> {
        self.queue.insert(queue_key(aor, seq), store::encode(m))?;
        Ok(())
    }

    /// Adds one message to several queues (a chat room post's copies), encoded once. (One
    /// insert each: a sled batch measured slower, `benches/README.md`.)
    pub fn put_message_copies(
        &self,
        copies: &[(Aor, u64)],
        m: &StoredMessage,
    ) -> Result<(), StoreError> {
        let value = sled::IVec::from(store::encode(m));
        for (aor, seq) in copies {
            self.queue.insert(queue_key(aor, *seq), value.clone())?;
        }
        Ok(())
    }

    /// Removes message `seq` of `aor`; its body length if it was there.
    pub fn remove_message(&self, aor: &Aor, seq: u64) -> Result<Option<usize>, StoreError> {
        Ok(self
            .queue
            .remove(queue_key(aor, seq))?
            .and_then(|v| store::decode::<StoredMessage>(&v).ok())
            .map(|m| m.body.len()))
    }

    /// Up to `limit` messages of `aor` after sequence `after`, in order.
    pub fn messages(
        &self,
        aor: &Aor,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, StoredMessage)>, StoreError> {
        let prefix = queue_prefix(aor);
        let start = match after {
            Some(s) => queue_key(aor, s.saturating_add(1)),
            None => prefix.clone(),
        };
        let mut out = Vec::new();
        for item in self.queue.range(start..) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let Some((_, seq)) = parse_queue_key(&k) else {
                continue;
            };
            match decode(aor.as_str(), &v) {
                Ok(m) => out.push((seq, m)),
                Err(e) => {
                    // a record no release can read would block its queue for ever
                    tracing::error!(number = %aor.redacted(), seq, error = %e, "unreadable queued message removed");
                    self.queue.remove(&k)?;
                }
            }
        }
        Ok(out)
    }

    /// Whether anything waits for `aor`.
    pub fn has_messages(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(self
            .queue
            .scan_prefix(queue_prefix(aor))
            .next()
            .transpose()?
            .is_some())
    }

    /// Messages and body bytes waiting for `aor` (a scan of its prefix).
    pub fn queue_usage(&self, aor: &Aor) -> Result<messaging::QueueUsage, StoreError> {
        let mut u = messaging::QueueUsage::default();
        for item in self.queue.scan_prefix(queue_prefix(aor)) {
            let (_, v) = item?;
            let len = store::decode::<StoredMessage>(&v).map_or(0, |m| m.body.len());
            u.add(len);
        }
        Ok(u)
    }

    /// Removes every message of `aor`; how many there were.
    pub fn purge_messages(&self, aor: &Aor) -> Result<u64, StoreError> {
        let mut n = 0;
        for item in self.queue.scan_prefix(queue_prefix(aor)) {
            let (k, _) = item?;
            if self.queue.remove(k)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Messages that expired by `now` (unix seconds): address, sequence and body length.
    pub fn expired_messages(&self, now: u64) -> Result<Vec<(Aor, u64, usize)>, StoreError> {
        let mut out = Vec::new();
        for item in self.queue.iter() {
            let (k, v) = item?;
            let (Some((aor, seq)), Ok(m)) =
                (parse_queue_key(&k), store::decode::<StoredMessage>(&v))
            else {
                continue;
            };
            if m.expires_unix <= now {
                out.push((aor, seq, m.body.len()));
            }
        }
        Ok(out)
    }

    /// Messages waiting in every queue (a scan; for the gauge at start-up).
    pub fn count_messages(&self) -> u64 {
        self.queue.len() as u64
    }
}
