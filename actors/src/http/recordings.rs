//! The recordings API: a subscriber's "record my calls" setting, and the recordings
//! themselves.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/recording` | admin or the subscriber | `{"number","enabled"}` |
//! | `PUT /v1/accounts/{number}/recording` | admin or the subscriber | `{"enabled"}`: set it |
//! | `GET /v1/recordings?number=` | admin, a subscriber | admin: all; a subscriber: theirs |
//! | `GET /v1/recordings/{id}` | admin, a party | the WAV file (`audio/wav`) |
//! | `DELETE /v1/recordings/{id}` | admin, a party | the record and the file: 204 |
//!
//! A subscriber signs in with HTTP Basic and sees only recordings they are the caller or the
//! callee of; `number=` narrows a list to recordings that number is a party to. A recording
//! that does not exist and one the asker may not see answer the same 404, so ids tell nobody
//! what exists. A recording still being written answers 409 to `GET .../{id}` (its file is
//! complete once it is done); deleting it stops it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::SizedStream;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::store::{RecordingId, RecordingRecord, RecordingState};
use tokio::io::{AsyncRead, ReadBuf};

use super::auth::{self, Caller};
use super::error::ApiError;
use super::query;
use crate::shared::Shared;
use crate::store::api::{Admin, AdminReply};

type Data = web::Data<Arc<Shared>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    number: Option<String>,
}

/// A recording as the API shows it.
#[derive(Serialize)]
struct RecordingView {
    id: u64,
    caller: String,
    callee: String,
    call_id: String,
    started_unix_ms: u64,
    duration_ms: u64,
    bytes: u64,
    state: &'static str,
}

impl From<RecordingRecord> for RecordingView {
    fn from(r: RecordingRecord) -> RecordingView {
        RecordingView {
            id: r.id.0,
            caller: r.caller,
            callee: r.callee,
            call_id: r.call_id,
            started_unix_ms: r.started_unix_ms,
            duration_ms: r.duration_ms,
            bytes: r.bytes,
            state: r.state.as_str(),
        }
    }
}

pub async fn show_setting(
    req: HttpRequest,
    number: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.to_string();
    setting(&s, Admin::RecordShow { number }).await
}

pub async fn set_setting(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<Setting>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let number = auth::allowed(&req, &s, &number)?.to_string();
    let enabled = body.into_inner().enabled;
    setting(&s, Admin::RecordSet { number, enabled }).await
}

async fn setting(s: &Shared, op: Admin) -> Result<HttpResponse, ApiError> {
    match s.store.admin.send(op).await? {
        Ok(AdminReply::Recording { number, enabled }) => Ok(
            HttpResponse::Ok().json(serde_json::json!({ "number": number, "enabled": enabled }))
        ),
        Ok(_) => Err(ApiError::internal("unexpected reply")),
        Err(e) if e.starts_with("no account") => Err(ApiError::not_found(e)),
        Err(e) => Err(ApiError::bad_request("bad_number", e)),
    }
}

pub async fn list(
    req: HttpRequest,
    filter: web::Query<Filter>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = auth::caller(&req, &s)?;
    let number = query::number_filter(&s, filter.number.as_deref())?;
    let db = s.db.clone();
    let recordings = web::block(move || -> Result<Vec<RecordingRecord>, ApiError> {
        Ok(match (&by, &number) {
            (Caller::Admin, n) => db.recordings(n.as_ref())?,
            (Caller::Subscriber(me), n) => {
                let mut mine = db.recordings(Some(me))?;
                if let Some(n) = n {
                    mine.retain(|r| r.is_party(n.as_str()));
                }
                mine
            }
        })
    })
    .await??;
    let recordings: Vec<RecordingView> = recordings.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "recordings": recordings })))
}

pub async fn show(
    req: HttpRequest,
    id: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = auth::caller(&req, &s)?;
    let rec = visible(&s, &by, &id).await?;
    if rec.state != RecordingState::Done {
        return Err(ApiError::conflict(
            "in_progress",
            "the recording is still being written",
        ));
    }
    let path = s.recorder.file(rec.id);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("recording {} unreadable: {e}", rec.id)))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .len();
    let stream = FileStream {
        file,
        buf: vec![0; 64 * 1024].into_boxed_slice(),
        left: len,
    };
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!(
                "recording-{}.wav",
                rec.id
            ))],
        })
        .body(SizedStream::new(len, stream)))
}

pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let by = auth::caller(&req, &s)?;
    let rec = visible(&s, &by, &id).await?;
    let recorder = s.recorder.clone();
    // a delete between the check and here finds nothing: the same 404
    web::block(move || recorder.delete(rec.id))
        .await??
        .ok_or_else(no_such_recording)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The recording `id` names when the caller may see it: the operator, or its caller or callee.
/// The same 404 otherwise, whether it exists or not.
async fn visible(s: &Shared, by: &Caller, id: &str) -> Result<RecordingRecord, ApiError> {
    let id: RecordingId = id.parse().map_err(|_| no_such_recording())?;
    let db = s.db.clone();
    let rec = web::block(move || db.recording(id)).await??;
    match (rec, by) {
        (Some(r), Caller::Admin) => Ok(r),
        (Some(r), Caller::Subscriber(me)) if r.is_party(me.as_str()) => Ok(r),
        _ => Err(no_such_recording()),
    }
}

fn no_such_recording() -> ApiError {
    ApiError::not_found("no such recording")
}

/// A file's bytes as a body, a chunk at a time.
struct FileStream {
    file: tokio::fs::File,
    buf: Box<[u8]>,
    /// Bytes still to send (the length announced).
    left: u64,
}

impl futures_core::Stream for FileStream {
    type Item = Result<web::Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = (this.buf.len() as u64).min(this.left) as usize;
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Some(Err(
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "recording file shrank"),
            ))),
            Poll::Ready(Ok(())) => {
                let chunk = web::Bytes::copy_from_slice(read.filled());
                this.left -= chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
        }
    }
}
