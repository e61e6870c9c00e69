//! The start line of a SIP message (RFC 3261 §7.1, §7.2): Request-Line or Status-Line.

use super::at::UriAt;
use super::lex;
use super::method::Method;
use super::parse_error::ParseError;
use super::span::Span;
use super::uri::Uri;

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
    },
    Response {
        code: u16,
        reason: Span,
    },
}

/// The start line of `b[from..end]`, and for a request where its Request-URI's parts lie in
/// the URI text (the parse that validates it gives them; `None` when they cannot be kept).
pub(super) fn parse_start_line(
    b: &[u8],
    from: usize,
    end: usize,
) -> Result<(StartLine, Option<UriAt>), ParseError> {
    let line = &b[from..end];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = memchr::memchr(b' ', line).ok_or(ParseError::StartLine)?;
        check_version(&line[..sp])?;
        let rest = &line[sp + 1..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits != 3 || (rest.len() > 3 && rest[3] != b' ') {
            return Err(ParseError::StatusCode);
        }
        let code =
            (rest[0] - b'0') as u16 * 100 + (rest[1] - b'0') as u16 * 10 + (rest[2] - b'0') as u16;
        if !(100..=699).contains(&code) {
            return Err(ParseError::StatusCode);
        }
        let rstart = from + sp + 1 + (rest.len().min(4));
        return Ok((
            StartLine::Response {
                code,
                reason: Span::new(rstart.min(end), end),
            },
            None,
        ));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version; trailing white space tolerated
    let mut trimmed = line.len();
    while trimmed > 0 && (line[trimmed - 1] == b' ' || line[trimmed - 1] == b'\t') {
        trimmed -= 1;
    }
    let line = &line[..trimmed];
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::StartLine)?;
    let sp2 = memchr::memrchr(b' ', line).ok_or(ParseError::StartLine)?;
    if sp1 == sp2 || sp1 == 0 {
        return Err(ParseError::StartLine);
    }
    let method = &line[..sp1];
    if !method.iter().all(|&c| lex::is_token_char(c)) {
        return Err(ParseError::StartLine);
    }
    let uri = &line[sp1 + 1..sp2];
    if uri.is_empty() || uri.iter().any(|&c| c == b' ' || c == b'\t') {
        return Err(ParseError::StartLine);
    }
    let version = &line[sp2 + 1..];
    check_version(version)?;
    // the header section was checked to be UTF-8 before this is called
    let uri_str = std::str::from_utf8(uri).map_err(|_| ParseError::RequestUri)?;
    let parsed = Uri::parse(uri_str).map_err(|_| ParseError::RequestUri)?;
    if !parsed.headers().is_empty() {
        // headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table 1)
        return Err(ParseError::RequestUri);
    }
    Ok((
        StartLine::Request {
            method: Method::parse(method),
            method_span: Span::new(from, from + sp1),
            uri: Span::new(from + sp1 + 1, from + sp2),
        },
        UriAt::of(uri_str, &parsed),
    ))
}

fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    // a well-formed but foreign version gets 505; anything else is a bad start line
    let well_formed = v.len() > 4
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].split(|&c| c == b'.').count() == 2
        && v[4..]
            .split(|&c| c == b'.')
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    Err(if well_formed {
        ParseError::Version
    } else {
        ParseError::StartLine
    })
}
