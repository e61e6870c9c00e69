//! The voicemail API: a subscriber's messages, greetings and mailbox settings, and the
//! operator's import of messages made elsewhere.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/accounts/{number}/voicemail` | admin or the subscriber | counts, messages |
//! | `POST /v1/accounts/{number}/voicemail` | admin | import a WAV body: 201, the message |
//! | `GET .../voicemail/{id}` | admin or the subscriber | the message's WAV (`audio/wav`) |
//! | `PATCH .../voicemail/{id}` | admin or the subscriber | `{"folder"}`, `{"heard"}` |
//! | `DELETE .../voicemail/{id}` | admin or the subscriber | the record and the file: 204 |
//! | `GET .../voicemail/greetings/{kind}` | admin or the subscriber | the greeting's WAV |
//! | `PUT .../voicemail/greetings/{kind}` | admin or the subscriber | upload a WAV |
//! | `DELETE .../voicemail/greetings/{kind}` | admin or the subscriber | 204 |
//! | `GET .../voicemail/settings` | admin or the subscriber | `enabled`, `pin_set`, ... |
//! | `PUT .../voicemail/settings` | admin or the subscriber | `{"enabled", "pin"}` |
//!
//! Who may ask is what every `/v1/accounts/{number}/...` endpoint checks (`auth::allowed`):
//! a wrong password, a number with no account and someone else's number all answer the same
//! 401, so the API tells nobody which mailboxes exist; the operator is told 404 for a number
//! with no account. A message id that is not in the mailbox asked about (someone else's
//! message included) answers the same 404 as one that never existed. Greeting kinds are
//! `unavailable`, `busy` and `name`.
//!
//! A saved message is a heard one (RFC 3842 counts new and old): `{"heard": true}` moves a
//! message to `saved`, `{"heard": false}` back to `new`. The PIN is never shown; a new one
//! must have 4 to 16 digits and unlocks a mailbox that wrong PINs locked.
//!
//! Uploads (greetings and imports) are WAV files sent as `Content-Type: audio/wav`, at most
//! [`MAX_UPLOAD`] bytes and [`MailboxLimits::max_message`](crate::mailbox::MailboxLimits)
//! of audio: integer PCM of 8 to 32 bits or 32-bit float, mono or stereo, 8 to 48 kHz,
//! converted on upload (`switchboard_engine::media::upload`) to mono 16-bit at 16 kHz; an
//! import keeps 8 and 16 kHz as they are. Refusals: 415 for another content type, no WAV
//! file or audio of another kind; 413 for a larger body or longer audio; 400 for an empty,
//! damaged or sample-less file and a message shorter than the shortest kept (1 s); 507
//! `mailbox_full` when the mailbox is at its limits or has less room left than the message
//! (a message is imported whole or not at all; 507 says the mailbox cannot store it, which
//! another request later may change, where 409 would blame the request).
//!
//! Every change of a mailbox's messages goes through the mailbox store, so it is on disk
//! before it is answered and the change feed (the message-waiting lamps) hears of it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::header::{
    ContentDisposition, DispositionParam, DispositionType, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use switchboard_engine::media::upload::{self, UploadLimits};
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{Folder, Greeting, VoicemailId};

use super::auth::{self, Caller};
use super::error::ApiError;
use crate::api::voicemail::{MessageView, ANONYMOUS};
use crate::clock::unix_now;
use crate::mailbox::SettingsChange;
use crate::shared::Shared;

type Data = web::Data<Arc<Shared>>;

/// The largest upload body: 10 MiB (a minute of 48 kHz stereo 24-bit is 17 MB, a minute of
/// 16 kHz mono 16-bit 1.9 MB).
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

/// The content types of a WAV file (RFC 2361's `audio/vnd.wave` and the common spellings).
const WAV_TYPES: [&str; 4] = ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"];

/// `PATCH .../voicemail/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    folder: Option<String>,
    heard: Option<bool>,
}

/// `PUT .../voicemail/settings`: a field left out stays as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSettings {
    enabled: Option<bool>,
    pin: Option<String>,
}

/// `POST .../voicemail?caller=&received=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Who left it: any spelling the numbering plan reads, or `anonymous` (the default).
    caller: Option<String>,
    /// When it was left, seconds since the Unix epoch (default: now).
    received: Option<u64>,
}

/// What `PUT .../greetings/{kind}` answers.
#[derive(Serialize)]
struct GreetingView {
    number: String,
    greeting: &'static str,
    duration_ms: u64,
    rate: u32,
}

