//! One number of the inventory, read by the numbering plan's classifier, and the numbers of a
//! block (`first` and the ones after it).

use crate::numbering::{Aor, AorKind, Destination, NumberingPlan};

use super::NumberKind;

/// A number for sale.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Listed {
    /// The canonical key: E.164 for personal and range numbers (`+82262006200`), `local#0CC`
    /// for enterprise numbers (`62006200#082`).
    pub key: String,
    /// The number as people write it (`02-6200-6200-082`, `6200-6200#082`).
    pub display: String,
    pub kind: NumberKind,
    /// The country calling code (82).
    pub country: u16,
    /// What patterns search: the area code and local number of a personal number
    /// (`0262006200`), the local number of an enterprise number (`62006200`), a range
    /// number without `+` and its country code (`111234567`).
    pub digits: String,
    /// The price class of its block.
    pub class: String,
}

/// Why a spelled number is not one of the block's kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListingError {
    #[error("{0:?} is not a number the plan reads: {1}")]
    Unreadable(String, String),
    #[error("{0:?} is not a {1} number")]
    WrongKind(String, NumberKind),
    #[error("{0:?} is not in the plan's own ranges")]
    NotOurs(String),
    #[error("the block runs past the last number of its digits")]
    Overflow,
}

impl Listed {
    /// Reads `spelled` as a number of `kind` with the plan's classifier.
    pub fn read(
        plan: &NumberingPlan,
        kind: NumberKind,
        spelled: &str,
        class: &str,
    ) -> Result<Listed, ListingError> {
        let d = plan
            .classify(spelled)
            .map_err(|e| ListingError::Unreadable(spelled.to_owned(), e.to_string()))?;
        let wrong = || ListingError::WrongKind(spelled.to_owned(), kind);
        let (key, country, digits) = match (kind, d) {
            (
                NumberKind::Personal,
                Destination::Personal {
                    country,
                    area,
                    local,
                    e164,
                },
            ) => {
                if !plan.is_own(e164.as_str()) {
                    return Err(ListingError::NotOurs(spelled.to_owned()));
                }
                (e164.to_string(), country, format!("{area}{local}"))
            }
            (NumberKind::Enterprise, Destination::Enterprise { local, country }) => {
                (format!("{local}#{country:03}"), country, local)
            }
            (NumberKind::Range, Destination::Subscriber(aor)) if aor.kind() == AorKind::E164 => {
                let country = plan.calling_code_of(&aor);
                let cc = country.to_string();
                let digits = aor.as_str()[1..]
                    .strip_prefix(cc.as_str())
                    .unwrap_or(&aor.as_str()[1..])
                    .to_owned();
                (aor.to_string(), country, digits)
            }
            (NumberKind::Range, Destination::Pstn(_) | Destination::Provider { .. }) => {
                return Err(ListingError::NotOurs(spelled.to_owned()))
            }
            _ => return Err(wrong()),
        };
        Ok(Listed {
            key,
            display: spelled.trim().to_owned(),
            kind,
            country,
            digits,
            class: class.to_owned(),
        })
    }

    /// The account a buyer of this number gets: the E.164 number for personal and range
    /// numbers; for an enterprise number the name `ent-<local>-<0CC>` (an enterprise number
    /// has no E.164 form; the switch routes calls dialed `local#country` to this account
    /// while it exists, ahead of the plan's branches).
    pub fn account(&self) -> Aor {
        match self.kind {
            NumberKind::Enterprise => {
                let (local, cc) = self.key.split_once('#').unwrap_or((&self.key, ""));
                Aor::from_canonical(&format!("ent-{local}-{cc}"))
            }
            _ => Aor::from_canonical(&self.key),
        }
    }
}

/// The `i`-th number of a block starting at `first` (0: `first` itself), spelled like
/// `first`: `i` is added to the local digits (those between the area code and the country of
/// a personal number, before `#` of an enterprise number, all of a range number), carrying
/// across separators. `None` when the sum needs more digits than `first` has.
pub fn nth(first: &str, kind: NumberKind, i: u64) -> Option<String> {
    let b = first.trim().as_bytes();
    let sep = |c: &u8| !c.is_ascii_digit() && *c != b'+';
    let (lo, hi) = match kind {
        NumberKind::Range => (0, b.len()),
        NumberKind::Enterprise => (0, b.iter().position(|&c| c == b'#')?),
        NumberKind::Personal => {
            let first_digit = b.iter().position(u8::is_ascii_digit)?;
            let lo = first_digit + b[first_digit..].iter().position(sep)?;
            let hi = b.iter().rposition(sep)?;
            (lo, hi)
        }
    };
    let mut out = b.to_vec();
    let mut carry = i;
    for p in (lo..hi).rev() {
        if carry == 0 {
            break;
        }
        if !out[p].is_ascii_digit() {
            continue;
        }
        let s = u64::from(out[p] - b'0') + carry % 10;
        carry = carry / 10 + s / 10;
        out[p] = b'0' + (s % 10) as u8;
    }
    if carry > 0 {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR").unwrap()
    }

    #[test]
    fn each_kind_is_read_by_the_plan() {
        let p = plan();
        let personal = Listed::read(&p, NumberKind::Personal, "02-6200-6200-082", "std").unwrap();
        assert_eq!(personal.key, "+82262006200");
        assert_eq!(personal.digits, "0262006200");
        assert_eq!(personal.country, 82);
        assert_eq!(personal.account().as_str(), "+82262006200");
        let ent = Listed::read(&p, NumberKind::Enterprise, "6200-6200#082", "gold").unwrap();
        assert_eq!(ent.key, "62006200#082");
        assert_eq!(ent.digits, "62006200");
        assert_eq!(ent.account().as_str(), "ent-62006200-082");
        let own = NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()]);
        let range = Listed::read(&own, NumberKind::Range, "011-123-4567", "std").unwrap();
        assert_eq!(range.key, "+82111234567");
        assert_eq!(range.digits, "111234567");
    }

    #[test]
    fn numbers_of_another_kind_or_range_are_refused() {
        let p = plan();
        assert!(matches!(
            Listed::read(&p, NumberKind::Personal, "6200-6200#082", "std"),
            Err(ListingError::WrongKind(..))
        ));
        let own = plan().with_own_ranges(vec!["+8211".into()]);
        assert!(matches!(
            Listed::read(&own, NumberKind::Range, "010-1234-5678", "std"),
            Err(ListingError::NotOurs(_))
        ));
        assert!(matches!(
            Listed::read(&p, NumberKind::Range, "not a number", "std"),
            Err(ListingError::Unreadable(..))
        ));
    }

    #[test]
    fn block_numbers_count_up_in_the_local_digits_only() {
        assert_eq!(
            nth("02-6200-6299-082", NumberKind::Personal, 1).as_deref(),
            Some("02-6200-6300-082")
        );
        assert_eq!(
            nth("6200-6200#082", NumberKind::Enterprise, 17).as_deref(),
            Some("6200-6217#082")
        );
        assert_eq!(
            nth("+82 11 123 4599", NumberKind::Range, 2).as_deref(),
            Some("+82 11 123 4601")
        );
        assert_eq!(nth("02-9999-9999-082", NumberKind::Personal, 1), None);
        assert_eq!(nth("9999#082", NumberKind::Enterprise, 1), None);
    }
}
