//! The stored member and how it is validated from what the operator sends.
//!
//! A member has an identity (name, e-mail, ISO 3166 country), the numbers it owns on the
//! switch (accounts; canonical addresses), and outside numbers it claims: the PSTN number it
//! can be reached at and numbers it holds at other providers, each with its
//! [`Verification`]. Numbers are canonicalised by the numbering plan; an outside number must
//! be E.164 and not in our own ranges (it would be an account, not a claim).
//!
//! Trees and keys (sled, written by the actors' store): `members` by [`MemberId`] (8 bytes,
//! big-endian, so the tree lists in creation order), and three indexes: owned number to id,
//! outside number to id, and the hot-desk sessions (phone to session, and member number plus
//! phone to nothing, for a prefix scan).

use std::fmt;

use super::secret::PinHash;
use super::verification::Verification;
use crate::numbering::{Aor, AorKind, NumberingPlan};
use crate::store::{self, RecordError};

/// Members by id.
pub const MEMBERS_TREE: &str = "members";
/// A member's number on the switch to its id.
pub const MEMBERS_BY_NUMBER_TREE: &str = "members_by_number";
/// A claimed outside number (verified or not) to the id of the member claiming it.
pub const MEMBERS_BY_OUTSIDE_TREE: &str = "members_by_outside";
/// Hot-desk sessions by the phone's own number.
pub const HOTDESK_TREE: &str = "hotdesk";
/// `number \0 phone` for each hot-desk session, so the phones of a number are a prefix scan.
pub const HOTDESK_BY_NUMBER_TREE: &str = "hotdesk_by_number";

/// Most numbers on the switch, and most outside numbers, one member has.
pub const MAX_NUMBERS: usize = 10;
/// Longest name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest e-mail address (RFC 5321 §4.5.3.1.3 path limit).
pub const MAX_EMAIL: usize = 254;

/// A member's id: given by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

impl MemberId {
    /// The id's key in `members` (big-endian: sled sorts bytes).
    pub fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The id a key of `members` (or a value of an index) stands for.
    pub fn from_key(k: &[u8]) -> Option<MemberId> {
        Some(MemberId(u64::from_be_bytes(k.try_into().ok()?)))
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for MemberId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(MemberId)
    }
}

/// The key of a hot-desk session in `hotdesk_by_number`.
pub fn hotdesk_number_key(number: &str, phone: &str) -> Vec<u8> {
    let mut k = hotdesk_number_prefix(number);
    k.extend_from_slice(phone.as_bytes());
    k
}

/// The prefix of the keys of `number`'s sessions in `hotdesk_by_number`.
pub fn hotdesk_number_prefix(number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 16);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k
}

/// Which kind of outside number a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum OutsideKind {
    /// The PSTN number the member can be reached at.
    Pstn,
    /// A number the member holds at another provider.
    Provider,
}

impl OutsideKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutsideKind::Pstn => "pstn",
            OutsideKind::Provider => "provider",
        }
    }
}

/// One claimed outside number and how far its proof got.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct OutsideNumber {
    /// E.164.
    pub number: String,
    pub kind: OutsideKind,
    pub verification: Verification,
}

/// A stored member.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MemberRecord {
    pub name: String,
    pub email: String,
    /// ISO 3166 alpha-2, uppercase.
    pub country: String,
    /// Canonical numbers of the member's accounts on the switch, the first one first.
    pub numbers: Vec<String>,
    pub outside: Vec<OutsideNumber>,
    /// The hot-desk PIN, salted and hashed; none set: hot desk is refused.
    pub pin: Option<PinHash>,
    /// Wrong PINs in a row (the lockout rules of `voicemail::lockout`).
    pub pin_failures: u32,
    pub pin_locked_until_unix: u64,
    pub created_unix: u64,
}

/// What the operator sends for a member, before ([`MemberDraft::validate`]) and after
/// validation (then every number is canonical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDraft {
    pub name: String,
    pub email: String,
    pub country: String,
    pub numbers: Vec<String>,
    /// The PSTN number the member can be reached at.
    pub reachable_at: Option<String>,
    /// Numbers held at other providers.
    pub other_numbers: Vec<String>,
}

