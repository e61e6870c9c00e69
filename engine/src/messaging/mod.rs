//! Instant messages (SIP MESSAGE, RFC 3428) kept for numbers whose owner is offline.
//!
//! A message the switch accepted for later delivery is a `StoredMessage` in its number's
//! durable queue, keyed so that a prefix scan yields one number's messages in the order they
//! were accepted (`queue_key`). `limits` says what a queue may hold and what the sender hears
//! past it, `outbox` is the delivery of a queue to the devices that register, `wire` writes
//! the MESSAGE a device receives (with a stable `Message-ID`, so a redelivery after a crash
//! can be recognized), `notice` is the SMS that tells an offline owner a message waits, and
//! `voice` is a message to a landline, read out by a call instead.

pub mod limits;
pub mod notice;
pub mod outbox;
pub mod voice;
pub mod wire;

pub use limits::{check_body, BodyError, QueueLimits, QueueUsage, Refusal};
pub use notice::{Coalescer, Notice, SmsText};
pub use outbox::{Action, Backoff, Outbox};

use crate::numbering::Aor;

/// Tree of the durable queues: `queue_key` -> `StoredMessage`.
pub const QUEUE_TREE: &str = "queue";

/// A message accepted for a number, waiting for one of its devices.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct StoredMessage {
    /// Stable identifier, sent as `Message-ID` with every delivery attempt.
    pub id: String,
    /// The sender's From header value as received (name-addr; its tag is dropped).
    pub from: String,
    /// The sender for people: a canonical number or a SIP URI.
    pub sender: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// When the switch accepted it (milliseconds since the Unix epoch).
    pub accepted_unix_ms: u64,
    /// When it is dropped if still undelivered (seconds since the Unix epoch).
    pub expires_unix: u64,
}

impl StoredMessage {
    /// The body as text, when it is text.
    pub fn text(&self) -> Option<&str> {
        if is_text_plain(&self.content_type) {
            std::str::from_utf8(&self.body).ok()
        } else {
            None
        }
    }
}

/// Whether a Content-Type is `text/plain` (any parameters).
pub fn is_text_plain(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("text/plain")
}

/// The key of message `seq` in the queue of `aor`: the address, a 0 byte, then the sequence
/// number big-endian, so keys of one address sort by sequence and share a prefix.
pub fn queue_key(aor: &Aor, seq: u64) -> Vec<u8> {
    let mut k = queue_prefix(aor);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix of every key in the queue of `aor`.
pub fn queue_prefix(aor: &Aor) -> Vec<u8> {
    let mut k = Vec::with_capacity(aor.as_str().len() + 9);
    k.extend_from_slice(aor.as_str().as_bytes());
    k.push(0);
    k
}

/// The address and sequence number of a queue key.
pub fn parse_queue_key(key: &[u8]) -> Option<(Aor, u64)> {
    if key.len() < 9 {
        return None;
    }
    let (head, seq) = key.split_at(key.len() - 8);
    let (&zero, aor) = head.split_last()?;
    if zero != 0 {
        return None;
    }
    let aor = std::str::from_utf8(aor).ok()?;
    Some((
        Aor::from_canonical(aor),
        u64::from_be_bytes(seq.try_into().ok()?),
    ))
}

/// A message identifier: the switch's domain after a sequence and random part that no other
/// message shares.
pub fn message_id(seq: u64, random: &str, domain: &str) -> String {
    format!("{seq:x}.{random}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_sort_by_sequence_within_an_address_and_parse_back() {
        let a = Aor::from_canonical("+821012345678");
        let b = Aor::from_canonical("+8210123456789");
        let mut keys = [queue_key(&a, 300), queue_key(&a, 2), queue_key(&a, 256)];
        keys.sort();
        let seqs: Vec<u64> = keys.iter().map(|k| parse_queue_key(k).unwrap().1).collect();
        assert_eq!(seqs, [2, 256, 300]);
        // a longer address that starts like another never falls inside its prefix
        assert!(!queue_key(&b, 1).starts_with(&queue_prefix(&a)));
        assert_eq!(parse_queue_key(&queue_key(&b, 7)), Some((b, 7)));
        assert_eq!(parse_queue_key(b"short"), None);
    }

    #[test]
    fn only_utf8_text_plain_reads_as_text() {
        let mut m = StoredMessage {
            id: "1.x@h".into(),
            from: "<sip:a@h>".into(),
            sender: "a".into(),
            content_type: "text/plain;charset=UTF-8".into(),
            body: "안녕".as_bytes().to_vec(),
            accepted_unix_ms: 0,
            expires_unix: 0,
        };
        assert_eq!(m.text(), Some("안녕"));
        m.content_type = "application/im-iscomposing+xml".into();
        assert_eq!(m.text(), None);
    }
}
