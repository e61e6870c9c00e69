//! The one error of the HTTP API: a status, a code and a message, answered as
//! `{"code": "...", "message": "..."}` (plus any extra fields an answer carries), with the
//! headers some answers need: `WWW-Authenticate` on a 401 (RFC 9110 section 11.6.1) and
//! `Retry-After` when a client must wait (RFC 9110 section 10.2.3).
//!
//! Handlers return `Result<HttpResponse, ApiError>` and use `?`; the `From` impls below say in
//! one place what a store failure, a busy store actor, a stopped recorder, a refused room
//! request, a refused conference request, a refused buddy entry, a mailbox failure or a
//! refused voicemail upload, import or settings change answers. A leaf: it names nothing
//! else of the `http` module.

use std::fmt;

use actix_web::error::BlockingError;
use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_engine::media::upload::UploadError;
use switchboard_engine::messaging::BodyError;
use switchboard_engine::store::buddies::BuddyError;

use crate::api::conference::ConferenceRefused;
use crate::api::room::Refused;
use crate::mailbox::{ImportError, MailboxError, SettingsError};
use crate::recording::RecordingError;
use crate::store::admin::conferences::ConferenceAdminError;
use crate::store::StoreError;

/// An answer other than success.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `WWW-Authenticate`, on a 401.
    challenge: Option<&'static str>,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
    /// Fields of the body after `code` and `message`.
    extra: Map<String, Value>,
}

