//! What every signalling actor reads: configuration, identity and policy, the store's
//! handles, and where to send what another actor must do (recipients per arbiter, and the
//! helpers that pick the arbiter). Built once at start-up; nothing in it is mutated on the
//! hot path.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Recipient;
use switchboard_engine::auth::{challenge_values, Nonces};
use switchboard_engine::event::Registry;
use switchboard_engine::numbering::{
    Aor, ClassifyCache, ClassifyError, Destination, NumberingPlan,
};
use switchboard_engine::proxy::{ContextConfig, Local};
use switchboard_engine::registrar::Policy;
use switchboard_engine::sip::digest::Algorithm;
use switchboard_engine::trunk::Trunks;
use switchboard_engine::txn::Timers;
use switchboard_engine::voicemail::MessageSummary;

use crate::api::conference::{ConferencesHandle, ToConference};
use crate::api::extension::{ExtCommand, ToExtension};
use crate::api::mwi::{no_messages, MailboxChanged, MailboxSummary};
use crate::api::notifications::{NotificationsHandle, Queued};
use crate::api::room::{RoomCommand, ToRoom};
use crate::config::Config;
use crate::media::MediaPlane;
use crate::metrics::Metrics;
use crate::ownership::shard_of;
use crate::plugin::PluginHost;
use crate::recording::Recorder;
use crate::store::api::StoreHandle;
use crate::store::writer::{MessageQueue, SweepReport};
use crate::store::Store;
use crate::transport::{Ingress, TcpHub, Transports};

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
    /// Flood bans and abuse limits.
    pub security: Arc<crate::security::Security>,
    /// Administrative and blocking store work (flush, sweeps, account changes).
    pub store: StoreHandle,
    /// Direct store access for Extensions: reads and written-behind inserts, which sled
    /// serves from memory without blocking (its own thread fsyncs).
    pub db: Store,
    /// The per-arbiter directories of Extensions, by shard.
    pub directories: OnceLock<Vec<Recipient<ToExtension>>>,
    /// The same directories, as the takers of mailbox changes (`mailbox_changed`).
    pub mwi_directories: OnceLock<Vec<Recipient<MailboxChanged>>>,
    /// The mailbox store's answer to "what does this mailbox hold" (`api::mwi`); while unset,
    /// every mailbox is empty.
    pub mailbox_store: OnceLock<Recipient<MailboxSummary>>,
    /// The event packages SUBSCRIBE may name (presence when `[presence] enabled`,
    /// message-summary always).
    pub events: Registry,
    /// The per-arbiter directories of chat rooms, by shard.
    pub rooms: OnceLock<Vec<Recipient<ToRoom>>>,
    /// The conference directory (one, owning every bridge and the mixer thread).
    pub conferences: OnceLock<ConferencesHandle>,
    /// Where the switch's own calls start (by worker): a chat room's `/call`, a voice notice.
    pub dialers: OnceLock<Vec<crate::api::worker::Dialer>>,
    /// What dials a conference (`conf-<name>`, the configured numbers).
    pub conference_addresses: switchboard_engine::conference::Addresses,
    /// The send handle of each worker's arbiter, by shard (set when the worker starts).
    pub transports: Vec<OnceLock<Transports>>,
    /// The durable message queues (reads here, writes through their writer thread).
    pub queue: MessageQueue,
    /// Each number's account and bindings as its Extension knows them (written by the
    /// Extension alone), for a MESSAGE to find the devices without asking it.
    pub locations: crate::locations::Locations,
    /// Notices to offline numbers and password-reset codes.
    pub notifications: OnceLock<NotificationsHandle>,
    /// Text messages read out to landlines.
    pub voice_notices: OnceLock<crate::api::voice_notices::VoiceNoticesHandle>,
    /// The live calls, for the HTTP API.
    pub calls: crate::calls::Calls,
    /// The per-day call tallies (the CDR writer's hook `record`, the analytics API).
    pub analytics: crate::analytics::Analytics,
    /// Call detail records: where each call's record goes when it ends, and the log.
    pub cdrs: crate::cdr::Cdrs,
    /// The tariff tables rating off-net calls.
    pub tariffs: Arc<crate::tariffs::TariffHost>,
    /// Billing accounts, balances and the credit calls hold.
    pub billing: Arc<crate::billing::Billing>,
    /// The number shop (set when the HTTP API starts): a removed account's sold number goes
    /// back on sale through it.
    pub number_shop: OnceLock<Arc<crate::number_shop::NumberShop>>,
    /// Call recording: `start` gives a call's media session its tap; the recordings' records
    /// are read from `db`.
    pub recorder: Recorder,
    /// Presence subscriptions each watcher holds (taken at subscription start, given back at
    /// its end; a lock touched only then).
    pub watching: std::sync::Mutex<rustc_hash::FxHashMap<Aor, u32>>,
    /// The voicemail mailboxes: messages, greetings, settings, the change feed; blocking on
    /// writes, so those are made off the actor threads.
    pub mailboxes: crate::mailbox::Mailboxes,
    /// The message writer thread: messages being left are written through it.
    pub deposits: crate::mailbox::Writer,
    /// The media threads: RTP ports and sessions of anchored calls.
    pub media: MediaPlane,
    /// Free text to audio (`[voicemail] tts`); blocking, so called off the actor threads.
    pub speech: Arc<dyn crate::prompts::speech::Speech>,
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

    /// The abuse limits of a message from `source` about to be stored for `to` (`account`:
    /// `to` has one): a number nobody signed up (no account, or a dynamic one nobody claimed)
    /// takes from the quotas of unregistered messages, and one that gets its dynamic account
    /// now from its source's quota of dynamic accounts.
    pub fn admit_stored(
        &self,
        source: Option<std::net::IpAddr>,
        to: &Aor,
        account: bool,
    ) -> Result<(), crate::security::Refused> {
        let unclaimed = !account || self.db.dynamic(to).ok().flatten().is_some();
        if !unclaimed {
            return Ok(());
        }
        self.security.abuse.unregistered_message(source, to)?;
        if !account && self.allows_dynamic(to) {
            self.security.abuse.dynamic_account(source)?;
        }
        Ok(())
    }

    /// Whether a message or call to `aor` without an account makes a dynamic one.
    pub fn allows_dynamic(&self, aor: &Aor) -> bool {
        self.auth_enabled() && self.config.accounts.dynamic && self.plan.allows_dynamic_account(aor)
    }

    /// Tells the Notifications actor that a message was queued for an offline number.
    pub fn notify_queued(&self, q: Queued) {
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
            n.queued.do_send(q);
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

    /// Account `aor` was removed (HTTP or the control socket): the messages waiting for it go
    /// with it, a running Extension forgets its credentials, and a number sold as it goes back
    /// on sale after its quarantine (written off the caller's thread).
    pub fn account_removed(&self, aor: Aor) {
        self.queue.purge(aor.clone());
        self.to_extension(aor.clone(), ExtCommand::AccountChanged);
        if let Some(shop) = self.number_shop.get().cloned() {
            std::thread::spawn(move || {
                if let Err(e) = shop.release_account(&aor) {
                    tracing::warn!(error = %e, "sold number not released");
                }
            });
        }
    }

    /// Sends a command to the Extension actor of `aor` (started on demand by its directory).
    pub fn to_extension(&self, aor: Aor, cmd: ExtCommand) {
        if let Some(dirs) = self.directories.get() {
            let shard = shard_of(aor.as_str(), dirs.len());
            dirs[shard].do_send(ToExtension { aor, cmd });
        }
    }

    /// Tells the Extension of a mailbox's owner that the mailbox changed (the seam of
    /// `api::mwi`): its devices hear of it within a second.
    pub fn mailbox_changed(&self, m: MailboxChanged) {
        if let Some(dirs) = self.mwi_directories.get() {
            let shard = shard_of(m.mailbox.as_str(), dirs.len());
            dirs[shard].do_send(m);
        }
    }

    /// What the mailbox of `mailbox` holds, asked of the mailbox store (no messages while no
    /// store is wired, or when it does not answer).
    pub fn mailbox_summary(
        &self,
        mailbox: Aor,
    ) -> impl std::future::Future<Output = MessageSummary> + 'static {
        let ask = self
            .mailbox_store
            .get()
            .map(|r| r.send(MailboxSummary { mailbox }));
        async move {
            match ask {
                Some(f) => f.await.unwrap_or_else(|_| no_messages()),
                None => no_messages(),
            }
        }
    }

    /// Whether a Request-URI's user part is the voicemail number (`[voicemail] number`).
    pub fn is_voicemail_number(&self, user: &str) -> bool {
        user == self.config.voicemail.number
    }

    /// Whether a Request-URI's user part is the voicemail access number (`[voicemail]
    /// access_number`): as dialed, or the same number by the numbering plan.
    pub fn is_voicemail_access_number(&self, user: &str) -> bool {
        let access = self.config.voicemail.access_number.as_str();
        if access.is_empty() {
            return false;
        }
        user == access
            || matches!(
                (self.plan.canonical(user), self.plan.canonical(access)),
                (Ok(a), Ok(b)) if a == b
            )
    }

    /// Sends a command to the ChatRoom actor of `room` (started on demand by its directory).
    pub fn to_room(&self, room: switchboard_engine::chat::RoomName, cmd: RoomCommand) {
        if let Some(dirs) = self.rooms.get() {
            let shard = shard_of(room.as_str(), dirs.len());
            dirs[shard].do_send(ToRoom { room, cmd });
        }
    }

    /// Sends a command to the bridge of conference `name` (its directory starts one for a
    /// caller, and answers the API itself for a conference no bridge runs for).
    pub fn to_conference(
        &self,
        name: switchboard_engine::conference::ConferenceName,
        cmd: crate::api::conference::ConferenceCommand,
    ) {
        if let Some(c) = self.conferences.get() {
            c.command.do_send(ToConference { name, cmd });
        }
    }

    /// The switch calls `member` into conference `conference`, from the worker that will own
    /// the call's Call-ID.
    pub fn dial_out(
        &self,
        member: Aor,
        conference: switchboard_engine::conference::ConferenceName,
    ) {
        let Some(dialers) = self.dialers.get() else {
            return;
        };
        let token: u64 = rand::random();
        let call_id: Box<str> = format!("dial-{token:016x}@{}", self.local.host).into();
        let shard = shard_of(&call_id, dialers.len());
        dialers[shard]
            .dial_out
            .do_send(crate::api::worker::DialOut {
                call_id,
                member,
                conference,
            });
    }

    /// Whether a text message to a landline is read out by a call (a speech backend is
    /// configured) rather than sent to the trunk as a MESSAGE.
    pub fn reads_out_to_landlines(&self) -> bool {
        self.config.voicemail.tts() != crate::config::Tts::None
            && self.voice_notices.get().is_some()
    }

    /// The switch places call `call` of a voice notice, from the worker that will own its
    /// Call-ID; false before the workers run.
    pub fn place_notice(&self, call: crate::api::voice_notices::NoticeCallSpec) -> bool {
        let Some(dialers) = self.dialers.get() else {
            return false;
        };
        let token: u64 = rand::random();
        let call_id: Box<str> = format!("notice-{token:016x}@{}", self.local.host).into();
        let shard = shard_of(&call_id, dialers.len());
        dialers[shard]
            .notice
            .do_send(crate::api::worker::PlaceNotice { call_id, call });
        true
    }

    /// How many signalling workers (and arbiters) there are.
    pub fn shards(&self) -> usize {
        self.transports.len().max(1)
    }

    /// The send handle of worker `shard`'s arbiter, once that worker runs.
    pub fn transports(&self, shard: usize) -> Option<Transports> {
        self.transports.get(shard)?.get().cloned()
    }

    /// Called by worker `shard` when it has its socket.
    pub fn set_transports(&self, shard: usize, t: Transports) {
        if let Some(slot) = self.transports.get(shard) {
            let _ = slot.set(t);
        }
    }

    /// Removes expired messages and unclaimed dynamic accounts as of `now`; the Extensions
    /// of removed accounts forget them.
    pub async fn sweep_messages(&self, now: u64) -> SweepReport {
        let report = self.queue.sweep(now).await;
        for number in &report.expired_accounts {
            let aor = Aor::from_canonical(number);
            self.to_extension(aor, ExtCommand::AccountChanged);
        }
        report
    }

    /// Whether a From host names this switch, so the caller must be one of our subscribers
    /// and authenticate.
    pub fn is_our_host(&self, host: &str) -> bool {
        self.local.is_our_host(host)
    }

    /// The sender of a text as people read it: the authenticated `caller`, a number of ours,
    /// or the From URI's user@host.
    pub fn sender_of(
        &self,
        req: &switchboard_engine::sip::Message,
        caller: Option<&Aor>,
    ) -> String {
        if let Some(c) = caller {
            return c.to_string();
        }
        let Some(from) = req.from() else {
            return "unknown".into();
        };
        let uri = from.uri();
        let user = uri.user_unescaped();
        let ours =
            uri.scheme() == switchboard_engine::sip::Scheme::Tel || self.is_our_host(uri.host());
        let Some(u) = user else {
            return uri.host().to_owned();
        };
        match self.plan.canonical(&u) {
            // a number reads the same from any network; a name is ours only from our domain
            Ok(a) if ours || a.kind() == switchboard_engine::numbering::AorKind::E164 => {
                a.to_string()
            }
            _ if ours => u.into_owned(),
            _ => format!("{u}@{}", uri.host()),
        }
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
        let nonce = self.nonces.issue(crate::clock::unix_now());
        challenge_values(&self.realm, &nonce, stale, &self.algorithms)
    }

    pub fn context_config(config: &Config) -> ContextConfig {
        ContextConfig {
            timers: Timers::default(),
            ring_timeout: Duration::from_secs(config.calls.ring_timeout_secs),
        }
    }
}