/// Why a member's data is refused. Carries the offending value: the operator sent it, and it
/// goes back to the operator only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    #[error("a name is required")]
    EmptyName,
    #[error("the name is longer than {MAX_NAME} characters or has control characters")]
    BadName,
    #[error("not an e-mail address: {email:?}")]
    BadEmail { email: String },
    #[error("not an ISO 3166 country code: {country:?}")]
    BadCountry { country: String },
    #[error("at least one number on the switch is required")]
    NoNumbers,
    #[error("more than {MAX_NUMBERS} numbers")]
    TooManyNumbers,
    #[error("not a phone number: {number:?}")]
    BadNumber { number: String },
    #[error("an outside number must be in international (E.164) form: {number:?}")]
    NotE164 { number: String },
    #[error("{number} is one of the switch's own numbers, not an outside one")]
    OwnNumber { number: String },
    #[error("{number} is given twice")]
    Duplicate { number: String },
}

impl MemberError {
    /// The API's error code for it.
    pub fn code(&self) -> &'static str {
        match self {
            MemberError::EmptyName | MemberError::BadName => "bad_name",
            MemberError::BadEmail { .. } => "bad_email",
            MemberError::BadCountry { .. } => "bad_country",
            MemberError::NoNumbers | MemberError::TooManyNumbers => "bad_numbers",
            MemberError::BadNumber { .. } | MemberError::NotE164 { .. } => "bad_number",
            MemberError::OwnNumber { .. } => "own_number",
            MemberError::Duplicate { .. } => "duplicate_number",
        }
    }
}

impl MemberDraft {
    /// The draft with its identity checked and every number canonical; refused with the first
    /// fault found. Whether the numbers on the switch have accounts is the store's to check.
    pub fn validate(self, plan: &NumberingPlan) -> Result<MemberDraft, MemberError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(MemberError::EmptyName);
        }
        if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(MemberError::BadName);
        }
        let email = self.email.trim().to_owned();
        if !is_email(&email) {
            return Err(MemberError::BadEmail { email });
        }
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || NumberingPlan::new(&country).is_err() {
            return Err(MemberError::BadCountry { country });
        }
        if self.numbers.is_empty() {
            return Err(MemberError::NoNumbers);
        }
        let claims = self.other_numbers.len() + usize::from(self.reachable_at.is_some());
        if self.numbers.len() > MAX_NUMBERS || claims > MAX_NUMBERS {
            return Err(MemberError::TooManyNumbers);
        }
        let mut seen: Vec<String> = Vec::new();
        let mut numbers = Vec::with_capacity(self.numbers.len());
        for n in &self.numbers {
            let aor = canonical(plan, n)?;
            unique(&mut seen, aor.as_str())?;
            numbers.push(aor.as_str().to_owned());
        }
        let reachable_at = match &self.reachable_at {
            Some(n) if !n.trim().is_empty() => Some(outside(plan, n, &mut seen)?),
            _ => None,
        };
        let mut other_numbers = Vec::with_capacity(self.other_numbers.len());
        for n in &self.other_numbers {
            other_numbers.push(outside(plan, n, &mut seen)?);
        }
        Ok(MemberDraft {
            name,
            email,
            country,
            numbers,
            reachable_at,
            other_numbers,
        })
    }

    /// The outside numbers claimed, with their kind, in order.
    pub fn claims(&self) -> impl Iterator<Item = (&str, OutsideKind)> {
        self.reachable_at
            .iter()
            .map(|n| (n.as_str(), OutsideKind::Pstn))
            .chain(
                self.other_numbers
                    .iter()
                    .map(|n| (n.as_str(), OutsideKind::Provider)),
            )
    }
}

impl MemberRecord {
    /// A new member from a validated draft, at `now_unix`: no claim verified, no PIN.
    pub fn new(draft: MemberDraft, now_unix: u64) -> MemberRecord {
        let mut rec = MemberRecord {
            name: String::new(),
            email: String::new(),
            country: String::new(),
            numbers: Vec::new(),
            outside: Vec::new(),
            pin: None,
            pin_failures: 0,
            pin_locked_until_unix: 0,
            created_unix: now_unix,
        };
        rec.replace(draft);
        rec
    }

