//! The switch's periodic housekeeping, each on its own timer on the system's arbiter: expired
//! bindings and registrations swept from the store, expired queued messages swept, and the
//! analytics' changed days saved (off the actor threads).

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use tracing::error;

use crate::shared::Shared;
use crate::store::actor::StoreActor;
use crate::store::api::Sweep;

/// Starts the timers; they run until the system stops.
pub(super) fn spawn(shared: &Arc<Shared>, store_actor: Addr<StoreActor>) {
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            store_actor.do_send(Sweep);
        }
    });
    let s = shared.clone();
    actix_rt::spawn(async move {
        let every = Duration::from_secs(s.config.messaging.sweep_every_secs);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            s.sweep_messages(crate::clock::unix_now()).await;
        }
    });
    let a = shared.analytics.clone();
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(crate::analytics::SAVE_EVERY);
        loop {
            tick.tick().await;
            let a = a.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || a.save()).await {
                error!(error = %e, "analytics save failed");
            }
        }
    });
}
