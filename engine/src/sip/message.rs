//! SIP messages (RFC 3261 §7) parsed in place.
//!
//! [`Message::parse`] indexes a received buffer: the start line, every header line (name and
//! value spans, with compact and case-variant names classified) and the body. Nothing is
//! copied; typed views (`Via`, `NameAddr`, `CSeq`, ...) are built on demand from the spans, so
//! a message pays only for the headers a decision needs. The rare folded header value is
//! unfolded once at parse time so typed views can still borrow from the message.
//!
//! The views every layer asks for again and again (the top Via, read a dozen times per
//! proxied message, and the Request-URI) are parsed once: the first time (the Request-URI at
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

use super::at::{Kept, UriAt, ViaAt};
pub use super::cseq::{parse_delta_seconds, CSeq, CSeqError};
use super::header::HeaderName;
use super::lex;
use super::method::Method;
use super::name_addr::NameAddr;
pub use super::parse_error::{ParseError, Reaction};
pub use super::span::Span;
use super::start_line::parse_start_line;
pub use super::start_line::StartLine;
use super::uri::Uri;
use super::via::Via;

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
}

impl Message {
    /// Parses one message from a datagram or a framed stream chunk. Bytes beyond the declared
    /// Content-Length are discarded (RFC 3261 §18.3); without Content-Length the body is the
    /// rest of the buffer.
    pub fn parse(raw: Bytes) -> Result<Message, ParseError> {
        let b = &raw[..];
        // leading CRLFs (keep-alives, RFC 3261 §7.5) are skipped
        let mut pos = 0;
        while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
            pos += 1;
        }
        if pos == b.len() {
            return Err(ParseError::Empty);
        }
        let (head_len, body_start) = match find_head_end(b, pos) {
            Some(h) => h,
            // A datagram whose last header line is terminated but that lacks the empty line
            // is tolerated (robustness principle); stream framing never gets here without one.
            None if b.ends_with(b"\n") => (b.len(), b.len()),
            None => return Err(ParseError::Incomplete),
        };
        std::str::from_utf8(&b[..head_len]).map_err(|_| ParseError::Utf8)?;

        let (sl_end, sl_next) = line_end(b, pos, head_len);
        let (start, request_uri) = parse_start_line(b, pos, sl_end)?;
        let start_line = Span::new(pos, sl_next);

        let mut headers = Vec::with_capacity(16);
        let mut unfolded = Vec::new();
        let mut line_no = 1;
        let mut p = sl_next;
        while p < head_len {
            line_no += 1;
            if headers.len() >= MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            let (mut end, mut next) = line_end(b, p, head_len);
            if b[p] == b' ' || b[p] == b'\t' {
                // a continuation line without a header to continue
                return Err(ParseError::HeaderLine { line: line_no });
            }
            let colon = memchr::memchr(b':', &b[p..end])
                .map(|i| p + i)
                .ok_or(ParseError::HeaderLine { line: line_no })?;
            let name_end = trim_end_ws(b, p, colon);
            if name_end == p || !b[p..name_end].iter().all(|&c| lex::is_token_char(c)) {
                return Err(ParseError::HeaderLine { line: line_no });
            }
            let mut folded = false;
            // continuation lines (RFC 3261 §7.3.1 line folding)
            while next < head_len && (b[next] == b' ' || b[next] == b'\t') {
                folded = true;
                let (e, n) = line_end(b, next, head_len);
                end = e;
                next = n;
                line_no += 1;
            }
            let vstart = skip_lws(b, colon + 1, end);
            let vend = trim_end_lws(b, vstart, end);
            let name = HeaderName::parse(&b[p..name_end]);
            let folded_idx = if folded {
                let text = str_of(b, vstart, vend);
                unfolded.push(unfold(text));
                Some((unfolded.len() - 1) as u16)
            } else {
                None
            };
            headers.push(Header {
                name,
                name_span: Span::new(p, name_end),
                value: Span::new(vstart, vend),
                line: Span::new(p, next),
                folded: folded_idx,
            });
            p = next;
        }

