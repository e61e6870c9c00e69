//! Answers for requests too broken to parse (RFC 3261 §8.2, §21.4.1, §21.5.6).
//!
//! When `Message::parse` fails, the header lines a response needs (Via, From, To, Call-ID,
//! CSeq) are looked for in the raw bytes and copied as written, so the sender still learns
//! why its request was refused. Responses, and buffers without those lines, get nothing.

use bytes::Bytes;

use super::header::HeaderName;
use super::message::Reaction;
use super::parse_error::ParseError;

/// The response for an unparseable buffer, or `None` when it must be dropped.
pub fn answer(raw: &[u8], err: &ParseError) -> Option<Bytes> {
    let Reaction::Respond(code) = err.reaction() else {
        return None;
    };
    let start = raw.iter().position(|&c| c != b'\r' && c != b'\n')?;
    let raw = &raw[start..];
    if raw.len() >= 4 && raw[..4].eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    let head_end = find(raw, b"\r\n\r\n")
        .or_else(|| find(raw, b"\n\n"))
        .unwrap_or(raw.len());
    let head = &raw[..head_end];
    let mut lines = head.split(|&c| c == b'\n');
    lines.next(); // start line
    let mut out = Vec::with_capacity(512);
    let reason = if code == 505 {
        "Version Not Supported"
    } else {
        "Bad Request"
    };
    out.extend_from_slice(format!("SIP/2.0 {code} {reason} ({err})\r\n").as_bytes());
    let (mut via, mut call_id, mut cseq, mut from, mut to) = (false, false, false, false, false);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|c| *c == b' ' || *c == b'\t') {
            continue; // folded continuation: the copied first line is enough
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let name = HeaderName::parse(trim(&line[..colon]));
        let seen = match name {
            HeaderName::Via => &mut via,
            HeaderName::CallId => &mut call_id,
            HeaderName::CSeq => &mut cseq,
            HeaderName::From => &mut from,
            HeaderName::To => &mut to,
            _ => continue,
        };
        if name != HeaderName::Via && *seen {
            continue;
        }
        if line.iter().any(|&c| c < 0x20 && c != b'\t') {
            return None;
        }
        *seen = true;
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if !(via && call_id && cseq && from && to) {
        return None;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    #[test]
    fn a_bad_start_line_still_gets_a_400_with_the_callers_headers() {
        let raw = b"INVITE  sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:x@y>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n";
        let err = Message::parse(Bytes::from_static(raw)).unwrap_err();
        let resp = Message::parse(answer(raw, &err).unwrap()).unwrap();
        assert_eq!(resp.status(), Some(400));
        assert_eq!(resp.call_id(), Some("c1"));
        assert_eq!(resp.top_via().unwrap().branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn a_foreign_version_gets_505() {
        let raw = b"OPTIONS sip:x@y SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:x@y>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let err = Message::parse(Bytes::from_static(raw)).unwrap_err();
        let resp = Message::parse(answer(raw, &err).unwrap()).unwrap();
        assert_eq!(resp.status(), Some(505));
    }

    #[test]
    fn responses_and_headless_garbage_get_nothing() {
        let err = ParseError::StatusCode;
        assert!(answer(b"SIP/2.0 9999 Big\r\nVia: x\r\n\r\n", &err).is_none());
        assert!(answer(b"\x00\x01garbage", &ParseError::StartLine).is_none());
    }
}
