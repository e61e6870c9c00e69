//! A tariff table from CSV text.
//!
//! One destination a line, comma-separated, no quoting:
//!
//! ```text
//! prefix,per_minute,connection,first,next,currency,description
//! 44,1.2,0,60,60,EUR,United Kingdom fixed
//! 447,8.5,0.5,30,6,EUR,United Kingdom mobile
//! ```
//!
//! - `prefix`: 1 to 18 digits of the E.164 number (a leading `+` is allowed and dropped);
//!   each prefix once in a table.
//! - `per_minute`, `connection`: minor units of the currency (cents), a decimal with at most
//!   4 fractional digits (`8.5`, `0.0125`), never negative.
//! - `first`, `next`: the billing increments in seconds, 1 to 3600 (`60,60`, `30,6`, `1,1`).
//! - `currency`: three capital letters (ISO 4217).
//! - `description`: optional free text to the end of the line (commas allowed).
//!
//! A first line starting with `prefix` is the header and is skipped, as are blank lines and
//! lines starting with `#`. The whole text is checked before a table is made: the first bad
//! line is reported with its number (from 1) and the field (`prefix`, `per_minute`...).

use super::{Fixed, Increments, Rate, TariffTable, FIXED_PER_MINOR, MAX_PREFIX_DIGITS};

/// Why a tariff table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TariffError {
    #[error("line {line}: field {field}: {problem}")]
    Field {
        line: usize,
        field: &'static str,
        problem: String,
    },
    #[error("line {line}: prefix {prefix} appears twice")]
    Duplicate { line: usize, prefix: String },
    #[error("the table has no prefix")]
    Empty,
}

/// The fields of a line, in order.
const FIELDS: [&str; 6] = [
    "prefix",
    "per_minute",
    "connection",
    "first",
    "next",
    "currency",
];

/// Longest increment accepted (an hour).
const MAX_INCREMENT_SECS: u32 = 3600;

/// Reads table `name` from CSV `text` (see the module docs for the columns).
pub fn parse_csv(name: &str, text: &str) -> Result<TariffTable, TariffError> {
    let mut table = TariffTable::new(name);
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || (table.is_empty() && l.starts_with("prefix")) {
            continue;
        }
        let mut parts = l.splitn(FIELDS.len() + 1, ',');
        let mut fields = [""; 6];
        for (i, f) in fields.iter_mut().enumerate() {
            *f = parts.next().map(str::trim).ok_or(TariffError::Field {
                line,
                field: FIELDS[i],
                problem: "missing".into(),
            })?;
        }
        let err = |i: usize, problem: String| TariffError::Field {
            line,
            field: FIELDS[i],
            problem,
        };
        let prefix = fields[0].strip_prefix('+').unwrap_or(fields[0]);
        if prefix.is_empty()
            || prefix.len() > MAX_PREFIX_DIGITS
            || !prefix.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err(
                0,
                format!("{:?} is not 1 to {MAX_PREFIX_DIGITS} digits", fields[0]),
            ));
        }
        let per_minute = fixed(fields[1]).map_err(|p| err(1, p))?;
        let connection = fixed(fields[2]).map_err(|p| err(2, p))?;
        let first = secs(fields[3]).map_err(|p| err(3, p))?;
        let next = secs(fields[4]).map_err(|p| err(4, p))?;
        let currency = fields[5];
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err(5, format!("{currency:?} is not three capital letters")));
        }
        let rate = Rate {
            per_minute,
            connection,
            increments: Increments {
                first_secs: first,
                next_secs: next,
            },
            currency: currency.to_owned(),
        };
        if !table.insert(prefix, rate) {
            return Err(TariffError::Duplicate {
                line,
                prefix: prefix.to_owned(),
            });
        }
    }
    if table.is_empty() {
        return Err(TariffError::Empty);
    }
    Ok(table)
}

