//! Switchboard's load generator (`switchboard load scenarios/<file>.toml`): it replays a
//! scenario file against a SIP server (this switch, or any other) with many simulated user
//! agents and reports rates, latencies, losses and pass/fail thresholds. The scenario files
//! it replays live beside this crate, in `scenarios/` (format: `scenarios/README.md`).
//!
//! The crate is split like the switch:
//!
//! - [`core`]: sans-IO. Scenario parsing (from text), the seeded schedule of actions, the
//!   simulated user agents (flows on `switchboard-engine`'s transactions and digest), the
//!   statistics and the report. No files, sockets, clocks, threads or tokio: text, time and
//!   seeds in; actions, SIP messages and figures out. Tested without a network.
//! - [`runner`]: the I/O. Reads the scenario file ([`runner::file`]), runs tokio shards with
//!   UDP sockets, RTP legs and progress bars, samples the server's `/proc`, writes the
//!   reports. [`run`] is the whole run, as the CLI calls it.
//!
//! It depends only on the engine's public SIP, transaction, digest, entropy and RTP packet
//! parts, never on the switch's actors.

pub mod core;
pub mod runner;

pub use runner::{run, LoadError, LoadOptions};
