//! Keeping a MESSAGE (RFC 3428) in its number's durable queue, for whoever carries the request
//! (the workers' relay, `worker::pager`, or a CallLeg, `call_leg::message`): the stored record
//! built from the request, the abuse limits of a number nobody signed up, the hand-over to the
//! queue writer, and what follows its answer (the status for the sender, the delivery or the
//! SMS notice, the Extension told of a dynamic account).
//!
//! Guarantees: the answer the sender hears is 202 only when the writer's group commit put the
//! message on disk; a refusal of the queue (its caps), a limit or an unavailable store is
//! answered, never dropped.

use std::net::IpAddr;

use switchboard_engine::messaging::{wire, StoredMessage};
use switchboard_engine::numbering::Aor;
use switchboard_engine::sip::{HeaderName, Message as SipMessage};
use tokio::sync::oneshot;
use tracing::debug;

use crate::api::extension::ExtCommand;
use crate::api::notifications::Queued;
use crate::clock::unix_now;
use crate::metrics::OutcomeLabel;
use crate::shared::Shared;
use crate::store::writer::{DynamicAccount, Enqueue, EnqueueResult, Reply};

/// A message handed to the writer, and what its answer sets off.
pub struct Kept {
    aor: Aor,
    /// A device is registered: it gets the message from the queue's delivery.
    online: bool,
    sender: String,
    text: Option<String>,
}

/// A status line for the sender.
pub struct Answer {
    pub code: u16,
    pub reason: &'static str,
    /// The `Message-ID` of a stored message, or a `Retry-After` (seconds) of a refusal.
    pub header: Option<(&'static str, String)>,
}

/// Hands the MESSAGE `req` for `aor` (`account`: it has one) from `caller` at `source` to the
/// queue writer; the writer's answer goes to `reply`, to be read with `answered`. Past an
/// abuse limit nothing is queued and the answer is now: 503 Too Many Messages.
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    shared: &Shared,
    req: &SipMessage,
    caller: Option<&Aor>,
    aor: &Aor,
    account: bool,
    source: IpAddr,
    online: bool,
    reply: Reply,
) -> Result<Kept, Answer> {
    let sender = shared.sender_of(req, caller);
    let message = StoredMessage {
        id: String::new(),
        from: req
            .header(HeaderName::From)
            .map(wire::without_tag)
            .unwrap_or_default(),
        sender: sender.clone(),
        content_type: req
            .header(HeaderName::ContentType)
            .unwrap_or("text/plain")
            .to_owned(),
        body: req.body().to_vec(),
        accepted_unix_ms: crate::clock::unix_now_ms(),
        expires_unix: 0,
    };
    if let Err(r) = shared.admit_stored(Some(source), aor, account) {
        // an abuse limit: the sender may try again later
        count(shared, "refused_abuse");
        return Err(Answer {
            code: 503,
            reason: "Too Many Messages",
            header: Some(("Retry-After", r.retry_after_secs().to_string())),
        });
    }
    let text = message.text().map(str::to_owned);
    let dynamic = (!account && shared.allows_dynamic(aor)).then(|| DynamicAccount {
        realm: shared.realm.clone(),
        expires_unix: unix_now() + shared.config.accounts.dynamic_expiry_days * 86_400,
    });
    shared.queue.enqueue(Enqueue {
        aor: aor.clone(),
        message,
        dynamic,
        reply,
    });
    let kept = Kept {
        aor: aor.clone(),
        online,
        sender,
        text,
    };
    Ok(kept)
}

/// The writer answered `res` for `kept`: the status for the sender. A stored message is
/// delivered now when a device is registered, else announced (SMS notice); a dynamic account
/// made with it is announced to its Extension.
pub fn answered(
    shared: &Shared,
    kept: Kept,
    res: Result<EnqueueResult, oneshot::error::RecvError>,
) -> Answer {
    match res {
        Ok(Ok(accepted)) => {
            debug!(number = %kept.aor.redacted(), seq = accepted.seq, "message stored");
            if accepted.dynamic_created {
                shared.to_extension(kept.aor.clone(), ExtCommand::AccountChanged);
            }
            if kept.online {
                shared.to_extension(kept.aor, ExtCommand::Deliver);
            } else {
                shared.notify_queued(Queued {
                    aor: kept.aor,
                    sender: kept.sender,
                    text: kept.text,
                });
            }
            Answer {
                code: 202,
                reason: "Accepted",
                header: Some((wire::MESSAGE_ID, accepted.id)),
            }
        }
        Ok(Err(refusal)) => Answer {
            code: refusal.code,
            reason: refusal.reason,
            // the store is busy (`messaging.max_pending`): a second later it may not be
            header: (refusal.code == 503).then(|| ("Retry-After", "1".to_owned())),
        },
        Err(_) => Answer {
            code: 503,
            reason: "Message Store Unavailable",
            header: None,
        },
    }
}

/// Counts a message's outcome (`switchboard_messages_total{outcome}`).
pub fn count(shared: &Shared, outcome: &'static str) {
    shared
        .metrics
        .messages
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}
