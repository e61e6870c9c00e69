//! Configuration: embedded defaults, an optional TOML file over them, flags over both.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod cdr;
mod conference;
mod error;
mod media;
mod members;
mod messaging;
mod numbering;
mod numbers;
mod presence;
mod rooms;
mod security;
mod tls;
mod trunks;
mod voicemail;

pub use cdr::{Cdr, Tariffs};
pub use conference::Conference;
pub use error::ConfigError;
pub use media::Media;
pub use members::{Hotdesk, Members};
pub use messaging::{Accounts, Messaging, Notify, NotifyHttp, NotifySmpp};
pub use numbering::{BranchConfig, Numbering, ProviderConfig};
pub use numbers::Numbers;
pub use presence::Presence;
pub use rooms::Rooms;
pub use security::Security;
pub use tls::Tls;
pub use trunks::TrunkConfig;
pub use voicemail::{Tts, Voicemail};

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sip: Sip,
    pub http: Http,
    pub data: Data,
    pub auth: Auth,
    pub numbering: Numbering,
    pub registrar: Registrar,
    pub calls: Calls,
    pub tcp: Tcp,
    pub tls: Tls,
    pub limits: Limits,
    pub security: Security,
    pub extension: Extension,
    pub store: Store,
    pub plugins: Plugins,
    pub messaging: Messaging,
    pub accounts: Accounts,
    pub notify: Notify,
    pub presence: Presence,
    pub rooms: Rooms,
    pub media: Media,
    pub conference: Conference,
    pub voicemail: Voicemail,
    /// Outside-number verification codes of members.
    #[serde(default)]
    pub members: Members,
    /// Hot desk: phones signed in as members.
    #[serde(default)]
    pub hotdesk: Hotdesk,
    /// The number shop: holds, orders, the payment provider.
    #[serde(default)]
    pub numbers: Numbers,
    /// SIP trunks (PSTN gateways, other providers), tried in this order within a group.
    #[serde(default)]
    pub trunks: Vec<TrunkConfig>,
    /// Call detail records.
    #[serde(default)]
    pub cdr: Cdr,
    /// Tariff tables rating off-net calls.
    #[serde(default)]
    pub tariffs: Tariffs,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugins {
    /// Directory of the routing plugins (`*.lua`); none there: the embedded default.
    pub dir: PathBuf,
    /// `lua`, or `plain` for the built-in routing without an interpreter.
    pub router: String,
    pub max_instructions: u64,
    pub max_memory_mb: u64,
    /// Reload when a file in the directory changes.
    pub watch: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    /// The first SIP address (UDP and TCP); the switch's own Via, Record-Route and Contact
    /// name it toward peers of its address family.
    pub listen: SocketAddr,
    /// More addresses for UDP and TCP (an IPv6 one next to an IPv4 one: `["[::]:5060"]`).
    #[serde(default)]
    pub listen_also: Vec<SocketAddr>,
    /// UDP responses go back to the source address even without `rport`; false: RFC 3261
    /// §18.2.2 to the letter (the source IP and the Via port).
    pub symmetric_responses: bool,
    pub domain: String,
    pub workers: usize,
    pub receive_batch: usize,
    /// How one address's datagrams are spread over the workers' sockets: `flow` (the
    /// kernel's hash of addresses and ports) or `datagram` (by the datagram's bytes, so one
    /// busy peer such as a trunk is read by every worker).
    #[serde(default)]
    pub udp_spread: Spread,
    /// Answers to REGISTER each worker keeps to repeat to a retransmission (a ring of this
    /// many, each for at most 64*T1).
    pub register_answers: usize,
}

/// How a group of sockets on one address shares the datagrams (`sip.udp_spread`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// The kernel's hash of the addresses and ports: one peer, one socket.
    #[default]
    Flow,
    /// By the datagram's bytes: one peer's datagrams over every socket.
    Datagram,
}

