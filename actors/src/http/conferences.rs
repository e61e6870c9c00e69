//! The conferences API, the operator's: conferences made with their settings (stored, so
//! they survive restarts), the participants of a running one, and moderation.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/conferences` | admin | `{"name","pin"?,"moderator_pin"?,"max_participants"?,"record"?}`: 201 |
//! | `PUT /v1/conferences/{name}` | admin | the same settings without the name: 201 made, 200 replaced |
//! | `GET /v1/conferences` | admin | stored and running conferences, each with its participant count |
//! | `GET /v1/conferences/{name}` | admin | the conference and its participants |
//! | `DELETE /v1/conferences/{name}` | admin | every call hung up, the settings forgotten: 204 |
//! | `PATCH /v1/conferences/{name}/participants/{id}` | admin | `{"muted"}`: the participant |
//! | `DELETE /v1/conferences/{name}/participants/{id}` | admin | its call hung up: 204 |
//! | `POST /v1/debug/conferences/{name}/fail` | admin, debug builds | the bridge's fault hook: 202 |
//!
//! `POST` makes a conference and refuses (409 `conference_exists`) a name stored already, so
//! two operators cannot overwrite each other by accident; `PUT` is the deliberate
//! make-or-replace. Either way the settings are written by the store actor and flushed
//! first, then given to the conference's bridge: a running conference takes them at once
//! (participants already in stay, even above a lower limit), and one started later reads
//! them from the store. A conference a caller made (by dialing `conf-<name>`) and nobody
//! stored is listed while anyone is in it; `POST` or `PUT` on its name keeps it.
//!
//! `{name}` is the bare name (`team` for `sip:conf-team@<domain>`), `{id}` a participant's
//! number in its conference (`participants[].id`).

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::conference::{
    ConferenceName, ParticipantId, Pin, DEFAULT_MAX_PARTICIPANTS,
};
use switchboard_engine::store::ConferenceRecord;
use tokio::sync::oneshot;

use super::auth;
use super::error::ApiError;
use crate::api::conference::{
    ConferenceCommand, ConferenceRefused, ConferenceView, RunningConferences,
};
use crate::clock::unix_now;
use crate::conference::settings_of;
use crate::shared::Shared;
use crate::store::api::ConferenceAdmin;

type Data = web::Data<Arc<Shared>>;

/// `POST /v1/conferences`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConference {
    name: String,
    pin: Option<String>,
    moderator_pin: Option<String>,
    max_participants: Option<u64>,
    #[serde(default)]
    record: bool,
}

/// A conference's settings as the API takes them (`PUT` body; `POST` adds the name).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pin: Option<String>,
    moderator_pin: Option<String>,
    max_participants: Option<u64>,
    #[serde(default)]
    record: bool,
}

/// `PATCH .../participants/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Muted {
    muted: bool,
}

/// A conference in the list.
#[derive(Serialize)]
struct ConferenceSummary {
    name: String,
    address: String,
    pin_required: bool,
    moderator_pin: bool,
    max_participants: usize,
    record: bool,
    persistent: bool,
    /// How many are in it now.
    participants: usize,
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewConference>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let NewConference {
        name,
        pin,
        moderator_pin,
        max_participants,
        record,
    } = body.into_inner();
    let name = conference_name(&name)?;
    let settings = Settings {
        pin,
        moderator_pin,
        max_participants,
        record,
    };
    let record = record_of(&s, settings)?;
    store(
        &s,
        ConferenceAdmin::Create {
            name: name.as_str().to_owned(),
            record: record.clone(),
        },
    )
    .await?;
    let view = apply(&s, &name, &record).await?;
    Ok(HttpResponse::Created().json(view))
}

pub async fn replace(
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Json<Settings>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let name = conference_name(&name)?;
    let record = record_of(&s, body.into_inner())?;
    let created = store(
        &s,
        ConferenceAdmin::Replace {
            name: name.as_str().to_owned(),
            record: record.clone(),
        },
    )
    .await?;
    let view = apply(&s, &name, &record).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

pub async fn list(req: HttpRequest, s: Data) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let db = s.db.clone();
    let stored = web::block(move || db.conferences()).await??;
    let mut names: BTreeSet<ConferenceName> = match s.conferences.get() {
        Some(c) => c
            .running
            .send(RunningConferences)
            .await?
            .into_iter()
            .collect(),
        None => BTreeSet::new(),
    };
    // names were checked when they were stored
    names.extend(
        stored
            .iter()
            .filter_map(|(n, _)| ConferenceName::parse(n).ok()),
    );
    let mut conferences = Vec::with_capacity(names.len());
    for name in names {
        // a running one that emptied and retired meanwhile is not listed
        let Some(v) = ask(&s, name, |reply| ConferenceCommand::View { reply }).await? else {
            continue;
        };
        let v = addressed(&s, v);
        conferences.push(ConferenceSummary {
            participants: v.participants.len(),
            name: v.name,
            address: v.address,
            pin_required: v.pin_required,
            moderator_pin: v.moderator_pin,
            max_participants: v.max_participants,
            record: v.record,
            persistent: v.persistent,
        });
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "conferences": conferences })))
}

pub async fn show(
    req: HttpRequest,
    name: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let name = conference_name(&name)?;
    let view = ask(&s, name, |reply| ConferenceCommand::View { reply })
        .await?
        .ok_or(ConferenceRefused::NotFound)?;
    Ok(HttpResponse::Ok().json(addressed(&s, view)))
}

