//! The store's copy of an Extension's bindings: written at once when they change, behind when
//! a refresh only moved their expiries (`registrar::write_behind`, `registrar.refresh_write_secs`),
//! and always before the Extension retires or stops and at shutdown, so the next Extension of
//! the address loads what this one knew. See "Durability" in ARCHITECTURE.md for what a crash
//! loses.

use std::time::Duration;

use actix::Context;
use tracing::warn;

use super::Extension;
use crate::clock::{now, unix_now};
use crate::store::StoreError;

impl Extension {
    /// Writes the bindings to the store now (sled applies it in memory; its flusher makes it
    /// durable within `store.flush_every_ms`).
    pub(super) fn write_bindings(&mut self) -> Result<(), StoreError> {
        let delta = self.shared.db.put_bindings(&self.aor, &self.bindings)?;
        self.shared.metrics.registrations.inc_by(delta);
        self.writes.handle_written(&self.bindings);
        Ok(())
    }

    /// A refresh was held back: it is written when due, unless something writes it sooner.
    pub(super) fn write_later(&mut self, ctx: &mut Context<Self>) {
        if self.write_timer.deadline().is_some() {
            return;
        }
        let Some(due) = self.writes.poll_timeout() else {
            return;
        };
        let at = now() + Duration::from_secs(due.saturating_sub(unix_now()));
        self.write_timer.set(
            ctx,
            Some(at),
            |a| &mut a.write_timer,
            |a, ctx| {
                if a.writes.handle_timeout(unix_now()) {
                    a.write_pending();
                } else {
                    // the wall clock and the actor clock disagree by a moment: look again
                    a.write_later(ctx);
                }
            },
        );
    }

    /// Writes a held-back refresh now, if there is one.
    pub(super) fn write_pending(&mut self) {
        if !self.writes.is_pending() {
            return;
        }
        if let Err(e) = self.write_bindings() {
            warn!(error = %e, "binding write failed");
        }
    }
}
