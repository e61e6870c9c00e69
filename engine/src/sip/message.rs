//! SIP messages (RFC 3261 §7) parsed in place.
//!
//! [`Message::parse`] indexes a received buffer: the start line, every header line (name and
//! value spans, with compact and case-variant names classified) and the body. Nothing is
//! copied; typed views (`Via`, `NameAddr`, `CSeq`, ...) are built on demand from the spans, so
//! a message pays only for the headers a decision needs. The rare folded header value is
//! unfolded once at parse time so typed views can still borrow from the message.
//!
//! The views every layer asks for again and again (the top Via, read a dozen times per
//! proxied message, From, To and the Request-URI) are parsed once: the first time (the Request-URI at
//! parse, which validates it) their parts' positions are kept (`at`), and later calls rebuild
//! the view from them.
//!
//! Content-Length follows RFC 3261 §18.3: bytes after the declared body in a datagram are
//! discarded, a body shorter than declared is an error. Stream framing is in `framing`.
//!
//! Invariant: `raw[..head_end]` is valid UTF-8 (checked at parse), so every header and
//! start-line span is a `str`.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;

use super::at::{Kept, NameAddrAt, UriAt, ViaAt};
pub use super::cseq::{parse_delta_seconds, CSeq, CSeqError};
use super::header::HeaderName;
use super::lex;
use super::method::Method;
use super::name_addr::NameAddr;
pub use super::parse_error::{ParseError, Reaction};
pub use super::span::Span;
pub use super::start_line::StartLine;
use super::uri::Uri;
use super::via::Via;

mod parse;
#[cfg(test)]
mod tests;

/// Most header lines a message may have; more is treated as an attack.
pub const MAX_HEADERS: usize = 256;

/// One header line (possibly folded over several physical lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    name_span: Span,
    value: Span,
    /// The whole line(s) from the name through the line terminator, for byte-exact copies.
    line: Span,
    /// Index into `Message::unfolded` when the value was folded.
    folded: Option<u16>,
}

impl Header {
    /// The raw bytes of this header line including its terminator.
    pub fn line_span(&self) -> Span {
        self.line
    }
}

/// A parsed SIP message that owns (a reference-counted slice of) its buffer.
#[derive(Clone)]
pub struct Message {
    raw: Bytes,
    start: StartLine,
    start_line: Span,
    headers: Vec<Header>,
    unfolded: Vec<String>,
    head_end: u32,
    body: Span,
    /// The Request-URI's parts, in the Request-URI text.
    request_uri: Option<UriAt>,
    /// The top Via's parts once parsed, in its value.
    top_via: OnceLock<Kept<ViaAt>>,
    /// From and To, kept like the top Via (both parsed on the first ask for either):
    /// validation parses them, and a REGISTER's address of record, a call's parties and
    /// dialog lookups read them again. Boxed, so a message that is moved from actor to actor
    /// stays small.
    names: OnceLock<Box<[Kept<NameAddrAt>; 2]>>,
}

