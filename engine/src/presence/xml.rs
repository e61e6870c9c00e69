//! XML helpers of the presence documents: escaping for the hand-written renderers and a
//! namespace-aware pull reader over `quick-xml` for the parsers.
//!
//! Escaping is exact: whatever text `Reader` hands out (XML 1.0 characters only, line ends
//! normalized) is written back so that it reads as the same text again. Characters XML 1.0
//! cannot carry at all (C0 controls other than tab and line ends, U+FFFE, U+FFFF) are dropped
//! on output and refused on input.
//!
//! Only the five predefined entities and character references are expanded; a document type
//! declaration is ignored, so its entities stay unknown and their references are malformed.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Namespace of PIDF (RFC 3863).
pub const NS_PIDF: &str = "urn:ietf:params:xml:ns:pidf";
/// Namespace of RPID (RFC 4480).
pub const NS_RPID: &str = "urn:ietf:params:xml:ns:pidf:rpid";
/// Namespace of the presence data model (RFC 4479).
pub const NS_DM: &str = "urn:ietf:params:xml:ns:pidf:data-model";
/// Namespace of service capabilities (RFC 5196).
pub const NS_CAPS: &str = "urn:ietf:params:xml:ns:pidf:caps";
/// Switchboard's extension carrying the document version.
pub const NS_VERSION: &str = "urn:switchboard:params:xml:ns:pidf-version";

/// Appends `s` as character data.
pub fn text(out: &mut String, s: &str) {
    escape(out, s, false);
}

/// Appends `s` as the inside of a double-quoted attribute value.
pub fn attr(out: &mut String, s: &str) {
    escape(out, s, true);
}

fn escape(out: &mut String, s: &str, in_attr: bool) {
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '<' => "&lt;",
            '>' => "&gt;",
            '&' => "&amp;",
            '"' => "&quot;",
            '\'' => "&apos;",
            // a literal CR is turned into LF by the reader (XML 1.0 section 2.11)
            '\r' => "&#13;",
            // attribute values have their white space turned into spaces (section 3.3.3)
            '\n' if in_attr => "&#10;",
            '\t' if in_attr => "&#9;",
            c if !is_xml_char(c) => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        out.push_str(rep);
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
}

/// Whether XML 1.0 allows `c` in a document (section 2.2, `Char`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// What went wrong while reading: the byte offset to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub u64);

/// The namespaces the presence parsers tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    Pidf,
    Rpid,
    Dm,
    Caps,
    Version,
    Rlmi,
    Other,
}

impl Ns {
    fn of(uri: &str) -> Ns {
        match uri {
            NS_PIDF => Ns::Pidf,
            NS_RPID => Ns::Rpid,
            NS_DM => Ns::Dm,
            NS_CAPS => Ns::Caps,
            NS_VERSION => Ns::Version,
            "urn:ietf:params:xml:ns:rlmi" => Ns::Rlmi,
            _ => Ns::Other,
        }
    }
}

/// A start tag with its resolved namespace.
pub struct Elem<'i> {
    pub ns: Ns,
    start: BytesStart<'i>,
}

impl Elem<'_> {
    /// Whether this is `local` in namespace `ns`.
    pub fn is(&self, ns: Ns, local: &str) -> bool {
        self.ns == ns && self.start.local_name().as_ref() == local
    }

    /// The local name.
    pub fn local(&self) -> &str {
        self.start.local_name().into_inner()
    }

    /// The unescaped value of the unprefixed attribute `name`. All attributes are read, so a
    /// repeated or malformed one is an error wherever it is.
    pub fn attr(&self, name: &str) -> Result<Option<String>, ()> {
        let mut found = None;
        for a in self.start.attributes() {
            let a = a.map_err(|_| ())?;
            if a.key.0 == name {
                found = Some(unescape_attr(&a.value)?);
            }
        }
        Ok(found)
    }
}

/// One step of a document.
pub enum Item<'i> {
    /// A start tag (empty elements come as a start and an end).
    Start(Elem<'i>),
    /// The end of the innermost open element.
    End,
    /// Character data, unescaped (a piece of it: text, CDATA and references come separately).
    Text(String),
    /// The end of the input.
    Eof,
}

/// Pull reader over a complete document in memory.
pub struct Reader<'i> {
    inner: NsReader<&'i [u8]>,
}

impl<'i> Reader<'i> {
    /// Reads `doc` (without a byte order mark).
    pub fn new(doc: &'i str) -> Self {
        let mut inner = NsReader::from_str(doc);
        let config = inner.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.check_comments = true;
        Reader { inner }
    }