        let available = b.len() - body_start;
        let mut declared = None;
        for h in headers
            .iter()
            .filter(|h| h.name == HeaderName::ContentLength)
        {
            let v = value_of(b, &unfolded, h);
            let n = lex::parse_decimal(lex::trim(v), u32::MAX as u64)
                .ok_or(ParseError::ContentLength)? as usize;
            if declared.is_some_and(|d| d != n) {
                return Err(ParseError::ContentLength);
            }
            declared = Some(n);
        }
        let body_len = match declared {
            Some(n) if n > available => {
                return Err(ParseError::BodyTruncated {
                    declared: n,
                    available,
                })
            }
            Some(n) => n,
            None => available,
        };
        let end = body_start + body_len;
        let raw = if end < raw.len() {
            raw.slice(..end)
        } else {
            raw
        };
        Ok(Message {
            raw,
            start,
            start_line,
            headers,
            unfolded,
            head_end: head_len as u32,
            body: Span::new(body_start, end),
            request_uri,
            top_via: OnceLock::new(),
        })
    }

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

    pub fn from(&self) -> Option<NameAddr<'_>> {
        self.header(HeaderName::From)
            .and_then(|v| NameAddr::parse(v).ok())
    }

    pub fn to(&self) -> Option<NameAddr<'_>> {
        self.header(HeaderName::To)
            .and_then(|v| NameAddr::parse(v).ok())
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

/// Returns (end of header section, start of body): the offset of the empty line and the offset
/// just after it. Accepts CRLF and bare LF terminators.
fn find_head_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(n) = memchr::memchr(b'\n', &b[i..]) {
        let nl = i + n;
        let next = nl + 1;
        if next < b.len() && b[next] == b'\n' {
            return Some((next, next + 1));
        }
        if next + 1 < b.len() && b[next] == b'\r' && b[next + 1] == b'\n' {
            return Some((next, next + 2));
        }
        if next == b.len() {
            return None;
        }
        i = next;
    }
    None
}

/// End of the line starting at `from` (before CR LF) and the start of the next line.
fn line_end(b: &[u8], from: usize, limit: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', &b[from..limit]) {
        Some(n) => {
            let nl = from + n;
            let end = if nl > from && b[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (end, nl + 1)
        }
        None => (limit, limit),
    }
}