impl Message {
    /// The message bytes (leading keep-alive CRLFs and trailing extra bytes excluded from the
    /// spans, but the buffer itself starts where it was received).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The bytes of this message as it would be forwarded unchanged.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw[self.start_line.start as usize..self.body.end as usize]
    }

    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// The start line's bytes including its terminator.
    pub fn start_line_span(&self) -> Span {
        self.start_line
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// Request method; `None` for responses.
    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The method token as written (extension methods included).
    pub fn method_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { method_span, .. } => Some(self.str(method_span)),
            StartLine::Response { .. } => None,
        }
    }

    /// Request-URI text; `None` for responses.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The parsed Request-URI (validated at parse time).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        let s = self.request_uri_str()?;
        match &self.request_uri {
            Some(at) => Some(at.view(s)),
            None => Uri::parse(s).ok(),
        }
    }

    /// Status code; `None` for requests.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header line in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Header name as written.
    pub fn name_of(&self, h: &Header) -> &str {
        self.str(h.name_span)
    }

    /// Header value with folding replaced by single spaces, trimmed.
    pub fn value_of(&self, h: &Header) -> &str {
        match h.folded {
            Some(i) => &self.unfolded[i as usize],
            None => self.str(h.value),
        }
    }

    /// Raw bytes of a span of this message.
    pub fn bytes(&self, s: Span) -> &[u8] {
        &self.raw[s.range()]
    }

    /// First value of a known header.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| self.value_of(h))
    }

    /// Every line of a known header (not split on commas).
    pub fn header_lines(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.value_of(h))
    }

    /// Every value of a list header, split on commas across lines (RFC 3261 §7.3.1).
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.header_lines(name).flat_map(lex::split_commas)
    }

    /// First value of a header by name, for names without a `HeaderName` variant.
    pub fn header_by_name(&self, name: &str) -> Option<&str> {
        let known = HeaderName::parse(name.as_bytes());
        if known != HeaderName::Other {
            return self.header(known);
        }
        self.headers
            .iter()
            .find(|h| {
                h.name == HeaderName::Other && self.str(h.name_span).eq_ignore_ascii_case(name)
            })
            .map(|h| self.value_of(h))
    }

    /// How many lines of a header there are.
    pub fn count(&self, name: HeaderName) -> usize {
        self.headers.iter().filter(|h| h.name == name).count()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header(HeaderName::CallId)
    }

    pub fn cseq(&self) -> Option<CSeq<'_>> {
        self.header(HeaderName::CSeq)
            .and_then(|v| CSeq::parse(v).ok())
    }

    /// The From value; `None` when it is missing or malformed (parsed once, see `at`).
    pub fn from(&self) -> Option<NameAddr<'_>> {
        self.name_addr(0, HeaderName::From)
    }

    /// The To value; `None` when it is missing or malformed (parsed once, see `at`).
    pub fn to(&self) -> Option<NameAddr<'_>> {
        self.name_addr(1, HeaderName::To)
    }

    /// From (`which` 0) or To (1) through the positions kept in `names`.
    fn name_addr(&self, which: usize, name: HeaderName) -> Option<NameAddr<'_>> {
        let v = self.header(name)?;
        let kept = self.names.get_or_init(|| {
            let keep = |v: Option<&str>| match v.map(NameAddr::parse) {
                Some(Ok(na)) => {
                    NameAddrAt::of(v.unwrap_or(""), &na).map_or(Kept::Unkept, Kept::Valid)
                }
                Some(Err(_)) | None => Kept::Invalid,
            };
            Box::new([
                keep(self.header(HeaderName::From)),
                keep(self.header(HeaderName::To)),
            ])
        });
        match kept[which] {
            Kept::Valid(at) => Some(at.view(v)),
            Kept::Invalid => None,
            Kept::Unkept => NameAddr::parse(v).ok(),
        }
    }

    /// The topmost Via value; `None` when it is missing or malformed.
    pub fn top_via(&self) -> Option<Via<'_>> {
        let v = self.header_values(HeaderName::Via).next()?;
        let kept = self.top_via.get_or_init(|| match Via::parse(v) {
            Ok(via) => ViaAt::of(v, &via).map_or(Kept::Unkept, Kept::Valid),
            Err(_) => Kept::Invalid,
        });
        match kept {
            Kept::Valid(at) => Some(at.view(v)),
            Kept::Invalid => None,
            Kept::Unkept => Via::parse(v).ok(),
        }
    }

    /// Every Via value, top first (malformed ones skipped; validation rejects them earlier).
    pub fn vias(&self) -> impl Iterator<Item = Via<'_>> + '_ {
        self.header_values(HeaderName::Via)
            .filter_map(|v| Via::parse(v).ok())
    }

    /// Every Contact value (excluding `*`).
    pub fn contacts(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.header_values(HeaderName::Contact)
            .filter_map(|v| NameAddr::parse(v).ok())
    }

    pub fn routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.header_values(HeaderName::Route)
            .filter_map(|v| NameAddr::parse(v).ok())
    }

    pub fn record_routes(&self) -> impl Iterator<Item = NameAddr<'_>> + '_ {
        self.header_values(HeaderName::RecordRoute)
            .filter_map(|v| NameAddr::parse(v).ok())
    }

    /// Max-Forwards value when present and valid (0..=255).
    pub fn max_forwards(&self) -> Option<u8> {
        self.header(HeaderName::MaxForwards)
            .and_then(|v| lex::parse_decimal(v, 255))
            .map(|v| v as u8)
    }

    /// Expires header in seconds, saturating at u32::MAX as RFC 3261 §20.19 directs.
    pub fn expires(&self) -> Option<u32> {
        self.header(HeaderName::Expires)
            .and_then(parse_delta_seconds)
    }

    pub fn body(&self) -> &[u8] {
        &self.raw[self.body.range()]
    }

    pub fn body_span(&self) -> Span {
        self.body
    }

    /// Offset where the header section ends (the empty line starts).
    pub fn head_end(&self) -> usize {
        self.head_end as usize
    }

    /// To tag, if any (in-dialog requests and most responses carry one). Reads only the
    /// header parameters: ingress validation has checked the whole value.
    pub fn to_tag(&self) -> Option<&str> {
        self.header(HeaderName::To)
            .and_then(super::name_addr::tag_of)
    }

    pub fn from_tag(&self) -> Option<&str> {
        self.header(HeaderName::From)
            .and_then(super::name_addr::tag_of)
    }

    /// The message bytes as a shared buffer (no copy when the message spans its buffer).
    pub fn as_bytes_shared(&self) -> Bytes {
        let range = self.start_line_span().start as usize..self.body_span().end as usize;
        if range.start == 0 && range.end == self.raw().len() {
            self.raw().clone()
        } else {
            self.raw().slice(range)
        }
    }

    fn str(&self, s: Span) -> &str {
        str_of(&self.raw, s.start as usize, s.end as usize)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field(
                "start",
                &String::from_utf8_lossy(self.bytes(self.start_line)).trim_end(),
            )
            .field("headers", &self.headers.len())
            .field("body", &self.body.len())
            .finish()
    }
}

/// A header-section slice as `str`.
fn str_of(b: &[u8], start: usize, end: usize) -> &str {
    // Spans only ever cover the header section, which `Message::parse` checked to be UTF-8,
    // and they start and end at ASCII delimiters, so they are on char boundaries.
    debug_assert!(std::str::from_utf8(&b[start..end]).is_ok());
    // SAFETY: `b[..head_end]` was checked to be UTF-8 in `Message::parse`, every span lies
    // inside it, and span ends are ASCII delimiters (CR, LF, ':', SP, HT) found by byte
    // search, which never occur inside a multi-byte UTF-8 sequence, so the slice is UTF-8.
    unsafe { std::str::from_utf8_unchecked(&b[start..end]) }
}