    /// Where reading stands, for errors found by the caller.
    pub fn position(&self) -> Malformed {
        Malformed(self.inner.buffer_position())
    }

    fn error(&self) -> Malformed {
        Malformed(self.inner.error_position())
    }

    /// The next start, end, text or end of input; comments, declarations and processing
    /// instructions are passed over.
    pub fn next(&mut self) -> Result<Item<'i>, Malformed> {
        loop {
            let ev = self.inner.read_event().map_err(|_| self.error())?;
            return Ok(match ev {
                Event::Start(start) => {
                    let (res, _) = self.inner.resolver().resolve_element(start.name());
                    let ns = match res {
                        ResolveResult::Bound(ns) => Ns::of(ns.0),
                        _ => Ns::Other,
                    };
                    Item::Start(Elem { ns, start })
                }
                Event::End(_) => Item::End,
                Event::Text(t) => Item::Text(self.checked(t.xml10_content().into_owned())?),
                Event::CData(t) => Item::Text(self.checked(t.xml10_content().into_owned())?),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => predefined(&r).ok_or_else(|| self.position())?,
                        Err(_) => return Err(self.position()),
                    };
                    if !is_xml_char(c) {
                        return Err(self.position());
                    }
                    Item::Text(c.to_string())
                }
                Event::Eof => Item::Eof,
                Event::Empty(_) => unreachable!("expand_empty_elements is set above"),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
            });
        }
    }

    fn checked(&self, s: String) -> Result<String, Malformed> {
        if s.chars().all(is_xml_char) {
            Ok(s)
        } else {
            Err(self.position())
        }
    }

    /// Passes over the content and the end of `elem`, just read as a start.
    pub fn skip(&mut self, elem: &Elem<'_>) -> Result<(), Malformed> {
        self.inner
            .read_to_end(elem.start.name())
            .map(drop)
            .map_err(|_| self.error())
    }

    /// The character data of the element just started, up to and including its end; child
    /// elements are passed over.
    pub fn text(&mut self) -> Result<String, Malformed> {
        let mut s = String::new();
        loop {
            match self.next()? {
                Item::Text(t) => s.push_str(&t),
                Item::Start(e) => self.skip(&e)?,
                Item::End => return Ok(s),
                Item::Eof => return Err(self.position()),
            }
        }
    }
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Attribute value normalization (XML 1.0 section 3.3.3, CDATA type) with the predefined
/// entities and character references only.
fn unescape_attr(raw: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] != b'&' {
            // a CR LF pair is one line end and so one space
            let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
            out.push(' ');
            rest = &rest[i + skip..];
            continue;
        }
        let end = rest[i..].find(';').ok_or(())? + i;
        let name = &rest[i + 1..end];
        let c = if let Some(num) = name.strip_prefix('#') {
            let n = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => num.parse::<u32>(),
            };
            let digits_only = num
                .trim_start_matches('x')
                .bytes()
                .all(|b| b.is_ascii_hexdigit());
            if !digits_only {
                return Err(());
            }
            n.ok().and_then(char::from_u32).ok_or(())?
        } else {
            predefined(name).ok_or(())?
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    if out.chars().all(is_xml_char) {
        Ok(out)
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str, in_attr: bool) -> String {
        let mut out = String::new();
        escape(&mut out, s, in_attr);
        out
    }

    #[test]
    fn markup_characters_are_escaped_in_text_and_attributes() {
        assert_eq!(escaped("a<b>&\"'", false), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escaped("x\ty\nz\r", true), "x&#9;y&#10;z&#13;");
        assert_eq!(escaped("x\ty\nz\r", false), "x\ty\nz&#13;");
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        assert_eq!(escaped("a\u{1}b\u{FFFE}c", false), "abc");
    }

    #[test]
    fn attribute_values_unescape_what_attr_escapes() {
        let s = "<&>\"' \t\n\r\u{e9}";
        let mut out = String::new();
        attr(&mut out, s);
        assert_eq!(unescape_attr(&out).unwrap(), s);
        assert_eq!(unescape_attr("a\r\nb\tc").unwrap(), "a b c");
        assert_eq!(unescape_attr("&#x41;&#66;").unwrap(), "AB");
    }

    #[test]
    fn unknown_entities_and_bad_references_are_refused_in_attributes() {
        for raw in [
            "&nbsp;", "&amp", "&#xZZ;", "&#1;", "&#-5;", "&#x+41;", "&#;",
        ] {
            assert_eq!(unescape_attr(raw), Err(()), "{raw}");
        }
    }
}
