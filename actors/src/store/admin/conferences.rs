//! Conferences the operator makes, changes and deletes over HTTP (through the store actor):
//! their stored settings (`ConferenceRecord`), each change flushed before it is confirmed.
//! The values were checked by the caller (the HTTP layer parses names and PINs); this is the
//! write and its one refusal, a name stored already.

use switchboard_engine::store::ConferenceRecord;

use crate::store::{Store, StoreError};

/// Why a conference change was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConferenceAdminError {
    #[error("conference {name} exists")]
    Exists { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes conference `name`; refused if it is stored already.
pub fn create(
    store: &Store,
    name: &str,
    rec: &ConferenceRecord,
) -> Result<(), ConferenceAdminError> {
    if !store.create_conference(name, rec)? {
        return Err(ConferenceAdminError::Exists {
            name: name.to_owned(),
        });
    }
    store.flush()?;
    Ok(())
}

/// Makes conference `name` or replaces its settings; `true` if it was new.
pub fn replace(
    store: &Store,
    name: &str,
    rec: &ConferenceRecord,
) -> Result<bool, ConferenceAdminError> {
    let created = store.put_conference(name, rec)?;
    store.flush()?;
    Ok(created)
}

/// Forgets conference `name`'s settings; `false` if none were stored.
pub fn delete(store: &Store, name: &str) -> Result<bool, ConferenceAdminError> {
    let was = store.delete_conference(name)?;
    if was {
        store.flush()?;
    }
    Ok(was)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_create_is_refused_a_replace_is_not_and_a_delete_says_what_was_there() {
        let d = std::env::temp_dir().join(format!("sb-conf-admin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d, 100, 8).unwrap();
        let rec = ConferenceRecord {
            max_participants: 5,
            ..ConferenceRecord::default()
        };
        create(&s, "team", &rec).unwrap();
        let e = create(&s, "team", &rec).unwrap_err();
        assert!(matches!(e, ConferenceAdminError::Exists { ref name } if name == "team"));
        assert_eq!(e.to_string(), "conference team exists");
        assert!(!replace(&s, "team", &rec).unwrap(), "it was there");
        assert!(replace(&s, "other", &rec).unwrap(), "it was new");
        assert!(delete(&s, "team").unwrap());
        assert!(!delete(&s, "team").unwrap());
        assert_eq!(s.conference("other").unwrap(), Some(rec));
        drop(s);
        let _ = std::fs::remove_dir_all(&d);
    }
}
