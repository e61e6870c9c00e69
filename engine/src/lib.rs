//! Switchboard engine: the sans-IO core of the switch.
//!
//! Everything here takes bytes, time and seeds and returns bytes, events and deadlines. No
//! sockets, clocks, threads, actix or sled: the `switchboard-actors` crate drives these
//! machines. See `ARCHITECTURE.md` at the repository root for the map.

pub mod analytics;
pub mod anchor;
pub mod auth;
pub mod cdr;
pub mod chat;
pub mod conference;
pub mod credit;
pub mod dialog;
pub mod entropy;
pub mod event;
pub mod flow;
pub mod forwarding;
pub mod inventory;
pub mod media;
pub mod members;
pub mod messaging;
pub mod numbering;
pub mod presence;
pub mod prompt;
pub mod proxy;
pub mod registrar;
pub mod routing;
pub mod sdp;
pub mod security;
pub mod sip;
pub mod smpp;
pub mod store;
pub mod tariff;
pub mod trunk;
pub mod txn;
pub mod voicemail;
