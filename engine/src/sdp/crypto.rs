//! SDES: the `a=crypto` attribute (RFC 4568 §9.1) that carries SRTP master keys in SDP.
//!
//! `a=crypto:<tag> <crypto-suite> <key-params> [<session-param> ...]`, where key-params are
//! `inline:<base64 key||salt>[|<lifetime>][|<MKI>:<length>]` joined by `;`. [`Crypto::parse`]
//! reads any well-formed line, suites it does not know included (an offer may list them);
//! [`Crypto::usable`] says whether the switch can run it: a suite of
//! [`Suite`](crate::media::srtp::Suite), one key of the right length, no MKI (SDES phones
//! send none; with one, every packet would carry it) and no session parameters (they change
//! the transform: `UNENCRYPTED_SRTP`, `KDR`, `FEC_ORDER`, ...). The lifetime is read but not
//! enforced: no call reaches 2^31 packets. `Display` writes the line's value back.
//!
//! The key is a secret: it is never written by `Debug`, only by `Display` (into the SDP).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::media::srtp::{MasterKey, Suite};

/// The profiles whose streams carry `a=crypto` (RFC 4568 §3.1.4; SAVPF adds feedback).
pub const SAVP: [&str; 2] = ["RTP/SAVP", "RTP/SAVPF"];

/// One `a=crypto` line's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    /// Ties the answer's line to the offer's (1 to 9 digits).
    pub tag: u32,
    /// Case-sensitive, as written.
    pub suite: String,
    pub keys: Vec<InlineKey>,
    /// Verbatim.
    pub session_params: Vec<String>,
}

/// One `inline:` key parameter.
#[derive(Clone, PartialEq, Eq)]
pub struct InlineKey {
    /// The decoded key and salt.
    pub key_salt: Vec<u8>,
    /// `2^20` or `1048576`, verbatim.
    pub lifetime: Option<String>,
    /// `(value, length in bytes)`.
    pub mki: Option<(u32, u8)>,
}

/// Why an `a=crypto` value is not well formed.
#[derive(Copy, Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("crypto tag missing or not 1-9 digits")]
    Tag,
    #[error("crypto suite missing")]
    Suite,
    #[error("crypto key parameter missing or not inline")]
    KeyMethod,
    #[error("crypto key not base64")]
    Base64,
    #[error("crypto key lifetime or mki malformed")]
    KeyInfo,
}

impl Crypto {
    /// A line for the switch's own `key` under `suite`.
    pub fn new(tag: u32, suite: Suite, key: &MasterKey) -> Crypto {
        Crypto {
            tag,
            suite: suite.name().to_owned(),
            keys: vec![InlineKey {
                key_salt: key.to_bytes().to_vec(),
                lifetime: None,
                mki: None,
            }],
            session_params: Vec::new(),
        }
    }

    pub fn parse(value: &str) -> Result<Crypto, CryptoError> {
        let mut tokens = value.split_ascii_whitespace();
        let tag = tokens
            .next()
            .filter(|t| (1..=9).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or(CryptoError::Tag)?;
        let suite = tokens.next().ok_or(CryptoError::Suite)?.to_owned();
        let params = tokens.next().ok_or(CryptoError::KeyMethod)?;
        let keys = params
            .split(';')
            .map(InlineKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Crypto {
            tag,
            suite,
            keys,
            session_params: tokens.map(str::to_owned).collect(),
        })
    }

    /// The suite and key if the switch can run this line (see the module docs).
    pub fn usable(&self) -> Option<(Suite, MasterKey)> {
        let suite = Suite::from_name(&self.suite)?;
        let [key] = self.keys.as_slice() else {
            return None;
        };
        if key.mki.is_some() || !self.session_params.is_empty() {
            return None;
        }
        Some((suite, MasterKey::from_slice(&key.key_salt)?))
    }
}

impl InlineKey {
    fn parse(param: &str) -> Result<InlineKey, CryptoError> {
        let info = param
            .strip_prefix("inline:")
            .ok_or(CryptoError::KeyMethod)?;
        let mut parts = info.split('|');
        let key = parts.next().unwrap_or_default();
        let key_salt = STANDARD.decode(key).map_err(|_| CryptoError::Base64)?;
        let mut lifetime = None;
        let mut mki = None;
        for part in parts {
            if let Some((value, len)) = part.split_once(':') {
                let value = value.parse().map_err(|_| CryptoError::KeyInfo)?;
                let len = len
                    .parse()
                    .ok()
                    .filter(|l| (1..=128).contains(l))
                    .ok_or(CryptoError::KeyInfo)?;
                if mki.replace((value, len)).is_some() {
                    return Err(CryptoError::KeyInfo);
                }
            } else if is_lifetime(part) && lifetime.is_none() && mki.is_none() {
                lifetime = Some(part.to_owned());
            } else {
                return Err(CryptoError::KeyInfo);
            }
        }
        Ok(InlineKey {
            key_salt,
            lifetime,
            mki,
        })
    }
}

/// `2^<digits>` or decimal digits (RFC 4568 §9.1 `lifetime`).
fn is_lifetime(s: &str) -> bool {
    let digits = s.strip_prefix("2^").unwrap_or(s);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "inline:{}", STANDARD.encode(&k.key_salt))?;
            if let Some(l) = &k.lifetime {
                write!(f, "|{l}")?;
            }
            if let Some((v, len)) = k.mki {
                write!(f, "|{v}:{len}")?;
            }
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("keys", &self.keys.len())
            .field("session_params", &self.session_params)
            .finish()
    }
}