fn skip_lws(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

fn trim_end_lws(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && matches!(b[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    end
}

fn trim_end_ws(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && (b[end - 1] == b' ' || b[end - 1] == b'\t') {
        end -= 1;
    }
    end
}

/// Replaces every CRLF/LF followed by white space with one space (RFC 3261 §7.3.1).
fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '\r' || c == '\n' {
            // swallow the terminator and the leading white space of the continuation
            while let Some(&(_, n)) = chars.peek() {
                if matches!(n, '\r' | '\n' | ' ' | '\t') {
                    chars.next();
                } else {
                    break;
                }
            }
            // collapse white space written before the fold too
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn value_of<'a>(b: &'a [u8], unfolded: &'a [String], h: &Header) -> &'a str {
    match h.folded {
        Some(i) => &unfolded[i as usize],
        None => str_of(b, h.value.start as usize, h.value.end as usize),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Result<Message, ParseError> {
        Message::parse(Bytes::from(s.replace('\n', "\r\n")))
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\n\
CSeq: 314159 INVITE\n\
Contact: <sip:alice@pc33.atlanta.com>\n\
Content-Type: application/sdp\n\
Content-Length: 4\n\
\n\
v=0\n";

    #[test]
    fn request_fields_are_indexed() {
        let m = msg(INVITE).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.request_uri_str(), Some("sip:bob@biloxi.com"));
        assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33.atlanta.com"));
        let cseq = m.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (314159, Method::Invite));
        assert_eq!(m.from_tag(), Some("1928301774"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(m.body(), b"v=0\r");
    }

    #[test]
    fn extra_datagram_bytes_beyond_content_length_are_discarded() {
        let m = msg(&INVITE.replace("Content-Length: 4", "Content-Length: 0")).unwrap();
        assert!(m.body().is_empty());
        assert!(m.as_bytes().ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn short_body_is_an_error() {
        let e = msg(&INVITE.replace("Content-Length: 4", "Content-Length: 9999")).unwrap_err();
        assert!(matches!(
            e,
            ParseError::BodyTruncated { declared: 9999, .. }
        ));
        assert_eq!(e.reaction(), Reaction::Respond(400));
    }

    #[test]
    fn negative_content_length_is_an_error() {
        let e = msg(&INVITE.replace("Content-Length: 4", "Content-Length: -999")).unwrap_err();
        assert_eq!(e, ParseError::ContentLength);
    }

    #[test]
    fn folded_values_are_unfolded_once() {
        let m = msg("OPTIONS sip:x@y SIP/2.0\nSubject: first\n   second\n\tthird\nCall-ID: c\n\n")
            .unwrap();
        assert_eq!(m.header(HeaderName::Subject), Some("first second third"));
        assert_eq!(m.call_id(), Some("c"));
    }

    #[test]
    fn list_headers_split_across_lines_and_commas() {
        let m = msg("OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\nv: SIP/2.0/TCP c;branch=z9hG4bK3\n\n").unwrap();
        let hosts: Vec<_> = m.vias().map(|v| v.host()).collect();
        assert_eq!(hosts, ["a", "b", "c"]);
    }

    #[test]
    fn responses_parse_with_empty_reason() {
        let m = msg("SIP/2.0 100 \nVia: SIP/2.0/UDP a;branch=z9hG4bK1\n\n").unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), Some(""));
        let m = msg("SIP/2.0 180\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\n\n").unwrap();
        assert_eq!(m.status(), Some(180));
    }

    #[test]
    fn start_line_errors_are_classified() {
        assert_eq!(
            msg("INVITE sip:x@y SIP/7.0\n\n").unwrap_err(),
            ParseError::Version
        );
        assert_eq!(
            msg("INVITE  sip:x@y SIP/2.0\n\n").unwrap_err(),
            ParseError::StartLine
        );
        assert_eq!(
            msg("INVITE <sip:x@y> SIP/2.0\n\n").unwrap_err(),
            ParseError::RequestUri
        );
        assert_eq!(
            msg("SIP/2.0 4294967301 Big\n\n").unwrap_err(),
            ParseError::StatusCode
        );
        assert_eq!(
            msg("SIP/2.0 099 Low\n\n").unwrap_err(),
            ParseError::StatusCode
        );
        assert!(
            msg("INVITE sip:x@y SIP/2.0   \n\n").is_ok(),
            "trailing white space tolerated"
        );
    }

    #[test]
    fn header_lines_need_a_token_and_colon() {
        assert!(matches!(
            msg("OPTIONS sip:x@y SIP/2.0\nNo colon here\n\n").unwrap_err(),
            ParseError::HeaderLine { line: 2 }
        ));
        assert!(matches!(
            msg("OPTIONS sip:x@y SIP/2.0\nBad Name: v\n\n").unwrap_err(),
            ParseError::HeaderLine { .. }
        ));
    }

    #[test]
    fn incomplete_head_is_reported() {
        assert_eq!(
            msg("OPTIONS sip:x@y SIP/2.0\nVia: x").unwrap_err(),
            ParseError::Incomplete
        );
        assert_eq!(msg("\n\n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn cseq_limits_and_delta_seconds_saturation() {
        assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert_eq!(
            CSeq::parse("0009\n  INVITE".replace('\n', " ").as_str())
                .unwrap()
                .seq,
            9
        );
        assert!(CSeq::parse("9INVITE").is_err());
        assert_eq!(parse_delta_seconds("10000000000000000000"), Some(u32::MAX));
        assert_eq!(parse_delta_seconds("3600"), Some(3600));
        assert_eq!(parse_delta_seconds("-1"), None);
    }

    #[test]
    fn kept_views_answer_as_a_fresh_parse_of_the_header_would() {
        let m = msg("INVITE sip:bob%40x@biloxi.example.com;user=phone SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776, SIP/2.0/TCP a.b\n\
To: <sip:bob@biloxi.example.com>\nFrom: sip:alice@atlanta.example.com;tag=1928\n\
Call-ID: a84b4c76e66710\nCSeq: 314159 INVITE\n\n")
        .unwrap();
        for _ in 0..2 {
            let via = m.header_values(HeaderName::Via).next().unwrap();
            assert_eq!(m.top_via(), Via::parse(via).ok());
            assert_eq!(m.top_via().unwrap().port(), Some(5066));
            assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776"));
            assert_eq!(
                m.request_uri(),
                Uri::parse(m.request_uri_str().unwrap()).ok()
            );
            assert_eq!(m.request_uri().unwrap().param("user"), Some("phone"));
        }
        let copy = m.clone();
        assert_eq!(copy.top_via(), m.top_via(), "a copy keeps the view");
        let folded = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK1\n\n").unwrap();
        assert_eq!(
            folded.top_via().unwrap().branch(),
            Some("z9hG4bK1"),
            "a folded value"
        );
        assert_eq!(folded.top_via(), folded.vias().next());
        let bad = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP\n\n").unwrap();
        assert!(bad.top_via().is_none());
        assert!(bad.top_via().is_none(), "an invalid value stays invalid");
    }
}
