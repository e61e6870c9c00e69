//! The messages API: what waits in a number's queue, and sending as an account.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/messages?after=&limit=` | admin or the subscriber | queued messages, oldest first |
//! | `DELETE /v1/accounts/{number}/messages/{seq}` | admin or the subscriber | remove one (read elsewhere) |
//! | `POST /v1/messages` | a subscriber | `{"to","text"}` or `{"to","content_type","body"}`: 202 |
//! | `GET /v1/messages/{id}` | admin or the sender | a text read out to a landline: its outcome |
//! | `POST /admin/messaging/sweep` | admin | `{"now"?}`: remove what expired by then |
//!
//! `POST /v1/messages` takes the path of a SIP MESSAGE kept for later: the message is written
//! to the recipient's queue (202 once on disk) and delivered in order to its registered
//! devices, or announced to its owner by SMS when none is registered.
//!
//! A text message to a landline is read out by calls (`crate::voice_notices`); its sender
//! learns how that went with `GET /v1/messages/{id}`, the Message-ID of the 202: `pending`
//! (with the calls so far and why the last one did not deliver it), `delivered`, or `failed`
//! with the cause. An id that names no such message and one the asker did not send answer the
//! same 404.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::messaging::voice::{seq_of_message_id, NoticeState, VoiceNoticeRecord};
use switchboard_engine::messaging::{check_body, Refusal, StoredMessage};
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;

use super::auth;
use super::error::ApiError;
use crate::api::extension::ExtCommand;
use crate::api::notifications::Queued;
use crate::clock::{unix_now, unix_now_ms};
use crate::shared::Shared;
use crate::store::writer::{DynamicAccount, Enqueue};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    after: Option<u64>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct MessageView {
    seq: u64,
    id: String,
    sender: String,
    from: String,
    content_type: String,
    /// The body when it is UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// Any other body, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    accepted_unix_ms: u64,
    expires_unix: u64,
}

impl MessageView {
    fn new(seq: u64, m: StoredMessage) -> MessageView {
        use base64::Engine as _;
        let text = m.text().map(str::to_owned);
        let body_base64 = text
            .is_none()
            .then(|| base64::engine::general_purpose::STANDARD.encode(&m.body));
        MessageView {
            seq,
            id: m.id,
            sender: m.sender,
            from: m.from,
            content_type: m.content_type,
            text,
            body_base64,
            accepted_unix_ms: m.accepted_unix_ms,
            expires_unix: m.expires_unix,
        }
    }
}

pub async fn list(
    req: HttpRequest,
    number: web::Path<String>,
    page: web::Query<Page>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    let queue = s.queue.clone();
    let after = page.after;
    let msgs = web::block(move || queue.messages(&aor, after, limit))
        .await
        .map_err(|_| ApiError::internal("queue read failed"))?;
    let next_after = (msgs.len() == limit)
        .then(|| msgs.last().map(|(seq, _)| *seq))
        .flatten();
    let messages: Vec<MessageView> = msgs
        .into_iter()
        .map(|(q, m)| MessageView::new(q, m))
        .collect();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "messages": messages, "next_after": next_after })))
}

pub async fn remove(
    req: HttpRequest,
    path: web::Path<(String, u64)>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let (number, seq) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    s.queue.remove(aor, seq, "fetched");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outgoing {
    to: String,
    text: Option<String>,
    content_type: Option<String>,
    body: Option<String>,
}

pub async fn send(
    req: HttpRequest,
    body: web::Json<Outgoing>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let sender = auth::subscriber(&req, &s)?;
    let Outgoing {
        to,
        text,
        content_type,
        body,
    } = body.into_inner();
    let (content_type, body) = match (text, body) {
        (Some(t), None) => ("text/plain;charset=UTF-8".to_owned(), t.into_bytes()),
        (None, Some(b)) => (
            content_type.unwrap_or_else(|| "text/plain;charset=UTF-8".into()),
            b.into_bytes(),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "bad_message",
                "give either \"text\" or \"body\" (with \"content_type\")",
            ))
        }
    };
    check_body(&content_type, &body, s.config.messaging.max_body_bytes)?;
    let to = recipient(&s, &to).ok_or_else(|| {
        ApiError::not_found(
            "not a number of this switch (messages from the API reach its own numbers)",
        )
    })?;
    let db = s.db.clone();
    let who = to.clone();
    let looked_up = web::block(move || {
        let account = db.account(&who).map(|a| a.is_some()).unwrap_or(false);
        let now = unix_now();
        let online = db
            .bindings(&who)
            .map(|b| b.iter().any(|b| b.expires_at > now))
            .unwrap_or(false);
        (account, online)
    })
    .await;
    let (account, online) = looked_up.map_err(|_| ApiError::internal("lookup failed"))?;
    if !s.may_queue_for(&to, account) {
        return Err(ApiError::not_found("no such number"));
    }
    if let Err(r) = s.admit_stored(req.peer_addr().map(|a| a.ip()), &to, account) {
        return Err(ApiError::too_many_requests(
            "too_many_messages",
            "too many messages for numbers nobody signed up; try again later",
            r.retry_after_secs(),
        ));
    }
    let message = StoredMessage {
        id: String::new(),
        from: format!("<sip:{sender}@{}>", s.local.domain),
        sender: sender.to_string(),
        content_type,
        body,
        accepted_unix_ms: unix_now_ms(),
        expires_unix: 0,
    };
    let text = message.text().map(str::to_owned);
    let dynamic = (!account && s.allows_dynamic(&to)).then(|| DynamicAccount {
        realm: s.realm.clone(),
        expires_unix: unix_now() + s.config.accounts.dynamic_expiry_days * 86_400,
    });
    let (reply, rx) = oneshot::channel();
    s.queue.enqueue(Enqueue {
        aor: to.clone(),
        message,
        dynamic,
        reply: reply.into(),
    });
    let accepted = rx
        .await
        .map_err(|_| ApiError::unavailable("message store unavailable"))?
        .map_err(refused)?;
    if accepted.dynamic_created {
        s.to_extension(to.clone(), ExtCommand::AccountChanged);
    }
    let status = if online {
        s.to_extension(to.clone(), ExtCommand::Deliver);
        "delivering"
    } else {
        s.notify_queued(Queued {
            aor: to.clone(),
            sender: sender.to_string(),
            text,
        });
        "queued"
    };
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "id": accepted.id, "to": to.to_string(), "status": status,
    })))
}