/// A non-negative decimal of minor units with at most 4 fractional digits, in [`Fixed`].
fn fixed(s: &str) -> Result<Fixed, String> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (s.contains('.') && !digits(frac)) {
        return Err(format!("{s:?} is not a non-negative decimal"));
    }
    if frac.len() > 4 {
        return Err(format!("{s:?} has more than 4 decimals"));
    }
    let too_big = || format!("{s:?} is too large");
    let w: u64 = whole.parse().map_err(|_| too_big())?;
    let f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| too_big())? * 10u64.pow(4 - frac.len() as u32)
    };
    // at most a billion minor units a minute: far above any tariff, and no overflow later
    if w > 1_000_000_000 {
        return Err(too_big());
    }
    Ok(Fixed(w * FIXED_PER_MINOR + f))
}

/// An increment: whole seconds, 1 to an hour.
fn secs(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=MAX_INCREMENT_SECS).contains(&n) && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(n)
        }
        _ => Err(format!(
            "{s:?} is not whole seconds from 1 to {MAX_INCREMENT_SECS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "prefix,per_minute,connection,first,next,currency,description
# the United Kingdom
44,1.2,0,60,60,EUR,United Kingdom fixed

+447,8.5,0.5,30,6,EUR,United Kingdom mobile, all networks
1,0.0125,0,1,1,USD
";

    fn field_error(text: &str) -> (usize, &'static str) {
        match parse_csv("t", text) {
            Err(TariffError::Field { line, field, .. }) => (line, field),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_table_is_read_with_its_rates() {
        let t = parse_csv("default", GOOD).unwrap();
        assert_eq!(t.name(), "default");
        assert_eq!(t.len(), 3);
        let (p, r) = t.lookup("+447700900123").unwrap();
        assert_eq!(p, "447");
        assert_eq!(r.per_minute, Fixed(85_000));
        assert_eq!(r.connection, Fixed(5_000));
        assert_eq!(
            r.increments,
            Increments {
                first_secs: 30,
                next_secs: 6
            }
        );
        assert_eq!(t.lookup("12125550100").unwrap().1.per_minute, Fixed(125));
        assert_eq!(t.lookup("12125550100").unwrap().1.currency, "USD");
    }

    #[test]
    fn a_bad_field_is_reported_with_its_line_and_name() {
        assert_eq!(field_error("44x,1,0,60,60,EUR"), (1, "prefix"));
        assert_eq!(
            field_error("\n\n44,1,0,60,60,EUR\n45,-1,0,60,60,EUR"),
            (4, "per_minute")
        );
        assert_eq!(field_error("44,1.00001,0,60,60,EUR"), (1, "per_minute"));
        assert_eq!(field_error("44,1,1.,60,60,EUR"), (1, "connection"));
        assert_eq!(field_error("44,1,0,0,60,EUR"), (1, "first"));
        assert_eq!(field_error("44,1,0,60,3601,EUR"), (1, "next"));
        assert_eq!(field_error("44,1,0,60,+6,EUR"), (1, "next"));
        assert_eq!(field_error("44,1,0,60,60,eur"), (1, "currency"));
        assert_eq!(field_error("44,1,0,60"), (1, "next"));
        assert_eq!(field_error("44,99999999999,0,60,60,EUR"), (1, "per_minute"));
        assert_eq!(field_error(",1,0,60,60,EUR"), (1, "prefix"));
    }

    #[test]
    fn the_error_message_names_line_and_field() {
        let e = parse_csv("t", "44,1,0,60,60,EUR\n45,1,zero,60,60,EUR").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: field connection: \"zero\" is not a non-negative decimal"
        );
    }

    #[test]
    fn a_prefix_twice_and_an_empty_table_are_refused() {
        assert_eq!(
            parse_csv("t", "44,1,0,60,60,EUR\n+44,2,0,60,60,EUR").err(),
            Some(TariffError::Duplicate {
                line: 2,
                prefix: "44".into()
            })
        );
        assert_eq!(
            parse_csv("t", "prefix,per_minute\n# none\n").err(),
            Some(TariffError::Empty)
        );
    }

    #[test]
    fn a_header_is_only_skipped_before_the_first_rate() {
        assert_eq!(
            field_error("44,1,0,60,60,EUR\nprefix,1,0,60,60,EUR"),
            (2, "prefix")
        );
    }
}
