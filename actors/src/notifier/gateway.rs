//! What every notifier gateway is: a blocking sender of one SMS at a time, and its errors.

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
