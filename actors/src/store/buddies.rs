//! Buddy lists and presence watch grants (records and keys in
//! `switchboard_engine::store::buddies`).
//!
//! `may_watch` is the one question presence asks; `request_watch` asks it for a watcher that
//! wants an answer and leaves a pending grant for the owner to decide. Single writes are sled
//! operations (atomic each); a pending grant is written with compare-and-swap so it never
//! replaces a decision made meanwhile. `replace_buddies` is one batch: a reader sees the old
//! list or the new one. Read-modify-write sequences over several entries (the HTTP API's) are
//! serialized by their caller.

use switchboard_engine::numbering::Aor;
use switchboard_engine::store::buddies::{other_of, owner_prefix, pair_key};
use switchboard_engine::store::{self, Authorization, BuddyRecord, GrantState, WatchGrant};

use super::{decode, Store, StoreError};
use crate::clock::unix_now;

impl Store {
    /// `owner`'s buddy list in key order.
    pub fn buddies(&self, owner: &Aor) -> Result<Vec<(Aor, BuddyRecord)>, StoreError> {
        self.entries(&self.buddies, owner)
    }

    /// One entry of `owner`'s buddy list.
    pub fn buddy(&self, owner: &Aor, other: &Aor) -> Result<Option<BuddyRecord>, StoreError> {
        match self.buddies.get(pair_key(owner, other))? {
            Some(v) => Ok(Some(decode(other.as_str(), &v)?)),
            None => Ok(None),
        }
    }

    /// Adds or replaces one entry; `true` if it is new.
    pub fn put_buddy(
        &self,
        owner: &Aor,
        other: &Aor,
        rec: &BuddyRecord,
    ) -> Result<bool, StoreError> {
        let old = self
            .buddies
            .insert(pair_key(owner, other), store::encode(rec))?;
        Ok(old.is_none())
    }

    /// Removes one entry; `false` if there was none.
    pub fn remove_buddy(&self, owner: &Aor, other: &Aor) -> Result<bool, StoreError> {
        Ok(self.buddies.remove(pair_key(owner, other))?.is_some())
    }

    /// Replaces `owner`'s whole list in one batch.
    pub fn replace_buddies(
        &self,
        owner: &Aor,
        list: Vec<(Aor, BuddyRecord)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for item in self.buddies.scan_prefix(owner_prefix(owner)) {
            let (k, _) = item?;
            batch.remove(k);
        }
        // a later insert of the same key in a batch wins over its removal
        for (other, rec) in &list {
            batch.insert(pair_key(owner, other), store::encode(rec));
        }
        self.buddies.apply_batch(batch)?;
        Ok(())
    }

    /// `owner`'s decision about `watcher`, if any.
    pub fn grant(&self, owner: &Aor, watcher: &Aor) -> Result<Option<WatchGrant>, StoreError> {
        match self.grants.get(pair_key(owner, watcher))? {
            Some(v) => Ok(Some(decode(watcher.as_str(), &v)?)),
            None => Ok(None),
        }
    }

    /// Records `owner`'s decision about `watcher` (the time it took this state is kept when
    /// the state does not change).
    pub fn set_grant(
        &self,
        owner: &Aor,
        watcher: &Aor,
        state: GrantState,
    ) -> Result<WatchGrant, StoreError> {
        let now = unix_now();
        let mut made = WatchGrant {
            state,
            since_unix: now,
        };
        self.grants
            .fetch_and_update(pair_key(owner, watcher), |old| {
                let kept = old
                    .and_then(|v| store::decode::<WatchGrant>(v).ok())
                    .filter(|g| g.state == state);
                made = kept.unwrap_or(WatchGrant {
                    state,
                    since_unix: now,
                });
                Some(store::encode(&made))
            })?;
        Ok(made)
    }

    /// Forgets `owner`'s decision about `watcher`; `false` if there was none.
    pub fn remove_grant(&self, owner: &Aor, watcher: &Aor) -> Result<bool, StoreError> {
        Ok(self.grants.remove(pair_key(owner, watcher))?.is_some())
    }

