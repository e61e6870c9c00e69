//! Recordings in the store: one `RecordingRecord` per recorded call, an index entry per party
//! (so a number's recordings are one prefix scan), and each subscriber's "record my calls"
//! setting.
//!
//! The recorder thread (the `recording` module) is the only writer of recording records while the
//! switch runs; a record and its index entries change together in one sled transaction.
//! Settings are written by the store actor (CLI and HTTP administration). Reads may come from
//! any thread.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::recordings::{id_of_number_key, number_key, number_prefix};
use switchboard_engine::store::{
    aor_key, RecordError, RecordingId, RecordingRecord, RecordingSettings, RecordingState,
};

use super::{Store, StoreError};

impl Store {
    /// A fresh recording id (sled's persistent generator: never reused, growing).
    pub fn next_recording_id(&self) -> Result<RecordingId, StoreError> {
        Ok(RecordingId(self.db.generate_id()?))
    }

    /// Writes a recording and its parties' index entries (applied in memory; durable at the
    /// next flush).
    pub fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError> {
        let value = rec.encode();
        let keys = [
            number_key(&rec.caller, rec.id),
            number_key(&rec.callee, rec.id),
        ];
        (&self.recordings, &self.recordings_by_number)
            .transaction(|(recordings, index)| {
                recordings.insert(&rec.id.key(), value.as_slice())?;
                for k in &keys {
                    index.insert(k.as_slice(), &[][..])?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(transaction_error)
    }

    pub fn recording(&self, id: RecordingId) -> Result<Option<RecordingRecord>, StoreError> {
        match self.recordings.get(id.key())? {
            Some(v) => Ok(Some(decode(id, &v)?)),
            None => Ok(None),
        }
    }

    /// Every recording (`None`), or those `number` is a party to, oldest first.
    pub fn recordings(&self, number: Option<&Aor>) -> Result<Vec<RecordingRecord>, StoreError> {
        let mut out = Vec::new();
        let Some(number) = number else {
            for item in self.recordings.iter() {
                let (k, v) = item?;
                let id = RecordingId::from_key(&k).unwrap_or(RecordingId(0));
                out.push(decode(id, &v)?);
            }
            return Ok(out);
        };
        for item in self
            .recordings_by_number
            .scan_prefix(number_prefix(number.as_str()))
        {
            let (k, _) = item?;
            let Some(id) = id_of_number_key(number.as_str(), &k) else {
                continue;
            };
            // written in one transaction with the record, so it is there
            if let Some(rec) = self.recording(id)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Recordings still marked in progress (a scan: start-up only).
    pub fn recordings_in_progress(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        let mut all = self.recordings(None)?;
        all.retain(|r| r.state == RecordingState::InProgress);
        Ok(all)
    }

    /// Removes a recording's record and index entries; the record, if there was one.
    pub fn remove_recording(&self, id: RecordingId) -> Result<Option<RecordingRecord>, StoreError> {
        let Some(rec) = self.recording(id)? else {
            return Ok(None);
        };
        let keys = [
            number_key(&rec.caller, rec.id),
            number_key(&rec.callee, rec.id),
        ];
        (&self.recordings, &self.recordings_by_number)
            .transaction(|(recordings, index)| {
                recordings.remove(&id.key())?;
                for k in &keys {
                    index.remove(k.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(transaction_error)?;
        Ok(Some(rec))
    }

    /// A subscriber's recording settings (recording off when none were stored).
    pub fn recording_settings(&self, aor: &Aor) -> Result<RecordingSettings, StoreError> {
        match self.recording_settings.get(aor_key(aor))? {
            Some(v) => RecordingSettings::decode(&v).map_err(|source| StoreError::Record {
                key: aor.as_str().to_owned(),
                source,
            }),
            None => Ok(RecordingSettings::default()),
        }
    }

    /// Whether `aor` asked for its calls to be recorded.
    pub fn record_calls(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(self.recording_settings(aor)?.record_calls)
    }

    /// Replaces a subscriber's recording settings; settings with recording off leave no
    /// record.
    pub fn put_recording_settings(
        &self,
        aor: &Aor,
        settings: &RecordingSettings,
    ) -> Result<(), StoreError> {
        if settings.record_calls {
            self.recording_settings
                .insert(aor_key(aor), settings.encode())?;
        } else {
            self.recording_settings.remove(aor_key(aor))?;
        }
        Ok(())
    }
}

fn decode(id: RecordingId, v: &[u8]) -> Result<RecordingRecord, StoreError> {
    RecordingRecord::decode(v).map_err(|source: RecordError| StoreError::Record {
        key: format!("recording {id}"),
        source,
    })
}

fn transaction_error(e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Storage(e) => e.into(),
        // nothing in these transactions aborts
        TransactionError::Abort(()) => StoreError::Io("transaction aborted".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-rec-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn rec(id: RecordingId, caller: &str, callee: &str) -> RecordingRecord {
        RecordingRecord {
            id,
            caller: caller.into(),
            callee: callee.into(),
            call_id: format!("call-{id}"),
            started_unix_ms: 1_700_000_000_000 + id.0,
            duration_ms: 0,
            bytes: 0,
            state: RecordingState::InProgress,
        }
    }

    #[test]
    fn recordings_are_listed_by_party_and_removed_with_their_index_entries() {
        let s = Store::open(&tmp("index"), 100, 8).unwrap();
        let (a, b) = (
            s.next_recording_id().unwrap(),
            s.next_recording_id().unwrap(),
        );
        assert!(b > a, "ids grow");
        let c = s.next_recording_id().unwrap();
        s.put_recording(&rec(a, "1001", "1002")).unwrap();
        s.put_recording(&rec(b, "1002", "+82111234567")).unwrap();
        s.put_recording(&rec(c, "1003", "1003")).unwrap();
        let ids = |n: Option<&str>| -> Vec<RecordingId> {
            let aor = n.map(Aor::from_canonical);
            s.recordings(aor.as_ref())
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(None), [a, b, c]);
        assert_eq!(ids(Some("1001")), [a]);
        assert_eq!(ids(Some("1002")), [a, b]);
        assert_eq!(ids(Some("+82111234567")), [b]);
        assert_eq!(ids(Some("1003")), [c], "a call to oneself is listed once");
        assert_eq!(
            ids(Some("100")),
            [],
            "a prefix of a number is not that number"
        );

        let mut done = rec(a, "1001", "1002");
        done.state = RecordingState::Done;
        done.duration_ms = 3_000;
        s.put_recording(&done).unwrap();
        assert_eq!(s.recording(a).unwrap(), Some(done.clone()));
        assert_eq!(
            s.recordings_in_progress()
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
            [b, c]
        );

        assert_eq!(s.remove_recording(a).unwrap(), Some(done));
        assert_eq!(s.remove_recording(a).unwrap(), None);
        assert_eq!(ids(Some("1002")), [b]);
        assert_eq!(ids(Some("1001")), []);
        assert!(s.recording(a).unwrap().is_none());
    }

    #[test]
    fn recording_settings_default_to_off_and_go_with_the_account() {
        let s = Store::open(&tmp("settings"), 100, 8).unwrap();
        let aor = Aor::from_canonical("1001");
        // a data directory from before recording existed has no settings at all
        assert!(!s.record_calls(&aor).unwrap());
        let on = RecordingSettings {
            record_calls: true,
            changed_unix: 5,
        };
        s.put_recording_settings(&aor, &on).unwrap();
        assert!(s.record_calls(&aor).unwrap());
        assert_eq!(s.recording_settings(&aor).unwrap(), on);
        s.put_recording_settings(&aor, &RecordingSettings::default())
            .unwrap();
        assert!(s.recording_settings.is_empty(), "off leaves no record");
        s.put_recording_settings(&aor, &on).unwrap();
        s.remove_account(&aor).unwrap();
        assert!(!s.record_calls(&aor).unwrap());
    }

    #[test]
    fn a_damaged_settings_record_is_an_error_not_a_silent_off() {
        let s = Store::open(&tmp("damaged"), 100, 8).unwrap();
        let aor = Aor::from_canonical("1001");
        s.recording_settings
            .insert(aor_key(&aor), &[9u8, 1][..])
            .unwrap();
        assert!(matches!(
            s.record_calls(&aor),
            Err(StoreError::Record {
                source: RecordError::Version(9),
                ..
            })
        ));
    }
}
