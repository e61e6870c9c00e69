//! Notifier gateways: how the switch reaches a phone number outside SIP (an SMS telling the
//! owner a message is waiting, or a one-time password).
//!
//! Every gateway is one `Gateway`: a blocking `send` called on the notifier's own thread, so a
//! slow SMSC or HTTP provider never holds up signalling. `build` picks the one the
//! configuration names (`notify.gateway`): `log` (the default: each SMS is appended to a file
//! in the data directory), `http` (POST of JSON to a provider) or `smpp` (SMPP 3.4 submit_sm
//! to an SMSC).

pub mod http;
pub mod log;
mod redact;
pub mod smpp;

use std::path::Path;

use crate::config::Notify;

/// One text message to one phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// E.164 with the leading `+`.
    pub to: String,
    /// UTF-8 text; gateways encode it as their protocol needs.
    pub text: String,
}

/// Why a gateway could not hand an SMS over.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The gateway could not be reached (connect, timeout, broken connection).
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    /// The gateway answered but refused the SMS (HTTP status, SMPP command_status).
    #[error("gateway refused the message: {0}")]
    Refused(String),
    /// A local failure (writing the log file).
    #[error("gateway i/o error: {0}")]
    Io(String),
}

/// A way to send SMS.
pub trait Gateway: Send {
    /// `log`, `http` or `smpp`: for logs and metrics.
    fn kind(&self) -> &'static str;
    /// Hands one SMS to the gateway; `Ok` once the gateway accepted it.
    fn send(&mut self, sms: &Sms) -> Result<(), GatewayError>;
}

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
