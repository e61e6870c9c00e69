//! What an Extension keeps of its number's presence: the presentity (publications, calls),
//! the watchers and what they were last told. The presence part of the Extension
//! (`presence`) is its only writer.

use std::sync::Arc;

use actix::Recipient;
use switchboard_engine::numbering::Aor;
use switchboard_engine::presence::pidf::PresenceDoc;
use switchboard_engine::presence::presentity::Presentity;

use crate::api::extension::{PresenceNote, Snapshot};
use crate::clock::Timer;

/// Subscriptions one watcher may hold on one presentity (its devices, each subscribing).
pub(super) const MAX_PER_WATCHER: usize = 16;

pub(super) struct Watcher {
    pub(super) id: u64,
    pub(super) aor: Aor,
    pub(super) to: Recipient<PresenceNote>,
    pub(super) list: bool,
    pub(super) allowed: bool,
}

/// The presence state an Extension keeps.
#[derive(Default)]
pub(super) struct PresenceState {
    pub(super) presentity: Presentity,
    pub(super) watchers: Vec<Watcher>,
    pub(super) snapshot: Option<Arc<Snapshot>>,
    pub(super) timer: Timer,
    /// What watchers were last told (without its version): a REGISTER refresh or a
    /// republication that changes nothing visible sends no NOTIFY.
    pub(super) told: Option<PresenceDoc>,
}

impl PresenceState {
    /// Versions start from the clock (milliseconds), above any an earlier Extension of the
    /// number gave.
    pub(super) fn new() -> PresenceState {
        PresenceState {
            presentity: Presentity::starting_at(crate::clock::unix_now_ms()),
            ..PresenceState::default()
        }
    }

    /// Whether presence keeps the Extension alive (watchers, publications or a call).
    pub(super) fn is_busy(&self) -> bool {
        !self.watchers.is_empty()
            || !self.presentity.publications().is_empty()
            || self.presentity.on_the_phone()
    }
}