    /// Takes a validated draft's data; an outside number claimed before, as the same kind,
    /// keeps its verification, any other claim starts unverified.
    pub fn replace(&mut self, draft: MemberDraft) {
        let outside = draft
            .claims()
            .map(|(n, kind)| OutsideNumber {
                number: n.to_owned(),
                kind,
                verification: self
                    .outside
                    .iter()
                    .find(|o| o.number == n && o.kind == kind)
                    .map(|o| o.verification.clone())
                    .unwrap_or_default(),
            })
            .collect();
        self.outside = outside;
        self.name = draft.name;
        self.email = draft.email;
        self.country = draft.country;
        self.numbers = draft.numbers;
    }

    /// The record's data as a draft (to change some of it and validate again).
    pub fn draft(&self) -> MemberDraft {
        let pick = |kind| {
            self.outside
                .iter()
                .filter(move |o| o.kind == kind)
                .map(|o| o.number.clone())
        };
        MemberDraft {
            name: self.name.clone(),
            email: self.email.clone(),
            country: self.country.clone(),
            numbers: self.numbers.clone(),
            reachable_at: pick(OutsideKind::Pstn).next(),
            other_numbers: pick(OutsideKind::Provider).collect(),
        }
    }

    /// The claim of outside number `number` (E.164).
    pub fn claim(&self, number: &str) -> Option<&OutsideNumber> {
        self.outside.iter().find(|o| o.number == number)
    }

    pub fn claim_mut(&mut self, number: &str) -> Option<&mut OutsideNumber> {
        self.outside.iter_mut().find(|o| o.number == number)
    }

    /// Whether calls and messages to outside number `number` reach this member: only when it
    /// claimed the number and verified the claim.
    pub fn reached_at(&self, number: &str) -> bool {
        self.claim(number)
            .is_some_and(|o| o.verification.is_verified())
    }

    pub fn encode(&self) -> Vec<u8> {
        store::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<MemberRecord, RecordError> {
        store::decode(bytes)
    }
}

fn canonical(plan: &NumberingPlan, n: &str) -> Result<Aor, MemberError> {
    plan.canonical(n).map_err(|_| MemberError::BadNumber {
        number: n.to_owned(),
    })
}

/// An outside number: canonical, E.164, not ours, not given before.
fn outside(plan: &NumberingPlan, n: &str, seen: &mut Vec<String>) -> Result<String, MemberError> {
    let aor = canonical(plan, n)?;
    if aor.kind() != AorKind::E164 {
        return Err(MemberError::NotE164 {
            number: n.to_owned(),
        });
    }
    if plan.allows_dynamic_account(&aor) {
        // in our own ranges: such a number is an account on the switch, not a claim
        return Err(MemberError::OwnNumber {
            number: aor.as_str().to_owned(),
        });
    }
    unique(seen, aor.as_str())?;
    Ok(aor.as_str().to_owned())
}

fn unique(seen: &mut Vec<String>, n: &str) -> Result<(), MemberError> {
    if seen.iter().any(|s| s == n) {
        return Err(MemberError::Duplicate {
            number: n.to_owned(),
        });
    }
    seen.push(n.to_owned());
    Ok(())
}

/// A plain `local@domain.tld` check: one `@`, a local part without spaces or controls, a
/// domain of dot-separated labels with at least one dot.
fn is_email(s: &str) -> bool {
    if s.len() > MAX_EMAIL {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '@');
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
    }

    fn draft() -> MemberDraft {
        MemberDraft {
            name: " Kim Minji ".into(),
            email: "minji@example.com".into(),
            country: "kr".into(),
            numbers: vec!["1001".into()],
            reachable_at: Some("010-1234-5678".into()),
            other_numbers: vec!["+82 70 1234 5678".into()],
        }
    }

