//! Configuration of SIP over TLS (`[tls]`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;

/// `[tls]`: listeners, the certificate and key (PEM files), the extra trusted roots for
/// connections the switch opens. No certificate configured: a self-signed lab certificate in
/// the data directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub enabled: bool,
    /// Addresses to accept TLS on; empty: the SIP address's IP on the SIP port + 1 (5061).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// The certificate chain, PEM, the switch's own certificate first.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The private key of that certificate, PEM (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// More roots (PEM) to trust, besides the system's, when the switch connects out.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    pub handshake_timeout_secs: u64,
}

impl Tls {
    /// The listen addresses, the default derived from the SIP address.
    pub fn listen_addrs(&self, sip: SocketAddr) -> Vec<SocketAddr> {
        if self.listen.is_empty() {
            vec![SocketAddr::new(sip.ip(), sip.port().wrapping_add(1))]
        } else {
            self.listen.clone()
        }
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }
}

/// Checks the `[tls]` values that parse but cannot work.
pub(super) fn validate(t: &Tls) -> Result<(), ConfigError> {
    if t.cert_file.is_some() != t.key_file.is_some() {
        return Err(ConfigError::Value {
            key: "tls.cert_file",
            message: "cert_file and key_file go together".into(),
        });
    }
    if !(1..=120).contains(&t.handshake_timeout_secs) {
        return Err(ConfigError::Value {
            key: "tls.handshake_timeout_secs",
            message: "must be 1 to 120".into(),
        });
    }
    Ok(())
}
