//! `POST /v1/accounts/{number}/password-reset`: a fresh code by SMS.
//!
//! Everyone gets the same `202` whether or not the number has an account (and the code is
//! sent after the answer, so the timing says nothing either). A number gets at most
//! `accounts.resets_per_number_per_hour` codes (more requests are answered alike and
//! dropped); a source address may ask `accounts.resets_per_source_per_hour` times an hour,
//! then gets 429. One-time-password SMS to a number are limited too (`accounts.otp_*`: 3 per
//! 10 minutes, 60 s apart): past that, 429 with Retry-After, for any number alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use crate::api::notifications::SendReset;
use crate::shared::Shared;

const HOUR: Duration = Duration::from_secs(3600);

/// Requests per key within the current hour.
#[derive(Default)]
pub struct HourlyLimit {
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl HourlyLimit {
    /// Counts one request for `key`; whether it is within `max` for the hour.
    pub fn allow(&self, key: &str, max: u32, now: Instant) -> bool {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, (_, since)| now.saturating_duration_since(*since) < HOUR);
        }
        let e = m.entry(key.to_owned()).or_insert((0, now));
        if now.saturating_duration_since(e.1) >= HOUR {
            *e = (0, now);
        }
        e.0 += 1;
        e.0 <= max
    }
}

/// The limits of password resets (one per process).
#[derive(Default)]
pub struct ResetLimits {
    per_number: HourlyLimit,
    per_source: HourlyLimit,
}

pub async fn reset(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
    limits: web::Data<ResetLimits>,
) -> Result<HttpResponse, ApiError> {
    let a = &s.config.accounts;
    let now = Instant::now();
    let source = req
        .peer_addr()
        .map(|p| p.ip().to_string())
        .unwrap_or_default();
    if !limits
        .per_source
        .allow(&source, a.resets_per_source_per_hour, now)
    {
        return Err(ApiError::too_many_requests(
            "too_many_resets",
            "too many password resets from this address; try again later",
            HOUR.as_secs(),
        ));
    }
    let aor = s
        .plan
        .canonical(&number)
        .map_err(|_| ApiError::bad_request("bad_number", "not a phone number"))?;
    // one-time-password SMS per number: counted whether or not the number has an account,
    // so the answer tells nothing of it
    if let Err(r) = s.security.abuse.otp(&aor) {
        return Err(ApiError::too_many_requests(
            "too_many_codes",
            "a code was sent to this number a short while ago; try again later",
            r.retry_after_secs(),
        ));
    }
    if limits
        .per_number
        .allow(aor.as_str(), a.resets_per_number_per_hour, now)
    {
        if let Some(n) = s.notifications.get() {
            n.reset.do_send(SendReset { aor });
        }
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "accepted",
        "message": "if this number has an account, a reset code is on its way by SMS",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_quota_per_hour() {
        let l = HourlyLimit::default();
        let t = Instant::now();
        assert!(l.allow("a", 2, t));
        assert!(l.allow("a", 2, t));
        assert!(!l.allow("a", 2, t));
        assert!(l.allow("b", 2, t), "keys are counted apart");
        assert!(l.allow("a", 2, t + HOUR), "a new hour, a new quota");
    }
}
