//! Subscriber addresses: normalizing what people dial into one canonical form.
//!
//! `011-123-4567`, `0111234567`, `+82 11 123 4567` and `tel:+82-11-123-4567` are the same
//! subscriber: phone numbers become E.164 through the `phonenumber` crate with a configurable
//! default country. Short private extensions (`1001`) and alphanumeric names (`alice`) are
//! accepted too. `classify` reads any dialed string into a typed destination of the plan.

use std::fmt;

mod cache;
mod classify;
mod country;
mod tables;
pub use cache::{Classifier, ClassifyCache, MemoPlan};
pub(crate) use classify::is_separator;
pub use classify::{
    ClassifyError, Destination, Feature, ForwardKind, NumberFormat, Provider, MAX_DIALED,
};
pub use country::{country_of, country_of_code, country_of_e164};
pub use tables::{is_trunk_name, Branch, TableError};

use phonenumber::country::Id as CountryId;
use phonenumber::Mode;

/// A canonical address of record: E.164 (`+82111234567`), a short extension (`1001`) or a
/// lowercase name (`alice`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor(String);

/// What kind of address an `Aor` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AorKind {
    E164,
    Extension,
    Name,
}

impl Aor {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> AorKind {
        let b = self.0.as_bytes();
        if b.first() == Some(&b'+') {
            AorKind::E164
        } else if b.iter().all(u8::is_ascii_digit) {
            AorKind::Extension
        } else {
            AorKind::Name
        }
    }

    /// Restores an `Aor` from its stored canonical text (keys in the store).
    pub fn from_canonical(s: &str) -> Aor {
        Aor(s.to_owned())
    }

    /// A form safe for logs above trace level: the middle of numbers is masked.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(&self.0)
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a dialed string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    #[error("empty address")]
    Empty,
    #[error("not a phone number or name")]
    Invalid,
    #[error("unknown country {0:?}")]
    Country(String),
}

/// The parts of the numbering plan needed to canonicalize subscriber addresses.
#[derive(Debug, Clone)]
pub struct NumberingPlan {
    country: CountryId,
    /// Digit strings up to this length without a leading 0 or + are private extensions.
    extension_max_len: usize,
    /// E.164 prefixes of our own number ranges; empty: every number is ours.
    own: Vec<String>,
    /// Other providers' ranges, checked after ours.
    providers: Vec<Provider>,
    /// The directory and the enterprise branches.
    tables: tables::Tables,
}

impl NumberingPlan {
    /// A plan for `country` (ISO 3166 alpha-2, e.g. `KR`).
    pub fn new(country: &str) -> Result<NumberingPlan, NumberError> {
        let id = country
            .to_ascii_uppercase()
            .parse::<CountryId>()
            .map_err(|_| NumberError::Country(country.to_owned()))?;
        Ok(NumberingPlan {
            country: id,
            extension_max_len: 6,
            own: Vec::new(),
            providers: Vec::new(),
            tables: tables::Tables::default(),
        })
    }

    /// The ISO 3166 country numbers without a country code are read in.
    pub fn country(&self) -> &str {
        self.country.as_ref()
    }

    /// The ITU country calling code of the plan's country (82 for `KR`).
    pub fn calling_code(&self) -> u16 {
        phonenumber::metadata::DATABASE
            .by_id(self.country.as_ref())
            .map_or(0, |m| m.country_code())
    }

    /// The country calling code of `aor` when it is a phone number (E.164), else the plan's:
    /// the country whose tones a caller of `aor` expects (ringback).
    pub fn calling_code_of(&self, aor: &Aor) -> u16 {
        if aor.kind() == AorKind::E164 {
            if let Ok(n) = phonenumber::parse(None, aor.as_str()) {
                return n.code().value();
            }
        }
        self.calling_code()
    }

    /// The canonical address for a dialed string or URI user part (already unescaped).
    pub fn canonical(&self, input: &str) -> Result<Aor, NumberError> {
        let input = input.trim();
        let input = input.strip_prefix("tel:").unwrap_or(input);
        // drop tel: URI parameters (`;phone-context=...`) and SIP user parameters
        let input = input.split(';').next().unwrap_or("");
        if input.is_empty() {
            return Err(NumberError::Empty);
        }
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let numeric = {
            let d = digits.strip_prefix('+').unwrap_or(&digits);
            !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
        };
        if numeric {
            return self.canonical_number(&digits);
        }
        let name_ok = input.len() <= 64
            && input.as_bytes()[0].is_ascii_alphabetic()
            && input
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if name_ok {
            Ok(Aor(input.to_ascii_lowercase()))
        } else {
            Err(NumberError::Invalid)
        }
    }

    fn canonical_number(&self, digits: &str) -> Result<Aor, NumberError> {
        if !digits.starts_with('+')
            && !digits.starts_with('0')
            && digits.len() <= self.extension_max_len
        {
            return Ok(Aor(digits.to_owned()));
        }
        if digits.len() > 17 {
            return Err(NumberError::Invalid);
        }
        let country = if digits.starts_with('+') {
            None
        } else {
            Some(self.country)
        };
        let n = phonenumber::parse(country, digits).map_err(|_| NumberError::Invalid)?;
        Ok(Aor(n.format().mode(Mode::E164).to_string()))
    }

    /// The user names a phone may authenticate with for `aor`: the canonical form and, for
    /// numbers of the default country, the national digits (`0111234567`). The account keeps
    /// one HA1 per spelling, since HA1 hashes the exact user name.
    pub fn auth_usernames(&self, aor: &Aor) -> Vec<String> {
        let mut out = vec![aor.0.clone()];
        if aor.kind() == AorKind::E164 {
            if let Ok(n) = phonenumber::parse(None, &aor.0) {
                if n.country().id() == Some(self.country) {
                    let national: String = n
                        .format()
                        .mode(Mode::National)
                        .to_string()
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect();
                    if !national.is_empty() && national != aor.0 {
                        out.push(national);
                    }
                }
            }
        }
        out
    }

