//! The numbering plan's classifier: what a dialed string (or `tel:`/`sip:` URI) means.
//!
//! Every input becomes exactly one typed [`Destination`] or a [`ClassifyError`]. The grammar
//! is closed: only the characters and shapes listed below are accepted, so nothing a caller
//! types can smuggle URI parameters, headers or another host into a destination, and routing
//! code only ever sees the typed parts.
//!
//! | shape | example | destination |
//! |---|---|---|
//! | `*72`/`*90`/`*92` + target, `*73`/`*91`/`*93`, `*97` | `*72 011-123-4567` | [`Feature`] |
//! | local `#` country | `6200-6200#082` | [`Destination::Enterprise`] |
//! | area - local - country (country written `0CC`) | `02-6200-6200-082` | [`Destination::Personal`] |
//! | user `@` domain, or a domain | `kim@acme.example`, `acme.example` | [`Destination::Directory`] |
//! | a name | `alice` | [`Destination::Subscriber`] |
//! | up to six digits, no leading 0 | `1001` | [`Destination::Subscriber`] (extension) |
//! | a phone number (national, `+`, `00`) | `0111234567`, `+82 11 123 4567` | subscriber, provider or PSTN by range |
//!
//! Numbers are ours when they fall in the plan's own ranges (or when no range is configured:
//! a closed PBX where every number is on-net), another provider's when they match one of its
//! prefixes, and PSTN otherwise, provided they are valid E.164 numbers.

use phonenumber::country::Id as CountryId;
use phonenumber::Mode;

use super::{Aor, NumberingPlan};
use crate::sip::{Scheme, Uri};

/// Longest dialed string accepted, in bytes.
pub const MAX_DIALED: usize = 64;

/// What a dialed string designates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// One of our subscribers: a number in our ranges, a private extension or a name.
    Subscriber(Aor),
    /// A personal number of the global plan: area code, local number and country code.
    Personal {
        country: u16,
        /// The area code as dialed in its country, trunk prefix included (`02`).
        area: String,
        local: String,
        /// The same number in E.164.
        e164: Aor,
    },
    /// An enterprise number: the same local number worldwide, the country picks the branch.
    Enterprise { local: String, country: u16 },
    /// A valid E.164 number that is neither ours nor a configured provider's.
    Pstn(Aor),
    /// Another provider's number, and the digits to send to its trunk.
    Provider {
        provider: String,
        e164: Aor,
        dial: String,
    },
    /// A domain or an e-mail address, to be looked up in the directory (lowercase).
    Directory {
        user: Option<String>,
        domain: String,
    },
    /// A feature code the switch handles itself.
    Feature(Feature),
}

/// Which forwarding a feature code sets or clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardKind {
    Always,
    Busy,
    NoAnswer,
}

/// Feature codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `*72`, `*90`, `*92` followed by the target (`*97` as the target: the mailbox).
    SetForward {
        kind: ForwardKind,
        target: Box<Destination>,
    },
    /// `*73`, `*91`, `*93`.
    ClearForward(ForwardKind),
    /// `*97`.
    Voicemail,
}

/// Why a dialed string designates nothing. Carries no part of the input: dialed numbers stay
/// out of logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error("nothing dialed")]
    Empty,
    #[error("longer than {MAX_DIALED} characters")]
    TooLong,
    #[error("a character outside the dialing grammar")]
    BadCharacter,
    #[error("not a number, name or address the plan knows")]
    Invalid,
    #[error("unknown feature code")]
    UnknownFeature,
    #[error("a forwarding feature code needs a target number")]
    FeatureTarget,
}

/// A provider whose numbers go to its own trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    /// E.164 prefixes, `+` included (`+8270`).
    pub prefixes: Vec<String>,
    pub format: NumberFormat,
}

/// How a provider wants numbers written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberFormat {
    /// National digits (`0701234567`) instead of international.
    pub national: bool,
    /// International without the `+` (`82701234567`).
    pub strip_plus: bool,
    /// Digits put in front (a carrier or trunk prefix).
    pub prefix: String,
}

impl NumberFormat {
    /// The digits to send for an E.164 number.
    pub fn apply(&self, e164: &str) -> String {
        let body = if self.national {
            national_digits(e164).unwrap_or_else(|| e164.trim_start_matches('+').to_owned())
        } else if self.strip_plus {
            e164.trim_start_matches('+').to_owned()
        } else {
            e164.to_owned()
        };
        format!("{}{}", self.prefix, body)
    }
}

fn national_digits(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    Some(
        n.format()
            .mode(Mode::National)
            .to_string()
            .chars()
            .filter(char::is_ascii_digit)
            .collect(),
    )
}

/// Separators people put between digits.
pub(crate) fn is_separator(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.' | b'(' | b')')
}

impl NumberingPlan {
    /// Numbers starting with one of these E.164 prefixes are ours. None configured: every
    /// number is.
    pub fn with_own_ranges(mut self, prefixes: Vec<String>) -> NumberingPlan {
        self.own = prefixes;
        self
    }

