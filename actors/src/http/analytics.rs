//! The call analytics API (admin only): per-day tallies of the call records by day, country
//! and trunk, and the import of records of history.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/analytics/days?from=&to=` | admin | `{"from","to","rows":[{"day",...}]}`: days with calls |
//! | `GET /v1/analytics/countries?from=&to=` | admin | rows by destination country (`null`: unknown) |
//! | `GET /v1/analytics/trunks?from=&to=` | admin | rows by trunk (`null`: on-net) |
//! | `POST /v1/analytics/records` | admin | `{"records":[...]}`: counts them, 200 `{"imported": n}` |
//!
//! `from` and `to` are UTC dates (`2026-12-06`), both included; `to` defaults to today and
//! `from` to 29 days before `to`. A row has `calls`, `answered`, `talked_secs`, `minutes`,
//! `asr` (answered / calls), `acd_secs` (mean talked time of the answered calls; `null`
//! without any) and `revenue` (`[{"currency","amount_minor"}]`, sums of the charges). Countries
//! and trunks come most calls first.
//!
//! An imported record is what the call detail record holds, in JSON: `setup_unix_ms`,
//! `end_unix_ms` and `outcome` (`answered`, `busy`, `no-answer`, `cancelled`, `rejected`,
//! `failed`) are required; `answer_unix_ms`, `country`, `trunk`, `charge`
//! (`{"amount_minor","currency",...}`) and the rest are optional. Imports count as history:
//! they do not move the point the CDR log replays from, and importing twice counts twice.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::analytics::{Day, Grouping, Key, Row};
use switchboard_engine::cdr::{CallRecord, Charge, MediaMode, Outcome};

use super::auth;
use super::error::ApiError;
use crate::shared::Shared;

/// The most an import body may hold.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// The longest range a query may span (ten years).
const MAX_DAYS: u32 = 3660;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize)]
struct Money {
    currency: String,
    amount_minor: i64,
}

#[derive(Serialize)]
struct RowView {
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trunk: Option<Option<String>>,
    calls: u64,
    answered: u64,
    talked_secs: u64,
    minutes: f64,
    asr: Option<f64>,
    acd_secs: Option<f64>,
    revenue: Vec<Money>,
}

impl RowView {
    fn of(r: Row) -> RowView {
        let (mut day, mut country, mut trunk) = (None, None, None);
        match &r.key {
            Key::Day(d) => day = Some(d.to_string()),
            Key::Country(c) => country = Some(c.clone()),
            Key::Trunk(t) => trunk = Some(t.clone()),
        }
        RowView {
            day,
            country,
            trunk,
            calls: r.calls,
            answered: r.answered,
            talked_secs: r.talked_ms / 1000,
            minutes: (r.minutes() * 100.0).round() / 100.0,
            asr: r.asr().map(|a| (a * 10_000.0).round() / 10_000.0),
            acd_secs: r.acd().map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
            revenue: r
                .revenue
                .into_iter()
                .map(|m| Money {
                    currency: m.currency,
                    amount_minor: m.amount_minor,
                })
                .collect(),
        }
    }
}

pub async fn days(
    req: HttpRequest,
    q: web::Query<Range>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    answer(&req, &q, &s, Grouping::Day)
}

pub async fn countries(
    req: HttpRequest,
    q: web::Query<Range>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    answer(&req, &q, &s, Grouping::Country)
}

pub async fn trunks(
    req: HttpRequest,
    q: web::Query<Range>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    answer(&req, &q, &s, Grouping::Trunk)
}

fn answer(
    req: &HttpRequest,
    q: &Range,
    s: &Shared,
    by: Grouping,
) -> Result<HttpResponse, ApiError> {
    auth::admin(req, s)?;
    let (from, to) = range(q)?;
    // days × rows, not records: answered inline (well under a millisecond for a year)
    let rows: Vec<RowView> = s
        .analytics
        .query(from, to, by)
        .into_iter()
        .map(RowView::of)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "rows": rows,
    })))
}

