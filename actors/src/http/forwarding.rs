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

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{auth, error};
use crate::shared::Shared;
use crate::store::admin::forwarding::ForwardingSummary;
use crate::store::api::{Admin, AdminReply};

pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> HttpResponse {
    match allowed(&req, &s, &number) {
        Ok(aor) => answer(&s, Admin::ForwardShow { number: aor }).await,
        Err(r) => *r,
    }
}

pub async fn replace(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<ForwardingSummary>,
    s: web::Data<Arc<Shared>>,
) -> HttpResponse {
    match allowed(&req, &s, &number) {
        Ok(aor) => {
            let forwarding = body.into_inner();
            answer(
                &s,
                Admin::ForwardReplace {
                    number: aor,
                    forwarding,
                },
            )
            .await
        }
        Err(r) => *r,
    }
}

/// The canonical number of the path when the caller may see its forwarding, else the answer.
fn allowed(req: &HttpRequest, s: &Shared, number: &str) -> Result<String, Box<HttpResponse>> {
    let Some(aor) = target(s, number) else {
        return Err(Box::new(bad_number(req, s)));
    };
    auth::admin_or_subscriber(req, s, &aor)?;
    Ok(aor.to_string())
}

fn target(s: &Shared, number: &str) -> Option<switchboard_engine::numbering::Aor> {
    s.plan.canonical(number).ok()
}

/// A number that cannot be an account: the same answer an unauthorized caller gets, unless
/// the caller is the operator.
fn bad_number(req: &HttpRequest, s: &Shared) -> HttpResponse {
    match auth::admin(req, s) {
        Ok(()) => error(
            StatusCode::BAD_REQUEST,
            "bad_number",
            "not a phone number or name",
        ),
        Err(r) => *r,
    }
}

async fn answer(s: &Shared, op: Admin) -> HttpResponse {
    match s.store.admin.send(op).await {
        Ok(Ok(AdminReply::Forwarding { number, forwarding })) => HttpResponse::Ok()
            .json(serde_json::json!({ "number": number, "forwarding": forwarding })),
        Ok(Ok(_)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected reply",
        ),
        Ok(Err(e)) if e.starts_with("no account") => error(StatusCode::NOT_FOUND, "not_found", e),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, "bad_forwarding", e),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}
