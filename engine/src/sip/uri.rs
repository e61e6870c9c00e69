//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), parsed as borrowed views.
//!
//! Parsing validates the character classes of each component and keeps escapes as written;
//! `user_unescaped` decodes the user part for comparisons (`sip:%61lice@h` is `alice`).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::lex;

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other absolute URI (`mailto:`, `http:`...), kept opaque.
    Other,
}

/// A parsed URI borrowing from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: Scheme,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    params: &'a str,
    headers: &'a str,
}

/// Why a URI was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    #[error("missing scheme")]
    Scheme,
    #[error("invalid character in user part")]
    User,
    #[error("invalid host")]
    Host,
    #[error("invalid port")]
    Port,
    #[error("invalid uri parameter")]
    Params,
    #[error("invalid uri headers")]
    Headers,
    #[error("invalid telephone number")]
    Tel,
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI. `sip:`/`sips:` and `tel:` are parsed fully; other schemes are
    /// accepted when their characters are legal and kept opaque.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        let colon = lex::find_byte(s, b':').ok_or(UriError::Scheme)?;
        let scheme_str = &s[..colon];
        if scheme_str.is_empty()
            || !scheme_str.as_bytes()[0].is_ascii_alphabetic()
            || !scheme_str
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
        {
            return Err(UriError::Scheme);
        }
        let rest = &s[colon + 1..];
        let scheme = if scheme_str.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_str.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_str.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => Self::parse_sip(s, scheme, rest),
            Scheme::Tel => Self::parse_tel(s, rest),
            Scheme::Other => {
                if rest.is_empty() || !rest.bytes().all(is_uric) {
                    return Err(UriError::Params);
                }
                Ok(Uri {
                    raw: s,
                    scheme,
                    user: None,
                    password: None,
                    host: "",
                    port: None,
                    params: "",
                    headers: "",
                })
            }
        }
    }

    fn parse_sip(raw: &'a str, scheme: Scheme, rest: &'a str) -> Result<Uri<'a>, UriError> {
        // '@' never appears unescaped in the host part, so the first one ends the userinfo
        let (user, password, hostpart) = match lex::find_byte(rest, b'@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let (user, password) = match lex::find_byte(userinfo, b':') {
                    Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                    None => (userinfo, None),
                };
                if user.is_empty() || !user.bytes().all(is_user_char) || !valid_escapes(user) {
                    return Err(UriError::User);
                }
                if let Some(p) = password {
                    if !p.bytes().all(is_password_char) || !valid_escapes(p) {
                        return Err(UriError::User);
                    }
                }
                (Some(user), password, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        let (hostport, params, headers) = split_hostport(hostpart);
        let (host, port) = parse_hostport(hostport)?;
        if !params.is_empty() {
            if !params
                .bytes()
                .all(|c| is_param_uri_char(c) || c == b';' || c == b'=')
                || !valid_escapes(params)
            {
                return Err(UriError::Params);
            }
            for p in params[1..].split(';') {
                let name = p.split('=').next().unwrap_or("");
                if name.is_empty() {
                    return Err(UriError::Params);
                }
            }
        }
        if !headers.is_empty()
            && (!headers
                .bytes()
                .all(|c| is_header_uri_char(c) || c == b'&' || c == b'=')
                || !valid_escapes(headers))
        {
            return Err(UriError::Headers);
        }
        Ok(Uri {
            raw,
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    fn parse_tel(raw: &'a str, rest: &'a str) -> Result<Uri<'a>, UriError> {
        let (number, params) = match lex::find_byte(rest, b';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty()
            || !digits
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || b"-.()*#pw".contains(&c))
        {
            return Err(UriError::Tel);
        }
        if !params
            .bytes()
            .all(|c| is_param_uri_char(c) || c == b';' || c == b'=' || c == b'+')
        {
            return Err(UriError::Params);
        }
        Ok(Uri {
            raw,
            scheme: Scheme::Tel,
            user: Some(number),
            password: None,
            host: "",
            port: None,
            params,
            headers: "",
        })
    }

    /// A view from parts a parse gave before (`at::UriAt`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        raw: &'a str,
        scheme: Scheme,
        user: Option<&'a str>,
        password: Option<&'a str>,
        host: &'a str,
        port: Option<u16>,
        params: &'a str,
        headers: &'a str,
    ) -> Uri<'a> {
        Uri {
            raw,
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        }
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The user part as written (escapes kept); for `tel:` the number.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user part with percent-escapes decoded. Invalid UTF-8 after decoding is replaced.
    pub fn user_unescaped(&self) -> Option<Cow<'a, str>> {
        let u = self.user?;
        if !u.contains('%') {
            return Some(Cow::Borrowed(u));
        }
        let mut out = Vec::with_capacity(u.len());
        // escapes were validated at parse time
        lex::unescape_into(u, &mut out);
        Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
    }

    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    /// Host as written; IPv6 references keep their brackets.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The host as an IP address, when it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        parse_host_ip(self.host)
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `;name=value` parameters, starting with `;` (or empty).
    pub fn params(&self) -> &'a str {
        self.params
    }

    /// Value of a URI parameter (`Some("")` for a flag such as `lr`).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        if self.params.is_empty() {
            return None;
        }
        for p in self.params[1..].split(';') {
            let (n, v) = match p.find('=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, ""),
            };
            if n.eq_ignore_ascii_case(name) {
                return Some(v);
            }
        }
        None
    }

    /// Whether the URI carries the loose-routing flag `lr` (RFC 3261 §19.1.1).
    pub fn is_loose_route(&self) -> bool {
        self.param("lr").is_some()
    }

    /// Headers component after `?` (without the `?`), empty if none.
    pub fn headers(&self) -> &'a str {
        self.headers
    }

    /// The `transport` parameter, lowercased comparison left to the caller.
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport")
    }

    /// Whether this URI's user part says it is a telephone number (`user=phone`).
    pub fn is_user_phone(&self) -> bool {
        self.param("user")
            .is_some_and(|v| v.eq_ignore_ascii_case("phone"))
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Splits `host[:port][;params][?headers]` into its three parts (params keep their `;`).
fn split_hostport(s: &str) -> (&str, &str, &str) {
    let (before_q, headers) = match lex::find_byte(s, b'?') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    // an IPv6 reference holds ':' but never ';'
    match lex::find_byte(before_q, b';') {
        Some(i) => (&before_q[..i], &before_q[i..], headers),
        None => (before_q, "", headers),
    }
}

/// Parses `host [":" port]` (RFC 3261 hostport).
pub fn parse_hostport(s: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let close = lex::find_byte(s, b']').ok_or(UriError::Host)?;
        let host = &s[..=close];
        let rest = &s[close + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return Err(UriError::Host),
        };
        (host, port)
    } else {
        match lex::find_byte(s, b':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    if !valid_host(host) {
        return Err(UriError::Host);
    }
    let port = match port {
        Some(p) => Some(
            lex::parse_decimal(p, u16::MAX as u64)
                .filter(|&p| p > 0 && p <= 65535)
                .ok_or(UriError::Port)? as u16,
        ),
        None => None,
    };
    Ok((host, port))
}

/// Whether `h` is a hostname, an IPv4 address or a bracketed IPv6 reference.
pub fn valid_host(h: &str) -> bool {
    if h.is_empty() {
        return false;
    }
    if let Some(inner) = h.strip_prefix('[') {
        // RFC 5118 §4.10: tolerate the forms the RFC 3261 ABNF mistakenly allowed
        // ("2001:db8:::192.0.2.1"), so accept any reference of hex digits, ':' and '.'
        return inner.strip_suffix(']').is_some_and(|a| {
            a.parse::<Ipv6Addr>().is_ok()
                || (a.matches(':').count() >= 2
                    && a.bytes()
                        .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.'))
        });
    }
    // a hostname: labels of alphanumerics and '-', optionally ending with '.'; one pass over
    // the bytes (every message's URIs and Via come through here)
    let body = h.strip_suffix('.').unwrap_or(h).as_bytes();
    if body.is_empty() {
        return false;
    }
    let mut label_start = true;
    for &c in body {
        if c == b'.' {
            if label_start {
                return false; // an empty label
            }
            label_start = true;
        } else if c.is_ascii_alphanumeric() || c == b'_' || (c == b'-' && !label_start) {
            label_start = false;
        } else {
            return false;
        }
    }
    !label_start
}

/// The IP address in `host`, accepting IPv6 with or without brackets.
pub fn parse_host_ip(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    host.parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .ok()
        .or_else(|| host.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)
}

/// user = 1*( unreserved / escaped / user-unreserved ), user-unreserved = &=+$,;?/
fn is_user_char(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || b"&=+$,;?/".contains(&c)
}

fn is_password_char(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || b"&=+$,".contains(&c)
}

/// paramchar = param-unreserved / unreserved / escaped, param-unreserved = []/:&+$
fn is_param_uri_char(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || b"[]/:&+$".contains(&c)
}

/// hnv-unreserved = []/?:+$
fn is_header_uri_char(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || b"[]/?:+$".contains(&c)
}

/// Characters of an opaque absolute URI (RFC 2396 uric plus '#').
fn is_uric(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || b";/?:@&=+$,#[]".contains(&c)
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            if !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_components_are_split() {
        let u = Uri::parse("sip:alice:pw@example.com:5070;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers(), "subject=x");
    }

    #[test]
    fn escaped_user_parts_decode_for_comparison() {
        let u = Uri::parse("sip:%61lice@atlanta.com").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), "alice");
        let u = Uri::parse("sip:null-%00-null@example.com").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), "null-\0-null");
    }

    #[test]
    fn user_part_may_hold_semicolons() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), "example.com");
    }

    #[test]
    fn ipv6_references_need_brackets() {
        let u = Uri::parse("sip:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.host(), "[2001:db8::10]");
        assert_eq!(u.port(), Some(5070));
        assert!(u.host_ip().is_some());
        assert!(Uri::parse("sip:user@2001:db8::10").is_err());
    }

    #[test]
    fn illegal_characters_are_rejected() {
        assert!(Uri::parse("sip:us er@example.com").is_err());
        assert!(Uri::parse("sip:user@exa mple.com").is_err());
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com:99999").is_err());
        assert!(Uri::parse("sip:user@example.com;").is_err());
        assert!(Uri::parse("sip:bad%zzuser@example.com").is_err());
        assert!(Uri::parse("nocolon").is_err());
    }

    #[test]
    fn tel_uris_expose_the_number_as_user() {
        let u = Uri::parse("tel:+82-11-123-4567;phone-context=example.com").unwrap();
        assert_eq!(u.scheme(), Scheme::Tel);
        assert_eq!(u.user(), Some("+82-11-123-4567"));
        assert!(Uri::parse("tel:not a number").is_err());
    }

    #[test]
    fn other_schemes_stay_opaque() {
        let u = Uri::parse("mailto:kim@acme.example").unwrap();
        assert_eq!(u.scheme(), Scheme::Other);
        assert_eq!(u.as_str(), "mailto:kim@acme.example");
    }
    /// The hostname rule as RFC 3261 §25.1 reads (labels split on '.', one trailing dot).
    fn hostname_by_labels(h: &str) -> bool {
        let body = h.strip_suffix('.').unwrap_or(h);
        !body.is_empty()
            && body.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                    && !label.starts_with('-')
            })
    }

    #[test]
    fn valid_host_agrees_with_the_label_rule_on_every_short_string() {
        // every string of up to five bytes from an alphabet with each class in it
        let alphabet = [b'a', b'7', b'-', b'_', b'.', b'x', b' ', b'@'];
        let mut checked = 0;
        for len in 1..=5u32 {
            for n in 0..alphabet.len().pow(len) {
                let mut k = n;
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        let c = alphabet[k % alphabet.len()];
                        k /= alphabet.len();
                        c
                    })
                    .collect();
                let s = std::str::from_utf8(&s).unwrap();
                assert_eq!(valid_host(s), hostname_by_labels(s), "{s:?}");
                checked += 1;
            }
        }
        assert!(checked > 30_000);
        for (h, ok) in [
            ("127.0.0.1", true),
            ("pc33.atlanta.com.", true),
            ("a-b.c_d", true),
            ("-a.b", false),
            ("a..b", false),
            ("a.b..", false),
            (".a", false),
            ("", false),
            (".", false),
        ] {
            assert_eq!(valid_host(h), ok, "{h:?}");
        }
    }
}