impl fmt::Debug for InlineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineKey")
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish_non_exhaustive()
    }
}

/// Whether `proto` is an SRTP profile (`RTP/SAVP`, `RTP/SAVPF`).
pub fn is_savp(proto: &str) -> bool {
    SAVP.iter().any(|p| proto.eq_ignore_ascii_case(p))
}

/// The plain profile of an SRTP one (`RTP/SAVPF` to `RTP/AVPF`), or `proto` itself.
pub fn plain_profile(proto: &str) -> &'static str {
    if proto.eq_ignore_ascii_case("RTP/SAVPF") {
        "RTP/AVPF"
    } else {
        "RTP/AVP"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568 §4's example offer line.
    const RFC_LINE: &str = "1 AES_CM_128_HMAC_SHA1_80 \
                            inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";

    #[test]
    fn the_rfc_example_parses_and_writes_back_the_same() {
        let c = Crypto::parse(RFC_LINE).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.keys[0].key_salt.len(), 30);
        assert_eq!(c.keys[0].lifetime.as_deref(), Some("2^20"));
        assert_eq!(c.keys[0].mki, Some((1, 4)));
        assert_eq!(c.to_string(), RFC_LINE);
        assert_eq!(c.usable(), None, "an MKI the switch does not send");
    }

    #[test]
    fn a_plain_sdes_line_is_usable_and_our_own_round_trips() {
        let c = Crypto::parse(
            "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj",
        )
        .unwrap();
        let (suite, key) = c.usable().unwrap();
        assert_eq!(suite, Suite::AesCm128HmacSha1_32);
        let ours = Crypto::new(5, suite, &key);
        let back = Crypto::parse(&ours.to_string()).unwrap();
        assert_eq!(back, ours);
        assert_eq!(back.usable(), Some((suite, key)));
        assert!(!format!("{ours:?}").contains("inline"), "no key in Debug");
    }

    #[test]
    fn lines_the_switch_cannot_run_parse_but_are_not_usable() {
        for line in [
            "1 AES_256_CM_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj",
            "1 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj \
             UNENCRYPTED_SRTP",
            "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD",
            "1 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj;\
             inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj",
        ] {
            let c = Crypto::parse(line).unwrap();
            assert_eq!(c.usable(), None, "{line}");
            assert_eq!(
                c.to_string(),
                line.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for (line, e) in [
            ("", CryptoError::Tag),
            ("x AES_CM_128_HMAC_SHA1_80 inline:QUJD", CryptoError::Tag),
            (
                "1234567890 AES_CM_128_HMAC_SHA1_80 inline:QUJD",
                CryptoError::Tag,
            ),
            ("1", CryptoError::Suite),
            ("1 AES_CM_128_HMAC_SHA1_80", CryptoError::KeyMethod),
            ("1 AES_CM_128_HMAC_SHA1_80 uri:x", CryptoError::KeyMethod),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!", CryptoError::Base64),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|2^x",
                CryptoError::KeyInfo,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|1:4|2:4",
                CryptoError::KeyInfo,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|1:0",
                CryptoError::KeyInfo,
            ),
        ] {
            assert_eq!(Crypto::parse(line), Err(e), "{line}");
        }
        assert!(is_savp("rtp/savp") && is_savp("RTP/SAVPF") && !is_savp("RTP/AVP"));
        assert_eq!(plain_profile("RTP/SAVPF"), "RTP/AVPF");
        assert_eq!(plain_profile("RTP/SAVP"), "RTP/AVP");
    }
}
