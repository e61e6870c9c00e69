//! The presence part of an Extension: it is the single writer of its number's presence
//! (publications and calls here, bindings in the registrar part) and keeps the number's
//! watchers. Every change is rendered once into a shared snapshot and sent to each allowed
//! watcher; the watchers' Subscription actors coalesce and send the NOTIFYs.

use std::sync::Arc;
use std::time::Duration;

use actix::Context;
use switchboard_engine::numbering::Aor;
use switchboard_engine::presence::pidf::{self, PresenceDoc};
use switchboard_engine::presence::presentity::{PublishError, PublishPolicy, PublishRequest};
use switchboard_engine::sip::{HeaderName, Message as SipMessage};
use switchboard_engine::store::Authorization;
use tracing::{debug, warn};

use super::watchers::{Watcher, MAX_PER_WATCHER};
use super::Extension;
use crate::api::extension::{PresenceNote, PublishReply, Snapshot, WatchReply, WatchRequest};
use crate::clock::unix_now;

/// Whether `watcher` may watch `owner`, asking the owner when it has an account.
fn authorize(ext: &Extension, watcher: &Aor, record: bool) -> Authorization {
    if *watcher == ext.aor || !ext.shared.auth_enabled() {
        // lab mode (authentication off): nobody's identity is checked, so nobody's presence
        // is kept from anyone
        return Authorization::Allowed;
    }
    if ext.account.is_none() {
        // nobody to ask: the same answer as for an owner who did not answer yet
        return Authorization::Unknown;
    }
    let r = if record {
        ext.shared.db.request_watch(&ext.aor, watcher)
    } else {
        ext.shared.db.may_watch(&ext.aor, watcher)
    };
    r.unwrap_or_else(|e| {
        warn!(error = %e, "watch authorization read failed");
        Authorization::Unknown
    })
}

impl Extension {
    fn entity(&self) -> String {
        format!("sip:{}@{}", self.aor, self.shared.local.domain)
    }

    /// The current state, rendered once per version.
    pub(super) fn snapshot(&mut self) -> Arc<Snapshot> {
        let now = unix_now();
        if let Some(s) = &self.presence.snapshot {
            if s.version == self.presence.presentity.version() {
                return s.clone();
            }
        }
        let doc = self
            .presence
            .presentity
            .view(&self.entity(), &self.bindings, now);
        let mut body = String::with_capacity(512);
        pidf::render(&doc, &mut body);
        let s = Arc::new(Snapshot {
            entity: self.aor.clone(),
            version: self.presence.presentity.version(),
            pidf: body,
            summary: self.presence.presentity.summary(&self.bindings, now),
        });
        self.presence.snapshot = Some(s.clone());
        s
    }

    pub(super) fn watch(&mut self, w: WatchRequest, ctx: &mut Context<Self>) -> WatchReply {
        // a binding may have expired unannounced: the new watcher gets the state as it is
        self.presence_changed(ctx);
        self.presence.watchers.retain(|x| x.to.connected());
        let same = self
            .presence
            .watchers
            .iter()
            .filter(|x| x.aor == w.watcher && !x.list)
            .count();
        // one watcher (a few devices) cannot take every slot of a presentity
        if self.presence.watchers.len() >= self.shared.config.presence.max_watchers
            || same >= MAX_PER_WATCHER
        {
            return WatchReply::Full;
        }
        let auth = if w.list {
            Authorization::Allowed
        } else {
            authorize(self, &w.watcher, true)
        };
        let allowed = auth == Authorization::Allowed;
        if auth == Authorization::Denied {
            return WatchReply::Denied;
        }
        self.presence.watchers.retain(|x| x.id != w.id);
        self.presence.watchers.push(Watcher {
            id: w.id,
            aor: w.watcher,
            to: w.to,
            list: w.list,
            allowed,
        });
        if self.presence.told.is_none() {
            self.presence.told = Some(self.told_view());
        }
        self.schedule_presence_timer(ctx);
        if allowed {
            WatchReply::Allowed(self.snapshot())
        } else {
            WatchReply::Pending
        }
    }

    /// The presence document as watchers see it now, without its version.
    fn told_view(&self) -> PresenceDoc {
        let mut view = self
            .presence
            .presentity
            .view(&self.entity(), &self.bindings, unix_now());
        view.version = None;
        view
    }

    pub(super) fn unwatch(&mut self, id: u64) {
        self.presence.watchers.retain(|x| x.id != id);
    }

    /// Something watchers may see changed: if it did, a new version to every allowed
    /// watcher.
    ///
    /// With nobody watching there is nobody to tell: the version moves on and nothing is kept
    /// (a registrar with 10,000 active numbers and no watchers kept a presence document per
    /// number, 3.7 MiB); what a watcher was told is set when the first one comes (`watch`).
    pub(super) fn presence_changed(&mut self, ctx: &mut Context<Self>) {
        if self.presence.watchers.is_empty() {
            self.presence.told = None;
            self.presence.snapshot = None;
            self.presence.presentity.bump();
            return self.schedule_presence_timer(ctx);
        }
        let view = self.told_view();
        if self.presence.told.as_ref() == Some(&view) {
            return self.schedule_presence_timer(ctx);
        }
        self.presence.told = Some(view);
        self.presence.presentity.bump();
        self.presence.watchers.retain(|x| x.to.connected());
        if self.presence.watchers.iter().any(|w| w.allowed && !w.list) {
            let s = self.snapshot();
            for w in self
                .presence
                .watchers
                .iter()
                .filter(|w| w.allowed && !w.list)
            {
                w.to.do_send(PresenceNote::State(s.clone()));
            }
        } else {
            self.presence.snapshot = None;
        }
        self.schedule_presence_timer(ctx);
    }

