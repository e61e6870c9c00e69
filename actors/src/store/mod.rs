//! The durable store: one interface over sled for accounts, bindings, buddy lists, recordings,
//! voice notices, voicemail records, the call analytics' days, members and hot-desk sessions,
//! and metadata.
//!
//! Callers see typed records (`switchboard_engine::store`) and never sled itself, so the
//! backend could change here alone. Writes are applied in order by the store actor
//! (`actor`), which is the only writer while the switch runs; the CLI opens the store
//! directly only when no switch holds it.

pub mod actor;
pub mod admin;
mod analytics;
pub mod api;
pub mod billing;
mod buddies;
pub mod cdr;
mod conferences;
mod dynamic;
mod member_trees;
pub mod members;
mod notices;
pub mod numbers;
mod queue;
mod recordings;
mod rooms;
mod voicemails;
pub mod writer;

use std::path::{Path, PathBuf};

use switchboard_engine::forwarding::ForwardingRecord;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{
    self, aor_key, AccountRecord, BindingRecord, BindingsRecord, RecordError,
};
use switchboard_engine::voicemail;

/// Store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("data directory {path} is in use by a running switch")]
    Locked { path: PathBuf },
    #[error("cannot open data directory {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("store i/o error: {0}")]
    Io(String),
    #[error("stored record for {key}: {source}")]
    Record { key: String, source: RecordError },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// The durable store of one data directory.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    accounts: sled::Tree,
    bindings: sled::Tree,
    forwarding: sled::Tree,
    queue: sled::Tree,
    dynamic: sled::Tree,
    otp: sled::Tree,
    buddies: sled::Tree,
    grants: sled::Tree,
    meta: sled::Tree,
    rooms: sled::Tree,
    room_history: sled::Tree,
    recordings: sled::Tree,
    recordings_by_number: sled::Tree,
    recording_settings: sled::Tree,
    conferences: sled::Tree,
    voice_notices: sled::Tree,
    voicemails: sled::Tree,
    voicemails_pending: sled::Tree,
    voicemail_settings: sled::Tree,
    analytics: sled::Tree,
    members: member_trees::MemberTrees,
}

