//! Start-up and shutdown of the switch: store, recordings, mailboxes, sockets, media threads, arbiters,
//! actors, HTTP, control socket, signals. Everything that can fail for an operator reason (a
//! port in use, an RTP address that is not this host's, a locked or unreadable data
//! directory, a configured text-to-speech program that is not installed) fails here, before
//! anything runs, with one clear line.

mod periodic;
mod shutdown;
mod signals;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::{Actor, Arbiter, SyncArbiter};
use switchboard_engine::auth::Nonces;
use switchboard_engine::flow::Transport;
use switchboard_engine::proxy::Local;
use tracing::{info, warn};

use crate::api::extension::WriteHeldBack;
use crate::api::notifications::NotificationsHandle;
use crate::api::voice_notices::VoiceNoticesHandle;
use crate::chat_room::directory::RoomDirectory;
use crate::config::Config;
use crate::extension::directory::Directory;
use crate::mailbox::{self, MailboxLimits, Mailboxes};
use crate::media::{MediaError, MediaPlane};
use crate::metrics::Metrics;
use crate::notifications::Notifications;
use crate::plugin::{self, PluginHost};
use crate::prompts::speech::{self, Speech, SpeechError};
use crate::prompts::PromptSet;
use crate::recording::{self, Recorder};
use crate::shared::Shared;
use crate::store::actor::StoreActor;
use crate::store::api::StoreHandle;
use crate::store::writer::{MessageQueue, WriterConfig};
use crate::store::{Store, StoreError};
use crate::transport::tcp::{self, TcpHub, TcpLimits};
use crate::transport::tls::TlsContext;
use crate::transport::{spread, udp, Ingress};
use crate::voice_notices::VoiceNotices;
use crate::worker::Worker;
use crate::{control, http};
use signals::wait_for_signal;
use switchboard_engine::messaging::QueueLimits;