    /// An address as people read it: phone numbers in international format
    /// (`+82 10-1234-5678`), anything else as it is.
    pub fn display(&self, aor: &Aor) -> String {
        if aor.kind() == AorKind::E164 {
            if let Ok(n) = phonenumber::parse(None, &aor.0) {
                return n.format().mode(Mode::International).to_string();
            }
        }
        aor.0.clone()
    }

    /// Whether an E.164 number is a fixed line (it cannot receive SMS): a notice to it is a
    /// voice call instead. Mobile, fixed-or-mobile and unknown types count as able to.
    pub fn is_landline(&self, aor: &Aor) -> bool {
        aor.kind() == AorKind::E164
            && phonenumber::parse(None, &aor.0).is_ok_and(|n| {
                matches!(
                    n.number_type(&phonenumber::metadata::DATABASE),
                    phonenumber::Type::FixedLine
                )
            })
    }

    /// Whether an address may get an account made by the switch when it is messaged or
    /// called: a phone number in our own ranges.
    pub fn allows_dynamic_account(&self, aor: &Aor) -> bool {
        aor.kind() == AorKind::E164 && self.is_own(aor.as_str())
    }
}

/// Masks the middle of a number or name for logs (`+8211*****67`).
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let n = s.chars().count();
        if n <= 4 {
            return f.write_str(&"*".repeat(n));
        }
        let keep_head = if s.starts_with('+') { 5.min(n / 2) } else { 2 };
        let head: String = s.chars().take(keep_head).collect();
        let tail: String = s.chars().skip(n - 2).collect();
        write!(f, "{head}{}{tail}", "*".repeat(n - keep_head - 2))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_calling_code_is_the_numbers_own_or_the_plans() {
        let kr = NumberingPlan::new("KR").unwrap();
        assert_eq!(kr.calling_code(), 82);
        assert_eq!(kr.calling_code_of(&Aor::from_canonical("+12125551234")), 1);
        assert_eq!(
            kr.calling_code_of(&Aor::from_canonical("+441632960961")),
            44
        );
        assert_eq!(
            kr.calling_code_of(&Aor::from_canonical("1001")),
            82,
            "an extension"
        );
    }
    use super::*;

    fn kr() -> NumberingPlan {
        NumberingPlan::new("KR").unwrap()
    }

    #[test]
    fn common_spellings_reach_the_same_subscriber() {
        let p = kr();
        let want = p.canonical("+82111234567").unwrap();
        for s in [
            "011-123-4567",
            "0111234567",
            "+82 11 123 4567",
            "tel:+82-11-123-4567",
            "(011) 123.4567",
            "0111234567;user=phone",
        ] {
            assert_eq!(p.canonical(s).unwrap(), want, "{s}");
        }
        assert_eq!(want.as_str(), "+82111234567");
        assert_eq!(want.kind(), AorKind::E164);
    }

    #[test]
    fn extensions_and_names_are_kept() {
        let p = kr();
        assert_eq!(p.canonical("1001").unwrap().as_str(), "1001");
        assert_eq!(p.canonical("1001").unwrap().kind(), AorKind::Extension);
        assert_eq!(p.canonical("Alice").unwrap().as_str(), "alice");
        assert_eq!(p.canonical("u000001").unwrap().kind(), AorKind::Name);
    }

    #[test]
    fn garbage_is_not_an_address() {
        let p = kr();
        assert_eq!(p.canonical(""), Err(NumberError::Empty));
        assert_eq!(p.canonical("a b"), Err(NumberError::Invalid));
        assert_eq!(p.canonical("9abc"), Err(NumberError::Invalid));
        assert_eq!(p.canonical("<script>"), Err(NumberError::Invalid));
        assert_eq!(
            p.canonical("+1234567890123456789"),
            Err(NumberError::Invalid)
        );
        assert!(NumberingPlan::new("XX").is_err());
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        let p = kr();
        assert_eq!(
            p.canonical("+1 (650) 253-0000").unwrap().as_str(),
            "+16502530000"
        );
        let us = NumberingPlan::new("US").unwrap();
        assert_eq!(
            us.canonical("650-253-0000").unwrap().as_str(),
            "+16502530000"
        );
    }

    #[test]
    fn auth_usernames_include_the_national_digits() {
        let p = kr();
        let aor = p.canonical("011-123-4567").unwrap();
        assert_eq!(p.auth_usernames(&aor), ["+82111234567", "0111234567"]);
        assert_eq!(p.auth_usernames(&p.canonical("alice").unwrap()), ["alice"]);
    }

    #[test]
    fn redaction_masks_the_middle() {
        assert_eq!(Redacted("+82111234567").to_string(), "+8211*****67");
        assert_eq!(Redacted("alice").to_string(), "al*ce");
        assert_eq!(Redacted("100").to_string(), "***");
    }

    #[test]
    fn numbers_display_internationally_and_landlines_are_told_apart() {
        let plan = NumberingPlan::new("KR").unwrap();
        let mobile = plan.canonical("010-1234-5678").unwrap();
        let seoul = plan.canonical("02-2123-4567").unwrap();
        assert_eq!(plan.display(&mobile), "+82 10-1234-5678");
        assert!(!plan.is_landline(&mobile));
        assert!(plan.is_landline(&seoul));
        assert_eq!(plan.display(&Aor::from_canonical("alice")), "alice");
        assert!(plan.allows_dynamic_account(&mobile));
        assert!(!plan.allows_dynamic_account(&Aor::from_canonical("1001")));
    }
}
