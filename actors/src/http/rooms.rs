//! The chat rooms API. Every change goes through the room's ChatRoom actor (the single writer
//! of the room); reads of history and of the room list come from the store.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/rooms` | a subscriber | `{"name","topic"?,"members"?}`: 201, the caller owns it |
//! | `GET /v1/rooms` | a subscriber, admin | the caller's rooms (admin: all) |
//! | `GET /v1/rooms/{room}` | members, admin | topic, owner, members, last sequence number |
//! | `DELETE /v1/rooms/{room}` | the owner, admin | the room and its history: 204 |
//! | `POST /v1/rooms/{room}/members` | members, admin | `{"number"}`: add a member |
//! | `DELETE /v1/rooms/{room}/members/{number}` | the member, the owner, admin | remove |
//! | `PUT /v1/rooms/{room}/topic` | members, admin | `{"topic"}` |
//! | `GET /v1/rooms/{room}/messages?after=&limit=` | members, admin | history, oldest first, `next` cursor |
//! | `POST /v1/rooms/{room}/messages` | members | `{"text"}`: a post (202) or a command (200) |
//!
//! `{room}` is the bare name (`ops` for `sip:room-ops@<domain>`). A subscriber signs in with
//! HTTP Basic (the number and SIP password); the operator as in `auth.rs`.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::chat::{RoomError, RoomName};
use switchboard_engine::messaging::check_body;
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::RoomEntry;
use tokio::sync::oneshot;

use super::auth;
use super::error::ApiError;
use crate::api::room::{By, Refused, RoomCommand, RoomView};
use crate::shared::Shared;

type Data = web::Data<Arc<Shared>>;

/// The caller: a subscriber with HTTP Basic, else the operator.
fn caller(req: &HttpRequest, s: &Shared) -> Result<By, ApiError> {
    let basic = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    if basic {
        auth::subscriber(req, s).map(By::Member)
    } else {
        auth::admin(req, s).map(|_| By::Admin)
    }
}

fn room_name(name: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(name).map_err(|e| ApiError::bad_request("bad_room_name", e.to_string()))
}

/// A number that may be a member: any canonical number or name, whether or not it has an
/// account, so no answer says which numbers have one (copies to a member follow the queue
/// rules). Only a string that is no number at all is refused.
fn member_number(s: &Shared, number: &str) -> Result<Aor, ApiError> {
    s.plan
        .canonical(number)
        .map_err(|_| ApiError::bad_request("bad_number", "not a phone number or name"))
}

/// Asks the room's actor and waits for its answer; 503 when it does not answer.
async fn ask<T>(
    s: &Shared,
    room: RoomName,
    make: impl FnOnce(oneshot::Sender<T>) -> RoomCommand,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    s.to_room(room, make(tx));
    rx.await
        .map_err(|_| ApiError::unavailable("the room did not answer"))
}

/// The room when the caller may read it: a member or the operator.
async fn readable(s: &Shared, by: &By, room: &RoomName) -> Result<RoomView, ApiError> {
    let view = ask(s, room.clone(), |reply| RoomCommand::Show { reply })
        .await?
        .ok_or(Refused::Room(RoomError::NoSuchRoom))?;
    match by {
        By::Member(a) if !view.members.iter().any(|m| m.number == a.as_str()) => {
            Err(Refused::Room(RoomError::NotAMember).into())
        }
        _ => Ok(view),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    name: String,
    topic: Option<String>,
    members: Option<Vec<String>>,
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewRoom>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let By::Member(owner) = caller(&req, &s)? else {
        return Err(ApiError::forbidden(
            "subscriber_only",
            "a room is created by the subscriber who will own it",
        ));
    };
    let NewRoom {
        name,
        topic,
        members,
    } = body.into_inner();
    let room = room_name(&name)?;
    let mut numbers = Vec::new();
    for n in members.unwrap_or_default() {
        numbers.push(member_number(&s, &n)?);
    }
    let view = ask(&s, room, |reply| RoomCommand::Create {
        owner,
        topic: topic.unwrap_or_default(),
        members: numbers,
        reply,
    })
    .await??;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Serialize)]
struct RoomSummary {
    name: String,
    address: String,
    topic: String,
    owner: String,
    members: usize,
}

