//! The registrations (admin only): every registered device of every account, for the
//! operator's console.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/registrations?limit=` | admin | `{"registrations": [{"number","contact","expires_in","transport","source","instance","nat"}], "truncated"}` |
//!
//! At most `limit` addresses (default and most 1,000) are listed, in number order;
//! `truncated` says more have bindings. One account's devices: `GET
//! /v1/accounts/{number}/bindings`.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth;
use super::error::ApiError;
use crate::clock::unix_now;
use crate::shared::Shared;
use crate::store::StoreError;
use crate::transport::behind_nat;

const MAX_ADDRESSES: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Registration {
    number: String,
    contact: String,
    expires_in: u64,
    transport: &'static str,
    source: String,
    instance: Option<String>,
    nat: bool,
}

pub async fn list(
    req: HttpRequest,
    q: web::Query<Limit>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let limit = q.limit.unwrap_or(MAX_ADDRESSES).clamp(1, MAX_ADDRESSES);
    let db = s.db.clone();
    let (list, truncated) = web::block(move || -> Result<_, StoreError> {
        // one more than asked: tells whether there are more
        let mut all = db.every_binding(limit + 1)?;
        let truncated = all.len() > limit;
        all.truncate(limit);
        let now = unix_now();
        let list: Vec<Registration> = all
            .iter()
            .flat_map(|(aor, bindings)| {
                bindings
                    .iter()
                    .filter(move |b| b.expires_at > now)
                    .map(move |b| Registration {
                        number: aor.to_string(),
                        contact: b.uri.clone(),
                        expires_in: b.expires_at - now,
                        transport: b.transport.param(),
                        source: b.source.to_string(),
                        instance: b.instance.clone(),
                        nat: behind_nat(b),
                    })
            })
            .collect();
        Ok((list, truncated))
    })
    .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "registrations": list,
        "truncated": truncated,
    })))
}
