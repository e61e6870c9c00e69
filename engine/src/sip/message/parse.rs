//! `Message::parse`: indexing a received buffer (start line, header lines, body).

use std::sync::OnceLock;

use bytes::Bytes;

use super::super::lex;
use super::super::start_line::parse_start_line;
use super::{str_of, Header, HeaderName, Message, ParseError, Span, MAX_HEADERS};

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
            names: OnceLock::new(),
        })
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
