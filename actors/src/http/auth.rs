//! Who may call an HTTP endpoint: the operator (a bearer token, or loopback when no token is
//! configured) or a subscriber (HTTP Basic with the number and the SIP password, checked
//! against the stored HA1 like a digest response would be).
//!
//! A subscriber check answers the same 401 for an unknown number, a wrong password and
//! another subscriber's number, so the API tells nobody which numbers have accounts. A source
//! that fails `MAX_FAILURES` times within `WINDOW` gets 429 for every credential it tries
//! until the window has passed, so passwords cannot be guessed at network speed.
//!
//! `allowed` is the check of every `/v1/accounts/{number}/...` endpoint: the operator or that
//! subscriber; a path that is no number answers like a wrong credential, except to the
//! operator.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use base64::Engine as _;
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::digest::{ha1, Algorithm};

use super::error::ApiError;
use crate::shared::Shared;

/// Failed attempts a source may make per window.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// Failed credential checks per source address.
static FAILURES: Mutex<Option<HashMap<IpAddr, (u32, Instant)>>> = Mutex::new(None);

/// Whether `ip` has used up its failures for the window.
fn blocked(ip: Option<IpAddr>) -> bool {
    let Some(ip) = ip else { return false };
    let guard = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .and_then(|m| m.get(&ip))
        .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < WINDOW)
}

fn failed(ip: Option<IpAddr>) {
    let Some(ip) = ip else { return };
    let mut guard = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    let m = guard.get_or_insert_with(HashMap::new);
    if m.len() > 100_000 {
        m.retain(|_, (_, since)| since.elapsed() < WINDOW);
    }
    let e = m.entry(ip).or_insert((0, Instant::now()));
    if e.1.elapsed() >= WINDOW {
        *e = (0, Instant::now());
    }
    e.0 += 1;
}

fn too_many() -> ApiError {
    ApiError::too_many_requests(
        "too_many_attempts",
        "too many failed attempts from this address; try again later",
        WINDOW.as_secs(),
    )
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Subscriber(Aor),
}

/// The operator, or the 401/403 to answer.
pub fn admin(req: &HttpRequest, s: &Shared) -> Result<(), ApiError> {
    let token = &s.config.http.admin_token;
    if token.is_empty() {
        let local = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
        return if local {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "forbidden",
                "admin endpoints are open to loopback clients only (set http.admin_token)",
            ))
        };
    }
    let ip = req.peer_addr().map(|a| a.ip());
    if blocked(ip) {
        return Err(too_many());
    }
    let given = bearer(req);
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        Ok(())
    } else {
        if given.is_some() {
            failed(ip);
        }
        Err(ApiError::unauthorized("Bearer", "admin token required"))
    }
}

/// The operator, or the subscriber `aor` itself.
pub fn admin_or_subscriber(req: &HttpRequest, s: &Shared, aor: &Aor) -> Result<Caller, ApiError> {
    if let Some((user, password)) = basic(req) {
        let ip = req.peer_addr().map(|a| a.ip());
        if blocked(ip) {
            return Err(too_many());
        }
        if subscriber_ok(s, aor, &user, &password) {
            return Ok(Caller::Subscriber(aor.clone()));
        }
        failed(ip);
        return Err(unauthorized());
    }
    if !s.config.http.admin_token.is_empty() && bearer(req).is_none() {
        return Err(unauthorized());
    }
    admin(req, s).map(|_| Caller::Admin)
}

fn subscriber_ok(s: &Shared, aor: &Aor, user: &str, password: &str) -> bool {
    // the user name must be this very subscriber, in a spelling its account knows; every
    // path hashes once, so a wrong number costs the same as a wrong password
    let computed = ha1(Algorithm::Md5, user, &s.realm, password);
    if s.plan.canonical(user).ok().as_ref() != Some(aor) {
        return false;
    }
    let Ok(Some(account)) = s.db.account(aor) else {
        return false;
    };
    if account
        .credential(user)
        .is_some_and(|c| same(&computed, &c.md5))
    {
        return true;
    }
    // a one-time password (a dynamic account's, or a reset code)
    let now = crate::clock::unix_now();
    let otps = s.db.otps(aor).unwrap_or_default();
    if !otps.iter().any(|o| o.expires_unix > now) {
        return false;
    }
    let otp_ok = otps.iter().any(|o| {
        o.expires_unix > now
            && o.credentials
                .iter()
                .any(|c| c.username == user && same(&computed, &c.md5))
    });
    if otp_ok {
        otp_failures(aor, true);
        if s.db.claim(aor).unwrap_or(false) {
            s.metrics.dynamic_accounts.dec();
        }
    } else if otp_failures(aor, false) {
        // the same rule as over SIP: a short code must not be guessed
        tracing::warn!(number = %aor.redacted(), "one-time passwords revoked after repeated wrong answers");
        let _ = s.db.remove_otp(aor);
        s.to_extension(
            aor.clone(),
            crate::api::extension::ExtCommand::AccountChanged,
        );
    }
    otp_ok
}

/// Wrong answers to one-time passwords over HTTP, per address.
static OTP_FAILURES: Mutex<Option<HashMap<Aor, u32>>> = Mutex::new(None);

/// Counts a wrong answer (or clears the count on a right one); `true` when the address's
/// one-time passwords must be revoked now.
fn otp_failures(aor: &Aor, ok: bool) -> bool {
    let mut guard = OTP_FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    let m = guard.get_or_insert_with(HashMap::new);
    if ok {
        m.remove(aor);
        return false;
    }
    if m.len() > 100_000 {
        m.clear();
    }
    let n = m.entry(aor.clone()).or_insert(0);
    *n += 1;
    if *n >= crate::api::extension::MAX_OTP_FAILURES {
        m.remove(aor);
        return true;
    }
    false
}

/// The subscriber the Basic credentials name, when they are right; the same 401 otherwise.
pub fn subscriber(req: &HttpRequest, s: &Shared) -> Result<Aor, ApiError> {
    let Some((user, password)) = basic(req) else {
        return Err(unauthorized());
    };
    let ip = req.peer_addr().map(|a| a.ip());
    if blocked(ip) {
        return Err(too_many());
    }
    let found = match s.plan.canonical(&user) {
        Ok(aor) => subscriber_ok(s, &aor, &user, &password).then_some(aor),
        Err(_) => {
            let _ = ha1(Algorithm::Md5, &user, &s.realm, &password);
            None
        }
    };
    found.ok_or_else(|| {
        failed(ip);
        unauthorized()
    })
}

/// Who is calling an endpoint open to both: a subscriber when the request carries HTTP Basic
/// credentials (which must be right), else the operator.
pub fn caller(req: &HttpRequest, s: &Shared) -> Result<Caller, ApiError> {
    let says_basic = authorization(req)
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if says_basic {
        subscriber(req, s).map(Caller::Subscriber)
    } else {
        admin(req, s).map(|_| Caller::Admin)
    }
}

/// The canonical number of a path's `{number}` when the caller may act on that account: the
/// operator, or the subscriber itself. A number that cannot be an account gets what an
/// unauthorized caller gets, except for the operator (who is told it is no number).
pub fn allowed(req: &HttpRequest, s: &Shared, number: &str) -> Result<Aor, ApiError> {
    let Ok(aor) = s.plan.canonical(number) else {
        admin(req, s)?;
        return Err(ApiError::bad_request(
            "bad_number",
            "not a phone number or name",
        ));
    };
    admin_or_subscriber(req, s, &aor)?;
    Ok(aor)
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized("Basic realm=\"switchboard\"", "credentials required")
}

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let v = authorization(req)?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let v = authorization(req)?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Constant-time equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
