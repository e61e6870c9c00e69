//! Why a buffer is not a SIP message, and what RFC 3261 says a receiver does about it.

/// Why a buffer is not a SIP message. Use [`ParseError::reaction`] to decide what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("malformed start line")]
    StartLine,
    #[error("malformed request-uri")]
    RequestUri,
    #[error("unsupported sip version")]
    Version,
    #[error("malformed status code")]
    StatusCode,
    #[error("malformed header line {line}")]
    HeaderLine { line: usize },
    #[error("too many header lines")]
    TooManyHeaders,
    #[error("header section is not utf-8")]
    Utf8,
    #[error("header section does not end")]
    Incomplete,
    #[error("invalid content-length")]
    ContentLength,
    #[error("body shorter than content-length: {declared} declared, {available} present")]
    BodyTruncated { declared: usize, available: usize },
}

/// What a receiver should do with a message that failed to parse or validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Answer with this status code (requests only).
    Respond(u16),
    /// Discard silently (responses, or nothing to answer).
    Drop,
}

impl ParseError {
    /// The RFC 3261 reaction for a request with this error: 505 for a foreign version, 400
    /// otherwise; callers drop responses and answer requests when they can (see `malformed`).
    pub fn reaction(&self) -> Reaction {
        match self {
            ParseError::Empty | ParseError::Incomplete | ParseError::Utf8 => Reaction::Drop,
            ParseError::Version => Reaction::Respond(505),
            _ => Reaction::Respond(400),
        }
    }
}