impl Sip {
    /// Every SIP address: `listen`, then `listen_also` (duplicates left out).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        let mut out = vec![self.listen];
        for a in &self.listen_also {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: SocketAddr,
    /// Bearer token for the admin endpoints; empty: only loopback clients may use them.
    #[serde(default)]
    pub admin_token: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub enabled: bool,
    pub nonce_lifetime_secs: u64,
    pub algorithms: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registrar {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    /// A refresh that only moves expiries reaches the store at most this late
    /// (`registrar::write_behind`); 0 writes every refresh.
    pub refresh_write_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    pub ring_timeout_secs: u64,
    pub max_idle_secs: u64,
    /// Let calls from one trunk leave through another (carrier transit).
    #[serde(default)]
    pub trunk_transit: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    pub max_connections: usize,
    pub max_per_source: usize,
    pub idle_timeout_secs: u64,
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub per_source_rate: u32,
    pub per_source_burst: u32,
    pub exempt: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub idle_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub flush_every_ms: u64,
    pub cache_capacity_mb: u64,
}

impl Config {
    /// The embedded defaults, optionally overlaid with a TOML file.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut base: toml::Table =
            DEFAULT_TOML
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: "embedded defaults".into(),
                    message: e.to_string(),
                })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let over: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        origin: path.display().to_string(),
                        message: e.to_string(),
                    })?;
            merge(&mut base, over);
        }
        let origin = file.map_or("embedded defaults".to_owned(), |p| p.display().to_string());
        let mut config: Config =
            toml::Value::Table(base)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin,
                    message: e.to_string(),
                })?;
        config.media.default_v6(&config.sip.addresses());
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.registrar;
        if r.min_expires == 0 || r.min_expires > r.max_expires {
            return Err(ConfigError::Value {
                key: "registrar.min_expires",
                message: "must be at least 1 and at most max_expires".into(),
            });
        }
        if r.max_contacts == 0 {
            return Err(ConfigError::Value {
                key: "registrar.max_contacts",
                message: "must be at least 1".into(),
            });
        }
        self.numbering_plan()?;
        numbers::validate(&self.numbers)?;
        if self.sip.domain.is_empty() || self.sip.domain.contains(['"', ' ', '<', '>']) {
            return Err(ConfigError::Value {
                key: "sip.domain",
                message: "must be a host name".into(),
            });
        }
        if self.algorithms().is_empty() || self.algorithms().len() != self.auth.algorithms.len() {
            return Err(ConfigError::Value {
                key: "auth.algorithms",
                message: "must list \"SHA-256\" and/or \"MD5\"".into(),
            });
        }
        self.trunks()?;
        if !matches!(self.plugins.router.as_str(), "lua" | "plain") {
            return Err(ConfigError::Value {
                key: "plugins.router",
                message: "must be \"lua\" or \"plain\"".into(),
            });
        }
        if self.plugins.max_instructions < 1000 || self.plugins.max_memory_mb == 0 {
            return Err(ConfigError::Value {
                key: "plugins.max_instructions",
                message: "at least 1000 instructions and 1 MB".into(),
            });
        }
        messaging::validate(&self.messaging, &self.accounts, &self.notify)?;
        presence::validate(&self.presence)?;
        rooms::validate(&self.rooms)?;
        media::validate(&self.media)?;
        conference::validate(&self.conference)?;
        voicemail::validate(&self.voicemail)?;
        members::validate(&self.members, &self.hotdesk)?;
        tls::validate(&self.tls)?;
        security::validate(&self.security)?;
        for net in &self.limits.exempt {
            parse_cidr(net).ok_or_else(|| ConfigError::Value {
                key: "limits.exempt",
                message: format!("{net:?} is not an address/prefix"),
            })?;
        }
        Ok(())
    }

    /// The numbering plan the `[numbering]` section describes.
    pub fn numbering_plan(
        &self,
    ) -> Result<switchboard_engine::numbering::NumberingPlan, ConfigError> {
        self.numbering.plan()
    }

    /// The configured trunks; names, addresses and credentials checked.
    pub fn trunks(&self) -> Result<switchboard_engine::trunk::Trunks, ConfigError> {
        trunks::build(&self.trunks)
    }

    /// Signalling workers to run.
    pub fn worker_count(&self) -> usize {
        if self.sip.workers > 0 {
            self.sip.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// The configured digest algorithms, in order of preference.
    pub fn algorithms(&self) -> Vec<switchboard_engine::sip::digest::Algorithm> {
        self.auth
            .algorithms
            .iter()
            .filter_map(|a| switchboard_engine::sip::digest::Algorithm::parse(Some(a)))
            .collect()
    }

    /// The plugin host's limits.
    pub fn plugin_limits(&self) -> crate::plugin::Limits {
        crate::plugin::Limits {
            max_instructions: self.plugins.max_instructions,
            max_memory: (self.plugins.max_memory_mb as usize) << 20,
        }
    }

    pub fn router_mode(&self) -> crate::plugin::RouterMode {
        if self.plugins.router == "plain" {
            crate::plugin::RouterMode::Plain
        } else {
            crate::plugin::RouterMode::Lua
        }
    }

    pub fn nonce_lifetime(&self) -> Duration {
        Duration::from_secs(self.auth.nonce_lifetime_secs)
    }

    pub fn policy(&self) -> switchboard_engine::registrar::Policy {
        switchboard_engine::registrar::Policy {
            min_expires: self.registrar.min_expires,
            max_expires: self.registrar.max_expires,
            default_expires: self.registrar.default_expires,
            max_contacts: self.registrar.max_contacts,
        }
    }
}

/// Overlays `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.trim().parse::<u8>().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((ip, len))
}