    pub fn with_provider(mut self, provider: Provider) -> NumberingPlan {
        self.providers.push(provider);
        self
    }

    /// Classifies a dialed string (a `tel:` URI or a URI user part, already unescaped).
    pub fn classify(&self, input: &str) -> Result<Destination, ClassifyError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ClassifyError::Empty);
        }
        if s.len() > MAX_DIALED {
            return Err(ClassifyError::TooLong);
        }
        let s = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("tel:") => {
                // a tel: URI: the number; its parameters (RFC 3966) are read by no one
                let (number, params) = s[4..].split_once(';').unwrap_or((&s[4..], ""));
                let param_ok = |c: u8| {
                    c.is_ascii_alphanumeric() || matches!(c, b'=' | b';' | b'+' | b'-' | b'.')
                };
                if !params.bytes().all(param_ok) {
                    return Err(ClassifyError::BadCharacter);
                }
                number
            }
            _ => s,
        };
        let allowed = |c: u8| {
            c.is_ascii_alphanumeric()
                || is_separator(c)
                || matches!(c, b'+' | b'*' | b'#' | b'@' | b'_')
        };
        if !s.bytes().all(allowed) {
            return Err(ClassifyError::BadCharacter);
        }
        if let Some(rest) = s.strip_prefix('*') {
            return self.feature(rest);
        }
        if s.contains('#') {
            return enterprise(s);
        }
        if let Some((user, domain)) = s.split_once('@') {
            if !is_email_user(user) || !is_domain(domain) {
                return Err(ClassifyError::Invalid);
            }
            return Ok(Destination::Directory {
                user: Some(user.to_ascii_lowercase()),
                domain: domain.to_ascii_lowercase(),
            });
        }
        if s.bytes().any(|c| c.is_ascii_alphabetic()) {
            if s.contains('.') && is_domain(s) {
                return Ok(Destination::Directory {
                    user: None,
                    domain: s.to_ascii_lowercase(),
                });
            }
            if is_name(s) {
                return Ok(Destination::Subscriber(Aor(s.to_ascii_lowercase())));
            }
            return Err(ClassifyError::Invalid);
        }
        self.number(s)
    }

    /// Classifies a Request-URI. `ours` tells whether a host is this switch (its domain or
    /// one of its addresses): a SIP URI for another host is a directory lookup of that
    /// address.
    pub fn classify_uri(
        &self,
        uri: &Uri<'_>,
        ours: impl Fn(&str) -> bool,
    ) -> Result<Destination, ClassifyError> {
        match uri.scheme() {
            Scheme::Tel => {
                let n = uri.user_unescaped().ok_or(ClassifyError::Empty)?;
                self.classify(&n)
            }
            Scheme::Sip | Scheme::Sips => {
                let host = uri.host();
                let user = uri.user_unescaped();
                if ours(host) {
                    return self.classify(&user.ok_or(ClassifyError::Empty)?);
                }
                let user = match user {
                    Some(u) if !is_email_user(&u) => return Err(ClassifyError::Invalid),
                    u => u.map(|u| u.to_ascii_lowercase()),
                };
                if !is_domain(host) {
                    return Err(ClassifyError::Invalid);
                }
                Ok(Destination::Directory {
                    user,
                    domain: host.to_ascii_lowercase(),
                })
            }
            _ => Err(ClassifyError::Invalid),
        }
    }

    fn feature(&self, rest: &str) -> Result<Destination, ClassifyError> {
        let (code, target) = rest.split_at(rest.len().min(2));
        let kind = match code {
            "72" | "73" => ForwardKind::Always,
            "90" | "91" => ForwardKind::Busy,
            "92" | "93" => ForwardKind::NoAnswer,
            "97" if target.trim().is_empty() => {
                return Ok(Destination::Feature(Feature::Voicemail))
            }
            _ => return Err(ClassifyError::UnknownFeature),
        };
        let set = matches!(code, "72" | "90" | "92");
        let target = target.trim();
        if !set {
            if !target.is_empty() {
                return Err(ClassifyError::UnknownFeature);
            }
            return Ok(Destination::Feature(Feature::ClearForward(kind)));
        }
        if target.is_empty() {
            return Err(ClassifyError::FeatureTarget);
        }
        match self.classify(target) {
            // `*90*97`: busy calls to the mailbox
            Ok(Destination::Feature(Feature::Voicemail)) => {
                Ok(Destination::Feature(Feature::SetForward {
                    kind,
                    target: Box::new(Destination::Feature(Feature::Voicemail)),
                }))
            }
            Ok(Destination::Feature(_)) | Err(_) => Err(ClassifyError::FeatureTarget),
            Ok(d) => Ok(Destination::Feature(Feature::SetForward {
                kind,
                target: Box::new(d),
            })),
        }
    }

    fn number(&self, s: &str) -> Result<Destination, ClassifyError> {
        let plus = s.starts_with('+');
        let digits: String = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect();
        let shape_ok = s
            .bytes()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || is_separator(c) || (c == b'+' && i == 0));
        if digits.is_empty() || !shape_ok {
            return Err(ClassifyError::Invalid);
        }
        if digits.len() > 17 {
            return Err(ClassifyError::TooLong);
        }
        if !plus && !digits.starts_with('0') && digits.len() <= self.extension_max_len {
            return Ok(Destination::Subscriber(Aor(digits)));
        }
        let e164 = if plus {
            valid_e164(None, &format!("+{digits}"))
        } else {
            valid_e164(Some(self.country), &digits).or_else(|| {
                digits
                    .strip_prefix("00")
                    .and_then(|d| valid_e164(None, &format!("+{d}")))
            })
        };
        let Some(e164) = e164 else {
            if !plus {
                if let Some(p) = personal(s) {
                    return Ok(p);
                }
            }
            // not a valid number anywhere: only an on-net account may still carry it
            if self.own.is_empty() {
                if let Ok(aor) = self.canonical(s) {
                    return Ok(Destination::Subscriber(aor));
                }
            }
            return Err(ClassifyError::Invalid);
        };
        if !self.own.is_empty() && self.is_own(&e164) {
            return Ok(Destination::Subscriber(Aor(e164)));
        }
        for p in &self.providers {
            if p.prefixes.iter().any(|x| e164.starts_with(x.as_str())) {
                return Ok(Destination::Provider {
                    provider: p.name.clone(),
                    dial: p.format.apply(&e164),
                    e164: Aor(e164),
                });
            }
        }
        if self.own.is_empty() {
            Ok(Destination::Subscriber(Aor(e164)))
        } else {
            Ok(Destination::Pstn(Aor(e164)))
        }
    }
}