pub async fn list(req: HttpRequest, s: Data) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let db = s.db.clone();
    let domain = s.local.domain.clone();
    let rooms = web::block(move || db.rooms()).await;
    let Ok(Ok(rooms)) = rooms else {
        return Err(ApiError::internal("room list failed"));
    };
    let rooms: Vec<RoomSummary> = rooms
        .into_iter()
        .filter(|(_, r)| match &by {
            By::Admin => true,
            By::Member(a) => r
                .members
                .iter()
                .any(|m| m.is_current() && m.number == a.as_str()),
        })
        .map(|(name, r)| RoomSummary {
            address: format!("sip:room-{name}@{domain}"),
            name,
            topic: r.topic,
            owner: r.owner,
            members: r.members.iter().filter(|m| m.is_current()).count(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "rooms": rooms })))
}

pub async fn show(
    req: HttpRequest,
    room: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let room = room_name(&room)?;
    Ok(HttpResponse::Ok().json(readable(&s, &by, &room).await?))
}

pub async fn delete(
    req: HttpRequest,
    room: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let room = room_name(&room)?;
    ask(&s, room, |reply| RoomCommand::Delete { by, reply }).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    number: String,
}

pub async fn add_member(
    req: HttpRequest,
    room: web::Path<String>,
    body: web::Json<NewMember>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let room = room_name(&room)?;
    // the room and the caller's membership first (the room checks again when it adds)
    readable(&s, &by, &room).await?;
    let number = member_number(&s, &body.number)?;
    let view = ask(&s, room, |reply| RoomCommand::AddMember {
        by,
        number,
        reply,
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn remove_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let (room, number) = path.into_inner();
    let room = room_name(&room)?;
    let number = member_number(&s, &number)?;
    let view = ask(&s, room, |reply| RoomCommand::RemoveMember {
        by,
        number,
        reply,
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    topic: String,
}

pub async fn set_topic(
    req: HttpRequest,
    room: web::Path<String>,
    body: web::Json<Topic>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let room = room_name(&room)?;
    let topic = body.into_inner().topic;
    let view = ask(&s, room, |reply| RoomCommand::SetTopic { by, topic, reply }).await??;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    after: Option<u64>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct EntryView {
    seq: u64,
    sender: String,
    display: String,
    content_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    accepted_unix_ms: u64,
}

impl EntryView {
    fn new(e: RoomEntry) -> EntryView {
        use base64::Engine as _;
        let text = switchboard_engine::messaging::is_text_plain(&e.content_type)
            .then(|| String::from_utf8(e.body.clone()).ok())
            .flatten();
        let body_base64 = text
            .is_none()
            .then(|| base64::engine::general_purpose::STANDARD.encode(&e.body));
        EntryView {
            seq: e.seq,
            sender: e.sender,
            display: e.display,
            content_type: e.content_type,
            text,
            body_base64,
            accepted_unix_ms: e.accepted_unix_ms,
        }
    }
}

pub async fn history(
    req: HttpRequest,
    room: web::Path<String>,
    page: web::Query<Page>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = caller(&req, &s)?;
    let room = room_name(&room)?;
    readable(&s, &by, &room).await?;
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    let after = page.after.unwrap_or(0);
    let db = s.db.clone();
    let entries = web::block(move || db.room_history(room.as_str(), after, limit)).await;
    let Ok(Ok(entries)) = entries else {
        return Err(ApiError::internal("history read failed"));
    };
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let messages: Vec<EntryView> = entries.into_iter().map(EntryView::new).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "messages": messages, "next": next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    text: String,
}

pub async fn post(
    req: HttpRequest,
    room: web::Path<String>,
    body: web::Json<Post>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let By::Member(sender) = caller(&req, &s)? else {
        return Err(ApiError::forbidden(
            "subscriber_only",
            "posts are made by a member",
        ));
    };
    let room = room_name(&room)?;
    let content_type = "text/plain;charset=UTF-8".to_owned();
    let body = body.into_inner().text.into_bytes();
    check_body(&content_type, &body, s.config.messaging.max_body_bytes)?;
    let posted = ask(&s, room, |reply| RoomCommand::Message {
        sender,
        display: None,
        content_type,
        body,
        reply,
    })
    .await??;
    Ok(match posted.seq {
        Some(seq) => {
            HttpResponse::Accepted().json(serde_json::json!({ "seq": seq, "id": posted.id }))
        }
        None => HttpResponse::Ok().json(serde_json::json!({ "command": true })),
    })
}
