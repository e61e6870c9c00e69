//! The buddy lists API: an account's list of the numbers it wants to see, and its answers to
//! those who asked to watch it.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/buddies` | admin or the subscriber | `{"buddies":[...]}` |
//! | `PUT /v1/accounts/{number}/buddies` | admin or the subscriber | replace the whole list |
//! | `POST /v1/accounts/{number}/buddies` | admin or the subscriber | add (201) or update (200) one |
//! | `DELETE /v1/accounts/{number}/buddies/{buddy}` | admin or the subscriber | 204, 404 if absent |
//! | `GET /v1/accounts/{number}/watchers?state=` | admin or the subscriber | `{"watchers":[...]}` |
//! | `PUT /v1/accounts/{number}/watchers/{watcher}` | admin or the subscriber | `{"allow"}`: decide |
//! | `DELETE /v1/accounts/{number}/watchers/{watcher}` | admin or the subscriber | forget it |
//!
//! A buddy on P's list may watch P; so may a watcher P allowed. With
//! `presence.mutual_buddies`, adding B also asks to watch B (a pending grant at B, when B has
//! an account and has not decided about the adder), and allowing a watcher puts it on the
//! list. Changes are flushed before they are answered, and the owner's Extension is told
//! (`AuthorizationChanged`, `BuddiesChanged`) so live subscriptions follow. The store is
//! written directly here, like `auth.rs` does; one lock serializes this module's
//! read-modify-write sequences (limits, mutual requests) across the blocking pool.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::buddies::BuddyError;
use switchboard_engine::store::{BuddyRecord, GrantState, WatchGrant};
use tracing::debug;

use super::auth;
use super::error::ApiError;
use crate::api::extension::ExtCommand;
use crate::clock::unix_now;
use crate::shared::Shared;
use crate::store::{Store, StoreError};

/// Serializes the writes of this module.
static WRITES: Mutex<()> = Mutex::new(());

/// One entry as a client sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuddyIn {
    number: String,
    #[serde(default)]
    display: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuddyListIn {
    buddies: Vec<BuddyIn>,
}

#[derive(Serialize)]
struct BuddyView {
    number: String,
    display: Option<String>,
    groups: Vec<String>,
}

impl BuddyView {
    fn new(number: &Aor, rec: BuddyRecord) -> BuddyView {
        BuddyView {
            number: number.to_string(),
            display: rec.display,
            groups: rec.groups,
        }
    }
}

#[derive(Deserialize)]
pub struct WatcherFilter {
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    allow: bool,
}

#[derive(Serialize)]
struct WatcherView {
    number: String,
    state: &'static str,
    since: u64,
}

impl WatcherView {
    fn new(number: &Aor, g: WatchGrant) -> WatcherView {
        WatcherView {
            number: number.to_string(),
            state: g.state.as_str(),
            since: g.since_unix,
        }
    }
}

pub async fn list(
    req: HttpRequest,
    number: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth::allowed(&req, &s, &number)?;
    let db = s.db.clone();
    let list = read(move || {
        exists(&db, &owner)?;
        Ok(db.buddies(&owner)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "buddies": views(list) })))
}

pub async fn replace(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<BuddyListIn>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth::allowed(&req, &s, &number)?;
    let limits = s.config.presence.buddy_limits();
    let now = unix_now();
    let mut list = Vec::new();
    for b in body.into_inner().buddies {
        let other = number_of(&s, &b.number)?;
        list.push((other, limits.entry(b.display, b.groups, now)?));
    }
    limits.list(&owner, &list)?;
    let (db, who) = (s.db.clone(), owner.clone());
    let mutual = s.config.presence.mutual_buddies;
    let (list, asked) = run(move || {
        exists(&db, &who)?;
        let old = db.buddies(&who)?;
        let mut fresh = Vec::new();
        for (other, rec) in &mut list {
            match old.iter().find(|(o, _)| o == other) {
                // an entry kept keeps the time it was added
                Some((_, was)) => rec.added_unix = was.added_unix,
                None => fresh.push(other.clone()),
            }
        }
        db.replace_buddies(&who, list.clone())?;
        let mut asked = Vec::new();
        for other in fresh.into_iter().filter(|_| mutual) {
            if db.request_watch_noting(&other, &who)?.1 {
                asked.push(other);
            }
        }
        db.flush()?;
        Ok((list, asked))
    })
    .await?;
    debug!(owner = %owner.redacted(), buddies = list.len(), "buddy list replaced");
    changed(&s, &owner, true, &asked);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "buddies": views(list) })))
}

pub async fn add(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<BuddyIn>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth::allowed(&req, &s, &number)?;
    let BuddyIn {
        number: other,
        display,
        groups,
    } = body.into_inner();
    let other = number_of(&s, &other)?;
    let limits = s.config.presence.buddy_limits();
    if other == owner {
        return Err(BuddyError::Itself.into());
    }
    let mut rec = limits.entry(display, groups, unix_now())?;
    let (db, who, buddy) = (s.db.clone(), owner.clone(), other.clone());
    let mutual = s.config.presence.mutual_buddies;
    let (created, rec, asked) = run(move || {
        exists(&db, &who)?;
        match db.buddy(&who, &buddy)? {
            Some(was) => rec.added_unix = was.added_unix,
            None if db.buddies(&who)?.len() >= limits.max_buddies => {
                return Err(BuddyError::TooManyBuddies {
                    max: limits.max_buddies,
                }
                .into())
            }
            None => {}
        }
        let created = db.put_buddy(&who, &buddy, &rec)?;
        let asked = created && mutual && db.request_watch_noting(&buddy, &who)?.1;
        db.flush()?;
        Ok((created, rec, asked))
    })
    .await?;
    debug!(owner = %owner.redacted(), buddy = %other.redacted(), created, "buddy put");
    let asked = if asked { vec![other.clone()] } else { vec![] };
    changed(&s, &owner, true, &asked);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(BuddyView::new(&other, rec)))
}

pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let (number, buddy) = path.into_inner();
    let owner = auth::allowed(&req, &s, &number)?;
    let other = number_of(&s, &buddy)?;
    let (db, who) = (s.db.clone(), owner.clone());
    run(move || {
        exists(&db, &who)?;
        if !db.remove_buddy(&who, &other)? {
            return Err(ApiError::not_found("not on the buddy list"));
        }
        db.flush()?;
        Ok(())
    })
    .await?;
    changed(&s, &owner, true, &[]);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn watchers(
    req: HttpRequest,
    number: web::Path<String>,
    filter: web::Query<WatcherFilter>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth::allowed(&req, &s, &number)?;
    let state = match filter.state.as_deref() {
        None => None,
        Some(name) => Some(GrantState::parse(name).ok_or_else(|| {
            ApiError::bad_request("bad_state", "state must be pending, allowed or denied")
        })?),
    };
    let db = s.db.clone();
    let all = read(move || {
        exists(&db, &owner)?;
        Ok(db.grants(&owner, state)?)
    })
    .await?;
    let watchers: Vec<WatcherView> = all
        .into_iter()
        .map(|(w, g)| WatcherView::new(&w, g))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "watchers": watchers })))
}

pub async fn decide(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Decision>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let (number, watcher) = path.into_inner();
    let owner = auth::allowed(&req, &s, &number)?;
    let watcher = number_of(&s, &watcher)?;
    if watcher == owner {
        return Err(ApiError::bad_request(
            "bad_watcher",
            "an account always sees itself",
        ));
    }
    let state = if body.allow {
        GrantState::Allowed
    } else {
        GrantState::Denied
    };
    let list_them = body.allow && s.config.presence.mutual_buddies;
    let max = s.config.presence.max_buddies;
    let (db, who, them) = (s.db.clone(), owner.clone(), watcher.clone());
    let (grant, listed, added) = run(move || {
        exists(&db, &who)?;
        let grant = db.set_grant(&who, &them, state)?;
        let mut added = false;
        let mut listed = db.buddy(&who, &them)?.is_some();
        // a full list still allows; the watcher is just not added to it
        if list_them && !listed && db.buddies(&who)?.len() < max {
            let rec = BuddyRecord {
                display: None,
                groups: Vec::new(),
                added_unix: grant.since_unix,
            };
            added = db.put_buddy(&who, &them, &rec)?;
            listed = true;
        }
        db.flush()?;
        Ok((grant, listed, added))
    })
    .await?;
    debug!(owner = %owner.redacted(), watcher = %watcher.redacted(), state = grant.state.as_str(), "watcher decided");
    changed(&s, &owner, added, &[]);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "number": watcher.to_string(),
        "state": grant.state.as_str(),
        "since": grant.since_unix,
        "listed": listed,
    })))
}

pub async fn forget(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let (number, watcher) = path.into_inner();
    let owner = auth::allowed(&req, &s, &number)?;
    let watcher = number_of(&s, &watcher)?;
    let (db, who) = (s.db.clone(), owner.clone());
    run(move || {
        exists(&db, &who)?;
        if !db.remove_grant(&who, &watcher)? {
            return Err(ApiError::not_found("no grant for this watcher"));
        }
        db.flush()?;
        Ok(())
    })
    .await?;
    changed(&s, &owner, false, &[]);
    Ok(HttpResponse::NoContent().finish())
}

/// Runs store writes on the blocking pool under the module's write lock.
async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    read(move || {
        let _one_at_a_time = WRITES.lock().unwrap_or_else(|p| p.into_inner());
        f()
    })
    .await
}

/// Runs store reads on the blocking pool.
async fn read<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(e.to_string()).into()))
}

/// 404 when the owner has no account (a caller that got this far is the operator or the
/// owner itself, so this tells nobody anything new).
fn exists(db: &Store, owner: &Aor) -> Result<(), ApiError> {
    match db.account(owner)? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("no such account")),
    }
}

/// A number in a path or body, canonical; 400 naming it when it is none.
fn number_of(s: &Shared, input: &str) -> Result<Aor, ApiError> {
    s.plan.canonical(input).map_err(|e| {
        ApiError::bad_request(
            "bad_number",
            format!("{input:?} is not a phone number or name: {e}"),
        )
    })
}

fn views(list: Vec<(Aor, BuddyRecord)>) -> Vec<BuddyView> {
    list.into_iter()
        .map(|(a, r)| BuddyView::new(&a, r))
        .collect()
}

/// Tells the Extensions whose watchers may have changed: the owner always, and every
/// address a pending request was left at.
fn changed(s: &Shared, owner: &Aor, list_changed: bool, asked: &[Aor]) {
    s.to_extension(owner.clone(), ExtCommand::AuthorizationChanged);
    if list_changed {
        s.to_extension(owner.clone(), ExtCommand::BuddiesChanged);
    }
    for other in asked {
        s.to_extension(other.clone(), ExtCommand::AuthorizationChanged);
    }
}
