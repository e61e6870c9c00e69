//! The orderly stop after SIGTERM or SIGINT: nothing acknowledged is lost. HTTP stops taking
//! requests, recordings and messages being left are finalized, the analytics saved, the
//! refreshes held back written and the store flushed, the media threads and arbiters stopped,
//! and the records of the calls the stop ended synced to their log.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, Arbiter, Recipient};
use tracing::error;

use crate::api::extension::WriteHeldBack;
use crate::shared::Shared;
use crate::store::actor::StoreActor;
use crate::store::api::Flush;

/// Runs the stop sequence; returns once the last record is synced (or its wait ran out).
pub(super) async fn stop(
    shared: &Arc<Shared>,
    store_actor: &Addr<StoreActor>,
    held_back: &[Recipient<WriteHeldBack>],
    arbiters: &[Arbiter],
    http: actix_web::dev::ServerHandle,
    control_socket: &Path,
) {
    http.stop(true).await;
    // recordings in progress are finalized (their calls end with the process)
    let r = shared.recorder.clone();
    let _ = tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(5))).await;
    // so are messages being left: kept with what they have
    let d = shared.deposits.clone();
    let _ = tokio::task::spawn_blocking(move || d.shutdown(Duration::from_secs(5))).await;
    let a = shared.analytics.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || a.save()).await {
        error!(error = %e, "analytics save failed at shutdown");
    }
    // refreshes the Extensions held back reach the store before its last flush
    for d in held_back {
        let _ = d.send(WriteHeldBack).await;
    }
    match store_actor.send(Flush).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => error!(error = %e, "final flush failed"),
        Err(e) => error!(error = %e, "store actor gone at shutdown"),
    }
    let _ = std::fs::remove_file(control_socket);
    shared.media.stop();
    for a in arbiters {
        a.stop();
    }
    // the records of the calls the stop ended reach the log before the process exits
    let c = shared.cdrs.clone();
    let _ = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(200));
        c.sync(Duration::from_secs(5))
    })
    .await;
}