    /// Bindings were refreshed (only their expiries moved): watchers see the same, only the
    /// wake-up at the next binding expiry moves.
    pub(super) fn presence_refreshed(&mut self, ctx: &mut Context<Self>) {
        if !self.presence.watchers.is_empty() {
            self.schedule_presence_timer(ctx);
        }
    }

    /// Wakes at the next binding or publication expiry while anyone watches or publishes.
    pub(super) fn schedule_presence_timer(&mut self, ctx: &mut Context<Self>) {
        let now = unix_now();
        let bindings = if self.presence.watchers.is_empty() {
            None
        } else {
            self.bindings
                .iter()
                .map(|b| b.expires_at)
                .filter(|e| *e > now)
                .min()
        };
        let at = [bindings, self.presence.presentity.next_expiry()]
            .into_iter()
            .flatten()
            .min();
        // expiries are wall-clock seconds: due a moment after the second they name
        let at = at.map(|at| {
            crate::clock::now()
                + Duration::from_secs(at.saturating_sub(now))
                + Duration::from_millis(50)
        });
        self.presence
            .timer
            .set(ctx, at, |a| &mut a.presence.timer, Self::on_presence_timer);
    }

    /// A publication or a binding expired: watchers hear of it if it shows.
    fn on_presence_timer(&mut self, ctx: &mut Context<Self>) {
        self.presence.presentity.expire(unix_now());
        self.presence_changed(ctx);
    }

    /// A PUBLISH for this number (RFC 3903), from this number's own device.
    pub(super) fn publish(&mut self, req: &SipMessage, ctx: &mut Context<Self>) -> PublishReply {
        #[cfg(debug_assertions)]
        if req.header_by_name("X-Switchboard-Fault") == Some("panic") {
            // fault injection for the supervision test; compiled out of release builds
            panic!("injected fault");
        }
        let now = unix_now();
        if self.shared.auth_enabled() {
            use switchboard_engine::auth::AuthOutcome;
            match self.verify(req, HeaderName::ProxyAuthorization, now) {
                AuthOutcome::Authenticated { .. } => {}
                AuthOutcome::Challenge { stale } => return PublishReply::Challenge { stale },
                AuthOutcome::Forbidden => return PublishReply::Forbidden,
            }
        }
        let p = &self.shared.config.presence;
        let policy = PublishPolicy {
            min_expires: p.min_expires_secs,
            default_expires: p.publish_default_expires_secs,
            max_expires: p.publish_max_expires_secs,
            max_publications: 8,
        };
        let body = req.body();
        let request = PublishRequest {
            if_match: req.header_by_name("SIP-If-Match").map(str::trim),
            expires: req.expires(),
            content_type: req.header(HeaderName::ContentType),
            body,
        };
        let etag = self.etags.token(16);
        match self
            .presence
            .presentity
            .publish(now, &request, &policy, &etag)
        {
            Ok(done) => {
                debug!(number = %self.aor.redacted(), expires = done.expires, "publication accepted");
                if done.changed {
                    self.presence_changed(ctx);
                } else {
                    self.schedule_presence_timer(ctx);
                }
                PublishReply::Ok {
                    etag: done.etag,
                    expires: done.expires,
                }
            }
            Err(e) => {
                let min_expires = match e {
                    PublishError::TooBrief { min } => Some(min),
                    _ => None,
                };
                PublishReply::Error {
                    code: e.status(),
                    reason: e.to_string(),
                    min_expires,
                }
            }
        }
    }

    /// A call of this number went up or down: `on-the-phone` while any is up.
    pub(super) fn call_state(
        &mut self,
        call: u64,
        up: bool,
        note: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let changed = if up {
            self.presence.presentity.call_up_with(call, note)
        } else {
            self.presence.presentity.call_down(call)
        };
        if changed {
            self.presence_changed(ctx);
        }
    }

    /// Who may watch this number changed: allow the newly allowed, end the withdrawn.
    pub(super) fn authorization_changed(&mut self) {
        let mut i = 0;
        while i < self.presence.watchers.len() {
            let (aor, list, allowed) = {
                let w = &self.presence.watchers[i];
                (w.aor.clone(), w.list, w.allowed)
            };
            if list {
                i += 1;
                continue;
            }
            match authorize(self, &aor, false) {
                Authorization::Allowed if !allowed => {
                    let s = self.snapshot();
                    let w = &mut self.presence.watchers[i];
                    w.allowed = true;
                    w.to.do_send(PresenceNote::Allowed(s));
                }
                Authorization::Allowed | Authorization::Pending => {}
                Authorization::Unknown if !allowed => {}
                Authorization::Denied | Authorization::Unknown => {
                    let w = self.presence.watchers.remove(i);
                    w.to.do_send(PresenceNote::Withdrawn {
                        entity: self.aor.clone(),
                    });
                    continue;
                }
            }
            i += 1;
        }
    }

    /// The Extension stops: its watchers hear so (a subscription ends `deactivated` and its
    /// phone subscribes again; a list watches the buddy again).
    pub(super) fn presence_stopped(&mut self) {
        for w in self.presence.watchers.drain(..) {
            w.to.do_send(PresenceNote::Deactivated {
                entity: self.aor.clone(),
            });
        }
    }

    /// This number's buddy list changed: its list subscriptions reread it.
    pub(super) fn buddies_changed(&mut self) {
        for w in self.presence.watchers.iter().filter(|w| w.list) {
            w.to.do_send(PresenceNote::ListChanged);
        }
    }
}