fn range(q: &Range) -> Result<(Day, Day), ApiError> {
    let date = |v: &Option<String>| {
        v.as_deref()
            .map(Day::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("bad_date", e.to_string()))
    };
    let today = Day::of_unix_ms(crate::clock::unix_now_ms());
    let to = date(&q.to)?.unwrap_or(today);
    let from = date(&q.from)?.unwrap_or(Day(to.0.saturating_sub(29)));
    if from > to {
        return Err(ApiError::bad_request("bad_range", "from is after to"));
    }
    if to.0 - from.0 >= MAX_DAYS {
        return Err(ApiError::bad_request(
            "bad_range",
            format!("a range spans at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// A record to import, as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedRecord {
    #[serde(default)]
    id: u64,
    #[serde(default)]
    call_id: String,
    #[serde(default)]
    caller: String,
    #[serde(default)]
    dialed: String,
    routed: Option<String>,
    trunk: Option<String>,
    country: Option<String>,
    setup_unix_ms: u64,
    answer_unix_ms: Option<u64>,
    end_unix_ms: u64,
    outcome: String,
    #[serde(default)]
    cause: u16,
    #[serde(default)]
    reason: String,
    media: Option<String>,
    #[serde(default)]
    plugin_version: u64,
    charge: Option<ImportedCharge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedCharge {
    #[serde(default)]
    table: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    billed_secs: u32,
    amount_minor: i64,
    currency: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    records: Vec<ImportedRecord>,
}

fn outcome(word: &str) -> Option<Outcome> {
    [
        Outcome::Answered,
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::Cancelled,
        Outcome::Rejected,
        Outcome::Failed,
    ]
    .into_iter()
    .find(|o| o.as_str() == word)
}

impl ImportedRecord {
    fn into_record(self, n: usize) -> Result<CallRecord, ApiError> {
        let bad = |what: String| ApiError::bad_request("bad_record", format!("record {n}: {what}"));
        let outcome = outcome(&self.outcome)
            .ok_or_else(|| bad(format!("unknown outcome {:?}", self.outcome)))?;
        if self.end_unix_ms < self.setup_unix_ms
            || self
                .answer_unix_ms
                .is_some_and(|a| a < self.setup_unix_ms || a > self.end_unix_ms)
        {
            return Err(bad("times out of order".into()));
        }
        if (outcome == Outcome::Answered) != self.answer_unix_ms.is_some() {
            return Err(bad("answer_unix_ms is given for answered calls only".into()));
        }
        let media = match self.media.as_deref() {
            None | Some("direct") => MediaMode::Direct,
            Some("anchored") => MediaMode::Anchored,
            Some(m) => return Err(bad(format!("unknown media {m:?}"))),
        };
        Ok(CallRecord {
            id: self.id,
            call_id: self.call_id,
            caller: self.caller,
            dialed: self.dialed,
            routed: self.routed,
            trunk: self.trunk,
            country: self.country,
            setup_unix_ms: self.setup_unix_ms,
            answer_unix_ms: self.answer_unix_ms,
            end_unix_ms: self.end_unix_ms,
            outcome,
            cause: self.cause,
            reason: self.reason,
            media,
            plugin_version: self.plugin_version,
            charge: self.charge.map(|c| Charge {
                table: c.table,
                prefix: c.prefix,
                billed_secs: c.billed_secs,
                amount_minor: c.amount_minor,
                currency: c.currency,
            }),
        })
    }
}

pub async fn import(
    req: HttpRequest,
    body: web::Bytes,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    // like every JSON body of the API: a page of another origin cannot send this type
    // without a preflight
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::bad_request(
            "bad_request",
            "the body must be application/json",
        ));
    }
    let import: Import = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
    // every record checked before any is counted: an import is all or nothing
    let records = import
        .records
        .into_iter()
        .enumerate()
        .map(|(n, r)| r.into_record(n))
        .collect::<Result<Vec<_>, _>>()?;
    s.analytics.import(&records);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "imported": records.len() })))
}