pub async fn list(
    req: HttpRequest,
    number: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let sh = Arc::clone(s.get_ref());
    let view = web::block(move || {
        owner(&sh, &aor)?;
        Ok::<_, ApiError>(sh.mailboxes.view(&sh.plan, &aor)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn import(
    req: HttpRequest,
    number: web::Path<String>,
    query: Result<web::Query<ImportQuery>, actix_web::Error>,
    body: web::Payload,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    if let Caller::Subscriber(_) = auth::caller(&req, &s)? {
        return Err(ApiError::forbidden(
            "forbidden",
            "messages are imported by the operator",
        ));
    }
    let aor = s
        .plan
        .canonical(&number)
        .map_err(|_| ApiError::bad_request("bad_number", "not a phone number or name"))?;
    let ImportQuery { caller, received } = query
        .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?
        .into_inner();
    let caller = match caller.as_deref() {
        None | Some(ANONYMOUS) => ANONYMOUS.to_owned(),
        Some(c) => s
            .plan
            .canonical(c)
            .map_err(|e| ApiError::bad_request("bad_caller", format!("caller {c:?}: {e}")))?
            .to_string(),
    };
    let received = match received {
        None => SystemTime::now(),
        Some(t) => SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(t))
            .ok_or_else(|| ApiError::bad_request("bad_query", format!("received={t}")))?,
    };
    let bytes = wav_body(&req, body).await?;
    let sh = Arc::clone(s.get_ref());
    let (location, view) = web::block(move || {
        owner(&sh, &aor)?;
        let m = &sh.mailboxes;
        let up = upload::decode(&bytes, upload_limits(&sh))?;
        let rate = up.kept_rate();
        let pcm = up.to_pcm(rate)?;
        let rec = m.import(&aor, &caller, rate, &pcm, received)?;
        let location = format!("/v1/accounts/{}/voicemail/{}", aor.as_str(), rec.id);
        Ok::<_, ApiError>((location, MessageView::of(&rec, &sh.plan)))
    })
    .await??;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(view))
}

pub async fn audio(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, id) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let id = message_id(&id)?;
    let sh = Arc::clone(s.get_ref());
    let wav = web::block(move || {
        owner(&sh, &aor)?;
        sh.mailboxes.audio(&aor, id)?.ok_or_else(no_such_message)
    })
    .await??;
    Ok(wav_response(wav, format!("voicemail-{id}.wav")))
}

pub async fn change(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Change>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, id) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let id = message_id(&id)?;
    let folder = folder_of(body.into_inner())?;
    let sh = Arc::clone(s.get_ref());
    let rec = web::block(move || {
        owner(&sh, &aor)?;
        sh.mailboxes
            .set_folder(&aor, id, folder)?
            .ok_or_else(no_such_message)
    })
    .await??;
    Ok(HttpResponse::Ok().json(MessageView::of(&rec, &s.plan)))
}

