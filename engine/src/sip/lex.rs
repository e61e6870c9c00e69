//! Lexical helpers shared by the typed header parsers (RFC 3261 §25.1).
//!
//! Header values reach these helpers with line folding already replaced by a single space, so
//! linear white space (LWS) is just spaces and tabs here. Every helper is a pure function over
//! `&str`; none allocates.

/// Position of the first `b` in `s` (memchr: a byte scan, much cheaper than a char search).
#[inline]
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    memchr::memchr(b, s.as_bytes())
}

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`.
pub fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Whether `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Linear white space inside a header value (folding already removed).
pub fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `s` without leading and trailing white space.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// `s` without leading white space.
pub fn skip_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// Length of the quoted string at the start of `s` (which must start with `"`), quotes and
/// escapes included, or `None` when it is not terminated or holds a bare CR/LF.
pub fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'"'));
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                if i + 1 >= b.len() || b[i + 1] == b'\r' || b[i + 1] == b'\n' {
                    return None;
                }
                i += 2;
            }
            b'"' => return Some(i + 1),
            b'\r' | b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value on commas that are outside quoted strings and `<...>`, yielding each
/// element trimmed. Used for headers that may carry several values per line (Via, Contact,
/// Route, Record-Route, Allow, Supported, ...).
pub fn split_commas(s: &str) -> CommaSplit<'_> {
    CommaSplit { rest: Some(s) }
}

/// Iterator returned by [`split_commas`].
pub struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        let mut i = 0;
        let mut angle = false;
        loop {
            // jump straight to the next byte that matters
            let hit = if angle {
                memchr::memchr(b'>', &b[i..])
            } else {
                memchr::memchr3(b',', b'"', b'<', &b[i..])
            };
            let Some(off) = hit else {
                self.rest = None;
                return Some(trim(s));
            };
            let j = i + off;
            match b[j] {
                b',' => {
                    self.rest = Some(&s[j + 1..]);
                    return Some(trim(&s[..j]));
                }
                b'"' => match quoted_len(&s[j..]) {
                    Some(n) => i = j + n,
                    // unterminated: the rest is one element; its own parser reports the error
                    None => {
                        self.rest = None;
                        return Some(trim(s));
                    }
                },
                b'<' => {
                    angle = true;
                    i = j + 1;
                }
                _ => {
                    angle = false;
                    i = j + 1;
                }
            }
        }
    }
}

/// One `;name[=value]` parameter. `value` keeps its quotes when it was a quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// The value with surrounding quotes removed (escapes are kept as written).
    pub fn unquoted(&self) -> Option<&'a str> {
        self.value.map(unquote)
    }
}

/// Removes the surrounding double quotes of a quoted string, if present.
pub fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Error of a parameter list: the offending text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamError;

/// Parses `*( SEMI param )` where `s` starts at the first `;` (or is empty). Whitespace is
/// allowed around `;` and `=` (RFC 3261 SEMI and EQUAL include LWS). Returns the parameters
/// through `f`; stops at the first malformed parameter.
pub fn parse_params<'a>(s: &'a str, mut f: impl FnMut(Param<'a>)) -> Result<(), ParamError> {
    let mut rest = skip_ws(s);
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(';') else {
            return Err(ParamError);
        };
        rest = skip_ws(r);
        let name_len = rest.bytes().take_while(|&c| is_param_char(c)).count();
        if name_len == 0 {
            return Err(ParamError);
        }
        let name = &rest[..name_len];
        rest = skip_ws(&rest[name_len..]);
        let mut value = None;
        if let Some(r) = rest.strip_prefix('=') {
            rest = skip_ws(r);
            if rest.starts_with('"') {
                let n = quoted_len(rest).ok_or(ParamError)?;
                value = Some(&rest[..n]);
                rest = &rest[n..];
            } else if rest.starts_with('[') {
                // IPv6 reference as a value (received=, maddr=)
                let n = rest.find(']').ok_or(ParamError)? + 1;
                value = Some(&rest[..n]);
                rest = &rest[n..];
            } else {
                let n = rest
                    .bytes()
                    .take_while(|&c| is_param_char(c) || c == b':')
                    .count();
                if n == 0 {
                    return Err(ParamError);
                }
                value = Some(&rest[..n]);
                rest = &rest[n..];
            }
            rest = skip_ws(rest);
        }
        f(Param { name, value });
    }
    Ok(())
}

/// Characters of a header parameter name or token value. Wider than `token` to accept the
/// bracket-free host forms and escaped characters that appear in the wild.
fn is_param_char(c: u8) -> bool {
    is_token_char(c) || c == b'[' || c == b']'
}

/// Finds a parameter by case-insensitive name in a `;`-list.
pub fn find_param<'a>(s: &'a str, name: &str) -> Option<Param<'a>> {
    let mut found = None;
    let _ = parse_params(s, |p| {
        if found.is_none() && p.name.eq_ignore_ascii_case(name) {
            found = Some(p);
        }
    });
    found
}

/// Parses a decimal number of at most `max` with no sign; leading zeros allowed.
pub fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 19 {
        return None;
    }
    let v: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    (v <= max).then_some(v)
}

/// Percent-decodes `s` into `out` (RFC 3986 escapes); returns `false` on a malformed escape.
pub fn unescape_into(s: &str, out: &mut Vec<u8>) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) else {
                return false;
            };
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    true
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_quotes_and_angles_do_not_split() {
        let v: Vec<_> = split_commas(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z@w>,sip:k@l"#).collect();
        assert_eq!(v, [r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z@w>", "sip:k@l"]);
    }

    #[test]
    fn params_allow_whitespace_around_separators() {
        let mut got = Vec::new();
        parse_params(" ;   tag    = 1918181833n ; lr;x=\"q;v\"", |p| got.push(p)).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            Param {
                name: "tag",
                value: Some("1918181833n")
            }
        );
        assert_eq!(
            got[1],
            Param {
                name: "lr",
                value: None
            }
        );
        assert_eq!(got[2].unquoted(), Some("q;v"));
    }

    #[test]
    fn params_reject_empty_names() {
        assert!(parse_params(";;", |_| {}).is_err());
        assert!(parse_params(";=x", |_| {}).is_err());
    }

    #[test]
    fn decimal_rejects_overlarge_and_signed_values() {
        assert_eq!(parse_decimal("0068", 255), Some(68));
        assert_eq!(parse_decimal("300", 255), None);
        assert_eq!(parse_decimal("-1", u64::MAX), None);
        assert_eq!(parse_decimal("36893488147419103232", u64::MAX), None);
    }

    #[test]
    fn unescape_decodes_and_rejects_truncated_escapes() {
        let mut out = Vec::new();
        assert!(unescape_into("%61lice%00", &mut out));
        assert_eq!(out, b"alice\0");
        out.clear();
        assert!(!unescape_into("bad%6", &mut out));
        out.clear();
        assert!(!unescape_into("bad%zz", &mut out));
    }

    #[test]
    fn quoted_strings_honour_escapes() {
        assert_eq!(quoted_len(r#""J Rosenberg \\\"" <x>"#), Some(18));
        assert_eq!(quoted_len(r#""unterminated"#), None);
    }
}
