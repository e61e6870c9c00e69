//! The plan's lookup tables: the directory (domain names and e-mail addresses to the owner's
//! number) and the enterprise branches (an enterprise number's local part and country to the
//! branch that answers it).
//!
//! Entries are typed when the plan is built: a directory owner is an already classified
//! destination, a branch is a subscriber or a trunk name, so a lookup can never produce
//! something the classifier would not.

use std::collections::HashMap;

use super::{Aor, Destination, NumberingPlan};

/// Where an enterprise number's country branch is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Branch {
    /// One of our subscribers (the branch's switchboard or operator).
    Subscriber(Aor),
    /// A trunk (group) to the branch's own switch; the local number is sent as dialed.
    Trunk(String),
}

/// Why a table entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    #[error("a directory owner must be a number or a subscriber")]
    Owner,
    #[error("not a domain name or e-mail address")]
    Address,
    #[error("a trunk name is letters, digits, - and _ (at most 32)")]
    TrunkName,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Tables {
    /// `user@domain` or `domain`, lowercase.
    directory: HashMap<String, Destination>,
    branches: HashMap<(String, u16), Branch>,
}

/// Whether `s` is a trunk (group) name: `[A-Za-z0-9_-]{1,32}`.
pub fn is_trunk_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
}

impl NumberingPlan {
    /// Adds a directory entry: `address` (a domain or an e-mail address) belongs to the owner
    /// of `number` (any spelling the plan reads).
    pub fn with_directory_entry(
        mut self,
        address: &str,
        number: &str,
    ) -> Result<NumberingPlan, TableError> {
        let key = match self.classify(address) {
            Ok(Destination::Directory { user, domain }) => directory_key(user.as_deref(), &domain),
            _ => return Err(TableError::Address),
        };
        let owner = match self.classify(number) {
            Ok(
                d @ (Destination::Subscriber(_)
                | Destination::Personal { .. }
                | Destination::Pstn(_)
                | Destination::Provider { .. }),
            ) => d,
            _ => return Err(TableError::Owner),
        };
        self.tables.directory.insert(key, owner);
        Ok(self)
    }

    /// Adds an enterprise branch: `local#country` is answered by `branch`. `local` is written
    /// with or without separators.
    pub fn with_branch(
        mut self,
        local: &str,
        country: u16,
        branch: Branch,
    ) -> Result<NumberingPlan, TableError> {
        if let Branch::Trunk(t) = &branch {
            if !is_trunk_name(t) {
                return Err(TableError::TrunkName);
            }
        }
        let digits: String = local.chars().filter(char::is_ascii_digit).collect();
        self.tables.branches.insert((digits, country), branch);
        Ok(self)
    }

    /// The owner of a directory address (`user` is `None` for a bare domain).
    pub fn directory_owner(&self, user: Option<&str>, domain: &str) -> Option<&Destination> {
        self.tables.directory.get(&directory_key(user, domain))
    }

    /// The branch answering an enterprise number in `country`.
    pub fn branch(&self, local: &str, country: u16) -> Option<&Branch> {
        self.tables.branches.get(&(local.to_owned(), country))
    }

    /// Whether an E.164 number is in our own ranges (every number is, without ranges).
    pub fn is_own(&self, e164: &str) -> bool {
        self.own.is_empty() || self.own.iter().any(|p| e164.starts_with(p.as_str()))
    }

    /// The destination a directory destination stands for, when the directory knows it;
    /// every other destination stands for itself.
    pub fn resolve(&self, d: Destination) -> Destination {
        match &d {
            Destination::Directory { user, domain } => self
                .directory_owner(user.as_deref(), domain)
                .cloned()
                .unwrap_or(d),
            _ => d,
        }
    }

    /// The subscriber a destination reaches, when it reaches one of ours: a subscriber, a
    /// personal number in our ranges, or an enterprise number whose branch is a subscriber.
    pub fn subscriber_of(&self, d: &Destination) -> Option<Aor> {
        match d {
            Destination::Subscriber(a) => Some(a.clone()),
            Destination::Personal { e164, .. } if self.is_own(e164.as_str()) => Some(e164.clone()),
            Destination::Enterprise { local, country } => match self.branch(local, *country) {
                Some(Branch::Subscriber(a)) => Some(a.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn directory_key(user: Option<&str>, domain: &str) -> String {
    match user {
        Some(u) => format!("{u}@{domain}"),
        None => domain.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
            .with_directory_entry("kim@Acme.Example", "011-123-4567")
            .unwrap()
            .with_directory_entry("acme.example", "+1 212 555 1234")
            .unwrap()
            .with_branch(
                "6200-6200",
                82,
                Branch::Subscriber(Aor::from_canonical("1001")),
            )
            .unwrap()
            .with_branch("62006200", 1, Branch::Trunk("us-branch".into()))
            .unwrap()
    }

    #[test]
    fn directory_addresses_resolve_to_their_owner() {
        let p = plan();
        let kim = p.resolve(p.classify("KIM@acme.example").unwrap());
        assert_eq!(
            kim,
            Destination::Subscriber(Aor::from_canonical("+82111234567"))
        );
        let acme = p.resolve(p.classify("acme.example").unwrap());
        assert_eq!(acme, Destination::Pstn(Aor::from_canonical("+12125551234")));
        let unknown = p.classify("lee@acme.example").unwrap();
        assert_eq!(
            p.resolve(unknown.clone()),
            unknown,
            "unknown addresses stay lookups"
        );
    }

    #[test]
    fn enterprise_branches_by_country() {
        let p = plan();
        let kr = p.classify("6200-6200#082").unwrap();
        assert_eq!(p.subscriber_of(&kr), Some(Aor::from_canonical("1001")));
        assert_eq!(
            p.branch("62006200", 1),
            Some(&Branch::Trunk("us-branch".into()))
        );
        let jp = p.classify("6200-6200#081").unwrap();
        assert_eq!(p.subscriber_of(&jp), None);
        assert_eq!(p.branch("62006200", 81), None);
    }

    #[test]
    fn personal_numbers_are_ours_only_in_our_ranges() {
        let p = plan();
        let seoul = p.classify("02-6200-6200-082").unwrap();
        assert_eq!(
            p.subscriber_of(&seoul),
            None,
            "+82262006200 is outside +8211"
        );
        let closed = NumberingPlan::new("KR").unwrap();
        let seoul = closed.classify("02-6200-6200-082").unwrap();
        assert_eq!(
            closed.subscriber_of(&seoul),
            Some(Aor::from_canonical("+82262006200"))
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        let p = NumberingPlan::new("KR").unwrap();
        assert_eq!(
            p.clone().with_directory_entry("1001", "1002").unwrap_err(),
            TableError::Address
        );
        assert_eq!(
            p.clone()
                .with_directory_entry("a@b.example", "c@d.example")
                .unwrap_err(),
            TableError::Owner
        );
        assert_eq!(
            p.with_branch("6200", 82, Branch::Trunk("no spaces".into()))
                .unwrap_err(),
            TableError::TrunkName
        );
    }
}
