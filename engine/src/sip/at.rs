//! Where the parts of a parsed header view lie in the text it was parsed from. A message keeps
//! the views it parsed once (its top Via, which every layer asks for, a proxied call a dozen
//! times per message, and its Request-URI) as positions, and rebuilds them by slicing the same
//! text again instead of parsing and validating it again.
//!
//! Guarantees: a position is taken only of a part that is a slice of the text it is taken
//! against, or empty (`At::of` answers `None` otherwise, and the view is then parsed each
//! time), so rebuilding against that same text gives back exactly the slices parsing gave
//! (an empty part that was no slice of the text, such as the `""` of a URI without
//! parameters, comes back as an empty slice of it: the same value).

use super::name_addr::NameAddr;
use super::uri::{Scheme, Uri};
use super::via::Via;

/// Where one part lies in its text: start and length in bytes (texts up to 64 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    start: u16,
    len: u16,
}

impl At {
    /// Where `part` lies in `base`, when it is a slice of it or empty.
    pub(crate) fn of(base: &str, part: &str) -> Option<At> {
        let (b, p) = (base.as_ptr() as usize, part.as_ptr() as usize);
        if p < b || p + part.len() > b + base.len() {
            return part.is_empty().then_some(At { start: 0, len: 0 });
        }
        Some(At {
            start: u16::try_from(p - b).ok()?,
            len: u16::try_from(part.len()).ok()?,
        })
    }

    /// The part in `base`, the text the position was taken against.
    pub(crate) fn get(self, base: &str) -> &str {
        let start = usize::from(self.start);
        &base[start..start + usize::from(self.len)]
    }
}

fn of_opt(base: &str, part: Option<&str>) -> Option<Option<At>> {
    match part {
        None => Some(None),
        Some(p) => At::of(base, p).map(Some),
    }
}

/// A `Via` by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViaAt {
    transport: At,
    host: At,
    port: Option<u16>,
    params: At,
}

impl ViaAt {
    pub(crate) fn of(base: &str, v: &Via<'_>) -> Option<ViaAt> {
        Some(ViaAt {
            transport: At::of(base, v.transport())?,
            host: At::of(base, v.host())?,
            port: v.port(),
            params: At::of(base, v.params())?,
        })
    }

    pub(crate) fn view<'a>(&self, base: &'a str) -> Via<'a> {
        Via::from_parts(
            self.transport.get(base),
            self.host.get(base),
            self.port,
            self.params.get(base),
        )
    }
}

/// A `Uri` by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UriAt {
    raw: At,
    scheme: Scheme,
    user: Option<At>,
    password: Option<At>,
    host: At,
    port: Option<u16>,
    params: At,
    headers: At,
}

impl UriAt {
    pub(crate) fn of(base: &str, u: &Uri<'_>) -> Option<UriAt> {
        Some(UriAt {
            raw: At::of(base, u.as_str())?,
            scheme: u.scheme(),
            user: of_opt(base, u.user())?,
            password: of_opt(base, u.password())?,
            host: At::of(base, u.host())?,
            port: u.port(),
            params: At::of(base, u.params())?,
            headers: At::of(base, u.headers())?,
        })
    }

    pub(crate) fn view<'a>(&self, base: &'a str) -> Uri<'a> {
        Uri::from_parts(
            self.raw.get(base),
            self.scheme,
            self.user.map(|a| a.get(base)),
            self.password.map(|a| a.get(base)),
            self.host.get(base),
            self.port,
            self.params.get(base),
            self.headers.get(base),
        )
    }
}

/// A `NameAddr` by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameAddrAt {
    display: Option<At>,
    uri: UriAt,
    params: At,
    bracketed: bool,
}

impl NameAddrAt {
    pub(crate) fn of(base: &str, n: &NameAddr<'_>) -> Option<NameAddrAt> {
        Some(NameAddrAt {
            display: of_opt(base, n.display())?,
            uri: UriAt::of(base, n.uri())?,
            params: At::of(base, n.params())?,
            bracketed: n.is_bracketed(),
        })
    }

    pub(crate) fn view<'a>(&self, base: &'a str) -> NameAddr<'a> {
        NameAddr::from_parts(
            self.display.map(|a| a.get(base)),
            self.uri.view(base),
            self.params.get(base),
            self.bracketed,
        )
    }
}

/// A view a message keeps: parsed and valid (by position), parsed and invalid, or valid but
/// not kept (a text past 64 KiB, or a non-empty part that is no slice of it: parsed each
/// time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept<T> {
    Valid(T),
    Invalid,
    Unkept,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_rebuilt_from_positions_equal_the_parsed_ones() {
        let text = "SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3;rport";
        let v = Via::parse(text).unwrap();
        let at = ViaAt::of(text, &v).unwrap();
        let back = at.view(text);
        assert_eq!(back, v);
        assert_eq!(
            back.params().as_ptr(),
            v.params().as_ptr(),
            "the same slices, not copies"
        );
        let text = "sips:bob@biloxi.example.com:5061;transport=tls?subject=x";
        let u = Uri::parse(text).unwrap();
        assert_eq!(UriAt::of(text, &u).unwrap().view(text), u);
        let text = "sip:alice@atlanta.example.com";
        let u = Uri::parse(text).unwrap();
        assert_eq!(UriAt::of(text, &u).unwrap().view(text), u);
    }

    #[test]
    fn name_addrs_rebuilt_from_positions_equal_the_parsed_ones() {
        for text in [
            "\"Bob B\" <sips:bob@biloxi.example.com:5061;transport=tls>;tag=a6c85cf",
            "Alice <sip:alice@atlanta.example.com>",
            "sip:+12125551212@phone2net.example.com;tag=887s",
            "<tel:+1-201-555-0123>;tag=x;expires=60",
        ] {
            let n = NameAddr::parse(text).unwrap();
            let back = NameAddrAt::of(text, &n).unwrap().view(text);
            assert_eq!(back, n, "{text}");
            assert_eq!(back.params().as_ptr(), n.params().as_ptr());
        }
    }

    #[test]
    fn a_part_outside_the_text_has_no_position_unless_it_is_empty() {
        let (base, other) = (String::from("abc"), String::from("abcd"));
        assert!(At::of(&base, &other).is_none());
        assert_eq!(At::of(&base, &base[1..]).map(|a| a.get(&base)), Some("bc"));
        assert_eq!(At::of(&base, &base[3..]).map(|a| a.get(&base)), Some(""));
        assert_eq!(At::of(&base, "").map(|a| a.get(&base)), Some(""));
        let text = String::from("tel:+1-201-555-0123");
        let u = Uri::parse(&text).unwrap();
        assert_eq!(u.host(), "");
        assert_eq!(UriAt::of(&text, &u).unwrap().view(&text), u);
    }
}
