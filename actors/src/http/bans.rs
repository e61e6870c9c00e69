//! The flood bans (admin only).
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/bans` | admin | `{"bans": [{"ip","reason","count","window_secs","ban_secs","remaining_secs"}]}` |
//! | `DELETE /v1/bans/{ip}` | admin | lift: 200 with the ban; 404 when not banned; 400 for no address |
//!
//! A lift is logged like a ban (`SECURITY unban src=<ip> reason=<reason> by=operator`).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth;
use super::error::ApiError;
use crate::shared::Shared;

pub async fn list(req: HttpRequest, s: web::Data<Arc<Shared>>) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "bans": s.security.list() })))
}

pub async fn lift(
    req: HttpRequest,
    ip: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let addr: std::net::IpAddr = ip
        .parse()
        .map_err(|_| ApiError::bad_request("bad_address", "not an IP address"))?;
    let ban = s
        .security
        .lift(addr)
        .ok_or_else(|| ApiError::not_found("this address is not banned"))?;
    Ok(HttpResponse::Ok().json(ban))
}