/// The E.164 form of `digits` when it is a valid number.
fn valid_e164(country: Option<CountryId>, digits: &str) -> Option<String> {
    let n = phonenumber::parse(country, digits).ok()?;
    phonenumber::is_valid(&n).then(|| n.format().mode(Mode::E164).to_string())
}

/// Groups of digits between separators.
fn groups(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_ascii() && is_separator(c as u8))
        .filter(|g| !g.is_empty())
        .collect()
}

/// A country code written with a leading 0 (`082`, `001`, `0886`).
fn country_suffix(g: &str) -> Option<u16> {
    if !(3..=4).contains(&g.len()) || !g.starts_with('0') || !g.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let cc: u16 = g[1..].parse().ok()?;
    (cc > 0 && phonenumber::metadata::DATABASE.by_code(&cc).is_some()).then_some(cc)
}

/// `area-local-country`: three or more groups, the area with its trunk prefix, the country
/// last. Tried only when the digits are not a valid number as dialed.
fn personal(s: &str) -> Option<Destination> {
    let g = groups(s);
    if g.len() < 3 {
        return None;
    }
    let (area, rest) = (g[0], &g[1..]);
    let (cc_group, local_groups) = rest.split_last()?;
    let country = country_suffix(cc_group)?;
    if !area.starts_with('0') || area.len() > 5 {
        return None;
    }
    let local: String = local_groups.concat();
    if !(4..=10).contains(&local.len()) {
        return None;
    }
    let region = phonenumber::metadata::DATABASE
        .by_code(&country)?
        .into_iter()
        .find_map(|m| m.id().parse::<CountryId>().ok())?;
    let e164 = valid_e164(Some(region), &format!("{area}{local}"))?;
    e164.starts_with(&format!("+{country}"))
        .then(|| Destination::Personal {
            country,
            area: area.to_owned(),
            local,
            e164: Aor(e164),
        })
}

/// `local#country`, e.g. `6200-6200#082`.
fn enterprise(s: &str) -> Result<Destination, ClassifyError> {
    let (local, cc) = s.split_once('#').ok_or(ClassifyError::Invalid)?;
    if cc.contains('#') || !local.bytes().all(|c| c.is_ascii_digit() || is_separator(c)) {
        return Err(ClassifyError::Invalid);
    }
    let country = country_suffix(cc.trim()).ok_or(ClassifyError::Invalid)?;
    let local: String = local
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect();
    if !(4..=12).contains(&local.len()) {
        return Err(ClassifyError::Invalid);
    }
    Ok(Destination::Enterprise { local, country })
}

/// A subscriber name: a letter, then letters, digits, `_` and `-` (no dots: a dotted name is
/// a domain).
fn is_name(s: &str) -> bool {
    s.as_bytes()[0].is_ascii_alphabetic()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

/// The local part of an e-mail address: dot-separated atoms of letters, digits, `_`, `-`, `+`.
fn is_email_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('.').all(|a| {
            !a.is_empty()
                && a.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+'))
        })
}

/// A DNS name of two or more labels with an alphabetic top-level label.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests;
