//! Switchboard actors: the actix shells around the engine that own sockets, timers, the
//! store and the HTTP and control endpoints.
//!
//! - `worker`: one signalling worker per arbiter (UDP socket, ingress, local answers)
//! - `call_leg`: one actor per call running the proxy response contexts
//! - `chat_room`: one actor per active chat room (members, order, history), started on
//!   demand by a per-arbiter rooms directory
//! - `directory` / `extension`: one actor per active address of record (registrations,
//!   digest replay windows), started on demand and retired when idle
//! - `store` / `store_actor`: the durable store behind one interface, written by one actor
//! - `plugin`: the routing plugin host (sandboxed Lua, versions, hot reload)
//! - `transport`: UDP and TCP, ingress checks and the send handle
//! - `server`: start-up and graceful shutdown

pub mod accounts;
pub mod call_leg;
pub mod chat_room;
pub mod config;
pub mod control;
pub mod delivery;
pub mod directory;
pub mod extension;
pub mod forwarding;
pub mod http;
pub mod limits;
pub mod local_txns;
pub mod message_queue;
pub mod metrics;
pub mod notifications;
pub mod notifier;
pub mod plugin;
pub mod server;
pub mod shared;
pub mod stateless;
pub mod store;
pub mod store_actor;
pub mod subscription;
pub mod transport;
pub mod worker;

pub use config::Config;
pub use server::{run, ServeError};
