//! Notifier gateways: how the switch reaches a phone number outside SIP (an SMS telling the
//! owner a message is waiting, or a one-time password).
//!
//! Every gateway is one `Gateway`: a blocking `send` called on the notifier's own thread, so a
//! slow SMSC or HTTP provider never holds up signalling. `build` picks the one the
//! configuration names (`notify.gateway`): `log` (the default: each SMS is appended to a file
//! in the data directory), `http` (POST of JSON to a provider) or `smpp` (SMPP 3.4 submit_sm
//! to an SMSC).

mod gateway;
pub mod http;
pub mod log;
mod redact;
pub mod smpp;

use std::path::Path;

use crate::config::Notify;

pub use gateway::{Gateway, GatewayError, Sms};

/// The gateway the configuration names.
pub fn build(cfg: &Notify, data_dir: &Path) -> Result<Box<dyn Gateway>, String> {
    match cfg.gateway.as_str() {
        "log" => Ok(Box::new(log::LogGateway::open(
            &data_dir.join(log::FILE_NAME),
        )?)),
        "http" => Ok(Box::new(http::HttpGateway::new(&cfg.http)?)),
        "smpp" => Ok(Box::new(smpp::SmppGateway::new(&cfg.smpp)?)),
        other => Err(format!(
            "notify.gateway: unknown gateway {other:?} (log, http or smpp)"
        )),
    }
}
