//! Switchboard actors: the actix shells around the engine that own sockets, timers, the
//! store and the HTTP and control endpoints. `ARCHITECTURE.md` has the map and the layers
//! (which module may import which).
//!
//! - `clock`, `guard`, `ownership`, `locations`, `metrics`, `config`: leaves (time and the timer
//!   helper, panic containment, who owns which key, where each number's devices are, counters,
//!   configuration)
//! - `store`: the durable store behind one interface, its actor and the queue writer
//! - `analytics`: the per-day call tallies (the CDR writer's hook, saves, the console's queries)
//! - `cdr`, `tariffs`: call detail records (the writer thread, day files) and the tariff tables
//!   that rate them (hot reload); `billing`: prepaid and postpaid balances, their ledgers and
//!   the settlement of each record's charge
//! - `recording`: call recording (the recorder thread, crash-safe WAV files, their records)
//! - `mailbox`: the voicemail mailbox store (messages, greetings, settings; the change feed)
//! - `api`: what each signalling actor receives
//! - `security`: flood bans (the banned set the receive paths read without a lock) and the
//!   abuse limits
//! - `transport`: UDP and TCP, ingress checks, stateless forwarding and the send handle
//! - `media`: the media threads (RTP sockets of anchored calls, the relay and frame path)
//!   and the handles call actors steer them with
//! - `shared`: configuration and the recipients every signalling actor reads
//! - `offline`: a MESSAGE kept in its number's durable queue (limits, the writer, what follows)
//! - `extension`: one actor per active address of record (registrations, digest replay
//!   windows, presence, deliveries), started on demand by a per-arbiter directory
//! - `chat_room`, `subscription`, `notifications`, `voice_notices`, `call_leg`: the other
//!   signalling actors
//! - `conference`: conference bridges, their directory and the mixer thread
//! - `prompts`: the prompt set built into the binary and the text-to-speech seam
//! - `worker`: one signalling worker per arbiter (UDP socket, ingress, local answers)
//! - `plugin`: the routing plugin host (sandboxed Lua, versions, hot reload)
//! - `http`, `control`, `server`: the API, the CLI's socket, start-up and shutdown

pub mod analytics;
pub mod api;
pub mod billing;
pub mod call_leg;
pub mod calls;
pub mod cdr;
pub mod chat_room;
pub mod clock;
pub mod conference;
pub mod config;
pub mod control;
pub mod extension;
pub mod guard;
pub mod http;
pub mod locations;
pub mod mailbox;
pub mod media;
pub mod metrics;
pub mod notifications;
pub mod notifier;
pub mod number_shop;
pub mod offline;
pub mod ownership;
pub mod plugin;
pub mod prompts;
pub mod recording;
pub mod security;
pub mod server;
pub mod shared;
pub mod store;
pub mod subscription;
pub mod tariffs;
pub mod transport;
pub mod voice_notices;
pub mod worker;

pub use config::Config;
pub use server::{run, ServeError};
