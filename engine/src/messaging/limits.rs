//! What one number's queue may hold, and what a sender hears when a message cannot be taken.

use super::is_text_plain;

/// Per-number queue limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub max_messages: u64,
    pub max_bytes: u64,
}

/// What a number's queue holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueUsage {
    pub messages: u64,
    pub bytes: u64,
}

/// A message the switch will not keep: the status and reason phrase the sender gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
}

impl QueueUsage {
    /// Whether a body of `len` bytes fits, or the refusal the sender gets.
    pub fn admit(&self, limits: &QueueLimits, len: usize) -> Result<(), Refusal> {
        if self.messages >= limits.max_messages {
            return Err(Refusal {
                code: 486,
                reason: "Mailbox Full",
            });
        }
        if self.bytes + len as u64 > limits.max_bytes {
            return Err(Refusal {
                code: 507,
                reason: "Mailbox Storage Exhausted",
            });
        }
        Ok(())
    }

    pub fn add(&mut self, len: usize) {
        self.messages += 1;
        self.bytes += len as u64;
    }

    pub fn remove(&mut self, len: usize) {
        self.messages = self.messages.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(len as u64);
    }
}

/// Why a MESSAGE body is refused before anything else is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the configured size: 413.
    TooLarge,
    /// No body at all: 400.
    Empty,
    /// `text/plain` that is not UTF-8 (nor declared another charset): 415.
    NotUtf8,
    /// A Content-Type that is not `type/subtype` with parameters: 415.
    ContentType,
}

impl BodyError {
    pub fn status(self) -> (u16, &'static str) {
        match self {
            BodyError::TooLarge => (413, "Message Body Too Large"),
            BodyError::Empty => (400, "Message Has No Body"),
            BodyError::NotUtf8 => (415, "Text Must Be UTF-8"),
            BodyError::ContentType => (415, "Unsupported Media Type"),
        }
    }
}

/// Checks a MESSAGE body: its size, and that plain text is UTF-8. Any other content type is
/// passed through as it is.
pub fn check_body(content_type: &str, body: &[u8], max: usize) -> Result<(), BodyError> {
    if !valid_content_type(content_type) {
        return Err(BodyError::ContentType);
    }
    if body.len() > max {
        return Err(BodyError::TooLarge);
    }
    if body.is_empty() {
        return Err(BodyError::Empty);
    }
    if is_text_plain(content_type)
        && declares_utf8(content_type)
        && std::str::from_utf8(body).is_err()
    {
        return Err(BodyError::NotUtf8);
    }
    Ok(())
}

/// `type/subtype *(; parameter)` with token characters for the type, and nothing that could
/// end a header line (the value is written into the MESSAGE each device receives).
pub fn valid_content_type(ct: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if ct.len() > 256 || ct.bytes().any(|b| b.is_ascii_control()) {
        return false;
    }
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim();
    let Some((ty, sub)) = media.split_once('/') else {
        return false;
    };
    token(ty)
        && token(sub)
        && parts.all(|p| {
            p.trim()
                .split_once('=')
                .is_some_and(|(k, _)| token(k.trim()))
        })
}

/// `charset` absent or UTF-8 (RFC 3428 text is UTF-8 unless it says otherwise).
fn declares_utf8(content_type: &str) -> bool {
    content_type.split(';').skip(1).all(|p| {
        let Some((k, v)) = p.split_once('=') else {
            return true;
        };
        !k.trim().eq_ignore_ascii_case("charset")
            || v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: QueueLimits = QueueLimits {
        max_messages: 2,
        max_bytes: 10,
    };

    #[test]
    fn a_full_queue_answers_486_and_a_queue_out_of_bytes_507() {
        let mut u = QueueUsage::default();
        assert!(u.admit(&L, 4).is_ok());
        u.add(4);
        assert_eq!(u.admit(&L, 7).unwrap_err().code, 507);
        assert!(u.admit(&L, 6).is_ok());
        u.add(6);
        assert_eq!(u.admit(&L, 0).unwrap_err().code, 486);
        u.remove(6);
        assert_eq!(
            u,
            QueueUsage {
                messages: 1,
                bytes: 4
            }
        );
    }

    #[test]
    fn bodies_are_checked_for_size_presence_and_utf8_text() {
        assert_eq!(check_body("text/plain", b"hello", 5), Ok(()));
        assert_eq!(
            check_body("text/plain", b"hello!", 5),
            Err(BodyError::TooLarge)
        );
        assert_eq!(check_body("text/plain", b"", 5), Err(BodyError::Empty));
        assert_eq!(
            check_body("text/plain", b"\xff\xfe", 5),
            Err(BodyError::NotUtf8)
        );
        assert_eq!(
            check_body("text/plain; charset=\"UTF-8\"", b"\xff", 5),
            Err(BodyError::NotUtf8)
        );
        // another declared charset, or another type, passes through untouched
        assert_eq!(
            check_body("text/plain;charset=ISO-8859-1", b"\xe9", 5),
            Ok(())
        );
        assert_eq!(check_body("application/octet-stream", b"\xff", 5), Ok(()));
        assert_eq!(BodyError::TooLarge.status().0, 413);
        // nothing that could become another header line
        assert_eq!(
            check_body("text/plain\r\nX-Injected: 1", b"x", 5),
            Err(BodyError::ContentType)
        );
        assert_eq!(check_body("plain", b"x", 5), Err(BodyError::ContentType));
        assert_eq!(
            check_body("text/plain; charset", b"x", 5),
            Err(BodyError::ContentType)
        );
    }
}