/// The body as it goes out.
#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl ApiError {
    /// Any status; the constructors below name the usual ones.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
            extra: Map::new(),
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `unauthorized`, with the `WWW-Authenticate` challenge to answer.
    pub fn unauthorized(challenge: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            challenge: Some(challenge),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }

    /// 403.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 422.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 429, to be tried again after `retry_after_secs`.
    pub fn too_many_requests(
        code: &'static str,
        message: impl Into<String>,
        retry_after_secs: u64,
    ) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).retry_after(retry_after_secs)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Adds `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }

    /// Adds a field to the body, after `code` and `message`.
    pub fn with_field(mut self, name: &str, value: impl Serialize) -> ApiError {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.extra.insert(name.to_owned(), value);
        self
    }
}

/// The message alone: what actix-web logs of an error (for a body the JSON extractor refused,
/// the extractor's own words, as the log said before this type existed).
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(challenge) = self.challenge {
            resp.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        if let Some(secs) = self.retry_after {
            resp.insert_header((RETRY_AFTER, HeaderValue::from(secs)));
        }
        resp.json(Body {
            code: self.code,
            message: &self.message,
            extra: &self.extra,
        })
    }
}

/// A store read or write that failed: 500.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// The recorder could not carry out a request: 503 when its thread has stopped (shutdown),
/// else 500.
impl From<RecordingError> for ApiError {
    fn from(e: RecordingError) -> ApiError {
        match e {
            RecordingError::Stopped => ApiError::unavailable(e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// The blocking pool could not run the closure: 500.
impl From<BlockingError> for ApiError {
    fn from(e: BlockingError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// The store actor's mailbox is closed or full: 503.
impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> ApiError {
        ApiError::unavailable(e.to_string())
    }
}

/// A room refused the request: the status and code the room gives it (a rate-limited post
/// says when to try again).
impl From<Refused> for ApiError {
    fn from(r: Refused) -> ApiError {
        let (status, code, message) = r.http_status();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let e = ApiError::new(status, code, message);
        match r.retry_after() {
            Some(secs) => e.retry_after(secs),
            None => e,
        }
    }
}

/// A conference (its bridge, or the directory for one without a bridge) refused: 404
/// `no_such_conference` / `no_such_participant`, 409 `conference_full`, 503 when its mixer
/// is not running.
impl From<ConferenceRefused> for ApiError {
    fn from(r: ConferenceRefused) -> ApiError {
        let message = r.to_string();
        match r {
            ConferenceRefused::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_conference", message)
            }
            ConferenceRefused::NoParticipant => {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_participant", message)
            }
            ConferenceRefused::Full { .. } => ApiError::conflict("conference_full", message),
            ConferenceRefused::Mixer => ApiError::unavailable(message),
        }
    }
}

/// A conference's settings were not written: 409 `conference_exists` for a name stored
/// already, else the store failure.
impl From<ConferenceAdminError> for ApiError {
    fn from(e: ConferenceAdminError) -> ApiError {
        match e {
            ConferenceAdminError::Exists { .. } => {
                ApiError::conflict("conference_exists", e.to_string())
            }
            ConferenceAdminError::Store(e) => e.into(),
        }
    }
}

/// A buddy entry or list the limits refuse: 400 `bad_buddy`.
impl From<BuddyError> for ApiError {
    fn from(e: BuddyError) -> ApiError {
        ApiError::bad_request("bad_buddy", e.to_string())
    }
}

/// A message body the limits refuse: the status SIP would answer (413, 415 or 400),
/// `bad_message`.
impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> ApiError {
        let (code, reason) = e.status();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, "bad_message", reason)
    }
}

/// A mailbox operation failed: 507 `mailbox_full` for a full mailbox, 400 for an address
/// that cannot be a mailbox, else 500.
impl From<MailboxError> for ApiError {
    fn from(e: MailboxError) -> ApiError {
        match e {
            MailboxError::Full => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "mailbox_full",
                e.to_string(),
            ),
            MailboxError::BadMailbox(_) => ApiError::bad_request("bad_number", e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// An uploaded WAV file was not taken: 415 when it is no WAV file or audio of a kind not
/// taken, 413 when its audio is too long, 400 when it is empty, damaged or silent of samples.
impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> ApiError {
        let message = e.to_string();
        match e {
            UploadError::Empty => ApiError::bad_request("empty_body", message),
            UploadError::NotWav => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_wav", message)
            }
            UploadError::Unsupported(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_audio",
                message,
            ),
            UploadError::TooLong { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_long", message)
            }
            UploadError::NoAudio => ApiError::bad_request("no_audio", message),
            _ => ApiError::bad_request("bad_wav", message),
        }
    }
}

/// A message was not imported: 507 `mailbox_full` when the mailbox is at its limits or has
/// less room than the message needs, 413 `too_long`, 400 `too_short`.
impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> ApiError {
        let message = e.to_string();
        match e {
            ImportError::TooShort { .. } => ApiError::bad_request("too_short", message),
            ImportError::TooLong { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_long", message)
            }
            ImportError::Full { .. } | ImportError::NoRoom { .. } => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "mailbox_full", message)
            }
            ImportError::Mailbox(e) => e.into(),
        }
    }
}

/// Mailbox settings were not changed: 400 `bad_pin` for a PIN the rules refuse, 400
/// `nothing_to_change` for an empty change.
impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> ApiError {
        let message = e.to_string();
        match e {
            SettingsError::Pin(_) => ApiError::bad_request("bad_pin", message),
            SettingsError::Nothing => ApiError::bad_request("nothing_to_change", message),
            SettingsError::Mailbox(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn header(r: &HttpResponse, name: impl actix_web::http::header::AsHeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn body(e: &ApiError) -> String {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn the_body_is_code_then_message() {
        let e = ApiError::not_found("no such account");
        assert_eq!(
            body(&e),
            r#"{"code":"not_found","message":"no such account"}"#
        );
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&r, "content-type"), "application/json");
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(r.headers().get(RETRY_AFTER).is_none());
    }

    #[test]
    fn extra_fields_follow_the_message() {
        let e = ApiError::unprocessable("plugin_rejected", "syntax error")
            .with_field("running", serde_json::json!({"version": 3}));
        assert_eq!(
            body(&e),
            r#"{"code":"plugin_rejected","message":"syntax error","running":{"version":3}}"#
        );
    }

    #[test]
    fn a_401_carries_its_challenge_and_a_429_its_wait() {
        let r = ApiError::unauthorized("Basic realm=\"switchboard\"", "credentials required")
            .error_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&r, WWW_AUTHENTICATE), "Basic realm=\"switchboard\"");
        let r = ApiError::too_many_requests("too_many_attempts", "later", 60).error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&r, RETRY_AFTER), "60");
    }

    #[test]
    fn a_rate_limited_room_post_says_when_to_retry() {
        let refused = Refused::Room(switchboard_engine::chat::RoomError::RateLimited {
            retry_after: std::time::Duration::from_millis(1500),
        });
        let e = ApiError::from(refused);
        assert!(body(&e).starts_with(r#"{"code":"rate_limited","#));
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&r, RETRY_AFTER), "2", "whole seconds, rounded up");
    }

    #[test]
    fn a_refused_conference_request_names_what_is_missing() {
        let e = ApiError::from(ConferenceRefused::NotFound);
        assert_eq!(e.error_response().status(), StatusCode::NOT_FOUND);
        assert_eq!(
            body(&e),
            r#"{"code":"no_such_conference","message":"no such conference"}"#
        );
        let e = ApiError::from(ConferenceRefused::NoParticipant);
        assert!(body(&e).starts_with(r#"{"code":"no_such_participant","#));
        let e = ApiError::from(ConferenceRefused::Full { max: 2 });
        assert_eq!(e.error_response().status(), StatusCode::CONFLICT);
        let e = ApiError::from(ConferenceAdminError::Exists {
            name: "team".into(),
        });
        assert_eq!(e.error_response().status(), StatusCode::CONFLICT);
        assert_eq!(
            body(&e),
            r#"{"code":"conference_exists","message":"conference team exists"}"#
        );
        let e = ApiError::from(ConferenceAdminError::Store(StoreError::Io("gone".into())));
        assert_eq!(
            e.error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn a_store_failure_is_internal_and_a_closed_mailbox_unavailable() {
        let e = ApiError::from(StoreError::Io("disk gone".into()));
        assert_eq!(
            body(&e),
            r#"{"code":"internal","message":"store i/o error: disk gone"}"#
        );
        let r = ApiError::from(actix::MailboxError::Closed).error_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
