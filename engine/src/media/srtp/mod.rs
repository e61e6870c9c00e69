//! SRTP and SRTCP (RFC 3711) with the two SDES crypto suites every SIP phone speaks:
//! `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32` (RFC 4568 §6.2).
//!
//! A [`SrtpContext`] is one direction of one side's media under one master key: the phone's
//! key to read what it sends ([`SrtpContext::unprotect`], [`SrtpContext::unprotect_rtcp`]),
//! the switch's own key for what it sends the phone ([`SrtpContext::protect`],
//! [`SrtpContext::protect_rtcp`]). Packets are transformed in place in the caller's buffer:
//! protecting appends the authentication tag (and the SRTCP index), so the buffer must have
//! [`SRTP_OVERHEAD`] (RTP) or [`SRTCP_OVERHEAD`] (RTCP) bytes to spare after the packet;
//! unprotecting returns the shorter plain length.
//!
//! - Key derivation (`kdf.rs`, RFC 3711 §4.3) with key derivation rate 0: the session keys
//!   are derived once, when the context is made.
//! - Encryption (`cipher.rs`, §4.1.1): AES in counter mode, the IV made of the session salt,
//!   the SSRC and the packet index.
//! - Authentication (§4.2): HMAC-SHA1 over the packet and the rollover counter (RTP) or the
//!   E flag and SRTCP index (RTCP), truncated to 80 or 32 bits (SRTCP always 80, RFC 4568
//!   §6.2.2), compared in constant time.
//! - Indexes (`replay.rs`, §3.3.1, §3.3.2): the rollover counter of each source is estimated
//!   from its sequence numbers; a 64-packet window refuses replays. A context follows up to
//!   [`MAX_SOURCES`] SSRCs at once (the relay may forward a phone's new source while the
//!   switch's own stream runs); a further one replaces the one heard from least recently.
//!
//! Guarantees: nothing here allocates, locks or logs per packet; a packet that fails
//! authentication or is a replay leaves the buffer's plain text unrevealed (authentication
//! is checked before decryption) and the context unchanged; no input makes it panic. Keys
//! are never written by `Debug`.

mod cipher;
mod context;
mod kdf;
mod replay;

pub use context::SrtpContext;

/// Bytes of a master key (AES-128).
pub const MASTER_KEY_LEN: usize = 16;
/// Bytes of a master salt (112 bits, RFC 3711 §8.2).
pub const MASTER_SALT_LEN: usize = 14;
/// Bytes of the key and salt as SDES sends them, concatenated (RFC 4568 §6.1).
pub const KEY_SALT_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
/// The most bytes [`SrtpContext::protect`] adds to an RTP packet (an 80-bit tag).
pub const SRTP_OVERHEAD: usize = 10;
/// The bytes [`SrtpContext::protect_rtcp`] adds to an RTCP packet (E flag and index, 80-bit
/// tag).
pub const SRTCP_OVERHEAD: usize = 4 + 10;
/// The sources a context follows at once.
pub const MAX_SOURCES: usize = 4;

/// An SRTP crypto suite (RFC 4568 §6.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag.
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag on SRTP (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// In the switch's order of preference.
    pub const ALL: [Suite; 2] = [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32];

    /// Its name in `a=crypto` (case-sensitive, RFC 4568 §9.2).
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Bytes of the authentication tag on SRTP packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A master key and salt (RFC 3711 §3.2.1). The switch's own come from a cryptographic
/// random source the driver owns (the engine's `Entropy` is not one).
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub key: [u8; MASTER_KEY_LEN],
    pub salt: [u8; MASTER_SALT_LEN],
}

impl MasterKey {
    /// Key and salt from their SDES concatenation.
    pub fn from_bytes(bytes: &[u8; KEY_SALT_LEN]) -> MasterKey {
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&bytes[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&bytes[MASTER_KEY_LEN..]);
        MasterKey { key, salt }
    }

    /// A key of `bytes` if it is exactly key and salt long.
    pub fn from_slice(bytes: &[u8]) -> Option<MasterKey> {
        let array: &[u8; KEY_SALT_LEN] = bytes.try_into().ok()?;
        Some(MasterKey::from_bytes(array))
    }

    /// Key then salt, as SDES sends them.
    pub fn to_bytes(&self) -> [u8; KEY_SALT_LEN] {
        let mut out = [0; KEY_SALT_LEN];
        out[..MASTER_KEY_LEN].copy_from_slice(&self.key);
        out[MASTER_KEY_LEN..].copy_from_slice(&self.salt);
        out
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The SRTP of one side of an anchored call, as its offer/answer agreed: the key the side
/// sends with (from its own `a=crypto`), and the switch's key for what it sends the side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: Suite,
    pub inbound: MasterKey,
    pub outbound: MasterKey,
}

/// Why a packet could not be protected or unprotected.
#[derive(Copy, Clone, Debug, thiserror::Error, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpError {
    /// Shorter than its header and tag, or a header that says more than the packet holds.
    #[error("packet of {len} bytes too short or malformed")]
    Malformed { len: usize },
    /// No room after the packet for what protecting appends.
    #[error("buffer of {capacity} bytes cannot hold {needed}")]
    BufferTooSmall { needed: usize, capacity: usize },
    /// The authentication tag does not match.
    #[error("authentication failed")]
    Auth,
    /// The packet index was seen already or is too old for the replay window.
    #[error("replayed packet")]
    Replay,
    /// The SRTCP index space (2^31 packets) is used up: the key must change (§3.3.1).
    #[error("srtcp index exhausted")]
    Exhausted,
}

#[cfg(test)]
mod tests;
