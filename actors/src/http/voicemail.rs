//! The voicemail API, read-only for now: a mailbox's messages.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/voicemail` | admin or the subscriber | the messages, the counts |
//!
//! The list is oldest first: `{"number", "new", "saved", "messages": [{"id", "caller",
//! "received_unix", "duration_ms", "folder", "bytes"}]}`. A number without messages (or
//! without an account) has an empty list.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use switchboard_engine::voicemail::{Folder, VoicemailRecord};

use super::auth;
use super::error::ApiError;
use crate::mailbox::MailboxError;
use crate::shared::Shared;

type Data = web::Data<Arc<Shared>>;

/// A message as the API shows it.
#[derive(Serialize)]
struct MessageView {
    id: u64,
    caller: String,
    received_unix: u64,
    duration_ms: u64,
    folder: &'static str,
    bytes: u64,
}

impl From<VoicemailRecord> for MessageView {
    fn from(r: VoicemailRecord) -> MessageView {
        MessageView {
            id: r.id.0,
            caller: r.caller,
            received_unix: r.received_unix,
            duration_ms: r.duration_ms,
            folder: r.folder.as_str(),
            bytes: r.bytes,
        }
    }
}

pub async fn list(
    req: HttpRequest,
    number: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    // sled reads from memory: no blocking pool needed
    let messages = s.mailboxes.messages(&aor).map_err(|e| match e {
        MailboxError::BadMailbox(_) => ApiError::bad_request("bad_number", e.to_string()),
        other => ApiError::internal(other.to_string()),
    })?;
    let new = messages.iter().filter(|m| m.folder == Folder::New).count();
    let saved = messages.len() - new;
    let messages: Vec<MessageView> = messages.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "number": aor.as_str(),
        "new": new,
        "saved": saved,
        "messages": messages,
    })))
}