pub async fn delete(
    req: HttpRequest,
    name: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let name = conference_name(&name)?;
    // the settings first: a bridge that starts after this reads none
    let was_stored = store(
        &s,
        ConferenceAdmin::Delete {
            name: name.as_str().to_owned(),
        },
    )
    .await?;
    match ask(&s, name, |reply| ConferenceCommand::Close { reply }).await? {
        Ok(()) => {}
        Err(ConferenceRefused::NotFound) if was_stored => {}
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::NoContent().finish())
}

pub async fn set_muted(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Muted>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let (name, id) = path.into_inner();
    let name = conference_name(&name)?;
    let id = participant_id(&id)?;
    let muted = body.into_inner().muted;
    let p = ask(&s, name, |reply| ConferenceCommand::SetMuted {
        id,
        muted,
        reply,
    })
    .await??;
    Ok(HttpResponse::Ok().json(p))
}

pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let (name, id) = path.into_inner();
    let name = conference_name(&name)?;
    let id = participant_id(&id)?;
    ask(&s, name, |reply| ConferenceCommand::Remove { id, reply }).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The test hooks of this resource: debug builds only (release builds have no such route).
pub fn debug_routes(cfg: &mut web::ServiceConfig) {
    #[cfg(debug_assertions)]
    cfg.route(
        "/v1/debug/conferences/{name}/fail",
        web::post().to(debug::fail),
    );
    #[cfg(not(debug_assertions))]
    let _ = cfg;
}

#[cfg(debug_assertions)]
mod debug {
    use super::*;

    /// Makes the conference's bridge fail while handling a command (it goes back to its
    /// last snapshot; `tests/conference_api.rs` checks the calls do not notice).
    pub async fn fail(
        req: HttpRequest,
        name: web::Path<String>,
        s: Data,
    ) -> Result<HttpResponse, ApiError> {
        auth::admin(&req, &s)?;
        let name = conference_name(&name)?;
        ask(&s, name.clone(), |reply| ConferenceCommand::View { reply })
            .await?
            .ok_or(ConferenceRefused::NotFound)?;
        s.to_conference(name, ConferenceCommand::Fail);
        Ok(HttpResponse::Accepted().finish())
    }
}

fn conference_name(name: &str) -> Result<ConferenceName, ApiError> {
    ConferenceName::parse(name).map_err(|e| {
        ApiError::bad_request(
            "bad_conference_name",
            format!("{name:?} is no conference name (it names its chat room too): {e}"),
        )
    })
}

/// A participant id in a path; one that is no number is no participant.
fn participant_id(id: &str) -> Result<ParticipantId, ApiError> {
    id.parse()
        .map(ParticipantId)
        .map_err(|_| ConferenceRefused::NoParticipant.into())
}

/// The record `settings` make, every value checked: PINs as the keypad takes them
/// (`Pin::parse`: 1 to 16 digits), two different PINs, and a size from 2 to the
/// configured ceiling (`[conference] max_participants`; the smaller of that and
/// `DEFAULT_MAX_PARTICIPANTS` when none is given).
fn record_of(s: &Shared, settings: Settings) -> Result<ConferenceRecord, ApiError> {
    let pin = pin_of("pin", settings.pin)?;
    let moderator_pin = pin_of("moderator_pin", settings.moderator_pin)?;
    if pin.is_some() && pin == moderator_pin {
        return Err(ApiError::bad_request(
            "bad_pin",
            "pin and moderator_pin must differ (the moderator PIN is tried first, so everyone \
             would moderate)",
        ));
    }
    let ceiling = s.config.conference.max_participants;
    let max = match settings.max_participants {
        None => DEFAULT_MAX_PARTICIPANTS.min(ceiling),
        Some(n) if (2..=ceiling as u64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request(
                "bad_max_participants",
                format!(
                    "max_participants {n}: must be 2 to {ceiling} (conference.max_participants)"
                ),
            ))
        }
    };
    Ok(ConferenceRecord {
        pin: pin.map(|p| p.as_str().to_owned()),
        moderator_pin: moderator_pin.map(|p| p.as_str().to_owned()),
        // at most the ceiling, which the configuration keeps at 1000
        max_participants: max as u32,
        record: settings.record,
        changed_unix: unix_now(),
    })
}

fn pin_of(field: &str, pin: Option<String>) -> Result<Option<Pin>, ApiError> {
    pin.map(|p| Pin::parse(&p))
        .transpose()
        .map_err(|e| ApiError::bad_request("bad_pin", format!("{field}: {e}")))
}

/// Writes a change through the store actor (flushed before it answers).
async fn store(s: &Shared, op: ConferenceAdmin) -> Result<bool, ApiError> {
    Ok(s.store.conferences.send(op).await??)
}

/// Gives the stored `record` to the conference's bridge; its view.
async fn apply(
    s: &Shared,
    name: &ConferenceName,
    record: &ConferenceRecord,
) -> Result<ConferenceView, ApiError> {
    let settings = settings_of(record, s.config.conference.pin_attempts);
    let view = ask(s, name.clone(), |reply| ConferenceCommand::Create {
        settings,
        reply,
    })
    .await??;
    Ok(addressed(s, view))
}

/// Asks the conference (its bridge, or the directory when none runs) and waits for the
/// answer; 503 when none comes.
async fn ask<T>(
    s: &Shared,
    name: ConferenceName,
    make: impl FnOnce(oneshot::Sender<T>) -> ConferenceCommand,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    s.to_conference(name, make(tx));
    rx.await
        .map_err(|_| ApiError::unavailable("the conference did not answer"))
}

/// The view with the conference's whole SIP address.
fn addressed(s: &Shared, mut view: ConferenceView) -> ConferenceView {
    view.address = format!("sip:{}@{}", view.address, s.local.domain);
    view
}