    /// `owner`'s grants in key order, only those in state `filter` when given.
    pub fn grants(
        &self,
        owner: &Aor,
        filter: Option<GrantState>,
    ) -> Result<Vec<(Aor, WatchGrant)>, StoreError> {
        let mut all = self.entries::<WatchGrant>(&self.grants, owner)?;
        if let Some(f) = filter {
            all.retain(|(_, g)| g.state == f);
        }
        Ok(all)
    }

    /// May `watcher` see `owner`'s presence (`Authorization::decide` over the stored list
    /// entry and grant).
    pub fn may_watch(&self, owner: &Aor, watcher: &Aor) -> Result<Authorization, StoreError> {
        if owner == watcher {
            return Ok(Authorization::Allowed);
        }
        let listed = self.buddies.contains_key(pair_key(owner, watcher))?;
        let grant = if listed {
            None
        } else {
            self.grant(owner, watcher)?.map(|g| g.state)
        };
        Ok(Authorization::decide(false, listed, grant))
    }

    /// `may_watch`, for a watcher asking: when nobody decided yet and `owner` has an
    /// account, a pending grant is left for the owner and the answer is `Pending`. An owner
    /// without an account gets nothing written and the answer stays `Unknown`; what a watcher
    /// is told then is the caller's choice, and must not reveal whether the number has an
    /// account.
    pub fn request_watch(&self, owner: &Aor, watcher: &Aor) -> Result<Authorization, StoreError> {
        Ok(self.request_watch_noting(owner, watcher)?.0)
    }

    /// `request_watch`, and whether it wrote a pending grant.
    pub(crate) fn request_watch_noting(
        &self,
        owner: &Aor,
        watcher: &Aor,
    ) -> Result<(Authorization, bool), StoreError> {
        let answer = self.may_watch(owner, watcher)?;
        if answer != Authorization::Unknown || self.account(owner)?.is_none() {
            return Ok((answer, false));
        }
        let pending = store::encode(&WatchGrant {
            state: GrantState::Pending,
            since_unix: unix_now(),
        });
        // only where no grant is: a decision made since the read above stands
        let written = self
            .grants
            .compare_and_swap(pair_key(owner, watcher), None::<&[u8]>, Some(pending))?
            .is_ok();
        if written {
            Ok((Authorization::Pending, true))
        } else {
            Ok((self.may_watch(owner, watcher)?, false))
        }
    }

    /// Removes `owner`'s buddy list and grants (with its account).
    pub(super) fn remove_presence_of(&self, owner: &Aor) -> Result<(), StoreError> {
        // its own list and grants, and every entry naming it on others' lists and grants: a
        // number given to someone new later inherits none of them (a scan; removals are rare)
        let mut naming = Vec::with_capacity(owner.as_str().len() + 1);
        naming.push(0);
        naming.extend_from_slice(owner.as_str().as_bytes());
        for tree in [&self.buddies, &self.grants] {
            let mut batch = sled::Batch::default();
            for item in tree.scan_prefix(owner_prefix(owner)) {
                batch.remove(item?.0);
            }
            for item in tree.iter() {
                let (k, _) = item?;
                if k.ends_with(&naming) {
                    batch.remove(k);
                }
            }
            tree.apply_batch(batch)?;
        }
        Ok(())
    }

