//! `GET/PUT /v1/accounts/{number}/forwarding`: a subscriber's forwarding, as the CLI and the
//! feature codes change it.
//!
//! ```json
//! {"number": "+82111234567",
//!  "forwarding": {"always": null, "busy": "1002", "no_answer": "alice", "ring_secs": 15,
//!                 "unreachable": null}}
//! ```
//!
//! `PUT` takes the `forwarding` object and replaces every setting (a missing field clears
//! it); targets are any spelling the numbering plan reads and come back canonical.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth;
use super::error::ApiError;
use crate::shared::Shared;
use crate::store::admin::forwarding::ForwardingSummary;
use crate::store::api::{Admin, AdminReply};

pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.to_string();
    answer(&s, Admin::ForwardShow { number }).await
}

pub async fn replace(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<ForwardingSummary>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.to_string();
    let forwarding = body.into_inner();
    answer(&s, Admin::ForwardReplace { number, forwarding }).await
}

async fn answer(s: &Shared, op: Admin) -> Result<HttpResponse, ApiError> {
    match s.store.admin.send(op).await? {
        Ok(AdminReply::Forwarding { number, forwarding }) => Ok(HttpResponse::Ok()
            .json(serde_json::json!({ "number": number, "forwarding": forwarding }))),
        Ok(_) => Err(ApiError::internal("unexpected reply")),
        Err(e) if e.starts_with("no account") => Err(ApiError::not_found(e)),
        Err(e) => Err(ApiError::bad_request("bad_forwarding", e)),
    }
}
