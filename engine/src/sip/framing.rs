//! Message framing on stream transports (RFC 3261 §18.3, keep-alives from RFC 5626 §3.5.1).
//!
//! On TCP, Content-Length is mandatory and delimits each message. `next_frame` inspects the
//! start of a receive buffer and says how many bytes form the next message, that the buffer
//! holds only a keep-alive, or that more bytes are needed.

use super::header::HeaderName;
use super::lex;

/// What the head of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// `skip` bytes of leading CRLFs, then a complete message of `len` bytes.
    Message { skip: usize, len: usize },
    /// `len` bytes of CRLF keep-alive; `ping` when it was a double CRLF that wants a single
    /// CRLF pong back.
    KeepAlive { len: usize, ping: bool },
    /// Not enough bytes yet.
    Incomplete,
}

/// Why a stream cannot be framed; the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    #[error("header section exceeds {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("message exceeds {limit} bytes")]
    MessageTooLarge { limit: usize },
    #[error("missing content-length on a stream transport")]
    MissingContentLength,
    #[error("invalid content-length")]
    InvalidContentLength,
}

/// Finds the next frame in `buf`. `max` bounds the size of one message.
pub fn next_frame(buf: &[u8], max: usize) -> Result<Frame, FramingError> {
    let mut skip = 0;
    while skip < buf.len() && (buf[skip] == b'\r' || buf[skip] == b'\n') {
        skip += 1;
    }
    if skip > 0 && (skip == buf.len() || skip >= 4) {
        // only CRLFs so far: a keep-alive ping (CRLFCRLF) or pong (CRLF)
        let ping = buf[..skip].windows(4).any(|w| w == b"\r\n\r\n");
        return Ok(Frame::KeepAlive { len: skip, ping });
    }
    let rest = &buf[skip..];
    let Some((head_len, body_start)) = head_end(rest) else {
        if rest.len() > max {
            return Err(FramingError::HeadTooLarge { limit: max });
        }
        return Ok(Frame::Incomplete);
    };
    let cl = content_length(&rest[..head_len])?;
    let len = body_start + cl;
    if len > max {
        return Err(FramingError::MessageTooLarge { limit: max });
    }
    if rest.len() < len {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message { skip, len })
}

/// Offset of the empty line and of the body, accepting CRLF or LF.
fn head_end(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(n) = memchr::memchr(b'\n', &b[i..]) {
        let next = i + n + 1;
        if b.get(next) == Some(&b'\n') {
            return Some((next, next + 1));
        }
        if b.get(next) == Some(&b'\r') && b.get(next + 1) == Some(&b'\n') {
            return Some((next, next + 2));
        }
        i = next;
    }
    None
}

fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found = None;
    for line in head.split(|&c| c == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim(&line[..colon]);
        if HeaderName::parse(name) != HeaderName::ContentLength {
            continue;
        }
        let value = std::str::from_utf8(trim(&line[colon + 1..]))
            .map_err(|_| FramingError::InvalidContentLength)?;
        let n = lex::parse_decimal(value, u32::MAX as u64)
            .ok_or(FramingError::InvalidContentLength)? as usize;
        if found.is_some_and(|f| f != n) {
            return Err(FramingError::InvalidContentLength);
        }
        found = Some(n);
    }
    found.ok_or(FramingError::MissingContentLength)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\nCall-ID: x\r\n\r\nhello";

    #[test]
    fn a_complete_message_is_framed_by_content_length() {
        let mut buf = MSG.to_vec();
        buf.extend_from_slice(b"OPTIONS sip:next");
        assert_eq!(
            next_frame(&buf, 65535),
            Ok(Frame::Message {
                skip: 0,
                len: MSG.len()
            })
        );
    }

    #[test]
    fn partial_messages_wait_for_more_bytes() {
        for cut in [1, 10, MSG.len() - 5, MSG.len() - 1] {
            assert_eq!(
                next_frame(&MSG[..cut], 65535),
                Ok(Frame::Incomplete),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn keep_alives_are_recognized() {
        assert_eq!(
            next_frame(b"\r\n\r\n", 100),
            Ok(Frame::KeepAlive { len: 4, ping: true })
        );
        assert_eq!(
            next_frame(b"\r\n", 100),
            Ok(Frame::KeepAlive {
                len: 2,
                ping: false
            })
        );
        let mut b = b"\r\n".to_vec();
        b.extend_from_slice(MSG);
        assert_eq!(
            next_frame(&b, 65535),
            Ok(Frame::Message {
                skip: 2,
                len: MSG.len()
            })
        );
    }

    #[test]
    fn streams_require_content_length() {
        let e = next_frame(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", 1000);
        assert_eq!(e, Err(FramingError::MissingContentLength));
        let e = next_frame(
            b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
            1000,
        );
        assert_eq!(e, Err(FramingError::InvalidContentLength));
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = vec![b'a'; 2000];
        assert_eq!(
            next_frame(&big, 1000),
            Err(FramingError::HeadTooLarge { limit: 1000 })
        );
        let e = next_frame(b"OPTIONS sip:a@b SIP/2.0\r\nl: 5000\r\n\r\n", 1000);
        assert_eq!(e, Err(FramingError::MessageTooLarge { limit: 1000 }));
    }
}