    fn entries<T: bincode::Decode<()>>(
        &self,
        tree: &sled::Tree,
        owner: &Aor,
    ) -> Result<Vec<(Aor, T)>, StoreError> {
        let mut out = Vec::new();
        for item in tree.scan_prefix(owner_prefix(owner)) {
            let (k, v) = item?;
            let Some(other) = other_of(owner, &k) else {
                continue;
            };
            let rec = decode(other.as_str(), &v)?;
            out.push((other, rec));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-buddies-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Opens a store a dropped handle held a moment ago (sled lets go of its lock late).
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

    fn aor(s: &str) -> Aor {
        Aor::from_canonical(s)
    }

    fn rec(display: Option<&str>) -> BuddyRecord {
        BuddyRecord {
            display: display.map(str::to_owned),
            groups: vec!["friends".into()],
            added_unix: 1,
        }
    }

    fn account(s: &Store, a: &Aor) {
        s.put_account(
            a,
            &store::AccountRecord {
                realm: "r".into(),
                credentials: vec![],
                created_unix: 1,
            },
        )
        .unwrap();
    }

    #[test]
    fn a_list_is_one_owners_entries_in_key_order_and_survives_reopening() {
        let dir = tmp("list");
        let (a, b, c) = (aor("1001"), aor("1002"), aor("1003"));
        {
            let s = Store::open(&dir, 100, 8).unwrap();
            assert!(s.put_buddy(&a, &c, &rec(None)).unwrap(), "new");
            assert!(s.put_buddy(&a, &b, &rec(None)).unwrap());
            assert!(!s.put_buddy(&a, &b, &rec(Some("Bo"))).unwrap(), "updated");
            // a neighbour whose address extends ours is not in our list
            s.put_buddy(&aor("10011"), &b, &rec(None)).unwrap();
            s.put_buddy(&b, &a, &rec(None)).unwrap();
            s.flush().unwrap();
        }
        let s = reopen(&dir);
        let list = s.buddies(&a).unwrap();
        let names: Vec<&str> = list.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(names, ["1002", "1003"]);
        assert_eq!(list[0].1.display.as_deref(), Some("Bo"));
        assert_eq!(s.buddy(&a, &b).unwrap(), Some(rec(Some("Bo"))));
        assert!(s.remove_buddy(&a, &b).unwrap());
        assert!(!s.remove_buddy(&a, &b).unwrap());
        assert_eq!(s.buddy(&a, &b).unwrap(), None);
    }

    #[test]
    fn removing_an_account_removes_every_entry_naming_it_and_both_one_time_passwords() {
        let s = Store::open(&tmp("naming"), 100, 8).unwrap();
        let (a, b, c) = (aor("1001"), aor("1002"), aor("1003"));
        s.put_buddy(&a, &b, &rec(None)).unwrap();
        s.put_buddy(&c, &b, &rec(None)).unwrap();
        s.put_buddy(&c, &aor("10021"), &rec(None)).unwrap();
        s.set_grant(&a, &b, GrantState::Allowed).unwrap();
        s.put_buddy(&b, &a, &rec(None)).unwrap();
        for purpose in [
            switchboard_engine::store::OtpPurpose::SignIn,
            switchboard_engine::store::OtpPurpose::Reset,
        ] {
            s.put_otp(
                &b,
                &switchboard_engine::store::OtpRecord {
                    credentials: Vec::new(),
                    purpose,
                    expires_unix: 9_999_999_999,
                },
            )
            .unwrap();
        }
        s.remove_account(&b).unwrap();
        assert!(s.buddies(&a).unwrap().is_empty(), "1002 left 1001's list");
        let left: Vec<Aor> = s.buddies(&c).unwrap().into_iter().map(|(x, _)| x).collect();
        assert_eq!(
            left,
            [aor("10021")],
            "a number that merely starts alike stays"
        );
        assert_eq!(s.grant(&a, &b).unwrap(), None);
        assert!(s.buddies(&b).unwrap().is_empty());
        assert!(s.otps(&b).unwrap().is_empty(), "both slots gone");
    }

    #[test]
    fn replacing_a_list_leaves_exactly_the_new_entries() {
        let s = Store::open(&tmp("replace"), 100, 8).unwrap();
        let a = aor("1001");
        s.put_buddy(&a, &aor("1002"), &rec(None)).unwrap();
        s.put_buddy(&a, &aor("1003"), &rec(None)).unwrap();
        s.replace_buddies(
            &a,
            vec![(aor("1003"), rec(Some("C"))), (aor("1004"), rec(None))],
        )
        .unwrap();
        let list = s.buddies(&a).unwrap();
        assert_eq!(
            list,
            vec![(aor("1003"), rec(Some("C"))), (aor("1004"), rec(None))]
        );
        s.replace_buddies(&a, vec![]).unwrap();
        assert!(s.buddies(&a).unwrap().is_empty());
    }

    #[test]
    fn grants_are_set_filtered_and_keep_their_time_while_the_state_stays() {
        let s = Store::open(&tmp("grants"), 100, 8).unwrap();
        let (a, b, c) = (aor("1001"), aor("1002"), aor("1003"));
        let first = s.set_grant(&a, &b, GrantState::Pending).unwrap();
        assert_eq!(s.set_grant(&a, &b, GrantState::Pending).unwrap(), first);
        s.set_grant(&a, &c, GrantState::Denied).unwrap();
        assert_eq!(s.grants(&a, None).unwrap().len(), 2);
        let denied = s.grants(&a, Some(GrantState::Denied)).unwrap();
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].0, c);
        assert_eq!(
            s.set_grant(&a, &b, GrantState::Allowed).unwrap().state,
            GrantState::Allowed
        );
        assert_eq!(s.grant(&a, &b).unwrap().unwrap().state, GrantState::Allowed);
        assert!(s.remove_grant(&a, &b).unwrap());
        assert!(!s.remove_grant(&a, &b).unwrap());
        assert!(
            s.grants(&b, None).unwrap().is_empty(),
            "grants are per owner"
        );
    }