/// What the sender hears when the recipient's queue refused the message.
fn refused(r: Refusal) -> ApiError {
    // SIP's 486 and 507 are one HTTP answer: the recipient cannot take more now
    let (status, code) = match r.code {
        486 => (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full"),
        507 => (
            StatusCode::INSUFFICIENT_STORAGE,
            "mailbox_storage_exhausted",
        ),
        503 => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed"),
    };
    ApiError::new(status, code, r.reason)
}

/// The subscriber of ours a dialed string reaches, if any.
fn recipient(s: &Shared, to: &str) -> Option<Aor> {
    let d = s.plan.classify(to).ok()?;
    s.plan.subscriber_of(&s.plan.resolve(d))
}

/// A text message to a landline as its sender sees it.
#[derive(Serialize)]
struct NoticeView {
    id: String,
    to: String,
    sender: String,
    /// How it is delivered: always `voice` (a call that reads it out).
    via: &'static str,
    /// `pending`, `delivered` or `failed`.
    state: &'static str,
    /// Why it failed, or why the last call did not deliver it (`busy`, `no_answer`,
    /// `hung_up`, `rejected`, `trunk_failed`, `not_spoken`, `unplaceable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'static str>,
    /// The SIP status that said so, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    /// Calls that ended so far.
    calls: u32,
    accepted_unix_ms: u64,
    updated_unix_ms: u64,
}

impl From<VoiceNoticeRecord> for NoticeView {
    fn from(r: VoiceNoticeRecord) -> NoticeView {
        let failure = match r.state {
            NoticeState::Pending { last } => last,
            NoticeState::Delivered => None,
            NoticeState::Failed(f) => Some(f),
        };
        NoticeView {
            state: r.state.as_str(),
            cause: failure.map(|f| f.cause.as_str()),
            code: failure.map(|f| f.code).filter(|&c| c != 0),
            id: r.id,
            to: r.to,
            sender: r.sender,
            via: "voice",
            calls: r.attempts,
            accepted_unix_ms: r.accepted_unix_ms,
            updated_unix_ms: r.updated_unix_ms,
        }
    }
}

pub async fn status(
    req: HttpRequest,
    id: web::Path<String>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    let who = auth::caller(&req, &s)?;
    let none = || ApiError::not_found("no such message");
    let id = id.into_inner();
    let seq = seq_of_message_id(&id).ok_or_else(none)?;
    let db = s.db.clone();
    let rec = web::block(move || db.notice(seq))
        .await
        .map_err(|_| ApiError::internal("store read failed"))?
        .map_err(|_| ApiError::internal("store read failed"))?
        .filter(|r| r.id == id)
        .ok_or_else(none)?;
    if let auth::Caller::Subscriber(aor) = who {
        if aor.as_str() != rec.sender {
            return Err(none());
        }
    }
    Ok(HttpResponse::Ok().json(NoticeView::from(rec)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SweepAt {
    /// Unix seconds to sweep as of (default: now); tests and operators may look ahead.
    now: Option<u64>,
}

pub async fn sweep(
    req: HttpRequest,
    body: Option<web::Json<SweepAt>>,
    s: web::Data<Arc<Shared>>,
) -> Result<HttpResponse, ApiError> {
    auth::admin(&req, &s)?;
    let now = body.and_then(|b| b.now).unwrap_or_else(unix_now);
    let report = s.sweep_messages(now).await;
    Ok(HttpResponse::Ok().json(report))
}
