//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! Wire formats of challenges (`WWW-Authenticate`, `Proxy-Authenticate`) and credentials
//! (`Authorization`, `Proxy-Authorization`), and the response computation for MD5 and
//! SHA-256 with `qop=auth`. The server side stores only HA1 = H(username:realm:password).
//! Nonce issuing and replay windows live in `auth::nonce`.

use std::fmt::{self, Write as _};

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::header::HeaderName;
use super::lex;

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Parses the `algorithm` parameter; absent means MD5 (RFC 7616 §3.3).
    pub fn parse(s: Option<&str>) -> Option<Algorithm> {
        match s {
            None => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Hash output length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha256 => 32,
        }
    }

    /// H(data) as lowercase hex into `out` (cleared first).
    fn hex_hash(self, parts: &[&[u8]], out: &mut String) {
        out.clear();
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                hex_into(&h.finalize(), out);
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                hex_into(&h.finalize(), out);
            }
        }
    }

    /// Raw H(data).
    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HA1 = H(username ":" realm ":" password), the only secret the server stores.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> Vec<u8> {
    alg.hash(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ])
}

/// Why credentials could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("not a digest credential")]
    Scheme,
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("malformed parameter")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unsupported qop")]
    Qop,
}

/// Parsed `Authorization`/`Proxy-Authorization` credentials; values are unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub realm: &'a str,
    pub nonce: &'a str,
    pub uri: &'a str,
    pub response: &'a str,
    pub algorithm: Algorithm,
    pub cnonce: Option<&'a str>,
    /// `Some` only for `qop=auth` (the one quality of protection offered).
    pub qop_auth: bool,
    pub nc: Option<u32>,
    pub opaque: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    pub fn parse(v: &'a str) -> Result<Credentials<'a>, DigestError> {
        let params = scheme_params(v)?;
        let (mut username, mut realm, mut nonce, mut uri, mut response) =
            (None, None, None, None, None);
        let (mut algorithm, mut cnonce, mut qop, mut nc, mut opaque) =
            (None, None, None, None, None);
        for item in lex::split_commas(params) {
            if item.is_empty() {
                continue;
            }
            let (name, value) = auth_param(item)?;
            match name.to_ascii_lowercase().as_str() {
                "username" => username = Some(value),
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "uri" => uri = Some(value),
                "response" => response = Some(value),
                "algorithm" => algorithm = Some(value),
                "cnonce" => cnonce = Some(value),
                "qop" => qop = Some(value),
                "nc" => nc = Some(value),
                "opaque" => opaque = Some(value),
                _ => {}
            }
        }
        let algorithm = Algorithm::parse(algorithm).ok_or(DigestError::Algorithm)?;
        let qop_auth = match qop {
            None => false,
            Some(q) if q.eq_ignore_ascii_case("auth") => true,
            Some(_) => return Err(DigestError::Qop),
        };
        let nc = match nc {
            Some(n) if n.len() == 8 => {
                Some(u32::from_str_radix(n, 16).map_err(|_| DigestError::Malformed)?)
            }
            Some(_) => return Err(DigestError::Malformed),
            None => None,
        };
        if qop_auth && (cnonce.is_none() || nc.is_none()) {
            return Err(DigestError::Missing("cnonce/nc"));
        }
        Ok(Credentials {
            username: username.ok_or(DigestError::Missing("username"))?,
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            uri: uri.ok_or(DigestError::Missing("uri"))?,
            response: response.ok_or(DigestError::Missing("response"))?,
            algorithm,
            cnonce,
            qop_auth,
            nc,
            opaque,
        })
    }

    /// Whether `response` is right for `method` given the stored HA1. Compares in constant
    /// time so the answer's timing does not leak how much of it matched.
    pub fn verify(&self, method: &str, ha1: &[u8]) -> bool {
        let mut expected = String::with_capacity(64);
        compute_response(
            self.algorithm,
            ha1,
            method,
            self.uri,
            self.nonce,
            self.qop_auth
                .then(|| (self.nc.unwrap_or(0), self.cnonce.unwrap_or(""))),
            &mut expected,
        );
        constant_time_eq(
            expected.as_bytes(),
            self.response.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// A parsed challenge (client side: test agents and the load runner answer these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub realm: &'a str,
    pub nonce: &'a str,
    pub algorithm: Algorithm,
    pub qop_auth: bool,
    pub opaque: Option<&'a str>,
    pub stale: bool,
}

impl<'a> Challenge<'a> {
    pub fn parse(v: &'a str) -> Result<Challenge<'a>, DigestError> {
        let params = scheme_params(v)?;
        let (mut realm, mut nonce, mut algorithm, mut qop, mut opaque, mut stale) =
            (None, None, None, None, None, false);
        for item in lex::split_commas(params) {
            if item.is_empty() {
                continue;
            }
            let (name, value) = auth_param(item)?;
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "algorithm" => algorithm = Some(value),
                "qop" => qop = Some(value),
                "opaque" => opaque = Some(value),
                "stale" => stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            algorithm: Algorithm::parse(algorithm).ok_or(DigestError::Algorithm)?,
            qop_auth: qop.is_some_and(|q| q.split(',').any(|o| lex::trim(o) == "auth")),
            opaque,
            stale,
        })
    }

    /// The credentials header value answering this challenge.
    pub fn answer(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let h1 = ha1(self.algorithm, username, self.realm, password);
        let mut response = String::new();
        let qop = self.qop_auth.then_some((nc, cnonce));
        compute_response(
            self.algorithm,
            &h1,
            method,
            uri,
            self.nonce,
            qop,
            &mut response,
        );
        let mut out = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={}",
            self.realm, self.nonce, self.algorithm
        );
        if self.qop_auth {
            let _ = write!(out, ", qop=auth, cnonce=\"{cnonce}\", nc={nc:08x}");
        }
        if let Some(o) = self.opaque {
            let _ = write!(out, ", opaque=\"{o}\"");
        }
        out
    }
}

/// The credentials answering one challenge of a 401 or 407 (RFC 3261 §22.2, §22.3): the
/// header they go in (`Authorization` for a `WWW-Authenticate` challenge, `Proxy-Authorization`
/// for a `Proxy-Authenticate` one) and its value; `None` when the challenge cannot be read. A
/// fresh nonce is answered once, so the nonce count is 1.
pub fn answer_challenge(
    name: HeaderName,
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
) -> Option<(&'static str, String)> {
    let header = match name {
        HeaderName::WwwAuthenticate => "Authorization",
        HeaderName::ProxyAuthenticate => "Proxy-Authorization",
        _ => return None,
    };
    let ch = Challenge::parse(challenge).ok()?;
    Some((
        header,
        ch.answer(method, uri, username, password, cnonce, 1),
    ))
}

/// Writes a challenge value: `Digest realm=..., nonce=..., algorithm=..., qop="auth"`.
pub fn write_challenge(out: &mut String, realm: &str, nonce: &str, alg: Algorithm, stale: bool) {
    let _ = write!(
        out,
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\""
    );
    if stale {
        out.push_str(", stale=true");
    }
}

/// response = H(HA1 ":" nonce [":" nc ":" cnonce ":" qop] ":" HA2), HA2 = H(method ":" uri).
fn compute_response(
    alg: Algorithm,
    ha1: &[u8],
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(u32, &str)>,
    out: &mut String,
) {
    let mut ha1_hex = String::with_capacity(64);
    hex_into(ha1, &mut ha1_hex);
    let mut ha2 = String::with_capacity(64);
    alg.hex_hash(&[method.as_bytes(), b":", uri.as_bytes()], &mut ha2);
    match qop {
        Some((nc, cnonce)) => {
            let nc = format!("{nc:08x}");
            alg.hex_hash(
                &[
                    ha1_hex.as_bytes(),
                    b":",
                    nonce.as_bytes(),
                    b":",
                    nc.as_bytes(),
                    b":",
                    cnonce.as_bytes(),
                    b":auth:",
                    ha2.as_bytes(),
                ],
                out,
            );
        }
        None => alg.hex_hash(
            &[
                ha1_hex.as_bytes(),
                b":",
                nonce.as_bytes(),
                b":",
                ha2.as_bytes(),
            ],
            out,
        ),
    }
}

/// Splits `Digest <params>`; the scheme is case-insensitive.
fn scheme_params(v: &str) -> Result<&str, DigestError> {
    let v = lex::trim(v);
    let sp = v.find([' ', '\t']).ok_or(DigestError::Scheme)?;
    if !v[..sp].eq_ignore_ascii_case("Digest") {
        return Err(DigestError::Scheme);
    }
    Ok(&v[sp + 1..])
}

/// `name = value` with the value unquoted.
fn auth_param(item: &str) -> Result<(&str, &str), DigestError> {
    let eq = item.find('=').ok_or(DigestError::Malformed)?;
    let name = lex::trim(&item[..eq]);
    let value = lex::trim(&item[eq + 1..]);
    if !lex::is_token(name) {
        return Err(DigestError::Malformed);
    }
    if value.starts_with('"') {
        if lex::quoted_len(value) != Some(value.len()) {
            return Err(DigestError::Malformed);
        }
        return Ok((name, &value[1..value.len() - 1]));
    }
    Ok((name, value))
}

/// Lowercase hex of `bytes` appended to `out`.
pub fn hex_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 worked example (MD5 with qop=auth).
    #[test]
    fn rfc2617_example_verifies() {
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let v = r#"Digest username="Mufasa", realm="testrealm@host.com",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
            nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
            opaque="5ccc069c403ebaf9f0171e9517f40e41""#
            .replace('\n', " ");
        let c = Credentials::parse(&v).unwrap();
        assert!(c.verify("GET", &h));
        assert!(!c.verify("POST", &h));
    }

    /// RFC 7616 §3.9.1 example with SHA-256.
    #[test]
    fn rfc7616_sha256_example_verifies() {
        let h = ha1(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let v = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let c = Credentials::parse(v).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert!(c.verify("GET", &h));
    }

    #[test]
    fn client_answer_round_trips_through_the_verifier() {
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut ch = String::new();
            write_challenge(&mut ch, "switchboard", "abc123", alg, false);
            let parsed = Challenge::parse(&ch).unwrap();
            assert_eq!(parsed.algorithm, alg);
            assert!(parsed.qop_auth);
            let answer = parsed.answer("REGISTER", "sip:sb", "+82111234567", "pw", "cn", 7);
            let creds = Credentials::parse(&answer).unwrap();
            assert_eq!(creds.nc, Some(7));
            let h = ha1(alg, "+82111234567", "switchboard", "pw");
            assert!(creds.verify("REGISTER", &h));
            let wrong = ha1(alg, "+82111234567", "switchboard", "nope");
            assert!(!creds.verify("REGISTER", &wrong));
        }
    }

    #[test]
    fn malformed_credentials_are_rejected() {
        assert_eq!(Credentials::parse("Basic abc"), Err(DigestError::Scheme));
        assert_eq!(
            Credentials::parse(
                r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-512"#
            ),
            Err(DigestError::Algorithm)
        );
        assert!(Credentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth"#
        )
        .is_err());
        assert!(Credentials::parse(r#"Digest username="a, realm="r""#).is_err());
    }
}
