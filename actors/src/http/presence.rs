//! The presence API for web clients.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/presence` | admin or the subscriber | the buddies' presence |
//!
//! Each buddy the subscriber may watch (the same rule as a SUBSCRIBE) comes with its merged
//! state: `open`/`closed`, notes, activities (`on-the-phone` during a call), the union of its
//! devices' capabilities and the state's version. A buddy the subscriber may not watch is
//! listed as `pending` or `denied`, with nothing of its state.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use switchboard_engine::presence::pidf::Basic;
use switchboard_engine::store::Authorization;
use tokio::sync::oneshot;

use super::auth;
use super::error::ApiError;
use crate::api::extension::{ExtCommand, Snapshot};
use crate::shared::Shared;
use crate::store::StoreError;

#[derive(Serialize)]
struct BuddyPresence {
    number: String,
    display: Option<String>,
    groups: Vec<String>,
    /// `active` (watched), `pending` or `denied`.
    subscription: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activities: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    devices: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

pub async fn buddies(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth::allowed(&req, &s, &number)?;
    let db = s.db.clone();
    let o = owner.clone();
    let listed = web::block(move || -> Result<Vec<_>, StoreError> {
        let list = db.buddies(&o)?;
        list.into_iter()
            .map(|(aor, rec)| {
                let auth = db.may_watch(&aor, &o)?;
                Ok((aor, rec, auth))
            })
            .collect()
    })
    .await??;
    let mut out = Vec::with_capacity(listed.len());
    for (aor, rec, auth) in listed {
        let mut b = BuddyPresence {
            number: aor.to_string(),
            display: rec.display,
            groups: rec.groups,
            subscription: match auth {
                Authorization::Allowed => "active",
                Authorization::Denied => "denied",
                Authorization::Pending | Authorization::Unknown => "pending",
            },
            status: None,
            notes: None,
            activities: None,
            capabilities: None,
            devices: None,
            version: None,
        };
        if auth == Authorization::Allowed {
            let (tx, rx) = oneshot::channel();
            s.to_extension(aor, ExtCommand::Presence { reply: tx });
            if let Ok(snap) = rx.await {
                fill(&mut b, &snap);
            }
        }
        out.push(b);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "number": owner.to_string(), "buddies": out })))
}

fn fill(b: &mut BuddyPresence, snap: &Snapshot) {
    let sum = &snap.summary;
    b.status = Some(match sum.basic {
        Basic::Open => "open",
        Basic::Closed => "closed",
    });
    b.notes = Some(sum.notes.clone());
    b.activities = Some(sum.activities.iter().map(|a| a.name().to_owned()).collect());
    b.capabilities = Some(sum.caps.names().collect());
    b.devices = Some(sum.devices);
    b.version = Some(snap.version);
}
