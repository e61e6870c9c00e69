//! Voicemail in the store: the records of each mailbox's messages, of the messages being left
//! right now, and each subscriber's mailbox settings (`switchboard_engine::voicemail::record`
//! says the keys).
//!
//! Only the mailbox store (the `mailbox` module) calls these: it keeps the records and the audio
//! files in step and decides when to flush. A message moves from pending to stored in one
//! sled transaction.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{aor_key, RecordError};
use switchboard_engine::voicemail::record::{id_of_message_key, mailbox_prefix, message_key};
use switchboard_engine::voicemail::{MailboxSettings, VoicemailId, VoicemailRecord};

use super::{Store, StoreError};

impl Store {
    /// A fresh message id (sled's persistent generator: never reused, growing).
    pub fn next_voicemail_id(&self) -> Result<VoicemailId, StoreError> {
        Ok(VoicemailId(self.db.generate_id()?))
    }

    /// The messages of `mailbox`, oldest first.
    pub fn voicemails(&self, mailbox: &Aor) -> Result<Vec<VoicemailRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .voicemails
            .scan_prefix(mailbox_prefix(mailbox.as_str()))
        {
            let (k, v) = item?;
            if id_of_message_key(mailbox.as_str(), &k).is_some() {
                out.push(decode(&k, &v)?);
            }
        }
        Ok(out)
    }

    pub fn voicemail(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<Option<VoicemailRecord>, StoreError> {
        let key = message_key(mailbox.as_str(), id);
        match self.voicemails.get(&key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Replaces a stored message's record (applied in memory; durable at the next flush).
    pub fn put_voicemail(&self, mailbox: &Aor, rec: &VoicemailRecord) -> Result<(), StoreError> {
        self.voicemails
            .insert(message_key(mailbox.as_str(), rec.id), rec.encode())?;
        Ok(())
    }

    /// Changes a stored message's record with `f`, atomically (a concurrent delete wins: a
    /// message that is gone stays gone). The record after the change, if there is one.
    pub fn update_voicemail(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
        f: impl Fn(&mut VoicemailRecord),
    ) -> Result<Option<VoicemailRecord>, StoreError> {
        let key = message_key(mailbox.as_str(), id);
        let new = self.voicemails.update_and_fetch(&key, |old| {
            let old = old?;
            match VoicemailRecord::decode(old) {
                Ok(mut r) => {
                    f(&mut r);
                    Some(r.encode())
                }
                // left as it is; reported below
                Err(_) => Some(old.to_vec()),
            }
        })?;
        match new {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Removes a stored message's record; the record, if there was one.
    pub fn remove_voicemail(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<Option<VoicemailRecord>, StoreError> {
        let key = message_key(mailbox.as_str(), id);
        match self.voicemails.remove(&key)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Notes a message being left (before its audio file exists).
    pub fn put_pending_voicemail(
        &self,
        mailbox: &Aor,
        rec: &VoicemailRecord,
    ) -> Result<(), StoreError> {
        self.voicemails_pending
            .insert(message_key(mailbox.as_str(), rec.id), rec.encode())?;
        Ok(())
    }

    /// Forgets a message being left (discarded).
    pub fn remove_pending_voicemail(
        &self,
        mailbox: &Aor,
        id: VoicemailId,
    ) -> Result<(), StoreError> {
        self.voicemails_pending
            .remove(message_key(mailbox.as_str(), id))?;
        Ok(())
    }

    /// Moves a message from pending to stored, as `rec`, in one transaction.
    pub fn commit_voicemail(&self, mailbox: &Aor, rec: &VoicemailRecord) -> Result<(), StoreError> {
        let key = message_key(mailbox.as_str(), rec.id);
        let value = rec.encode();
        (&self.voicemails, &self.voicemails_pending)
            .transaction(|(stored, pending)| {
                pending.remove(key.as_slice())?;
                stored.insert(key.as_slice(), value.as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => e.into(),
                // nothing in this transaction aborts
                TransactionError::Abort(()) => StoreError::Io("transaction aborted".into()),
            })
    }

    /// Every stored message of every mailbox (a scan: start-up only).
    pub fn all_voicemails(&self) -> Result<Vec<(Aor, VoicemailRecord)>, StoreError> {
        scan(&self.voicemails)
    }

    /// Every message being left (a scan: start-up only).
    pub fn pending_voicemails(&self) -> Result<Vec<(Aor, VoicemailRecord)>, StoreError> {
        scan(&self.voicemails_pending)
    }

    /// A subscriber's mailbox settings (on, no PIN, no greetings when none were stored).
    pub fn voicemail_settings(&self, mailbox: &Aor) -> Result<MailboxSettings, StoreError> {
        match self.voicemail_settings.get(aor_key(mailbox))? {
            Some(v) => MailboxSettings::decode(&v).map_err(|source| StoreError::Record {
                key: format!("voicemail settings of {}", mailbox.as_str()),
                source,
            }),
            None => Ok(MailboxSettings::default()),
        }
    }

    /// Replaces a subscriber's mailbox settings; the default settings leave no record.
    pub fn put_voicemail_settings(
        &self,
        mailbox: &Aor,
        settings: &MailboxSettings,
    ) -> Result<(), StoreError> {
        if *settings == MailboxSettings::default() {
            self.voicemail_settings.remove(aor_key(mailbox))?;
        } else {
            self.voicemail_settings
                .insert(aor_key(mailbox), settings.encode())?;
        }
        Ok(())
    }

    /// Every mailbox with settings of its own (a scan: start-up only).
    pub fn voicemail_settings_all(&self) -> Result<Vec<(Aor, MailboxSettings)>, StoreError> {
        let mut out = Vec::new();
        for item in self.voicemail_settings.iter() {
            let (k, v) = item?;
            let aor = Aor::from_canonical(&String::from_utf8_lossy(&k));
            let s = MailboxSettings::decode(&v).map_err(|source| StoreError::Record {
                key: format!("voicemail settings of {}", aor.as_str()),
                source,
            })?;
            out.push((aor, s));
        }
        Ok(out)
    }
}

/// The mailbox and record of each entry of a message tree (`number 0x00 id` keys).
fn scan(tree: &sled::Tree) -> Result<Vec<(Aor, VoicemailRecord)>, StoreError> {
    let mut out = Vec::new();
    for item in tree.iter() {
        let (k, v) = item?;
        let Some(nul) = k.iter().position(|&b| b == 0) else {
            continue;
        };
        let number = String::from_utf8_lossy(&k[..nul]).into_owned();
        if id_of_message_key(&number, &k).is_none() {
            continue;
        }
        out.push((Aor::from_canonical(&number), decode(&k, &v)?));
    }
    Ok(out)
}

fn decode(key: &[u8], v: &[u8]) -> Result<VoicemailRecord, StoreError> {
    VoicemailRecord::decode(v).map_err(|source: RecordError| StoreError::Record {
        key: format!(
            "voicemail {}",
            String::from_utf8_lossy(key).replace('\0', "/")
        ),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use switchboard_engine::voicemail::{Folder, Greeting, Greetings};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-vm-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn rec(id: VoicemailId) -> VoicemailRecord {
        VoicemailRecord {
            id,
            caller: "1002".into(),
            received_unix: 1_700_000_000,
            duration_ms: 0,
            folder: Folder::New,
            bytes: 0,
        }
    }

    #[test]
    fn a_committed_message_leaves_the_pending_tree_and_is_listed_in_its_mailbox_only() {
        let s = Store::open(&tmp("commit"), 100, 8).unwrap();
        let (a, b) = (Aor::from_canonical("1001"), Aor::from_canonical("10011"));
        let (x, y) = (
            s.next_voicemail_id().unwrap(),
            s.next_voicemail_id().unwrap(),
        );
        assert!(y > x);
        s.put_pending_voicemail(&a, &rec(x)).unwrap();
        s.put_pending_voicemail(&b, &rec(y)).unwrap();
        assert_eq!(s.pending_voicemails().unwrap().len(), 2);
        assert!(s.voicemails(&a).unwrap().is_empty());
        let done = VoicemailRecord {
            duration_ms: 3_000,
            bytes: 48_044,
            ..rec(x)
        };
        s.commit_voicemail(&a, &done).unwrap();
        assert_eq!(s.voicemails(&a).unwrap(), std::slice::from_ref(&done));
        assert!(s.voicemails(&b).unwrap().is_empty());
        assert_eq!(
            s.pending_voicemails().unwrap(),
            [(b.clone(), rec(y))],
            "only the other one is still being left"
        );
        assert_eq!(s.all_voicemails().unwrap(), [(a.clone(), done.clone())]);
        assert_eq!(s.voicemail(&a, x).unwrap(), Some(done.clone()));
        assert_eq!(s.voicemail(&b, x).unwrap(), None);
        assert_eq!(s.remove_voicemail(&a, x).unwrap(), Some(done));
        assert_eq!(s.remove_voicemail(&a, x).unwrap(), None);
        s.remove_pending_voicemail(&b, y).unwrap();
        assert!(s.pending_voicemails().unwrap().is_empty());
    }

    #[test]
    fn settings_default_to_on_and_the_default_leaves_no_record() {
        let s = Store::open(&tmp("settings"), 100, 8).unwrap();
        let a = Aor::from_canonical("1001");
        assert_eq!(
            s.voicemail_settings(&a).unwrap(),
            MailboxSettings::default()
        );
        let own = MailboxSettings {
            pin: Some("4711".into()),
            greetings: Greetings::default().with(Greeting::Busy),
            ..MailboxSettings::default()
        };
        s.put_voicemail_settings(&a, &own).unwrap();
        assert_eq!(s.voicemail_settings(&a).unwrap(), own);
        assert_eq!(s.voicemail_settings_all().unwrap(), [(a.clone(), own)]);
        s.put_voicemail_settings(&a, &MailboxSettings::default())
            .unwrap();
        assert!(s.voicemail_settings.is_empty());
    }
}
