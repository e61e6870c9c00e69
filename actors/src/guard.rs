//! Failure containment at handler boundaries: a panic while handling one message is logged,
//! counted and turned into `None`, so one bad message cannot take down the arbiter thread
//! that handles thousands of others (actix supervision restarts stopped actors, but a panic
//! unwinds the arbiter itself).

use crate::metrics::Metrics;

/// Runs `f`; after a panic, logs and counts it under `what` and returns `None`.
pub fn guarded<R>(what: &'static str, metrics: &Metrics, f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(_) => {
            tracing::error!(
                what,
                "internal failure while handling a message; it was dropped"
            );
            metrics.dropped("internal failure");
            None
        }
    }
}
