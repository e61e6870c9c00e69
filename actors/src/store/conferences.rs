//! Conferences the operator made over HTTP: their settings by name (`ConferenceRecord`). The
//! store actor writes them (HTTP administration); the conference directory reads a record
//! when it starts a bridge.

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

    /// Makes or replaces conference `name`'s settings.
    pub fn put_conference(&self, name: &str, rec: &ConferenceRecord) -> Result<(), StoreError> {
        self.conferences.insert(name.as_bytes(), rec.encode())?;
        Ok(())
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
        store.put_conference("team", &rec).unwrap();
        rec.record = true;
        store.put_conference("team", &rec).unwrap();
        assert_eq!(store.conference("team").unwrap(), Some(rec.clone()));
        assert_eq!(store.conferences().unwrap(), vec![("team".to_owned(), rec)]);
        assert!(store.delete_conference("team").unwrap());
        assert!(!store.delete_conference("team").unwrap());
        assert!(store.conferences().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