/// Whether `ip` is inside `net`.
pub fn cidr_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    match (net.0, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u32::MAX << (32 - net.1)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u128::MAX << (128 - net.1)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_and_validate() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.sip.listen, "127.0.0.1:5060".parse().unwrap());
        assert!(c.auth.enabled);
        assert!(c.worker_count() >= 1);
        assert!(c.tls.enabled);
        assert_eq!(
            c.tls.listen_addrs(c.sip.listen),
            vec!["127.0.0.1:5061".parse().unwrap()]
        );
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[sip]\nlisten = \"127.0.0.1:5999\"\n[registrar]\nmin_expires = 30\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.sip.listen.port(), 5999);
        assert_eq!(c.sip.domain, "switchboard.local");
        assert_eq!(c.registrar.min_expires, 30);
        assert_eq!(c.registrar.max_expires, 7200);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = std::env::temp_dir().join(format!("sb-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, "[sip]\nlisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        std::fs::write(&f, "[numbering]\ndefault_country = \"ZZ\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("numbering.default_country"), "{e}");
        std::fs::write(&f, "[sip]\nudp_spread = \"random\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("udp_spread") && e.contains("datagram"), "{e}");
        std::fs::write(&f, "[sip]\nudp_spread = \"datagram\"\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.sip.udp_spread, Spread::Datagram);
        assert_eq!(Config::load(None).unwrap().sip.udp_spread, Spread::Flow);
        let e = Config::load(Some(&dir.join("missing.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read config file"), "{e}");
    }

    #[test]
    fn more_sip_addresses_follow_the_first_and_symmetric_responses_are_on_by_default() {
        let c = Config::load(None).unwrap();
        assert!(c.sip.symmetric_responses);
        assert_eq!(c.sip.addresses(), vec![c.sip.listen]);
        let dir = std::env::temp_dir().join(format!("sb-config-v6-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[sip]\nlisten = \"127.0.0.1:5070\"\nlisten_also = [\"[::1]:5070\", \"127.0.0.1:5070\"]\n\
symmetric_responses = false\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:5070".parse().unwrap(),
            "[::1]:5070".parse().unwrap(),
        ];
        assert_eq!(c.sip.addresses(), want);
        assert!(!c.sip.symmetric_responses);
    }

    #[test]
    fn cidr_matching() {
        let net = parse_cidr("127.0.0.0/8").unwrap();
        assert!(cidr_contains(net, "127.1.2.3".parse().unwrap()));
        assert!(!cidr_contains(net, "10.0.0.1".parse().unwrap()));
        assert!(cidr_contains(
            parse_cidr("::1").unwrap(),
            "::1".parse().unwrap()
        ));
        assert!(parse_cidr("1.2.3.4/33").is_none());
    }
}
