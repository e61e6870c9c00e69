//! Billing accounts: settings, top-ups, adjustments and statements.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/billing/{number}` | admin or the subscriber | settings, balance, held credit |
//! | `PUT /v1/billing/{number}` | admin | create the account or change its settings |
//! | `POST /v1/billing/{number}/topups` | admin | `{id, amount_minor}`: credit, once per `id` |
//! | `POST /v1/billing/{number}/adjustments` | admin | `{id, amount_minor, note}`: either way |
//! | `GET /v1/billing/{number}/statement?from=&to=` | admin or the subscriber | ledger range |
//! | `GET /v1/billing/{number}/statements/{yyyy-mm}` | admin or the subscriber | a month |
//!
//! `PUT` takes `{"mode": "prepaid"|"postpaid", "plan": "gold"|null, "currency": "EUR",
//! "credit_limit_minor": 0}`; the number must be an account of the switch (404 otherwise), and
//! the currency of an account with a non-zero balance cannot change (409). A top-up answers
//! 201 with the entry and the balance, or 200 with `"duplicate": true` and the entry made the
//! first time when its `id` was posted before. `from`/`to` are a day (`2026-12-06`) or Unix
//! milliseconds, as for `/v1/cdrs`. A statement gives the opening balance (after the last
//! entry before `from`), the entries, and the closing balance; a month's statement adds its
//! calls and their total. Amounts are integer minor units (cents).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_engine::credit::{month_bounds, BillingAccount, EntryKind, LedgerEntry, Mode};

use super::auth;
use super::cdrs::bound;
use super::error::ApiError;
use crate::billing::Billing;
use crate::shared::Shared;
use crate::store::billing::PostError;

type Data = web::Data<Arc<Shared>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    mode: String,
    #[serde(default)]
    plan: Option<String>,
    currency: String,
    #[serde(default)]
    credit_limit_minor: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    id: String,
    amount_minor: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    id: String,
    amount_minor: i64,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.as_str().to_owned();
    let b = s.billing.clone();
    let a = web::block(move || b.book().account(&number).map(|a| (number, a))).await??;
    match a {
        (number, Some(a)) => Ok(HttpResponse::Ok().json(account_json(&s.billing, &number, &a))),
        (number, None) => Err(ApiError::not_found(format!(
            "no billing account for {number}"
        ))),
    }
}

pub async fn replace(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<Settings>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let aor = auth::allowed(&req, &s, &number)?;
    if s.db.account(&aor)?.is_none() {
        return Err(ApiError::not_found(format!("no account {}", aor.as_str())));
    }
    let b = body.into_inner();
    let Some(mode) = Mode::parse(&b.mode) else {
        return Err(ApiError::bad_request(
            "bad_mode",
            "mode is prepaid or postpaid",
        ));
    };
    let currency_ok = b.currency.len() == 3 && b.currency.bytes().all(|c| c.is_ascii_uppercase());
    if !currency_ok {
        return Err(ApiError::bad_request(
            "bad_currency",
            "currency is an ISO 4217 code (EUR)",
        ));
    }
    if b.credit_limit_minor < 0 {
        return Err(ApiError::bad_request(
            "bad_limit",
            "credit_limit_minor is not negative",
        ));
    }
    let number = aor.as_str().to_owned();
    let settings = BillingAccount::new(
        mode,
        b.plan.filter(|p| !p.is_empty()),
        &b.currency,
        b.credit_limit_minor,
    );
    let billing = s.billing.clone();
    let n = number.clone();
    let saved = web::block(move || {
        if let Some(old) = billing.book().account(&n)? {
            if old.currency != settings.currency && old.balance_minor != 0 {
                return Ok(Err(old.currency));
            }
        }
        let a = billing.book().put_settings(&n, &settings)?;
        billing.wallets().put(&n, &a);
        Ok::<_, crate::store::StoreError>(Ok(a))
    })
    .await??;
    match saved {
        Ok(a) => Ok(HttpResponse::Ok().json(account_json(&s.billing, &number, &a))),
        Err(old) => Err(ApiError::conflict(
            "currency_in_use",
            format!("the balance is in {old}; it must be zero to change the currency"),
        )),
    }
}

/// A posting's id (the client's, making a repeated post a no-op): 1 to 128 characters.
fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::bad_request("bad_id", "id is 1 to 128 characters"));
    }
    Ok(())
}

pub async fn top_up(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<TopUp>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let number = auth::allowed(&req, &s, &number)?.as_str().to_owned();
    let b = body.into_inner();
    check_id(&b.id)?;
    if b.amount_minor <= 0 {
        return Err(ApiError::bad_request(
            "bad_amount",
            "amount_minor is positive",
        ));
    }
    post(&s, number, b.amount_minor, EntryKind::TopUp { id: b.id }).await
}

pub async fn adjust(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<Adjustment>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let number = auth::allowed(&req, &s, &number)?.as_str().to_owned();
    let b = body.into_inner();
    check_id(&b.id)?;
    if b.amount_minor == 0 {
        return Err(ApiError::bad_request(
            "bad_amount",
            "amount_minor is not zero",
        ));
    }
    let kind = EntryKind::Adjustment {
        id: b.id,
        note: b.note,
    };
    post(&s, number, b.amount_minor, kind).await
}

