//! Members and hot-desk sessions in the store (records and keys: `switchboard_engine::members`).
//!
//! Every change of a member goes through one sled transaction over the member tree, its two
//! indexes (number on the switch to member, outside number to member) and the accounts: a
//! number is owned by at most one member and must be an account, an outside number is claimed
//! by at most one member, and the indexes never disagree with the records. The HTTP API and
//! the call legs (PIN checks, hot desk) write here directly; each flushes before it answers.
//! Routing reads the indexes (sled serves them from memory).

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};
use switchboard_engine::members::record::{hotdesk_number_key, hotdesk_number_prefix};
use switchboard_engine::members::{HotDeskSession, MemberDraft, MemberId, MemberRecord};
use switchboard_engine::numbering::Aor;

use super::{Store, StoreError};

/// Why a change of members is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemberStoreError {
    #[error("no such member")]
    NotFound,
    #[error("{number} has no account on the switch")]
    NoAccount { number: String },
    #[error("{number} belongs to member {owner}")]
    NumberTaken { number: String, owner: MemberId },
    #[error("{number} is claimed by member {owner}")]
    Claimed { number: String, owner: MemberId },
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Abort = ConflictableTransactionError<MemberStoreError>;

impl Store {
    /// Makes a member of a validated draft at `now_unix`.
    pub fn create_member(
        &self,
        draft: &MemberDraft,
        now_unix: u64,
    ) -> Result<(MemberId, MemberRecord), MemberStoreError> {
        let id = MemberId(self.db.generate_id().map_err(StoreError::from)? + 1);
        let rec = MemberRecord::new(draft.clone(), now_unix);
        let t = &self.members;
        let r = (&t.members, &t.by_number, &t.by_outside, &self.accounts).transaction(
            |(m, bn, bo, acc)| {
                reindex((bn, bo, acc), id, None, Some(&rec))?;
                m.insert(&id.key(), rec.encode())?;
                Ok(())
            },
        );
        finish(r)?;
        Ok((id, rec))
    }

