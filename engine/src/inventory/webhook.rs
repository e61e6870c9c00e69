//! Payment webhook authentication (`docs/payments.md`): the provider signs
//! `<timestamp>.<raw body>` with HMAC-SHA256 under the secret it shares with the switch and
//! sends `Payment-Timestamp: <unix seconds>` and `Payment-Signature: sha256=<hex>`. The switch
//! refuses a signature that does not verify (compared in constant time) and a timestamp
//! further than the tolerance from its clock, so a captured webhook cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::UnixTime;

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "Payment-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "Payment-Signature";
/// How far a webhook's timestamp may be from the switch's clock, in seconds.
pub const TOLERANCE_SECS: u64 = 300;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("missing or malformed timestamp")]
    Timestamp,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("missing or malformed signature")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `Payment-Signature` value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Checks a webhook's headers against its raw body at `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: UnixTime,
) -> Result<(), SignatureError> {
    let ts = timestamp
        .filter(|t| (1..=20).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or(SignatureError::Timestamp)?;
    if ts.abs_diff(now.0) > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let hex = signature
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::Malformed)?;
    let mut tag = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| SignatureError::Malformed)?;
        tag[i] = u8::from_str_radix(s, 16).map_err(|_| SignatureError::Malformed)?;
    }
    mac(secret, ts, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"order_id":"o1"}"#;
        let sig = sign(b"secret", NOW.0, body);
        let ts = NOW.0.to_string();
        assert_eq!(verify(b"secret", Some(&ts), Some(&sig), body, NOW), Ok(()));
        assert_eq!(
            verify(b"other", Some(&ts), Some(&sig), body, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"secret",
                Some(&ts),
                Some(&sig),
                br#"{"order_id":"o2"}"#,
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
        let other_ts = (NOW.0 + 1).to_string();
        assert_eq!(
            verify(b"secret", Some(&other_ts), Some(&sig), body, NOW),
            Err(SignatureError::Mismatch),
            "the timestamp is signed too"
        );
    }

    #[test]
    fn old_or_malformed_webhooks_are_refused() {
        let body = b"{}";
        let old = NOW.0 - TOLERANCE_SECS - 1;
        let sig = sign(b"s", old, body);
        assert_eq!(
            verify(b"s", Some(&old.to_string()), Some(&sig), body, NOW),
            Err(SignatureError::Stale)
        );
        let ts = NOW.0.to_string();
        assert_eq!(
            verify(b"s", None, Some(&sig), body, NOW),
            Err(SignatureError::Timestamp)
        );
        assert_eq!(
            verify(b"s", Some("-5"), Some(&sig), body, NOW),
            Err(SignatureError::Timestamp)
        );
        for bad in ["", "sha256=zz", "md5=00", &"sha256=".repeat(12)] {
            assert_eq!(
                verify(b"s", Some(&ts), Some(bad), body, NOW),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
