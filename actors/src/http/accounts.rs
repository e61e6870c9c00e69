//! The accounts API.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/accounts` | admin | `{"number","password"}`: 201, or 409 when it exists |
//! | `GET /v1/accounts/{number}` | admin or the subscriber | number, dynamic, queued, devices |
//! | `POST /v1/accounts/{number}/password` | the subscriber | `{"password"}`: 204 |
//!
//! A subscriber authenticates with HTTP Basic: the number and its password, or the one-time
//! password an SMS brought. Setting a password of one's own ends one-time passwords and makes
//! a dynamic account permanent.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::Aor;

use super::{auth, error};
use crate::api::extension::ExtCommand;
use crate::clock::unix_now;
use crate::shared::Shared;
use crate::store::api::{Admin, AdminReply};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    number: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// What `GET /v1/accounts/{number}` returns.
#[derive(Serialize)]
struct AccountView {
    number: String,
    /// Made by the switch; nobody signed in to it yet.
    dynamic: bool,
    created_unix: u64,
    /// Messages waiting in its queue.
    queued: u64,
    /// Registered devices.
    devices: usize,
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewAccount>,
    s: web::Data<Arc<Shared>>,
) -> HttpResponse {
    if let Err(r) = auth::admin(&req, &s) {
        return *r;
    }
    let NewAccount { number, password } = body.into_inner();
    match s
        .store
        .admin
        .send(Admin::AccountAdd { number, password })
        .await
    {
        Ok(Ok(AdminReply::Account { number })) => {
            s.to_extension(Aor::from_canonical(&number), ExtCommand::AccountChanged);
            HttpResponse::Created().json(serde_json::json!({ "number": number }))
        }
        Ok(Ok(_)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected reply",
        ),
        Ok(Err(e)) if e.contains("already exists") => error(StatusCode::CONFLICT, "exists", e),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, "bad_account", e),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}

pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let aor = match allowed(&req, &s, &number) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let db = s.db.clone();
    let view = web::block(move || -> Result<Option<AccountView>, String> {
        let Some(acc) = db.account(&aor).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let now = unix_now();
        Ok(Some(AccountView {
            number: aor.to_string(),
            dynamic: db.dynamic(&aor).map_err(|e| e.to_string())?.is_some(),
            created_unix: acc.created_unix,
            queued: db.queue_usage(&aor).map_err(|e| e.to_string())?.messages,
            devices: db
                .bindings(&aor)
                .map_err(|e| e.to_string())?
                .iter()
                .filter(|b| b.expires_at > now)
                .count(),
        }))
    })
    .await;
    match view {
        Ok(Ok(Some(v))) => HttpResponse::Ok().json(v),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "not_found", "no such account"),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

pub async fn set_password(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<NewPassword>,
    s: web::Data<Arc<Shared>>,
) -> HttpResponse {
    // only the subscriber, with the password it has now (or a one-time one)
    let aor = match auth::subscriber(&req, &s) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if s.plan.canonical(&number).ok().as_ref() != Some(&aor) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a password is changed by its own account",
        );
    }
    let op = Admin::AccountPasswd {
        number: aor.to_string(),
        password: body.into_inner().password,
    };
    match s.store.admin.send(op).await {
        Ok(Ok(_)) => {
            s.to_extension(aor, ExtCommand::AccountChanged);
            HttpResponse::NoContent().finish()
        }
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, "bad_password", e),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}

/// The canonical number of the path when the caller may see it, else the answer (a number
/// that cannot be an account gets what an unauthorized caller gets, except for the operator).
pub(super) fn allowed(
    req: &HttpRequest,
    s: &Shared,
    number: &str,
) -> Result<Aor, Box<HttpResponse>> {
    let Ok(aor) = s.plan.canonical(number) else {
        return Err(Box::new(match auth::admin(req, s) {
            Ok(()) => error(
                StatusCode::BAD_REQUEST,
                "bad_number",
                "not a phone number or name",
            ),
            Err(r) => *r,
        }));
    };
    auth::admin_or_subscriber(req, s, &aor)?;
    Ok(aor)
}