    #[test]
    fn a_valid_draft_comes_back_trimmed_and_canonical() {
        let d = draft().validate(&plan()).unwrap();
        assert_eq!(d.name, "Kim Minji");
        assert_eq!(d.country, "KR");
        assert_eq!(d.numbers, vec!["1001".to_owned()]);
        assert_eq!(d.reachable_at.as_deref(), Some("+821012345678"));
        assert_eq!(d.other_numbers, vec!["+827012345678".to_owned()]);
    }

    #[test]
    fn each_fault_is_named_with_its_value() {
        let p = plan();
        let with = |f: fn(&mut MemberDraft)| {
            let mut d = draft();
            f(&mut d);
            d.validate(&p).unwrap_err()
        };
        assert_eq!(with(|d| d.name = "  ".into()), MemberError::EmptyName);
        assert_eq!(with(|d| d.name = "a\u{7}b".into()), MemberError::BadName);
        assert!(matches!(
            with(|d| d.email = "nobody".into()),
            MemberError::BadEmail { email } if email == "nobody"
        ));
        assert!(matches!(
            with(|d| d.email = "a@localhost".into()),
            MemberError::BadEmail { .. }
        ));
        assert!(matches!(
            with(|d| d.country = "XX".into()),
            MemberError::BadCountry { .. }
        ));
        assert_eq!(with(|d| d.numbers.clear()), MemberError::NoNumbers);
        assert!(matches!(
            with(|d| d.numbers = vec!["12ab!".into()]),
            MemberError::BadNumber { .. }
        ));
        assert!(matches!(
            with(|d| d.reachable_at = Some("1002".into())),
            MemberError::NotE164 { .. }
        ));
        assert!(matches!(
            with(|d| d.reachable_at = Some("+82111234567".into())),
            MemberError::OwnNumber { number } if number == "+82111234567"
        ));
        assert!(matches!(
            with(|d| d.other_numbers = vec!["010 1234 5678".into()]),
            MemberError::Duplicate { number } if number == "+821012345678"
        ));
        assert_eq!(
            with(|d| d.numbers = (0..11).map(|i| format!("10{i:02}")).collect()),
            MemberError::TooManyNumbers
        );
    }

    #[test]
    fn a_changed_record_keeps_the_verification_of_numbers_it_still_claims() {
        let p = plan();
        let mut rec = MemberRecord::new(draft().validate(&p).unwrap(), 100);
        assert!(
            !rec.reached_at("+821012345678"),
            "a new claim is unverified"
        );
        rec.claim_mut("+821012345678")
            .unwrap()
            .verification
            .verified_unix = Some(200);
        rec.claim_mut("+827012345678")
            .unwrap()
            .verification
            .verified_unix = Some(200);
        assert!(rec.reached_at("+821012345678"));

        let mut d = rec.draft();
        d.name = "Kim M.".into();
        d.other_numbers = vec!["+82 70 9999 0000".into()];
        rec.replace(d.validate(&p).unwrap());
        assert_eq!(rec.name, "Kim M.");
        assert!(rec.reached_at("+821012345678"), "kept");
        assert!(!rec.reached_at("+827099990000"), "new");
        assert!(rec.claim("+827012345678").is_none(), "dropped");

        let mut d = rec.draft();
        // the same number claimed as the other kind starts over
        d.other_numbers = vec![d.reachable_at.take().unwrap()];
        rec.replace(d.validate(&p).unwrap());
        assert!(!rec.reached_at("+821012345678"));
    }

    #[test]
    fn a_record_survives_encoding_and_ids_sort_as_keys() {
        let rec = MemberRecord::new(draft().validate(&plan()).unwrap(), 7);
        assert_eq!(MemberRecord::decode(&rec.encode()).unwrap(), rec);
        assert!(MemberId(2).key() < MemberId(256).key());
        assert_eq!(MemberId::from_key(&MemberId(42).key()), Some(MemberId(42)));
        assert_eq!(MemberId::from_key(b"abc"), None);
        assert!(hotdesk_number_key("1001", "1002").starts_with(&hotdesk_number_prefix("1001")));
        assert!(!hotdesk_number_key("10010", "2").starts_with(&hotdesk_number_prefix("1001")));
    }
}