pub async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, id) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let id = message_id(&id)?;
    #[cfg(debug_assertions)]
    let pause = debug::delete_pause(&req);
    let sh = Arc::clone(s.get_ref());
    web::block(move || {
        owner(&sh, &aor)?;
        #[cfg(debug_assertions)]
        let gone = match pause {
            Some(p) => sh.mailboxes.delete_pausing(&aor, id, p)?,
            None => sh.mailboxes.delete(&aor, id)?,
        };
        #[cfg(not(debug_assertions))]
        let gone = sh.mailboxes.delete(&aor, id)?;
        gone.map(|_| ()).ok_or_else(no_such_message)
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn greeting(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, kind) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let kind = greeting_kind(&kind)?;
    let sh = Arc::clone(s.get_ref());
    let wav = web::block(move || {
        owner(&sh, &aor)?;
        let path = sh.mailboxes.greeting_path(&aor, kind)?;
        match std::fs::read(&path) {
            Ok(wav) => Ok(wav),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(no_such_greeting()),
            Err(e) => Err(ApiError::internal(format!("greeting unreadable: {e}"))),
        }
    })
    .await??;
    Ok(wav_response(wav, format!("greeting-{}.wav", kind.as_str())))
}

pub async fn put_greeting(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, kind) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let kind = greeting_kind(&kind)?;
    let bytes = wav_body(&req, body).await?;
    let sh = Arc::clone(s.get_ref());
    let view = web::block(move || {
        owner(&sh, &aor)?;
        let up = upload::decode(&bytes, upload_limits(&sh))?;
        let rate = SampleRate::WIDE;
        let pcm = up.to_pcm(rate)?;
        sh.mailboxes.put_greeting(&aor, kind, rate, &pcm)?;
        Ok::<_, ApiError>(GreetingView {
            number: aor.to_string(),
            greeting: kind.as_str(),
            duration_ms: pcm.len() as u64 * 1000 / rate.hz() as u64,
            rate: rate.hz(),
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn delete_greeting(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let (number, kind) = path.into_inner();
    let aor = auth::allowed(&req, &s, &number)?;
    let kind = greeting_kind(&kind)?;
    let sh = Arc::clone(s.get_ref());
    web::block(move || {
        owner(&sh, &aor)?;
        if sh.mailboxes.delete_greeting(&aor, kind)? {
            Ok(())
        } else {
            Err(no_such_greeting())
        }
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn settings(
    req: HttpRequest,
    number: web::Path<String>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let sh = Arc::clone(s.get_ref());
    let view = web::block(move || {
        owner(&sh, &aor)?;
        Ok::<_, ApiError>(sh.mailboxes.settings_view(&aor, unix_now())?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn put_settings(
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Json<NewSettings>,
    s: Data,
) -> Result<HttpResponse, ApiError> {
    let aor = auth::allowed(&req, &s, &number)?;
    let NewSettings { enabled, pin } = body.into_inner();
    let sh = Arc::clone(s.get_ref());
    let view = web::block(move || {
        owner(&sh, &aor)?;
        let m = &sh.mailboxes;
        m.change_settings(&aor, SettingsChange { enabled, pin }, unix_now())?;
        Ok::<_, ApiError>(m.settings_view(&aor, unix_now())?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

/// 404 for a number with no account (only the operator gets this far with one).
fn owner(s: &Shared, aor: &Aor) -> Result<(), ApiError> {
    if s.mailboxes.has_account(aor)? {
        Ok(())
    } else {
        Err(ApiError::not_found("no such account"))
    }
}

fn upload_limits(s: &Shared) -> UploadLimits {
    UploadLimits {
        max_duration: s.mailboxes.limits().max_message,
    }
}

/// The body of an upload: a WAV file by its content type, at most [`MAX_UPLOAD`] bytes.
async fn wav_body(req: &HttpRequest, body: web::Payload) -> Result<web::Bytes, ApiError> {
    let ctype = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ctype.split(';').next().unwrap_or("").trim();
    if !WAV_TYPES.iter().any(|t| t.eq_ignore_ascii_case(essence)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send a WAV file as Content-Type: audio/wav, not {ctype:?}"),
        ));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD as u64) {
        return Err(too_large());
    }
    match body.to_bytes_limited(MAX_UPLOAD).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(too_large()),
        Err(e) => Err(ApiError::bad_request("bad_body", e.to_string())),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is over {} bytes", MAX_UPLOAD),
    )
}

fn wav_response(wav: Vec<u8>, filename: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .body(wav)
}

/// The folder a change asks for; `heard` names the same state as `folder` (saved is heard).
fn folder_of(c: Change) -> Result<Folder, ApiError> {
    let by_folder = match c.folder.as_deref() {
        None => None,
        Some(f) => Some(Folder::parse(f).ok_or_else(|| {
            ApiError::bad_request("bad_folder", format!("folder {f:?} is not new or saved"))
        })?),
    };
    let by_heard = c.heard.map(|h| if h { Folder::Saved } else { Folder::New });
    match (by_folder, by_heard) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            "conflicting_change",
            "a saved message is a heard one: folder and heard disagree",
        )),
        (Some(f), _) | (None, Some(f)) => Ok(f),
        (None, None) => Err(ApiError::bad_request(
            "nothing_to_change",
            "nothing to change (give folder or heard)",
        )),
    }
}

fn message_id(id: &str) -> Result<VoicemailId, ApiError> {
    id.parse().map_err(|_| no_such_message())
}

fn greeting_kind(kind: &str) -> Result<Greeting, ApiError> {
    Greeting::parse(kind).ok_or_else(|| {
        ApiError::not_found(format!(
            "no greeting kind {kind:?} (unavailable, busy or name)"
        ))
    })
}

fn no_such_message() -> ApiError {
    ApiError::not_found("no such message")
}

fn no_such_greeting() -> ApiError {
    ApiError::not_found("no such greeting")
}

/// The test hooks of this resource: debug builds only.
#[cfg(debug_assertions)]
mod debug {
    use super::*;

    /// How long a delete stops between removing the record and the file: the crash test's
    /// window (`tests/crash_voicemail.rs`), asked for with `X-Switchboard-Fault: pause-delete`.
    pub fn delete_pause(req: &HttpRequest) -> Option<Duration> {
        req.headers()
            .get("X-Switchboard-Fault")
            .is_some_and(|v| v.as_bytes() == b"pause-delete")
            .then_some(Duration::from_secs(60))
    }
}
