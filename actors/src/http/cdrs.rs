//! The call records and the tariffs that rate them.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/cdrs?from=&to=&number=&format=csv\|jsonl` | admin | the records, streamed |
//! | `GET /admin/tariffs` | admin | the loaded tables: version, names, prefixes, digests |
//! | `POST /admin/tariffs/reload` | admin | reload; 200 with the new report, 422 with the error |
//!
//! `from` and `to` bound the end of the call: a day (`2026-12-06`, `to` then includes the
//! whole day) or Unix milliseconds (`to` exclusive); `number` keeps the records it is a party
//! of (the caller, as dialed or as routed, as given or in canonical form; a dial string however
//! it is spelled: `number=6200-7777%23082`, the `#` escaped in the query, finds a call dialled
//! `62007777#082`, `CallRecord::involves`). `format` is `csv`
//! (the default; a header line first) or `jsonl` (one JSON object a line). The body is
//! written as the log is read, page by page, so an export of millions of records holds one
//! page in memory. 503 `cdr_off` when records are off.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use switchboard_engine::cdr::export::{day_start_ms, write_csv, write_json, CSV_HEADER};
use switchboard_engine::cdr::CallRecord;
use tokio::sync::mpsc;

use super::auth;
use super::error::ApiError;
use crate::shared::Shared;

type Data = web::Data<Arc<Shared>>;

/// Records read from the log per page.
const PAGE: usize = 512;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    from: Option<String>,
    to: Option<String>,
    number: Option<String>,
    format: Option<String>,
}

pub async fn list(
    req: HttpRequest,
    s: Data,
    q: web::Query<Filter>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let Some(log) = s.cdrs.log().cloned() else {
        return Err(
            ApiError::unavailable("call records are off ([cdr] enabled = false)")
                .with_field("reason", "cdr_off"),
        );
    };
    let q = q.into_inner();
    let from = bound(q.from.as_deref(), false)?.unwrap_or(0);
    let to = bound(q.to.as_deref(), true)?.unwrap_or(u64::MAX);
    let json = match q.format.as_deref() {
        None | Some("csv") => false,
        Some("jsonl") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_format",
                "format is csv or jsonl",
            ))
        }
    };
    let numbers: Vec<String> = q
        .number
        .iter()
        .flat_map(|n| {
            let canonical = s.plan.canonical(n).ok().map(|a| a.as_str().to_owned());
            std::iter::once(n.clone()).chain(canonical)
        })
        .collect();
    let keep = move |r: &CallRecord| {
        r.end_unix_ms >= from
            && r.end_unix_ms < to
            && (numbers.is_empty() || numbers.iter().any(|n| r.involves(n)))
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        if !json {
            text.push_str(CSV_HEADER);
        }
        let mut after = 0;
        loop {
            let page = match log.after(after, PAGE) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cdr export stopped");
                    return;
                }
            };
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for r in page.iter().filter(|r| keep(r)) {
                if json {
                    write_json(r, &mut text);
                } else {
                    write_csv(r, &mut text);
                }
            }
            if !text.is_empty()
                && tx
                    .blocking_send(Bytes::from(std::mem::take(&mut text)))
                    .is_err()
            {
                return; // the client left
            }
        }
        if !text.is_empty() {
            let _ = tx.blocking_send(Bytes::from(text));
        }
    });
    let content_type = if json {
        "application/jsonl"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .streaming(Chunks(rx)))
}

pub async fn tariffs(req: HttpRequest, s: Data) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    Ok(HttpResponse::Ok().json(s.tariffs.report()))
}

pub async fn reload_tariffs(req: HttpRequest, s: Data) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let host = s.tariffs.clone();
    match web::block(move || host.reload()).await? {
        Ok(report) => Ok(HttpResponse::Ok().json(report)),
        // the rejected tables' error, and what keeps rating
        Err(e) => Err(ApiError::unprocessable("tariffs_rejected", e.to_string())
            .with_field("running", s.tariffs.report())),
    }
}

/// A `from`/`to` value: a day or Unix milliseconds; a day as `to` ends after that day.
pub(super) fn bound(v: Option<&str>, end: bool) -> Result<Option<u64>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(Some(ms));
    }
    match day_start_ms(v) {
        Some(start) if end => Ok(Some(start + 86_400_000)),
        Some(start) => Ok(Some(start)),
        None => Err(ApiError::bad_request(
            "bad_time",
            "from and to are a day (YYYY-MM-DD) or Unix milliseconds",
        )),
    }
}

/// The export's body: the chunks the reader thread sends.
struct Chunks(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}
