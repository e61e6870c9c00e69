//! Voice notices in the store: one `VoiceNoticeRecord` per text message read out to a
//! landline, keyed by its sequence number (`messaging::voice::notice_key`), with its outcome.
//!
//! The VoiceNotices actor is the only writer while the switch runs (inserts are applied in
//! memory; it has the store actor flush before the sender is answered and when a notice
//! ends). Reads (the API, start-up) may come from any thread.

use switchboard_engine::messaging::voice::{notice_key, VoiceNoticeRecord};

use super::{decode, Store, StoreError};

impl Store {
    /// Writes a notice (applied in memory; durable at the next flush).
    pub fn put_notice(&self, seq: u64, rec: &VoiceNoticeRecord) -> Result<(), StoreError> {
        self.voice_notices.insert(notice_key(seq), rec.encode())?;
        Ok(())
    }

    pub fn notice(&self, seq: u64) -> Result<Option<VoiceNoticeRecord>, StoreError> {
        match self.voice_notices.get(notice_key(seq))? {
            Some(v) => Ok(Some(decode(&seq.to_string(), &v)?)),
            None => Ok(None),
        }
    }

    /// Every notice still to be delivered, oldest first (picked up again at start-up). A
    /// record that does not decode is skipped, and logged.
    pub fn pending_notices(&self) -> Result<Vec<(u64, VoiceNoticeRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.voice_notices.iter() {
            let (k, v) = item?;
            let Some(seq) = switchboard_engine::messaging::voice::seq_of_key(&k) else {
                continue;
            };
            match decode::<VoiceNoticeRecord>(&seq.to_string(), &v) {
                Ok(rec) if rec.state.is_pending() => out.push((seq, rec)),
                Ok(_) => {}
                Err(e) => tracing::error!(seq, error = %e, "unreadable voice notice skipped"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::messaging::voice::{Cause, Failure, NoticeState};

    fn record(state: NoticeState) -> VoiceNoticeRecord {
        VoiceNoticeRecord {
            id: "1.x@sb.example".into(),
            to: "+82221234567".into(),
            group: "pstn".into(),
            sender: "+821099990000".into(),
            text: "closed today".into(),
            accepted_unix_ms: 1,
            attempts: 0,
            state,
            updated_unix_ms: 1,
        }
    }

    #[test]
    fn notices_are_kept_by_sequence_and_only_pending_ones_are_picked_up_again() {
        let dir = std::env::temp_dir().join(format!("sb-notices-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let pending = record(NoticeState::Pending { last: None });
        store.put_notice(7, &pending).unwrap();
        store
            .put_notice(3, &record(NoticeState::Delivered))
            .unwrap();
        let failed = NoticeState::Failed(Failure::new(Cause::Busy, 486));
        store.put_notice(9, &record(failed)).unwrap();
        let mut waiting = record(NoticeState::Pending {
            last: Some(Failure::new(Cause::NoAnswer, 487)),
        });
        waiting.attempts = 1;
        store.put_notice(300, &waiting).unwrap();
        assert_eq!(store.notice(9).unwrap().unwrap().state, failed);
        assert_eq!(store.notice(8).unwrap(), None);
        let seqs: Vec<u64> = store
            .pending_notices()
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, [7, 300]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