    #[test]
    fn may_watch_follows_the_list_then_the_grant() {
        let s = Store::open(&tmp("may"), 100, 8).unwrap();
        let (p, w) = (aor("1001"), aor("1002"));
        assert_eq!(s.may_watch(&p, &p).unwrap(), Authorization::Allowed);
        assert_eq!(s.may_watch(&p, &w).unwrap(), Authorization::Unknown);
        s.set_grant(&p, &w, GrantState::Denied).unwrap();
        assert_eq!(s.may_watch(&p, &w).unwrap(), Authorization::Denied);
        s.set_grant(&p, &w, GrantState::Pending).unwrap();
        assert_eq!(s.may_watch(&p, &w).unwrap(), Authorization::Pending);
        s.set_grant(&p, &w, GrantState::Allowed).unwrap();
        assert_eq!(s.may_watch(&p, &w).unwrap(), Authorization::Allowed);
        s.set_grant(&p, &w, GrantState::Denied).unwrap();
        s.put_buddy(&p, &w, &rec(None)).unwrap();
        assert_eq!(
            s.may_watch(&p, &w).unwrap(),
            Authorization::Allowed,
            "the owner's list wins"
        );
        assert_eq!(
            s.may_watch(&w, &p).unwrap(),
            Authorization::Unknown,
            "one way only"
        );
    }

    #[test]
    fn a_request_leaves_a_pending_grant_only_at_an_account_and_never_overrides_a_decision() {
        let s = Store::open(&tmp("request"), 100, 8).unwrap();
        let (p, w, nobody) = (aor("1001"), aor("1002"), aor("1009"));
        assert_eq!(
            s.request_watch(&nobody, &w).unwrap(),
            Authorization::Unknown
        );
        assert!(
            s.grants(&nobody, None).unwrap().is_empty(),
            "nothing written"
        );
        account(&s, &p);
        assert_eq!(
            s.request_watch_noting(&p, &w).unwrap(),
            (Authorization::Pending, true)
        );
        assert_eq!(
            s.request_watch_noting(&p, &w).unwrap(),
            (Authorization::Pending, false),
            "asked once"
        );
        s.set_grant(&p, &w, GrantState::Denied).unwrap();
        assert_eq!(s.request_watch(&p, &w).unwrap(), Authorization::Denied);
        assert_eq!(s.grant(&p, &w).unwrap().unwrap().state, GrantState::Denied);
    }
}
