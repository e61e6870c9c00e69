//! State every signalling actor reads: configuration, identity, policy and the addresses of
//! the other actors. Built once at start-up; nothing in it is mutated on the hot path.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Addr;
use switchboard_engine::auth::{challenge_values, Nonces};
use switchboard_engine::numbering::{
    Aor, ClassifyCache, ClassifyError, Destination, NumberingPlan,
};
use switchboard_engine::proxy::{ContextConfig, Local};
use switchboard_engine::registrar::Policy;
use switchboard_engine::sip::digest::Algorithm;
use switchboard_engine::trunk::Trunks;
use switchboard_engine::txn::Timers;

use crate::config::Config;
use crate::directory::{Directory, ToExtension};
use crate::extension::ExtCommand;
use crate::metrics::Metrics;
use crate::plugin::PluginHost;
use crate::store::Store;
use crate::store_actor::StoreActor;
use crate::transport::{shard_of, Ingress, TcpHub};

pub struct Shared {
    pub config: Config,
    pub local: Arc<Local>,
    pub realm: String,
    pub plan: NumberingPlan,
    /// The routing plugins; each arbiter takes its router from here.
    pub plugins: Arc<PluginHost>,
    pub trunks: Trunks,
    pub nonces: Nonces,
    pub metrics: Arc<Metrics>,
    pub ingress: Arc<Ingress>,
    pub tcp: Arc<TcpHub>,
    /// Administrative and blocking store work (flush, sweeps, account changes).
    pub store: Addr<StoreActor>,
    /// Direct store access for Extensions: reads and written-behind inserts, which sled
    /// serves from memory without blocking (its own thread fsyncs).
    pub db: Store,
    pub directories: OnceLock<Vec<Addr<Directory>>>,
    /// The per-arbiter directories of chat rooms.
    pub rooms: OnceLock<Vec<Addr<crate::chat_room::RoomDirectory>>>,
    /// The durable message queues (reads here, writes through their writer thread).
    pub queue: crate::message_queue::MessageQueue,
    /// Notices to offline numbers and password-reset codes.
    pub notifications: OnceLock<Addr<crate::notifications::Notifications>>,
    /// Presence subscriptions each watcher holds (taken at subscription start, given back at
    /// its end; a lock touched only then).
    pub watching: std::sync::Mutex<rustc_hash::FxHashMap<Aor, u32>>,
    pub context: ContextConfig,
    pub policy: Policy,
    pub algorithms: Vec<Algorithm>,
}

impl Shared {
    pub fn auth_enabled(&self) -> bool {
        self.config.auth.enabled
    }

    /// Whether a message to `aor`, which has an account or not, may be kept for it: always for
    /// an account (and for anyone in lab mode without authentication), and for a phone number
    /// of ours that may get a dynamic account.
    pub fn may_queue_for(&self, aor: &Aor, account: bool) -> bool {
        account || !self.auth_enabled() || self.allows_dynamic(aor)
    }

    /// Whether a message or call to `aor` without an account makes a dynamic one.
    pub fn allows_dynamic(&self, aor: &Aor) -> bool {
        self.auth_enabled() && self.config.accounts.dynamic && self.plan.allows_dynamic_account(aor)
    }

    /// Tells the Notifications actor that a message was queued for an offline number.
    pub fn notify_queued(&self, q: crate::notifications::Queued) {
        if q.aor.kind() != switchboard_engine::numbering::AorKind::E164 {
            // names and extensions have no phone to send an SMS to
            self.metrics
                .notifications
                .get_or_create(&crate::metrics::OutcomeLabel {
                    outcome: "no_phone",
                })
                .inc();
            return;
        }
        if let Some(n) = self.notifications.get() {
            n.do_send(q);
        }
    }

    /// Takes one of `watcher`'s subscription slots; false when it holds its maximum.
    pub fn take_watch_slot(&self, watcher: &Aor) -> bool {
        let max = self.config.presence.max_subscriptions_per_watcher;
        let mut m = self.watching.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(watcher.clone()).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// Gives back a slot `take_watch_slot` took.
    pub fn give_watch_slot(&self, watcher: &Aor) {
        let mut m = self.watching.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(watcher) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(watcher);
            }
        }
    }

    /// Sends a command to the Extension actor of `aor` (started on demand by its directory).
    pub fn to_extension(&self, aor: Aor, cmd: ExtCommand) {
        if let Some(dirs) = self.directories.get() {
            let shard = shard_of(aor.as_str(), dirs.len());
            dirs[shard].do_send(ToExtension { aor, cmd });
        }
    }

    /// Sends a command to the ChatRoom actor of `room` (started on demand by its directory).
    pub fn to_room(
        &self,
        room: switchboard_engine::chat::RoomName,
        cmd: crate::chat_room::RoomCommand,
    ) {
        if let Some(dirs) = self.rooms.get() {
            let shard = shard_of(room.as_str(), dirs.len());
            dirs[shard].do_send(crate::chat_room::ToRoom { room, cmd });
        }
    }

    /// Whether a From host names this switch, so the caller must be one of our subscribers
    /// and authenticate.
    pub fn is_our_host(&self, host: &str) -> bool {
        self.local.is_our_host(host)
    }

    /// `plan.classify(input)` through this thread's memo: callers dial the same numbers over
    /// and over, and a phone-number parse costs microseconds. The switch has one plan for its
    /// whole life, so one memo per signalling thread serves it.
    pub fn classify(&self, input: &str) -> Result<Destination, ClassifyError> {
        thread_local! {
            static MEMO: std::cell::RefCell<ClassifyCache> =
                std::cell::RefCell::new(ClassifyCache::new(16_384));
        }
        MEMO.with(|m| m.borrow_mut().classify(&self.plan, input))
    }

    /// Challenge header values with a fresh nonce (the same for every user at a given time).
    pub fn challenge(&self, stale: bool) -> Vec<String> {
        let nonce = self.nonces.issue(unix_now());
        challenge_values(&self.realm, &nonce, stale, &self.algorithms)
    }

    pub fn context_config(config: &Config) -> ContextConfig {
        ContextConfig {
            timers: Timers::default(),
            ring_timeout: Duration::from_secs(config.calls.ring_timeout_secs),
        }
    }
}

/// Seconds since the Unix epoch (bindings outlive the process, so they use wall time).
/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The current instant on the actor clock (tokio's, so paused-clock tests work).
pub fn now() -> std::time::Instant {
    actix::clock::Instant::now().into_std()
}

/// Runs `f`, turning a panic into a logged, counted failure so one bad message cannot take
/// down the arbiter that handles thousands of others. Returns `None` after a panic.
pub fn guarded<R>(
    what: &'static str,
    metrics: &crate::metrics::Metrics,
    f: impl FnOnce() -> R,
) -> Option<R> {
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
