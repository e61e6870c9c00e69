//! Buddy lists and presence watch grants: their records, keys, limits and the answer to
//! "may W watch P".
//!
//! Both trees are keyed `owner 0x00 other` with canonical address text (`Aor::as_str()`, which
//! never holds a NUL), so a prefix scan of `owner 0x00` is one owner's entries in key order.
//! A buddy entry at P for W says P wants to see W and lets W see P; a grant at P for W is P's
//! answer to W asking to watch (pending until P decides).
//!
//! No I/O: the actors' store reads the records and asks `Authorization::decide`.

use crate::numbering::Aor;

/// One entry of an owner's buddy list.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BuddyRecord {
    /// The name the owner shows for this buddy.
    pub display: Option<String>,
    /// The owner's groups this buddy is in (distinct, in the owner's order).
    pub groups: Vec<String>,
    pub added_unix: u64,
}

/// The owner's decision about one watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum GrantState {
    Allowed,
    /// The watcher asked; the owner has not answered yet.
    Pending,
    Denied,
}

impl GrantState {
    /// The lowercase name used by the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Allowed => "allowed",
            GrantState::Pending => "pending",
            GrantState::Denied => "denied",
        }
    }

    /// Reads a name written by `as_str`.
    pub fn parse(s: &str) -> Option<GrantState> {
        match s {
            "allowed" => Some(GrantState::Allowed),
            "pending" => Some(GrantState::Pending),
            "denied" => Some(GrantState::Denied),
            _ => None,
        }
    }
}

/// A watch grant: what the owner decided about a watcher, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct WatchGrant {
    pub state: GrantState,
    pub since_unix: u64,
}

/// The answer to "may this watcher see this owner's presence".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authorization {
    Allowed,
    /// Asked, not answered yet: the subscription waits (RFC 6665 `pending`).
    Pending,
    Denied,
    /// Nobody decided anything about this watcher.
    Unknown,
}

impl Authorization {
    /// The decision: an owner always sees itself; a watcher on the owner's buddy list or
    /// with an allowed grant may watch; otherwise the grant decides, and without one nobody
    /// has said anything. The list wins over a denied grant: listing someone is the owner
    /// asking to see them, which shows the owner to them in return.
    pub fn decide(same: bool, listed: bool, grant: Option<GrantState>) -> Authorization {
        if same || listed {
            return Authorization::Allowed;
        }
        match grant {
            Some(GrantState::Allowed) => Authorization::Allowed,
            Some(GrantState::Pending) => Authorization::Pending,
            Some(GrantState::Denied) => Authorization::Denied,
            None => Authorization::Unknown,
        }
    }
}

/// The key of `other` in `owner`'s entries (both trees).
pub fn pair_key(owner: &Aor, other: &Aor) -> Vec<u8> {
    let mut k = owner_prefix(owner);
    k.extend_from_slice(other.as_str().as_bytes());
    k
}

/// The prefix of every key of `owner`'s entries.
pub fn owner_prefix(owner: &Aor) -> Vec<u8> {
    let mut k = Vec::with_capacity(owner.as_str().len() + 17);
    k.extend_from_slice(owner.as_str().as_bytes());
    k.push(0);
    k
}

/// The other address of a key under `owner_prefix(owner)`; `None` if it is not one.
pub fn other_of(owner: &Aor, key: &[u8]) -> Option<Aor> {
    let rest = key.strip_prefix(owner_prefix(owner).as_slice())?;
    let text = std::str::from_utf8(rest).ok()?;
    (!text.is_empty() && !text.contains('\0')).then(|| Aor::from_canonical(text))
}

/// How large a buddy list and its entries may be (`[presence]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuddyLimits {
    pub max_buddies: usize,
    pub max_display_chars: usize,
    pub max_groups: usize,
    pub max_group_chars: usize,
}

/// Why a buddy entry or list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuddyError {
    #[error("a buddy list holds at most {max} entries (presence.max_buddies)")]
    TooManyBuddies { max: usize },
    #[error("a display name is at most {max} characters (presence.max_display_chars)")]
    DisplayTooLong { max: usize },
    #[error("a buddy is in at most {max} groups (presence.max_groups)")]
    TooManyGroups { max: usize },
    #[error("a group name is 1 to {max} characters (presence.max_group_chars)")]
    GroupName { max: usize },
    #[error("names may not hold control characters")]
    Control,
    #[error("{number} is listed twice")]
    Duplicate { number: String },
    #[error("an account is not its own buddy")]
    Itself,
}

impl BuddyLimits {
    /// Checks one entry and makes it tidy: an empty display name is none, groups lose
    /// surrounding blanks and repeats.
    pub fn entry(
        &self,
        display: Option<String>,
        groups: Vec<String>,
        added_unix: u64,
    ) -> Result<BuddyRecord, BuddyError> {
        let display = display
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if let Some(d) = &display {
            if d.chars().count() > self.max_display_chars {
                return Err(BuddyError::DisplayTooLong {
                    max: self.max_display_chars,
                });
            }
            if d.chars().any(char::is_control) {
                return Err(BuddyError::Control);
            }
        }
        let mut tidy: Vec<String> = Vec::with_capacity(groups.len());
        for g in groups {
            let g = g.trim().to_owned();
            let n = g.chars().count();
            if n == 0 || n > self.max_group_chars {
                return Err(BuddyError::GroupName {
                    max: self.max_group_chars,
                });
            }
            if g.chars().any(char::is_control) {
                return Err(BuddyError::Control);
            }
            if !tidy.contains(&g) {
                tidy.push(g);
            }
        }
        if tidy.len() > self.max_groups {
            return Err(BuddyError::TooManyGroups {
                max: self.max_groups,
            });
        }
        Ok(BuddyRecord {
            display,
            groups: tidy,
            added_unix,
        })
    }

