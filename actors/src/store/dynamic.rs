//! Dynamic accounts and one-time passwords.

use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{
    self, aor_key, AccountRecord, DynamicRecord, OtpPurpose, OtpRecord,
};

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
        let account = store::encode(&AccountRecord {
            realm: realm.to_owned(),
            credentials: Vec::new(),
            created_unix: now,
        });
        let rec = store::encode(&DynamicRecord {
            created_unix: now,
            expires_unix,
        });
        use sled::Transactional;
        // both records or neither: an account without its dynamic record would have no
        // password and no way to get a one-time one
        let made = (&self.accounts, &self.dynamic)
            .transaction(|(accounts, dynamic)| {
                if accounts.get(aor_key(aor))?.is_some() {
                    return Ok(false);
                }
                accounts.insert(aor_key(aor), account.as_slice())?;
                dynamic.insert(aor_key(aor), rec.as_slice())?;
                Ok(true)
            })
            .map_err(|e: sled::transaction::TransactionError<()>| {
                StoreError::Io(format!("{e:?}"))
            })?;
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

    /// The one-time passwords of `aor`: a sign-in one and a reset code may live side by
    /// side, so a stranger's reset never replaces the password an SMS brought.
    pub fn otps(&self, aor: &Aor) -> Result<Vec<OtpRecord>, StoreError> {
        let mut out = Vec::new();
        for purpose in [OtpPurpose::SignIn, OtpPurpose::Reset] {
            if let Some(v) = self.otp.get(otp_key(aor, purpose))? {
                out.push(decode(aor.as_str(), &v)?);
            }
        }
        Ok(out)
    }

    /// Stores `rec` in the slot of its purpose (replacing an older one of that purpose).
    pub fn put_otp(&self, aor: &Aor, rec: &OtpRecord) -> Result<(), StoreError> {
        self.otp
            .insert(otp_key(aor, rec.purpose), store::encode(rec))?;
        Ok(())
    }

    /// Ends every one-time password of `aor`.
    pub fn remove_otp(&self, aor: &Aor) -> Result<(), StoreError> {
        for purpose in [OtpPurpose::SignIn, OtpPurpose::Reset] {
            self.otp.remove(otp_key(aor, purpose))?;
        }
        Ok(())
    }
}

fn otp_key(aor: &Aor, purpose: OtpPurpose) -> Vec<u8> {
    let mut k = aor_key(aor).to_vec();
    if purpose == OtpPurpose::Reset {
        k.extend_from_slice(b"\0reset");
    }
    k
}
