//! Conferences the operator made over HTTP: their settings by name (`ConferenceRecord`). The
//! store actor writes them (HTTP administration, `api::ConferenceAdmin`, flushed before the
//! answer); the conference directory reads a record when it starts a bridge.

use switchboard_engine::store::ConferenceRecord;

use super::{Store, StoreError};

impl Store {
    /// The stored settings of conference `name`, if the operator made it.
    pub fn conference(&self, name: &str) -> Result<Option<ConferenceRecord>, StoreError> {
        match self.conferences.get(name.as_bytes())? {
            Some(v) => {
                ConferenceRecord::decode(&v)
                    .map(Some)
                    .map_err(|source| StoreError::Record {
                        key: name.to_owned(),
                        source,
                    })
            }
            None => Ok(None),
        }
    }

    /// Every stored conference, by name.
    pub fn conferences(&self) -> Result<Vec<(String, ConferenceRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.conferences.iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let rec = ConferenceRecord::decode(&v).map_err(|source| StoreError::Record {
                key: name.clone(),
                source,
            })?;
            out.push((name, rec));
        }
        Ok(out)
    }

    /// Makes conference `name` with `rec` unless it is stored already; `false` (and nothing
    /// written) if it is. One compare-and-swap, so two makers of one name cannot both win.
    pub fn create_conference(
        &self,
        name: &str,
        rec: &ConferenceRecord,
    ) -> Result<bool, StoreError> {
        let swapped = self.conferences.compare_and_swap(
            name.as_bytes(),
            None as Option<&[u8]>,
            Some(rec.encode()),
        )?;
        Ok(swapped.is_ok())
    }

    /// Makes or replaces conference `name`'s settings; `true` if it was not stored before.
    pub fn put_conference(&self, name: &str, rec: &ConferenceRecord) -> Result<bool, StoreError> {
        Ok(self
            .conferences
            .insert(name.as_bytes(), rec.encode())?
            .is_none())
    }

    /// Forgets conference `name`; `false` if it was not stored.
    pub fn delete_conference(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.conferences.remove(name.as_bytes())?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conference_is_stored_listed_replaced_and_forgotten() {
        let dir = std::env::temp_dir().join(format!("sb-conf-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        assert_eq!(store.conference("team").unwrap(), None);
        let mut rec = ConferenceRecord {
            pin: Some("1234".into()),
            max_participants: 10,
            ..ConferenceRecord::default()
        };
        assert!(store.put_conference("team", &rec).unwrap(), "new");
        rec.record = true;
        assert!(!store.put_conference("team", &rec).unwrap(), "replaced");
        assert_eq!(store.conference("team").unwrap(), Some(rec.clone()));
        assert_eq!(store.conferences().unwrap(), vec![("team".to_owned(), rec)]);
        assert!(store.delete_conference("team").unwrap());
        assert!(!store.delete_conference("team").unwrap());
        assert!(store.conferences().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_conference_is_created_once_and_the_second_maker_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("sb-conf-create-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let first = ConferenceRecord {
            pin: Some("1234".into()),
            max_participants: 10,
            ..ConferenceRecord::default()
        };
        let second = ConferenceRecord {
            max_participants: 3,
            ..ConferenceRecord::default()
        };
        assert!(store.create_conference("board", &first).unwrap());
        assert!(!store.create_conference("board", &second).unwrap());
        assert_eq!(store.conference("board").unwrap(), Some(first));
        assert!(store.delete_conference("board").unwrap());
        assert!(store.create_conference("board", &second).unwrap());
        assert_eq!(store.conference("board").unwrap(), Some(second));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
