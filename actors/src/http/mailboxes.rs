//! Mailboxes over HTTP. For now only the test hook of message waiting, in debug builds:
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /v1/debug/mailboxes/{number}/changed` | admin, debug builds | `{"new","old","new_urgent"?,"old_urgent"?}`: 202 |
//!
//! It stands in for the mailbox store: the switch is handed the mailbox's new summary as the
//! store hands it (`api::mwi::MailboxChanged`), so the message-summary NOTIFYs can be tested
//! end to end before anything leaves messages. Release builds have no such route.

use actix_web::web;

/// The test hooks of this resource: debug builds only.
pub fn debug_routes(cfg: &mut web::ServiceConfig) {
    #[cfg(debug_assertions)]
    cfg.route(
        "/v1/debug/mailboxes/{number}/changed",
        web::post().to(debug::changed),
    );
    #[cfg(not(debug_assertions))]
    let _ = cfg;
}

#[cfg(debug_assertions)]
mod debug {
    use std::sync::Arc;

    use actix_web::{web, HttpRequest, HttpResponse};
    use serde::Deserialize;
    use switchboard_engine::voicemail::{MessageClass, MessageSummary};

    use super::super::auth;
    use super::super::error::ApiError;
    use crate::api::mwi::MailboxChanged;
    use crate::shared::Shared;

    /// A voice mailbox's counts (RFC 3842 §5.2 `new/old (new_urgent/old_urgent)`).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Counts {
        new: u32,
        old: u32,
        #[serde(default)]
        new_urgent: u32,
        #[serde(default)]
        old_urgent: u32,
    }

    /// The mailbox of `{number}` changed to these counts.
    pub async fn changed(
        req: HttpRequest,
        number: web::Path<String>,
        body: web::Json<Counts>,
        s: web::Data<Arc<Shared>>,
    ) -> Result<HttpResponse, ApiError> {
        auth::admin(&req, &s)?;
        let mailbox = s.plan.canonical(&number).map_err(|e| {
            ApiError::bad_request(
                "bad_number",
                format!("{:?} is not a phone number or name: {e}", number.as_str()),
            )
        })?;
        let mut summary = MessageSummary::voice(None, body.new, body.old);
        for (class, c) in &mut summary.lines {
            if *class == MessageClass::Voice {
                c.new_urgent = body.new_urgent;
                c.old_urgent = body.old_urgent;
            }
        }
        s.mailbox_changed(MailboxChanged { mailbox, summary });
        Ok(HttpResponse::Accepted().finish())
    }
}