async fn post(
    s: &Shared,
    number: String,
    amount: i64,
    kind: EntryKind,
) -> Result<HttpResponse, ApiError> {
    let billing = s.billing.clone();
    let n = number.clone();
    let at = crate::clock::unix_now_ms();
    let posted = web::block(move || billing.post(&n, at, amount, kind)).await?;
    match posted {
        Ok(p) => {
            let body = json!({
                "number": number,
                "duplicate": p.duplicate,
                "entry": entry_json(&p.entry),
                "balance_minor": p.account.balance_minor,
            });
            Ok(if p.duplicate {
                HttpResponse::Ok().json(body)
            } else {
                HttpResponse::Created().json(body)
            })
        }
        Err(PostError::NoAccount(n)) => {
            Err(ApiError::not_found(format!("no billing account for {n}")))
        }
        Err(PostError::Store(e)) => Err(e.into()),
    }
}

pub async fn statement(
    req: HttpRequest,
    number: web::Path<String>,
    q: web::Query<Range>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.as_str().to_owned();
    let from = bound(q.from.as_deref(), false)?.unwrap_or(0);
    let to = bound(q.to.as_deref(), true)?.unwrap_or(u64::MAX);
    let (a, opening, entries) = read_range(&s, &number, from, to).await?;
    let closing = entries.last().map_or(opening, |e| e.balance_minor);
    Ok(HttpResponse::Ok().json(json!({
        "number": number,
        "currency": a.currency,
        "from": from,
        "to": to,
        "opening_balance_minor": opening,
        "closing_balance_minor": closing,
        "entries": entries.iter().map(entry_json).collect::<Vec<Value>>(),
    })))
}

pub async fn monthly(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, month) = path.into_inner();
    let number = auth::allowed(&req, &s, &number)?.as_str().to_owned();
    let Some((from, to)) = month_bounds(&month) else {
        return Err(ApiError::bad_request("bad_month", "a month is YYYY-MM"));
    };
    let (a, opening, entries) = read_range(&s, &number, from, to).await?;
    let closing = entries.last().map_or(opening, |e| e.balance_minor);
    let calls: Vec<&LedgerEntry> = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Call(_)))
        .collect();
    let total: i64 = calls.iter().map(|e| -e.amount_minor).sum();
    Ok(HttpResponse::Ok().json(json!({
        "number": number,
        "month": month,
        "mode": a.mode.as_str(),
        "currency": a.currency,
        "from": from,
        "to": to,
        "opening_balance_minor": opening,
        "closing_balance_minor": closing,
        "calls": calls.iter().map(|e| entry_json(e)).collect::<Vec<Value>>(),
        "calls_total_minor": total,
        "other_entries": entries
            .iter()
            .filter(|e| !matches!(e.kind, EntryKind::Call(_)))
            .map(entry_json)
            .collect::<Vec<Value>>(),
    })))
}

async fn read_range(
    s: &Shared,
    number: &str,
    from: u64,
    to: u64,
) -> Result<(BillingAccount, i64, Vec<LedgerEntry>), ApiError> {
    let billing = s.billing.clone();
    let n = number.to_owned();
    let (a, range) = web::block(move || {
        let a = billing.book().account(&n)?;
        let range = billing.book().entries(&n, from, to)?;
        Ok::<_, crate::store::StoreError>((a, range))
    })
    .await??;
    let Some(a) = a else {
        return Err(ApiError::not_found(format!(
            "no billing account for {number}"
        )));
    };
    Ok((a, range.0, range.1))
}

fn account_json(b: &Billing, number: &str, a: &BillingAccount) -> Value {
    let (held, available) = {
        let w = b.wallets();
        (w.balance(number).map_or(0, |(_, h)| h), w.available(number))
    };
    json!({
        "number": number,
        "mode": a.mode.as_str(),
        "plan": a.plan,
        "currency": a.currency,
        "credit_limit_minor": a.credit_limit_minor,
        "balance_minor": a.balance_minor,
        "held_minor": held,
        "available_minor": available,
    })
}

fn entry_json(e: &LedgerEntry) -> Value {
    let mut v = json!({
        "seq": e.seq,
        "unix_ms": e.unix_ms,
        "kind": e.kind.as_str(),
        "amount_minor": e.amount_minor,
        "balance_minor": e.balance_minor,
    });
    match &e.kind {
        EntryKind::TopUp { id } => v["id"] = json!(id),
        EntryKind::Adjustment { id, note } => {
            v["id"] = json!(id);
            v["note"] = json!(note);
        }
        EntryKind::Call(c) => {
            v["call"] = json!({
                "cdr_id": c.cdr_id,
                "call_id": c.call_id,
                "destination": c.destination,
                "prefix": c.prefix,
                "table": c.table,
                "billed_secs": c.billed_secs,
                "answer_unix_ms": c.answer_unix_ms,
                "end_unix_ms": c.end_unix_ms,
                "reason": c.reason,
            });
        }
    }
    v
}