/// Metadata key of the digest realm the accounts were made for.
const REALM_KEY: &[u8] = b"realm";

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path, flush_every_ms: u64, cache_mb: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .flush_every_ms(Some(flush_every_ms.max(1)))
            .cache_capacity(cache_mb * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked {
                        path: dir.to_owned(),
                    }
                }
                _ => StoreError::Open {
                    path: dir.to_owned(),
                    message: e.to_string(),
                },
            })?;
        Ok(Store {
            accounts: db.open_tree(store::ACCOUNTS_TREE)?,
            bindings: db.open_tree(store::BINDINGS_TREE)?,
            forwarding: db.open_tree(store::FORWARDING_TREE)?,
            queue: db.open_tree(switchboard_engine::messaging::QUEUE_TREE)?,
            dynamic: db.open_tree(store::DYNAMIC_TREE)?,
            otp: db.open_tree(store::OTP_TREE)?,
            buddies: db.open_tree(store::BUDDIES_TREE)?,
            grants: db.open_tree(store::WATCH_GRANTS_TREE)?,
            meta: db.open_tree("meta")?,
            rooms: db.open_tree(store::ROOMS_TREE)?,
            room_history: db.open_tree(store::ROOM_HISTORY_TREE)?,
            recordings: db.open_tree(store::RECORDINGS_TREE)?,
            recordings_by_number: db.open_tree(store::RECORDINGS_BY_NUMBER_TREE)?,
            recording_settings: db.open_tree(store::RECORDING_SETTINGS_TREE)?,
            conferences: db.open_tree(store::CONFERENCES_TREE)?,
            voice_notices: db
                .open_tree(switchboard_engine::messaging::voice::VOICE_NOTICES_TREE)?,
            voicemails: db.open_tree(voicemail::VOICEMAILS_TREE)?,
            voicemails_pending: db.open_tree(voicemail::VOICEMAILS_PENDING_TREE)?,
            voicemail_settings: db.open_tree(voicemail::VOICEMAIL_SETTINGS_TREE)?,
            analytics: db.open_tree(switchboard_engine::analytics::ANALYTICS_TREE)?,
            members: member_trees::MemberTrees::open(&db)?,
            db,
        })
    }

    /// The realm of this data directory: fixed by the first use, `default` if new.
    pub fn realm(&self, default: &str) -> Result<String, StoreError> {
        match self.meta.get(REALM_KEY)? {
            Some(v) => Ok(String::from_utf8_lossy(&v).into_owned()),
            None => {
                self.meta.insert(REALM_KEY, default.as_bytes())?;
                Ok(default.to_owned())
            }
        }
    }

    pub fn account(&self, aor: &Aor) -> Result<Option<AccountRecord>, StoreError> {
        match self.accounts.get(aor_key(aor))? {
            Some(v) => Ok(Some(decode(aor.as_str(), &v)?)),
            None => Ok(None),
        }
    }

    pub fn put_account(&self, aor: &Aor, rec: &AccountRecord) -> Result<(), StoreError> {
        self.accounts.insert(aor_key(aor), store::encode(rec))?;
        Ok(())
    }

    /// Removes an account, its bindings, its forwarding, its one-time password, its buddy list,
    /// its watch grants and its recording settings, takes it off its member and ends the
    /// hot-desk sessions it was in (`members.rs`); `false` if there was none. (Its queue is
    /// the message queue writer's to purge; its recordings stay, they are the other party's
    /// too.)
    pub fn remove_account(&self, aor: &Aor) -> Result<bool, StoreError> {
        let existed = self.remove_account_and_membership(aor)?;
        self.bindings.remove(aor_key(aor))?;
        self.forwarding.remove(aor_key(aor))?;
        self.recording_settings.remove(aor_key(aor))?;
        self.dynamic.remove(aor_key(aor))?;
        // both one-time password slots (sign-in and reset)
        self.remove_otp(aor)?;
        self.remove_presence_of(aor)?;
        Ok(existed)
    }

    /// A subscriber's forwarding settings (empty when none were set).
    pub fn forwarding(&self, aor: &Aor) -> Result<ForwardingRecord, StoreError> {
        match self.forwarding.get(aor_key(aor))? {
            Some(v) => decode(aor.as_str(), &v),
            None => Ok(ForwardingRecord::default()),
        }
    }

    /// Replaces a subscriber's forwarding settings; empty settings remove the record.
    pub fn put_forwarding(&self, aor: &Aor, rec: &ForwardingRecord) -> Result<(), StoreError> {
        if rec.is_empty() {
            self.forwarding.remove(aor_key(aor))?;
        } else {
            self.forwarding.insert(aor_key(aor), store::encode(rec))?;
        }
        Ok(())
    }

    /// Every account in key order.
    pub fn accounts(&self) -> Result<Vec<(Aor, AccountRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.accounts.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let rec = decode(&key, &v)?;
            out.push((Aor::from_canonical(&key), rec));
        }
        Ok(out)
    }

    pub fn bindings(&self, aor: &Aor) -> Result<Vec<BindingRecord>, StoreError> {
        match self.bindings.get(aor_key(aor))? {
            Some(v) => Ok(BindingsRecord::decode(&v)
                .map_err(|source| StoreError::Record {
                    key: aor.as_str().to_owned(),
                    source,
                })?
                .bindings),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces an address's bindings; returns the change in the number of stored bindings.
    pub fn put_bindings(&self, aor: &Aor, bindings: &[BindingRecord]) -> Result<i64, StoreError> {
        let old = if bindings.is_empty() {
            self.bindings.remove(aor_key(aor))?
        } else {
            let rec = BindingsRecord {
                bindings: bindings.to_vec(),
            };
            self.bindings.insert(aor_key(aor), rec.encode())?
        };
        let old_len = old
            .and_then(|v| BindingsRecord::count_encoded(&v))
            .unwrap_or(0);
        Ok(bindings.len() as i64 - old_len as i64)
    }

    /// Removes expired bindings of every address (compare-and-swap, so a concurrent refresh
    /// wins). Returns how many bindings were removed.
    pub fn sweep_expired(&self, now: u64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for item in self.bindings.iter() {
            let (k, v) = item?;
            let Ok(rec) = BindingsRecord::decode(&v) else {
                continue;
            };
            let live: Vec<BindingRecord> = rec
                .bindings
                .iter()
                .filter(|b| b.expires_at > now)
                .cloned()
                .collect();
            if live.len() == rec.bindings.len() {
                continue;
            }
            let new = if live.is_empty() {
                None
            } else {
                Some(
                    BindingsRecord {
                        bindings: live.clone(),
                    }
                    .encode(),
                )
            };
            if self.bindings.compare_and_swap(&k, Some(v), new)?.is_ok() {
                removed += (rec.bindings.len() - live.len()) as u64;
            }
        }
        Ok(removed)
    }

    /// Up to `limit` addresses with stored bindings, in key order, with their bindings (a
    /// scan: the operator's list of registrations).
    pub fn every_binding(
        &self,
        limit: usize,
    ) -> Result<Vec<(Aor, Vec<BindingRecord>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.bindings.iter().take(limit) {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let rec = BindingsRecord::decode(&v).map_err(|source| StoreError::Record {
                key: key.clone(),
                source,
            })?;
            out.push((Aor::from_canonical(&key), rec.bindings));
        }
        Ok(out)
    }

    /// Number of stored bindings (a scan; used at start-up for the gauge).
    pub fn count_bindings(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for item in self.bindings.iter() {
            let (_, v) = item?;
            if let Ok(rec) = BindingsRecord::decode(&v) {
                n += rec.bindings.len() as u64;
            }
        }
        Ok(n)
    }

    /// Writes everything to disk (fsync).
    pub fn flush(&self) -> Result<usize, StoreError> {
        Ok(self.db.flush()?)
    }
}

fn decode<T: bincode::Decode<()>>(key: &str, v: &[u8]) -> Result<T, StoreError> {
    store::decode(v).map_err(|source| StoreError::Record {
        key: key.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use switchboard_engine::flow::Transport;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Opens a store a dropped handle held a moment ago: sled's flusher thread lets go of the
    /// directory lock only when it next wakes, later still on a loaded machine.
    fn reopen(dir: &Path) -> Store {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(dir, 100, 8) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < give_up => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                r => return r.unwrap(),
            }
        }
    }

    fn binding(uri: &str, expires_at: u64) -> BindingRecord {
        BindingRecord {
            uri: uri.into(),
            q: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: Transport::Udp,
            source: "127.0.0.1:5062".parse::<SocketAddr>().unwrap(),
            conn: None,
            caps: switchboard_engine::presence::caps::Caps::assumed(),
        }
    }

    #[test]
    fn bindings_survive_reopening_and_sweep_removes_expired() {
        let dir = tmp("reopen");
        let aor = Aor::from_canonical("1001");
        {
            let s = Store::open(&dir, 100, 8).unwrap();
            assert_eq!(
                s.put_bindings(&aor, &[binding("sip:a@h", 100), binding("sip:b@h", 300)])
                    .unwrap(),
                2
            );
            assert_eq!(
                s.put_bindings(&aor, &[binding("sip:b@h", 300)]).unwrap(),
                -1
            );
            s.flush().unwrap();
        }
        let s = reopen(&dir);
        assert_eq!(s.bindings(&aor).unwrap().len(), 1);
        assert_eq!(s.count_bindings().unwrap(), 1);
        assert_eq!(s.sweep_expired(400).unwrap(), 1);
        assert!(s.bindings(&aor).unwrap().is_empty());
    }

    #[test]
    fn a_second_open_of_the_same_directory_reports_it_is_in_use() {
        let dir = tmp("lock");
        let _s = Store::open(&dir, 100, 8).unwrap();
        match Store::open(&dir, 100, 8) {
            Err(StoreError::Locked { .. }) => {}
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("opened twice"),
        }
    }

    #[test]
    fn the_realm_is_fixed_by_first_use() {
        let dir = tmp("realm");
        let s = Store::open(&dir, 100, 8).unwrap();
        assert_eq!(s.realm("first").unwrap(), "first");
        assert_eq!(s.realm("second").unwrap(), "first");
    }

    #[test]
    fn forwarding_survives_reopening_and_leaves_with_the_account() {
        use switchboard_engine::forwarding::NoAnswer;
        let dir = tmp("forwarding");
        let aor = Aor::from_canonical("1001");
        let rec = ForwardingRecord {
            always: Some("+82111234567".into()),
            no_answer: Some(NoAnswer {
                target: "1002".into(),
                ring_secs: 12,
            }),
            ..Default::default()
        };
        {
            let s = Store::open(&dir, 100, 8).unwrap();
            assert!(s.forwarding(&aor).unwrap().is_empty());
            s.put_forwarding(&aor, &rec).unwrap();
            s.flush().unwrap();
        }
        let s = reopen(&dir);
        assert_eq!(s.forwarding(&aor).unwrap(), rec);
        s.put_forwarding(&aor, &ForwardingRecord::default())
            .unwrap();
        assert!(s.forwarding.is_empty(), "empty settings leave no record");
        s.put_forwarding(&aor, &rec).unwrap();
        s.remove_account(&aor).unwrap();
        assert!(s.forwarding(&aor).unwrap().is_empty());
    }
}