    /// Member `id`, if there is one.
    pub fn member(&self, id: MemberId) -> Result<Option<MemberRecord>, StoreError> {
        match self.members.members.get(id.key())? {
            Some(v) => decode(id, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every member, in the order they were made.
    pub fn members(&self) -> Result<Vec<(MemberId, MemberRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.members.members.iter() {
            let (k, v) = item?;
            let Some(id) = MemberId::from_key(&k) else {
                continue;
            };
            out.push((id, decode(id, &v)?));
        }
        Ok(out)
    }

    /// Changes member `id` with `f` and stores the result, whatever `f` answers (a wrong PIN
    /// or code is counted even though it is refused). `f` may run more than once (a
    /// concurrent change makes the transaction start again), each time on the stored record.
    pub fn modify_member<R>(
        &self,
        id: MemberId,
        f: impl Fn(&mut MemberRecord) -> R,
    ) -> Result<(R, MemberRecord), MemberStoreError> {
        let t = &self.members;
        let r = (&t.members, &t.by_number, &t.by_outside, &self.accounts).transaction(
            |(m, bn, bo, acc)| {
                let Some(v) = m.get(id.key())? else {
                    return Err(Abort::Abort(MemberStoreError::NotFound));
                };
                let old = decode(id, &v).map_err(|e| Abort::Abort(e.into()))?;
                let mut new = old.clone();
                let answer = f(&mut new);
                if new != old {
                    reindex((bn, bo, acc), id, Some(&old), Some(&new))?;
                    m.insert(&id.key(), new.encode())?;
                }
                Ok((answer, new))
            },
        );
        finish(r)
    }

    /// Removes member `id`, its indexes and the hot-desk sessions of its numbers; `false` if
    /// there was none.
    pub fn delete_member(&self, id: MemberId) -> Result<bool, MemberStoreError> {
        let t = &self.members;
        let r = (&t.members, &t.by_number, &t.by_outside, &self.accounts).transaction(
            |(m, bn, bo, acc)| {
                let Some(v) = m.remove(&id.key())? else {
                    return Ok(None);
                };
                let old = decode(id, &v).map_err(|e| Abort::Abort(e.into()))?;
                reindex((bn, bo, acc), id, Some(&old), None)?;
                Ok(Some(old))
            },
        );
        let Some(old) = finish(r)? else {
            return Ok(false);
        };
        for n in &old.numbers {
            for s in self.hotdesk_phones(&Aor::from_canonical(n), 0)? {
                self.hotdesk_sign_out(&Aor::from_canonical(&s.phone))?;
            }
        }
        Ok(true)
    }

    /// Removes account `aor` and, in the same transaction, takes the number off the member
    /// owning it (a member left with no number keeps its record and claims, and reaches no
    /// phone until it is given a number again); then ends the hot-desk sessions the number
    /// was in: phones signed in as it, and its own phone signed in as a member. Whether the
    /// account existed.
    pub(super) fn remove_account_and_membership(&self, aor: &Aor) -> Result<bool, StoreError> {
        let t = &self.members;
        let n = aor.as_str().as_bytes();
        let r = (&self.accounts, &t.members, &t.by_number).transaction(|(acc, m, bn)| {
            let existed = acc.remove(n)?.is_some();
            let Some(id) = bn.remove(n)?.and_then(|v| MemberId::from_key(&v)) else {
                return Ok(existed);
            };
            if let Some(v) = m.get(id.key())? {
                let mut rec = decode(id, &v).map_err(|e| Abort::Abort(e.into()))?;
                rec.numbers.retain(|x| x != aor.as_str());
                m.insert(&id.key(), rec.encode())?;
            }
            Ok(existed)
        });
        let existed = finish(r).map_err(|e| match e {
            MemberStoreError::Store(e) => e,
            other => StoreError::Io(other.to_string()),
        })?;
        for s in self.hotdesk_phones(aor, 0)? {
            self.hotdesk_sign_out(&Aor::from_canonical(&s.phone))?;
        }
        self.hotdesk_sign_out(aor)?;
        Ok(existed)
    }

    /// The member owning number `aor` on the switch.
    pub fn member_by_number(
        &self,
        aor: &Aor,
    ) -> Result<Option<(MemberId, MemberRecord)>, StoreError> {
        self.indexed(&self.members.by_number, aor)
    }

    /// The member that outside number `aor` reaches: one whose claim of it is verified.
    pub fn member_reached_at(
        &self,
        aor: &Aor,
    ) -> Result<Option<(MemberId, MemberRecord)>, StoreError> {
        Ok(self
            .indexed(&self.members.by_outside, aor)?
            .filter(|(_, m)| m.reached_at(aor.as_str())))
    }

    /// Signs a phone in (replacing a session it had).
    pub fn hotdesk_sign_in(&self, s: &HotDeskSession) -> Result<(), StoreError> {
        let phone = Aor::from_canonical(&s.phone);
        self.members.hotdesk_in_use();
        self.hotdesk_sign_out(&phone)?;
        self.members
            .hotdesk
            .insert(phone.as_str().as_bytes(), s.encode())?;
        self.members
            .hotdesk_by_number
            .insert(hotdesk_number_key(&s.number, &s.phone), &[])?;
        Ok(())
    }

    /// Signs phone `phone` out; the session it had, if any.
    pub fn hotdesk_sign_out(&self, phone: &Aor) -> Result<Option<HotDeskSession>, StoreError> {
        let Some(v) = self.members.hotdesk.remove(phone.as_str().as_bytes())? else {
            return Ok(None);
        };
        let s = HotDeskSession::decode(&v).map_err(|source| StoreError::Record {
            key: phone.as_str().to_owned(),
            source,
        })?;
        self.members
            .hotdesk_by_number
            .remove(hotdesk_number_key(&s.number, &s.phone))?;
        Ok(Some(s))
    }

    /// The session of phone `phone` live at `now_unix` (one past its end is removed).
    pub fn hotdesk_of_phone(
        &self,
        phone: &Aor,
        now_unix: u64,
    ) -> Result<Option<HotDeskSession>, StoreError> {
        if !self.members.hotdesk_used() {
            return Ok(None);
        }
        let Some(v) = self.members.hotdesk.get(phone.as_str().as_bytes())? else {
            return Ok(None);
        };
        let s = HotDeskSession::decode(&v).map_err(|source| StoreError::Record {
            key: phone.as_str().to_owned(),
            source,
        })?;
        if s.is_live(now_unix) {
            return Ok(Some(s));
        }
        self.hotdesk_sign_out(phone)?;
        Ok(None)
    }

    /// The live sessions of the phones signed in as number `number` at `now_unix` (`0`:
    /// every stored one).
    pub fn hotdesk_phones(
        &self,
        number: &Aor,
        now_unix: u64,
    ) -> Result<Vec<HotDeskSession>, StoreError> {
        let mut out = Vec::new();
        if !self.members.hotdesk_used() {
            return Ok(out);
        }
        let prefix = hotdesk_number_prefix(number.as_str());
        for item in self.members.hotdesk_by_number.scan_prefix(&prefix) {
            let (k, _) = item?;
            let phone = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let phone = Aor::from_canonical(&phone);
            let s = self.hotdesk_of_phone(&phone, now_unix)?;
            out.extend(s.filter(|s| s.number == number.as_str()));
        }
        Ok(out)
    }

    /// The bindings of the devices that ring with `number` at `now_unix` besides its own
    /// (`own`): the phones signed in as it by hot desk, and (`also`) a member's other numbers
    /// with theirs. A failed read leaves those devices out (logged).
    pub fn hotdesk_devices(
        &self,
        number: &Aor,
        also: &[Aor],
        now_unix: u64,
        own: &[switchboard_engine::store::BindingRecord],
    ) -> Vec<switchboard_engine::store::BindingRecord> {
        let mut extra: Vec<switchboard_engine::store::BindingRecord> = Vec::new();
        let mut phones: Vec<Aor> = also.to_vec();
        for n in std::iter::once(number).chain(also) {
            match self.hotdesk_phones(n, now_unix) {
                Ok(sessions) => {
                    phones.extend(sessions.iter().map(|s| Aor::from_canonical(&s.phone)))
                }
                Err(e) => tracing::warn!(error = %e, "hot-desk lookup failed"),
            }
        }
        for phone in phones.iter().filter(|p| *p != number) {
            match self.bindings(phone) {
                Ok(found) => {
                    for b in found {
                        let known = own.iter().chain(&extra).any(|x| x.uri == b.uri);
                        if !known {
                            extra.push(b);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "bindings not readable"),
            }
        }
        extra
    }

    fn indexed(
        &self,
        index: &sled::Tree,
        aor: &Aor,
    ) -> Result<Option<(MemberId, MemberRecord)>, StoreError> {
        let Some(id) = index.get(aor.as_str().as_bytes())? else {
            return Ok(None);
        };
        let Some(id) = MemberId::from_key(&id) else {
            return Ok(None);
        };
        Ok(self.member(id)?.map(|m| (id, m)))
    }
}

/// Brings the indexes from `old` to `new` (either absent), refusing a number another member
/// owns or claims and a number on the switch that has no account.
fn reindex(
    (by_number, by_outside, accounts): (&TransactionalTree, &TransactionalTree, &TransactionalTree),
    id: MemberId,
    old: Option<&MemberRecord>,
    new: Option<&MemberRecord>,
) -> Result<(), Abort> {
    let owned = |r: Option<&MemberRecord>| -> Vec<String> {
        r.map(|r| r.numbers.clone()).unwrap_or_default()
    };
    let claimed = |r: Option<&MemberRecord>| -> Vec<String> {
        r.map(|r| r.outside.iter().map(|o| o.number.clone()).collect())
            .unwrap_or_default()
    };
    let (old_owned, new_owned) = (owned(old), owned(new));
    let (old_claimed, new_claimed) = (claimed(old), claimed(new));
    for n in old_owned.iter().filter(|n| !new_owned.contains(n)) {
        by_number.remove(n.as_bytes())?;
    }
    for n in old_claimed.iter().filter(|n| !new_claimed.contains(n)) {
        by_outside.remove(n.as_bytes())?;
    }
    for n in new_owned.iter().filter(|n| !old_owned.contains(n)) {
        if let Some(owner) = by_number
            .get(n.as_bytes())?
            .and_then(|v| MemberId::from_key(&v))
        {
            if owner != id {
                return Err(Abort::Abort(MemberStoreError::NumberTaken {
                    number: n.clone(),
                    owner,
                }));
            }
        }
        if accounts.get(n.as_bytes())?.is_none() {
            return Err(Abort::Abort(MemberStoreError::NoAccount {
                number: n.clone(),
            }));
        }
        by_number.insert(n.as_bytes(), &id.key())?;
    }
    for n in new_claimed.iter().filter(|n| !old_claimed.contains(n)) {
        if let Some(owner) = by_outside
            .get(n.as_bytes())?
            .and_then(|v| MemberId::from_key(&v))
        {
            if owner != id {
                return Err(Abort::Abort(MemberStoreError::Claimed {
                    number: n.clone(),
                    owner,
                }));
            }
        }
        by_outside.insert(n.as_bytes(), &id.key())?;
    }
    Ok(())
}

fn finish<T>(r: Result<T, TransactionError<MemberStoreError>>) -> Result<T, MemberStoreError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => MemberStoreError::Store(e.into()),
    })
}

fn decode(id: MemberId, v: &[u8]) -> Result<MemberRecord, StoreError> {
    MemberRecord::decode(v).map_err(|source| StoreError::Record {
        key: format!("member {id}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use switchboard_engine::numbering::NumberingPlan;
    use switchboard_engine::store::AccountRecord;

    fn store(name: &str) -> (Store, std::path::PathBuf) {
        let d = std::env::temp_dir().join(format!("sb-members-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d, 100, 8).unwrap();
        for n in ["1001", "1002", "1003"] {
            let rec = AccountRecord {
                realm: "r".into(),
                credentials: Vec::new(),
                created_unix: 0,
            };
            s.put_account(&Aor::from_canonical(n), &rec).unwrap();
        }
        (s, d)
    }

    fn draft(numbers: &[&str], outside: Option<&str>) -> MemberDraft {
        let plan = NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()]);
        MemberDraft {
            name: "Kim".into(),
            email: "kim@example.com".into(),
            country: "KR".into(),
            numbers: numbers.iter().map(|n| n.to_string()).collect(),
            reachable_at: outside.map(str::to_owned),
            other_numbers: Vec::new(),
        }
        .validate(&plan)
        .unwrap()
    }

    #[test]
    fn numbers_belong_to_one_member_and_must_be_accounts() {
        let (s, dir) = store("index");
        let (a, _) = s
            .create_member(&draft(&["1001"], Some("01012345678")), 1)
            .unwrap();
        assert!(matches!(
            s.create_member(&draft(&["1001"], None), 1),
            Err(MemberStoreError::NumberTaken { owner, .. }) if owner == a
        ));
        assert!(matches!(
            s.create_member(&draft(&["1002"], Some("010-1234-5678")), 1),
            Err(MemberStoreError::Claimed { owner, .. }) if owner == a
        ));
        assert!(matches!(
            s.create_member(&draft(&["1009"], None), 1),
            Err(MemberStoreError::NoAccount { number }) if number == "1009"
        ));
        assert!(
            s.member_by_number(&Aor::from_canonical("1002"))
                .unwrap()
                .is_none(),
            "a refused member leaves no index behind"
        );
        let out = Aor::from_canonical("+821012345678");
        assert!(s.member_reached_at(&out).unwrap().is_none(), "unverified");
        s.modify_member(a, |m| {
            m.claim_mut("+821012345678")
                .unwrap()
                .verification
                .verified_unix = Some(5)
        })
        .unwrap();
        assert_eq!(s.member_reached_at(&out).unwrap().unwrap().0, a);
        let (b, _) = s.create_member(&draft(&["1002"], None), 1).unwrap();
        // moving 1002 to a is refused while b owns it
        assert!(matches!(
            s.modify_member(a, |m| m.numbers.push("1002".into())),
            Err(MemberStoreError::NumberTaken { .. })
        ));
        assert!(s.delete_member(b).unwrap());
        s.modify_member(a, |m| m.numbers.push("1002".into()))
            .unwrap();
        assert_eq!(
            s.member_by_number(&Aor::from_canonical("1002"))
                .unwrap()
                .unwrap()
                .0,
            a
        );
        assert_eq!(s.members().unwrap().len(), 1);
        assert!(s.delete_member(a).unwrap());
        assert!(s.member_reached_at(&out).unwrap().is_none());
        assert!(!s.delete_member(a).unwrap());
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn removing_an_account_takes_it_off_its_member_and_ends_its_hot_desk_sessions() {
        let (s, dir) = store("unaccount");
        let (a, _) = s.create_member(&draft(&["1001", "1002"], None), 1).unwrap();
        let (n1, n2, n3) = (
            Aor::from_canonical("1001"),
            Aor::from_canonical("1002"),
            Aor::from_canonical("1003"),
        );
        // 1003 is signed in as 1001, and 1002's own phone as 1001 too
        let at =
            |phone: &str| HotDeskSession::start(a.0, "1001", phone, 100, Duration::from_secs(3600));
        s.hotdesk_sign_in(&at("1003")).unwrap();
        s.hotdesk_sign_in(&at("1002")).unwrap();

        assert!(s.remove_account(&n2).unwrap());
        assert_eq!(s.member(a).unwrap().unwrap().numbers, ["1001"]);
        assert!(s.member_by_number(&n2).unwrap().is_none(), "index gone");
        assert!(s.account(&n2).unwrap().is_none());
        assert!(
            s.hotdesk_of_phone(&n2, 120).unwrap().is_none(),
            "its own phone is signed out"
        );
        assert_eq!(s.hotdesk_phones(&n1, 120).unwrap().len(), 1, "1003 stays");

        assert!(s.remove_account(&n1).unwrap());
        let m = s.member(a).unwrap().unwrap();
        assert!(m.numbers.is_empty(), "the member stays, with no number");
        assert!(
            s.hotdesk_of_phone(&n3, 120).unwrap().is_none(),
            "a phone signed in as a removed number is signed out"
        );
        assert!(!s.remove_account(&n1).unwrap(), "gone already");
        // the number can be made again and given to a member
        s.put_account(&n1, &s.account(&n3).unwrap().unwrap())
            .unwrap();
        s.modify_member(a, |m| m.numbers.push("1001".into()))
            .unwrap();
        assert_eq!(s.member_by_number(&n1).unwrap().unwrap().0, a);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hot_desk_sessions_are_found_by_phone_and_number_until_they_end() {
        let (s, dir) = store("hotdesk");
        let (phone, number) = (Aor::from_canonical("1003"), Aor::from_canonical("1001"));
        let session = HotDeskSession::start(1, "1001", "1003", 100, Duration::from_secs(60));
        s.hotdesk_sign_in(&session).unwrap();
        assert_eq!(
            s.hotdesk_of_phone(&phone, 120).unwrap(),
            Some(session.clone())
        );
        assert_eq!(
            s.hotdesk_phones(&number, 120).unwrap(),
            vec![session.clone()]
        );
        assert!(s
            .hotdesk_phones(&Aor::from_canonical("100"), 120)
            .unwrap()
            .is_empty());
        assert!(s.hotdesk_phones(&number, 160).unwrap().is_empty(), "ended");
        assert!(
            s.hotdesk_of_phone(&phone, 120).unwrap().is_none(),
            "and removed"
        );
        s.hotdesk_sign_in(&session).unwrap();
        assert_eq!(s.hotdesk_sign_out(&phone).unwrap(), Some(session));
        assert!(s.hotdesk_phones(&number, 120).unwrap().is_empty());
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_session_stored_before_a_restart_is_found_after_it() {
        let (s, dir) = store("hotdesk-restart");
        let (phone, number) = (Aor::from_canonical("1003"), Aor::from_canonical("1001"));
        assert!(s.hotdesk_of_phone(&phone, 120).unwrap().is_none());
        let session = HotDeskSession::start(1, "1001", "1003", 100, Duration::from_secs(600));
        s.hotdesk_sign_in(&session).unwrap();
        s.flush().unwrap();
        drop(s);
        let s = Store::open(&dir, 50, 8).unwrap();
        assert_eq!(
            s.hotdesk_of_phone(&phone, 120).unwrap(),
            Some(session.clone())
        );
        assert_eq!(s.hotdesk_phones(&number, 120).unwrap(), vec![session]);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
