//! Account administration: add, list, remove, change password.
//!
//! Passwords are turned into HA1 values (MD5 and SHA-256, for every user-name spelling a
//! phone may use) and forgotten. The same functions serve the CLI on a stopped switch and
//! the control socket of a running one.

use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::sip::digest::{ha1, Algorithm};
use switchboard_engine::store::{AccountRecord, Credential, OtpPurpose, OtpRecord};

use crate::store::{Store, StoreError};

/// Account administration failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    #[error("{input:?} is not a phone number or name: {reason}")]
    Number { input: String, reason: String },
    #[error("account {0} already exists")]
    Exists(String),
    #[error("no account {0}")]
    Missing(String),
    #[error("password must be 4 to 128 characters")]
    Password,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of `account list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub number: String,
    pub usernames: Vec<String>,
    pub created_unix: u64,
    /// Made by the switch and not claimed by its owner yet.
    #[serde(default)]
    pub dynamic: bool,
}

/// Canonicalizes a number or name given by an operator.
pub fn canonical(plan: &NumberingPlan, input: &str) -> Result<Aor, AccountError> {
    plan.canonical(input).map_err(|e| AccountError::Number {
        input: input.to_owned(),
        reason: e.to_string(),
    })
}

/// Builds the record for `aor` with `password` in `realm`.
pub fn record(
    plan: &NumberingPlan,
    aor: &Aor,
    realm: &str,
    password: &str,
    now: u64,
) -> AccountRecord {
    let credentials = plan
        .auth_usernames(aor)
        .into_iter()
        .map(|username| Credential {
            md5: ha1(Algorithm::Md5, &username, realm, password)
                .try_into()
                .expect("md5 is 16 bytes"),
            sha256: ha1(Algorithm::Sha256, &username, realm, password)
                .try_into()
                .expect("sha-256 is 32 bytes"),
            username,
        })
        .collect();
    AccountRecord {
        realm: realm.to_owned(),
        credentials,
        created_unix: now,
    }
}

fn check_password(pw: &str) -> Result<(), AccountError> {
    if (4..=128).contains(&pw.chars().count()) && !pw.contains(['\r', '\n']) {
        Ok(())
    } else {
        Err(AccountError::Password)
    }
}

/// Adds an account. Returns its canonical address.
pub fn add(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    number: &str,
    password: &str,
    now: u64,
) -> Result<Aor, AccountError> {
    check_password(password)?;
    let aor = canonical(plan, number)?;
    // a dynamic account nobody claimed is the operator's to give a password to
    if store.account(&aor)?.is_some() && store.dynamic(&aor)?.is_none() {
        return Err(AccountError::Exists(aor.to_string()));
    }
    store.put_account(&aor, &record(plan, &aor, realm, password, now))?;
    store.claim(&aor)?;
    store.remove_otp(&aor)?;
    Ok(aor)
}

/// Changes an account's password.
pub fn passwd(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    number: &str,
    password: &str,
) -> Result<Aor, AccountError> {
    check_password(password)?;
    let aor = canonical(plan, number)?;
    let old = store
        .account(&aor)?
        .ok_or_else(|| AccountError::Missing(aor.to_string()))?;
    store.put_account(&aor, &record(plan, &aor, realm, password, old.created_unix))?;
    // a password of one's own: one-time passwords end, a dynamic account is claimed
    store.claim(&aor)?;
    store.remove_otp(&aor)?;
    Ok(aor)
}

/// A fresh one-time password of `digits` digits from the operating system's random source.
pub fn fresh_otp(digits: u8) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..digits)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// Issues a one-time password (see `api::IssueOtp`), flushed before it is returned.
#[allow(clippy::too_many_arguments)]
pub fn issue_otp(
    store: &Store,
    plan: &NumberingPlan,
    realm: &str,
    aor: &Aor,
    purpose: OtpPurpose,
    digits: u8,
    reset_valid_secs: u64,
    now: u64,
) -> Result<Option<String>, AccountError> {
    if store.account(aor)?.is_none() {
        return Ok(None);
    }
    let expires_unix = match purpose {
        OtpPurpose::SignIn => match store.dynamic(aor)? {
            Some(d) => d.expires_unix,
            None => return Ok(None),
        },
        OtpPurpose::Reset => now + reset_valid_secs,
    };
    let code = fresh_otp(digits);
    let credentials = record(plan, aor, realm, &code, now).credentials;
    store.put_otp(
        aor,
        &OtpRecord {
            credentials,
            purpose,
            expires_unix,
        },
    )?;
    store.flush()?;
    Ok(Some(code))
}

/// Removes an account and its registrations.
pub fn remove(store: &Store, plan: &NumberingPlan, number: &str) -> Result<Aor, AccountError> {
    let aor = canonical(plan, number)?;
    if !store.remove_account(&aor)? {
        return Err(AccountError::Missing(aor.to_string()));
    }
    Ok(aor)
}

pub fn list(store: &Store) -> Result<Vec<AccountSummary>, AccountError> {
    Ok(store
        .accounts()?
        .into_iter()
        .map(|(aor, rec)| AccountSummary {
            dynamic: store.dynamic(&aor).ok().flatten().is_some(),
            number: aor.to_string(),
            usernames: rec.credentials.iter().map(|c| c.username.clone()).collect(),
            created_unix: rec.created_unix,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(name: &str) -> (Store, NumberingPlan) {
        let d = std::env::temp_dir().join(format!("sb-acc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        (
            Store::open(&d, 100, 8).unwrap(),
            NumberingPlan::new("KR").unwrap(),
        )
    }

    #[test]
    fn any_spelling_finds_the_account_and_no_password_is_stored() {
        let (s, p) = setup("spell");
        let aor = add(&s, &p, "sb", "011-123-4567", "s3cret-pw", 1).unwrap();
        assert_eq!(aor.as_str(), "+82111234567");
        assert!(matches!(
            add(&s, &p, "sb", "+82 11 123 4567", "x1234", 1),
            Err(AccountError::Exists(_))
        ));
        let rec = s.account(&aor).unwrap().unwrap();
        assert_eq!(rec.credentials.len(), 2);
        let raw = switchboard_engine::store::encode(&rec);
        assert!(
            !raw.windows(9).any(|w| w == b"s3cret-pw"),
            "password never stored"
        );
        let listed = list(&s).unwrap();
        assert_eq!(listed[0].usernames, ["+82111234567", "0111234567"]);
    }

    #[test]
    fn passwd_and_remove_need_an_existing_account() {
        let (s, p) = setup("pw");
        assert!(matches!(
            passwd(&s, &p, "sb", "1001", "abcd"),
            Err(AccountError::Missing(_))
        ));
        add(&s, &p, "sb", "1001", "abcd", 1).unwrap();
        let before = s.account(&Aor::from_canonical("1001")).unwrap().unwrap();
        passwd(&s, &p, "sb", "1001", "efgh").unwrap();
        let after = s.account(&Aor::from_canonical("1001")).unwrap().unwrap();
        assert_ne!(before.credentials, after.credentials);
        remove(&s, &p, "1001").unwrap();
        assert!(matches!(
            remove(&s, &p, "1001"),
            Err(AccountError::Missing(_))
        ));
    }

    #[test]
    fn bad_input_is_refused_clearly() {
        let (s, p) = setup("bad");
        assert!(matches!(
            add(&s, &p, "sb", "not a number!", "abcd", 1),
            Err(AccountError::Number { .. })
        ));
        assert!(matches!(
            add(&s, &p, "sb", "1001", "ab", 1),
            Err(AccountError::Password)
        ));
    }

    #[test]
    fn one_time_passwords_go_to_unclaimed_dynamic_accounts_and_resets_to_any() {
        let (s, p) = setup("otp");
        let aor = canonical(&p, "010-1234-5678").unwrap();
        let issue = |purpose| issue_otp(&s, &p, "sb", &aor, purpose, 6, 600, 100).unwrap();
        assert_eq!(issue(OtpPurpose::SignIn), None, "no account, no password");
        assert!(s.create_dynamic(&aor, "sb", 100, 1000).unwrap());
        let code = issue(OtpPurpose::SignIn).unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let otp = s.otps(&aor).unwrap();
        assert_eq!(otp.len(), 1);
        assert_eq!(
            otp[0].expires_unix, 1000,
            "a sign-in password lasts as long as the account"
        );
        // a reset code lives beside it: it does not replace the sign-in password
        assert!(issue(OtpPurpose::Reset).is_some());
        let both = s.otps(&aor).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!((both[0].expires_unix, both[1].expires_unix), (1000, 700));
        // the operator (or the owner) sets a password: the account is claimed
        add(&s, &p, "sb", "010-1234-5678", "mine-now", 5).unwrap();
        assert!(s.otps(&aor).unwrap().is_empty());
        assert!(s.dynamic(&aor).unwrap().is_none());
        assert_eq!(
            issue(OtpPurpose::SignIn),
            None,
            "never for an owner's own password"
        );
        assert!(issue(OtpPurpose::Reset).is_some());
        assert_eq!(s.otps(&aor).unwrap()[0].expires_unix, 700);
        assert!(matches!(
            add(&s, &p, "sb", "010-1234-5678", "again", 5),
            Err(AccountError::Exists(_))
        ));
    }
}
