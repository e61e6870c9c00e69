//! Configuration of the number shop (`[numbers]`): how long holds and unpaid orders last, how
//! many holds one client may have running, the inventory file loaded at start and the payment
//! provider.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::inventory::Terms;

use super::error::ConfigError;

/// `[numbers]`; every key has a default, so the section may be left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Numbers {
    /// A reservation holds its number this long (seconds).
    pub hold_secs: u64,
    /// An order not paid this long after it was placed expires (seconds).
    pub pay_within_secs: u64,
    /// Holds one client (an IPv4 address, an IPv6 /64) may have running at once (1 to 1000);
    /// past it `POST /v1/numbers/{n}/reservation` answers 429 until one runs out or becomes
    /// an order.
    pub max_holds_per_source: u32,
    /// A sold number whose account is removed goes back on sale this many days later (0: at
    /// once).
    pub quarantine_days: u64,
    /// An inventory file (see `docs/payments.md` and the README) loaded at every start;
    /// numbers already loaded are kept as they are. Empty: none.
    pub inventory_file: Option<PathBuf>,
    /// Most numbers one page of `GET /v1/numbers/available` lists.
    pub page_max: usize,
    /// `manual` (payments entered by the operator) or `http` (the provider protocol of
    /// `docs/payments.md`).
    pub provider: String,
    /// The provider's base URL: the switch POSTs `<url>/payments`.
    pub provider_url: String,
    /// The secret shared with the provider: it signs webhooks (HMAC-SHA256).
    pub webhook_secret: String,
    /// Where the provider sends the buyer back after paying (`{order}` is replaced).
    pub return_url: String,
    /// How long the switch waits for the provider's answer (milliseconds).
    pub provider_timeout_ms: u64,
}

impl Default for Numbers {
    fn default() -> Numbers {
        Numbers {
            hold_secs: 15 * 60,
            pay_within_secs: 30 * 60,
            max_holds_per_source: 5,
            quarantine_days: 90,
            inventory_file: None,
            page_max: 100,
            provider: "manual".into(),
            provider_url: String::new(),
            webhook_secret: String::new(),
            return_url: String::new(),
            provider_timeout_ms: 5000,
        }
    }
}

impl Numbers {
    pub fn terms(&self) -> Terms {
        Terms {
            hold: Duration::from_secs(self.hold_secs),
            pay_within: Duration::from_secs(self.pay_within_secs),
            holds_per_source: self.max_holds_per_source,
            quarantine: Duration::from_secs(self.quarantine_days.saturating_mul(86_400)),
        }
    }

    /// Whether payments go through an HTTP provider.
    pub fn uses_provider(&self) -> bool {
        self.provider == "http"
    }
}

/// Checks the `[numbers]` values that parse but cannot work.
pub(super) fn validate(n: &Numbers) -> Result<(), ConfigError> {
    if n.hold_secs == 0 || n.pay_within_secs == 0 {
        return Err(ConfigError::Value {
            key: "numbers.hold_secs",
            message: "hold_secs and pay_within_secs must be at least 1".into(),
        });
    }
    if !(1..=1000).contains(&n.max_holds_per_source) {
        return Err(ConfigError::Value {
            key: "numbers.max_holds_per_source",
            message: "must be 1 to 1000".into(),
        });
    }
    if !(1..=1000).contains(&n.page_max) {
        return Err(ConfigError::Value {
            key: "numbers.page_max",
            message: "must be 1 to 1000".into(),
        });
    }
    match n.provider.as_str() {
        "manual" => Ok(()),
        "http" => {
            let url_ok =
                n.provider_url.starts_with("http://") || n.provider_url.starts_with("https://");
            if !url_ok {
                return Err(ConfigError::Value {
                    key: "numbers.provider_url",
                    message: "the http provider needs an http:// or https:// URL".into(),
                });
            }
            if n.webhook_secret.len() < 16 {
                return Err(ConfigError::Value {
                    key: "numbers.webhook_secret",
                    message: "the http provider needs a secret of at least 16 bytes".into(),
                });
            }
            Ok(())
        }
        _ => Err(ConfigError::Value {
            key: "numbers.provider",
            message: "must be manual or http".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_provider_needs_a_url_and_a_secret() {
        let mut n = Numbers::default();
        assert!(validate(&n).is_ok());
        n.provider = "http".into();
        assert!(validate(&n).is_err());
        n.provider_url = "http://127.0.0.1:9/pay".into();
        assert!(validate(&n).is_err());
        n.webhook_secret = "0123456789abcdef".into();
        assert!(validate(&n).is_ok());
        n.provider = "paypal".into();
        assert!(validate(&n).is_err());
    }

    #[test]
    fn holds_per_source_default_to_five_and_zero_is_refused() {
        let mut n = Numbers::default();
        assert_eq!(n.terms().holds_per_source, 5);
        n.max_holds_per_source = 0;
        let e = validate(&n).unwrap_err();
        assert!(
            e.to_string().contains("numbers.max_holds_per_source"),
            "{e}"
        );
    }
}