    /// Checks a whole list of `owner`: its length, no repeats, not the owner itself.
    pub fn list(&self, owner: &Aor, list: &[(Aor, BuddyRecord)]) -> Result<(), BuddyError> {
        if list.len() > self.max_buddies {
            return Err(BuddyError::TooManyBuddies {
                max: self.max_buddies,
            });
        }
        let mut seen: Vec<&Aor> = list.iter().map(|(a, _)| a).collect();
        if seen.contains(&owner) {
            return Err(BuddyError::Itself);
        }
        seen.sort();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(BuddyError::Duplicate {
                number: w[0].to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{decode, encode};

    const LIMITS: BuddyLimits = BuddyLimits {
        max_buddies: 2,
        max_display_chars: 5,
        max_groups: 2,
        max_group_chars: 4,
    };

    fn aor(s: &str) -> Aor {
        Aor::from_canonical(s)
    }

    #[test]
    fn records_round_trip_with_their_version() {
        let b = BuddyRecord {
            display: Some("Kim".into()),
            groups: vec!["work".into()],
            added_unix: 7,
        };
        assert_eq!(decode::<BuddyRecord>(&encode(&b)).unwrap(), b);
        let g = WatchGrant {
            state: GrantState::Pending,
            since_unix: 9,
        };
        assert_eq!(decode::<WatchGrant>(&encode(&g)).unwrap(), g);
    }

    #[test]
    fn keys_of_one_owner_share_a_prefix_no_other_owner_has() {
        let k = pair_key(&aor("1001"), &aor("+821012345678"));
        assert!(k.starts_with(&owner_prefix(&aor("1001"))));
        assert!(!k.starts_with(&owner_prefix(&aor("100"))));
        assert_eq!(
            other_of(&aor("1001"), &k),
            Some(aor("+821012345678")),
            "the other address comes back from the key"
        );
        assert_eq!(other_of(&aor("1002"), &k), None);
    }

    #[test]
    fn the_list_and_an_allowed_grant_allow_and_the_grant_decides_otherwise() {
        use Authorization as A;
        use GrantState as G;
        assert_eq!(A::decide(true, false, Some(G::Denied)), A::Allowed);
        assert_eq!(A::decide(false, true, Some(G::Denied)), A::Allowed);
        assert_eq!(A::decide(false, false, Some(G::Allowed)), A::Allowed);
        assert_eq!(A::decide(false, false, Some(G::Pending)), A::Pending);
        assert_eq!(A::decide(false, false, Some(G::Denied)), A::Denied);
        assert_eq!(A::decide(false, false, None), A::Unknown);
    }

    #[test]
    fn entries_are_tidied_and_checked_against_each_limit() {
        let e = LIMITS
            .entry(Some("  ".into()), vec![" ab ".into(), "ab".into()], 1)
            .unwrap();
        assert_eq!(e.display, None);
        assert_eq!(e.groups, vec!["ab".to_owned()]);
        assert_eq!(
            LIMITS.entry(Some("abcdef".into()), vec![], 1),
            Err(BuddyError::DisplayTooLong { max: 5 })
        );
        assert_eq!(
            LIMITS
                .entry(Some("한국어다섯".into()), vec![], 1)
                .unwrap()
                .display,
            Some("한국어다섯".into()),
            "characters are counted, not bytes"
        );
        assert_eq!(
            LIMITS.entry(None, vec!["a".into(), "b".into(), "c".into()], 1),
            Err(BuddyError::TooManyGroups { max: 2 })
        );
        assert_eq!(
            LIMITS.entry(None, vec!["toolong".into()], 1),
            Err(BuddyError::GroupName { max: 4 })
        );
        assert_eq!(
            LIMITS.entry(None, vec!["".into()], 1),
            Err(BuddyError::GroupName { max: 4 })
        );
        assert_eq!(
            LIMITS.entry(Some("a\nb".into()), vec![], 1),
            Err(BuddyError::Control)
        );
    }

    #[test]
    fn a_list_is_refused_when_long_repeated_or_naming_its_owner() {
        let rec = LIMITS.entry(None, vec![], 1).unwrap();
        let owner = aor("1001");
        let one = |s: &str| (aor(s), rec.clone());
        assert_eq!(LIMITS.list(&owner, &[one("1002"), one("1003")]), Ok(()));
        assert_eq!(
            LIMITS.list(&owner, &[one("1002"), one("1003"), one("1004")]),
            Err(BuddyError::TooManyBuddies { max: 2 })
        );
        assert_eq!(
            LIMITS.list(&owner, &[one("1002"), one("1002")]),
            Err(BuddyError::Duplicate {
                number: "1002".into()
            })
        );
        assert_eq!(LIMITS.list(&owner, &[one("1001")]), Err(BuddyError::Itself));
    }

    #[test]
    fn grant_state_names_round_trip() {
        for g in [GrantState::Allowed, GrantState::Pending, GrantState::Denied] {
            assert_eq!(GrantState::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantState::parse("maybe"), None);
    }
}
