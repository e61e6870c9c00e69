//! Configuration of messaging: the durable queues, dynamic accounts and the notifier.

use serde::Deserialize;

use super::error::ConfigError;

/// `[messaging]`: store-and-forward of SIP MESSAGE.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messaging {
    /// Largest body accepted (bytes); above it: 413.
    pub max_body_bytes: usize,
    /// A queued message nobody fetched is dropped after this long.
    pub ttl_secs: u64,
    /// Messages one number's queue holds; past it: 486 "Mailbox Full".
    pub max_queued: u64,
    /// Bytes of bodies one number's queue holds; past it: 507 "Mailbox Storage Exhausted".
    pub max_queued_bytes: u64,
    /// Most messages one group commit (one fsync) writes.
    pub commit_batch: usize,
    /// Under load, a group commit begins no sooner than this after the last one began.
    pub commit_interval_us: u64,
    /// Messages waiting for the writer's answer at most; past it: 503 "Message Store Busy".
    pub max_pending: usize,
    /// First retry of a failed delivery; doubles up to `retry_max_secs`.
    pub retry_initial_ms: u64,
    pub retry_max_secs: u64,
    /// How often expired messages and unclaimed dynamic accounts are swept.
    pub sweep_every_secs: u64,
    /// Messages stored for numbers nobody signed up, per source address per hour.
    pub unregistered_per_source_per_hour: u32,
    /// Messages stored for one number nobody signed up, per hour.
    pub unregistered_per_number_per_hour: u32,
}

/// `[accounts]`: accounts made by the switch itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// A message or call to a valid number of ours without an account creates one.
    pub dynamic: bool,
    /// An unclaimed dynamic account (and its queue) is removed after this many days.
    pub dynamic_expiry_days: u64,
    /// Digits of a one-time password.
    pub otp_digits: u8,
    /// A password-reset code works this long.
    pub reset_valid_secs: u64,
    /// Password resets per number per hour (more are answered alike and not sent).
    pub resets_per_number_per_hour: u32,
    /// Password resets per source address per hour (more: 429).
    pub resets_per_source_per_hour: u32,
    /// One-time-password SMS per number within `otp_window_secs`, at least
    /// `otp_min_interval_secs` apart.
    pub otp_per_number: u32,
    pub otp_window_secs: u64,
    pub otp_min_interval_secs: u64,
    /// Dynamic accounts one source address may make per hour.
    pub dynamic_per_source_per_hour: u32,
}

/// `[notify]`: SMS to numbers that have messages waiting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// `log`, `http` or `smpp`.
    pub gateway: String,
    /// Messages queued within this window make one SMS.
    pub coalesce_ms: u64,
    /// At most one SMS per number this often.
    pub min_interval_secs: u64,
    /// A message this long or shorter is carried whole; longer ones are cut.
    pub sms_max_chars: usize,
    /// Characters of a longer message shown in the SMS.
    pub preview_chars: usize,
    pub http: NotifyHttp,
    pub smpp: NotifySmpp,
}

/// `[notify.http]`: an SMS provider's HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyHttp {
    /// URL the JSON `{"to","text","from"}` is POSTed to.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when not empty.
    pub token: String,
    /// Sender name or number shown on the phone.
    pub from: String,
    /// Longest time one request may take, connect to answer (at least 1).
    pub timeout_ms: u64,
}

/// `[notify.smpp]`: an SMSC reached with SMPP 3.4.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySmpp {
    /// host:port of the SMSC.
    pub address: String,
    /// Account name of the bind_transmitter: 1 to 15 ASCII characters.
    pub system_id: String,
    /// Password of the bind_transmitter: at most 8 ASCII characters; never logged.
    pub password: String,
    /// ESME type some SMSCs ask for (at most 12 characters); empty when not needed.
    pub system_type: String,
    /// Sender address (source_addr) of every submit_sm, at most 20 characters: digits (with or
    /// without `+`) go out as an international number (TON/NPI 1/1), a name as alphanumeric
    /// (5/0).
    pub source_addr: String,
    /// Longest connect, read or write, and longest wait for one response (at least 1).
    pub timeout_ms: u64,
}

/// Checks the `[messaging]`, `[accounts]` and `[notify]` values that parse but cannot work.
pub(super) fn validate(m: &Messaging, a: &Accounts, n: &Notify) -> Result<(), ConfigError> {
    if m.max_body_bytes == 0 || m.max_body_bytes > 60_000 {
        return Err(ConfigError::Value {
            key: "messaging.max_body_bytes",
            message: "must be 1 to 60000 (a MESSAGE fits one datagram)".into(),
        });
    }
    if m.ttl_secs == 0 || m.max_queued == 0 || m.max_queued_bytes == 0 {
        return Err(ConfigError::Value {
            key: "messaging.ttl_secs",
            message: "ttl_secs, max_queued and max_queued_bytes must be at least 1".into(),
        });
    }
    if m.commit_batch == 0
        || m.max_pending == 0
        || m.retry_initial_ms == 0
        || m.sweep_every_secs == 0
    {
        return Err(ConfigError::Value {
            key: "messaging.commit_batch",
            message: "commit_batch, max_pending, retry_initial_ms and sweep_every_secs must be at least 1"
                .into(),
        });
    }
    if !(4..=10).contains(&a.otp_digits) {
        return Err(ConfigError::Value {
            key: "accounts.otp_digits",
            message: "must be 4 to 10".into(),
        });
    }
    if a.otp_window_secs == 0 {
        return Err(ConfigError::Value {
            key: "accounts.otp_window_secs",
            message: "must be at least 1".into(),
        });
    }
    if a.dynamic_expiry_days == 0 {
        return Err(ConfigError::Value {
            key: "accounts.dynamic_expiry_days",
            message: "must be at least 1".into(),
        });
    }
    match n.gateway.as_str() {
        "log" => {}
        "http" if n.http.url.starts_with("http://") || n.http.url.starts_with("https://") => {}
        "http" => {
            return Err(ConfigError::Value {
                key: "notify.http.url",
                message: "must be an http:// or https:// URL".into(),
            })
        }
        "smpp" if n.smpp.address.contains(':') && !n.smpp.system_id.is_empty() => {}
        "smpp" => {
            return Err(ConfigError::Value {
                key: "notify.smpp.address",
                message: "needs host:port and a system_id".into(),
            })
        }
        _ => {
            return Err(ConfigError::Value {
                key: "notify.gateway",
                message: "must be \"log\", \"http\" or \"smpp\"".into(),
            })
        }
    }
    if n.sms_max_chars < 20 || n.preview_chars == 0 || n.preview_chars > n.sms_max_chars {
        return Err(ConfigError::Value {
            key: "notify.sms_max_chars",
            message: "at least 20, and preview_chars from 1 to sms_max_chars".into(),
        });
    }
    Ok(())
}
