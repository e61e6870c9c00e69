//! The CSeq header value (RFC 3261 §20.16) and delta-seconds (§20.19).

use super::lex;
use super::method::Method;

/// A CSeq value (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method,
    pub method_str: &'a str,
}

/// Why a CSeq value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cseq")]
pub struct CSeqError;

impl<'a> CSeq<'a> {
    /// Parses `1*DIGIT LWS Method`; the number must be below 2^31 (RFC 3261 §8.1.1.5).
    pub fn parse(v: &'a str) -> Result<CSeq<'a>, CSeqError> {
        let v = lex::trim(v);
        let n = v.bytes().take_while(u8::is_ascii_digit).count();
        let seq = lex::parse_decimal(&v[..n], (1 << 31) - 1).ok_or(CSeqError)? as u32;
        let rest = &v[n..];
        let m = lex::skip_ws(rest);
        if m.len() == rest.len() || !lex::is_token(m) {
            return Err(CSeqError);
        }
        Ok(CSeq {
            seq,
            method: Method::parse(m.as_bytes()),
            method_str: m,
        })
    }
}

/// delta-seconds, saturating at 2^32-1 (RFC 3261 §20.19 and RFC 4475 §3.1.2.4).
pub fn parse_delta_seconds(v: &str) -> Option<u32> {
    let v = lex::trim(v);
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(lex::parse_decimal(v, u64::MAX).map_or(u32::MAX, |n| n.min(u32::MAX as u64) as u32))
}
