//! Dynamic accounts and one-time passwords.

use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{self, aor_key, AccountRecord, DynamicRecord, OtpRecord};

use super::{decode, Store, StoreError};

impl Store {
    /// Makes a dynamic account for `aor` unless it has an account: an account without a
    /// password of its own (its owner signs in with a one-time password). `true` if made.
    pub fn create_dynamic(
        &self,
        aor: &Aor,
        realm: &str,
        now: u64,
        expires_unix: u64,
    ) -> Result<bool, StoreError> {
        let account = AccountRecord {
            realm: realm.to_owned(),
            credentials: Vec::new(),
            created_unix: now,
        };
        let made = self
            .accounts
            .compare_and_swap(
                aor_key(aor),
                None as Option<&[u8]>,
                Some(store::encode(&account)),
            )?
            .is_ok();
        if made {
            let rec = DynamicRecord {
                created_unix: now,
                expires_unix,
            };
            self.dynamic.insert(aor_key(aor), store::encode(&rec))?;
        }
        Ok(made)
    }

    /// The dynamic-account record of `aor`, when nobody claimed it yet.
    pub fn dynamic(&self, aor: &Aor) -> Result<Option<DynamicRecord>, StoreError> {
        match self.dynamic.get(aor_key(aor))? {
            Some(v) => Ok(Some(decode(aor.as_str(), &v)?)),
            None => Ok(None),
        }
    }

    /// The owner signed in: the account stays for good. `true` if it was dynamic.
    pub fn claim(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(self.dynamic.remove(aor_key(aor))?.is_some())
    }

    /// Dynamic accounts nobody claimed by `now`.
    pub fn expired_dynamic(&self, now: u64) -> Result<Vec<Aor>, StoreError> {
        let mut out = Vec::new();
        for item in self.dynamic.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let rec: DynamicRecord = decode(&key, &v)?;
            if rec.expires_unix <= now {
                out.push(Aor::from_canonical(&key));
            }
        }
        Ok(out)
    }

    /// Unclaimed dynamic accounts (for the gauge).
    pub fn count_dynamic(&self) -> u64 {
        self.dynamic.len() as u64
    }

    pub fn otp(&self, aor: &Aor) -> Result<Option<OtpRecord>, StoreError> {
        match self.otp.get(aor_key(aor))? {
            Some(v) => Ok(Some(decode(aor.as_str(), &v)?)),
            None => Ok(None),
        }
    }

    pub fn put_otp(&self, aor: &Aor, rec: &OtpRecord) -> Result<(), StoreError> {
        self.otp.insert(aor_key(aor), store::encode(rec))?;
        Ok(())
    }

    pub fn remove_otp(&self, aor: &Aor) -> Result<(), StoreError> {
        self.otp.remove(aor_key(aor))?;
        Ok(())
    }
}
