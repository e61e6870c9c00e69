//! Search patterns for numbers for sale: a small syntax over the number's searched digits
//! (`Listed::digits`: a personal number's area code and local number, an enterprise number's
//! local number, a range number without its country code).
//!
//! | pattern | matches digits that | example |
//! |---|---|---|
//! | `777` | contain `777` | `62007770` |
//! | `^62` | start with `62` | `62001234` |
//! | `082$` | end with `082` | `62006082` |
//! | `^6200$` | are exactly `6200` | `6200` |
//! | `?` in any of these | any one digit there | `7?7$` matches `...717` |
//! | `~4` | hold a run of 4 equal digits (2 to 9) | `62007777`, `60000123` |
//!
//! Digits and `?` are at most 16; nothing else is accepted (no spaces, no separators).

/// Longest digit pattern.
pub const MAX_PATTERN: usize = 16;

/// A parsed search pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Digits and `?` wildcards, optionally anchored at the start and the end.
    Digits {
        body: Vec<u8>,
        start: bool,
        end: bool,
    },
    /// A run of this many equal digits anywhere.
    Run(u8),
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    #[error("empty pattern")]
    Empty,
    #[error("a pattern is digits and ? (at most 16), with ^ first and $ last, or ~2 to ~9")]
    Syntax,
}

impl Pattern {
    /// Reads a pattern (see the module's table).
    pub fn parse(s: &str) -> Result<Pattern, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if let Some(n) = s.strip_prefix('~') {
            return match n.as_bytes() {
                [d @ b'2'..=b'9'] => Ok(Pattern::Run(d - b'0')),
                _ => Err(PatternError::Syntax),
            };
        }
        let (start, rest) = match s.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (end, body) = match rest.strip_suffix('$') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if body.is_empty()
            || body.len() > MAX_PATTERN
            || !body.bytes().all(|c| c.is_ascii_digit() || c == b'?')
        {
            return Err(PatternError::Syntax);
        }
        Ok(Pattern::Digits {
            body: body.as_bytes().to_vec(),
            start,
            end,
        })
    }

    /// Whether `digits` match.
    pub fn matches(&self, digits: &str) -> bool {
        let d = digits.as_bytes();
        match self {
            Pattern::Run(n) => {
                let n = usize::from(*n);
                let mut run = 0;
                let mut last = 0u8;
                for &c in d {
                    run = if c == last { run + 1 } else { 1 };
                    last = c;
                    if run >= n {
                        return true;
                    }
                }
                false
            }
            Pattern::Digits { body, start, end } => {
                if body.len() > d.len() {
                    return false;
                }
                let at = |i: usize| {
                    d[i..i + body.len()]
                        .iter()
                        .zip(body)
                        .all(|(c, p)| *p == b'?' || c == p)
                };
                match (start, end) {
                    (true, true) => d.len() == body.len() && at(0),
                    (true, false) => at(0),
                    (false, true) => at(d.len() - body.len()),
                    (false, false) => (0..=d.len() - body.len()).any(at),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, d: &str) -> bool {
        Pattern::parse(p).unwrap().matches(d)
    }

    #[test]
    fn contains_starts_ends_and_exact() {
        assert!(m("777", "62007770"));
        assert!(!m("777", "62007670"));
        assert!(m("^62", "62001234"));
        assert!(!m("^62", "16200123"));
        assert!(m("082$", "62006082"));
        assert!(!m("082$", "60820000"));
        assert!(m("^6200$", "6200"));
        assert!(!m("^6200$", "62000"));
        assert!(!m("123456789", "1234"), "longer than the number");
    }

    #[test]
    fn a_question_mark_is_any_digit() {
        assert!(m("7?7$", "62000717"));
        assert!(!m("7?7$", "62000771"));
        assert!(m("^??00", "62001234"));
    }

    #[test]
    fn runs_of_equal_digits_are_found_anywhere() {
        assert!(m("~4", "62007777"));
        assert!(m("~4", "60000123"));
        assert!(!m("~4", "62007770"));
        assert!(m("~2", "1223"));
        assert!(!m("~3", "121212"));
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        for p in [
            "~1",
            "~10",
            "~",
            "^",
            "$",
            "^$",
            "12-34",
            "1 2",
            "a1",
            "1^2",
            "12$3",
            "12345678901234567",
        ] {
            assert_eq!(Pattern::parse(p), Err(PatternError::Syntax), "{p}");
        }
    }
}
