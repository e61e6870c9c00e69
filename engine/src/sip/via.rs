//! Via header values (RFC 3261 §20.42, §18.2.1; rport from RFC 3581).

use std::net::IpAddr;

use super::lex;
use super::uri::{parse_host_ip, valid_host};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value, borrowed from the header text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    transport: &'a str,
    host: &'a str,
    port: Option<u16>,
    params: &'a str,
}

/// Why a Via value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViaError {
    #[error("invalid sent-protocol")]
    Protocol,
    #[error("invalid sent-by")]
    SentBy,
    #[error("invalid via parameter")]
    Params,
}

impl<'a> Via<'a> {
    /// Parses one via-parm: `SIP / 2.0 / UDP host[:port] *(; param)`.
    pub fn parse(s: &'a str) -> Result<Via<'a>, ViaError> {
        let s = lex::trim(s);
        let (name, rest) = token_then_slash(s).ok_or(ViaError::Protocol)?;
        let (version, rest) = token_then_slash(rest).ok_or(ViaError::Protocol)?;
        if !name.eq_ignore_ascii_case("SIP") || version.is_empty() {
            return Err(ViaError::Protocol);
        }
        let rest = lex::skip_ws(rest);
        let tlen = rest.bytes().take_while(|&c| lex::is_token_char(c)).count();
        if tlen == 0 {
            return Err(ViaError::Protocol);
        }
        let transport = &rest[..tlen];
        let after = &rest[tlen..];
        let rest = lex::skip_ws(after);
        if rest.len() == after.len() {
            // LWS is required between the transport and sent-by
            return Err(ViaError::SentBy);
        }
        let host_len = if rest.starts_with('[') {
            rest.find(']').ok_or(ViaError::SentBy)? + 1
        } else {
            rest.find([';', ' ', '\t', ':']).unwrap_or(rest.len())
        };
        let host = &rest[..host_len];
        if !valid_host(host) {
            return Err(ViaError::SentBy);
        }
        let mut rest = &rest[host_len..];
        let mut port = None;
        // COLON = SWS ":" SWS
        if let Some(p) = lex::skip_ws(rest).strip_prefix(':') {
            let p = lex::skip_ws(p);
            let plen = p.bytes().take_while(u8::is_ascii_digit).count();
            let v = lex::parse_decimal(&p[..plen], 65535).filter(|&v| v > 0);
            port = Some(v.ok_or(ViaError::SentBy)? as u16);
            rest = &p[plen..];
        }
        lex::parse_params(rest, |_| {}).map_err(|_| ViaError::Params)?;
        Ok(Via {
            transport,
            host,
            port,
            params: lex::skip_ws(rest),
        })
    }

    /// A view from parts a parse gave before (`at::ViaAt`).
    pub(crate) fn from_parts(
        transport: &'a str,
        host: &'a str,
        port: Option<u16>,
        params: &'a str,
    ) -> Via<'a> {
        Via {
            transport,
            host,
            port,
            params,
        }
    }

    /// Transport token as written (`UDP`, `TCP`, `TLS`, ...).
    pub fn transport(&self) -> &'a str {
        self.transport
    }

    /// Host of sent-by (IPv6 with brackets).
    pub fn host(&self) -> &'a str {
        self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Parameters starting at `;` (or empty).
    pub fn params(&self) -> &'a str {
        self.params
    }

    pub fn param(&self, name: &str) -> Option<lex::Param<'a>> {
        lex::find_param(self.params, name)
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.param("branch").and_then(|p| p.value)
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// `received` parameter as an address.
    pub fn received(&self) -> Option<IpAddr> {
        self.param("received")
            .and_then(|p| p.value)
            .and_then(parse_host_ip)
    }

    /// `rport`: `None` if absent, `Some(None)` when present without a value (a request
    /// asking for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.param("rport")?;
        Some(
            p.value
                .and_then(|v| lex::parse_decimal(v, 65535))
                .map(|v| v as u16),
        )
    }

    /// Whether the transport is reliable (stream based).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

/// Reads `token LWS? "/"` and returns the token and the rest after the slash.
fn token_then_slash(s: &str) -> Option<(&str, &str)> {
    let s = lex::skip_ws(s);
    let n = s.bytes().take_while(|&c| lex::is_token_char(c)).count();
    if n == 0 {
        return None;
    }
    let rest = lex::skip_ws(&s[n..]).strip_prefix('/')?;
    Some((&s[..n], rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_via_parses() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport").unwrap();
        assert_eq!(v.transport(), "UDP");
        assert_eq!(v.host(), "192.0.2.1");
        assert_eq!(v.port(), Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert!(v.is_rfc3261_branch());
        assert_eq!(v.rport(), Some(None));
        assert!(!v.is_reliable());
    }

    #[test]
    fn whitespace_is_allowed_around_separators() {
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.host(), "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.transport(), "TCP");
        assert_eq!(v.host(), "spindle.example.com");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
    }

    #[test]
    fn ipv6_sent_by_and_received_parse() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3;received=[2001:db8::9:255]",
        )
        .unwrap();
        assert_eq!(v.host(), "[2001:db8::9:1]");
        assert_eq!(v.port(), Some(5070));
        assert_eq!(v.received(), "2001:db8::9:255".parse().ok());
    }

    #[test]
    fn malformed_vias_are_rejected() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0 192.0.2.1").is_err());
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.1:99999").is_err());
    }
}
