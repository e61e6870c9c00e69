//! `name-addr` / `addr-spec` values of From, To, Contact, Route and Record-Route
//! (RFC 3261 §20.10, §25.1).

use super::lex;
use super::uri::{Uri, UriError};

/// A display name, a URI and header parameters, borrowed from a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<&'a str>,
    uri: Uri<'a>,
    params: &'a str,
    bracketed: bool,
}

/// Why a name-addr value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameAddrError {
    #[error("unterminated quoted display name")]
    Quote,
    #[error("display name is not a token or quoted string")]
    Display,
    #[error("missing closing '>'")]
    Angle,
    #[error("uri that needs '<>' is not enclosed")]
    Unenclosed,
    #[error("invalid uri: {0}")]
    Uri(#[from] UriError),
    #[error("invalid header parameter")]
    Params,
}

/// The header parameters of a name-addr value (after `>`, or after the URI of an addr-spec)
/// without validating anything: for values validation already accepted, so that reading a
/// tag does not cost a URI parse.
pub fn params_of(value: &str) -> &str {
    let v = lex::trim(value);
    let rest = if v.starts_with('"') {
        match lex::quoted_len(v) {
            Some(n) => &v[n..],
            None => return "",
        }
    } else {
        v
    };
    match lex::find_byte(rest, b'<') {
        Some(lt) => match lex::find_byte(&rest[lt..], b'>') {
            Some(gt) => &rest[lt + gt + 1..],
            None => "",
        },
        None => lex::find_byte(rest, b';').map_or("", |i| &rest[i..]),
    }
}

/// The `tag` parameter of a name-addr value (see `params_of`).
pub fn tag_of(value: &str) -> Option<&str> {
    lex::find_param(params_of(value), "tag").and_then(|p| p.value)
}

impl<'a> NameAddr<'a> {
    /// A name-addr from parts a parse gave before (`at::NameAddrAt`).
    pub(crate) fn from_parts(
        display: Option<&'a str>,
        uri: Uri<'a>,
        params: &'a str,
        bracketed: bool,
    ) -> NameAddr<'a> {
        NameAddr {
            display,
            uri,
            params,
            bracketed,
        }
    }

    /// Parses one name-addr or addr-spec with its header parameters.
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, NameAddrError> {
        let s = lex::trim(s);
        let (display, rest) = if s.starts_with('"') {
            let n = lex::quoted_len(s).ok_or(NameAddrError::Quote)?;
            let rest = lex::skip_ws(&s[n..]);
            if !rest.starts_with('<') {
                return Err(NameAddrError::Display);
            }
            (Some(&s[..n]), rest)
        } else if let Some(lt) = lex::find_byte(s, b'<') {
            let d = lex::trim(&s[..lt]);
            if !d.is_empty()
                && !d
                    .split([' ', '\t'])
                    .filter(|w| !w.is_empty())
                    .all(lex::is_token)
            {
                return Err(NameAddrError::Display);
            }
            (if d.is_empty() { None } else { Some(d) }, &s[lt..])
        } else {
            (None, s)
        };
        if let Some(inner) = rest.strip_prefix('<') {
            let gt = lex::find_byte(inner, b'>').ok_or(NameAddrError::Angle)?;
            let uri = Uri::parse(&inner[..gt])?;
            let params = &inner[gt + 1..];
            lex::parse_params(params, |_| {}).map_err(|_| NameAddrError::Params)?;
            Ok(NameAddr {
                display,
                uri,
                params,
                bracketed: true,
            })
        } else {
            // addr-spec: the URI ends at the first ';' and must not hold ',', '?' or ';'
            let end = lex::find_byte(rest, b';').unwrap_or(rest.len());
            let uri_text = lex::trim(&rest[..end]);
            if uri_text.contains([',', '?', ' ', '\t']) {
                return Err(NameAddrError::Unenclosed);
            }
            let uri = Uri::parse(uri_text)?;
            let params = &rest[end..];
            lex::parse_params(params, |_| {}).map_err(|_| NameAddrError::Params)?;
            Ok(NameAddr {
                display,
                uri,
                params,
                bracketed: false,
            })
        }
    }

    /// Display name as written (with quotes when quoted).
    pub fn display(&self) -> Option<&'a str> {
        self.display
    }

    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// Header parameters, starting at the first `;` (possibly after white space), or empty.
    pub fn params(&self) -> &'a str {
        self.params
    }

    /// Value of a header parameter.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        lex::find_param(self.params, name).map(|p| p.value.unwrap_or(""))
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.param("tag")
    }

    /// Whether the URI was enclosed in `<...>`.
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_names_may_hold_escaped_quotes() {
        let na = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(na.display(), Some(r#""J Rosenberg \\\"""#));
        assert_eq!(na.uri().user(), Some("jdrosen"));
        assert_eq!(na.tag(), Some("98asjd8"));
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let na = NameAddr::parse("sip:user@example.com;tag=abc").unwrap();
        assert_eq!(na.uri().as_str(), "sip:user@example.com");
        assert_eq!(na.tag(), Some("abc"));
        assert!(!na.is_bracketed());
    }

    #[test]
    fn token_display_names_need_no_space_before_angle() {
        let na = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(na.display(), Some("caller"));
        assert_eq!(na.tag(), Some("323"));
    }

    #[test]
    fn the_fast_tag_reader_agrees_with_the_parser() {
        for v in [
            r#""J Rosenberg \\\"" <sip:jdrosen@example.com> ; tag = 98asjd8"#,
            "sip:user@example.com;tag=abc",
            "caller<sip:caller@example.com>;tag=323",
            r#""a<b>;tag=no" <sip:x@y>;tag=yes"#,
            "<sip:x@y;tag=uri-param>",
        ] {
            assert_eq!(
                tag_of(v),
                NameAddr::parse(v).ok().and_then(|n| n.tag()),
                "{v}"
            );
        }
    }

    #[test]
    fn malformed_values_are_rejected() {
        assert_eq!(
            NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#),
            Err(NameAddrError::Quote)
        );
        assert_eq!(
            NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>"),
            Err(NameAddrError::Display)
        );
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert_eq!(
            NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
            Err(NameAddrError::Unenclosed)
        );
        assert_eq!(
            NameAddr::parse("<sip:user@example.com"),
            Err(NameAddrError::Angle)
        );
    }
}