/// Why the switch could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen for SIP/{proto} on {addr}: {source}")]
    Sip {
        proto: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("routing plugins: {0}")]
    Plugins(#[from] crate::plugin::PluginError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error(transparent)]
    Mailbox(#[from] crate::mailbox::MailboxError),
    #[error(transparent)]
    Speech(#[from] SpeechError),
    #[error(transparent)]
    Tls(#[from] crate::transport::tls::TlsError),
    #[error("cannot start: {0}")]
    Runtime(String),
}

/// Runs the switch until SIGTERM or SIGINT.
pub fn run(config: Config) -> Result<(), ServeError> {
    // the configured synthesizer runs, or the start stops here, naming what to install
    let speech = speech::select(config.voicemail.tts())?;
    let store = Store::open(
        &config.data.dir,
        config.store.flush_every_ms,
        config.store.cache_capacity_mb,
    )?;
    // after the data directory: an error opening it stays the first line the operator reads
    info!(
        tts = %config.voicemail.tts,
        clips = PromptSet::embedded_count(),
        "prompts and speech ready"
    );
    let realm = store.realm(&config.sip.domain)?;
    if realm != config.sip.domain {
        warn!(realm, domain = config.sip.domain, "data directory realm differs from the configured domain; accounts authenticate in the data directory's realm");
    }
    let n = config.worker_count();
    crate::transport::set_symmetric_responses(config.sip.symmetric_responses);
    let sip = config.sip.addresses();
    let primary = config.sip.listen;
    // certificates before sockets: a bad file is the one line the operator reads
    let tls = if config.tls.enabled {
        Some(Arc::new(TlsContext::load(
            &config.tls,
            &config.data.dir,
            &config.sip.domain,
            primary.ip(),
        )?))
    } else {
        None
    };
    let tls_addrs = if tls.is_some() {
        config.tls.listen_addrs(primary)
    } else {
        Vec::new()
    };
    let mut local = Local::listening(&sip, config.sip.domain.clone()).with_realm(realm.clone());
    if let Some(a) = tls_addrs.first() {
        local = local.with_tls_port(a.port());
    }
    let local = Arc::new(local);
    let metrics = Arc::new(Metrics::new());
    // recordings a crash interrupted are repaired before anything runs
    let (recorder, recovered) = Recorder::open(
        store.clone(),
        recording::dir_in(&config.data.dir),
        metrics.clone(),
    )?;
    if recovered.finished > 0 || recovered.orphans_removed > 0 {
        warn!(
            finished = recovered.finished,
            repaired = recovered.repaired,
            orphans_removed = recovered.orphans_removed,
            "recordings interrupted by the last stop were recovered"
        );
    }
    // so are messages being left when it stopped (the repair is logged)
    let (mailboxes, _) = Mailboxes::open(
        store.clone(),
        mailbox::dir_in(&config.data.dir),
        MailboxLimits::of(&config.voicemail),
        &config.sip.domain,
    )?;
    let deposits = mailbox::Writer::spawn(
        mailboxes.clone(),
        metrics.clone(),
        config.voicemail.writer_threads,
    )
    .map_err(|e| ServeError::Runtime(format!("cannot start the voicemail writer threads: {e}")))?;
    let plan = config
        .numbering_plan()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    // a plugin that does not load or fails its tests stops the start: there is no older
    // version to keep running
    let plugins = Arc::new(PluginHost::start(
        Some(config.plugins.dir.clone()),
        plan,
        local.clone(),
        config.plugin_limits(),
        config.router_mode(),
        metrics.clone(),
    )?);
    // per worker, one UDP socket on each address
    let mut udp_sockets: Vec<Vec<std::net::UdpSocket>> = (0..n).map(|_| Vec::new()).collect();
    let mut tcp_listeners = Vec::new();
    for &addr in &sip {
        let socks = udp::bind_shared(addr, n)
            .and_then(|socks| {
                spread::apply(&socks[0], config.sip.udp_spread, socks.len())?;
                Ok(socks)
            })
            .map_err(|source| ServeError::Sip {
                proto: "UDP",
                addr,
                source,
            })?;
        for (worker, s) in udp_sockets.iter_mut().zip(socks) {
            worker.push(s);
        }
        tcp_listeners.push(tcp::bind_listener(addr).map_err(|source| ServeError::Sip {
            proto: "TCP",
            addr,
            source,
        })?);
    }
    let tls_listeners = tls_addrs
        .iter()
        .map(|&addr| {
            tcp::bind_listener(addr).map_err(|source| ServeError::Sip {
                proto: "TLS",
                addr,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let http_listener =
        std::net::TcpListener::bind(config.http.listen).map_err(|source| ServeError::Http {
            addr: config.http.listen,
            source,
        })?;
    let media = MediaPlane::start(&config.media, metrics.clone())?;
    let gateway =
        crate::notifier::build(&config.notify, &config.data.dir).map_err(ServeError::Runtime)?;
    if !config.auth.enabled {
        warn!("AUTHENTICATION IS OFF: anyone can register and call any name. Lab benchmarks only.");
        eprintln!("WARNING: authentication is off (--auth off); anyone can register and call. Lab use only.");
    }

    let system = actix::System::new();
    let result = system.block_on(async move {
        start(
            config,
            Started {
                store,
                realm,
                local,
                metrics,
                plugins,
                gateway,
                recorder,
                mailboxes,
                deposits,
                media,
                speech,
            },
            udp_sockets,
            Listeners {
                tcp: tcp_listeners,
                tls: tls_listeners,
                tls_context: tls,
            },
            http_listener,
        )
        .await
    });
    result
}

/// What `run` prepared before the actor system started.
struct Started {
    store: Store,
    realm: String,
    local: Arc<Local>,
    metrics: Arc<Metrics>,
    plugins: Arc<PluginHost>,
    gateway: Box<dyn crate::notifier::Gateway>,
    recorder: Recorder,
    mailboxes: Mailboxes,
    deposits: mailbox::Writer,
    media: MediaPlane,
    speech: Arc<dyn Speech>,
}

/// The stream listeners `run` bound, and the TLS certificates when TLS is on.
struct Listeners {
    tcp: Vec<std::net::TcpListener>,
    tls: Vec<std::net::TcpListener>,
    tls_context: Option<Arc<TlsContext>>,
}

async fn start(
    config: Config,
    started: Started,
    udp_sockets: Vec<Vec<std::net::UdpSocket>>,
    listeners: Listeners,
    http_listener: std::net::TcpListener,
) -> Result<(), ServeError> {
    let Started {
        store,
        realm,
        local,
        metrics,
        plugins,
        gateway,
        recorder,
        mailboxes,
        deposits,
        media,
        speech,
    } = started;
    metrics.registrations.set(store.count_bindings()? as i64);
    // call records: day files a crash left short are completed from the log before any call
    // the analytics first: the CDR writer replays into them what a crash kept from them
    let analytics = crate::analytics::Analytics::open(store.clone())?;
    // billing: balances loaded and records a crash left unsettled debited, before any call
    let log = if config.cdr.enabled {
        Some(store.cdr_log()?)
    } else {
        None
    };
    let billing = Arc::new(crate::billing::Billing::start(&store, log.as_ref())?);
    let settle: crate::cdr::Settle = {
        let b = billing.clone();
        Arc::new(move |records| b.settle(records))
    };
    let cdrs = crate::cdr::start(&config, &store, Some(analytics.clone()), Some(settle))?;
    let tariffs = Arc::new(crate::tariffs::TariffHost::start(
        config
            .tariffs
            .dir
            .clone()
            .filter(|d| !d.as_os_str().is_empty()),
        config.tariffs.default_table(),
    ));
    let plan = config
        .numbering_plan()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let trunks = config
        .trunks()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let store_actor = {
        let (s, m, p, r) = (store.clone(), metrics.clone(), plan.clone(), realm.clone());
        let a = config.accounts.clone();
        SyncArbiter::start(1, move || {
            StoreActor::new(s.clone(), m.clone(), p.clone(), r.clone(), &a)
        })
    };
    let ingress = Arc::new(Ingress::new(plan.clone()));
    let security = crate::security::Security::new(&config, metrics.clone());
    let tcp_hub = TcpHub::new(
        TcpLimits {
            max_connections: config.tcp.max_connections,
            max_per_source: config.tcp.max_per_source,
            idle_timeout: Duration::from_secs(config.tcp.idle_timeout_secs),
            max_message: config.tcp.max_message_bytes,
        },
        metrics.clone(),
        ingress.clone(),
        security.clone(),
    );
    if let Some(t) = &listeners.tls_context {
        tcp_hub.set_tls(t.clone());
    }
    let sip = config.sip.addresses();
    let mut key = [0u8; 32];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut key);
    let shared = Arc::new(Shared {
        context: Shared::context_config(&config),
        policy: config.policy(),
        algorithms: config.algorithms(),
        nonces: Nonces::new(key, config.nonce_lifetime()),
        plugins: plugins.clone(),
        trunks,
        local,
        realm,
        plan,
        metrics: metrics.clone(),
        ingress: ingress.clone(),
        tcp: tcp_hub.clone(),
        security,
        store: StoreHandle::of(store_actor.clone()),
        db: store.clone(),
        directories: OnceLock::new(),
        mwi_directories: OnceLock::new(),
        mailbox_store: OnceLock::new(),
        events: event_packages(&config),
        rooms: OnceLock::new(),
        conferences: OnceLock::new(),
        dialers: OnceLock::new(),
        conference_addresses: config.conference.addresses(),
        transports: (0..udp_sockets.len()).map(|_| OnceLock::new()).collect(),
        watching: Default::default(),
        locations: Default::default(),
        calls: Default::default(),
        analytics,
        cdrs,
        tariffs: tariffs.clone(),
        billing,
        number_shop: OnceLock::new(),
        queue: MessageQueue::start(
            store.clone(),
            WriterConfig {
                limits: QueueLimits {
                    max_messages: config.messaging.max_queued,
                    max_bytes: config.messaging.max_queued_bytes,
                },
                ttl_secs: config.messaging.ttl_secs,
                batch: config.messaging.commit_batch,
                commit_interval: std::time::Duration::from_micros(
                    config.messaging.commit_interval_us,
                ),
                domain: config.sip.domain.clone(),
                seed: rand::random(),
            },
            metrics.clone(),
        )
        .with_max_pending(config.messaging.max_pending),
        notifications: OnceLock::new(),
        voice_notices: OnceLock::new(),
        recorder,
        mailboxes,
        deposits,
        media: media.clone(),
        speech,
        config: config.clone(),
    });
    let notifications = Notifications::new(shared.clone(), gateway).start();
    let _ = shared.notifications.set(NotificationsHandle {
        queued: notifications.clone().recipient(),
        reset: notifications.clone().recipient(),
        voicemail: notifications.clone().recipient(),
        code: notifications.clone().recipient(),
    });
    let notices = VoiceNotices::new(shared.clone()).start();
    let _ = shared.voice_notices.set(VoiceNoticesHandle {
        read_out: notices.recipient(),
    });
    shared.deposits.notify_to(notifications.recipient());

    let mut arbiters = Vec::new();
    let mut workers = Vec::new();
    let mut directories = Vec::new();
    let mut held_back = Vec::new();
    let mut mailboxes = Vec::new();
    let mut rooms = Vec::new();
    let mut dialers = Vec::new();
    for (shard, socks) in udp_sockets.into_iter().enumerate() {
        let arb = Arbiter::new();
        let handle = arb.handle();
        let s = shared.clone();
        let directory = Directory::start_in_arbiter(&handle, move |_| Directory::new(shard, s));
        mailboxes.push(directory.clone().recipient());
        held_back.push(directory.clone().recipient::<WriteHeldBack>());
        directories.push(directory.recipient());
        let s = shared.clone();
        rooms.push(
            RoomDirectory::start_in_arbiter(&handle, move |_| RoomDirectory::new(s)).recipient(),
        );
        let s = shared.clone();
        let seed: u64 = rand::random();
        let worker = Worker::start_in_arbiter(&handle, move |_| Worker::new(shard, s, socks, seed));
        dialers.push(crate::api::worker::Dialer {
            dial_out: worker.clone().recipient(),
            notice: worker.clone().recipient(),
        });
        workers.push(crate::api::worker::WorkerInbox {
            one: worker.clone().recipient(),
            many: worker.recipient(),
        });
        arbiters.push(arb);
    }
    let _ = shared.directories.set(directories);
    let _ = shared.mwi_directories.set(mailboxes);
    // message waiting follows the mailbox store: its changes reach the owners' Extensions, and
    // their questions about a mailbox are answered from it
    let feed = crate::extension::mailbox_feed::MailboxFeed::new(shared.clone()).start();
    shared.mailboxes.subscribe(feed.clone().recipient());
    let _ = shared.mailbox_store.set(feed.recipient());
    let _ = shared.rooms.set(rooms);
    let _ = shared.dialers.set(dialers);
    let mixer = crate::conference::MixerHandle::spawn(shared.metrics.clone())
        .map_err(|e| ServeError::Runtime(format!("cannot start the mixer thread: {e}")))?;
    let db = shared.db.clone();
    let attempts = shared.config.conference.pin_attempts;
    let rooms_of = shared.clone();
    let conferences = crate::conference::ConferenceDirectory::new(
        mixer,
        shared.metrics.clone(),
        Box::new(move |name| {
            let rec = db.conference(name.as_str()).ok().flatten()?;
            Some(crate::conference::settings_of(&rec, attempts))
        }),
        std::rc::Rc::new(move |name, states| {
            rooms_of.to_room(
                name.room().clone(),
                crate::api::room::RoomCommand::Voice { states },
            )
        }),
        Some(shared.recorder.clone()),
        shared.config.conference.max_participants,
    )
    .start();
    let _ = shared
        .conferences
        .set(crate::api::conference::ConferencesHandle {
            command: conferences.clone().recipient(),
            running: conferences.recipient(),
        });
    ingress.set_workers(workers);
    let handles: Vec<_> = arbiters.iter().map(|a| a.handle()).collect();
    for l in listeners.tls {
        actix_rt::spawn(tcp::accept_loop(
            l,
            tcp_hub.clone(),
            handles.clone(),
            Transport::Tls,
        ));
    }
    for l in listeners.tcp {
        actix_rt::spawn(tcp::accept_loop(
            l,
            tcp_hub.clone(),
            handles.clone(),
            Transport::Tcp,
        ));
    }

    let http = http::start(http_listener, shared.clone()).map_err(|source| ServeError::Http {
        addr: config.http.listen,
        source,
    })?;
    let http_handle = http.handle();
    actix_rt::spawn(http);

    let sock_path = control::socket_path(&config.data.dir);
    actix_rt::spawn(control::serve(sock_path.clone(), shared.clone()));

    periodic::spawn(&shared, store_actor.clone());

    let _watcher = if config.plugins.watch {
        plugin::watch::watch(plugins.clone())
    } else {
        None
    };

    let tls_listen: Vec<String> = if listeners.tls_context.is_some() {
        config
            .tls
            .listen_addrs(config.sip.listen)
            .iter()
            .map(|a| a.to_string())
            .collect()
    } else {
        Vec::new()
    };
    info!(
        sip = ?sip,
        tls = %tls_listen.join(","),
        http = %config.http.listen,
        rtp = %media.advertise(),
        rtp_ports = %config.media.ports,
        media_threads = config.media.thread_count(),
        workers = arbiters.len(),
        auth = config.auth.enabled,
        data = %config.data.dir.display(),
        "switchboard running"
    );

    crate::tariffs::reload_on_sighup(tariffs);
    wait_for_signal(plugins, listeners.tls_context).await;
    info!("shutting down");
    shutdown::stop(
        &shared,
        &store_actor,
        &held_back,
        &arbiters,
        http_handle,
        &sock_path,
    )
    .await;
    actix::System::current().stop();
    Ok(())
}

/// The event packages a SUBSCRIBE may name: presence when enabled, message-summary always.
fn event_packages(config: &Config) -> switchboard_engine::event::Registry {
    use switchboard_engine::event::{Registry, MESSAGE_SUMMARY, PRESENCE};
    let presence = config.presence.enabled.then_some(&PRESENCE);
    Registry::new(presence.into_iter().chain([&MESSAGE_SUMMARY]))
}
