//! The accounts API.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/accounts` | admin | `{"number","password"}`: 201, or 409 when it exists |
//! | `GET /v1/accounts/{number}` | admin or the subscriber | number, dynamic, queued, devices |
//! | `GET /v1/accounts/{number}/bindings` | admin or the subscriber | its registered devices |
//! | `POST /v1/accounts/{number}/password` | the subscriber | `{"password"}`: 204 |
//! | `DELETE /v1/accounts/{number}` | admin | 204: the account, its registrations, settings and waiting messages go; a member owning the number no longer lists it, and phones signed in as it by hot desk are signed out |
//!
//! A subscriber authenticates with HTTP Basic: the number and its password, or the one-time
//! password an SMS brought. Setting a password of one's own ends one-time passwords and makes
//! a dynamic account permanent.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::Aor;

use super::auth;
use super::error::ApiError;
use crate::api::extension::ExtCommand;
use crate::clock::unix_now;
use crate::shared::Shared;
use crate::store::api::{Admin, AdminReply};
use crate::store::StoreError;
use crate::transport::behind_nat;

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

/// One registered device in `GET /v1/accounts/{number}/bindings`.
#[derive(Serialize)]
struct BindingView {
    contact: String,
    expires_in: u64,
    transport: &'static str,
    /// The address the REGISTER came from.
    source: String,
    instance: Option<String>,
    reg_id: Option<u32>,
    /// The contact's address is not where the device registered from (behind NAT): it is
    /// reached through the flow it registered on.
    nat: bool,
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewAccount>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let NewAccount { number, password } = body.into_inner();
    let added = s
        .store
        .admin
        .send(Admin::AccountAdd { number, password })
        .await?;
    match added {
        Ok(AdminReply::Account { number }) => {
            s.to_extension(Aor::from_canonical(&number), ExtCommand::AccountChanged);
            Ok(HttpResponse::Created().json(serde_json::json!({ "number": number })))
        }
        Ok(_) => Err(ApiError::internal("unexpected reply")),
        Err(e) if e.contains("already exists") => Err(ApiError::conflict("exists", e)),
        Err(e) => Err(ApiError::bad_request("bad_account", e)),
    }
}

pub async fn remove(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let number = number.into_inner();
    let removed = s.store.admin.send(Admin::AccountRemove { number }).await?;
    match removed {
        Ok(AdminReply::Account { number }) => {
            s.account_removed(Aor::from_canonical(&number));
            Ok(HttpResponse::NoContent().finish())
        }
        Ok(_) => Err(ApiError::internal("unexpected reply")),
        Err(e) if e.starts_with("no account") => Err(ApiError::not_found(e)),
        Err(e) => Err(ApiError::bad_request("bad_account", e)),
    }
}

pub async fn show(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let db = s.db.clone();
    let view = web::block(move || -> Result<Option<AccountView>, StoreError> {
        let Some(acc) = db.account(&aor)? else {
            return Ok(None);
        };
        let now = unix_now();
        Ok(Some(AccountView {
            number: aor.to_string(),
            dynamic: db.dynamic(&aor)?.is_some(),
            created_unix: acc.created_unix,
            queued: db.queue_usage(&aor)?.messages,
            devices: db
                .bindings(&aor)?
                .iter()
                .filter(|b| b.expires_at > now)
                .count(),
        }))
    })
    .await??;
    let view = view.ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn bindings(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let db = s.db.clone();
    let view = web::block(move || -> Result<Option<Vec<BindingView>>, StoreError> {
        if db.account(&aor)?.is_none() {
            return Ok(None);
        }
        let now = unix_now();
        let list = db
            .bindings(&aor)?
            .iter()
            .filter(|b| b.expires_at > now)
            .map(|b| BindingView {
                contact: b.uri.clone(),
                expires_in: b.expires_at - now,
                transport: b.transport.param(),
                source: b.source.to_string(),
                instance: b.instance.clone(),
                reg_id: b.reg_id,
                nat: behind_nat(b),
            })
            .collect();
        Ok(Some(list))
    })
    .await??;
    let bindings = view.ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "bindings": bindings })))
}

pub async fn set_password(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<NewPassword>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    // only the subscriber, with the password it has now (or a one-time one)
    let aor = auth::subscriber(&req, &s)?;
    if s.plan.canonical(&number).ok().as_ref() != Some(&aor) {
        return Err(ApiError::forbidden(
            "forbidden",
            "a password is changed by its own account",
        ));
    }
    let op = Admin::AccountPasswd {
        number: aor.to_string(),
        password: body.into_inner().password,
    };
    s.store
        .admin
        .send(op)
        .await?
        .map_err(|e| ApiError::bad_request("bad_password", e))?;
    s.to_extension(aor, ExtCommand::AccountChanged);
    Ok(HttpResponse::NoContent().finish())
}
